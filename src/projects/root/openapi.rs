//! What the API document says about the root projects mount (`/api/projects/`):
//! the same components as under `/api/organizations/:id/projects/`
//! (`projects::openapi`), with drf-spectacular's names for the mount it
//! meets first (the organization mount's ids carry the `_2`).

use axum::http::Method;
use utoipa::openapi::schema::ObjectBuilder;

use super::{ACTIVITY_PATH, DETAIL_PATH, LIST_PATH};
use crate::openapi::schema as s;
use crate::openapi::Operation;
use crate::projects::openapi::{components, ACTIVITY_PAGE, DETAIL, PAGE, PATCHED};

const TAGS: &[&str] = &["core", "projects"];
const DESCRIPTION: &str = "Projects of every organization of the caller; a project's own \
                           routes act on it in its organization.";

fn detail(method: Method, path: &'static str, id: &'static str) -> Operation {
    components(
        Operation::new(method, path, id)
            .describe(DESCRIPTION)
            .tags(TAGS)
            .path_param(
                "id",
                project_id(),
                Some("A unique value identifying this project (or `@current`)."),
            ),
    )
}

pub fn list() -> Operation {
    components(
        Operation::new(Method::GET, LIST_PATH, "list")
            .describe(
                "Every project of every organization of the caller, narrowed by the \
                 key's organization restriction.",
            )
            .tags(TAGS)
            .limit_offset()
            .returns(200, s::component(PAGE)),
    )
}

pub fn create() -> Operation {
    components(
        Operation::new(Method::POST, LIST_PATH, "create")
            .describe(
                "A project in the caller's current organization (404 when they belong to none).",
            )
            .tags(TAGS)
            .body(s::component(DETAIL))
            .returns(201, s::component(DETAIL))
            .error(404)
            .error(409),
    )
}

pub fn retrieve() -> Operation {
    detail(Method::GET, DETAIL_PATH, "retrieve").returns(200, s::component(DETAIL))
}

pub fn update() -> Operation {
    detail(Method::PUT, DETAIL_PATH, "update")
        .body(s::component(DETAIL))
        .returns(200, s::component(DETAIL))
        .error(409)
}

pub fn partial_update() -> Operation {
    detail(Method::PATCH, DETAIL_PATH, "partial_update")
        .body(s::component(PATCHED))
        .returns(200, s::component(DETAIL))
        .error(409)
}

pub fn destroy() -> Operation {
    detail(Method::DELETE, DETAIL_PATH, "destroy").returns_nothing(204)
}

pub fn activity_log() -> Operation {
    detail(Method::GET, ACTIVITY_PATH, "activity_retrieve_2")
        .describe("The project's activity log, newest first.")
        .page_number()
        .returns(200, s::component(ACTIVITY_PAGE))
}

/// A project id: PostHog documents an integer (prickle also takes `@current`).
fn project_id() -> ObjectBuilder {
    s::integer().format(Some(s::format("int64")))
}
