//! The log's rows: one written per change, in the change's transaction;
//! pages of one item's entries.

use sea_query::{Alias, Expr, ExprTrait, InsertStatement, JoinType, Order, Query, Value};

use super::model::{Actor, EntryDetail, LogEntry};
use super::Entry;
use crate::storage::schema::{ActivityLog as A, Users as U};
use crate::storage::{DbError, DbResult, Prebuilt, Tx};
use crate::time::Timestamp;

pub async fn record(tx: &mut Tx, e: Entry<'_>, now: i64) -> DbResult<()> {
    let row: Row = [
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
    ];
    tx.execute_prebuilt(&RECORD, &row).await?;
    Ok(())
}

/// An entry's values, in [`COLUMNS`] order.
type Row = [Value; 10];

const COLUMNS: [A; 10] = [
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
];

/// [`record`]'s statement (every change writes one or two): its text is
/// rendered once.
static RECORD: Prebuilt<Row, InsertStatement> = Prebuilt::new(record_statement, |row| row.to_vec());

fn record_statement(row: &Row) -> InsertStatement {
    let mut stmt = Query::insert();
    stmt.into_table(A::Table)
        .columns(COLUMNS)
        .values_panic(row.iter().cloned().map(Expr::from));
    stmt
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
            let pick = |k: &str| stored.get(k).cloned().unwrap_or(serde_json::Value::Null);
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
    use sea_query::Value;

    use super::RECORD;

    #[test]
    fn the_record_statement_binds_what_its_values_say() {
        RECORD.check(&[
            "id".into(),
            "org".into(),
            Some(3_i64).into(),
            None::<i64>.into(),
            true.into(),
            "updated".into(),
            "3".into(),
            "Team".into(),
            "{}".into(),
            7_i64.into(),
        ]);
        let none: [Value; 10] = std::array::from_fn(|_| None::<String>.into());
        RECORD.check(&none);
    }
}
