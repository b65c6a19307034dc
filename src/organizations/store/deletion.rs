//! Deleting an organization removes everything it holds, in the caller's
//! one transaction, by one mechanism: every table of data that belongs to an
//! organization references it, or one of its projects or memberships, with
//! `ON DELETE CASCADE` (migration 9 made the activity log's and the OAuth
//! applications' keys so), and deleting the organization row takes its
//! projects, their member access, its memberships, invites, legal documents,
//! OAuth applications and activity log along.
//!
//! Users' current organization goes NULL by its `SET NULL` key. Done here
//! first, because no foreign key does it: keys' restrictions lose the
//! organization and its projects (JSON lists; restrictions never widen), and
//! users' current project pointers into it are cleared.
//! `tests/api/organization_deletion.rs` proves that no row of the
//! organization is left in any table of the database.

use sea_query::{Expr, ExprTrait, LockType, Query};
use serde_json::json;

use crate::storage::schema::{Organizations as O, PersonalApiKeys as K, Users as U};
use crate::storage::{DbResult, Tx};

/// What becomes of a key's restriction list when some of its targets are gone.
#[derive(Debug, PartialEq, Eq)]
pub enum Restriction<T> {
    /// It named none of them.
    Unchanged,
    /// It still names others: it keeps only those.
    Narrowed(Vec<T>),
    /// It named only what is gone. An empty list means "unrestricted", so the
    /// key cannot keep one: it is deleted (it could reach nothing anyway).
    Void,
}

pub fn after_removal<T: PartialEq + Clone>(list: &[T], gone: &[T]) -> Restriction<T> {
    if !list.iter().any(|x| gone.contains(x)) {
        return Restriction::Unchanged;
    }
    let kept: Vec<T> = list.iter().filter(|x| !gone.contains(x)).cloned().collect();
    if kept.is_empty() {
        Restriction::Void
    } else {
        Restriction::Narrowed(kept)
    }
}

/// Deletes the organization and all it holds. The caller has locked nothing
/// yet. On PostgreSQL the organization row is locked first, as every writer
/// of an organization locks it, but `FOR NO KEY UPDATE`: a writer already
/// holding one of its projects or documents (a project update, the signing
/// webhook) may still insert its activity entry, whose foreign-key check
/// takes `KEY SHARE` on the row, and commit. Then its projects and
/// documents are locked, which waits for those writers; only then is the
/// row deleted, which takes its full lock, so the cascade never waits for a
/// project or document while holding what their writers need.
pub async fn delete(tx: &mut Tx, org_id: &str) -> DbResult<()> {
    lock(tx, org_id).await?;
    let projects = crate::projects::store::lock_all(tx, org_id).await?;
    crate::legal_documents::store::lock_all(tx, org_id).await?;
    narrow_keys(tx, org_id, &projects).await?;
    // The current project has no foreign key (one would mean rebuilding
    // `users`, which six tables reference, on SQLite): users whose current
    // project or organization is here lose it, as they always have. The
    // current organization goes NULL by its SET NULL key.
    let stmt =
        Query::update()
            .table(U::Table)
            .value(U::CurrentTeamId, Option::<i64>::None)
            .and_where(Expr::col(U::CurrentOrganizationId).eq(org_id).or(
                Expr::col(U::CurrentTeamId).in_subquery(crate::projects::store::ids_of(org_id)),
            ))
            .to_owned();
    tx.execute(&stmt).await?;
    let stmt = Query::delete()
        .from_table(O::Table)
        .and_where(Expr::col(O::Id).eq(org_id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// The organization row, `FOR NO KEY UPDATE` (PostgreSQL; SQLite's write
/// transactions already exclude each other): other writers' `FOR UPDATE`
/// waits, their foreign-key checks do not. Also the first lock of every
/// access-control write (`organizations::lock_no_key`).
pub async fn lock(tx: &mut Tx, org_id: &str) -> DbResult<()> {
    if tx.is_postgres() {
        let stmt = Query::select()
            .column(O::Id)
            .from(O::Table)
            .and_where(Expr::col(O::Id).eq(org_id))
            .lock(LockType::NoKeyUpdate)
            .to_owned();
        tx.query(&stmt, |r| r.string(0)).await?;
    }
    Ok(())
}

/// Takes the organization and its projects out of every key's restrictions.
/// Restrictions that cannot be read are left alone: such keys are refused
/// everywhere already.
async fn narrow_keys(tx: &mut Tx, org_id: &str, projects: &[i64]) -> DbResult<()> {
    let mut stmt = Query::select();
    stmt.columns([K::Id, K::ScopedOrganizations, K::ScopedTeams])
        .from(K::Table);
    let names_org = Expr::col(K::ScopedOrganizations).like(format!("%{org_id}%"));
    if projects.is_empty() {
        stmt.and_where(names_org);
    } else {
        stmt.and_where(names_org.or(Expr::col(K::ScopedTeams).is_not_null()));
    }
    let keys = tx
        .query(&stmt, |r| {
            Ok((r.string(0)?, r.opt_string(1)?, r.opt_string(2)?))
        })
        .await?;
    let gone_org = [org_id.to_string()];
    for (id, orgs, teams) in keys {
        let orgs: Option<Vec<String>> = orgs.and_then(|s| serde_json::from_str(&s).ok());
        let teams: Option<Vec<i64>> = teams.and_then(|s| serde_json::from_str(&s).ok());
        let orgs = orgs.map_or(Restriction::Unchanged, |l| after_removal(&l, &gone_org));
        let teams = teams.map_or(Restriction::Unchanged, |l| after_removal(&l, projects));
        if orgs == Restriction::Void || teams == Restriction::Void {
            let stmt = Query::delete()
                .from_table(K::Table)
                .and_where(Expr::col(K::Id).eq(id.as_str()))
                .to_owned();
            tx.execute(&stmt).await?;
            continue;
        }
        let mut stmt = Query::update();
        stmt.table(K::Table)
            .and_where(Expr::col(K::Id).eq(id.as_str()));
        let mut changed = false;
        if let Restriction::Narrowed(l) = orgs {
            stmt.value(K::ScopedOrganizations, json!(l).to_string());
            changed = true;
        }
        if let Restriction::Narrowed(l) = teams {
            stmt.value(K::ScopedTeams, json!(l).to_string());
            changed = true;
        }
        if changed {
            tx.execute(&stmt).await?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn restrictions_never_widen() {
        let gone = ["a".to_string()];
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(after_removal(&s(&["b"]), &gone), Restriction::Unchanged);
        assert_eq!(after_removal(&s(&[]), &gone), Restriction::Unchanged);
        assert_eq!(
            after_removal(&s(&["a", "b"]), &gone),
            Restriction::Narrowed(s(&["b"]))
        );
        assert_eq!(after_removal(&s(&["a"]), &gone), Restriction::Void);
        assert_eq!(after_removal(&s(&["a", "a"]), &gone), Restriction::Void);
        assert_eq!(after_removal(&[1, 2], &[1, 2, 3]), Restriction::Void);
    }
}
