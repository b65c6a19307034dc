//! What the API document says about `/api/users/@me/`: PostHog's operation
//! ids and `User` component, with the shape `model::me_json` gives and the
//! fields `payload::validate` and the switches read.

use axum::http::Method;
use utoipa::openapi::schema::{ObjectBuilder, SchemaType};

use super::payload::ROLES;
use super::PATH;
use crate::openapi::schema::{self as s, Kind};
use crate::openapi::Operation;
use crate::organizations::openapi as organizations;

const TAGS: &[&str] = &["core", "users"];

pub const DETAIL: &str = "User";
pub const PATCHED: &str = "PatchedUser";
pub const ORGANIZATION_BASIC: &str = "OrganizationBasic";

fn op(method: Method, id: &'static str) -> Operation {
    let op = Operation::new(method, PATH, id)
        .tags(TAGS)
        .path_param(
            "uuid",
            s::string(),
            Some("`@me`: the caller, the only user a personal API key may address."),
        )
        .returns(200, s::component(DETAIL))
        .component_of::<super::model::Me>()
        .component(PATCHED, patched_schema())
        .component_of::<crate::organizations::model::Basic>();
    organizations::components(op)
}

pub fn retrieve() -> Operation {
    op(Method::GET, "users_retrieve")
        .describe("Who the key belongs to, with their current organization and project.")
}

pub fn update() -> Operation {
    op(Method::PUT, "users_update")
        .describe("A partial body is accepted, as with PATCH.")
        .body(s::component(PATCHED))
}

pub fn partial_update() -> Operation {
    op(Method::PATCH, "users_partial_update")
        .describe("The caller's profile, and their current organization and project.")
        .body(s::component(PATCHED))
}

/// The PATCH/PUT body (`PatchedUser`: nothing required). The user itself is `model::Me`.
pub fn patched_schema() -> ObjectBuilder {
    use Kind::{Boolean, Object, String};
    let read_only = |b: ObjectBuilder| b.read_only(Some(true));
    let write_only = |b: ObjectBuilder| b.write_only(Some(true));
    let name = || s::string().max_length(Some(150));
    let nullable_choice = |values: &[&'static str], description: &'static str| {
        let mut all: Vec<Option<&str>> = values.iter().map(|v| Some(*v)).collect();
        all.extend([Some(""), None]);
        s::nullable(String)
            .enum_values(Some(all))
            .description(Some(description))
    };
    let notification_settings = s::of(Object)
        .property("plugin_disabled", s::boolean())
        .property("error_tracking_issue_assigned", s::boolean())
        .property("discussions_mentioned", s::boolean())
        .property(
            "project_weekly_digest_disabled",
            s::of(Object).additional_properties(Some(s::boolean())),
        )
        .property("all_weekly_digest_disabled", s::boolean())
        .description(Some(
            "Only these keys; a PATCH merges the given ones into the stored settings.",
        ));
    let b = s::of(Object)
        .property("date_joined", read_only(s::date_time()))
        .property("uuid", read_only(s::uuid()))
        .property("distinct_id", read_only(s::nullable(String)))
        .property("first_name", name())
        .property("last_name", name())
        .property(
            "email",
            s::string().description(Some(
                "Only the current address is accepted from a personal API key (403 otherwise).",
            )),
        )
        .property("pending_email", read_only(s::nullable(String)))
        .property("is_email_verified", read_only(s::nullable(Boolean)))
        .property("notification_settings", notification_settings)
        .property("anonymize_data", s::nullable(Boolean))
        .property(
            "toolbar_mode",
            nullable_choice(
                &["disabled", "toolbar"],
                "* `disabled` - disabled\n* `toolbar` - toolbar",
            ),
        )
        .property("has_password", read_only(s::boolean()))
        .property("id", read_only(s::integer()))
        .property(
            "is_staff",
            s::boolean().description(Some(
                "Always false here; setting it answers 403.",
            )),
        )
        .property("is_impersonated", read_only(s::nullable(Boolean)))
        .property("is_impersonated_until", read_only(s::nullable(String)))
        .property(
            "sensitive_session_expires_at",
            read_only(s::nullable(String)),
        )
        .property(
            "team",
            s::nullable_component(organizations::TEAM_BASIC),
        )
        .property(
            "organization",
            s::nullable_component(organizations::DETAIL),
        )
        .property(
            "organizations",
            s::read_only_array(s::array(s::component(ORGANIZATION_BASIC))),
        )
        .property("events_column_config", s::any())
        .property("is_2fa_enabled", read_only(s::boolean()))
        .property("has_social_auth", read_only(s::boolean()))
        .property("has_sso_enforcement", read_only(s::boolean()))
        .property("has_seen_product_intro_for", s::any())
        .property("scene_personalisation", s::read_only_array(s::array(s::any())))
        .property(
            "theme_mode",
            nullable_choice(
                &["light", "dark", "system"],
                "* `light` - Light\n* `dark` - Dark\n* `system` - System",
            ),
        )
        .property("hedgehog_config", s::any())
        .property(
            "role_at_organization",
            s::nullable(String).description(Some(format!(
                "A PATCH takes one of: {}.",
                ROLES.join(", ")
            ))),
        )
        .property(
            "is_organization_first_user",
            read_only(s::boolean()),
        )
        .property(
            "pending_invites",
            s::read_only_array(s::array(s::free_object())),
        )
        .property(
            "set_current_organization",
            write_only(s::string().description(Some(
                "Makes this organization of the caller's current (and its first project, \
                 unless `set_current_team` names one).",
            ))),
        )
        .property(
            "set_current_team",
            write_only(
                ObjectBuilder::new()
                    .schema_type(SchemaType::Array(vec![String, Kind::Integer]))
                    .description(Some(
                        "Makes this project (its id) and its organization the caller's current ones.",
                    )),
            ),
        )
        .property(
            "password",
            write_only(s::string().description(Some(
                "Not changeable with a personal API key (403).",
            ))),
        );
    b
}
