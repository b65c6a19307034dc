//! What the API document says about `/api/personal_api_keys/`: PostHog's
//! operation ids; a key reads itself (`model::PersonalApiKey::to_json`), and
//! every other action answers 403 to a key, so it documents no success.

use axum::http::Method;
use utoipa::openapi::schema::ObjectBuilder;

use super::{DETAIL_PATH, LIST_PATH, ROLL_PATH};
use crate::openapi::schema as s;
use crate::openapi::Operation;

const TAGS: &[&str] = &["core", "personal_api_keys"];
const REFUSED: &str = "Not available to a personal API key (403): PostHog allows it only \
                       from its app; prickle's operator manages keys with `prickle admin`.";

pub const DETAIL: &str = "PersonalAPIKey";

fn id() -> ObjectBuilder {
    s::string().description(Some(
        "`@current`: the calling key; or that key's own id (another key of the same user: 403).",
    ))
}

fn detail(method: Method, op_id: &'static str) -> Operation {
    Operation::new(method, DETAIL_PATH, op_id)
        .tags(TAGS)
        .path_param("id", id(), None)
}

pub fn retrieve() -> Operation {
    detail(Method::GET, "personal_api_keys_retrieve")
        .describe("The calling key itself (never its secret).")
        .returns(200, s::component(DETAIL))
        .component_of::<super::model::Shown>()
}

pub fn list() -> Operation {
    Operation::new(Method::GET, LIST_PATH, "personal_api_keys_list")
        .describe(REFUSED)
        .tags(TAGS)
}

pub fn create() -> Operation {
    Operation::new(Method::POST, LIST_PATH, "personal_api_keys_create")
        .describe(REFUSED)
        .tags(TAGS)
}

pub fn update() -> Operation {
    detail(Method::PUT, "personal_api_keys_update").describe(REFUSED)
}

pub fn partial_update() -> Operation {
    detail(Method::PATCH, "personal_api_keys_partial_update").describe(REFUSED)
}

pub fn destroy() -> Operation {
    detail(Method::DELETE, "personal_api_keys_destroy").describe(REFUSED)
}

pub fn roll() -> Operation {
    Operation::new(Method::POST, ROLL_PATH, "personal_api_keys_roll_create")
        .describe(REFUSED)
        .tags(TAGS)
        .path_param("id", id(), None)
}
