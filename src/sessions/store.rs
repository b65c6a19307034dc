//! Every statement sessions and logins run: sessions by their token's
//! digest (with their user, in one joined query), the account a login
//! names, and the failed logins the lockout counts.

use sea_query::{Expr, ExprTrait, Query};

use crate::storage::schema::{LoginFailures as F, Sessions as S, Users as U};
use crate::storage::{DbResult, Tx};
use crate::users::{self, User};

/// A stored session with its user.
pub struct Found {
    pub user: User,
    pub csrf_token: String,
    pub created_at: i64,
    pub last_seen_at: i64,
}

pub async fn find(tx: &mut Tx, digest: &str) -> DbResult<Option<Found>> {
    let stmt = Query::select()
        .columns([
            (S::Table, S::CsrfToken),
            (S::Table, S::CreatedAt),
            (S::Table, S::LastSeenAt),
        ])
        .columns(users::COLUMNS.map(|c| (U::Table, c)))
        .from(S::Table)
        .inner_join(
            U::Table,
            Expr::col((U::Table, U::Id)).equals((S::Table, S::UserId)),
        )
        .and_where(Expr::col((S::Table, S::Digest)).eq(digest))
        .to_owned();
    tx.query_opt(&stmt, |r| {
        Ok(Found {
            csrf_token: r.string(0)?,
            created_at: r.i64(1)?,
            last_seen_at: r.i64(2)?,
            user: User::from_row(r, 3)?,
        })
    })
    .await
}

pub struct NewSession<'a> {
    pub digest: &'a str,
    pub user_id: i64,
    pub csrf_token: &'a str,
}

pub async fn insert(tx: &mut Tx, new: &NewSession<'_>, now: i64) -> DbResult<()> {
    let stmt = Query::insert()
        .into_table(S::Table)
        .columns([
            S::Digest,
            S::UserId,
            S::CsrfToken,
            S::CreatedAt,
            S::LastSeenAt,
        ])
        .values_panic([
            new.digest.into(),
            new.user_id.into(),
            new.csrf_token.into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// The session was used: its idle lifetime starts again.
pub async fn touch(tx: &mut Tx, digest: &str, now: i64) -> DbResult<()> {
    let stmt = Query::update()
        .table(S::Table)
        .value(S::LastSeenAt, now)
        .and_where(Expr::col(S::Digest).eq(digest))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, digest: &str) -> DbResult<()> {
    let stmt = Query::delete()
        .from_table(S::Table)
        .and_where(Expr::col(S::Digest).eq(digest))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// Ends every session of a user but `keep` (a password change signs the
/// other browsers out, as Django's `update_session_auth_hash` does).
pub async fn delete_others(tx: &mut Tx, user_id: i64, keep: Option<&str>) -> DbResult<()> {
    let mut stmt = Query::delete()
        .from_table(S::Table)
        .and_where(Expr::col(S::UserId).eq(user_id))
        .to_owned();
    if let Some(keep) = keep {
        stmt.and_where(Expr::col(S::Digest).ne(keep));
    }
    tx.execute(&stmt).await?;
    Ok(())
}

/// A user's sessions that ended (unused since `idle_before`, or made
/// before `made_before`), removed when the user logs in again.
pub async fn delete_ended(
    tx: &mut Tx,
    user_id: i64,
    idle_before: i64,
    made_before: i64,
) -> DbResult<()> {
    let stmt = Query::delete()
        .from_table(S::Table)
        .and_where(Expr::col(S::UserId).eq(user_id))
        .and_where(
            Expr::col(S::LastSeenAt)
                .lt(idle_before)
                .or(Expr::col(S::CreatedAt).lt(made_before)),
        )
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// What a login needs of an account.
pub struct Account {
    pub user: User,
    /// The stored hash; `None` for an account that has none.
    pub password: Option<String>,
}

pub async fn account_by_email(tx: &mut Tx, email: &str) -> DbResult<Option<Account>> {
    let stmt = Query::select()
        .columns(users::COLUMNS)
        .column(U::Password)
        .from(U::Table)
        .and_where(Expr::col(U::EmailKey).eq(users::email_key(email)))
        .to_owned();
    tx.query_opt(&stmt, |r| {
        Ok(Account {
            user: User::from_row(r, 0)?,
            password: r.opt_string(users::COLUMNS.len())?,
        })
    })
    .await
}

/// The stored hash of a user's password.
pub async fn password_of(tx: &mut Tx, user_id: i64) -> DbResult<Option<String>> {
    let stmt = Query::select()
        .column(U::Password)
        .from(U::Table)
        .and_where(Expr::col(U::Id).eq(user_id))
        .to_owned();
    Ok(tx.query_opt(&stmt, |r| r.opt_string(0)).await?.flatten())
}

pub async fn set_password(tx: &mut Tx, user_id: i64, hash: &str) -> DbResult<()> {
    let stmt = Query::update()
        .table(U::Table)
        .value(U::Password, hash)
        .and_where(Expr::col(U::Id).eq(user_id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// `last_login`: no grant changes with it, so no cache is emptied.
pub async fn set_last_login(tx: &mut Tx, user_id: i64, now: i64) -> DbResult<()> {
    let stmt = Query::update()
        .table(U::Table)
        .value(U::LastLogin, now)
        .and_where(Expr::col(U::Id).eq(user_id))
        .to_owned();
    tx.execute_outside_grants(&stmt).await?;
    Ok(())
}

/// Failed logins since `since`: for the email, and from the address.
pub async fn failures_since(
    tx: &mut Tx,
    email_key: &str,
    address: Option<&str>,
    since: i64,
) -> DbResult<(i64, i64)> {
    let count = |column: F, value: &str| {
        Query::select()
            .expr(Expr::col(F::Id).count())
            .from(F::Table)
            .and_where(Expr::col(column).eq(value))
            .and_where(Expr::col(F::At).gte(since))
            .to_owned()
    };
    let by_email = tx
        .query_opt(&count(F::EmailKey, email_key), |r| r.i64(0))
        .await?
        .unwrap_or(0);
    let by_address = match address {
        Some(a) => tx
            .query_opt(&count(F::Address, a), |r| r.i64(0))
            .await?
            .unwrap_or(0),
        None => 0,
    };
    Ok((by_email, by_address))
}

/// One failed login; failures older than `prune_before` (outside every
/// window) are removed in passing, so the table holds one window's worth.
pub async fn record_failure(
    tx: &mut Tx,
    email_key: &str,
    address: Option<&str>,
    now: i64,
    prune_before: i64,
) -> DbResult<()> {
    let prune = Query::delete()
        .from_table(F::Table)
        .and_where(Expr::col(F::At).lt(prune_before))
        .to_owned();
    tx.execute(&prune).await?;
    let insert = Query::insert()
        .into_table(F::Table)
        .columns([F::EmailKey, F::Address, F::At])
        .values_panic([
            email_key.into(),
            address.map(str::to_owned).into(),
            now.into(),
        ])
        .to_owned();
    tx.execute(&insert).await?;
    Ok(())
}
