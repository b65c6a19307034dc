//! Personal API key rows, and the operator's create, revoke and roll.
//! Authentication reads the stored digest on every request, so a revoked or
//! rolled key fails from its next request on, on every process.

use sea_query::{Expr, ExprTrait, Order, Query};

use super::model::PersonalApiKey;
use crate::auth::keys;
use crate::storage::schema::PersonalApiKeys as K;
use crate::storage::{DbResult, RowRead, Tx};

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

/// How many keys the user has.
pub async fn count_of_user(tx: &mut Tx, user_id: i64) -> DbResult<i64> {
    let stmt = Query::select()
        .expr(Expr::col(K::Id).count())
        .from(K::Table)
        .and_where(Expr::col(K::UserId).eq(user_id))
        .to_owned();
    Ok(tx.query_opt(&stmt, |r| r.i64(0)).await?.unwrap_or(0))
}

/// Stores a new key: its row and the digest of its secret (`secure_value`).
pub async fn insert(tx: &mut Tx, key: &PersonalApiKey, secure_value: &str) -> DbResult<()> {
    let stmt = Query::insert()
        .into_table(K::Table)
        .columns([
            K::Id,
            K::UserId,
            K::Label,
            K::MaskValue,
            K::SecureValue,
            K::CreatedAt,
            K::Scopes,
            K::ScopedOrganizations,
            K::ScopedTeams,
        ])
        .values_panic([
            key.id.clone().into(),
            key.user_id.into(),
            key.label.clone().into(),
            key.mask_value.clone().into(),
            secure_value.into(),
            key.created_at.into(),
            key.scopes.clone().into(),
            key.scoped_organizations.clone().into(),
            key.scoped_teams.clone().into(),
        ])
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// Saves a key's label, scopes and restrictions (as `key` holds them).
pub async fn update(tx: &mut Tx, key: &PersonalApiKey) -> DbResult<()> {
    let stmt = Query::update()
        .table(K::Table)
        .value(K::Label, key.label.as_str())
        .value(K::Scopes, key.scopes.clone())
        .value(K::ScopedOrganizations, key.scoped_organizations.clone())
        .value(K::ScopedTeams, key.scoped_teams.clone())
        .and_where(Expr::col(K::Id).eq(key.id.as_str()))
        .and_where(Expr::col(K::UserId).eq(key.user_id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}
