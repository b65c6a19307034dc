//! What the API document says about the organization's OAuth applications:
//! PostHog's operation id and component names, with the seven keys the list
//! shows (`model::OAuthApplication::to_json`).

use axum::http::Method;
use utoipa::openapi::schema::ObjectBuilder;

use super::LIST_PATH;
use crate::openapi::schema::{self as s, Kind};
use crate::openapi::Operation;

pub const ITEM: &str = "OrganizationOAuthApplication";
pub const PAGE: &str = "PaginatedOrganizationOAuthApplicationList";

pub fn list() -> Operation {
    Operation::new(Method::GET, LIST_PATH, "oauth_applications_list")
        .describe("The organization's OAuth applications (read-only).")
        .tags(&["core", "oauth_applications"])
        .param(crate::openapi::organization_id())
        .limit_offset()
        .returns(200, s::component(PAGE))
        .component(ITEM, item_schema())
        .component(PAGE, crate::openapi::paginated(ITEM))
}

fn item_schema() -> ObjectBuilder {
    let read_only = |b: ObjectBuilder| b.read_only(Some(true));
    s::of(Kind::Object)
        .property("id", read_only(s::uuid()))
        .property("name", s::string().max_length(Some(255)))
        .property("client_id", s::string().max_length(Some(100)))
        .property(
            "redirect_uris_list",
            s::read_only_array(s::array(s::string())),
        )
        .property(
            "is_verified",
            s::boolean().description(Some(
                "True if this application has been verified by PostHog",
            )),
        )
        .property("created", read_only(s::date_time()))
        .property("updated", read_only(s::date_time()))
        // Every key is always present in the payload.
        .required("id")
        .required("name")
        .required("client_id")
        .required("redirect_uris_list")
        .required("is_verified")
        .required("created")
        .required("updated")
}
