//! Deleting an organization removes everything it holds, in the caller's
//! one transaction: its projects (and everyone's pointers to them), its
//! activity log, its memberships, the keys' restrictions to it, and the
//! organization row, whose foreign keys cascade to the tables of the
//! resources that hang off it (invites, legal documents, OAuth applications).

use sea_query::{Expr, ExprTrait, Query};
use serde_json::json;

use crate::storage::schema::{
    OrganizationMemberships as M, Organizations as O, PersonalApiKeys as K, Users as U,
};
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
/// yet: this locks the organization row first (PostgreSQL).
pub async fn delete(tx: &mut Tx, org_id: &str) -> DbResult<()> {
    super::lock(tx, org_id).await?;
    let projects = crate::projects::store::delete_for_organization(tx, org_id).await?;
    crate::activity::delete_for_organization(tx, org_id).await?;
    crate::legal_documents::store::delete_for_organization(tx, org_id).await?;
    crate::oauth_applications::store::delete_for_organization(tx, org_id).await?;
    narrow_keys(tx, org_id, &projects).await?;
    let stmt = Query::update()
        .table(U::Table)
        .value(U::CurrentOrganizationId, Option::<String>::None)
        .value(U::CurrentTeamId, Option::<i64>::None)
        .and_where(Expr::col(U::CurrentOrganizationId).eq(org_id))
        .to_owned();
    tx.execute(&stmt).await?;
    let stmt = Query::delete()
        .from_table(M::Table)
        .and_where(Expr::col(M::OrganizationId).eq(org_id))
        .to_owned();
    tx.execute(&stmt).await?;
    let stmt = Query::delete()
        .from_table(O::Table)
        .and_where(Expr::col(O::Id).eq(org_id))
        .to_owned();
    tx.execute(&stmt).await?;
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
