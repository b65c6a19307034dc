//! The log as the API shows it: PostHog's `PaginatedActivityLogList`, whose
//! bytes and component both come from these types.

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::time::Timestamp;

// Who made a change, as the log shows them.
#[derive(Serialize, ToSchema)]
pub struct Actor {
    pub(super) first_name: String,
    #[schema(required = true)]
    pub(super) email: Option<String>,
    // Only on the system's own entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool, required = false)]
    pub(super) is_system: Option<bool>,
}

// What an entry says of its change (the stored detail, but its `context`).
#[derive(Serialize, ToSchema)]
pub struct EntryDetail {
    #[schema(schema_with = changes_schema, required = false)]
    pub(super) changes: Value,
    #[schema(value_type = Value, required = false)]
    pub(super) trigger: Value,
    #[schema(value_type = Option<String>, required = false)]
    pub(super) name: Value,
    #[schema(value_type = Option<String>, required = false)]
    pub(super) short_id: Value,
    #[serde(rename = "type")]
    #[schema(value_type = Option<String>, required = false)]
    pub(super) kind: Value,
}

// One entry of the log.
#[derive(Serialize, ToSchema)]
pub struct LogEntry {
    #[schema(required = false)]
    pub(super) id: String,
    #[schema(inline, required = false)]
    pub(super) user: Actor,
    #[schema(required = false)]
    pub(super) activity: String,
    #[schema(required = false)]
    pub(super) scope: String,
    #[schema(required = false)]
    pub(super) item_id: Option<String>,
    #[schema(inline, required = false)]
    pub(super) detail: EntryDetail,
    #[schema(value_type = String, format = DateTime, required = false)]
    pub(super) created_at: Timestamp,
}

// PostHog's page of the log (page numbers, not offsets).
#[derive(Serialize, ToSchema)]
#[schema(as = PaginatedActivityLogList)]
pub struct LogPage {
    #[schema(inline)]
    pub results: Vec<LogEntry>,
    #[schema(format = "uri", required = true)]
    pub next: Option<String>,
    #[schema(format = "uri", required = true)]
    pub previous: Option<String>,
    #[schema(schema_with = crate::openapi::schema::integer)]
    pub total_count: i64,
}

fn changes_schema() -> utoipa::openapi::schema::ArrayBuilder {
    crate::openapi::schema::nullable_array(crate::openapi::schema::free_object())
}
