//! What the API document says about `/api/organizations/`: PostHog's
//! operation ids and component names: the organization (`model::Full`, also
//! the create body), its PATCH/PUT body (`payload::ORGANIZATION`) and the
//! project list item it embeds.

use axum::http::Method;

use super::{DETAIL_PATH, LIST_PATH};
use crate::openapi::schema as s;
use crate::openapi::Operation;

const TAGS: &[&str] = &["core", "organizations"];

pub const DETAIL: &str = "Organization";
pub const PATCHED: &str = "PatchedOrganization";
pub const PAGE: &str = "PaginatedOrganizationList";
/// PostHog's `TeamBasic`: a project of the organization (`model::team_basic`).
pub const TEAM_BASIC: &str = "TeamBasic";

/// The components the organization routes refer to (the users' too).
pub fn components(op: Operation) -> Operation {
    op.component_of::<super::model::Full>()
        .component(PATCHED, || super::payload::ORGANIZATION.schema(true))
        .component(PAGE, || crate::openapi::paginated(DETAIL))
        .component_of::<crate::projects::model::TeamBasic>()
}

fn detail(method: Method, id: &'static str) -> Operation {
    components(
        Operation::new(method, DETAIL_PATH, id)
            .tags(TAGS)
            .param(crate::openapi::organization_id()),
    )
}

pub fn list() -> Operation {
    components(
        Operation::new(Method::GET, LIST_PATH, "organizations_list")
            .describe(
                "The caller's organizations (narrowed by the key's organization restriction).",
            )
            .tags(TAGS)
            .limit_offset()
            .returns(200, s::component(PAGE)),
    )
}

pub fn create() -> Operation {
    components(
        Operation::new(Method::POST, LIST_PATH, "organizations_create")
            .describe("A new organization with its first project; the caller becomes its owner.")
            .tags(TAGS)
            .body(s::component(DETAIL))
            .returns(201, s::component(DETAIL)),
    )
}

pub fn retrieve() -> Operation {
    detail(Method::GET, "organizations_retrieve").returns(200, s::component(DETAIL))
}

pub fn update() -> Operation {
    detail(Method::PUT, "organizations_update")
        .describe("Admins and owners; a partial body is accepted, as with PATCH.")
        .body(s::component(PATCHED))
        .returns(200, s::component(DETAIL))
}

pub fn partial_update() -> Operation {
    detail(Method::PATCH, "organizations_partial_update")
        .describe("Admins and owners.")
        .body(s::component(PATCHED))
        .returns(200, s::component(DETAIL))
}

pub fn destroy() -> Operation {
    detail(Method::DELETE, "organizations_destroy")
        .describe("Owners only: the organization with its projects and memberships.")
        .returns_nothing(204)
}
