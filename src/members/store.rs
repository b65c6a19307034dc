//! Membership queries. Every one takes the organization: tenant filtering
//! lives here, so no handler can forget it.
//!
//! Members whose user is inactive or a PostHog bot (`@posthogbot.user`) are
//! hidden everywhere: from the list, its count, and lookups by uuid.

use sea_query::{
    Alias, Cond, Expr, ExprTrait, Func, LikeExpr, Order, Query, SelectStatement, SimpleExpr,
};

use super::model::MatchType;
use crate::organizations::{self, Level, Membership};
use crate::storage::schema::{
    OrganizationMemberships as M, PersonalApiKeys as K, Projects as P, Users as U,
};
use crate::storage::{DbError, DbResult, RowRead, Tx};
use crate::users::{self, User};

/// Users hidden from member lists. Equal, term for term, to the condition of
/// the partial index `users_hidden` (migration 3's `USERS_HIDDEN_V3`): the
/// planner uses a partial index only for a query that repeats its condition
/// literally. Changing it needs a migration with a new index (a test checks).
pub const HIDDEN_USER: &str = "(is_active = FALSE OR email_key LIKE '%@posthogbot.user')";

fn hidden() -> SimpleExpr {
    Expr::cust(HIDDEN_USER)
}

fn visible() -> SimpleExpr {
    Expr::cust(HIDDEN_USER).not()
}

/// The member columns: the membership, then its user.
fn select_members(org_id: &str) -> SelectStatement {
    let mut s = Query::select();
    s.columns([
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
    .and_where(Expr::col((M::Table, M::OrganizationId)).eq(org_id));
    s
}

const USER_AT: usize = 4;

fn from_row(r: &dyn RowRead) -> DbResult<Membership> {
    let level = r.i64(1)?;
    Ok(Membership {
        id: r.string(0)?,
        level: Level::from_i64(level)
            .ok_or_else(|| DbError::Other(format!("membership level {level} is not 1, 8 or 15")))?,
        joined_at: r.i64(2)?,
        updated_at: r.i64(3)?,
        user: User::from_row(r, USER_AT)?,
    })
}

/// Whose membership a path names.
pub enum Who {
    UserUuid(String),
    UserId(i64),
}

/// A visible member of the organization.
pub async fn find(tx: &mut Tx, org_id: &str, who: Who) -> DbResult<Option<Membership>> {
    let mut stmt = select_members(org_id);
    stmt.and_where(visible());
    match who {
        Who::UserUuid(uuid) => stmt.and_where(Expr::col((U::Table, U::Uuid)).eq(uuid)),
        Who::UserId(id) => stmt.and_where(Expr::col((U::Table, U::Id)).eq(id)),
    };
    tx.query_opt(&stmt, from_row).await
}

/// The caller's level, read again inside a write transaction (after the
/// organization lock): the level the request was authorised with may have
/// changed while it waited.
pub async fn level_of(tx: &mut Tx, org_id: &str, user_id: i64) -> DbResult<Option<Level>> {
    let stmt = Query::select()
        .column(M::Level)
        .from(M::Table)
        .and_where(Expr::col(M::OrganizationId).eq(org_id))
        .and_where(Expr::col(M::UserId).eq(user_id))
        .to_owned();
    Ok(tx
        .query_opt(&stmt, |r| r.i64(0))
        .await?
        .and_then(Level::from_i64))
}

pub async fn set_level(
    tx: &mut Tx,
    org_id: &str,
    membership_id: &str,
    level: Level,
    now: i64,
) -> DbResult<()> {
    let stmt = Query::update()
        .table(M::Table)
        .value(M::Level, level.as_i64())
        .value(M::UpdatedAt, now)
        .and_where(Expr::col(M::OrganizationId).eq(org_id))
        .and_where(Expr::col(M::Id).eq(membership_id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// Removes the membership; the user's `@current` organization and project
/// move off this organization (to the first organization they still belong
/// to and its first project they can see), as PostHog's `User.leave` does.
pub async fn remove(tx: &mut Tx, org_id: &str, m: &Membership) -> DbResult<()> {
    let stmt = Query::delete()
        .from_table(M::Table)
        .and_where(Expr::col(M::OrganizationId).eq(org_id))
        .and_where(Expr::col(M::Id).eq(m.id.as_str()))
        .to_owned();
    tx.execute(&stmt).await?;
    let team_here = match m.user.current_team_id {
        Some(team) => organizations::has_project(tx, org_id, team).await?,
        None => false,
    };
    if m.user.current_organization_id.as_deref() != Some(org_id) && !team_here {
        return Ok(());
    }
    let next = organizations::first_joined(tx, m.user.id).await?;
    let team = match &next {
        Some(org) => organizations::first_visible_project(tx, org, m.user.id).await?,
        None => None,
    };
    users::set_current(tx, m.user.id, next.as_deref(), team).await
}

/// What the list asks for.
pub struct ListQuery<'a> {
    pub email: Option<&'a str>,
    /// Microseconds: members updated strictly after.
    pub updated_after: Option<i64>,
    pub search: Option<&'a str>,
    pub ascending: bool,
    pub limit: i64,
    pub offset: i64,
}

impl ListQuery<'_> {
    pub fn filtered(&self) -> bool {
        self.email.is_some() || self.updated_after.is_some() || self.search.is_some()
    }
}

/// One page of visible members and the total.
pub async fn page(
    tx: &mut Tx,
    org_id: &str,
    q: &ListQuery<'_>,
) -> DbResult<(i64, Vec<(Membership, Option<MatchType>)>)> {
    if q.filtered() {
        return filtered_page(tx, org_id, q).await;
    }
    // The common case, kept O(page) rather than O(organization) in joins:
    // hidden members are few and found through the partial index, the count
    // and the offset walk only the memberships index, and users are read for
    // the page's rows alone.
    let hidden_ids = hidden_user_ids(tx, org_id).await?;
    let total = Query::select()
        .expr(Expr::col(M::OrganizationId).count())
        .from(M::Table)
        .and_where(Expr::col(M::OrganizationId).eq(org_id))
        .to_owned();
    let total = tx.query_opt(&total, |r| r.i64(0)).await?.unwrap_or(0);
    let count = total - hidden_ids.len() as i64;
    if q.offset >= count {
        return Ok((count, Vec::new()));
    }
    let order = if q.ascending { Order::Asc } else { Order::Desc };
    // The page's memberships from the covering index alone (the offset walk
    // never reads a table row), then only their users. The membership is
    // not joined again: SQLite would then walk the organization's index.
    let mut ids = Query::select();
    ids.columns([M::Id, M::Level, M::JoinedAt, M::UpdatedAt, M::UserId])
        .from(M::Table)
        .and_where(Expr::col(M::OrganizationId).eq(org_id))
        .order_by(M::JoinedAt, order.clone())
        .order_by(M::Id, order.clone())
        .limit(q.limit as u64)
        .offset(q.offset as u64);
    if !hidden_ids.is_empty() {
        ids.and_where(Expr::col(M::UserId).is_not_in(hidden_ids));
    }
    let page = Alias::new("page");
    let mut stmt = Query::select();
    stmt.columns([
        (page.clone(), M::Id),
        (page.clone(), M::Level),
        (page.clone(), M::JoinedAt),
        (page.clone(), M::UpdatedAt),
    ])
    .columns(users::COLUMNS.map(|c| (U::Table, c)))
    .from_subquery(ids, page.clone())
    .inner_join(
        U::Table,
        Expr::col((U::Table, U::Id)).equals((page.clone(), M::UserId)),
    )
    .order_by((page.clone(), M::JoinedAt), order.clone())
    .order_by((page, M::Id), order);
    let rows = tx.query(&stmt, from_row).await?;
    Ok((count, rows.into_iter().map(|m| (m, None)).collect()))
}

/// Users of the organization hidden from its list.
async fn hidden_user_ids(tx: &mut Tx, org_id: &str) -> DbResult<Vec<i64>> {
    let hidden_users = Query::select()
        .column(U::Id)
        .from(U::Table)
        .and_where(hidden())
        .to_owned();
    let stmt = Query::select()
        .column(M::UserId)
        .from(M::Table)
        .and_where(Expr::col(M::OrganizationId).eq(org_id))
        .and_where(Expr::col(M::UserId).in_subquery(hidden_users))
        .to_owned();
    tx.query(&stmt, |r| r.i64(0)).await
}

fn like_any_field(term: &str) -> Cond {
    let escaped = term
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    let pattern = || LikeExpr::new(format!("%{escaped}%")).escape('\\');
    Cond::any()
        .add(Expr::expr(Func::lower(Expr::col((U::Table, U::FirstName)))).like(pattern()))
        .add(Expr::expr(Func::lower(Expr::col((U::Table, U::LastName)))).like(pattern()))
        .add(Expr::col((U::Table, U::EmailKey)).like(pattern()))
}

/// With `email`, `updated_after` or `search`: one query with every filter.
/// A search matches when every word of it appears in the first name, last
/// name or email; the whole term appearing in one of them is an `exact`
/// match, ranked first, then by first name (PostHog's order for searches).
async fn filtered_page(
    tx: &mut Tx,
    org_id: &str,
    q: &ListQuery<'_>,
) -> DbResult<(i64, Vec<(Membership, Option<MatchType>)>)> {
    let mut stmt = select_members(org_id);
    stmt.and_where(visible());
    if let Some(email) = q.email {
        stmt.and_where(Expr::col((U::Table, U::Email)).eq(email));
    }
    if let Some(after) = q.updated_after {
        stmt.and_where(Expr::col((M::Table, M::UpdatedAt)).gt(after));
    }
    let exact = q.search.map(like_any_field);
    if let Some(term) = q.search {
        let mut all_words = Cond::all();
        for word in term.split_whitespace() {
            all_words = all_words.add(like_any_field(word));
        }
        stmt.cond_where(all_words);
    }
    let mut count = stmt.clone();
    count.clear_selects();
    count.expr(Expr::col((M::Table, M::Id)).count());
    let count = tx.query_opt(&count, |r| r.i64(0)).await?.unwrap_or(0);
    let order = if q.ascending { Order::Asc } else { Order::Desc };
    let rank = Alias::new("match_rank");
    match exact {
        Some(exact) => {
            stmt.expr_as(
                Expr::case(exact, Expr::cust("CAST(0 AS BIGINT)"))
                    .finally(Expr::cust("CAST(1 AS BIGINT)")),
                rank.clone(),
            )
            .order_by(rank, Order::Asc)
            .order_by((U::Table, U::FirstName), Order::Asc)
            .order_by((M::Table, M::Id), Order::Asc);
        }
        None => {
            stmt.order_by((M::Table, M::JoinedAt), order.clone())
                .order_by((M::Table, M::Id), order);
        }
    }
    stmt.limit(q.limit as u64).offset(q.offset as u64);
    let searching = q.search.is_some();
    let rank_at = USER_AT + users::COLUMNS.len();
    let rows = tx
        .query(&stmt, |r| {
            let kind = if searching {
                Some(match r.i64(rank_at)? {
                    0 => MatchType::Exact,
                    _ => MatchType::Similar,
                })
            } else {
                None
            };
            Ok((from_row(r)?, kind))
        })
        .await?;
    Ok((count, rows))
}

/// A personal API key as `scoped_api_keys` needs it.
pub struct KeyRow {
    pub label: String,
    pub last_used_at: Option<i64>,
    pub scoped_organizations: Option<String>,
    pub scoped_teams: Option<String>,
}

/// The user's keys, oldest first.
pub async fn keys_of(tx: &mut Tx, user_id: i64) -> DbResult<Vec<KeyRow>> {
    let stmt = Query::select()
        .columns([
            K::Label,
            K::LastUsedAt,
            K::ScopedOrganizations,
            K::ScopedTeams,
        ])
        .from(K::Table)
        .and_where(Expr::col(K::UserId).eq(user_id))
        .order_by(K::CreatedAt, Order::Asc)
        .order_by(K::Id, Order::Asc)
        .to_owned();
    tx.query(&stmt, |r| {
        Ok(KeyRow {
            label: r.string(0)?,
            last_used_at: r.opt_i64(1)?,
            scoped_organizations: r.opt_string(2)?,
            scoped_teams: r.opt_string(3)?,
        })
    })
    .await
}

pub async fn project_ids(tx: &mut Tx, org_id: &str) -> DbResult<Vec<i64>> {
    let stmt = Query::select()
        .column(P::Id)
        .from(P::Table)
        .and_where(Expr::col(P::OrganizationId).eq(org_id))
        .to_owned();
    tx.query(&stmt, |r| r.i64(0)).await
}

#[cfg(test)]
mod tests {
    #[test]
    fn hidden_user_repeats_the_partial_index_condition() {
        assert_eq!(
            super::HIDDEN_USER,
            crate::storage::migrations::USERS_HIDDEN_V3,
            "a new hidden-user rule needs a migration that rebuilds `users_hidden` with it"
        );
    }
}
