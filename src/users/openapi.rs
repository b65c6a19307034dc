//! What the API document says about `/api/users/@me/`: PostHog's operation
//! ids, the `User` component (`model::Me`) and the `PatchedUser` body
//! (`payload::USER`).

use axum::http::Method;

use super::PATH;
use crate::openapi::schema as s;
use crate::openapi::Operation;
use crate::organizations::openapi as organizations;

const TAGS: &[&str] = &["core", "users"];

pub const DETAIL: &str = "User";
pub const PATCHED: &str = "PatchedUser";
pub const ORGANIZATION_BASIC: &str = "OrganizationBasic";

fn op(method: Method, id: &'static str) -> Operation {
    let op = Operation::new(method, PATH, id)
        .tags(TAGS)
        .path_param(
            "uuid",
            s::string(),
            Some("`@me`: the caller, the only user a personal API key may address."),
        )
        .returns(200, s::component(DETAIL))
        .component_of::<super::model::Me>()
        .component(PATCHED, || super::payload::USER.schema(true))
        .component_of::<crate::organizations::model::Basic>();
    organizations::components(op)
}

pub fn retrieve() -> Operation {
    op(Method::GET, "users_retrieve")
        .describe("Who the key belongs to, with their current organization and project.")
}

pub fn update() -> Operation {
    op(Method::PUT, "users_update")
        .describe("A partial body is accepted, as with PATCH.")
        .body(s::component(PATCHED))
        .error(429)
}

pub fn partial_update() -> Operation {
    op(Method::PATCH, "users_partial_update")
        .describe(
            "The caller's profile, and their current organization and project. With a \
             session, `password` and `current_password` change the password (at most 5 \
             tries a minute: 429 beyond).",
        )
        .body(s::component(PATCHED))
        .error(429)
}
