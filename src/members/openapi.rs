//! What the API document says about the members routes: PostHog's operation
//! ids and component names, with the shapes prickle really answers (the
//! types of `model`) where PostHog's schema says otherwise (decisions.md:
//! real payloads win).

use axum::http::Method;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::ToSchema;

use super::model::{OrganizationMember, ScopedApiKeys};
use super::{DETAIL_PATH, KEYS_PATH, LIST_PATH, MAX_SEARCH_CHARS};
use crate::openapi::schema as s;
use crate::openapi::Operation;

const TAGS: &[&str] = &["core", "members"];

pub const PATCHED: &str = "PatchedOrganizationMember";
pub const PAGE: &str = "PaginatedOrganizationMemberList";
/// The components of `UserBasic` and `Level`, by name, for the request
/// declarations that refer to them (`payload::Field::component`).
pub const USER_BASIC: &str = "UserBasic";
pub const LEVEL: &str = "OrganizationMembershipLevel";

/// The components the members routes refer to.
fn components(op: Operation) -> Operation {
    op.component_of::<OrganizationMember>()
        .component(PATCHED, patched_schema)
        .component(PAGE, || {
            crate::openapi::paginated(&OrganizationMember::name())
        })
        .component_of::<ScopedApiKeys>()
}

fn member(method: Method, id: &'static str) -> Operation {
    Operation::new(method, DETAIL_PATH, id)
        .tags(TAGS)
        .param(crate::openapi::organization_id())
        .path_param(
            "user__uuid",
            s::uuid(),
            Some("The member's user uuid, or `@me` for the caller."),
        )
}

pub fn list() -> Operation {
    components(
        Operation::new(Method::GET, LIST_PATH, "members_list")
            .describe("The organization's members, newest first.")
            .tags(TAGS)
            .param(crate::openapi::organization_id())
            .limit_offset()
            .query("email", s::string(), "Only the member with this email.")
            .query(
                "updated_after",
                s::string(),
                "Only members updated after this date-time (ISO 8601; a bare date is midnight UTC).",
            )
            .query(
                "search",
                s::string().max_length(Some(MAX_SEARCH_CHARS)),
                "Members whose name or email matches; each result then carries `search_match_type`.",
            )
            .query(
                "order",
                s::string(),
                "`joined_at` for oldest first; anything else is `-joined_at`, newest first.",
            )
            .returns(200, s::component(PAGE)),
    )
}

pub fn update() -> Operation {
    components(
        member(Method::PUT, "members_update")
            .describe("Changes a member's level (a partial body, as PATCH).")
            .body(s::component(&OrganizationMember::name()))
            .returns(200, s::component(&OrganizationMember::name())),
    )
}

pub fn partial_update() -> Operation {
    components(
        member(Method::PATCH, "members_partial_update")
            .describe("Changes a member's level.")
            .body(s::component(PATCHED))
            .returns(200, s::component(&OrganizationMember::name())),
    )
}

pub fn destroy() -> Operation {
    member(Method::DELETE, "members_destroy")
        .describe("Removes a member, or lets the caller (`@me`) leave.")
        .returns_nothing(204)
        // An owner may not leave.
        .error(400)
}

pub fn scoped_api_keys() -> Operation {
    components(
        Operation::new(Method::GET, KEYS_PATH, "members_scoped_api_keys_retrieve")
            .describe(
                "The member's personal API keys that can reach this organization: \
                 labels and last use, never values.",
            )
            .tags(TAGS)
            .param(crate::openapi::organization_id())
            .path_param(
                "user__uuid",
                s::uuid(),
                Some("The member's user uuid, or `@me` for the caller."),
            )
            .returns(200, s::component(&ScopedApiKeys::name())),
    )
}

/// The PATCH body, from the request's declaration: the member's fields,
/// none required; only `level` is writable.
fn patched_schema() -> ObjectBuilder {
    super::payload::MEMBER.schema(true)
}

#[cfg(test)]
mod tests {
    use utoipa::ToSchema;

    /// The request declarations name the components the types declare.
    #[test]
    fn names_are_the_types_names() {
        assert_eq!(crate::users::model::UserBasic::name(), super::USER_BASIC);
        assert_eq!(crate::organizations::Level::name(), super::LEVEL);
    }
}
