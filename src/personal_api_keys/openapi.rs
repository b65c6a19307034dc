//! What the API document says about `/api/personal_api_keys/`: PostHog's
//! operation ids. A key reads itself; managing keys (list, create, update,
//! delete, roll) needs a signed-in session, as PostHog allows it only from
//! its app: a personal API key gets 403 there.

use axum::http::Method;
use utoipa::openapi::schema::ObjectBuilder;

use super::{DETAIL_PATH, LIST_PATH, ROLL_PATH};
use crate::openapi::schema as s;
use crate::openapi::Operation;

const TAGS: &[&str] = &["core", "personal_api_keys"];

pub const DETAIL: &str = "PersonalAPIKey";
pub const REQUEST: &str = "PersonalAPIKeyRequest";
pub const PATCHED: &str = "PatchedPersonalAPIKeyRequest";

fn id() -> ObjectBuilder {
    s::string().description(Some(
        "The key's id. With a key: `@current` (the calling key) or its own id (another key \
         of the same user: 403). With a session: any of the user's keys.",
    ))
}

fn detail(method: Method, op_id: &'static str) -> Operation {
    Operation::new(method, DETAIL_PATH, op_id)
        .tags(TAGS)
        .path_param("id", id(), None)
}

fn shows_key(op: Operation, status: u16) -> Operation {
    op.returns(status, s::component(DETAIL))
        .component_of::<super::model::Shown>()
}

pub fn retrieve() -> Operation {
    shows_key(
        detail(Method::GET, "personal_api_keys_retrieve").describe("One key (never its secret)."),
        200,
    )
}

pub fn list() -> Operation {
    let op = Operation::new(Method::GET, LIST_PATH, "personal_api_keys_list")
        .describe("The user's keys, newest first (sessions only).")
        .tags(TAGS)
        .returns(200, s::array(s::component(DETAIL)));
    op.component_of::<super::model::Shown>()
}

pub fn create() -> Operation {
    let op = Operation::new(Method::POST, LIST_PATH, "personal_api_keys_create")
        .describe(
            "Makes a key (sessions only, signed in within the last 2 hours; at most 10 a \
             user). The answer's `value` is the secret, shown this once.",
        )
        .tags(TAGS)
        .body(s::component(REQUEST))
        .component(REQUEST, || super::payload::KEY.schema(false));
    shows_key(op, 201)
}

pub fn update() -> Operation {
    let op = detail(Method::PUT, "personal_api_keys_update")
        .describe("Changes a key's label, scopes or restrictions (sessions only).")
        .body(s::component(REQUEST))
        .component(REQUEST, || super::payload::KEY.schema(false));
    shows_key(op, 200)
}

pub fn partial_update() -> Operation {
    let op = detail(Method::PATCH, "personal_api_keys_partial_update")
        .describe("Changes a key's label, scopes or restrictions (sessions only).")
        .body(s::component(PATCHED))
        .component(PATCHED, || super::payload::KEY.schema(true));
    shows_key(op, 200)
}

pub fn destroy() -> Operation {
    detail(Method::DELETE, "personal_api_keys_destroy")
        .describe("Deletes a key: refused from its next request on (sessions only).")
        .returns_nothing(204)
}

pub fn roll() -> Operation {
    let op = Operation::new(Method::POST, ROLL_PATH, "personal_api_keys_roll_create")
        .describe(
            "Gives a key a new secret (sessions only): the old one is refused from its next \
             request on; the answer's `value` is the new one, shown this once.",
        )
        .tags(TAGS)
        .path_param("id", id(), None);
    shows_key(op, 200)
}
