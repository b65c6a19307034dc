//! What the API document says about the organization's OAuth applications:
//! PostHog's operation id and component names, with the seven keys the list
//! shows (`model::OrganizationOAuthApplication`).

use axum::http::Method;
use utoipa::ToSchema;

use super::model::OrganizationOAuthApplication;
use super::LIST_PATH;
use crate::openapi::schema as s;
use crate::openapi::Operation;

pub const PAGE: &str = "PaginatedOrganizationOAuthApplicationList";

pub fn list() -> Operation {
    Operation::new(Method::GET, LIST_PATH, "oauth_applications_list")
        .describe("The organization's OAuth applications (read-only).")
        .tags(&["core", "oauth_applications"])
        .param(crate::openapi::organization_id())
        .limit_offset()
        .returns(200, s::component(PAGE))
        .component_of::<OrganizationOAuthApplication>()
        .component(PAGE, || {
            crate::openapi::paginated(&OrganizationOAuthApplication::name())
        })
}
