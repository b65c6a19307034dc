//! What the API document says about the projects routes: PostHog's
//! operation ids and component names, and the project's schemas built from
//! the field list (`model::detail_fields`) and the settings declarations
//! (`settings::SETTINGS`), so a new field or setting cannot be left out.

use axum::http::Method;
use utoipa::openapi::schema::{ObjectBuilder, Schema};
use utoipa::openapi::RefOr;

use super::model::{Basic, Detail};
use super::settings::{self, Setting};
use super::timezones::TIMEZONES;
use super::{ACTIVITY_PATH, DETAIL_PATH, LIST_PATH};
use crate::openapi::schema::{self as s, Kind};
use crate::openapi::Operation;

const TAGS: &[&str] = &["core", "projects"];
const DESCRIPTION: &str = "Projects for the current organization.";

pub const DETAIL: &str = "ProjectBackwardCompat";
pub const PATCHED: &str = "PatchedProjectBackwardCompat";
pub const BASIC: &str = "ProjectBackwardCompatBasic";
pub const PAGE: &str = "PaginatedProjectBackwardCompatBasicList";
pub const ACTIVITY_PAGE: &str = "PaginatedActivityLogList";

/// The components the project routes (both mounts) refer to.
pub fn components(op: Operation) -> Operation {
    op.component_of::<Detail>()
        .component(PATCHED, || detail_schema(false))
        .component_of::<Basic>()
        .component(PAGE, || crate::openapi::paginated(BASIC))
        .component_of::<crate::activity::LogPage>()
        .component("TimezoneEnum", || {
            s::choice(Kind::String, TIMEZONES.iter().copied())
        })
        .component("WeekStartDayEnum", || s::choice(Kind::Integer, [0, 1]))
        .component("BusinessModelEnum", || {
            s::choice(Kind::String, ["b2b", "b2c", "other"])
        })
        .component("SessionRecordingRetentionPeriodEnum", || {
            s::choice(Kind::String, ["30d", "90d", "1y", "5y"])
        })
        .component("BlankEnum", || s::choice(Kind::String, [""]))
}

fn detail(method: Method, id: &'static str) -> Operation {
    components(
        Operation::new(method, DETAIL_PATH, id)
            .describe(DESCRIPTION)
            .tags(TAGS)
            .param(crate::openapi::organization_id())
            .path_param(
                "id",
                project_id(),
                Some("A unique value identifying this project."),
            ),
    )
}

pub fn list() -> Operation {
    components(
        Operation::new(Method::GET, LIST_PATH, "list_2")
            .describe(DESCRIPTION)
            .tags(TAGS)
            .param(crate::openapi::organization_id())
            .limit_offset()
            .query("search", s::string(), "A search term.")
            .returns(200, s::component(PAGE)),
    )
}

pub fn create() -> Operation {
    components(
        Operation::new(Method::POST, LIST_PATH, "create_2")
            .describe(DESCRIPTION)
            .tags(TAGS)
            .param(crate::openapi::organization_id())
            .body(s::component(DETAIL))
            .returns(201, s::component(DETAIL))
            .error(409),
    )
}

pub fn retrieve() -> Operation {
    detail(Method::GET, "retrieve_2").returns(200, s::component(DETAIL))
}

pub fn update() -> Operation {
    detail(Method::PUT, "update_2")
        .body(s::component(DETAIL))
        .returns(200, s::component(DETAIL))
        .error(409)
}

pub fn partial_update() -> Operation {
    detail(Method::PATCH, "partial_update_2")
        .body(s::component(PATCHED))
        .returns(200, s::component(DETAIL))
        .error(409)
}

pub fn destroy() -> Operation {
    detail(Method::DELETE, "destroy_2").returns_nothing(204)
}

pub fn activity_log() -> Operation {
    components(
        Operation::new(Method::GET, ACTIVITY_PATH, "activity_retrieve")
            .describe("The project's activity log, newest first.")
            .tags(TAGS)
            .param(crate::openapi::organization_id())
            .path_param(
                "id",
                project_id(),
                Some("A unique value identifying this project."),
            )
            .returns(200, s::component(ACTIVITY_PAGE)),
    )
    .page_number()
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

/// The project detail (`model::Detail`), also the POST/PUT body (`full`: the
/// fields the server sets required, as PostHog's schema has them) or the
/// PATCH body (nothing required), from the fields' declarations.
pub fn detail_schema(full: bool) -> ObjectBuilder {
    let mut b = s::of(Kind::Object);
    for name in super::model::detail_fields() {
        let (schema, read_only) = super::model::field_schema(name);
        b = b.property(name, schema);
        if full && read_only {
            b = b.required(name);
        }
    }
    b
}
