//! Organizations, memberships and levels.

pub mod api;
pub mod deletion;
pub mod details;
pub mod openapi;

use sea_query::{Expr, ExprTrait, JoinType, Order, Query};
use serde_json::{json, Value};

use crate::error::{ApiError, ApiResult};
use crate::storage::schema::{OrganizationMemberships as M, Organizations as O, Projects as P};
use crate::storage::{DbResult, RowRead, Tx};
use crate::time;
use crate::users::{self, User};

/// Membership levels, PostHog's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Member = 1,
    Admin = 8,
    Owner = 15,
}

impl Level {
    pub fn from_i64(v: i64) -> Option<Level> {
        match v {
            1 => Some(Level::Member),
            8 => Some(Level::Admin),
            15 => Some(Level::Owner),
            _ => None,
        }
    }

    pub fn as_i64(self) -> i64 {
        self as i64
    }

    /// Admins and owners.
    pub fn is_admin(self) -> bool {
        self >= Level::Admin
    }
}

/// PostHog's answer to a member where only admins and owners may act.
pub const INSUFFICIENT: &str = "Your organization access level is insufficient.";

/// The admin-level gate of PostHog's `OrganizationAdminWritePermissions` and
/// `OrganizationAdminAnyPermissions` (organization settings, legal
/// documents, deleting invites): admins and owners pass, members get 403.
pub fn require_admin(level: Level) -> ApiResult<()> {
    if level.is_admin() {
        Ok(())
    } else {
        Err(ApiError::permission_denied(INSUFFICIENT))
    }
}

#[derive(Clone, Debug)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub members_can_invite: Option<bool>,
    pub members_can_create_projects: bool,
    pub members_can_use_personal_api_keys: bool,
    pub is_member_join_email_enabled: bool,
    pub default_anonymize_ips: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Columns read by [`Organization::from_row`], in its order.
pub const COLUMNS: [O; 9] = [
    O::Id,
    O::Name,
    O::MembersCanInvite,
    O::MembersCanCreateProjects,
    O::MembersCanUsePersonalApiKeys,
    O::IsMemberJoinEmailEnabled,
    O::DefaultAnonymizeIps,
    O::CreatedAt,
    O::UpdatedAt,
];

impl Organization {
    /// Reads [`COLUMNS`] starting at column `at`.
    pub fn from_row(r: &dyn RowRead, at: usize) -> DbResult<Organization> {
        Ok(Organization {
            id: r.string(at)?,
            name: r.string(at + 1)?,
            members_can_invite: r.opt_bool(at + 2)?,
            members_can_create_projects: r.bool(at + 3)?,
            members_can_use_personal_api_keys: r.bool(at + 4)?,
            is_member_join_email_enabled: r.bool(at + 5)?,
            default_anonymize_ips: r.bool(at + 6)?,
            created_at: r.i64(at + 7)?,
            updated_at: r.i64(at + 8)?,
        })
    }

    /// The organization as the admin CLI prints it (a subset of PostHog's organization serializer).
    pub fn to_json(&self, membership_level: Option<Level>) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "created_at": time::format(self.created_at),
            "updated_at": time::format(self.updated_at),
            "membership_level": membership_level.map(Level::as_i64),
            "members_can_invite": self.members_can_invite,
            "members_can_create_projects": self.members_can_create_projects,
            "members_can_use_personal_api_keys": self.members_can_use_personal_api_keys,
            "is_member_join_email_enabled": self.is_member_join_email_enabled,
            "default_anonymize_ips": self.default_anonymize_ips,
        })
    }
}

/// Is `s` a canonical UUID? Path ids that are not are a 404, never a query.
pub fn parse_uuid(s: &str) -> Option<String> {
    uuid::Uuid::parse_str(s)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

pub async fn insert(tx: &mut Tx, name: &str, now: i64) -> DbResult<Organization> {
    let org = Organization {
        id: uuid::Uuid::now_v7().to_string(),
        name: name.to_string(),
        members_can_invite: Some(true),
        members_can_create_projects: false,
        members_can_use_personal_api_keys: true,
        is_member_join_email_enabled: true,
        default_anonymize_ips: false,
        created_at: now,
        updated_at: now,
    };
    let stmt = Query::insert()
        .into_table(O::Table)
        .columns(COLUMNS)
        .values_panic([
            org.id.clone().into(),
            org.name.clone().into(),
            org.members_can_invite.into(),
            org.members_can_create_projects.into(),
            org.members_can_use_personal_api_keys.into(),
            org.is_member_join_email_enabled.into(),
            org.default_anonymize_ips.into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    tx.execute(&stmt).await?;
    details::assign_slug(tx, &org.id, name).await?;
    Ok(org)
}

pub async fn find(tx: &mut Tx, id: &str) -> DbResult<Option<Organization>> {
    let stmt = Query::select()
        .columns(COLUMNS)
        .from(O::Table)
        .and_where(Expr::col(O::Id).eq(id))
        .to_owned();
    tx.query_opt(&stmt, |r| Organization::from_row(r, 0)).await
}

/// The organization and the user's level in it (None: not a member), in one
/// round trip. `None` overall: no such organization.
pub async fn find_with_level(
    tx: &mut Tx,
    id: &str,
    user_id: i64,
) -> DbResult<Option<(Organization, Option<Level>)>> {
    let stmt = Query::select()
        .columns(COLUMNS.map(|c| (O::Table, c)))
        .column((M::Table, M::Level))
        .from(O::Table)
        .join(
            JoinType::LeftJoin,
            M::Table,
            Expr::col((M::Table, M::OrganizationId))
                .equals((O::Table, O::Id))
                .and(Expr::col((M::Table, M::UserId)).eq(user_id)),
        )
        .and_where(Expr::col((O::Table, O::Id)).eq(id))
        .to_owned();
    tx.query_opt(&stmt, |r| {
        let org = Organization::from_row(r, 0)?;
        let level = r.opt_i64(COLUMNS.len())?.and_then(Level::from_i64);
        Ok((org, level))
    })
    .await
}

/// Locks the organization row until the transaction ends, so per-organization
/// checks (project limit, unique default names) hold under concurrent writers.
/// SQLite's write transactions already exclude each other.
pub async fn lock(tx: &mut Tx, id: &str) -> DbResult<()> {
    if tx.is_postgres() {
        let stmt = Query::select()
            .column(O::Id)
            .from(O::Table)
            .and_where(Expr::col(O::Id).eq(id))
            .lock_exclusive()
            .to_owned();
        tx.query(&stmt, |r| r.string(0)).await?;
    }
    Ok(())
}

/// `@current` as an organization id, for every route that takes one: the
/// user's current organization, else the first they joined (PostHog's
/// `User.organization`). `ApiRequest::organization` reads the current
/// pointer in the key's own query and calls this only when it is unset.
pub async fn current_organization(tx: &mut Tx, user: &User) -> DbResult<Option<String>> {
    if let Some(id) = &user.current_organization_id {
        return Ok(Some(id.clone()));
    }
    first_joined(tx, user.id).await
}

/// `@current` as a project id, for every route that takes one: the user's
/// current project, else the first project of their `@current`
/// organization (PostHog's `User.team`). Whose project it is, and whether
/// the caller may reach it, is the route's check.
pub async fn current_project(tx: &mut Tx, user: &User) -> DbResult<Option<i64>> {
    if let Some(id) = user.current_team_id {
        return Ok(Some(id));
    }
    match current_organization(tx, user).await? {
        Some(org) => first_project(tx, &org).await,
        None => Ok(None),
    }
}

/// The organization the user joined first (ties by membership id), or none.
pub async fn first_joined(tx: &mut Tx, user_id: i64) -> DbResult<Option<String>> {
    let stmt = Query::select()
        .column(M::OrganizationId)
        .from(M::Table)
        .and_where(Expr::col(M::UserId).eq(user_id))
        .order_by(M::JoinedAt, Order::Asc)
        .order_by(M::Id, Order::Asc)
        .limit(1)
        .to_owned();
    tx.query_opt(&stmt, |r| r.string(0)).await
}

/// Is `project_id` one of the organization's projects? The tenant boundary
/// every project route is checked against before its handler runs.
pub async fn has_project(tx: &mut Tx, org_id: &str, project_id: i64) -> DbResult<bool> {
    let stmt = Query::select()
        .column(P::Id)
        .from(P::Table)
        .and_where(Expr::col(P::OrganizationId).eq(org_id))
        .and_where(Expr::col(P::Id).eq(project_id))
        .to_owned();
    Ok(tx.query_opt(&stmt, |r| r.i64(0)).await?.is_some())
}

/// The organization a project belongs to: the root mount
/// (`/api/projects/:id/`) finds the organization from the project, then
/// checks the caller against it.
pub async fn of_project(tx: &mut Tx, project_id: i64) -> DbResult<Option<String>> {
    let stmt = Query::select()
        .column(P::OrganizationId)
        .from(P::Table)
        .and_where(Expr::col(P::Id).eq(project_id))
        .to_owned();
    tx.query_opt(&stmt, |r| r.string(0)).await
}

/// The organization's first project (lowest id), for `@current` without a current project.
pub async fn first_project(tx: &mut Tx, org_id: &str) -> DbResult<Option<i64>> {
    let stmt = Query::select()
        .column(P::Id)
        .from(P::Table)
        .and_where(Expr::col(P::OrganizationId).eq(org_id))
        .order_by(P::Id, Order::Asc)
        .limit(1)
        .to_owned();
    tx.query_opt(&stmt, |r| r.i64(0)).await
}

/// A membership with its user (rendered by `members::model`).
pub struct Membership {
    pub id: String,
    pub user: User,
    pub level: Level,
    pub joined_at: i64,
    pub updated_at: i64,
}

/// Adds a membership; a user joining their first organization makes it their current one.
pub async fn add_member(
    tx: &mut Tx,
    org_id: &str,
    user: &User,
    level: Level,
    now: i64,
) -> DbResult<Membership> {
    let id = uuid::Uuid::now_v7().to_string();
    let stmt = Query::insert()
        .into_table(M::Table)
        .columns([
            M::Id,
            M::OrganizationId,
            M::UserId,
            M::Level,
            M::JoinedAt,
            M::UpdatedAt,
        ])
        .values_panic([
            id.clone().into(),
            org_id.into(),
            user.id.into(),
            level.as_i64().into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    tx.execute(&stmt).await?;
    let mut user = user.clone();
    if user.current_organization_id.is_none() {
        users::set_current(tx, user.id, Some(org_id), None).await?;
        user.current_organization_id = Some(org_id.to_string());
    }
    Ok(Membership {
        id,
        user,
        level,
        joined_at: now,
        updated_at: now,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_gate() {
        for (level, passes) in [
            (Level::Member, false),
            (Level::Admin, true),
            (Level::Owner, true),
        ] {
            assert_eq!(level.is_admin(), passes, "{level:?}");
            match require_admin(level) {
                Ok(()) => assert!(passes, "{level:?}"),
                Err(e) => {
                    assert!(!passes, "{level:?}");
                    assert_eq!((e.status.as_u16(), e.detail.as_ref()), (403, INSUFFICIENT));
                }
            }
        }
    }
}
