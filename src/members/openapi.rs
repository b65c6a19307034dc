//! What the API document says about the members routes: PostHog's operation
//! ids and component names, with the shapes prickle really answers
//! (`model::write_member`, the `scoped_api_keys` object) where PostHog's
//! schema says otherwise (decisions.md: real payloads win).

use axum::http::Method;
use utoipa::openapi::schema::ObjectBuilder;

use super::{DETAIL_PATH, KEYS_PATH, LIST_PATH, MAX_SEARCH_CHARS};
use crate::openapi::schema::{self as s, Kind};
use crate::openapi::Operation;

const TAGS: &[&str] = &["core", "members"];

pub const MEMBER: &str = "OrganizationMember";
pub const PATCHED: &str = "PatchedOrganizationMember";
pub const PAGE: &str = "PaginatedOrganizationMemberList";
pub const KEYS: &str = "OrganizationMemberScopedApiKeys";
/// Shared with the invites (`created_by`) and sign-up documents.
pub const USER_BASIC: &str = "UserBasic";
pub const LEVEL: &str = "OrganizationMembershipLevel";

/// The components the members routes refer to.
fn components(op: Operation) -> Operation {
    op.component(MEMBER, member_schema(true))
        .component(PATCHED, member_schema(false))
        .component(PAGE, crate::openapi::paginated(MEMBER))
        .component(KEYS, keys_schema())
        .component(USER_BASIC, user_basic_schema())
        .component(LEVEL, level_schema())
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
            .body(s::component(MEMBER))
            .returns(200, s::component(MEMBER)),
    )
}

pub fn partial_update() -> Operation {
    components(
        member(Method::PATCH, "members_partial_update")
            .describe("Changes a member's level.")
            .body(s::component(PATCHED))
            .returns(200, s::component(MEMBER)),
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
            .returns(200, s::component(KEYS)),
    )
}

/// PostHog's membership levels.
pub fn level_schema() -> ObjectBuilder {
    s::choice(Kind::Integer, [1, 8, 15]).description(Some(
        "* `1` - member\n* `8` - administrator\n* `15` - owner",
    ))
}

/// `User::basic_json`. `role_at_organization` is a free string: the sign-up
/// body stores any (as PostHog's sign-up serializer does), not only the roles
/// the profile accepts; `email` carries no format, as addresses are checked
/// by Django's `EmailValidator` (`drf::is_valid_email`).
pub fn user_basic_schema() -> ObjectBuilder {
    let read_only = |b: ObjectBuilder| b.read_only(Some(true));
    s::of(Kind::Object)
        .property("id", read_only(s::integer()))
        .property("uuid", read_only(s::uuid()))
        .property(
            "distinct_id",
            s::nullable(Kind::String).max_length(Some(200)),
        )
        .property("first_name", s::string().max_length(Some(150)))
        .property("last_name", s::string().max_length(Some(150)))
        .property("email", s::string().max_length(Some(254)))
        .property("is_email_verified", s::nullable(Kind::Boolean))
        .property(
            "hedgehog_config",
            read_only(s::nullable(Kind::Object).additional_properties(Some(s::any()))),
        )
        .property("role_at_organization", s::nullable(Kind::String))
        .required("id")
        .required("uuid")
        .required("email")
        .required("hedgehog_config")
}

/// The member (`model::write_member`); `full`: the fields the server sets
/// are required, as PostHog lists them (the PUT body and every response),
/// else nothing is (the PATCH body). Only `level` is writable.
fn member_schema(full: bool) -> ObjectBuilder {
    super::payload::MEMBER.schema(!full)
}

/// The real `scoped_api_keys` answer (PostHog's schema names the member here).
fn keys_schema() -> ObjectBuilder {
    let key = s::of(Kind::Object)
        .property("name", s::string())
        .property(
            "last_used_at",
            s::nullable(Kind::String).format(Some(s::format("date-time"))),
        )
        .required("name")
        .required("last_used_at");
    s::of(Kind::Object)
        .property("has_keys", s::boolean())
        .property("has_keys_active_last_week", s::boolean())
        .property("keys", s::array(key))
        .required("has_keys")
        .required("has_keys_active_last_week")
        .required("keys")
}
