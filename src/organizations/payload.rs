//! The organization body of POST and PATCH/PUT, declared as PostHog's
//! `OrganizationSerializer` declares it ([`ORGANIZATION`], also the
//! `PatchedOrganization` component): its writable fields checked in its
//! order, and how a checked change lands on the organization and its
//! details.

use serde_json::Value;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::PartialSchema;

use super::model::{Details, Full};
use super::openapi::TEAM_BASIC;
use super::Organization;
use crate::drf::{self, Attr};
use crate::error::{ApiError, ApiResult};
use crate::members::payload::LEVELS;
use crate::openapi::schema as s;
use crate::payload::{Body, Checked, Choices, Data, Field, Kind, Text, Valid};

const ANY: Field = Field::new("", Kind::Json(None));
const TEAM: Field = Field::new("", Kind::Object(&[])).component(TEAM_BASIC);

/// The organization: the create body (`name` required) and, nothing
/// required, the PATCH/PUT body and its `PatchedOrganization` component.
/// The fields the server sets are read-only; the two shapes no kind
/// describes are shown as the `Organization` response type shows them.
pub static ORGANIZATION: Body = Body::new(&[
    Field::new("id", Kind::Uuid).read_only(),
    Field::new("name", Kind::Text(Text::max(64).min(1))).required(),
    Field::new("slug", Kind::Text(Text::ANY)).read_only(),
    // No uploaded media exist here, so only null names one.
    Field::new("logo_media_id", Kind::Uuid)
        .nullable()
        .check(no_media),
    Field::new("created_at", Kind::DateTime).read_only(),
    Field::new("updated_at", Kind::DateTime).read_only(),
    Field::new("membership_level", Kind::Choice(LEVELS))
        .nullable()
        .read_only()
        .describe("* `1` - member\n* `8` - administrator\n* `15` - owner"),
    Field::new(
        "plugins_access_level",
        Kind::Choice(Choices::Integers(&[0, 3, 6, 9])),
    )
    .read_only()
    .describe("* `0` - none\n* `3` - config\n* `6` - install\n* `9` - root"),
    Field::new("teams", Kind::List(&TEAM)).read_only(),
    Field::new("projects", Kind::Json(None))
        .read_only()
        .schema_with(shown_projects),
    Field::new("available_product_features", Kind::List(&ANY)).read_only(),
    Field::new("is_member_join_email_enabled", Kind::Boolean),
    Field::new("metadata", Kind::Json(None))
        .read_only()
        .schema_with(shown_metadata),
    Field::new("customer_id", Kind::Text(Text::ANY))
        .nullable()
        .read_only(),
    Field::new("enforce_2fa", Kind::Boolean).nullable(),
    Field::new("members_can_invite", Kind::Boolean).nullable(),
    Field::new("members_can_create_projects", Kind::Boolean),
    Field::new("members_can_use_personal_api_keys", Kind::Boolean),
    Field::new("allow_publicly_shared_resources", Kind::Boolean),
    Field::new("member_count", Kind::INTEGER).read_only(),
    Field::new("is_ai_data_processing_approved", Kind::Boolean).nullable(),
    Field::new(
        "default_experiment_stats_method",
        Kind::Choice(Choices::Strings(&["bayesian", "frequentist"])),
    )
    .nullable()
    .blank()
    .describe("* `bayesian` - Bayesian\n* `frequentist` - Frequentist"),
    Field::new("default_anonymize_ips", Kind::Boolean),
    // Null, or a role of the organization ([`finish`] looks it up).
    Field::new("default_role_id", Kind::Text(Text::ANY))
        .nullable()
        .check(role_ref)
        .describe("ID of the role to automatically assign to new members joining the organization"),
    Field::new("is_ai_training_locked", Kind::Boolean).read_only(),
    Field::new("is_hipaa", Kind::Boolean).read_only(),
    Field::new("is_active", Kind::Boolean).read_only(),
    Field::new("is_not_active_reason", Kind::Text(Text::ANY))
        .nullable()
        .read_only(),
    Field::new("is_pending_deletion", Kind::Boolean).read_only(),
]);

/// `logo_media_id`, a primary key of uploaded media (DRF's
/// `PrimaryKeyRelatedField`): none exist, so only null passes.
fn no_media(v: &Value, attr: &Attr) -> ApiResult<Value> {
    match v {
        Value::Null => Ok(Value::Null),
        Value::String(s) => Err(ApiError::validation(
            "does_not_exist",
            format!("Invalid pk \"{s}\" - object does not exist."),
        )
        .at(attr.clone())),
        other => Err(ApiError::validation(
            "incorrect_type",
            format!(
                "Incorrect type. Expected pk value, received {}.",
                drf::py_type_name(other)
            ),
        )
        .at(attr.clone())),
    }
}

/// `default_role_id`: null, or a string that [`finish`] looks up among the
/// organization's roles; any other value names no role.
fn role_ref(v: &Value, attr: &Attr) -> ApiResult<Value> {
    match v {
        Value::Null | Value::String(_) => Ok(v.clone()),
        other => Err(no_such_role(other).at(attr.clone())),
    }
}

fn no_such_role(v: &Value) -> ApiError {
    ApiError::validation(
        "does_not_exist",
        format!("Object with id={} does not exist.", drf::py_str(v)),
    )
}

/// A read-only field as the `Organization` response type
/// (`model::Full`) documents it.
fn shown(name: &str) -> RefOr<Schema> {
    let shown = match <Full<'static> as PartialSchema>::schema() {
        RefOr::T(Schema::Object(o)) => o.properties.get(name).cloned(),
        _ => None,
    };
    shown.unwrap_or_else(|| s::any().into())
}

fn shown_projects() -> RefOr<Schema> {
    shown("projects")
}

fn shown_metadata() -> RefOr<Schema> {
    shown("metadata")
}

/// A validated change to an organization's writable fields.
#[derive(Default, Debug)]
pub struct Change {
    pub name: Option<String>,
    is_member_join_email_enabled: Option<bool>,
    members_can_invite: Option<Option<bool>>,
    members_can_create_projects: Option<bool>,
    members_can_use_personal_api_keys: Option<bool>,
    default_anonymize_ips: Option<bool>,
    logo_media_id: Option<Option<String>>,
    enforce_2fa: Option<Option<bool>>,
    allow_publicly_shared_resources: Option<bool>,
    is_ai_data_processing_approved: Option<Option<bool>>,
    default_experiment_stats_method: Option<Option<String>>,
    default_role_id: Option<Option<String>>,
}

/// The declared checks, in the serializer's field order (the first error
/// wins): `creating`, a POST (`name` required), else a PATCH or PUT. A new
/// organization has no roles, so no `default_role_id` but null passes.
pub fn validate(data: &Data, creating: bool) -> ApiResult<Change> {
    finish(ORGANIZATION.check(data, !creating)?, None)
}

/// The fields checked, before `default_role_id` is looked up.
pub fn check(data: &Data, creating: bool) -> ApiResult<Checked> {
    ORGANIZATION.check(data, !creating)
}

/// The role id the body names for `default_role_id`, if any, to look up.
pub fn named_role(checked: &Checked) -> Option<&str> {
    checked.value("default_role_id").and_then(Value::as_str)
}

/// The change, once [`named_role`] was looked up: `role`, the id of the
/// organization's role it names (None: no such role, the 400).
pub fn finish(mut checked: Checked, role: Option<String>) -> ApiResult<Change> {
    checked.refine("default_role_id", |v| match v {
        Value::String(_) => role.map(Value::String).ok_or_else(|| no_such_role(v)),
        other => Ok(other.clone()),
    });
    Ok(change_of(&checked.finish()?))
}

fn change_of(valid: &Valid) -> Change {
    // Fields that are not nullable are never null once accepted.
    let flag = |name| valid.flag(name).flatten();
    Change {
        name: valid.text("name").flatten(),
        is_member_join_email_enabled: flag("is_member_join_email_enabled"),
        members_can_invite: valid.flag("members_can_invite"),
        members_can_create_projects: flag("members_can_create_projects"),
        members_can_use_personal_api_keys: flag("members_can_use_personal_api_keys"),
        default_anonymize_ips: flag("default_anonymize_ips"),
        logo_media_id: valid.text("logo_media_id"),
        enforce_2fa: valid.flag("enforce_2fa"),
        allow_publicly_shared_resources: flag("allow_publicly_shared_resources"),
        is_ai_data_processing_approved: valid.flag("is_ai_data_processing_approved"),
        default_experiment_stats_method: valid.text("default_experiment_stats_method"),
        default_role_id: valid.text("default_role_id"),
    }
}

impl Change {
    pub fn apply(self, org: &mut Organization, d: &mut Details) {
        if let Some(v) = self.name {
            org.name = v;
        }
        if let Some(v) = self.is_member_join_email_enabled {
            org.is_member_join_email_enabled = v;
        }
        if let Some(v) = self.members_can_invite {
            org.members_can_invite = v;
        }
        if let Some(v) = self.members_can_create_projects {
            org.members_can_create_projects = v;
        }
        if let Some(v) = self.members_can_use_personal_api_keys {
            org.members_can_use_personal_api_keys = v;
        }
        if let Some(v) = self.default_anonymize_ips {
            org.default_anonymize_ips = v;
        }
        if let Some(v) = self.logo_media_id {
            d.logo_media_id = v;
        }
        if let Some(v) = self.enforce_2fa {
            d.enforce_2fa = v;
        }
        if let Some(v) = self.allow_publicly_shared_resources {
            d.allow_publicly_shared_resources = v;
        }
        if let Some(v) = self.is_ai_data_processing_approved {
            d.is_ai_data_processing_approved = v;
        }
        if let Some(v) = self.default_experiment_stats_method {
            d.default_experiment_stats_method = v;
        }
        if let Some(v) = self.default_role_id {
            d.default_role_id = v;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(v: Value, creating: bool) -> ApiResult<Change> {
        validate(&Data::Json(v), creating)
    }

    #[test]
    fn fields_are_checked_in_posthogs_order() {
        let e = run(json!({"name": "", "enforce_2fa": "x"}), false).unwrap_err();
        assert_eq!(e.attr.as_deref(), Some("name"));
        let e = run(json!({}), true).unwrap_err();
        assert_eq!(
            (e.code.as_ref(), e.attr.as_deref()),
            ("required", Some("name"))
        );
        let ok = run(json!({}), false).unwrap();
        assert!(ok.name.is_none());
        let e = run(json!({"default_experiment_stats_method": "magic"}), false).unwrap_err();
        assert_eq!(e.code, "invalid_choice");
        let e = run(json!({"enforce_2fa": "x", "default_role_id": 3}), false).unwrap_err();
        assert_eq!(e.attr.as_deref(), Some("enforce_2fa"));
    }

    #[test]
    fn only_null_names_media_or_a_role() {
        let c = run(
            json!({"logo_media_id": null, "default_role_id": null}),
            false,
        )
        .unwrap();
        assert_eq!(c.logo_media_id, Some(None));
        assert_eq!(c.default_role_id, Some(None));
        let error = |v: Value| {
            let e = run(v, false).unwrap_err();
            (e.code.into_owned(), e.detail.into_owned(), e.attr.unwrap())
        };
        assert_eq!(
            error(json!({"logo_media_id": "abc"})),
            (
                "does_not_exist".into(),
                "Invalid pk \"abc\" - object does not exist.".into(),
                "logo_media_id".into()
            )
        );
        assert_eq!(
            error(json!({"logo_media_id": 5})).1,
            "Incorrect type. Expected pk value, received int."
        );
        assert_eq!(
            error(json!({"default_role_id": true})).1,
            "Object with id=True does not exist."
        );
    }

    #[test]
    fn the_changes_are_what_was_accepted() {
        let c = run(
            json!({
                "name": " Acme ",
                "enforce_2fa": null,
                "members_can_invite": "false",
                "default_anonymize_ips": 1,
                "default_experiment_stats_method": "",
            }),
            false,
        )
        .unwrap();
        assert_eq!(c.name.as_deref(), Some("Acme"));
        assert_eq!(c.enforce_2fa, Some(None));
        assert_eq!(c.members_can_invite, Some(Some(false)));
        assert_eq!(c.default_anonymize_ips, Some(true));
        assert_eq!(c.default_experiment_stats_method, Some(Some(String::new())));
        assert_eq!(c.members_can_create_projects, None);
    }

    #[test]
    fn the_shapes_the_response_type_shows_are_found() {
        for shown in [shown_projects(), shown_metadata()] {
            let v = serde_json::to_value(shown).unwrap();
            assert_eq!(v["readOnly"], true, "{v}");
        }
    }
}
