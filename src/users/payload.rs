//! The body of `PATCH /api/users/@me/`: the profile fields PostHog's
//! `UserSerializer` takes, in its order, the fields a key may not change,
//! and the `set_current_organization` / `set_current_team` switches (checked
//! against the user's memberships).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::model::{notification_defaults, Profile, User};
use super::store;
use crate::drf::{self, Attr, CharOpts};
use crate::error::{ApiError, ApiResult};
use crate::organizations;
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

fn name(v: &Value, field: &'static str) -> ApiResult<String> {
    let opts = CharOpts {
        allow_null: false,
        allow_blank: true,
        max_length: Some(150),
    };
    Ok(drf::char_field(v, &Cow::Borrowed(field), &opts)?.unwrap_or_default())
}

fn nullable_choice(v: &Value, field: &'static str, choices: &[&str]) -> ApiResult<Option<String>> {
    let attr: Attr = Cow::Borrowed(field);
    Ok(drf::choice_field(v, &attr, choices, true, true)?.filter(|s| !s.is_empty()))
}

/// The profile fields of a PATCH, in PostHog's serializer order. The
/// `set_current_*` switches are validated by the caller (they need the database).
pub fn validate(current: &Profile, body: &Map<String, Value>) -> ApiResult<Change> {
    let mut c = Change::default();
    if let Some(v) = body.get("first_name") {
        c.first_name = Some(name(v, "first_name")?);
    }
    if let Some(v) = body.get("last_name") {
        c.last_name = Some(name(v, "last_name")?);
    }
    if let Some(v) = body.get("notification_settings") {
        c.notification_settings = Some(merge_notifications(current, v)?);
    }
    if let Some(v) = body.get("anonymize_data") {
        c.anonymize_data = Some(drf::bool_field(v, &Cow::Borrowed("anonymize_data"), true)?);
    }
    if let Some(v) = body.get("toolbar_mode") {
        c.toolbar_mode = Some(nullable_choice(
            v,
            "toolbar_mode",
            &["disabled", "toolbar"],
        )?);
    }
    if let Some(v) = body.get("theme_mode") {
        c.theme_mode = Some(nullable_choice(
            v,
            "theme_mode",
            &["light", "dark", "system"],
        )?);
    }
    if let Some(v) = body.get("hedgehog_config") {
        c.hedgehog_config = Some(hedgehog_config(v)?);
    }
    if let Some(v) = body.get("role_at_organization") {
        let attr: Attr = Cow::Borrowed("role_at_organization");
        c.role_at_organization = drf::choice_field(v, &attr, ROLES, false, false)?;
    }
    Ok(c)
}

/// Any JSON, as PostHog takes it, within [`MAX_HEDGEHOG_CONFIG_BYTES`].
fn hedgehog_config(v: &Value) -> ApiResult<Value> {
    if v.to_string().len() > MAX_HEDGEHOG_CONFIG_BYTES {
        return Err(ApiError::validation(
            "max_length",
            format!(
                "Ensure this field has no more than {MAX_HEDGEHOG_CONFIG_BYTES} bytes of JSON."
            ),
        )
        .at("hedgehog_config"));
    }
    Ok(v.clone())
}

const KEY_CANNOT_CHANGE: &str =
    "You can only change your email or password from the PostHog app, not with an API key or token.";

/// Email, password and staff status are not a key's to change (PostHog
/// refuses them with 403 before validating anything else).
pub fn refuse_key_changes(body: &Map<String, Value>, user: &User) -> ApiResult<()> {
    let new_email = body
        .get("email")
        .and_then(Value::as_str)
        .is_some_and(|e| !e.trim().eq_ignore_ascii_case(&user.email));
    if new_email || body.contains_key("password") {
        return Err(ApiError::permission_denied(KEY_CANNOT_CHANGE));
    }
    if body.contains_key("is_staff") {
        return Err(ApiError::permission_denied(
            "You are not a staff user, contact your instance admin.",
        ));
    }
    Ok(())
}

/// `set_current_organization` / `set_current_team`: CharFields naming one of
/// the user's organizations / projects.
fn does_not_exist(v: &Value, field: &'static str) -> ApiError {
    ApiError::validation(
        "does_not_exist",
        format!("Object with id={} does not exist.", crate::drf::py_str(v)),
    )
    .at(field)
}

/// The organization (and its project) the body switches to, if any.
pub async fn switch_target(
    tx: &mut Tx,
    user: &User,
    body: &Map<String, Value>,
) -> ApiResult<Option<(String, Option<i64>)>> {
    let org = match body.get("set_current_organization") {
        None => None,
        Some(v) => {
            let id = match v {
                Value::String(s) => organizations::parse_uuid(s.trim()),
                _ => None,
            };
            let found = match id {
                Some(id) => store::membership(tx, &id, user).await?,
                None => None,
            };
            Some(
                found
                    .ok_or_else(|| does_not_exist(v, "set_current_organization"))?
                    .0
                    .id,
            )
        }
    };
    let team = match body.get("set_current_team") {
        None => None,
        Some(v) => {
            let id = match v {
                Value::String(s) => s.trim().parse::<i64>().ok(),
                Value::Number(n) => n.as_i64(),
                _ => None,
            };
            let mut found = None;
            if let Some(id) = id {
                if let Some(team_org) = organizations::of_project(tx, id).await? {
                    if store::membership(tx, &team_org, user).await?.is_some() {
                        found = Some((id, team_org));
                    }
                }
            }
            Some(found.ok_or_else(|| does_not_exist(v, "set_current_team"))?)
        }
    };
    Ok(match (org, team) {
        (Some(org), Some((_, team_org))) if team_org != org => {
            return Err(ApiError::invalid_input(
                "Team must belong to the same organization in set_current_organization.",
            )
            .at("set_current_team"))
        }
        (Some(org), Some((team, _))) => Some((org, Some(team))),
        (Some(org), None) => {
            let first = organizations::first_project(tx, &org).await?;
            Some((org, first))
        }
        (None, Some((team, team_org))) => Some((team_org, Some(team))),
        (None, None) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap()
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
