//! The body of `PATCH /api/users/@me/`, declared as PostHog's
//! `UserSerializer` declares it ([`USER`], also the `PatchedUser` component):
//! the profile fields in its order, the fields a key may not change, and the
//! `set_current_organization` / `set_current_team` switches, checked against
//! the user's memberships once the other fields have passed.

use serde_json::{Map, Value};
use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};
use utoipa::openapi::RefOr;

use super::model::{notification_defaults, Profile, User};
use super::openapi::ORGANIZATION_BASIC;
use super::store;
use crate::access;
use crate::drf::{self, Attr};
use crate::error::{ApiError, ApiResult};
use crate::organizations;
use crate::organizations::openapi::{DETAIL as ORGANIZATION, TEAM_BASIC};
use crate::payload::{Body, Checked, Choices, Data, Field, Kind, Text, Valid};
use crate::storage::Tx;

/// PostHog's `ROLE_CHOICES`.
pub const ROLES: &[&str] = &[
    "engineering",
    "data",
    "product",
    "founder",
    "leadership",
    "marketing",
    "sales",
    "other",
];

/// The most bytes `hedgehog_config` may take as JSON. PostHog stores any
/// JSON there; it is copied into every members page of every organization
/// the user belongs to, and the largest the app writes is well under 1 KB.
pub const MAX_HEDGEHOG_CONFIG_BYTES: usize = 16 * 1024;

/// The most projects `project_weekly_digest_disabled` may name, after
/// merging. PostHog merges any number of keys; a user belongs to far fewer
/// projects than this.
pub const MAX_DIGEST_PROJECTS: usize = 1000;

/// The longest key of `project_weekly_digest_disabled`: a project id
/// (`i64::MIN` is 20 characters).
pub const MAX_DIGEST_KEY_CHARS: usize = 20;

/// PostHog's `validate_notification_settings`: known keys, booleans, and a
/// per-project map of booleans merged into the stored one.
pub fn merge_notifications(current: &Profile, v: &Value) -> ApiResult<Map<String, Value>> {
    let attr = "notification_settings";
    let Value::Object(given) = v else {
        return Err(ApiError::validation(
            "not_a_dict",
            format!(
                "Expected a dictionary of items but got type \"{}\".",
                drf::py_type_name(v)
            ),
        )
        .at(attr));
    };
    let mut merged = current.notification_settings.clone();
    let defaults = notification_defaults();
    for (key, value) in given {
        if !defaults.contains_key(key) {
            return Err(ApiError::invalid_input(format!(
                "Key {key} is not valid as a key for notification settings"
            ))
            .at(attr));
        }
        if key == "project_weekly_digest_disabled" {
            let Value::Object(projects) = value else {
                return Err(ApiError::invalid_input(
                    "project_weekly_digest_disabled must be a dictionary mapping project IDs to boolean values",
                )
                .at(attr));
            };
            if let Some(bad) = projects.values().find(|d| !d.is_boolean()) {
                return Err(ApiError::invalid_input(format!(
                    "Project notification setting values must be boolean, got <class '{}'> instead",
                    drf::py_type_name(bad)
                ))
                .at(attr));
            }
            if projects
                .keys()
                .any(|k| k.chars().count() > MAX_DIGEST_KEY_CHARS)
            {
                return Err(ApiError::invalid_input(format!(
                    "project_weekly_digest_disabled keys must be project IDs of at most {MAX_DIGEST_KEY_CHARS} characters"
                ))
                .at(attr));
            }
            let mut all = match merged.get(key) {
                Some(Value::Object(m)) => m.clone(),
                _ => Map::new(),
            };
            for (k, d) in projects {
                all.insert(k.clone(), d.clone());
            }
            if all.len() > MAX_DIGEST_PROJECTS {
                return Err(ApiError::invalid_input(format!(
                    "project_weekly_digest_disabled may name at most {MAX_DIGEST_PROJECTS} projects"
                ))
                .at(attr));
            }
            merged.insert(key.clone(), Value::Object(all));
        } else {
            if !value.is_boolean() {
                let mut shown = String::new();
                drf::py_repr(value, &mut shown, 0);
                let shown = match value {
                    Value::String(s) => s.clone(),
                    _ => shown,
                };
                return Err(ApiError::invalid_input(format!(
                    "{shown} is not a valid type for notification settings, should be <class 'bool'>"
                ))
                .at(attr));
            }
            merged.insert(key.clone(), value.clone());
        }
    }
    Ok(merged)
}

const ANY: Field = Field::new("", Kind::Json(None));
/// An object whose keys and values are free.
const FREE_OBJECT: Field = Field::new("", Kind::Map(&ANY));
const ORGANIZATION_ITEM: Field = Field::new("", Kind::Object(&[])).component(ORGANIZATION_BASIC);
const OPTED_OUT: Field = Field::new("", Kind::Boolean);

/// The keys `notification_settings` takes (PostHog's `Notifications`), as
/// documented; [`merge_notifications`] checks them.
const NOTIFICATIONS: &[Field] = &[
    Field::new("plugin_disabled", Kind::Boolean),
    Field::new("error_tracking_issue_assigned", Kind::Boolean),
    Field::new("discussions_mentioned", Kind::Boolean),
    Field::new("project_weekly_digest_disabled", Kind::Map(&OPTED_OUT)),
    Field::new("all_weekly_digest_disabled", Kind::Boolean),
];

const NAME: Text = Text::max(150);

/// The user, as a PATCH or PUT takes it (nothing required) and the
/// `PatchedUser` component shows it: the fields the server sets are
/// read-only; `email`, `is_staff` and `password` are read only to refuse
/// them ([`refuse_key_changes`]); `events_column_config` and
/// `has_seen_product_intro_for` are taken and not kept.
pub static USER: Body = Body::new(&[
    Field::new("date_joined", Kind::DateTime).read_only(),
    Field::new("uuid", Kind::Uuid).read_only(),
    Field::new("distinct_id", Kind::Text(Text::ANY))
        .nullable()
        .read_only(),
    Field::new("first_name", Kind::Text(NAME)).blank(),
    Field::new("last_name", Kind::Text(NAME)).blank(),
    Field::new("email", Kind::Text(Text::ANY))
        .check(as_sent)
        .describe("Only the current address is accepted from a personal API key (403 otherwise)."),
    Field::new("pending_email", Kind::Text(Text::ANY))
        .nullable()
        .read_only(),
    Field::new("is_email_verified", Kind::Boolean)
        .nullable()
        .read_only(),
    Field::new(
        "notification_settings",
        Kind::Json(Some(&Kind::Object(NOTIFICATIONS))),
    )
    .describe("Only these keys; a PATCH merges the given ones into the stored settings."),
    Field::new("anonymize_data", Kind::Boolean).nullable(),
    Field::new("toolbar_mode", Kind::Choice(TOOLBAR_MODES))
        .nullable()
        .blank()
        .describe("* `disabled` - disabled\n* `toolbar` - toolbar"),
    Field::new("has_password", Kind::Boolean).read_only(),
    Field::new("id", Kind::INTEGER).read_only(),
    Field::new("is_staff", Kind::Boolean).describe("Always false here; setting it answers 403."),
    Field::new("is_impersonated", Kind::Boolean)
        .nullable()
        .read_only(),
    Field::new("is_impersonated_until", Kind::Text(Text::ANY))
        .nullable()
        .read_only(),
    Field::new("sensitive_session_expires_at", Kind::Text(Text::ANY))
        .nullable()
        .read_only(),
    Field::new("team", Kind::Object(&[]))
        .component(TEAM_BASIC)
        .nullable()
        .read_only(),
    Field::new("organization", Kind::Object(&[]))
        .component(ORGANIZATION)
        .nullable()
        .read_only(),
    Field::new("organizations", Kind::List(&ORGANIZATION_ITEM)).read_only(),
    Field::new("events_column_config", Kind::Json(None)).nullable(),
    Field::new("is_2fa_enabled", Kind::Boolean).read_only(),
    Field::new("has_social_auth", Kind::Boolean).read_only(),
    Field::new("has_sso_enforcement", Kind::Boolean).read_only(),
    Field::new("has_seen_product_intro_for", Kind::Json(None)).nullable(),
    Field::new("scene_personalisation", Kind::List(&ANY)).read_only(),
    Field::new("theme_mode", Kind::Choice(THEME_MODES))
        .nullable()
        .blank()
        .describe("* `light` - Light\n* `dark` - Dark\n* `system` - System"),
    Field::new("hedgehog_config", Kind::Json(None)).nullable(),
    Field::new(
        "role_at_organization",
        Kind::Choice(Choices::Strings(ROLES)),
    )
    .describe(
        "A PATCH takes one of: engineering, data, product, founder, leadership, marketing, \
         sales, other.",
    ),
    Field::new("is_organization_first_user", Kind::Boolean).read_only(),
    Field::new("pending_invites", Kind::List(&FREE_OBJECT)).read_only(),
    Field::new("set_current_organization", Kind::Text(Text::ANY))
        .write_only()
        .check(as_sent)
        .describe(
            "Makes this organization of the caller's current (and its first project, \
             unless `set_current_team` names one).",
        ),
    Field::new("set_current_team", Kind::Text(Text::ANY))
        .write_only()
        .check(as_sent)
        .schema_with(project_id)
        .describe("Makes this project (its id) and its organization the caller's current ones."),
    Field::new("password", Kind::Text(Text::ANY))
        .write_only()
        .describe(
            "A new password: with a session only (a personal API key gets 403), with \
             `current_password` when the account has one. Other sessions of the user end.",
        ),
    Field::new("current_password", Kind::Text(Text::ANY))
        .write_only()
        .describe("The password being replaced, with `password`."),
]);

const TOOLBAR_MODES: Choices = Choices::Strings(&["disabled", "toolbar"]);
const THEME_MODES: Choices = Choices::Strings(&["light", "dark", "system"]);

/// A field read as sent, whatever its type: the email that
/// [`refuse_key_changes`] compares, the ids the switches look up.
fn as_sent(v: &Value, _: &Attr) -> ApiResult<Value> {
    Ok(v.clone())
}

/// A project's id, as a number or its text.
fn project_id() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(SchemaType::Array(vec![Type::String, Type::Integer]))
        .into()
}

/// A validated change to the caller's own profile.
#[derive(Default, Debug)]
pub struct Change {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub notification_settings: Option<Map<String, Value>>,
    pub anonymize_data: Option<Option<bool>>,
    pub toolbar_mode: Option<Option<String>>,
    pub theme_mode: Option<Option<String>>,
    pub hedgehog_config: Option<Value>,
    pub role_at_organization: Option<String>,
}

/// What a PATCH asks for: the profile change and the organization (with
/// its project) to switch to, if any.
#[derive(Debug)]
pub struct Update {
    pub change: Change,
    pub switch: Option<(String, Option<i64>)>,
}

/// The declared checks of a PATCH or PUT body (nothing required), with the
/// cap on `hedgehog_config`.
pub fn check(data: &Data) -> ApiResult<Checked> {
    let mut checked = USER.check(data, true)?;
    checked.refine("hedgehog_config", hedgehog_config);
    Ok(checked)
}

/// PostHog's `validate_notification_settings`, merged into the stored
/// settings (`current`).
fn refine_notifications(checked: &mut Checked, current: &Profile) {
    checked.refine("notification_settings", |v| {
        merge_notifications(current, v).map(Value::Object)
    });
}

/// The accepted profile fields, as stored. A blank mode is no mode.
fn change_of(valid: &Valid) -> Change {
    let mode = |name| {
        valid
            .text(name)
            .map(|m: Option<String>| m.filter(|s| !s.is_empty()))
    };
    Change {
        first_name: valid.text("first_name").map(Option::unwrap_or_default),
        last_name: valid.text("last_name").map(Option::unwrap_or_default),
        notification_settings: valid
            .get("notification_settings")
            .and_then(Value::as_object)
            .cloned(),
        anonymize_data: valid.flag("anonymize_data"),
        toolbar_mode: mode("toolbar_mode"),
        theme_mode: mode("theme_mode"),
        hedgehog_config: valid.get("hedgehog_config").cloned(),
        role_at_organization: valid.text("role_at_organization").flatten(),
    }
}

/// The checked body against the user's profile (`current`) and
/// memberships: the notification settings merged, then, when every other
/// field passed, the switches looked up (PostHog's
/// `validate_set_current_organization` / `validate_set_current_team`), the
/// first failure in field order reported, then the switches' cross rule.
pub async fn accept(
    tx: &mut Tx,
    user: &User,
    current: &Profile,
    mut checked: Checked,
) -> ApiResult<Update> {
    refine_notifications(&mut checked, current);
    let mut org = None;
    let mut team = None;
    if checked.first_error().is_none() {
        if let Some(v) = checked.value("set_current_organization").cloned() {
            org = organization_named(tx, user, &v).await?;
            checked.refine("set_current_organization", |v| found(org.is_some(), v));
        }
        if let Some(v) = checked.value("set_current_team").cloned() {
            team = project_named(tx, user, &v).await?;
            checked.refine("set_current_team", |v| found(team.is_some(), v));
        }
    }
    let change = change_of(&checked.finish()?);
    let switch = match (org, team) {
        (Some(org), Some((_, team_org))) if team_org != org => {
            return Err(ApiError::invalid_input(
                "Team must belong to the same organization in set_current_organization.",
            )
            .at("set_current_team"))
        }
        (Some(org), Some((team, _))) => Some((org, Some(team))),
        (Some(org), None) => {
            let first = organizations::first_visible_project(tx, &org, user.id).await?;
            Some((org, first))
        }
        (None, Some((team, team_org))) => Some((team_org, Some(team))),
        (None, None) => None,
    };
    Ok(Update { change, switch })
}

/// Any JSON, as PostHog takes it, within [`MAX_HEDGEHOG_CONFIG_BYTES`].
fn hedgehog_config(v: &Value) -> ApiResult<Value> {
    if v.to_string().len() > MAX_HEDGEHOG_CONFIG_BYTES {
        return Err(ApiError::validation(
            "max_length",
            format!(
                "Ensure this field has no more than {MAX_HEDGEHOG_CONFIG_BYTES} bytes of JSON."
            ),
        ));
    }
    Ok(v.clone())
}

const KEY_CANNOT_CHANGE: &str =
    "You can only change your email or password from the PostHog app, not with an API key or token.";

/// Email, password and staff status are not a key's to change (PostHog
/// refuses them with 403 before validating anything else).
pub fn refuse_key_changes(data: &Data, user: &User) -> ApiResult<()> {
    refuse_changes(data, user, false)
}

/// [`refuse_key_changes`] for a caller who may be signed in with a session
/// (`session`), which may change the password (not the email: prickle
/// has no address verification to send).
pub fn refuse_changes(data: &Data, user: &User, session: bool) -> ApiResult<()> {
    let new_email = data
        .text("email")
        .is_some_and(|e| !e.trim().eq_ignore_ascii_case(&user.email));
    if new_email || (!session && sent(data, "password")) {
        return Err(ApiError::permission_denied(KEY_CANNOT_CHANGE));
    }
    if sent(data, "is_staff") {
        return Err(ApiError::permission_denied(
            "You are not a staff user, contact your instance admin.",
        ));
    }
    Ok(())
}

/// A password change asked for: the new password (trimmed, as DRF's
/// `CharField` reads it; `None` when absent, null or blank) and the
/// current one.
pub fn password_change(data: &Data) -> Option<(String, Option<String>)> {
    let new = data
        .text("password")
        .map(str::trim)
        .filter(|p| !p.is_empty())?;
    let current = data
        .text("current_password")
        .map(str::trim)
        .filter(|p| !p.is_empty());
    Some((new.to_string(), current.map(str::to_owned)))
}

/// Does the body carry a password (PostHog throttles those updates)?
pub fn sent_password(data: &Data) -> bool {
    sent(data, "password")
}

/// Does the body carry `name`, whatever its value?
fn sent(data: &Data, name: &str) -> bool {
    match data {
        Data::Json(v) => v.get(name).is_some(),
        Data::Form(form) => form.contains(name),
    }
}

/// `set_current_organization` / `set_current_team` naming nothing of the
/// user's (the field's `attr` is filled in by `Checked::refine`).
fn found(found: bool, v: &Value) -> ApiResult<Value> {
    if found {
        return Ok(v.clone());
    }
    Err(ApiError::validation(
        "does_not_exist",
        format!("Object with id={} does not exist.", drf::py_str(v)),
    ))
}

/// The organization `v` names (its id as text), if the user belongs to it.
async fn organization_named(tx: &mut Tx, user: &User, v: &Value) -> ApiResult<Option<String>> {
    let Some(id) = v.as_str().and_then(|s| organizations::parse_uuid(s.trim())) else {
        return Ok(None);
    };
    Ok(store::membership(tx, &id, user)
        .await?
        .map(|(org, _)| org.id))
}

/// The project `v` names (its id, as a number or its text) and its
/// organization, if the user belongs to that and can see the project (a
/// hidden project is answered as one that does not exist).
async fn project_named(tx: &mut Tx, user: &User, v: &Value) -> ApiResult<Option<(i64, String)>> {
    let id = match v {
        Value::String(s) => s.trim().parse::<i64>().ok(),
        Value::Number(n) => n.as_i64(),
        _ => None,
    };
    let Some(id) = id else {
        return Ok(None);
    };
    let Some(found) = access::store::project_access(tx, id, None, user.id).await? else {
        return Ok(None);
    };
    let visible = found
        .membership
        .is_some_and(|m| access::resolve(Some(m.level), &found.rules).visible());
    Ok(visible.then_some((id, found.organization.id)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The profile fields of a body, as `accept` takes them (no switches).
    fn validate(current: &Profile, data: &Data) -> ApiResult<Change> {
        let mut checked = check(data)?;
        refine_notifications(&mut checked, current);
        Ok(change_of(&checked.finish()?))
    }

    fn body(v: Value) -> Data {
        Data::Json(v)
    }

    #[test]
    fn notification_settings_as_posthog_checks_them() {
        let p = Profile::default();
        let merged = merge_notifications(
            &p,
            &json!({"plugin_disabled": false, "project_weekly_digest_disabled": {"7": true}}),
        )
        .unwrap();
        assert_eq!(merged["plugin_disabled"], false);
        assert_eq!(merged["project_weekly_digest_disabled"], json!({"7": true}));
        for (bad, detail) in [
            (json!({"nope": true}), "Key nope is not valid as a key for notification settings"),
            (
                json!({"plugin_disabled": "yes"}),
                "yes is not a valid type for notification settings, should be <class 'bool'>",
            ),
            (
                json!({"project_weekly_digest_disabled": []}),
                "project_weekly_digest_disabled must be a dictionary mapping project IDs to boolean values",
            ),
        ] {
            let e = merge_notifications(&p, &bad).unwrap_err();
            assert_eq!(e.detail, detail);
            assert_eq!(e.attr.as_deref(), Some("notification_settings"));
        }
        assert_eq!(
            merge_notifications(&p, &json!("x")).unwrap_err().code,
            "not_a_dict"
        );
    }

    #[test]
    fn profile_fields() {
        let p = Profile::default();
        let c = validate(
            &p,
            &body(json!({"first_name": " Ada ", "theme_mode": "dark"})),
        )
        .unwrap();
        assert_eq!(c.first_name.as_deref(), Some("Ada"));
        assert_eq!(c.theme_mode, Some(Some("dark".into())));
        let e = validate(&p, &body(json!({"role_at_organization": "wizard"}))).unwrap_err();
        assert_eq!(
            (e.code.as_ref(), e.attr.as_deref()),
            ("invalid_choice", Some("role_at_organization"))
        );
        let e = validate(&p, &body(json!({"last_name": "x".repeat(151)}))).unwrap_err();
        assert_eq!(e.code, "max_length");
        for null in [
            "role_at_organization",
            "first_name",
            "notification_settings",
        ] {
            let e = validate(&p, &body(json!({ null: null }))).unwrap_err();
            assert_eq!((e.code.as_ref(), e.attr.as_deref()), ("null", Some(null)));
        }
        // Blank modes are no mode; null is none either.
        let c = validate(
            &p,
            &body(json!({"toolbar_mode": "", "theme_mode": null, "anonymize_data": null})),
        )
        .unwrap();
        assert_eq!((c.toolbar_mode, c.theme_mode), (Some(None), Some(None)));
        assert_eq!(c.anonymize_data, Some(None));
        // Fields a PATCH takes and does not keep, and the ones read only to
        // refuse them, are no change.
        let c = validate(
            &p,
            &body(json!({"events_column_config": null, "email": false, "team": 3})),
        )
        .unwrap();
        assert!(c.first_name.is_none() && c.hedgehog_config.is_none());
    }

    #[test]
    fn the_roles_are_described_as_they_are_checked() {
        let role = USER.field("role_at_organization").unwrap();
        assert_eq!(
            role.description.unwrap(),
            format!("A PATCH takes one of: {}.", ROLES.join(", "))
        );
    }

    #[test]
    fn forms_are_read_as_drf_reads_them() {
        let p = Profile::default();
        let c = validate(
            &p,
            &Data::form(&[
                ("first_name", ""),
                ("anonymize_data", ""),
                ("theme_mode", "dark"),
                ("notification_settings", r#"{"plugin_disabled": false}"#),
                ("hedgehog_config", r#"{"color": "green"}"#),
            ]),
        )
        .unwrap();
        assert_eq!(c.first_name.as_deref(), Some(""));
        assert_eq!(c.anonymize_data, Some(None));
        assert_eq!(c.theme_mode, Some(Some("dark".into())));
        assert_eq!(
            c.notification_settings.unwrap()["plugin_disabled"],
            json!(false)
        );
        assert_eq!(c.hedgehog_config, Some(json!({"color": "green"})));
        let e = validate(&p, &Data::form(&[("hedgehog_config", "{")])).unwrap_err();
        assert_eq!(
            (e.detail.as_ref(), e.attr.as_deref()),
            ("Value must be valid JSON.", Some("hedgehog_config"))
        );
    }

    #[test]
    fn a_key_changes_no_email_password_or_staff_status() {
        let user = User {
            id: 1,
            uuid: String::new(),
            distinct_id: None,
            first_name: String::new(),
            last_name: String::new(),
            email: "ada@example.com".into(),
            is_email_verified: None,
            hedgehog_config: Value::Null,
            role_at_organization: None,
            is_active: true,
            current_organization_id: None,
            current_team_id: None,
            last_login: None,
        };
        let refused = |d: Data| refuse_key_changes(&d, &user).err().map(|e| e.detail);
        assert_eq!(refused(body(json!({"email": " ADA@example.com "}))), None);
        assert_eq!(refused(body(json!({"email": 5}))), None);
        assert_eq!(refused(body(json!([{"password": "x"}]))), None);
        assert_eq!(
            refused(body(json!({"email": "eve@example.com"}))).as_deref(),
            Some(KEY_CANNOT_CHANGE)
        );
        // Both asked for: the email and password answer wins.
        assert_eq!(
            refused(body(json!({"is_staff": false, "password": null}))).as_deref(),
            Some(KEY_CANNOT_CHANGE)
        );
        assert_eq!(
            refused(Data::form(&[("is_staff", "")])).as_deref(),
            Some("You are not a staff user, contact your instance admin.")
        );
    }

    #[test]
    fn hedgehog_config_is_any_json_within_the_cap() {
        let p = Profile::default();
        // `{"a":"..."}` is 8 bytes around the string.
        let fits = json!({ "a": "x".repeat(MAX_HEDGEHOG_CONFIG_BYTES - 8) });
        assert_eq!(fits.to_string().len(), MAX_HEDGEHOG_CONFIG_BYTES);
        let c = validate(&p, &body(json!({ "hedgehog_config": fits }))).unwrap();
        assert!(c.hedgehog_config.is_some());
        let over = json!({ "a": "x".repeat(MAX_HEDGEHOG_CONFIG_BYTES - 7) });
        let e = validate(&p, &body(json!({ "hedgehog_config": over }))).unwrap_err();
        assert_eq!(
            (e.code.as_ref(), e.attr.as_deref()),
            ("max_length", Some("hedgehog_config"))
        );
        for any in [json!(null), json!([1, "two"]), json!("text"), json!(3)] {
            assert!(validate(&p, &body(json!({ "hedgehog_config": any }))).is_ok());
        }
    }

    #[test]
    fn digest_settings_are_bounded_after_merging() {
        let many = |from: usize, n: usize| -> Value {
            Value::Object(
                (from..from + n)
                    .map(|i| (i.to_string(), json!(true)))
                    .collect(),
            )
        };
        let mut p = Profile::default();
        let merged = merge_notifications(
            &p,
            &json!({ "project_weekly_digest_disabled": many(0, MAX_DIGEST_PROJECTS) }),
        )
        .unwrap();
        p.notification_settings = merged;
        // Updating projects already named keeps the count.
        assert!(merge_notifications(
            &p,
            &json!({ "project_weekly_digest_disabled": many(0, 10) })
        )
        .is_ok());
        let e = merge_notifications(
            &p,
            &json!({ "project_weekly_digest_disabled": many(MAX_DIGEST_PROJECTS, 1) }),
        )
        .unwrap_err();
        assert_eq!(
            (e.code.as_ref(), e.attr.as_deref()),
            ("invalid_input", Some("notification_settings"))
        );
        let long_key = json!({ "project_weekly_digest_disabled": { "1".repeat(21): true } });
        let e = merge_notifications(&Profile::default(), &long_key).unwrap_err();
        assert_eq!(e.attr.as_deref(), Some("notification_settings"));
        let id_key = json!({ "project_weekly_digest_disabled": { i64::MIN.to_string(): true } });
        assert!(merge_notifications(&Profile::default(), &id_key).is_ok());
    }
}
