//! What the API document says about the invites routes and the sign-up
//! through an invite: PostHog's operation ids and component names, with the
//! shapes prickle really answers (`Invite::write_json`; bulk answers 201 with
//! the array, decisions.md).

use axum::http::Method;
use serde_json::json;
use utoipa::openapi::schema::ObjectBuilder;

use super::{BULK_PATH, DETAIL_PATH, LIST_PATH, MAX_BULK};
use crate::members::openapi::{level_schema, user_basic_schema, LEVEL, USER_BASIC};
use crate::openapi::schema::{self as s, Kind};
use crate::openapi::Operation;
use crate::signup::PATH as SIGNUP_PATH;

const TAGS: &[&str] = &["core", "invites"];
const SIGNUP_TAGS: &[&str] = &["signup"];

pub const INVITE: &str = "OrganizationInvite";
pub const PAGE: &str = "PaginatedOrganizationInviteList";
pub const SIGNUP_PREVIEW: &str = "InviteSignupPreview";
pub const SIGNUP: &str = "InviteSignup";
pub const SIGNED_UP: &str = "InviteSignupResponse";

/// The components the invite and sign-up routes refer to.
fn components(op: Operation) -> Operation {
    op.component(INVITE, invite_schema())
        .component(PAGE, crate::openapi::paginated(INVITE))
        .component(SIGNUP_PREVIEW, preview_schema())
        .component(SIGNUP, signup_schema())
        .component(SIGNED_UP, signed_up_schema())
        .component(LEVEL, level_schema())
        .component(USER_BASIC, user_basic_schema())
}

fn org(method: Method, path: &'static str, id: &'static str) -> Operation {
    components(
        Operation::new(method, path, id)
            .tags(TAGS)
            .param(crate::openapi::organization_id()),
    )
}

fn signup(method: Method, id: &'static str) -> Operation {
    components(
        Operation::new(method, SIGNUP_PATH, id)
            .tags(SIGNUP_TAGS)
            .path_param(
                "invite_id",
                s::string(),
                Some("The invite's id, from the sign-up link."),
            )
            .query(
                "token",
                s::string(),
                "The sign-up token from the invite's link (`signup_url`). Required (on POST it may \
                 come as a `token` body field instead); a missing or wrong token is answered as \
                 an unknown invite.",
            ),
    )
    // A key sent along must be valid; an unknown or expired invite is PostHog's 400;
    // 503 when the server's password hashing is at its bound (with `Retry-After`).
    .error(400)
    .error(401)
    .error(503)
}

pub fn list() -> Operation {
    org(Method::GET, LIST_PATH, "invites_list")
        .describe("The organization's invites, newest first.")
        .limit_offset()
        .returns(200, s::component(PAGE))
}

pub fn create() -> Operation {
    org(Method::POST, LIST_PATH, "invites_create")
        .describe(
            "Invites an email address; earlier invites for it are replaced, \
             and it is emailed when the server sends email.",
        )
        .body(s::component(INVITE))
        .returns(201, s::component(INVITE))
}

pub fn bulk() -> Operation {
    org(Method::POST, BULK_PATH, "invites_bulk_create")
        .describe(
            "Invites up to 20 email addresses at once, all or nothing: \
             one invalid element writes none.",
        )
        .body(s::array(s::component(INVITE)).max_items(Some(MAX_BULK)))
        .returns(201, s::array(s::component(INVITE)))
}

pub fn destroy() -> Operation {
    org(Method::DELETE, DETAIL_PATH, "invites_destroy")
        .describe("Withdraws an invite.")
        .path_param(
            "id",
            s::uuid(),
            Some("A UUID string identifying this organization invite."),
        )
        .returns_nothing(204)
}

pub fn signup_preview() -> Operation {
    signup(Method::GET, "signup_retrieve")
        .describe(
            "The invite behind a sign-up link, checked as accepting it would \
             check it (for the caller, when a key is sent).",
        )
        .returns(200, s::component(SIGNUP_PREVIEW))
}

pub fn signup_accept() -> Operation {
    signup(Method::POST, "signup_create")
        .describe(
            "Joins the invited organization: a new account from `first_name` and \
                 `password`, or, with a personal API key, the key's user.",
        )
        .body(s::component(SIGNUP))
        .returns(201, s::component(SIGNED_UP))
}

/// The invite (`Invite::write_json`), also the create body: the fields the
/// server sets are read-only and required, as PostHog lists them; the two
/// flags are read from the body and never shown.
fn invite_schema() -> ObjectBuilder {
    let read_only = |b: ObjectBuilder| b.read_only(Some(true));
    let access = s::of(Kind::Object)
        .property("id", s::integer())
        .property("level", s::choice(Kind::String, ["member", "admin"]))
        .required("id")
        .required("level");
    let mut b = s::of(Kind::Object)
        .property("id", read_only(s::uuid()))
        // No `format`: the server checks addresses by its own rules.
        .property("target_email", s::string().max_length(Some(254)))
        .property("first_name", s::string().max_length(Some(30)))
        .property("emailing_attempt_made", read_only(s::boolean()))
        .property("level", s::component(LEVEL))
        .property(
            "is_expired",
            read_only(s::boolean().description(Some("Older than the 3 days an invite is valid."))),
        )
        // Null once the inviter's account is gone.
        .property("created_by", s::nullable_component(USER_BASIC))
        .property("created_at", read_only(s::date_time()))
        .property("updated_at", read_only(s::date_time()))
        .property(
            "message",
            s::nullable(Kind::String).max_length(Some(super::payload::MESSAGE_MAX)),
        )
        .property(
            "private_project_access",
            s::nullable_array(access).description(Some(
                "Projects of the organization and the access the invite grants to each; \
                 sent empty or null, it is stored as null.",
            )),
        )
        .property(
            "signup_url",
            read_only(s::string().description(Some(
                "The sign-up link with the invite's token, SITE_URL/signup/<id>?token=<token>. \
                 Shown once, in the create response (single and bulk), never in a list; \
                 `prickle admin invite-link` makes a new one. Not in PostHog.",
            ))),
        )
        .property(
            "send_email",
            s::boolean()
                .write_only(Some(true))
                .default(Some(json!(true))),
        )
        .property(
            "combine_pending_invites",
            s::boolean()
                .write_only(Some(true))
                .default(Some(json!(false))),
        );
    for name in [
        "created_at",
        "created_by",
        "emailing_attempt_made",
        "id",
        "is_expired",
        "target_email",
        "updated_at",
    ] {
        b = b.required(name);
    }
    b
}

/// `GET /api/signup/{invite_id}/`: who is invited, to which organization.
fn preview_schema() -> ObjectBuilder {
    s::of(Kind::Object)
        .property("id", s::uuid())
        .property("target_email", s::string())
        .property("first_name", s::string())
        .property("organization_name", s::string())
        .required("id")
        .required("target_email")
        .required("first_name")
        .required("organization_name")
}

/// The sign-up body: `first_name` and `password` are required without a key.
fn signup_schema() -> ObjectBuilder {
    s::of(Kind::Object)
        .property(
            "token",
            s::string().write_only(Some(true)).description(Some(
                "The sign-up token, when not sent as `?token=` (the query wins).",
            )),
        )
        .property("first_name", s::string().max_length(Some(128)))
        .property(
            "password",
            s::string().max_length(Some(72)).write_only(Some(true)),
        )
        .property("role_at_organization", s::string().max_length(Some(128)))
}

/// The user who joined (`UserBasic`) and where the app goes next.
fn signed_up_schema() -> ObjectBuilder {
    user_basic_schema()
        .property("redirect_url", s::string())
        .required("redirect_url")
}
