//! What the API document says about `/api/organizations/`: PostHog's
//! operation ids and component names, with the shapes `model::full_json`
//! renders (the organization) and the project list item it embeds.

use axum::http::Method;
use utoipa::openapi::schema::ObjectBuilder;

use super::{DETAIL_PATH, LIST_PATH};
use crate::openapi::schema::{self as s, Kind};
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
        .component(PATCHED, patched_schema())
        .component(PAGE, crate::openapi::paginated(DETAIL))
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

/// `{1, 8, 15}` or null: PostHog's nullable `EffectiveMembershipLevelEnum`.
pub fn membership_level() -> ObjectBuilder {
    s::nullable(Kind::Integer)
        .enum_values(Some([Some(1), Some(8), Some(15), None]))
        .description(Some(
            "* `1` - member\n* `8` - administrator\n* `15` - owner",
        ))
        .read_only(Some(true))
}

/// The PATCH/PUT body (`PatchedOrganization`: nothing required). The
/// organization itself, also the POST body, is `model::Full`.
pub fn patched_schema() -> ObjectBuilder {
    use Kind::{Boolean, String};
    let read_only = |b: ObjectBuilder| b.read_only(Some(true));
    let project = s::of(Kind::Object)
        .property("id", s::integer())
        .property("organization_id", s::uuid())
        .property("name", s::string())
        .required("id")
        .required("organization_id")
        .required("name");
    let metadata = s::of(Kind::Object)
        .property("instance_tag", s::string())
        .additional_properties(Some(s::any()));
    s::of(Kind::Object)
        .property("id", read_only(s::uuid()))
        .property("name", s::string().min_length(Some(1)).max_length(Some(64)))
        .property("slug", read_only(s::string()))
        .property(
            "logo_media_id",
            s::nullable(String).format(Some(s::format("uuid"))),
        )
        .property("created_at", read_only(s::date_time()))
        .property("updated_at", read_only(s::date_time()))
        .property("membership_level", membership_level())
        .property(
            "plugins_access_level",
            read_only(s::choice(Kind::Integer, [0, 3, 6, 9]).description(Some(
                "* `0` - none\n* `3` - config\n* `6` - install\n* `9` - root",
            ))),
        )
        .property(
            "teams",
            s::read_only_array(s::array(s::component(TEAM_BASIC))),
        )
        .property("projects", s::read_only_array(s::array(project)))
        .property(
            "available_product_features",
            s::read_only_array(s::array(s::any())),
        )
        .property("is_member_join_email_enabled", s::boolean())
        .property("metadata", read_only(metadata))
        .property("customer_id", read_only(s::nullable(String)))
        .property("enforce_2fa", s::nullable(Boolean))
        .property("members_can_invite", s::nullable(Boolean))
        .property("members_can_create_projects", s::boolean())
        .property("members_can_use_personal_api_keys", s::boolean())
        .property("allow_publicly_shared_resources", s::boolean())
        .property("member_count", read_only(s::integer()))
        .property("is_ai_data_processing_approved", s::nullable(Boolean))
        .property(
            "default_experiment_stats_method",
            s::nullable(String)
                .enum_values(Some([
                    Some("bayesian"),
                    Some("frequentist"),
                    Some(""),
                    None,
                ]))
                .description(Some(
                    "* `bayesian` - Bayesian\n* `frequentist` - Frequentist",
                )),
        )
        .property("default_anonymize_ips", s::boolean())
        .property(
            "default_role_id",
            s::nullable(String).description(Some(
                "ID of the role to automatically assign to new members joining the organization",
            )),
        )
        .property("is_ai_training_locked", read_only(s::boolean()))
        .property("is_hipaa", read_only(s::boolean()))
        .property("is_active", read_only(s::boolean()))
        .property("is_not_active_reason", read_only(s::nullable(String)))
        .property("is_pending_deletion", read_only(s::boolean()))
}
