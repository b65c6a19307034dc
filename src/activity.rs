//! The activity log: what changed, who changed it, when. Entries are written
//! in the same transaction as the change they describe.

use sea_query::{Alias, Expr, ExprTrait, JoinType, Order, Query};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::storage::schema::{ActivityLog as A, Users as U};
use crate::storage::{DbError, DbResult, Tx};
use crate::time::Timestamp;

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

pub async fn record(tx: &mut Tx, e: Entry<'_>, now: i64) -> DbResult<()> {
    let stmt = Query::insert()
        .into_table(A::Table)
        .columns([
            A::Id,
            A::OrganizationId,
            A::TeamId,
            A::UserId,
            A::IsSystem,
            A::Activity,
            A::ItemId,
            A::Scope,
            A::Detail,
            A::CreatedAt,
        ])
        .values_panic([
            uuid::Uuid::now_v7().to_string().into(),
            e.organization_id.into(),
            e.team_id.into(),
            e.user_id.into(),
            e.user_id.is_none().into(),
            e.activity.into(),
            e.item_id.into(),
            e.scope.into(),
            e.detail.to_string().into(),
            now.into(),
        ])
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

// Who made a change, as the log shows them.
#[derive(Serialize, ToSchema)]
pub struct Actor {
    first_name: String,
    #[schema(required = true)]
    email: Option<String>,
    // Only on the system's own entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = bool, required = false)]
    is_system: Option<bool>,
}

// What an entry says of its change (the stored detail, but its `context`).
#[derive(Serialize, ToSchema)]
pub struct EntryDetail {
    #[schema(schema_with = changes_schema, required = false)]
    changes: Value,
    #[schema(value_type = Value, required = false)]
    trigger: Value,
    #[schema(value_type = Option<String>, required = false)]
    name: Value,
    #[schema(value_type = Option<String>, required = false)]
    short_id: Value,
    #[serde(rename = "type")]
    #[schema(value_type = Option<String>, required = false)]
    kind: Value,
}

// One entry of the log.
#[derive(Serialize, ToSchema)]
pub struct LogEntry {
    #[schema(required = false)]
    id: String,
    #[schema(inline, required = false)]
    user: Actor,
    #[schema(required = false)]
    activity: String,
    #[schema(required = false)]
    scope: String,
    #[schema(required = false)]
    item_id: Option<String>,
    #[schema(inline, required = false)]
    detail: EntryDetail,
    #[schema(value_type = String, format = DateTime, required = false)]
    created_at: Timestamp,
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

/// A page of one item's entries, newest first, and how many there are.
pub async fn page(
    tx: &mut Tx,
    organization_id: &str,
    team_id: i64,
    scope: &str,
    item_id: &str,
    limit: i64,
    offset: i64,
) -> DbResult<(Vec<LogEntry>, i64)> {
    let filter = Expr::col((A::Table, A::OrganizationId))
        .eq(organization_id)
        .and(Expr::col((A::Table, A::TeamId)).eq(team_id))
        .and(Expr::col((A::Table, A::Scope)).eq(scope))
        .and(Expr::col((A::Table, A::ItemId)).eq(item_id));
    let count = Query::select()
        .expr_as(Expr::col((A::Table, A::Id)).count(), Alias::new("n"))
        .from(A::Table)
        .and_where(filter.clone())
        .to_owned();
    let total = tx
        .query_opt(&count, |r| r.i64(0))
        .await?
        .ok_or_else(|| DbError::Other("count returned no row".into()))?;
    let rows = Query::select()
        .columns([
            (A::Table, A::Id),
            (A::Table, A::Activity),
            (A::Table, A::Scope),
            (A::Table, A::ItemId),
            (A::Table, A::Detail),
            (A::Table, A::CreatedAt),
            (A::Table, A::IsSystem),
        ])
        .columns([(U::Table, U::FirstName), (U::Table, U::Email)])
        .from(A::Table)
        .join(
            JoinType::LeftJoin,
            U::Table,
            Expr::col((U::Table, U::Id)).equals((A::Table, A::UserId)),
        )
        .and_where(filter)
        .order_by((A::Table, A::CreatedAt), Order::Desc)
        .order_by((A::Table, A::Id), Order::Desc)
        .limit(limit as u64)
        .offset(offset as u64)
        .to_owned();
    let entries = tx
        .query(&rows, |r| {
            let system = r.opt_bool(6)?.unwrap_or(false);
            let user = if system {
                Actor {
                    first_name: "System".into(),
                    email: None,
                    is_system: Some(true),
                }
            } else {
                Actor {
                    first_name: r.opt_string(7)?.unwrap_or_default(),
                    email: r.opt_string(8)?,
                    is_system: None,
                }
            };
            let stored = r.json(4)?;
            let pick = |k: &str| stored.get(k).cloned().unwrap_or(Value::Null);
            Ok(LogEntry {
                id: r.string(0)?,
                user,
                activity: r.string(1)?,
                scope: r.string(2)?,
                item_id: r.opt_string(3)?,
                detail: EntryDetail {
                    changes: pick("changes"),
                    trigger: pick("trigger"),
                    name: pick("name"),
                    short_id: pick("short_id"),
                    kind: pick("type"),
                },
                created_at: Timestamp(r.i64(5)?),
            })
        })
        .await?;
    Ok((entries, total))
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
