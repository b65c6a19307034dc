//! What the API document says about the projects routes: PostHog's
//! operation ids and component names, and the project's schemas built from
//! the field list (`model::detail_fields`) and the settings declarations
//! (`settings::SETTINGS`), so a new field or setting cannot be left out.

use axum::http::Method;
use utoipa::openapi::schema::{ObjectBuilder, Schema};
use utoipa::openapi::RefOr;

use super::settings::{self, Setting};
use super::setup_tasks::SETUP_TASK_IDS;
use super::timezones::TIMEZONES;
use super::{ACTIVITY_PATH, DETAIL_PATH, LIST_PATH};
use crate::openapi::schema::{self as s, Kind};
use crate::openapi::{ApiDocs, Operation};

const TAGS: &[&str] = &["core", "projects"];
const DESCRIPTION: &str = "Projects for the current organization.";

pub const DETAIL: &str = "ProjectBackwardCompat";
pub const PATCHED: &str = "PatchedProjectBackwardCompat";
pub const BASIC: &str = "ProjectBackwardCompatBasic";
pub const PAGE: &str = "PaginatedProjectBackwardCompatBasicList";
pub const ACTIVITY_PAGE: &str = "PaginatedActivityLogList";

pub fn docs(d: ApiDocs) -> ApiDocs {
    let detail = |method, id| {
        Operation::new(method, DETAIL_PATH, id)
            .describe(DESCRIPTION)
            .tags(TAGS)
            .param(crate::openapi::organization_id())
            .path_param(
                "id",
                project_id(),
                Some("A unique value identifying this project."),
            )
    };
    d.operation(
        Operation::new(Method::GET, LIST_PATH, "list_2")
            .describe(DESCRIPTION)
            .tags(TAGS)
            .param(crate::openapi::organization_id())
            .limit_offset()
            .query("search", s::string(), "A search term.")
            .returns(200, s::component(PAGE)),
    )
    .operation(
        Operation::new(Method::POST, LIST_PATH, "create_2")
            .describe(DESCRIPTION)
            .tags(TAGS)
            .param(crate::openapi::organization_id())
            .body(s::component(DETAIL))
            .returns(201, s::component(DETAIL))
            .error(409),
    )
    .operation(detail(Method::GET, "retrieve_2").returns(200, s::component(DETAIL)))
    .operation(
        detail(Method::PUT, "update_2")
            .body(s::component(DETAIL))
            .returns(200, s::component(DETAIL))
            .error(409),
    )
    .operation(
        detail(Method::PATCH, "partial_update_2")
            .body(s::component(PATCHED))
            .returns(200, s::component(DETAIL))
            .error(409),
    )
    .operation(detail(Method::DELETE, "destroy_2").returns_nothing(204))
    .operation(
        Operation::new(Method::GET, ACTIVITY_PATH, "activity_retrieve")
            .describe("The project's activity log, newest first.")
            .tags(TAGS)
            .param(crate::openapi::organization_id())
            .path_param(
                "id",
                project_id(),
                Some("A unique value identifying this project."),
            )
            .query(
                "page",
                s::integer().minimum(Some(1)),
                "A page number within the paginated result set.",
            )
            .query(
                "limit",
                s::integer().minimum(Some(1)),
                "Number of results to return per page.",
            )
            .returns(200, s::component(ACTIVITY_PAGE)),
    )
    .schema(DETAIL, detail_schema(true))
    .schema(PATCHED, detail_schema(false))
    .schema(BASIC, basic_schema())
    .schema(PAGE, crate::openapi::paginated(BASIC))
    .schema(ACTIVITY_PAGE, activity_page_schema())
    .schema(
        "TimezoneEnum",
        s::choice(Kind::String, TIMEZONES.iter().copied()),
    )
    .schema("WeekStartDayEnum", s::choice(Kind::Integer, [0, 1]))
    .schema(
        "BusinessModelEnum",
        s::choice(Kind::String, ["b2b", "b2c", "other"]),
    )
    .schema(
        "SessionRecordingRetentionPeriodEnum",
        s::choice(Kind::String, ["30d", "90d", "1y", "5y"]),
    )
    .schema(
        "AvailableSetupTaskIdsEnum",
        s::choice(Kind::String, SETUP_TASK_IDS.iter().copied()),
    )
    .schema("BlankEnum", s::choice(Kind::String, [""]))
}

/// A project id: PostHog documents an integer (prickle also takes `@current`).
fn project_id() -> ObjectBuilder {
    s::integer().format(Some(s::format("int64")))
}

/// The schema of one setting, built from its declaration
/// (`settings::SETTINGS`): type, nullability, bounds and description.
pub fn setting_schema(setting: &Setting) -> RefOr<Schema> {
    declared(&setting.schema, Some(setting.description))
}

/// A declared schema as OpenAPI 3.1 (`null` among the types when nullable).
fn declared(schema: &settings::schema::Schema, description: Option<&str>) -> RefOr<Schema> {
    use settings::schema::{Choices, Type as T};
    let nullable = schema.nullable;
    let kind = |k: Kind| if nullable { s::nullable(k) } else { s::of(k) };
    let value = match schema.ty {
        T::Any => s::any(),
        T::Boolean => kind(Kind::Boolean),
        T::String { max_length } => kind(Kind::String).max_length(max_length.map(|n| n as usize)),
        T::Decimal {
            max_digits,
            decimal_places,
        } => {
            let whole = max_digits.saturating_sub(decimal_places);
            kind(Kind::String)
                .format(Some(s::format("decimal")))
                .pattern(Some(format!(
                    r"^-?\d{{0,{whole}}}(?:\.\d{{0,{decimal_places}}})?$"
                )))
        }
        T::Integer { minimum, maximum } => kind(Kind::Integer)
            .minimum(minimum.map(|n| n as f64))
            .maximum(maximum.map(|n| n as f64)),
        T::ForeignKey { .. } => kind(Kind::Integer),
        T::Enum(choices) => {
            let (k, mut values): (Kind, Vec<serde_json::Value>) = match choices {
                Choices::Strings(v) => (Kind::String, v.iter().map(|x| (*x).into()).collect()),
                Choices::Integers(v) => (Kind::Integer, v.iter().map(|x| (*x).into()).collect()),
            };
            if nullable {
                values.push(serde_json::Value::Null);
            }
            kind(k).enum_values(Some(values))
        }
        T::Array(items) => {
            let items = declared(items, None);
            let list = if nullable {
                s::nullable_array(items)
            } else {
                s::array(items)
            };
            return list.description(description).into();
        }
    };
    value.description(description).into()
}

/// The schema of a field of the detail that is not a setting; `None` for settings.
fn field_schema(name: &str) -> Option<RefOr<Schema>> {
    use Kind::{Object, String};
    // The writable fields, from their declaration.
    if let Some(schema) = super::payload::PROJECT.property(name) {
        return Some(schema);
    }
    let read_only = |b: ObjectBuilder| b.read_only(Some(true)).into();
    Some(match name {
        "id" => read_only(s::integer()),
        "organization" | "uuid" => read_only(s::uuid()),
        "created_at" | "updated_at" => read_only(s::date_time()),
        // PostHog: a nullable EffectiveMembershipLevelEnum (1, 8, 15); inline, to carry readOnly.
        "effective_membership_level" => read_only(
            s::nullable(Kind::Integer)
                .enum_values(Some([Some(1), Some(8), Some(15), None]))
                .description(Some(
                    "* `1` - member\n* `8` - administrator\n* `15` - owner",
                )),
        ),
        "has_group_types" | "ingested_event" | "person_on_events_querying_enabled" => {
            read_only(s::boolean())
        }
        "group_types" => s::read_only_array(s::array(s::free_object())),
        "product_intents" => s::read_only_array(s::array(s::any())),
        "live_events_token" | "secret_api_token" | "secret_api_token_backup" => {
            read_only(s::nullable(String))
        }
        "api_token" => read_only(s::string()),
        "default_modifiers" => read_only(s::of(Object).additional_properties(Some(s::any()))),
        "available_setup_task_ids" => {
            s::read_only_array(s::array(s::component("AvailableSetupTaskIdsEnum")))
        }
        _ => return None,
    })
}

/// The fields the server sets, which PostHog's schema lists as required
/// (read-only, so clients never send them; the others are optional in a body).
pub const READ_ONLY: [&str; 17] = [
    "api_token",
    "available_setup_task_ids",
    "created_at",
    "default_modifiers",
    "effective_membership_level",
    "group_types",
    "has_group_types",
    "id",
    "ingested_event",
    "live_events_token",
    "organization",
    "person_on_events_querying_enabled",
    "product_intents",
    "secret_api_token",
    "secret_api_token_backup",
    "updated_at",
    "uuid",
];

/// The project detail, also the POST/PUT body (`full`: the read-only fields
/// required, as PostHog's schema has them) or the PATCH body (nothing required).
pub fn detail_schema(full: bool) -> ObjectBuilder {
    let mut b = s::of(Kind::Object);
    for name in super::model::detail_fields() {
        let schema = match (field_schema(name), settings::find(name)) {
            (Some(schema), _) => schema,
            (None, Some(setting)) => setting_schema(setting),
            (None, None) => s::any().into(),
        };
        b = b.property(name, schema);
        if full && READ_ONLY.contains(&name) {
            b = b.required(name);
        }
    }
    b
}

/// A project in a list.
pub fn basic_schema() -> ObjectBuilder {
    let detail = |name: &str| match settings::find(name) {
        Some(setting) => setting_schema(setting),
        None => field_schema(name).unwrap_or_else(|| s::any().into()),
    };
    let mut b = s::of(Kind::Object);
    for name in [
        "id",
        "uuid",
        "organization",
        "api_token",
        "name",
        "completed_snippet_onboarding",
        "has_completed_onboarding_for",
        "ingested_event",
        "is_demo",
        "timezone",
        "access_control",
    ] {
        b = b.property(name, detail(name)).required(name);
    }
    b
}

/// An entry of the activity log, and PostHog's page of them.
fn activity_page_schema() -> ObjectBuilder {
    let user = s::of(Kind::Object)
        .property("first_name", s::string())
        .property("email", s::nullable(Kind::String))
        .property("is_system", s::boolean())
        .required("first_name")
        .required("email");
    let detail = s::of(Kind::Object)
        .property("changes", s::nullable_array(s::free_object()))
        .property("trigger", s::any())
        .property("name", s::nullable(Kind::String))
        .property("short_id", s::nullable(Kind::String))
        .property("type", s::nullable(Kind::String));
    let entry = s::of(Kind::Object)
        .property("id", s::string())
        .property("user", user)
        .property("activity", s::string())
        .property("scope", s::string())
        .property("item_id", s::nullable(Kind::String))
        .property("detail", detail)
        .property("created_at", s::date_time());
    s::of(Kind::Object)
        .property("results", s::array(entry))
        .property("next", s::nullable_uri())
        .property("previous", s::nullable_uri())
        .property("total_count", s::integer())
        .required("results")
        .required("next")
        .required("previous")
        .required("total_count")
}
