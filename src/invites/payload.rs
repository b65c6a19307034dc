//! The invite, declared as PostHog's `OrganizationInviteSerializer`
//! declares it: the create body (single, and each element of a bulk body)
//! and the `OrganizationInvite` component in the API document. Fields are
//! checked in its order and the first field error is reported, except that
//! asking for a level above the caller's own is a 403 that beats every
//! field error (PostHog raises it inside `validate_level`).

use std::collections::HashMap;

use serde_json::Value;

use super::model::{AccessLevel, ProjectAccess};
use super::rules;
use crate::access::rules::{invite_check, InviteFacts, ProjectLevel, INVITE_NO_PROJECT};
use crate::error::{ApiError, ApiResult};
use crate::members::openapi::{LEVEL, USER_BASIC};
use crate::members::payload::LEVELS;
use crate::organizations::Level;
use crate::payload::{Body, Checked, Choices, Data, Field, Kind, Text};

/// PostHog's email field limit.
const EMAIL_MAX: usize = 254;
const FIRST_NAME_MAX: usize = 30;
/// PostHog's `message` is an unbounded text field; it is stored and emailed,
/// so prickle caps it (README, "Input bounds").
pub const MESSAGE_MAX: usize = 2000;

/// One entry of `private_project_access`, as documented (the model's own
/// validator checks it: `project_access`).
const PROJECT_ACCESS: Field = Field::new(
    "",
    Kind::Object(&[
        Field::new("id", Kind::INTEGER).required(),
        Field::new(
            "level",
            Kind::Choice(Choices::Strings(&["member", "admin"])),
        )
        .required(),
    ]),
);

/// The invite: the create body, and the component the API document shows
/// for both the body and the answer (`Invite::write_json`). The fields the
/// server sets are read-only and required, as PostHog lists them; the two
/// flags are read from the body and never shown.
pub static INVITE: Body = Body::new(&[
    Field::new("id", Kind::Uuid).read_only().required(),
    Field::new("target_email", Kind::Email(Text::max(EMAIL_MAX))).required(),
    Field::new("first_name", Kind::Text(Text::max(FIRST_NAME_MAX))).blank(),
    Field::new("emailing_attempt_made", Kind::Boolean)
        .read_only()
        .required(),
    Field::new("level", Kind::Choice(LEVELS)).component(LEVEL),
    Field::new("is_expired", Kind::Boolean)
        .read_only()
        .required()
        .describe("Older than the 3 days an invite is valid."),
    // Null once the inviter's account is gone.
    Field::new("created_by", Kind::Object(&[]))
        .component(USER_BASIC)
        .nullable()
        .read_only()
        .required(),
    Field::new("created_at", Kind::DateTime)
        .read_only()
        .required(),
    Field::new("updated_at", Kind::DateTime)
        .read_only()
        .required(),
    Field::new("message", Kind::Text(Text::max(MESSAGE_MAX)))
        .nullable()
        .blank(),
    Field::new(
        "private_project_access",
        Kind::Json(Some(&Kind::List(&PROJECT_ACCESS))),
    )
    .nullable()
    .describe(
        "Projects of the organization and the access the invite grants to each; \
             sent empty or null, it is stored as null.",
    ),
    Field::new("signup_url", Kind::Text(Text::ANY))
        .read_only()
        .describe(
            "The sign-up link with the invite's token, SITE_URL/signup/<id>?token=<token>. \
             Shown once, in the create response (single and bulk), never in a list; \
             `prickle admin invite-link` makes a new one. Not in PostHog.",
        ),
    Field::new("send_email", Kind::Boolean)
        .write_only()
        .default("true"),
    Field::new("combine_pending_invites", Kind::Boolean)
        .write_only()
        .default("false"),
]);

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
    /// Every project of the organization and what the inviter is there
    /// (read in the invite's transaction, and only when the payload names
    /// projects: `private_project_access`).
    pub projects: &'a HashMap<i64, InviteFacts>,
}

/// The declared checks of a single create body.
pub fn check(data: &Data) -> ApiResult<Checked> {
    INVITE.check(data, false)
}

/// Does the payload name projects (so the organization's projects must be loaded)?
pub fn names_projects(checked: &Checked) -> bool {
    checked
        .value("private_project_access")
        .and_then(Value::as_array)
        .is_some_and(|a| !a.is_empty())
}

/// PostHog's `validate_level` and the project-access rules on the checked
/// fields, then the invite.
pub fn accept(mut checked: Checked, ctx: &Context) -> ApiResult<NewInvite> {
    // Raised as a PermissionDenied inside validation: it escapes at once.
    checked.refine("level", |v| {
        rules::may_grant(level_of(v), ctx.level)?;
        Ok(v.clone())
    });
    let mut access = None;
    checked.refine("private_project_access", |v| {
        access = Some(project_access(v, ctx).map_err(ApiError::invalid_input)?);
        Ok(v.clone())
    });
    let valid = checked.finish()?;
    let text = |name| valid.text(name).flatten();
    Ok(NewInvite {
        // PostHog lower-cases the whole address.
        target_email: text("target_email").unwrap_or_default().to_lowercase(),
        first_name: text("first_name").unwrap_or_default(),
        level: valid.get("level").map(level_of).unwrap_or(Level::Member),
        message: text("message"),
        private_project_access: access,
        send_email: valid.flag("send_email").flatten().unwrap_or(true),
        combine_pending_invites: valid
            .flag("combine_pending_invites")
            .flatten()
            .unwrap_or(false),
    })
}

fn level_of(v: &Value) -> Level {
    v.as_i64()
        .and_then(Level::from_i64)
        .unwrap_or(Level::Member)
}

const TEAM_ERROR: &str = INVITE_NO_PROJECT;

/// The model's structural checks, then the serializer's, element by element:
/// level `member` or `admin`, a project of this organization, then what the
/// inviter may grant there (`access::rules::invite_check`: hidden projects
/// do not exist, nobody grants above their own level). An empty list or
/// null is stored as null.
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
        let facts = ctx.projects.get(&id).ok_or(TEAM_ERROR)?;
        let requested = match level {
            AccessLevel::Member => ProjectLevel::Member,
            AccessLevel::Admin => ProjectLevel::Admin,
        };
        invite_check(ctx.level, facts, requested)?;
        out.push(ProjectAccess { id, level });
    }
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn open_project(level: Level) -> HashMap<i64, InviteFacts> {
        let facts = InviteFacts::of(level, &crate::access::Rules::NONE);
        [(7, facts)].into_iter().collect()
    }

    fn run(body: Value, level: Level) -> Result<NewInvite, ApiError> {
        let projects = open_project(level);
        let ctx = Context {
            level,
            projects: &projects,
        };
        accept(check(&Data::Json(body))?, &ctx)
    }

    fn form(pairs: &[(&str, &str)]) -> Result<NewInvite, ApiError> {
        let projects = open_project(Level::Admin);
        let ctx = Context {
            level: Level::Admin,
            projects: &projects,
        };
        let pairs = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        accept(check(&Data::Form(crate::payload::Form::new(pairs)))?, &ctx)
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
        // A plain member is `member` on a project without rules: not above it.
        assert_eq!(
            msg(json!([{"id": 7, "level": "admin"}])),
            crate::access::rules::INVITE_ABOVE_OWN
        );
        let ok = run(
            json!({"target_email": "a@b.co", "private_project_access": [{"id": 7, "level": "admin"}]}),
            Level::Admin,
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

    #[test]
    fn forms_are_read_as_drf_reads_them() {
        let i = form(&[
            ("target_email", " A@B.co "),
            ("level", ""),
            ("send_email", ""),
            ("message", ""),
            (
                "private_project_access",
                r#"[{"id": 7, "level": "member"}]"#,
            ),
        ])
        .unwrap();
        assert_eq!(i.target_email, "a@b.co");
        // Blank optional fields are left out (their defaults apply); a
        // nullable text field that allows blanks keeps the blank.
        assert_eq!(i.level, Level::Member);
        assert!(i.send_email);
        assert_eq!(i.message.as_deref(), Some(""));
        assert_eq!(
            i.private_project_access,
            Some(Some(vec![ProjectAccess {
                id: 7,
                level: AccessLevel::Member
            }]))
        );
        let i = form(&[("target_email", "a@b.co"), ("level", "1"), ("level", "8")]).unwrap();
        assert_eq!(i.level, Level::Admin, "the last value wins");
        let e = form(&[("target_email", "a@b.co"), ("private_project_access", "[")]).unwrap_err();
        assert_eq!(
            (e.detail.as_ref(), e.attr.as_deref()),
            ("Value must be valid JSON.", Some("private_project_access"))
        );
        // JSON sent as a form is one field named by the whole text.
        let e = form(&[(r#"{"target_email": "a@b.co"}"#, "")]).unwrap_err();
        assert_eq!(
            (e.code.as_ref(), e.attr.as_deref()),
            ("required", Some("target_email"))
        );
    }
}
