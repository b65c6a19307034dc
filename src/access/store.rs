//! Every query of project access control: the rules that apply to a caller
//! on a project, and writing rules.

use std::collections::HashMap;

use sea_query::{
    Expr, ExprTrait, JoinType, LockType, OnConflict, Order, Query, SelectStatement, Value,
};

use super::model::{MemberAccess, Rule};
use super::rules::{resolve, RuleLevel, Rules};
use crate::organizations::{self, Level, MembershipLevel, Organization};
use crate::storage::schema::{
    AccessControls as A, OrganizationMemberships as M, Organizations as O, Projects as P,
    RoleMemberships as RM, Roles as R, Users as U,
};
use crate::storage::{DbResult, Prebuilt, RowRead, Tx};

/// The subject key of a project's default rule; member and role rules use
/// [`member_key`] and [`role_key`]. One rule per (project, subject key).
pub const DEFAULT_KEY: &str = "default";

pub fn member_key(membership_id: &str) -> String {
    format!("member:{membership_id}")
}

pub fn role_key(role_id: &str) -> String {
    format!("role:{role_id}")
}

/// One rule's level, as a scalar subquery on the project `project`.
fn rule_level(project: Expr, subject_key: String) -> SelectStatement {
    Query::select()
        .column(A::AccessLevel)
        .from(A::Table)
        .and_where(Expr::col((A::Table, A::ProjectId)).eq(project))
        .and_where(Expr::col((A::Table, A::SubjectKey)).eq(subject_key))
        .to_owned()
}

/// The highest rule on the project `project` naming a role the membership
/// `membership` holds (a membership belongs to one organization, so another
/// organization's roles never apply).
fn role_max(project: Expr, membership: Expr) -> SelectStatement {
    Query::select()
        .expr(Expr::col((A::Table, A::AccessLevel)).max())
        .from(A::Table)
        .and_where(Expr::col((A::Table, A::ProjectId)).eq(project))
        .and_where(
            Expr::col((A::Table, A::RoleId)).in_subquery(
                Query::select()
                    .column((RM::Table, RM::RoleId))
                    .from(RM::Table)
                    .and_where(Expr::col((RM::Table, RM::MembershipId)).eq(membership))
                    .to_owned(),
            ),
        )
        .to_owned()
}

/// The three subqueries that give [`Rules`] for the membership `membership`
/// on the project `project` (each a column of the enclosing statement, or a
/// value): the member rule (found by the membership it names: one per
/// project, by the subject key's uniqueness), the highest rule naming a role
/// the membership holds, and the default rule.
pub fn rules_columns(project: Expr, membership: Expr) -> [SelectStatement; 3] {
    let member = Query::select()
        .column((A::Table, A::AccessLevel))
        .from(A::Table)
        .and_where(Expr::col((A::Table, A::ProjectId)).eq(project.clone()))
        .and_where(Expr::col((A::Table, A::MembershipId)).eq(membership.clone()))
        .to_owned();
    [
        member,
        role_max(project.clone(), membership),
        rule_level(project, DEFAULT_KEY.to_string()),
    ]
}

/// Adds the three [`Rules`] subqueries to `stmt` as columns.
pub fn select_rules(stmt: &mut SelectStatement, columns: [SelectStatement; 3]) {
    for q in columns {
        stmt.expr(Expr::SubQuery(None, Box::new(q.into())));
    }
}

/// Reads [`rules_columns`]'s three values starting at column `at`.
pub fn rules_from_row(r: &dyn crate::storage::RowRead, at: usize) -> DbResult<Rules> {
    let level = |i| Ok::<_, crate::storage::DbError>(r.opt_i64(i)?.map(RuleLevel::from_i64));
    Ok(Rules {
        member: level(at)?,
        role: level(at + 1)?,
        default: level(at + 2)?,
    })
}

/// The rules that apply to `membership_id` on one project.
pub async fn rules_for(tx: &mut Tx, project_id: i64, membership_id: &str) -> DbResult<Rules> {
    let mut stmt = Query::select();
    select_rules(
        &mut stmt,
        rules_columns(Expr::val(project_id), Expr::val(membership_id)),
    );
    let rules = tx.query_opt(&stmt, |r| rules_from_row(r, 0)).await?;
    Ok(rules.unwrap_or_default())
}

/// What the route checks know of one project for one user: its
/// organization, the user's membership of it, and the rules that apply to
/// that membership.
#[derive(Clone, Debug)]
pub struct ProjectAccess {
    pub organization: Organization,
    pub membership: Option<MembershipLevel>,
    pub rules: Rules,
}

/// The one statement every project route resolves through: the project
/// `project_id` (of the organization `org_id` when given), its organization,
/// the user's membership there and the rules naming it. `None`: no such
/// project (in that organization).
pub async fn project_access(
    tx: &mut Tx,
    project_id: i64,
    org_id: Option<&str>,
    user_id: i64,
) -> DbResult<Option<ProjectAccess>> {
    let mut stmt = Query::select();
    stmt.columns(organizations::COLUMNS.map(|c| (O::Table, c)))
        .column((M::Table, M::Level))
        .column((M::Table, M::Id))
        .from(P::Table)
        .inner_join(
            O::Table,
            Expr::col((O::Table, O::Id)).equals((P::Table, P::OrganizationId)),
        )
        .join(
            JoinType::LeftJoin,
            M::Table,
            Expr::col((M::Table, M::OrganizationId))
                .equals((P::Table, P::OrganizationId))
                .and(Expr::col((M::Table, M::UserId)).eq(user_id)),
        )
        .and_where(Expr::col((P::Table, P::Id)).eq(project_id));
    if let Some(org_id) = org_id {
        stmt.and_where(Expr::col((P::Table, P::OrganizationId)).eq(org_id));
    }
    select_rules(
        &mut stmt,
        rules_columns(Expr::col((P::Table, P::Id)), Expr::col((M::Table, M::Id))),
    );
    const AT: usize = organizations::COLUMNS.len();
    tx.query_opt(&stmt, |r| {
        Ok(ProjectAccess {
            organization: Organization::from_row(r, 0)?,
            membership: organizations::store::membership_from_row(r, AT)?,
            rules: rules_from_row(r, AT + 2)?,
        })
    })
    .await
}

/// The org mount's check, where the organization and the caller's
/// membership are known already: the rules naming `membership_id` on the
/// organization's project `project_id`, or `None` when the organization has
/// no such project. A smaller statement than [`project_access`]: it runs on
/// every request under `/api/organizations/:id/projects/:id/`.
pub async fn project_rules(
    tx: &mut Tx,
    org_id: &str,
    project_id: i64,
    membership_id: &str,
) -> DbResult<Option<Rules>> {
    let args = (org_id.to_string(), project_id, membership_id.to_string());
    let rows = tx
        .query_prebuilt(&PROJECT_RULES, &args, |r| rules_from_row(r, 1))
        .await?;
    Ok(rows.into_iter().next())
}

type ProjectRulesArgs = (String, i64, String);

/// [`project_rules`]'s statement: its text is rendered once.
static PROJECT_RULES: Prebuilt<ProjectRulesArgs> =
    Prebuilt::new(project_rules_statement, project_rules_values);

fn project_rules_statement(
    (org_id, project_id, membership_id): &ProjectRulesArgs,
) -> SelectStatement {
    let mut stmt = Query::select();
    stmt.column(P::Id)
        .from(P::Table)
        .and_where(Expr::col(P::Id).eq(*project_id))
        .and_where(Expr::col(P::OrganizationId).eq(org_id.as_str()));
    select_rules(
        &mut stmt,
        rules_columns(Expr::val(*project_id), Expr::val(membership_id.as_str())),
    );
    stmt
}

/// The values of [`project_rules_statement`] in the order its text binds
/// them: the three subqueries' (member rule, role rules, default rule),
/// then the project and the organization.
fn project_rules_values((org_id, project_id, membership_id): &ProjectRulesArgs) -> Vec<Value> {
    vec![
        (*project_id).into(),
        membership_id.as_str().into(),
        (*project_id).into(),
        membership_id.as_str().into(),
        (*project_id).into(),
        DEFAULT_KEY.into(),
        (*project_id).into(),
        org_id.as_str().into(),
    ]
}

/// A rule to write: who it names and who writes it.
pub struct NewRule<'a> {
    pub organization_id: &'a str,
    pub project_id: i64,
    pub membership_id: Option<&'a str>,
    pub role_id: Option<&'a str>,
    pub level: RuleLevel,
    pub by: Option<i64>,
}

impl NewRule<'_> {
    fn subject_key(&self) -> String {
        match (self.membership_id, self.role_id) {
            (Some(m), _) => member_key(m),
            (None, Some(r)) => role_key(r),
            (None, None) => DEFAULT_KEY.to_string(),
        }
    }
}

/// Creates the rule for its subject, or sets the level of the one there is
/// (the unique subject key makes two writers racing leave one rule; the
/// first writer stays its `created_by`).
pub async fn upsert(tx: &mut Tx, rule: &NewRule<'_>, now: i64) -> DbResult<()> {
    let stmt = Query::insert()
        .into_table(A::Table)
        .columns([
            A::Id,
            A::OrganizationId,
            A::ProjectId,
            A::SubjectKey,
            A::MembershipId,
            A::RoleId,
            A::AccessLevel,
            A::CreatedById,
            A::CreatedAt,
            A::UpdatedAt,
        ])
        .values_panic([
            uuid::Uuid::now_v7().to_string().into(),
            rule.organization_id.into(),
            rule.project_id.into(),
            rule.subject_key().into(),
            rule.membership_id.map(str::to_string).into(),
            rule.role_id.map(str::to_string).into(),
            rule.level.as_i64().into(),
            rule.by.into(),
            now.into(),
            now.into(),
        ])
        .on_conflict(
            OnConflict::columns([A::ProjectId, A::SubjectKey])
                .update_columns([A::AccessLevel, A::UpdatedAt])
                .to_owned(),
        )
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// The caller's membership in the organization: its id and level (`None`:
/// not a member, e.g. removed since the request was routed).
pub async fn membership(
    tx: &mut Tx,
    org_id: &str,
    user_id: i64,
) -> DbResult<Option<(String, Level)>> {
    let stmt = Query::select()
        .columns([M::Id, M::Level])
        .from(M::Table)
        .and_where(Expr::col(M::OrganizationId).eq(org_id))
        .and_where(Expr::col(M::UserId).eq(user_id))
        .to_owned();
    let row = tx
        .query_opt(&stmt, |r| Ok((r.string(0)?, r.i64(1)?)))
        .await?;
    Ok(row.and_then(|(id, level)| Some((id, Level::from_i64(level)?))))
}

/// The lock order of every access-control write (design §6.3): the
/// organization row `FOR NO KEY UPDATE` (member writes and organization
/// deletion wait; foreign-key checks of a project writer do not), then the
/// project `FOR UPDATE`. Returns the project's name, `None` when it is not
/// (or no longer) one of the organization's. SQLite's write transactions
/// already exclude each other.
pub async fn lock_project(tx: &mut Tx, org_id: &str, project_id: i64) -> DbResult<Option<String>> {
    organizations::lock_no_key(tx, org_id).await?;
    let pg = tx.is_postgres();
    let mut stmt = Query::select();
    stmt.column(P::Name)
        .from(P::Table)
        .and_where(Expr::col(P::OrganizationId).eq(org_id))
        .and_where(Expr::col(P::Id).eq(project_id));
    if pg {
        stmt.lock(LockType::Update);
    }
    tx.query_opt(&stmt, |r| r.string(0)).await
}

const RULE_COLUMNS: [A; 7] = [
    A::ProjectId,
    A::AccessLevel,
    A::MembershipId,
    A::RoleId,
    A::CreatedById,
    A::CreatedAt,
    A::UpdatedAt,
];

fn rule_from_row(r: &dyn RowRead) -> DbResult<Rule> {
    Ok(Rule {
        project_id: r.i64(0)?,
        level: RuleLevel::from_i64(r.i64(1)?),
        membership_id: r.opt_string(2)?,
        role_id: r.opt_string(3)?,
        created_by: r.opt_i64(4)?,
        created_at: r.i64(5)?,
        updated_at: r.i64(6)?,
    })
}

/// Every rule of a project, oldest first.
pub async fn list(tx: &mut Tx, org_id: &str, project_id: i64) -> DbResult<Vec<Rule>> {
    let stmt = Query::select()
        .columns(RULE_COLUMNS)
        .from(A::Table)
        .and_where(Expr::col(A::OrganizationId).eq(org_id))
        .and_where(Expr::col(A::ProjectId).eq(project_id))
        .order_by(A::CreatedAt, Order::Asc)
        .order_by(A::Id, Order::Asc)
        .to_owned();
    tx.query(&stmt, rule_from_row).await
}

/// The rule of one subject on a project, if there is one.
pub async fn find(tx: &mut Tx, rule: &NewRule<'_>) -> DbResult<Option<Rule>> {
    let stmt = Query::select()
        .columns(RULE_COLUMNS)
        .from(A::Table)
        .and_where(Expr::col(A::OrganizationId).eq(rule.organization_id))
        .and_where(Expr::col(A::ProjectId).eq(rule.project_id))
        .and_where(Expr::col(A::SubjectKey).eq(rule.subject_key()))
        .to_owned();
    tx.query_opt(&stmt, rule_from_row).await
}

/// Deletes the rule of one subject on a project; how many went (0 or 1).
pub async fn delete(tx: &mut Tx, rule: &NewRule<'_>) -> DbResult<u64> {
    let stmt = Query::delete()
        .from_table(A::Table)
        .and_where(Expr::col(A::OrganizationId).eq(rule.organization_id))
        .and_where(Expr::col(A::ProjectId).eq(rule.project_id))
        .and_where(Expr::col(A::SubjectKey).eq(rule.subject_key()))
        .to_owned();
    tx.execute(&stmt).await
}

/// The organization of a membership, looked up by id in any organization:
/// PostHog's PUT tells "no such member" from "another organization's".
pub async fn membership_organization(tx: &mut Tx, membership_id: &str) -> DbResult<Option<String>> {
    let stmt = Query::select()
        .column(M::OrganizationId)
        .from(M::Table)
        .and_where(Expr::col(M::Id).eq(membership_id))
        .to_owned();
    tx.query_opt(&stmt, |r| r.string(0)).await
}

/// The organization of a role, looked up by id in any organization (as
/// [`membership_organization`]).
pub async fn role_organization(tx: &mut Tx, role_id: &str) -> DbResult<Option<String>> {
    let stmt = Query::select()
        .column(R::OrganizationId)
        .from(R::Table)
        .and_where(Expr::col(R::Id).eq(role_id))
        .to_owned();
    tx.query_opt(&stmt, |r| r.string(0)).await
}

/// Every active member of the organization with their level resolved on the
/// project, in one statement: the memberships joined with their users, each
/// with its member rule and the highest rule of its roles here, and the
/// project's default rule.
pub async fn members_on(tx: &mut Tx, org_id: &str, project_id: i64) -> DbResult<Vec<MemberAccess>> {
    let member = Query::select()
        .column((A::Table, A::AccessLevel))
        .from(A::Table)
        .and_where(Expr::col((A::Table, A::ProjectId)).eq(project_id))
        .and_where(Expr::col((A::Table, A::MembershipId)).equals((M::Table, M::Id)))
        .to_owned();
    let role = Query::select()
        .expr(Expr::col((A::Table, A::AccessLevel)).max())
        .from(A::Table)
        .and_where(Expr::col((A::Table, A::ProjectId)).eq(project_id))
        .and_where(
            Expr::col((A::Table, A::RoleId)).in_subquery(
                Query::select()
                    .column((RM::Table, RM::RoleId))
                    .from(RM::Table)
                    .and_where(Expr::col((RM::Table, RM::MembershipId)).equals((M::Table, M::Id)))
                    .to_owned(),
            ),
        )
        .to_owned();
    let default = rule_level(Expr::val(project_id), DEFAULT_KEY.to_string());
    let mut stmt = Query::select();
    stmt.column((U::Table, U::Uuid))
        .column((M::Table, M::Id))
        .column((M::Table, M::Level));
    for q in [member, role, default] {
        stmt.expr(Expr::SubQuery(None, Box::new(q.into())));
    }
    stmt.from(M::Table)
        .join(
            JoinType::InnerJoin,
            U::Table,
            Expr::col((U::Table, U::Id)).equals((M::Table, M::UserId)),
        )
        .and_where(Expr::col((M::Table, M::OrganizationId)).eq(org_id))
        .and_where(Expr::col((U::Table, U::IsActive)).eq(true));
    let rows = tx
        .query(&stmt, |r| {
            Ok((r.string(0)?, r.string(1)?, r.i64(2)?, rules_from_row(r, 3)?))
        })
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(user_uuid, membership_id, level, rules)| {
            let level = Level::from_i64(level)?;
            Some(MemberAccess {
                user_uuid,
                membership_id,
                level,
                resolved: resolve(Some(level), &rules),
            })
        })
        .collect())
}

/// Every project of the organization with the rules that apply to the
/// membership there (the invite checks, read in the invite's transaction).
pub async fn invite_facts(
    tx: &mut Tx,
    org_id: &str,
    membership_id: &str,
) -> DbResult<HashMap<i64, Rules>> {
    let mut stmt = Query::select();
    stmt.column((P::Table, P::Id));
    for q in rules_columns(Expr::col((P::Table, P::Id)), Expr::val(membership_id)) {
        stmt.expr(Expr::SubQuery(None, Box::new(q.into())));
    }
    stmt.from(P::Table)
        .and_where(Expr::col((P::Table, P::OrganizationId)).eq(org_id));
    let rows = tx
        .query(&stmt, |r| Ok((r.i64(0)?, rules_from_row(r, 1)?)))
        .await?;
    Ok(rows.into_iter().collect())
}

/// The organization's projects by id, with their names (an accepted invite's
/// rules are logged on each project).
pub async fn project_names(tx: &mut Tx, org_id: &str) -> DbResult<HashMap<i64, String>> {
    let stmt = Query::select()
        .columns([P::Id, P::Name])
        .from(P::Table)
        .and_where(Expr::col(P::OrganizationId).eq(org_id))
        .to_owned();
    Ok(tx
        .query(&stmt, |r| Ok((r.i64(0)?, r.string(1)?)))
        .await?
        .into_iter()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_project_rules_statement_binds_what_its_values_say() {
        PROJECT_RULES.check(&("org".into(), 42, "membership".into()));
        PROJECT_RULES.check(&("another".into(), -1, "".into()));
    }
}
