//! The role and role-membership bodies, as PostHog's `RoleSerializer` and
//! `RoleMembershipSerializer` declare them: a role's `name` is its one
//! writable field (required on create and PUT); a role membership is
//! created from `user_uuid` alone.

use serde_json::Value;

use super::openapi::USER_BASIC;
use crate::drf::{self, Attr};
use crate::error::{ApiError, ApiResult};
use crate::payload::{Body, Data, Field, Kind, Text};

/// PostHog's `Role.name` is a `CharField(max_length=200)`.
pub const MAX_NAME: usize = 200;

pub static ROLE: Body = Body::new(&[
    Field::new("id", Kind::Uuid).read_only().required(),
    Field::new("name", Kind::Text(Text::max(MAX_NAME))).required(),
    Field::new("created_at", Kind::DateTime)
        .read_only()
        .required(),
    Field::new("created_by", Kind::Object(&[]))
        .component(USER_BASIC)
        .nullable()
        .read_only()
        .required(),
    Field::new("members", Kind::Json(None))
        .schema_with(super::model::members_schema)
        .read_only()
        .required(),
    Field::new("is_default", Kind::Boolean)
        .read_only()
        .required(),
]);

pub static HOLDER: Body = Body::new(&[Field::new("user_uuid", Kind::Uuid)
    .write_only()
    .required()
    .check(uuid_field)]);

/// The name a create, PATCH or PUT sets (`partial`: a PATCH, where it may be
/// left out).
pub fn name(data: &Data, partial: bool) -> ApiResult<Option<String>> {
    let valid = ROLE.check(data, partial)?.finish()?;
    Ok(valid.text("name").flatten())
}

/// The user a role membership is for, as a hyphenated lower-case uuid.
pub fn user_uuid(data: &Data) -> ApiResult<String> {
    let valid = HOLDER.check(data, false)?.finish()?;
    Ok(valid.text("user_uuid").flatten().unwrap_or_default())
}

/// DRF's `UUIDField`: an integer is `uuid.UUID(int=n)` (a bool too, being
/// one in Python), a string is read by `uuid.UUID(hex=...)` (braces, `urn:`
/// and `uuid:` prefixes and hyphens anywhere dropped, then 32 hex digits);
/// anything else, and null, fails as DRF fails it.
fn uuid_field(v: &Value, attr: &Attr) -> ApiResult<Value> {
    let invalid = || drf::invalid("Must be a valid UUID.", attr);
    let parsed = match v {
        Value::Null => return Err(ApiError::null(attr.clone())),
        Value::Bool(b) => Some(uuid::Uuid::from_u128(u128::from(*b))),
        // Negative integers and floats are no UUID.
        Value::Number(n) => n.as_u64().map(|n| uuid::Uuid::from_u128(u128::from(n))),
        Value::String(s) => {
            let hex = s.replace("urn:", "").replace("uuid:", "");
            let hex = hex.trim_matches(|c| c == '{' || c == '}').replace('-', "");
            (hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| uuid::Uuid::parse_str(&hex).ok())
                .flatten()
        }
        _ => None,
    };
    parsed
        .map(|u| Value::String(u.hyphenated().to_string()))
        .ok_or_else(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn err(r: ApiResult<impl std::fmt::Debug>) -> (String, String, Option<String>) {
        let e = r.unwrap_err();
        (
            e.code.to_string(),
            e.detail.to_string(),
            e.attr.map(|a| a.to_string()),
        )
    }

    #[test]
    fn names_as_drf_checks_them() {
        let name = |v: Value, partial| super::name(&Data::Json(v), partial);
        assert_eq!(
            name(json!({"name": "  Eng "}), false).unwrap().unwrap(),
            "Eng"
        );
        assert_eq!(name(json!({"name": 5}), false).unwrap().unwrap(), "5");
        assert_eq!(
            name(json!({"id": "x", "is_default": true}), true).unwrap(),
            None
        );
        let attr = Some("name".to_string());
        for (body, code, detail) in [
            (json!({}), "required", "This field is required."),
            (json!({"name": null}), "null", "This field may not be null."),
            (json!({"name": ""}), "blank", "This field may not be blank."),
            (
                json!({"name": "   "}),
                "blank",
                "This field may not be blank.",
            ),
            (
                json!({"name": true}),
                "invalid_input",
                "Not a valid string.",
            ),
            (
                json!({"name": "x".repeat(201)}),
                "max_length",
                "Ensure this field has no more than 200 characters.",
            ),
            (
                json!({"name": "a\u{0}b"}),
                "null_characters_not_allowed",
                "Null characters are not allowed.",
            ),
        ] {
            assert_eq!(
                err(name(body.clone(), false)),
                (code.into(), detail.into(), attr.clone()),
                "{body}"
            );
        }
        assert!(name(json!({"name": "x".repeat(200)}), false).is_ok());
        assert!(name(json!({"name": format!(" {} ", "x".repeat(200))}), false).is_ok());
    }

    #[test]
    fn user_uuids_as_drf_reads_them() {
        let read = |v: Value| user_uuid(&Data::Json(json!({ "user_uuid": v })));
        let u = "0190c0de-0000-7000-8000-0000000000aa";
        for ok in [
            json!(u),
            json!(u.to_uppercase()),
            json!(u.replace('-', "")),
            json!(format!("{{{u}}}")),
            json!(format!("urn:uuid:{u}")),
        ] {
            assert_eq!(read(ok.clone()).unwrap(), u, "{ok}");
        }
        assert_eq!(
            read(json!(1)).unwrap(),
            "00000000-0000-0000-0000-000000000001"
        );
        assert_eq!(
            read(json!(true)).unwrap(),
            "00000000-0000-0000-0000-000000000001"
        );
        let invalid = (
            "invalid_input".to_string(),
            "Must be a valid UUID.".to_string(),
        );
        for bad in [
            json!("nope"),
            json!(""),
            json!(" "),
            json!(-1),
            json!(1.5),
            json!([u]),
            json!({"u": u}),
            json!(format!("{u}0")),
        ] {
            let (code, detail, attr) = err(read(bad.clone()));
            assert_eq!((code, detail), invalid, "{bad}");
            assert_eq!(attr.as_deref(), Some("user_uuid"));
        }
        assert_eq!(err(read(Value::Null)).0, "null");
        assert_eq!(
            err(user_uuid(&Data::Json(json!({})))),
            (
                "required".into(),
                "This field is required.".into(),
                Some("user_uuid".into())
            )
        );
    }
}
