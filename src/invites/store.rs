//! Invite queries. Every one takes the organization: tenant filtering lives
//! here, so no handler can forget it.

use std::collections::HashSet;

use sea_query::{Alias, Expr, ExprTrait, JoinType, Order, Query, SelectStatement};
use serde_json::Value;

use super::model::{access_from_json, Invite};
use crate::organizations::Level;
use crate::storage::schema::{
    OrganizationInvites as I, OrganizationMemberships as M, Projects as P, Users as U,
};
use crate::storage::{DbError, DbResult, RowRead, Tx};
use crate::users::{self, User};

const COLUMNS: [I; 11] = [
    I::Id,
    I::OrganizationId,
    I::TargetEmail,
    I::FirstName,
    I::EmailingAttemptMade,
    I::Level,
    I::Message,
    I::PrivateProjectAccess,
    I::CreatedAt,
    I::UpdatedAt,
    I::CreatedById,
];

/// Invites with their creator (left-joined: a deleted creator is null).
fn select() -> SelectStatement {
    let mut stmt = Query::select();
    stmt.columns(COLUMNS.map(|c| (I::Table, c)))
        .columns(users::COLUMNS.map(|c| (U::Table, c)))
        .from(I::Table)
        .join(
            JoinType::LeftJoin,
            U::Table,
            Expr::col((U::Table, U::Id)).equals((I::Table, I::CreatedById)),
        );
    stmt
}

fn from_row(r: &dyn RowRead) -> DbResult<Invite> {
    let access = r.json(7)?;
    let created_by = match r.opt_i64(COLUMNS.len())? {
        Some(_) => Some(User::from_row(r, COLUMNS.len())?),
        None => None,
    };
    Ok(Invite {
        id: r.string(0)?,
        organization_id: r.string(1)?,
        target_email: r.string(2)?,
        first_name: r.string(3)?,
        emailing_attempt_made: r.bool(4)?,
        level: Level::from_i64(r.i64(5)?).unwrap_or(Level::Member),
        message: r.opt_string(6)?,
        private_project_access: access_from_json(&access),
        created_at: r.i64(8)?,
        updated_at: r.i64(9)?,
        created_by,
        signup_url: None,
    })
}

fn in_org(org_id: &str) -> SelectStatement {
    let mut stmt = select();
    stmt.and_where(Expr::col((I::Table, I::OrganizationId)).eq(org_id));
    stmt
}

/// Newest first, as PostHog orders them; expired invites included.
pub async fn list(tx: &mut Tx, org_id: &str, limit: i64, offset: i64) -> DbResult<Vec<Invite>> {
    let mut stmt = in_org(org_id);
    stmt.order_by((I::Table, I::CreatedAt), Order::Desc)
        .order_by((I::Table, I::Id), Order::Desc)
        .limit(limit as u64)
        .offset(offset as u64);
    tx.query(&stmt, from_row).await
}

pub async fn count(tx: &mut Tx, org_id: &str) -> DbResult<i64> {
    let stmt = Query::select()
        .expr_as(Expr::col(I::Id).count(), Alias::new("n"))
        .from(I::Table)
        .and_where(Expr::col(I::OrganizationId).eq(org_id))
        .to_owned();
    tx.query_opt(&stmt, |r| r.i64(0))
        .await?
        .ok_or_else(|| DbError::Other("count returned no row".into()))
}

pub async fn find(tx: &mut Tx, org_id: &str, id: &str) -> DbResult<Option<Invite>> {
    let mut stmt = in_org(org_id);
    stmt.and_where(Expr::col((I::Table, I::Id)).eq(id));
    tx.query_opt(&stmt, from_row).await
}

/// An invite by its id alone, with its sign-up token's digest (NULL for
/// invites from before tokens): the sign-up routes know no organization; the
/// id names the invite and the token proves the caller received it.
pub async fn find_for_signup(tx: &mut Tx, id: &str) -> DbResult<Option<(Invite, Option<String>)>> {
    let mut stmt = select();
    stmt.column((I::Table, I::SignupTokenDigest))
        .and_where(Expr::col((I::Table, I::Id)).eq(id));
    let digest_at = COLUMNS.len() + users::COLUMNS.len();
    tx.query_opt(&stmt, |r| Ok((from_row(r)?, r.opt_string(digest_at)?)))
        .await
}

/// Replaces an invite's sign-up token digest (`prickle admin invite-link`,
/// an operator's lookup by id alone); false when there is no such invite.
pub async fn set_signup_token_digest(
    tx: &mut Tx,
    id: &str,
    digest: &str,
    now: i64,
) -> DbResult<bool> {
    let stmt = Query::update()
        .table(I::Table)
        .value(I::SignupTokenDigest, digest)
        .value(I::UpdatedAt, now)
        .and_where(Expr::col(I::Id).eq(id))
        .to_owned();
    Ok(tx.execute(&stmt).await? > 0)
}

/// The invites for one email still valid at `valid_since`, newest first.
pub async fn pending_for(
    tx: &mut Tx,
    org_id: &str,
    email: &str,
    valid_since: i64,
) -> DbResult<Vec<Invite>> {
    let mut stmt = in_org(org_id);
    stmt.and_where(Expr::col((I::Table, I::TargetEmail)).eq(email))
        .and_where(Expr::col((I::Table, I::CreatedAt)).gte(valid_since))
        .order_by((I::Table, I::CreatedAt), Order::Desc);
    tx.query(&stmt, from_row).await
}

/// Every invite for the email, expired ones included.
pub async fn delete_for(tx: &mut Tx, org_id: &str, email: &str) -> DbResult<u64> {
    let stmt = Query::delete()
        .from_table(I::Table)
        .and_where(Expr::col(I::OrganizationId).eq(org_id))
        .and_where(Expr::col(I::TargetEmail).eq(email))
        .to_owned();
    tx.execute(&stmt).await
}

pub async fn delete(tx: &mut Tx, org_id: &str, id: &str) -> DbResult<u64> {
    let stmt = Query::delete()
        .from_table(I::Table)
        .and_where(Expr::col(I::OrganizationId).eq(org_id))
        .and_where(Expr::col(I::Id).eq(id))
        .to_owned();
    tx.execute(&stmt).await
}

/// Inserts the invite with the digest of its sign-up token.
pub async fn insert(tx: &mut Tx, invite: &Invite, token_digest: &str) -> DbResult<()> {
    // NULL stays NULL; a list is stored as its JSON.
    let access = invite
        .private_project_access
        .as_ref()
        .map(serde_json::to_string)
        .transpose()
        .map_err(|e| DbError::Other(e.to_string()))?;
    let stmt = Query::insert()
        .into_table(I::Table)
        .columns(COLUMNS.into_iter().chain([I::SignupTokenDigest]))
        .values_panic([
            invite.id.clone().into(),
            invite.organization_id.clone().into(),
            invite.target_email.clone().into(),
            invite.first_name.clone().into(),
            invite.emailing_attempt_made.into(),
            invite.level.as_i64().into(),
            invite.message.clone().into(),
            access.into(),
            invite.created_at.into(),
            invite.updated_at.into(),
            invite.created_by.as_ref().map(|u| u.id).into(),
            token_digest.into(),
        ])
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// Is anyone with this (lower-cased) email a member of the organization?
pub async fn has_member_with_email(tx: &mut Tx, org_id: &str, email: &str) -> DbResult<bool> {
    let stmt = Query::select()
        .column((M::Table, M::Id))
        .from(M::Table)
        .inner_join(
            U::Table,
            Expr::col((U::Table, U::Id)).equals((M::Table, M::UserId)),
        )
        .and_where(Expr::col((M::Table, M::OrganizationId)).eq(org_id))
        .and_where(Expr::col((U::Table, U::EmailKey)).eq(users::email_key(email)))
        .limit(1)
        .to_owned();
    Ok(tx.query_opt(&stmt, |r| r.string(0)).await?.is_some())
}

/// The organization's project ids.
pub async fn project_ids(tx: &mut Tx, org_id: &str) -> DbResult<HashSet<i64>> {
    let stmt = Query::select()
        .column(P::Id)
        .from(P::Table)
        .and_where(Expr::col(P::OrganizationId).eq(org_id))
        .to_owned();
    Ok(tx.query(&stmt, |r| r.i64(0)).await?.into_iter().collect())
}

/// The invites waiting for this user (`/api/users/@me/`'s `pending_invites`):
/// still valid, to their email, for organizations they are not in, newest
/// first, at most 25 (PostHog's cap: the endpoint runs on every page load).
pub async fn pending_for_user(tx: &mut Tx, user: &User, now: i64) -> DbResult<Vec<Value>> {
    use crate::storage::schema::Organizations as O;
    let joined = Query::select()
        .column(M::OrganizationId)
        .from(M::Table)
        .and_where(Expr::col(M::UserId).eq(user.id))
        .to_owned();
    let stmt = Query::select()
        .columns([
            (I::Table, I::Id),
            (I::Table, I::TargetEmail),
            (I::Table, I::OrganizationId),
        ])
        .column((O::Table, O::Name))
        .column((I::Table, I::CreatedAt))
        .from(I::Table)
        .inner_join(
            O::Table,
            Expr::col((O::Table, O::Id)).equals((I::Table, I::OrganizationId)),
        )
        .and_where(Expr::col((I::Table, I::TargetEmail)).eq(users::email_key(&user.email)))
        .and_where(Expr::col((I::Table, I::CreatedAt)).gt(super::model::valid_since(now)))
        .and_where(Expr::col((I::Table, I::OrganizationId)).not_in_subquery(joined))
        .order_by((I::Table, I::CreatedAt), Order::Desc)
        .limit(25)
        .to_owned();
    tx.query(&stmt, |r| {
        Ok(serde_json::json!({
            "id": r.string(0)?,
            "target_email": r.string(1)?,
            "organization_id": r.string(2)?,
            "organization_name": r.string(3)?,
            "created_at": crate::time::format(r.i64(4)?),
        }))
    })
    .await
}
