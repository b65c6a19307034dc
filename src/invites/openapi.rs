//! What the API document says about the invites routes and the sign-up
//! through an invite: PostHog's operation ids and component names, with the
//! shapes prickle really answers (the types of `model`; bulk answers 201
//! with the array, decisions.md).

use axum::http::Method;
use utoipa::openapi::schema::{ObjectBuilder, Schema};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use super::model::OrganizationInvite;
use super::{BULK_PATH, DETAIL_PATH, LIST_PATH, MAX_BULK};
use crate::openapi::schema as s;
use crate::openapi::Operation;
use crate::organizations::Level;
use crate::signup::model::{InviteSignupPreview, InviteSignupResponse};
use crate::signup::PATH as SIGNUP_PATH;
use crate::users::model::UserBasic;

const TAGS: &[&str] = &["core", "invites"];
const SIGNUP_TAGS: &[&str] = &["signup"];

pub const PAGE: &str = "PaginatedOrganizationInviteList";
pub const SIGNUP: &str = "InviteSignup";

fn invite() -> RefOr<Schema> {
    s::component(&OrganizationInvite::name())
}

/// The components the invite and sign-up routes refer to.
fn components(op: Operation) -> Operation {
    op.component(&OrganizationInvite::name(), invite_schema)
        .component_of::<Level>()
        .component_of::<UserBasic>()
        .component(PAGE, || {
            crate::openapi::paginated(&OrganizationInvite::name())
        })
        .component_of::<InviteSignupPreview>()
        .component(SIGNUP, signup_schema)
        .component_of::<InviteSignupResponse>()
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
        .body(invite())
        .returns(201, invite())
}

pub fn bulk() -> Operation {
    org(Method::POST, BULK_PATH, "invites_bulk_create")
        .describe(
            "Invites up to 20 email addresses at once, all or nothing: \
             one invalid element writes none.",
        )
        .body(s::array(invite()).max_items(Some(MAX_BULK)))
        .returns(201, s::array(invite()))
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
        .returns(200, s::component(&InviteSignupPreview::name()))
}

pub fn signup_accept() -> Operation {
    signup(Method::POST, "signup_create")
        .describe(
            "Joins the invited organization: a new account from `first_name` and \
                 `password`, or, with a personal API key, the key's user.",
        )
        .body(s::component(SIGNUP))
        .returns(201, s::component(&InviteSignupResponse::name()))
}

/// The invite as every response shows it (`model::OrganizationInvite`), also
/// the create body: the fields only a request carries (its declaration's
/// write-only ones, `payload::INVITE`) are added, read from the body and
/// never shown.
fn invite_schema() -> RefOr<Schema> {
    let body = &super::payload::INVITE;
    body.fields
        .iter()
        .filter(|f| f.write_only)
        .filter_map(|f| Some((f.name, body.property(f.name)?)))
        .fold(s::object_of::<OrganizationInvite>(), |b, (name, schema)| {
            b.property(name, schema)
        })
        .into()
}

/// The sign-up body (`signup::payload::SIGNUP`): `first_name` and
/// `password` are required without a key, so the schema requires neither.
fn signup_schema() -> ObjectBuilder {
    crate::signup::payload::SIGNUP.schema(false)
}
