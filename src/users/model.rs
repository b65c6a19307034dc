//! A user as prickle holds and shows it: the account row every request's
//! authentication reads, the profile only `/api/users/@me/` shows, the
//! current organization and project, and their shapes (`UserBasic`, `User`).

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use crate::openapi::schema::{self as s, Kind};
use crate::organizations::{MembershipLevel, Organization};
use crate::projects::model::{Project, TeamBasic};
use crate::time::Timestamp;

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
    #[schema(schema_with = read_only_integer)]
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
    pub org: Option<(Organization, MembershipLevel)>,
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

// PostHog's `UserSerializer` for the caller: their profile, current project
// and organization (full shape), their organizations (short shape), whether
// they joined their current organization first, and their pending invites.
// The three write-only fields are never shown (they are the PATCH body's).
#[derive(Serialize, ToSchema)]
#[schema(as = User)]
pub struct Me<'a> {
    #[schema(value_type = String, format = DateTime, read_only)]
    date_joined: Timestamp,
    #[schema(value_type = String, format = "uuid", read_only)]
    uuid: &'a str,
    #[schema(value_type = Option<String>, read_only, required = true)]
    distinct_id: Option<&'a str>,
    #[schema(max_length = 150)]
    first_name: &'a str,
    #[schema(max_length = 150)]
    last_name: &'a str,
    /// Only the current address is accepted from a personal API key (403 otherwise).
    email: &'a str,
    #[schema(value_type = Option<String>, read_only, required = true)]
    pending_email: Option<&'a str>,
    #[schema(read_only, required = true)]
    is_email_verified: Option<bool>,
    #[schema(schema_with = notification_settings_schema)]
    notification_settings: Value,
    #[schema(value_type = Option<bool>, required = true)]
    anonymize_data: bool,
    #[schema(schema_with = toolbar_mode_schema, required = true)]
    toolbar_mode: &'a str,
    #[schema(read_only)]
    has_password: bool,
    #[schema(schema_with = read_only_integer)]
    id: i64,
    /// Always false here; setting it answers 403.
    is_staff: bool,
    #[schema(value_type = Option<bool>, read_only, required = true)]
    is_impersonated: bool,
    #[schema(value_type = Option<String>, read_only, required = true)]
    is_impersonated_until: Option<&'a str>,
    #[schema(value_type = Option<String>, read_only, required = true)]
    sensitive_session_expires_at: Option<&'a str>,
    #[schema(schema_with = team_schema, required = true)]
    team: Option<TeamBasic<'a>>,
    #[schema(schema_with = organization_schema, required = true)]
    organization: Option<Box<RawValue>>,
    #[schema(schema_with = organizations_schema)]
    organizations: Vec<Box<RawValue>>,
    #[schema(schema_with = s::any)]
    events_column_config: Value,
    #[schema(read_only)]
    is_2fa_enabled: bool,
    #[schema(read_only)]
    has_social_auth: bool,
    #[schema(read_only)]
    has_sso_enforcement: bool,
    #[schema(schema_with = s::any, required = true)]
    has_seen_product_intro_for: Option<()>,
    #[schema(schema_with = any_list)]
    scene_personalisation: [(); 0],
    #[schema(schema_with = theme_mode_schema, required = true)]
    theme_mode: Option<&'a str>,
    #[schema(schema_with = s::any)]
    hedgehog_config: &'a Value,
    #[schema(schema_with = role_schema, required = true)]
    role_at_organization: Option<&'a str>,
    #[schema(read_only)]
    is_organization_first_user: bool,
    #[schema(schema_with = pending_invites_schema)]
    pending_invites: Vec<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = set_current_organization_schema, required = false)]
    set_current_organization: Option<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = set_current_team_schema, required = false)]
    set_current_team: Option<()>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = password_schema, required = false)]
    password: Option<()>,
}

/// The caller's `User` shape.
#[allow(clippy::too_many_arguments)]
pub fn me<'a>(
    user: &'a User,
    p: &'a Profile,
    team: Option<&'a Project>,
    organization: Option<Box<RawValue>>,
    organizations: Vec<Box<RawValue>>,
    first_user: bool,
    pending_invites: Vec<Value>,
) -> Me<'a> {
    Me {
        date_joined: Timestamp(p.date_joined),
        uuid: &user.uuid,
        distinct_id: user.distinct_id.as_deref(),
        first_name: &user.first_name,
        last_name: &user.last_name,
        email: &user.email,
        pending_email: p.pending_email.as_deref(),
        is_email_verified: user.is_email_verified,
        notification_settings: notifications_shown(p),
        anonymize_data: p.anonymize_data.unwrap_or(false),
        toolbar_mode: p.toolbar_mode.as_deref().unwrap_or("toolbar"),
        has_password: p.has_password,
        id: user.id,
        is_staff: false,
        is_impersonated: false,
        is_impersonated_until: None,
        sensitive_session_expires_at: None,
        team: team.map(TeamBasic),
        organization,
        organizations,
        events_column_config: json!({"active": "DEFAULT"}),
        is_2fa_enabled: false,
        has_social_auth: false,
        has_sso_enforcement: false,
        has_seen_product_intro_for: None,
        scene_personalisation: [],
        theme_mode: p.theme_mode.as_deref(),
        hedgehog_config: &user.hedgehog_config,
        role_at_organization: user.role_at_organization.as_deref(),
        is_organization_first_user: first_user,
        pending_invites,
        set_current_organization: None,
        set_current_team: None,
        password: None,
    }
}

fn read_only_integer() -> ObjectBuilder {
    s::integer().read_only(Some(true))
}

fn any_list() -> RefOr<Schema> {
    s::read_only_array(s::array(s::any()))
}

fn nullable_choice(values: &[&'static str], description: &'static str) -> ObjectBuilder {
    let mut all: Vec<Option<&str>> = values.iter().map(|v| Some(*v)).collect();
    all.extend([Some(""), None]);
    s::nullable(Kind::String)
        .enum_values(Some(all))
        .description(Some(description))
}

fn toolbar_mode_schema() -> ObjectBuilder {
    nullable_choice(
        &["disabled", "toolbar"],
        "* `disabled` - disabled\n* `toolbar` - toolbar",
    )
}

fn theme_mode_schema() -> ObjectBuilder {
    nullable_choice(
        &["light", "dark", "system"],
        "* `light` - Light\n* `dark` - Dark\n* `system` - System",
    )
}

fn notification_settings_schema() -> ObjectBuilder {
    use Kind::Object;
    s::of(Object)
        .property("plugin_disabled", s::boolean())
        .property("error_tracking_issue_assigned", s::boolean())
        .property("discussions_mentioned", s::boolean())
        .property(
            "project_weekly_digest_disabled",
            s::of(Object).additional_properties(Some(s::boolean())),
        )
        .property("all_weekly_digest_disabled", s::boolean())
        .description(Some(
            "Only these keys; a PATCH merges the given ones into the stored settings.",
        ))
}

fn team_schema() -> RefOr<Schema> {
    s::nullable_component("TeamBasic")
}

fn organization_schema() -> RefOr<Schema> {
    s::nullable_component("Organization")
}

fn organizations_schema() -> RefOr<Schema> {
    s::read_only_array(s::array(s::component("OrganizationBasic")))
}

fn role_schema() -> ObjectBuilder {
    s::nullable(Kind::String).description(Some(format!(
        "A PATCH takes one of: {}.",
        super::payload::ROLES.join(", ")
    )))
}

fn pending_invites_schema() -> RefOr<Schema> {
    s::read_only_array(s::array(s::free_object()))
}

fn set_current_organization_schema() -> ObjectBuilder {
    s::string().write_only(Some(true)).description(Some(
        "Makes this organization of the caller's current (and its first project, \
         unless `set_current_team` names one).",
    ))
}

fn set_current_team_schema() -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Kind::String, Kind::Integer]))
        .description(Some(
            "Makes this project (its id) and its organization the caller's current ones.",
        ))
        .write_only(Some(true))
}

fn password_schema() -> ObjectBuilder {
    s::string()
        .write_only(Some(true))
        .description(Some("Not changeable with a personal API key (403)."))
}
