//! A personal API key as the API shows it (never its secret).

use serde_json::{json, Value};

use crate::time;

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

impl PersonalApiKey {
    /// `PersonalAPIKeySerializer`'s shape; `value` only right after a roll.
    pub fn to_json(&self, value: Option<&str>) -> Value {
        let scopes = match list(&self.scopes) {
            Value::Array(a) if !a.is_empty() => Value::Array(a),
            _ => json!(["*"]),
        };
        json!({
            "id": self.id,
            "label": self.label,
            "value": value,
            "mask_value": self.mask_value,
            "created_at": time::format(self.created_at),
            "last_used_at": time::format_opt(self.last_used_at),
            "user_id": self.user_id,
            "scopes": scopes,
            "scoped_teams": list(&self.scoped_teams),
            "scoped_organizations": list(&self.scoped_organizations),
            "last_rolled_at": time::format_opt(self.last_rolled_at),
        })
    }
}
