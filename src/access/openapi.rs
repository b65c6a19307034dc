//! What the API document says about the access-control routes. PostHog
//! leaves them out of its schema (`extend_schema(exclude=True)`), so the
//! operation ids are prickle's, in PostHog's style: the root mount plain,
//! the organization mount with `_2`.

use axum::http::Method;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::ToSchema;

use super::model::{AccessControl, AccessControls, UserWithAccess, UsersWithAccess};
use super::{ORG_PATH, ORG_USERS_PATH, ROOT_PATH, ROOT_USERS_PATH};
use crate::openapi::schema as s;
use crate::openapi::Operation;

const TAGS: &[&str] = &["access_control"];
pub const BODY: &str = "AccessControlRequest";

fn on_project(method: Method, path: &'static str, id: &'static str, root: bool) -> Operation {
    let op = Operation::new(method, path, id).tags(TAGS);
    let op = if root {
        op
    } else {
        op.param(crate::openapi::organization_id())
    };
    op.path_param(
        "id",
        s::integer().format(Some(s::format("int64"))),
        Some("A unique value identifying this project (or `@current`)."),
    )
}

fn retrieve_on(path: &'static str, id: &'static str, root: bool) -> Operation {
    on_project(Method::GET, path, id, root)
        .describe(
            "The project's access rules (default, member and role rules) and the \
             caller's own level on it. Any member who can see the project may read them.",
        )
        .returns(200, s::component(&AccessControls::name()))
        .component_of::<AccessControls>()
        .component_of::<AccessControl>()
}

fn update_on(path: &'static str, id: &'static str, root: bool) -> Operation {
    on_project(Method::PUT, path, id, root)
        .describe(
            "Creates, changes or (with `access_level: null`, 204) deletes the rule of one \
             subject: a member (`organization_member`), a role (`role`), or, with \
             neither, the project's default rule. Organization admins and project \
             admins only.",
        )
        .body(s::component(BODY))
        .component(BODY, body_schema)
        .returns(200, s::component(&AccessControl::name()))
        .returns_nothing(204)
        .component_of::<AccessControl>()
}

fn users_on(path: &'static str, id: &'static str, root: bool) -> Operation {
    on_project(Method::GET, path, id, root)
        .describe(
            "Every active member of the organization who can see the project, with \
             their level and where it comes from; highest level first.",
        )
        .returns(200, s::component(&UsersWithAccess::name()))
        .component_of::<UsersWithAccess>()
        .component_of::<UserWithAccess>()
}

fn body_schema() -> ObjectBuilder {
    super::payload::RULE.schema(false)
}

pub fn retrieve() -> Operation {
    retrieve_on(ROOT_PATH, "access_controls_retrieve", true)
}

pub fn update() -> Operation {
    update_on(ROOT_PATH, "access_controls_update", true)
}

pub fn users_with_access() -> Operation {
    users_on(ROOT_USERS_PATH, "users_with_access_retrieve", true)
}

pub fn retrieve_2() -> Operation {
    retrieve_on(ORG_PATH, "access_controls_retrieve_2", false)
}

pub fn update_2() -> Operation {
    update_on(ORG_PATH, "access_controls_update_2", false)
}

pub fn users_with_access_2() -> Operation {
    users_on(ORG_USERS_PATH, "users_with_access_retrieve_2", false)
}
