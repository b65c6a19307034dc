//! A personal API key as the API shows it (never its secret).

use serde::Serialize;
use serde_json::{json, Value};
use utoipa::openapi::schema::{ArrayBuilder, ObjectBuilder};
use utoipa::ToSchema;

use crate::openapi::schema::{self as s, Kind};
use crate::time::Timestamp;

#[derive(Clone, Debug)]
pub struct PersonalApiKey {
    pub id: String,
    pub user_id: i64,
    pub label: String,
    pub mask_value: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub last_rolled_at: Option<i64>,
    /// The stored JSON lists, as stored.
    pub scopes: Option<String>,
    pub scoped_organizations: Option<String>,
    pub scoped_teams: Option<String>,
}

/// A stored JSON list, or null when absent or unreadable.
fn list(text: &Option<String>) -> Value {
    text.as_deref()
        .and_then(|s| serde_json::from_str::<Value>(s).ok())
        .filter(Value::is_array)
        .unwrap_or(Value::Null)
}

// PostHog's `PersonalAPIKeySerializer`: `value` only right after a roll.
#[derive(Serialize, ToSchema)]
#[schema(as = PersonalAPIKey)]
pub struct Shown<'a> {
    #[schema(read_only)]
    id: &'a str,
    #[schema(max_length = 40)]
    label: &'a str,
    #[schema(schema_with = value_schema, required = true)]
    value: Option<&'a str>,
    #[schema(value_type = Option<String>, read_only, required = true)]
    mask_value: Option<&'a str>,
    #[schema(value_type = String, format = DateTime, read_only)]
    created_at: Timestamp,
    #[schema(value_type = Option<String>, format = DateTime, read_only, required = true)]
    last_used_at: Option<Timestamp>,
    #[schema(schema_with = read_only_integer)]
    user_id: i64,
    #[schema(schema_with = scopes_schema)]
    scopes: Value,
    #[schema(schema_with = teams_schema, required = true)]
    scoped_teams: Value,
    #[schema(schema_with = organizations_schema, required = true)]
    scoped_organizations: Value,
    #[schema(value_type = Option<String>, format = DateTime, read_only, required = true)]
    last_rolled_at: Option<Timestamp>,
}

fn value_schema() -> ObjectBuilder {
    s::nullable(Kind::String)
        .description(Some(
            "The secret: shown once when the key is made or rolled, null here.",
        ))
        .read_only(Some(true))
}

fn read_only_integer() -> ObjectBuilder {
    s::integer().read_only(Some(true))
}

fn scopes_schema() -> ArrayBuilder {
    s::array(s::string()).description(Some("`[\"*\"]`: every scope."))
}

fn teams_schema() -> ArrayBuilder {
    s::nullable_array(s::integer())
}

fn organizations_schema() -> ArrayBuilder {
    s::nullable_array(s::string())
}

impl PersonalApiKey {
    /// The key as the API shows it; `value` only right after a roll.
    pub fn shown<'a>(&'a self, value: Option<&'a str>) -> Shown<'a> {
        let scopes = match list(&self.scopes) {
            Value::Array(a) if !a.is_empty() => Value::Array(a),
            _ => json!(["*"]),
        };
        Shown {
            id: &self.id,
            label: &self.label,
            value,
            mask_value: self.mask_value.as_deref(),
            created_at: Timestamp(self.created_at),
            last_used_at: self.last_used_at.map(Timestamp),
            user_id: self.user_id,
            scopes,
            scoped_teams: list(&self.scoped_teams),
            scoped_organizations: list(&self.scoped_organizations),
            last_rolled_at: self.last_rolled_at.map(Timestamp),
        }
    }

    /// The same, as a JSON value (the admin commands print it).
    pub fn to_json(&self, value: Option<&str>) -> Value {
        serde_json::to_value(self.shown(value)).unwrap_or_default()
    }
}
