//! Personal API key rows, as the API shows them (never their secret), and
//! the operator's revoke and roll. Authentication reads the stored digest on
//! every request, so a revoked or rolled key fails from its next request on,
//! on every process.

use sea_query::{Expr, ExprTrait, Order, Query};
use serde_json::{json, Value};

use crate::auth::keys;
use crate::storage::schema::PersonalApiKeys as K;
use crate::storage::{DbResult, RowRead, Tx};
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

const COLUMNS: [K; 10] = [
    K::Id,
    K::UserId,
    K::Label,
    K::MaskValue,
    K::CreatedAt,
    K::LastUsedAt,
    K::LastRolledAt,
    K::Scopes,
    K::ScopedOrganizations,
    K::ScopedTeams,
];

fn from_row(r: &dyn RowRead) -> DbResult<PersonalApiKey> {
    Ok(PersonalApiKey {
        id: r.string(0)?,
        user_id: r.i64(1)?,
        label: r.string(2)?,
        mask_value: r.opt_string(3)?,
        created_at: r.i64(4)?,
        last_used_at: r.opt_i64(5)?,
        last_rolled_at: r.opt_i64(6)?,
        scopes: r.opt_string(7)?,
        scoped_organizations: r.opt_string(8)?,
        scoped_teams: r.opt_string(9)?,
    })
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

/// One key of the user (the user filter is the tenant boundary).
pub async fn find(tx: &mut Tx, user_id: i64, id: &str) -> DbResult<Option<PersonalApiKey>> {
    let stmt = Query::select()
        .columns(COLUMNS)
        .from(K::Table)
        .and_where(Expr::col(K::UserId).eq(user_id))
        .and_where(Expr::col(K::Id).eq(id))
        .to_owned();
    tx.query_opt(&stmt, from_row).await
}

/// Any key by id, for the operator.
pub async fn find_any(tx: &mut Tx, id: &str) -> DbResult<Option<PersonalApiKey>> {
    let stmt = Query::select()
        .columns(COLUMNS)
        .from(K::Table)
        .and_where(Expr::col(K::Id).eq(id))
        .to_owned();
    tx.query_opt(&stmt, from_row).await
}

/// The user's keys, newest first (PostHog's order).
pub async fn of_user(tx: &mut Tx, user_id: i64) -> DbResult<Vec<PersonalApiKey>> {
    let stmt = Query::select()
        .columns(COLUMNS)
        .from(K::Table)
        .and_where(Expr::col(K::UserId).eq(user_id))
        .order_by(K::CreatedAt, Order::Desc)
        .order_by(K::Id, Order::Desc)
        .to_owned();
    tx.query(&stmt, from_row).await
}

pub async fn delete(tx: &mut Tx, id: &str) -> DbResult<()> {
    let stmt = Query::delete()
        .from_table(K::Table)
        .and_where(Expr::col(K::Id).eq(id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// Gives the key a new secret; returns it (the only time it is shown).
pub async fn roll(tx: &mut Tx, key: &mut PersonalApiKey, now: i64) -> DbResult<String> {
    let value = keys::new_personal_api_key();
    let mask = keys::mask(&value);
    let stmt = Query::update()
        .table(K::Table)
        .value(K::SecureValue, keys::secure_value(&value))
        .value(K::MaskValue, mask.as_str())
        .value(K::LastRolledAt, now)
        .and_where(Expr::col(K::Id).eq(key.id.as_str()))
        .to_owned();
    tx.execute(&stmt).await?;
    key.mask_value = Some(mask);
    key.last_rolled_at = Some(now);
    Ok(value)
}
