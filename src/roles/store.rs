//! Every query of roles and role memberships. Each takes the organization:
//! a role is looked up only among the organization's, and a holder only
//! under a role of it.

use sea_query::{Expr, ExprTrait, JoinType, Order, Query, SelectStatement};

use super::model::{name_key, Holder, Role};
use crate::organizations::{Level, Membership};
use crate::storage::schema::{
    OrganizationMemberships as M, Organizations as O, RoleMemberships as RM, Roles as R, Users as U,
};
use crate::storage::{DbError, DbResult, RowRead, Tx};
use crate::users::{self, User};

const ROLE_COLUMNS: [R; 4] = [R::Id, R::OrganizationId, R::Name, R::CreatedAt];

/// The organization's roles, each with its creator (left joined: the
/// creator may be gone).
fn select_roles(org_id: &str) -> SelectStatement {
    let mut s = Query::select();
    s.columns(ROLE_COLUMNS.map(|c| (R::Table, c)))
        .columns(users::COLUMNS.map(|c| (U::Table, c)))
        .from(R::Table)
        .join(
            JoinType::LeftJoin,
            U::Table,
            Expr::col((U::Table, U::Id)).equals((R::Table, R::CreatedById)),
        )
        .and_where(Expr::col((R::Table, R::OrganizationId)).eq(org_id));
    s
}

fn role_from_row(r: &dyn RowRead) -> DbResult<Role> {
    let at = ROLE_COLUMNS.len();
    let created_by = match r.opt_i64(at)? {
        Some(_) => Some(User::from_row(r, at)?),
        None => None,
    };
    Ok(Role {
        id: r.string(0)?,
        organization_id: r.string(1)?,
        name: r.string(2)?,
        created_at: r.i64(3)?,
        created_by,
    })
}

pub async fn count(tx: &mut Tx, org_id: &str) -> DbResult<i64> {
    let stmt = Query::select()
        .expr(Expr::col(R::Id).count())
        .from(R::Table)
        .and_where(Expr::col(R::OrganizationId).eq(org_id))
        .to_owned();
    Ok(tx.query_opt(&stmt, |r| r.i64(0)).await?.unwrap_or(0))
}

/// Oldest first, ties by id, so pages never overlap.
pub async fn list(tx: &mut Tx, org_id: &str, limit: i64, offset: i64) -> DbResult<Vec<Role>> {
    let mut stmt = select_roles(org_id);
    stmt.order_by((R::Table, R::CreatedAt), Order::Asc)
        .order_by((R::Table, R::Id), Order::Asc)
        .limit(limit as u64)
        .offset(offset as u64);
    tx.query(&stmt, role_from_row).await
}

/// A role of the organization (None: no such role, or another's).
pub async fn find(tx: &mut Tx, org_id: &str, role_id: &str) -> DbResult<Option<Role>> {
    let mut stmt = select_roles(org_id);
    stmt.and_where(Expr::col((R::Table, R::Id)).eq(role_id));
    tx.query_opt(&stmt, role_from_row).await
}

/// Does another role of the organization (not `except`) have this name,
/// compared case-insensitively?
pub async fn name_taken(
    tx: &mut Tx,
    org_id: &str,
    name: &str,
    except: Option<&str>,
) -> DbResult<bool> {
    let mut stmt = Query::select();
    stmt.column(R::Id)
        .from(R::Table)
        .and_where(Expr::col(R::OrganizationId).eq(org_id))
        .and_where(Expr::col(R::NameKey).eq(name_key(name)));
    if let Some(id) = except {
        stmt.and_where(Expr::col(R::Id).ne(id));
    }
    Ok(!tx.query(&stmt, |r| r.string(0)).await?.is_empty())
}

/// Inserts the role; [`DbError::Unique`] when a concurrent writer took
/// its name first.
pub async fn insert(tx: &mut Tx, role: &Role) -> DbResult<()> {
    let stmt = Query::insert()
        .into_table(R::Table)
        .columns([
            R::Id,
            R::OrganizationId,
            R::Name,
            R::NameKey,
            R::CreatedById,
            R::CreatedAt,
        ])
        .values_panic([
            role.id.clone().into(),
            role.organization_id.clone().into(),
            role.name.clone().into(),
            name_key(&role.name).into(),
            role.created_by.as_ref().map(|u| u.id).into(),
            role.created_at.into(),
        ])
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

pub async fn rename(tx: &mut Tx, org_id: &str, role_id: &str, name: &str) -> DbResult<()> {
    let stmt = Query::update()
        .table(R::Table)
        .value(R::Name, name)
        .value(R::NameKey, name_key(name))
        .and_where(Expr::col(R::OrganizationId).eq(org_id))
        .and_where(Expr::col(R::Id).eq(role_id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// Deletes the role: its memberships and rules go by their foreign keys;
/// the organization's `default_role_id`, which has none, is cleared here.
pub async fn delete(tx: &mut Tx, org_id: &str, role_id: &str) -> DbResult<()> {
    let stmt = Query::delete()
        .from_table(R::Table)
        .and_where(Expr::col(R::OrganizationId).eq(org_id))
        .and_where(Expr::col(R::Id).eq(role_id))
        .to_owned();
    tx.execute(&stmt).await?;
    let stmt = Query::update()
        .table(O::Table)
        .value(O::DefaultRoleId, Option::<String>::None)
        .and_where(Expr::col(O::Id).eq(org_id))
        .and_where(Expr::col(O::DefaultRoleId).eq(role_id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// Holders: the role membership, then the membership, then its user.
fn select_holders(org_id: &str) -> SelectStatement {
    let mut s = Query::select();
    s.columns([
        (RM::Table, RM::Id),
        (RM::Table, RM::RoleId),
        (RM::Table, RM::JoinedAt),
        (RM::Table, RM::UpdatedAt),
    ])
    .columns([
        (M::Table, M::Id),
        (M::Table, M::Level),
        (M::Table, M::JoinedAt),
        (M::Table, M::UpdatedAt),
    ])
    .columns(users::COLUMNS.map(|c| (U::Table, c)))
    .from(RM::Table)
    .inner_join(
        R::Table,
        Expr::col((R::Table, R::Id)).equals((RM::Table, RM::RoleId)),
    )
    .inner_join(
        M::Table,
        Expr::col((M::Table, M::Id)).equals((RM::Table, RM::MembershipId)),
    )
    .inner_join(
        U::Table,
        Expr::col((U::Table, U::Id)).equals((M::Table, M::UserId)),
    )
    .and_where(Expr::col((R::Table, R::OrganizationId)).eq(org_id));
    s
}

fn in_order(s: &mut SelectStatement) {
    s.order_by((RM::Table, RM::JoinedAt), Order::Asc)
        .order_by((RM::Table, RM::Id), Order::Asc);
}

fn holder_from_row(r: &dyn RowRead) -> DbResult<Holder> {
    let level = r.i64(5)?;
    Ok(Holder {
        id: r.string(0)?,
        role_id: r.string(1)?,
        joined_at: r.i64(2)?,
        updated_at: r.i64(3)?,
        member: Membership {
            id: r.string(4)?,
            level: Level::from_i64(level).ok_or_else(|| {
                DbError::Other(format!("membership level {level} is not 1, 8 or 15"))
            })?,
            joined_at: r.i64(6)?,
            updated_at: r.i64(7)?,
            user: User::from_row(r, 8)?,
        },
    })
}

/// The holders of these roles of the organization, in list order.
pub async fn holders_of(tx: &mut Tx, org_id: &str, role_ids: &[&str]) -> DbResult<Vec<Holder>> {
    if role_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut stmt = select_holders(org_id);
    stmt.and_where(Expr::col((RM::Table, RM::RoleId)).is_in(role_ids.iter().copied()));
    in_order(&mut stmt);
    tx.query(&stmt, holder_from_row).await
}

/// How many hold the role; 0 for a role of another organization.
pub async fn holder_count(tx: &mut Tx, org_id: &str, role_id: &str) -> DbResult<i64> {
    let stmt = Query::select()
        .expr(Expr::col((RM::Table, RM::Id)).count())
        .from(RM::Table)
        .inner_join(
            R::Table,
            Expr::col((R::Table, R::Id)).equals((RM::Table, RM::RoleId)),
        )
        .and_where(Expr::col((R::Table, R::OrganizationId)).eq(org_id))
        .and_where(Expr::col((RM::Table, RM::RoleId)).eq(role_id))
        .to_owned();
    Ok(tx.query_opt(&stmt, |r| r.i64(0)).await?.unwrap_or(0))
}

/// A page of the role's holders; empty for a role of another organization.
pub async fn holders_page(
    tx: &mut Tx,
    org_id: &str,
    role_id: &str,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<Holder>> {
    let mut stmt = select_holders(org_id);
    stmt.and_where(Expr::col((RM::Table, RM::RoleId)).eq(role_id));
    in_order(&mut stmt);
    stmt.limit(limit as u64).offset(offset as u64);
    tx.query(&stmt, holder_from_row).await
}

/// One holder of a role of the organization.
pub async fn find_holder(
    tx: &mut Tx,
    org_id: &str,
    role_id: &str,
    id: &str,
) -> DbResult<Option<Holder>> {
    let mut stmt = select_holders(org_id);
    stmt.and_where(Expr::col((RM::Table, RM::RoleId)).eq(role_id))
        .and_where(Expr::col((RM::Table, RM::Id)).eq(id));
    tx.query_opt(&stmt, holder_from_row).await
}

/// The membership of an active user, by their uuid, in the organization.
pub async fn active_member(
    tx: &mut Tx,
    org_id: &str,
    user_uuid: &str,
) -> DbResult<Option<Membership>> {
    let stmt = Query::select()
        .columns([
            (M::Table, M::Id),
            (M::Table, M::Level),
            (M::Table, M::JoinedAt),
            (M::Table, M::UpdatedAt),
        ])
        .columns(users::COLUMNS.map(|c| (U::Table, c)))
        .from(M::Table)
        .inner_join(
            U::Table,
            Expr::col((U::Table, U::Id)).equals((M::Table, M::UserId)),
        )
        .and_where(Expr::col((M::Table, M::OrganizationId)).eq(org_id))
        .and_where(Expr::col((U::Table, U::Uuid)).eq(user_uuid))
        .and_where(Expr::col((U::Table, U::IsActive)).eq(true))
        .to_owned();
    tx.query_opt(&stmt, |r| {
        let level = r.i64(1)?;
        Ok(Membership {
            id: r.string(0)?,
            level: Level::from_i64(level).ok_or_else(|| {
                DbError::Other(format!("membership level {level} is not 1, 8 or 15"))
            })?,
            joined_at: r.i64(2)?,
            updated_at: r.i64(3)?,
            user: User::from_row(r, 4)?,
        })
    })
    .await
}

/// Does the user hold the role?
pub async fn holds(tx: &mut Tx, role_id: &str, user_id: i64) -> DbResult<bool> {
    let stmt = Query::select()
        .column(RM::Id)
        .from(RM::Table)
        .and_where(Expr::col(RM::RoleId).eq(role_id))
        .and_where(Expr::col(RM::UserId).eq(user_id))
        .to_owned();
    Ok(tx.query_opt(&stmt, |r| r.string(0)).await?.is_some())
}

/// Adds the holder; [`DbError::Unique`] when a concurrent writer added the
/// same user first.
pub async fn insert_holder(tx: &mut Tx, h: &Holder) -> DbResult<()> {
    let stmt = Query::insert()
        .into_table(RM::Table)
        .columns([
            RM::Id,
            RM::RoleId,
            RM::UserId,
            RM::MembershipId,
            RM::JoinedAt,
            RM::UpdatedAt,
        ])
        .values_panic([
            h.id.clone().into(),
            h.role_id.clone().into(),
            h.member.user.id.into(),
            h.member.id.clone().into(),
            h.joined_at.into(),
            h.updated_at.into(),
        ])
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// Removes a holder found by [`find_holder`] (so of this organization).
pub async fn delete_holder(tx: &mut Tx, role_id: &str, id: &str) -> DbResult<()> {
    let stmt = Query::delete()
        .from_table(RM::Table)
        .and_where(Expr::col(RM::RoleId).eq(role_id))
        .and_where(Expr::col(RM::Id).eq(id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}
