//! What the API document says about the invites routes and the sign-up
//! through an invite: PostHog's operation ids and component names, with the
//! shapes prickle really answers (`Invite::write_json`; bulk answers 201 with
//! the array, decisions.md).

use axum::http::Method;
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
    super::payload::INVITE.schema(false)
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

/// The sign-up body (`signup::payload::SIGNUP`): `first_name` and
/// `password` are required without a key, so the schema requires neither.
fn signup_schema() -> ObjectBuilder {
    crate::signup::payload::SIGNUP.schema(false)
}

/// The user who joined (`UserBasic`) and where the app goes next.
fn signed_up_schema() -> ObjectBuilder {
    user_basic_schema()
        .property("redirect_url", s::string())
        .required("redirect_url")
}
