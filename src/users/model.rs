//! A user as prickle holds and shows it: the account row every request's
//! authentication reads, the profile only `/api/users/@me/` shows, the
//! current organization and project, and their shapes (`UserBasic`, `User`).

use serde::Serialize;
use serde_json::{json, Map, Value};
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::ToSchema;

use crate::openapi::schema::{self as s, Kind};
use crate::organizations::model::team_basic;
use crate::organizations::{Level, Organization};
use crate::projects::model::Project;
use crate::time;

#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub uuid: String,
    pub distinct_id: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub is_email_verified: Option<bool>,
    pub hedgehog_config: Value,
    pub role_at_organization: Option<String>,
    pub is_active: bool,
    pub current_organization_id: Option<String>,
    pub current_team_id: Option<i64>,
    pub last_login: Option<i64>,
}

// PostHog's `UserBasic`. `role_at_organization` is a free string: the
// sign-up body stores any (as PostHog's sign-up serializer does), not only
// the roles the profile accepts; `email` carries no format, as addresses are
// checked by Django's `EmailValidator` (`drf::is_valid_email`).
#[derive(Serialize, ToSchema)]
#[schema(as = UserBasic)]
pub struct UserBasic<'a> {
    #[schema(read_only)]
    pub id: i64,
    #[schema(read_only, format = "uuid")]
    pub uuid: &'a str,
    #[schema(max_length = 200)]
    pub distinct_id: Option<&'a str>,
    #[schema(max_length = 150, required = false)]
    pub first_name: &'a str,
    #[schema(max_length = 150, required = false)]
    pub last_name: &'a str,
    #[schema(max_length = 254)]
    pub email: &'a str,
    pub is_email_verified: Option<bool>,
    #[schema(schema_with = hedgehog_config_schema)]
    pub hedgehog_config: Value,
    pub role_at_organization: Option<&'a str>,
}

impl<'a> UserBasic<'a> {
    pub fn of(u: &'a User) -> UserBasic<'a> {
        UserBasic {
            id: u.id,
            uuid: &u.uuid,
            distinct_id: u.distinct_id.as_deref(),
            first_name: &u.first_name,
            last_name: &u.last_name,
            email: &u.email,
            is_email_verified: u.is_email_verified,
            hedgehog_config: hedgehog_profile(&u.hedgehog_config),
            role_at_organization: u.role_at_organization.as_deref(),
        }
    }
}

/// Only a non-empty config is shown, reduced to the keys a profile needs
/// (`Value::Null` otherwise, which costs no allocation on the list).
fn hedgehog_profile(config: &Value) -> Value {
    match config {
        Value::Object(m) if !m.is_empty() => {
            let actor = m.get("actor_options").and_then(Value::as_object);
            let pick = |k: &str| {
                actor
                    .and_then(|a| a.get(k))
                    .or_else(|| m.get(k))
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            json!({
                "use_as_profile": m.get("use_as_profile").cloned().unwrap_or(Value::Null),
                "color": pick("color"),
                "accessories": pick("accessories"),
                "skin": pick("skin"),
            })
        }
        _ => Value::Null,
    }
}

/// PostHog's JSONField: any object, or null; set by the server.
fn hedgehog_config_schema() -> ObjectBuilder {
    s::nullable(Kind::Object)
        .additional_properties(Some(s::any()))
        .read_only(Some(true))
}

pub struct NewUser<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub password_hash: Option<String>,
}

/// Emails are unique regardless of case.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
}

#[derive(Clone, Debug, Default)]
pub struct Profile {
    pub anonymize_data: Option<bool>,
    pub toolbar_mode: Option<String>,
    pub theme_mode: Option<String>,
    /// What the user changed; shown over [`notification_defaults`].
    pub notification_settings: Map<String, Value>,
    pub pending_email: Option<String>,
    pub has_password: bool,
    pub date_joined: i64,
}

/// PostHog's `NOTIFICATION_DEFAULTS`.
pub fn notification_defaults() -> Map<String, Value> {
    match json!({
        "plugin_disabled": true,
        "error_tracking_issue_assigned": true,
        "discussions_mentioned": true,
        "project_weekly_digest_disabled": {},
        "all_weekly_digest_disabled": false,
    }) {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// The settings as shown: the defaults, overridden by what the user set.
pub fn notifications_shown(p: &Profile) -> Value {
    let mut all = notification_defaults();
    for (k, v) in &p.notification_settings {
        all.insert(k.clone(), v.clone());
    }
    Value::Object(all)
}

/// The user's current organization (with their level) and project.
pub struct Current {
    pub org: Option<(Organization, Level)>,
    pub team: Option<Project>,
}

impl Current {
    pub fn ids(&self) -> (Option<&str>, Option<i64>) {
        (
            self.org.as_ref().map(|(o, _)| o.id.as_str()),
            self.team.as_ref().map(|t| t.id),
        )
    }
}

/// `UserSerializer`'s shape for the caller: their profile, current project
/// and organization (full shape), their organizations (short shape), whether
/// they joined their current organization first, and their pending invites.
pub fn me_json(
    user: &User,
    p: &Profile,
    team: Option<&Project>,
    organization: Value,
    organizations: Vec<Value>,
    first_user: bool,
    pending_invites: Vec<Value>,
) -> Value {
    json!({
        "date_joined": time::format(p.date_joined),
        "uuid": user.uuid,
        "distinct_id": user.distinct_id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "pending_email": p.pending_email,
        "is_email_verified": user.is_email_verified,
        "notification_settings": notifications_shown(p),
        "anonymize_data": p.anonymize_data.unwrap_or(false),
        "toolbar_mode": p.toolbar_mode.as_deref().unwrap_or("toolbar"),
        "has_password": p.has_password,
        "id": user.id,
        "is_staff": false,
        "is_impersonated": false,
        "is_impersonated_until": null,
        "sensitive_session_expires_at": null,
        "team": team.map(team_basic),
        "organization": organization,
        "organizations": organizations,
        "events_column_config": {"active": "DEFAULT"},
        "is_2fa_enabled": false,
        "has_social_auth": false,
        "has_sso_enforcement": false,
        "has_seen_product_intro_for": null,
        "scene_personalisation": [],
        "theme_mode": p.theme_mode,
        "hedgehog_config": user.hedgehog_config,
        "role_at_organization": user.role_at_organization,
        "is_organization_first_user": first_user,
        "pending_invites": pending_invites,
    })
}
