//! The organization body of POST and PATCH/PUT: PostHog's
//! `OrganizationSerializer` fields, checked in its order, and how a checked
//! change lands on the organization and its details.

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::model::Details;
use super::Organization;
use crate::drf::{self, Attr, CharOpts};
use crate::error::{ApiError, ApiResult};

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

fn boolean(v: &Value, field: &'static str) -> ApiResult<bool> {
    Ok(drf::bool_field(v, &Cow::Borrowed(field), false)?.unwrap_or(false))
}

fn nullable_boolean(v: &Value, field: &'static str) -> ApiResult<Option<bool>> {
    drf::bool_field(v, &Cow::Borrowed(field), true)
}

/// PostHog's field rules, in its serializer's field order (the first error wins).
pub fn validate(body: &Map<String, Value>, creating: bool) -> ApiResult<Change> {
    let mut c = Change::default();
    match body.get("name") {
        Some(v) => {
            let opts = CharOpts {
                allow_null: false,
                allow_blank: false,
                max_length: Some(64),
            };
            c.name = drf::char_field(v, &Cow::Borrowed("name"), &opts)?;
        }
        None if creating => return Err(ApiError::required("name")),
        None => {}
    }
    if let Some(v) = body.get("logo_media_id") {
        // No uploaded media exist here, so only null names one.
        c.logo_media_id = Some(match v {
            Value::Null => None,
            Value::String(s) => {
                return Err(ApiError::validation(
                    "does_not_exist",
                    format!("Invalid pk \"{s}\" - object does not exist."),
                )
                .at("logo_media_id"))
            }
            other => {
                return Err(ApiError::validation(
                    "incorrect_type",
                    format!(
                        "Incorrect type. Expected pk value, received {}.",
                        drf::py_type_name(other)
                    ),
                )
                .at("logo_media_id"))
            }
        });
    }
    if let Some(v) = body.get("is_member_join_email_enabled") {
        c.is_member_join_email_enabled = Some(boolean(v, "is_member_join_email_enabled")?);
    }
    if let Some(v) = body.get("enforce_2fa") {
        c.enforce_2fa = Some(nullable_boolean(v, "enforce_2fa")?);
    }
    if let Some(v) = body.get("members_can_invite") {
        c.members_can_invite = Some(nullable_boolean(v, "members_can_invite")?);
    }
    if let Some(v) = body.get("members_can_create_projects") {
        c.members_can_create_projects = Some(boolean(v, "members_can_create_projects")?);
    }
    if let Some(v) = body.get("members_can_use_personal_api_keys") {
        c.members_can_use_personal_api_keys =
            Some(boolean(v, "members_can_use_personal_api_keys")?);
    }
    if let Some(v) = body.get("allow_publicly_shared_resources") {
        c.allow_publicly_shared_resources = Some(boolean(v, "allow_publicly_shared_resources")?);
    }
    if let Some(v) = body.get("is_ai_data_processing_approved") {
        c.is_ai_data_processing_approved =
            Some(nullable_boolean(v, "is_ai_data_processing_approved")?);
    }
    if let Some(v) = body.get("default_experiment_stats_method") {
        let attr: Attr = Cow::Borrowed("default_experiment_stats_method");
        let choice = drf::choice_field(v, &attr, &["bayesian", "frequentist"], true, true)?;
        c.default_experiment_stats_method = Some(choice);
    }
    if let Some(v) = body.get("default_anonymize_ips") {
        c.default_anonymize_ips = Some(boolean(v, "default_anonymize_ips")?);
    }
    if let Some(v) = body.get("default_role_id") {
        // No roles exist here: only null (no default role) can be set.
        c.default_role_id = Some(match v {
            Value::Null => None,
            other => {
                return Err(ApiError::validation(
                    "does_not_exist",
                    format!("Object with id={} does not exist.", drf::py_str(other)),
                )
                .at("default_role_id"))
            }
        });
    }
    Ok(c)
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

    #[test]
    fn fields_are_checked_in_posthogs_order() {
        let body = serde_json::json!({"name": "", "enforce_2fa": "x"});
        let e = validate(body.as_object().unwrap(), false).unwrap_err();
        assert_eq!(e.attr.as_deref(), Some("name"));
        let e = validate(&Map::new(), true).unwrap_err();
        assert_eq!(
            (e.code.as_ref(), e.attr.as_deref()),
            ("required", Some("name"))
        );
        let ok = validate(&Map::new(), false).unwrap();
        assert!(ok.name.is_none());
        let e = validate(
            serde_json::json!({"default_experiment_stats_method": "magic"})
                .as_object()
                .unwrap(),
            false,
        )
        .unwrap_err();
        assert_eq!(e.code, "invalid_choice");
    }
}
