//! The body of `PUT .../access_controls`: PostHog's `AccessControlSerializer`
//! fields (`access_level`, `organization_member`, `role`), declared once for
//! the checks and the API document. Each field has its own check, because
//! DRF and Django answer these three in ways no generic kind says: a
//! nullable char field whose null means "delete", the `UUID(int=n)` reading
//! of numbers, and Django's curly-quoted UUID message. The lookups (does the
//! membership or role exist) run after, on the checked values
//! ([`refine_lookups`]), still as field errors.

use serde_json::{json, Value};

use super::rules::RuleLevel;
use crate::drf::{self, Attr, CharOpts};
use crate::error::{ApiError, ApiResult};
use crate::payload::{Body, Checked, Choices, Field, Kind, Valid};

pub const LEVEL_NAMES: &[&str] = &["none", "member", "admin"];

pub static RULE: Body = Body::new(&[
    Field::new("access_level", Kind::Choice(Choices::Strings(LEVEL_NAMES)))
        .required()
        .nullable()
        .check(access_level)
        .describe("The rule's level; null deletes the rule (204)."),
    Field::new("organization_member", Kind::Uuid)
        .nullable()
        .check(organization_member)
        .describe(
            "The membership the rule names (the `id` of a member in \
             /api/organizations/{organization_id}/members/); with no member and no \
             role, the rule is the project's default rule.",
        ),
    Field::new("role", Kind::Uuid)
        .nullable()
        .check(role)
        .describe("The role the rule names."),
]);

/// A checked body: what to write, and for whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutRule {
    /// `None`: delete the rule.
    pub level: Option<RuleLevel>,
    /// Hyphenated lower-case membership id.
    pub membership_id: Option<String>,
    /// Hyphenated lower-case role id.
    pub role_id: Option<String>,
}

/// What the store found for the body's ids: the organization of each, or
/// `None` when it names nothing. The lookups cross tenants on purpose, as
/// PostHog's do, to tell "not this organization's" from "no such".
#[derive(Clone, Debug, Default)]
pub struct Found {
    pub membership_org: Option<String>,
    pub role_org: Option<String>,
}

/// The membership and role ids the checked body names, for the lookups.
pub fn named_ids(checked: &Checked) -> (Option<String>, Option<String>) {
    let member = checked
        .value("organization_member")
        .and_then(Value::as_str)
        .map(str::to_string);
    let role = checked
        .value("role")
        .and_then(|v| v.get("id"))
        .and_then(Value::as_str)
        .map(str::to_string);
    (member, role)
}

/// The field errors that need the lookups (DRF's `does_not_exist`), then the
/// rule as accepted, or the first field error.
pub fn accept(mut checked: Checked, found: &Found) -> ApiResult<PutRule> {
    checked.refine("organization_member", |v| match v.as_str() {
        Some(id) if found.membership_org.is_none() => Err(does_not_exist(id)),
        _ => Ok(v.clone()),
    });
    checked.refine("role", |v| match v.get("sent") {
        Some(sent) if found.role_org.is_none() => Err(does_not_exist(&drf::py_str(sent))),
        _ => Ok(v.clone()),
    });
    let valid = checked.finish()?;
    Ok(rule(&valid))
}

fn rule(valid: &Valid) -> PutRule {
    let text = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
    PutRule {
        level: valid
            .get("access_level")
            .and_then(Value::as_str)
            .and_then(RuleLevel::parse),
        membership_id: text(valid.get("organization_member")),
        role_id: text(valid.get("role").and_then(|v| v.get("id"))),
    }
}

/// PostHog's object checks, after the fields: attr null, in its order.
pub fn object_checks(rule: &PutRule, found: &Found, org_id: &str) -> ApiResult<()> {
    if rule.membership_id.is_some() && rule.role_id.is_some() {
        return Err(ApiError::invalid_input(
            "You can not scope an access control to both a member and a role.",
        ));
    }
    if rule.role_id.is_some() && found.role_org.as_deref() != Some(org_id) {
        return Err(ApiError::invalid_input(
            "The role must belong to the same organization as this project.",
        ));
    }
    if rule.membership_id.is_some() && found.membership_org.as_deref() != Some(org_id) {
        return Err(ApiError::invalid_input(
            "The member must belong to the same organization as this project.",
        ));
    }
    Ok(())
}

fn does_not_exist(value: &str) -> ApiError {
    ApiError::validation(
        "does_not_exist",
        format!("Invalid pk \"{value}\" - object does not exist."),
    )
}

/// A char field that allows null (null: delete), then PostHog's
/// `validate_access_level`.
fn access_level(v: &Value, attr: &Attr) -> ApiResult<Value> {
    let opts = CharOpts {
        allow_null: true,
        allow_blank: false,
        max_length: None,
    };
    let Some(s) = drf::char_field(v, attr, &opts)? else {
        return Ok(Value::Null);
    };
    match RuleLevel::parse(&s) {
        Some(level) => Ok(Value::from(level.as_str())),
        None => Err(drf::invalid(
            "Invalid access level. Must be one of: none, member, admin",
            attr,
        )),
    }
}

const INVALID_MEMBER: &str = "Invalid organization member id. Use the 'id' field from the \
                              /api/organizations/<organization_id>/members/ endpoint.";

/// PostHog's membership field: any form Python's `uuid.UUID(hex=...)` reads,
/// and an integer (a bool too, Python's `int`) read as `UUID(int=n)`, are
/// looked up; anything else is its own message.
fn organization_member(v: &Value, attr: &Attr) -> ApiResult<Value> {
    let parsed = match v {
        Value::Null => return Ok(Value::Null),
        Value::String(s) => py_uuid_hex(s),
        Value::Bool(b) => Some(u128::from(*b)),
        Value::Number(n) => n.as_u64().map(u128::from),
        _ => None,
    };
    match parsed {
        Some(n) => Ok(Value::from(hyphenated(n))),
        None => Err(drf::invalid(INVALID_MEMBER, attr)),
    }
}

/// DRF's `PrimaryKeyRelatedField` on a UUID key: a bool is the wrong type;
/// anything else goes to Django's `UUIDField.to_python` (an `int` as
/// `UUID(int=n)`, the rest as `UUID(hex=...)`), whose failure is Django's
/// curly-quoted message. Kept: the id, and the value as sent (the
/// `does_not_exist` message shows it).
fn role(v: &Value, attr: &Attr) -> ApiResult<Value> {
    let parsed = match v {
        Value::Null => return Ok(Value::Null),
        Value::Bool(_) => {
            return Err(ApiError::validation(
                "incorrect_type",
                "Incorrect type. Expected pk value, received bool.",
            )
            .at(attr.clone()))
        }
        Value::String(s) => py_uuid_hex(s),
        Value::Number(n) => n.as_u64().map(u128::from),
        _ => None,
    };
    match parsed {
        Some(n) => Ok(json!({"id": hyphenated(n), "sent": v})),
        None => Err(drf::invalid(
            format!("\u{201c}{}\u{201d} is not a valid UUID.", drf::py_str(v)),
            attr,
        )),
    }
}

fn hyphenated(n: u128) -> String {
    uuid::Uuid::from_u128(n).hyphenated().to_string()
}

/// Python's `uuid.UUID(hex=s)`: `urn:` and `uuid:` removed, braces stripped
/// from the ends, hyphens removed, then exactly 32 characters that Python's
/// `int(_, 16)` reads (surrounding whitespace, a sign, a `0x` prefix and
/// single underscores between digits included), within 0..2^128.
pub fn py_uuid_hex(s: &str) -> Option<u128> {
    let s = s.replace("urn:", "").replace("uuid:", "");
    let s = s.trim_matches(|c| c == '{' || c == '}').replace('-', "");
    if s.chars().count() != 32 {
        return None;
    }
    py_int_hex(&s)
}

fn py_int_hex(text: &str) -> Option<u128> {
    let t = drf::py_strip(text);
    let (negative, body) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let body = match body.get(..2) {
        Some(p) if p.eq_ignore_ascii_case("0x") => {
            body[2..].strip_prefix('_').unwrap_or(&body[2..])
        }
        _ => body,
    };
    if body.is_empty() || body.starts_with('_') || body.ends_with('_') || body.contains("__") {
        return None;
    }
    let mut acc: u128 = 0;
    for c in body.chars().filter(|c| *c != '_') {
        if !c.is_ascii_hexdigit() {
            return None;
        }
        acc = acc.checked_mul(16)?.checked_add(c.to_digit(16)? as u128)?;
    }
    // -0 is 0; any other negative number is out of UUID's range.
    if negative && acc != 0 {
        return None;
    }
    Some(acc)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::Data;

    const ID: &str = "0191c5a4-1b2c-7d3e-8f40-123456789abc";

    fn check(body: Value) -> ApiResult<PutRule> {
        let checked = RULE.check(&Data::Json(body), false)?;
        let (member, role) = named_ids(&checked);
        let found = Found {
            membership_org: member.filter(|m| m == ID).map(|_| "org".into()),
            role_org: role.filter(|r| r == ID).map(|_| "org".into()),
        };
        accept(checked, &found)
    }

    fn err(body: Value) -> (u16, String, String, Option<String>) {
        let e = check(body).unwrap_err();
        (
            e.status.as_u16(),
            e.code.into_owned(),
            e.detail.into_owned(),
            e.attr.map(|a| a.into_owned()),
        )
    }

    fn e(code: &str, detail: &str, attr: &str) -> (u16, String, String, Option<String>) {
        (400, code.into(), detail.into(), Some(attr.into()))
    }

    #[test]
    fn access_level_rows() {
        let invalid = "Invalid access level. Must be one of: none, member, admin";
        let rows = [
            (
                json!({}),
                e("required", "This field is required.", "access_level"),
            ),
            (
                json!({"access_level": "bad"}),
                e("invalid_input", invalid, "access_level"),
            ),
            (
                json!({"access_level": "viewer"}),
                e("invalid_input", invalid, "access_level"),
            ),
            (
                json!({"access_level": 5}),
                e("invalid_input", invalid, "access_level"),
            ),
            (
                json!({"access_level": "Admin"}),
                e("invalid_input", invalid, "access_level"),
            ),
            (
                json!({"access_level": ""}),
                e("blank", "This field may not be blank.", "access_level"),
            ),
            (
                json!({"access_level": "  "}),
                e("blank", "This field may not be blank.", "access_level"),
            ),
            (
                json!({"access_level": true}),
                e("invalid_input", "Not a valid string.", "access_level"),
            ),
            (
                json!({"access_level": []}),
                e("invalid_input", "Not a valid string.", "access_level"),
            ),
            (
                json!({"access_level": {}}),
                e("invalid_input", "Not a valid string.", "access_level"),
            ),
            (
                json!({"access_level": "ad\u{0}min"}),
                e(
                    "null_characters_not_allowed",
                    "Null characters are not allowed.",
                    "access_level",
                ),
            ),
        ];
        for (body, want) in rows {
            assert_eq!(err(body.clone()), want, "{body}");
        }
        assert_eq!(
            check(json!({"access_level": " admin "})).unwrap().level,
            Some(RuleLevel::Admin)
        );
        assert_eq!(check(json!({"access_level": null})).unwrap().level, None);
    }

    #[test]
    fn organization_member_rows() {
        let attr = "organization_member";
        for bad in [
            json!("not-a-valid-uuid"),
            json!([]),
            json!({}),
            json!(1.5),
            json!(-1),
        ] {
            assert_eq!(
                err(json!({"access_level": "member", attr: bad})),
                e("invalid_input", INVALID_MEMBER, attr),
                "{bad}"
            );
        }
        let missing = |id: &str| format!("Invalid pk \"{id}\" - object does not exist.");
        assert_eq!(
            err(json!({"access_level": "member", attr: 5})),
            e(
                "does_not_exist",
                &missing("00000000-0000-0000-0000-000000000005"),
                attr
            )
        );
        assert_eq!(
            err(json!({"access_level": "member", attr: true})),
            e(
                "does_not_exist",
                &missing("00000000-0000-0000-0000-000000000001"),
                attr
            )
        );
        let other = "0191C5A4-1B2C-7D3E-8F40-123456789ABD";
        assert_eq!(
            err(json!({"access_level": "member", attr: other})),
            e("does_not_exist", &missing(&other.to_lowercase()), attr)
        );
        // Any form uuid.UUID(hex=) reads, normalised.
        for form in [
            ID.to_uppercase(),
            ID.replace('-', ""),
            format!("{{{ID}}}"),
            format!("urn:uuid:{ID}"),
        ] {
            let r = check(json!({"access_level": "admin", attr: form})).unwrap();
            assert_eq!(r.membership_id.as_deref(), Some(ID), "{form}");
        }
        // The first field's error wins.
        assert_eq!(
            err(json!({"access_level": "x", attr: "nope"})).3.as_deref(),
            Some("access_level")
        );
    }

    #[test]
    fn role_rows() {
        let attr = "role";
        assert_eq!(
            err(json!({"access_level": "member", attr: "x"})),
            e(
                "invalid_input",
                "\u{201c}x\u{201d} is not a valid UUID.",
                attr
            )
        );
        assert_eq!(
            err(json!({"access_level": "member", attr: [1]})),
            e(
                "invalid_input",
                "\u{201c}[1]\u{201d} is not a valid UUID.",
                attr
            )
        );
        assert_eq!(
            err(json!({"access_level": "member", attr: true})),
            e(
                "incorrect_type",
                "Incorrect type. Expected pk value, received bool.",
                attr
            )
        );
        let other = "0191C5A4-1B2C-7D3E-8F40-123456789ABD";
        assert_eq!(
            err(json!({"access_level": "member", attr: other})),
            e(
                "does_not_exist",
                &format!("Invalid pk \"{other}\" - object does not exist."),
                attr
            )
        );
        assert_eq!(
            err(json!({"access_level": "member", attr: 7})),
            e(
                "does_not_exist",
                "Invalid pk \"7\" - object does not exist.",
                attr
            )
        );
        let r = check(json!({"access_level": "none", attr: ID, "resource": "x"})).unwrap();
        assert_eq!(
            r,
            PutRule {
                level: Some(RuleLevel::None),
                membership_id: None,
                role_id: Some(ID.into())
            }
        );
    }

    #[test]
    fn object_check_order() {
        let both = PutRule {
            level: Some(RuleLevel::Admin),
            membership_id: Some(ID.into()),
            role_id: Some(ID.into()),
        };
        let elsewhere = Found {
            membership_org: Some("other".into()),
            role_org: Some("other".into()),
        };
        let detail = |r: &PutRule, f: &Found| object_checks(r, f, "org").unwrap_err().detail;
        assert_eq!(
            detail(&both, &elsewhere),
            "You can not scope an access control to both a member and a role."
        );
        let role_only = PutRule {
            membership_id: None,
            ..both.clone()
        };
        assert_eq!(
            detail(&role_only, &elsewhere),
            "The role must belong to the same organization as this project."
        );
        let member_only = PutRule {
            role_id: None,
            ..both
        };
        assert_eq!(
            detail(&member_only, &elsewhere),
            "The member must belong to the same organization as this project."
        );
        let here = Found {
            membership_org: Some("org".into()),
            role_org: None,
        };
        assert!(object_checks(&member_only, &here, "org").is_ok());
    }

    #[test]
    fn python_uuid_hex() {
        assert_eq!(py_uuid_hex(&"0".repeat(32)), Some(0));
        assert_eq!(
            py_uuid_hex(&format!("+{}", "f".repeat(31))),
            Some(u128::MAX >> 4)
        );
        assert_eq!(py_uuid_hex(&format!("-{}", "1".repeat(31))), None);
        assert_eq!(py_uuid_hex(&"g".repeat(32)), None);
        assert_eq!(py_uuid_hex(&"0".repeat(31)), None);
        assert_eq!(
            py_uuid_hex(&format!("0x{}", "a".repeat(30))),
            Some(u128::from_str_radix(&"a".repeat(30), 16).unwrap())
        );
    }
}
