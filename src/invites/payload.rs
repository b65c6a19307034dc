//! A create payload, validated as PostHog's invite serializer validates it:
//! fields in its order, the first field error reported, except that asking
//! for a level above the caller's own is a 403 that beats every field error.

use std::borrow::Cow;
use std::collections::HashSet;

use serde_json::{Map, Value};

use super::model::{AccessLevel, ProjectAccess};
use super::rules;
use crate::drf::{self, Attr, CharOpts};
use crate::error::ApiError;
use crate::organizations::Level;

/// PostHog's email field limit.
const EMAIL_MAX: usize = 254;
const FIRST_NAME_MAX: usize = 30;
/// PostHog's `message` is an unbounded text field; it is stored and emailed,
/// so prickle caps it (README, "Input bounds").
pub const MESSAGE_MAX: usize = 2000;

#[derive(Clone, Debug, PartialEq)]
pub struct NewInvite {
    /// Trimmed and lower-cased.
    pub target_email: String,
    pub first_name: String,
    pub level: Level,
    pub message: Option<String>,
    /// `None`: omitted (stored as `[]`); `Some(None)`: sent empty or null
    /// (stored as null, as PostHog does); `Some(Some(list))`: a non-empty list.
    pub private_project_access: Option<Option<Vec<ProjectAccess>>>,
    pub send_email: bool,
    pub combine_pending_invites: bool,
}

/// What the payload is checked against.
pub struct Context<'a> {
    /// The inviter's level in the organization.
    pub level: Level,
    /// The organization's project ids (needed only for `private_project_access`).
    pub projects: &'a HashSet<i64>,
}

/// Does the payload name projects (so the organization's projects must be loaded)?
pub fn names_projects(body: &Map<String, Value>) -> bool {
    body.get("private_project_access")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

/// Validates one payload; `prefix` is prepended to every attr (bulk: `__3__`).
pub fn parse(
    body: &Map<String, Value>,
    ctx: &Context,
    prefix: &str,
) -> Result<NewInvite, ApiError> {
    let attr = |name: &'static str| -> Attr {
        if prefix.is_empty() {
            Cow::Borrowed(name)
        } else {
            Cow::Owned(format!("{prefix}{name}"))
        }
    };
    let mut first: Option<ApiError> = None;
    let mut keep = |e: ApiError| {
        if first.is_none() {
            first = Some(e);
        }
    };

    let target_email = match body.get("target_email") {
        None => {
            keep(ApiError::required(attr("target_email")));
            String::new()
        }
        Some(v) => match email(v, &attr("target_email")) {
            Ok(e) => e,
            Err(e) => {
                keep(e);
                String::new()
            }
        },
    };

    let first_name = match body.get("first_name") {
        None => String::new(),
        Some(v) => {
            let opts = CharOpts {
                allow_null: false,
                allow_blank: true,
                max_length: Some(FIRST_NAME_MAX),
            };
            match drf::char_field(v, &attr("first_name"), &opts) {
                Ok(s) => s.unwrap_or_default(),
                Err(e) => {
                    keep(e);
                    String::new()
                }
            }
        }
    };

    let level = match body.get("level") {
        None => Level::Member,
        Some(v) => match drf::choice_field(v, &attr("level"), &["1", "8", "15"], false, false) {
            Ok(Some(s)) => {
                let level = s
                    .parse::<i64>()
                    .ok()
                    .and_then(Level::from_i64)
                    .unwrap_or(Level::Member);
                // Raised as a PermissionDenied inside validation: it escapes at once.
                rules::may_grant(level, ctx.level)?;
                level
            }
            Ok(None) => Level::Member,
            Err(e) => {
                keep(e);
                Level::Member
            }
        },
    };

    let message = match body.get("message") {
        None => None,
        Some(v) => {
            let opts = CharOpts {
                allow_null: true,
                allow_blank: true,
                max_length: Some(MESSAGE_MAX),
            };
            drf::char_field(v, &attr("message"), &opts).unwrap_or_else(|e| {
                keep(e);
                None
            })
        }
    };

    let private_project_access = match body.get("private_project_access") {
        None => None,
        Some(v) => match project_access(v, ctx) {
            Ok(list) => Some(list),
            Err(msg) => {
                keep(ApiError::invalid_input(msg).at(attr("private_project_access")));
                None
            }
        },
    };

    let mut flag = |name: &'static str, default: bool| match body.get(name) {
        None => default,
        Some(v) => match drf::bool_field(v, &attr(name), false) {
            Ok(b) => b.unwrap_or(default),
            Err(e) => {
                keep(e);
                default
            }
        },
    };
    let send_email = flag("send_email", true);
    let combine_pending_invites = flag("combine_pending_invites", false);

    if let Some(e) = first {
        return Err(e);
    }
    Ok(NewInvite {
        target_email,
        first_name,
        level,
        message,
        private_project_access,
        send_email,
        combine_pending_invites,
    })
}

/// DRF's `EmailField` (`drf::email_field`); then PostHog lower-cases all of it.
fn email(v: &Value, attr: &Attr) -> Result<String, ApiError> {
    Ok(drf::email_field(v, attr, EMAIL_MAX)?.to_lowercase())
}

const TEAM_ERROR: &str =
    "Project does not exist on this organization, or it is private and you do not have access to it.";

/// The model's structural checks, then the serializer's: level `member` or
/// `admin`, a project of this organization. Every project in prickle is open
/// (no project-level access control), so membership of the organization is
/// access enough. An empty list or null is stored as null.
fn project_access(v: &Value, ctx: &Context) -> Result<Option<Vec<ProjectAccess>>, &'static str> {
    let items = match v {
        Value::Null => return Ok(None),
        Value::Array(items) => items,
        _ => return Err("The field must be a list of dictionaries."),
    };
    for item in items {
        let Value::Object(o) = item else {
            return Err("Each item in the list must be a dictionary.");
        };
        if !o.contains_key("id") || !o.contains_key("level") {
            return Err("Each dictionary must contain \"id\" and \"level\" keys.");
        }
        let is_int = matches!(&o["id"], Value::Number(n) if n.is_i64() || n.is_u64());
        if !is_int {
            return Err("The \"id\" field must be an integer.");
        }
        if !matches!(o["level"].as_str(), Some("none" | "member" | "admin")) {
            return Err("The \"level\" field must be a valid access level.");
        }
    }
    if items.is_empty() {
        return Ok(None);
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let level = item["level"]
            .as_str()
            .and_then(AccessLevel::parse)
            .ok_or("The \"level\" field must be a valid access level.")?;
        let id = item["id"].as_i64().ok_or(TEAM_ERROR)?;
        if !ctx.projects.contains(&id) {
            return Err(TEAM_ERROR);
        }
        out.push(ProjectAccess { id, level });
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(body: Value, level: Level) -> Result<NewInvite, ApiError> {
        let projects: HashSet<i64> = [7].into_iter().collect();
        let ctx = Context {
            level,
            projects: &projects,
        };
        parse(body.as_object().unwrap(), &ctx, "")
    }

    fn err(body: Value) -> (u16, String, String, Option<String>) {
        let e = run(body, Level::Member).unwrap_err();
        (
            e.status.as_u16(),
            e.code.into_owned(),
            e.detail.into_owned(),
            e.attr.map(|a| a.into_owned()),
        )
    }

    #[test]
    fn defaults_and_normalisation() {
        let i = run(
            json!({"target_email": "  Test.User@Example.COM "}),
            Level::Member,
        )
        .unwrap();
        assert_eq!(i.target_email, "test.user@example.com");
        assert_eq!(i.level, Level::Member);
        assert_eq!(i.first_name, "");
        assert_eq!(i.message, None);
        assert_eq!(i.private_project_access, None);
        assert!(i.send_email);
        assert!(!i.combine_pending_invites);
        let i = run(
            json!({"target_email": "a@b.co", "level": "8", "private_project_access": [], "send_email": "false"}),
            Level::Admin,
        )
        .unwrap();
        assert_eq!(i.level, Level::Admin);
        assert_eq!(i.private_project_access, Some(None));
        assert!(!i.send_email);
    }

    #[test]
    fn field_errors_in_posthog_order() {
        assert_eq!(
            err(json!({})),
            (
                400,
                "required".into(),
                "This field is required.".into(),
                Some("target_email".into())
            )
        );
        assert_eq!(err(json!({"target_email": null})).1, "null");
        assert_eq!(err(json!({"target_email": ""})).1, "blank");
        assert_eq!(
            err(json!({"target_email": "nope"})).2,
            "Enter a valid email address."
        );
        assert_eq!(
            err(json!({"target_email": "a@b.co", "first_name": "x".repeat(31)})).1,
            "max_length"
        );
        assert_eq!(
            err(json!({"target_email": "a@b.co", "message": "x".repeat(MESSAGE_MAX + 1)})),
            (
                400,
                "max_length".into(),
                format!("Ensure this field has no more than {MESSAGE_MAX} characters."),
                Some("message".into())
            )
        );
        assert_eq!(
            err(json!({"target_email": "a@b.co", "level": 3})),
            (
                400,
                "invalid_choice".into(),
                "\"3\" is not a valid choice.".into(),
                Some("level".into())
            )
        );
        // The first failing field wins...
        assert_eq!(
            err(json!({"target_email": "x", "first_name": "x".repeat(31)})).3,
            Some("target_email".into())
        );
        // ...but a level above the caller's beats every field error.
        assert_eq!(
            err(json!({"target_email": "x", "level": 8})),
            (
                403,
                "permission_denied".into(),
                "You cannot invite a user with a higher permission level than your own.".into(),
                None
            )
        );
    }

    #[test]
    fn project_access_rules() {
        let msg = |v: Value| err(json!({"target_email": "a@b.co", "private_project_access": v})).2;
        assert_eq!(msg(json!("x")), "The field must be a list of dictionaries.");
        assert_eq!(
            msg(json!([1])),
            "Each item in the list must be a dictionary."
        );
        assert_eq!(
            msg(json!([{"id": 7}])),
            "Each dictionary must contain \"id\" and \"level\" keys."
        );
        assert_eq!(
            msg(json!([{"id": "7", "level": "member"}])),
            "The \"id\" field must be an integer."
        );
        assert_eq!(
            msg(json!([{"id": 7, "level": "owner"}])),
            "The \"level\" field must be a valid access level."
        );
        assert_eq!(
            msg(json!([{"id": 7, "level": "none"}])),
            "The \"level\" field must be a valid access level."
        );
        assert_eq!(msg(json!([{"id": 8, "level": "admin"}])), TEAM_ERROR);
        let ok = run(
            json!({"target_email": "a@b.co", "private_project_access": [{"id": 7, "level": "admin"}]}),
            Level::Member,
        )
        .unwrap();
        assert_eq!(
            ok.private_project_access,
            Some(Some(vec![ProjectAccess {
                id: 7,
                level: AccessLevel::Admin
            }]))
        );
    }
}
