//! Every query of the organizations resource: the organization row and its
//! details, memberships, the lookups every route resolves through
//! (`@current`, a project's organization), and deleting an organization
//! ([`deletion`]).

pub mod deletion;

use sea_query::{Alias, Expr, ExprTrait, JoinType, Order, Query};

use super::model::{Details, Level, Membership, MembershipLevel, Organization};
use crate::access::Visibility;
use crate::auth::keys;
use crate::projects;
use crate::storage::schema::{
    OrganizationMemberships as M, Organizations as O, Projects as P, Users as U,
};
use crate::storage::{DbResult, RowRead, Tx};
use crate::users::{self, User};

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
    assign_slug(tx, &org.id, name).await?;
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

/// A membership's level and id read at column `at` of a left join
/// (`None`: the join found no membership).
pub fn membership_from_row(r: &dyn RowRead, at: usize) -> DbResult<Option<MembershipLevel>> {
    let level = r.opt_i64(at)?.and_then(Level::from_i64);
    let id = r.opt_string(at + 1)?;
    Ok(level
        .zip(id)
        .map(|(level, id)| MembershipLevel { id, level }))
}

/// The organization and the user's membership of it (None: not a member),
/// in one round trip. `None` overall: no such organization.
pub async fn find_with_level(
    tx: &mut Tx,
    id: &str,
    user_id: i64,
) -> DbResult<Option<(Organization, Option<MembershipLevel>)>> {
    let stmt = Query::select()
        .columns(COLUMNS.map(|c| (O::Table, c)))
        .column((M::Table, M::Level))
        .column((M::Table, M::Id))
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
        Ok((org, membership_from_row(r, COLUMNS.len())?))
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
/// organization they can see (PostHog's `User.team`). Whose project it is,
/// and whether the caller may reach it, is the route's check (a stored
/// current project hidden from the caller stays named, and is 404 there).
pub async fn current_project(tx: &mut Tx, user: &User) -> DbResult<Option<i64>> {
    if let Some(id) = user.current_team_id {
        return Ok(Some(id));
    }
    match current_organization(tx, user).await? {
        Some(org) => first_visible_project(tx, &org, user.id).await,
        None => Ok(None),
    }
}

/// The first project (lowest id) of the organization the user can see, or
/// none (not a member, no project, or all hidden from them).
pub async fn first_visible_project(
    tx: &mut Tx,
    org_id: &str,
    user_id: i64,
) -> DbResult<Option<i64>> {
    let Some((_, Some(m))) = find_with_level(tx, org_id, user_id).await? else {
        return Ok(None);
    };
    projects::store::first_visible(tx, org_id, &Visibility::of(m.level, &m.id)).await
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

/// Is the user a member of the organization?
pub async fn is_member(tx: &mut Tx, org_id: &str, user_id: i64) -> DbResult<bool> {
    let stmt = Query::select()
        .expr(Expr::col(M::Id).count())
        .from(M::Table)
        .and_where(Expr::col(M::OrganizationId).eq(org_id))
        .and_where(Expr::col(M::UserId).eq(user_id))
        .to_owned();
    Ok(tx.query_opt(&stmt, |r| r.i64(0)).await?.unwrap_or(0) > 0)
}

/// Is the user a member of the organization the project belongs to?
pub async fn is_member_of_project(tx: &mut Tx, project_id: i64, user_id: i64) -> DbResult<bool> {
    let stmt = Query::select()
        .expr(Expr::col((P::Table, P::Id)).count())
        .from(P::Table)
        .inner_join(
            M::Table,
            Expr::col((M::Table, M::OrganizationId)).equals((P::Table, P::OrganizationId)),
        )
        .and_where(Expr::col((P::Table, P::Id)).eq(project_id))
        .and_where(Expr::col((M::Table, M::UserId)).eq(user_id))
        .to_owned();
    Ok(tx.query_opt(&stmt, |r| r.i64(0)).await?.unwrap_or(0) > 0)
}

/// Records who invited the member (joining through an invite).
pub async fn set_invited_by(tx: &mut Tx, membership_id: &str, user_id: i64) -> DbResult<()> {
    let stmt = Query::update()
        .table(M::Table)
        .value(M::InvitedById, user_id)
        .and_where(Expr::col(M::Id).eq(membership_id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// The member switches the operator sets (`prickle admin
/// update-organization`); `None` leaves one as it is.
pub async fn set_member_switches(
    tx: &mut Tx,
    org_id: &str,
    members_can_create_projects: Option<bool>,
    members_can_invite: Option<bool>,
    now: i64,
) -> DbResult<()> {
    let mut stmt = Query::update();
    stmt.table(O::Table)
        .value(O::UpdatedAt, now)
        .and_where(Expr::col(O::Id).eq(org_id));
    if let Some(v) = members_can_create_projects {
        stmt.value(O::MembersCanCreateProjects, v);
    }
    if let Some(v) = members_can_invite {
        stmt.value(O::MembersCanInvite, v);
    }
    tx.execute(&stmt).await?;
    Ok(())
}

/// Writes the organization's core columns and its details.
pub async fn save(tx: &mut Tx, org: &Organization, d: &Details) -> DbResult<()> {
    let stmt = Query::update()
        .table(O::Table)
        .value(O::Name, org.name.as_str())
        .value(O::MembersCanInvite, org.members_can_invite)
        .value(O::MembersCanCreateProjects, org.members_can_create_projects)
        .value(
            O::MembersCanUsePersonalApiKeys,
            org.members_can_use_personal_api_keys,
        )
        .value(
            O::IsMemberJoinEmailEnabled,
            org.is_member_join_email_enabled,
        )
        .value(O::DefaultAnonymizeIps, org.default_anonymize_ips)
        .value(O::UpdatedAt, org.updated_at)
        .and_where(Expr::col(O::Id).eq(org.id.as_str()))
        .to_owned();
    tx.execute(&stmt).await?;
    save_details(tx, &org.id, d).await?;
    Ok(())
}

const DETAIL_COLUMNS: [O; 7] = [
    O::Slug,
    O::LogoMediaId,
    O::Enforce2fa,
    O::AllowPubliclySharedResources,
    O::IsAiDataProcessingApproved,
    O::DefaultExperimentStatsMethod,
    O::DefaultRoleId,
];

impl Details {
    fn from_row(r: &dyn RowRead) -> DbResult<Details> {
        Ok(Details {
            slug: r.opt_string(0)?,
            logo_media_id: r.opt_string(1)?,
            enforce_2fa: r.opt_bool(2)?,
            allow_publicly_shared_resources: r.opt_bool(3)?.unwrap_or(true),
            is_ai_data_processing_approved: r.opt_bool(4)?,
            // The column is NULL both for "never set" and for an explicit null:
            // PostHog's default applies to organizations made before it existed.
            default_experiment_stats_method: r.opt_string(5)?,
            default_role_id: r.opt_string(6)?,
        })
    }
}

/// The organization's details; PostHog's defaults if it was deleted meanwhile
/// (a read racing a delete renders what it was given, never an error).
pub async fn details(tx: &mut Tx, org_id: &str) -> DbResult<Details> {
    let stmt = Query::select()
        .columns(DETAIL_COLUMNS)
        .from(O::Table)
        .and_where(Expr::col(O::Id).eq(org_id))
        .to_owned();
    Ok(tx
        .query_opt(&stmt, Details::from_row)
        .await?
        .unwrap_or(Details {
            slug: None,
            logo_media_id: None,
            enforce_2fa: None,
            allow_publicly_shared_resources: true,
            is_ai_data_processing_approved: None,
            default_experiment_stats_method: None,
            default_role_id: None,
        }))
}

/// Writes the organization's details (its slug excepted).
pub async fn save_details(tx: &mut Tx, org_id: &str, d: &Details) -> DbResult<()> {
    let stmt = Query::update()
        .table(O::Table)
        .value(O::LogoMediaId, d.logo_media_id.clone())
        .value(O::Enforce2fa, d.enforce_2fa)
        .value(
            O::AllowPubliclySharedResources,
            d.allow_publicly_shared_resources,
        )
        .value(
            O::IsAiDataProcessingApproved,
            d.is_ai_data_processing_approved,
        )
        .value(
            O::DefaultExperimentStatsMethod,
            d.default_experiment_stats_method.clone(),
        )
        .value(O::DefaultRoleId, d.default_role_id.clone())
        .and_where(Expr::col(O::Id).eq(org_id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// Gives a new organization its unique slug: its name's, with a random
/// suffix when that one is taken (as PostHog's `create_with_slug`).
pub async fn assign_slug(tx: &mut Tx, org_id: &str, name: &str) -> DbResult<String> {
    if tx.is_postgres() {
        // Two organizations of one name created at once would both find the
        // slug free; the unique index would then fail one of them. Slugs are
        // assigned one at a time instead (creating organizations is rare).
        tx.batch("SELECT pg_advisory_xact_lock(1983289599)").await?;
    }
    let base = match super::model::slugify(name) {
        s if s.is_empty() => "organization".to_string(),
        s => s,
    };
    let mut slug = base.clone();
    loop {
        let taken = Query::select()
            .column(O::Id)
            .from(O::Table)
            .and_where(Expr::col(O::Slug).eq(slug.as_str()))
            .to_owned();
        if tx.query_opt(&taken, |r| r.string(0)).await?.is_none() {
            break;
        }
        slug = format!("{base}-{}", keys::random_token(4).to_lowercase());
    }
    let stmt = Query::update()
        .table(O::Table)
        .value(O::Slug, slug.as_str())
        .and_where(Expr::col(O::Id).eq(org_id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(slug)
}

/// The user's organizations with their level, oldest first, limited to
/// `only` when given (a key's organization restriction); and how many.
pub async fn of_user(
    tx: &mut Tx,
    user_id: i64,
    only: Option<&[String]>,
    limit: i64,
    offset: i64,
) -> DbResult<(Vec<(Organization, MembershipLevel)>, i64)> {
    let mut base = Query::select();
    base.from(O::Table).inner_join(
        M::Table,
        Expr::col((M::Table, M::OrganizationId))
            .equals((O::Table, O::Id))
            .and(Expr::col((M::Table, M::UserId)).eq(user_id)),
    );
    if let Some(only) = only {
        base.and_where(Expr::col((O::Table, O::Id)).is_in(only.iter().cloned()));
    }
    let mut count = base.clone();
    count.expr_as(Expr::col((O::Table, O::Id)).count(), Alias::new("n"));
    let total = tx.query_opt(&count, |r| r.i64(0)).await?.unwrap_or(0);
    let mut rows = base;
    rows.columns(COLUMNS.map(|c| (O::Table, c)))
        .column((M::Table, M::Level))
        .column((M::Table, M::Id))
        .order_by((O::Table, O::CreatedAt), sea_query::Order::Asc)
        .order_by((O::Table, O::Id), sea_query::Order::Asc)
        .limit(limit as u64)
        .offset(offset as u64);
    let orgs = tx
        .query(&rows, |r| {
            let org = Organization::from_row(r, 0)?;
            let level = Level::from_i64(r.i64(COLUMNS.len())?).unwrap_or(Level::Member);
            let id = r.string(COLUMNS.len() + 1)?;
            Ok((org, MembershipLevel { id, level }))
        })
        .await?;
    Ok((orgs, total))
}

/// Active members (PostHog's `member_count`).
pub async fn member_count(tx: &mut Tx, org_id: &str) -> DbResult<i64> {
    let stmt = Query::select()
        .expr_as(Expr::col((M::Table, M::Id)).count(), Alias::new("n"))
        .from(M::Table)
        .inner_join(
            U::Table,
            Expr::col((U::Table, U::Id)).equals((M::Table, M::UserId)),
        )
        .and_where(Expr::col((M::Table, M::OrganizationId)).eq(org_id))
        .and_where(Expr::col((U::Table, U::IsActive)).eq(true))
        .to_owned();
    Ok(tx.query_opt(&stmt, |r| r.i64(0)).await?.unwrap_or(0))
}
