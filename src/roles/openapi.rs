//! What the API document says about the roles routes: PostHog's operation
//! ids (from its router names) and component names (`Role`, `PatchedRole`,
//! `RoleMembership`, their pages).

use axum::http::Method;
use utoipa::openapi::schema::{ObjectBuilder, Schema};
use utoipa::openapi::RefOr;

use super::model::{ShownHolder, ShownRole};
use super::{DETAIL_PATH, HOLDERS_PATH, HOLDER_PATH, LIST_PATH};
use crate::members::model::OrganizationMember;
use crate::openapi::schema as s;
use crate::openapi::Operation;
use crate::organizations::Level;
use crate::users::model::UserBasic;

const TAGS: &[&str] = &["roles"];

pub const ROLE: &str = "Role";
pub const PATCHED: &str = "PatchedRole";
pub const PAGE: &str = "PaginatedRoleList";
pub const ROLE_MEMBERSHIP: &str = "RoleMembership";
pub const HOLDER_PAGE: &str = "PaginatedRoleMembershipList";
/// `UserBasic`'s component, by name, for the body declaration.
pub const USER_BASIC: &str = "UserBasic";

/// The components every roles route may refer to.
fn components(op: Operation) -> Operation {
    op.component_of::<ShownRole>()
        .component(PATCHED, patched_schema)
        .component(PAGE, || crate::openapi::paginated(ROLE))
        .component(ROLE_MEMBERSHIP, holder_schema)
        .component(HOLDER_PAGE, || crate::openapi::paginated(ROLE_MEMBERSHIP))
        .component_of::<OrganizationMember>()
        .component_of::<UserBasic>()
        .component_of::<Level>()
}

fn org(method: Method, path: &'static str, id: &'static str) -> Operation {
    components(
        Operation::new(method, path, id)
            .tags(TAGS)
            .param(crate::openapi::organization_id()),
    )
}

fn role(method: Method, id: &'static str) -> Operation {
    org(method, DETAIL_PATH, id).path_param(
        "id",
        s::uuid(),
        Some("A UUID string identifying this role."),
    )
}

fn holders(method: Method, path: &'static str, id: &'static str) -> Operation {
    org(method, path, id).path_param("role_id", s::uuid(), Some("The role's id."))
}

fn holder(method: Method, id: &'static str) -> Operation {
    holders(method, HOLDER_PATH, id).path_param(
        "id",
        s::uuid(),
        Some("A UUID string identifying this role membership."),
    )
}

pub fn list() -> Operation {
    org(Method::GET, LIST_PATH, "roles_list")
        .describe("The organization's roles, oldest first, each with who holds it.")
        .limit_offset()
        .returns(200, s::component(PAGE))
}

pub fn create() -> Operation {
    org(Method::POST, LIST_PATH, "roles_create")
        .describe("Creates a role (admins and owners); names are unique in the organization, whatever their case.")
        .body(s::component(ROLE))
        .returns(201, s::component(ROLE))
}

pub fn retrieve() -> Operation {
    role(Method::GET, "roles_retrieve").returns(200, s::component(ROLE))
}

pub fn update() -> Operation {
    role(Method::PUT, "roles_update")
        .describe("Renames a role (admins and owners); `name` is required.")
        .body(s::component(ROLE))
        .returns(200, s::component(ROLE))
}

pub fn partial_update() -> Operation {
    role(Method::PATCH, "roles_partial_update")
        .describe("Renames a role (admins and owners).")
        .body(s::component(PATCHED))
        .returns(200, s::component(ROLE))
}

pub fn destroy() -> Operation {
    role(Method::DELETE, "roles_destroy")
        .describe(
            "Deletes a role (admins and owners), with its memberships and its project \
             access rules; the organization's default role is cleared if it was this one.",
        )
        .returns_nothing(204)
}

pub fn holders_list() -> Operation {
    holders(Method::GET, HOLDERS_PATH, "roles_role_memberships_list")
        .describe(
            "Who holds the role, earliest first. A role of another organization lists \
             an empty page.",
        )
        .limit_offset()
        .returns(200, s::component(HOLDER_PAGE))
}

pub fn holders_create() -> Operation {
    holders(Method::POST, HOLDERS_PATH, "roles_role_memberships_create")
        .describe("Adds an active member of the organization to the role (admins and owners).")
        .body(s::component(ROLE_MEMBERSHIP))
        .returns(201, s::component(ROLE_MEMBERSHIP))
}

pub fn holder_retrieve() -> Operation {
    holder(Method::GET, "roles_role_memberships_retrieve")
        .returns(200, s::component(ROLE_MEMBERSHIP))
}

pub fn holder_destroy() -> Operation {
    holder(Method::DELETE, "roles_role_memberships_destroy")
        .describe("Removes a member from the role (admins and owners).")
        .returns_nothing(204)
}

/// The PATCH body, from the declaration: nothing required.
fn patched_schema() -> ObjectBuilder {
    super::payload::ROLE.schema(true)
}

/// The role membership as every response shows it, also the create body:
/// with the write-only `user_uuid` the body requires (`payload::HOLDER`),
/// which no response carries, so the component cannot list it as required.
fn holder_schema() -> RefOr<Schema> {
    let body = &super::payload::HOLDER;
    body.fields
        .iter()
        .filter_map(|f| Some((f.name, body.property(f.name)?)))
        .fold(s::object_of::<ShownHolder>(), |b, (name, schema)| {
            b.property(name, schema)
        })
        .into()
}

#[cfg(test)]
mod tests {
    use utoipa::ToSchema;

    /// The body declarations name the components the types declare.
    #[test]
    fn names_are_the_types_names() {
        assert_eq!(crate::users::model::UserBasic::name(), super::USER_BASIC);
        assert_eq!(super::ShownRole::name(), super::ROLE);
        assert_eq!(super::ShownHolder::name(), super::ROLE_MEMBERSHIP);
    }
}
