//! The activity log: what changed, who changed it, when. Entries are written
//! in the same transaction as the change they describe (`store::record`);
//! the log's page is `model::LogPage`.

mod model;
mod store;

pub use model::{LogEntry, LogPage};
pub use store::{page, record};

use serde_json::{json, Value};

/// One field's change, PostHog's `{type, action, field, before, after}`.
pub fn change(kind: &str, field: &str, before: &Value, after: &Value) -> Option<Value> {
    let action = match (before.is_null(), after.is_null()) {
        _ if before == after => return None,
        (true, false) => "created",
        (false, true) => "deleted",
        _ => "changed",
    };
    Some(json!({"type": kind, "action": action, "field": field, "before": before, "after": after}))
}

/// The stored detail; `context` is kept but never shown by the activity endpoint.
pub fn detail(name: &str, changes: Option<Vec<Value>>) -> Value {
    json!({"changes": changes, "trigger": null, "name": name, "short_id": null, "type": null})
}

pub struct Entry<'a> {
    pub organization_id: &'a str,
    pub team_id: Option<i64>,
    pub user_id: Option<i64>,
    pub activity: &'a str,
    pub scope: &'a str,
    pub item_id: String,
    pub detail: Value,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn change_actions() {
        let n = Value::Null;
        assert_eq!(
            change("Team", "f", &n, &json!(1)).unwrap()["action"],
            "created"
        );
        assert_eq!(
            change("Team", "f", &json!(1), &n).unwrap()["action"],
            "deleted"
        );
        assert_eq!(
            change("Team", "f", &json!(1), &json!(2)).unwrap()["action"],
            "changed"
        );
        assert!(change("Team", "f", &json!("x"), &json!("x")).is_none());
        assert!(change("Team", "f", &n, &n).is_none());
        // PostHog's dict diff treats an emptied object as deleted.
        assert_eq!(
            change("Team", "f", &json!({}), &n).unwrap()["action"],
            "deleted"
        );
    }
}
