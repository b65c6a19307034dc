//! Project queries. Every one takes the organization: tenant filtering lives
//! here, so no handler can forget it.

use sea_query::{Alias, Expr, ExprTrait, LikeExpr, Order, Query, SelectStatement, Value};

use super::model::Project;
use crate::access::{self, store as access_store, Visibility};
use crate::organizations::Level;
use crate::storage::schema::{OrganizationMemberships as M, Projects as P, Users};
use crate::storage::{DbError, DbResult, Prebuilt, RowRead, Tx};

const COLUMNS: [P; 13] = [
    P::Id,
    P::Uuid,
    P::OrganizationId,
    P::Name,
    P::ProductDescription,
    P::IsDemo,
    P::ApiToken,
    P::SecretApiToken,
    P::SecretApiTokenBackup,
    P::IngestedEvent,
    P::Settings,
    P::CreatedAt,
    P::UpdatedAt,
];

fn from_row(r: &dyn RowRead) -> DbResult<Project> {
    Ok(Project {
        id: r.i64(0)?,
        uuid: r.string(1)?,
        organization_id: r.string(2)?,
        name: r.string(3)?,
        product_description: r.opt_string(4)?,
        is_demo: r.bool(5)?,
        api_token: r.string(6)?,
        secret_api_token: r.opt_string(7)?,
        secret_api_token_backup: r.opt_string(8)?,
        ingested_event: r.bool(9)?,
        settings_json: r.string(10)?,
        created_at: r.i64(11)?,
        updated_at: r.i64(12)?,
    })
}

/// PostHog's duplicate-name rule compares trimmed names, ignoring case.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

fn in_org(org_id: &str) -> SelectStatement {
    let mut stmt = Query::select();
    stmt.from(P::Table)
        .and_where(Expr::col(P::OrganizationId).eq(org_id));
    stmt
}

/// `for_update`: lock the row until the transaction ends (PostgreSQL; SQLite
/// write transactions are already exclusive).
pub async fn find(
    tx: &mut Tx,
    org_id: &str,
    id: i64,
    for_update: bool,
) -> DbResult<Option<Project>> {
    let stmt = if for_update { &FIND_FOR_UPDATE } else { &FIND };
    let rows = tx
        .query_prebuilt(stmt, &(org_id.to_string(), id), from_row)
        .await?;
    Ok(rows.into_iter().next())
}

type FindArgs = (String, i64);

/// [`find`]'s statements (each PATCH runs both): their text is rendered once.
static FIND: Prebuilt<FindArgs> = Prebuilt::new(find_statement, find_values);
static FIND_FOR_UPDATE: Prebuilt<FindArgs> = Prebuilt::new(find_for_update_statement, find_values);

fn find_statement((org_id, id): &FindArgs) -> SelectStatement {
    let mut stmt = in_org(org_id);
    stmt.columns(COLUMNS).and_where(Expr::col(P::Id).eq(*id));
    stmt
}

fn find_for_update_statement(args: &FindArgs) -> SelectStatement {
    let mut stmt = find_statement(args);
    stmt.lock_exclusive();
    stmt
}

fn find_values((org_id, id): &FindArgs) -> Vec<Value> {
    vec![org_id.as_str().into(), (*id).into()]
}

fn search_filter(stmt: &mut SelectStatement, search: Option<&str>) {
    if let Some(term) = search.map(str::trim).filter(|s| !s.is_empty()) {
        let escaped = name_key(term)
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        stmt.and_where(
            Expr::col(P::NameKey).like(LikeExpr::new(format!("%{escaped}%")).escape('\\')),
        );
    }
}

/// The ids of the organization's projects matching `search` that `vis`
/// sees, in id order. A member's rules are read with the ids and resolved
/// by `access::resolve`, the one decision point.
async fn visible_ids(
    tx: &mut Tx,
    org_id: &str,
    vis: &Visibility,
    search: Option<&str>,
) -> DbResult<Vec<i64>> {
    let mut stmt = in_org(org_id);
    stmt.column((P::Table, P::Id)).order_by(P::Id, Order::Asc);
    search_filter(&mut stmt, search);
    let Visibility::Member { membership_id } = vis else {
        return tx.query(&stmt, |r| r.i64(0)).await;
    };
    access_store::select_rules(
        &mut stmt,
        access_store::rules_columns(Expr::col((P::Table, P::Id)), Expr::val(membership_id)),
    );
    let level = Some(vis.org_level());
    let rows = tx
        .query(&stmt, |r| {
            Ok((r.i64(0)?, access_store::rules_from_row(r, 1)?))
        })
        .await?;
    Ok(rows
        .into_iter()
        .filter(|(_, rules)| access::resolve(level, rules).visible())
        .map(|(id, _)| id)
        .collect())
}

/// The organization's projects with these ids, in id order.
async fn by_ids(tx: &mut Tx, org_id: &str, ids: &[i64]) -> DbResult<Vec<Project>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut stmt = in_org(org_id);
    stmt.columns(COLUMNS)
        .and_where(Expr::col(P::Id).is_in(ids.iter().copied()))
        .order_by(P::Id, Order::Asc);
    tx.query(&stmt, from_row).await
}

/// One page of the organization's projects matching `search` that `vis`
/// sees, and how many there are in all.
pub async fn page(
    tx: &mut Tx,
    org_id: &str,
    vis: &Visibility,
    search: Option<&str>,
    limit: i64,
    offset: i64,
) -> DbResult<(i64, Vec<Project>)> {
    if *vis == Visibility::All {
        let mut counted = in_org(org_id);
        search_filter(&mut counted, search);
        let count = count_where(tx, counted).await?;
        let mut stmt = in_org(org_id);
        stmt.columns(COLUMNS)
            .order_by(P::Id, Order::Asc)
            .limit(limit as u64)
            .offset(offset as u64);
        search_filter(&mut stmt, search);
        return Ok((count, tx.query(&stmt, from_row).await?));
    }
    let ids = visible_ids(tx, org_id, vis, search).await?;
    let shown = slice(&ids, limit, offset);
    Ok((ids.len() as i64, by_ids(tx, org_id, shown).await?))
}

/// `limit` ids from `offset` on.
fn slice(ids: &[i64], limit: i64, offset: i64) -> &[i64] {
    let start = usize::try_from(offset).unwrap_or(0).min(ids.len());
    let end = start
        .saturating_add(usize::try_from(limit).unwrap_or(0))
        .min(ids.len());
    &ids[start..end]
}

async fn count_where(tx: &mut Tx, stmt: SelectStatement) -> DbResult<i64> {
    let mut stmt = stmt;
    stmt.expr_as(Expr::col(P::Id).count(), Alias::new("n"));
    tx.query_opt(&stmt, |r| r.i64(0))
        .await?
        .ok_or_else(|| DbError::Other("count returned no row".into()))
}

/// Projects that count toward the per-organization limit (demo projects don't).
pub async fn count_non_demo(tx: &mut Tx, org_id: &str) -> DbResult<i64> {
    let mut stmt = in_org(org_id);
    stmt.and_where(Expr::col(P::IsDemo).eq(false));
    count_where(tx, stmt).await
}

pub async fn has_demo(tx: &mut Tx, org_id: &str, except: Option<i64>) -> DbResult<bool> {
    let mut stmt = in_org(org_id);
    stmt.and_where(Expr::col(P::IsDemo).eq(true));
    if let Some(id) = except {
        stmt.and_where(Expr::col(P::Id).ne(id));
    }
    Ok(count_where(tx, stmt).await? > 0)
}

pub async fn name_taken(
    tx: &mut Tx,
    org_id: &str,
    name: &str,
    except: Option<i64>,
) -> DbResult<bool> {
    let mut stmt = in_org(org_id);
    stmt.and_where(Expr::col(P::NameKey).eq(name_key(name)));
    if let Some(id) = except {
        stmt.and_where(Expr::col(P::Id).ne(id));
    }
    Ok(count_where(tx, stmt).await? > 0)
}

/// Names in use that look like "Default project N", for numbering the next one.
pub async fn default_name_keys(tx: &mut Tx, org_id: &str) -> DbResult<Vec<String>> {
    let mut stmt = in_org(org_id);
    stmt.column(P::NameKey)
        .and_where(Expr::col(P::NameKey).like(LikeExpr::new("default project%")));
    tx.query(&stmt, |r| r.string(0)).await
}

pub async fn insert(tx: &mut Tx, p: &Project) -> DbResult<i64> {
    let stmt = Query::insert()
        .into_table(P::Table)
        .columns([
            P::Uuid,
            P::OrganizationId,
            P::Name,
            P::NameKey,
            P::ProductDescription,
            P::IsDemo,
            P::ApiToken,
            P::SecretApiToken,
            P::SecretApiTokenBackup,
            P::IngestedEvent,
            P::Settings,
            P::CreatedAt,
            P::UpdatedAt,
        ])
        .values_panic([
            p.uuid.clone().into(),
            p.organization_id.clone().into(),
            p.name.clone().into(),
            name_key(&p.name).into(),
            p.product_description.clone().into(),
            p.is_demo.into(),
            p.api_token.clone().into(),
            p.secret_api_token.clone().into(),
            p.secret_api_token_backup.clone().into(),
            p.ingested_event.into(),
            p.settings_json.clone().into(),
            p.created_at.into(),
            p.updated_at.into(),
        ])
        .returning_col(P::Id)
        .to_owned();
    tx.query(&stmt, |r| r.i64(0))
        .await?
        .pop()
        .ok_or_else(|| DbError::Other("insert returned no id".into()))
}

/// Writes back the columns that differ between `before` and `after`: an
/// untouched name leaves the unique name index alone.
pub async fn update(tx: &mut Tx, before: &Project, after: &Project) -> DbResult<()> {
    let mut stmt = Query::update();
    stmt.table(P::Table).value(P::UpdatedAt, after.updated_at);
    if before.name != after.name {
        stmt.value(P::Name, after.name.clone())
            .value(P::NameKey, name_key(&after.name));
    }
    if before.product_description != after.product_description {
        stmt.value(P::ProductDescription, after.product_description.clone());
    }
    if before.is_demo != after.is_demo {
        stmt.value(P::IsDemo, after.is_demo);
    }
    if before.settings_json != after.settings_json {
        stmt.value(P::Settings, after.settings_json.clone());
    }
    stmt.and_where(Expr::col(P::OrganizationId).eq(after.organization_id.as_str()))
        .and_where(Expr::col(P::Id).eq(after.id));
    tx.execute(&stmt).await?;
    Ok(())
}

pub async fn delete(tx: &mut Tx, org_id: &str, id: i64) -> DbResult<()> {
    let stmt = Query::delete()
        .from_table(P::Table)
        .and_where(Expr::col(P::OrganizationId).eq(org_id))
        .and_where(Expr::col(P::Id).eq(id))
        .to_owned();
    tx.execute(&stmt).await?;
    // Nobody's current project may point at a project that is gone.
    let stmt = Query::update()
        .table(Users::Table)
        .value(Users::CurrentTeamId, Option::<i64>::None)
        .and_where(Expr::col(Users::CurrentTeamId).eq(id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// The projects of every organization the user belongs to (the membership
/// join is the tenant filter), limited to `organizations` when given.
fn of_user(user_id: i64, organizations: Option<&[String]>) -> SelectStatement {
    let mut stmt = Query::select();
    stmt.from(P::Table).inner_join(
        M::Table,
        Expr::col((M::Table, M::OrganizationId))
            .equals((P::Table, P::OrganizationId))
            .and(Expr::col((M::Table, M::UserId)).eq(user_id)),
    );
    if let Some(orgs) = organizations {
        stmt.and_where(Expr::col((P::Table, P::OrganizationId)).is_in(orgs.iter().cloned()));
    }
    stmt
}

/// One page of the projects the user sees in every organization they
/// belong to (limited to `organizations` when given), and how many there
/// are in all. Each organization's visibility is the user's there: the
/// membership join gives their level and the rules naming them.
pub async fn page_for_user(
    tx: &mut Tx,
    user_id: i64,
    organizations: Option<&[String]>,
    limit: i64,
    offset: i64,
) -> DbResult<(i64, Vec<Project>)> {
    let mut stmt = of_user(user_id, organizations);
    stmt.column((P::Table, P::Id))
        .column((M::Table, M::Level))
        .order_by((P::Table, P::Id), Order::Asc);
    access_store::select_rules(
        &mut stmt,
        access_store::rules_columns(Expr::col((P::Table, P::Id)), Expr::col((M::Table, M::Id))),
    );
    let rows = tx
        .query(&stmt, |r| {
            let level = Level::from_i64(r.i64(1)?);
            Ok((r.i64(0)?, level, access_store::rules_from_row(r, 2)?))
        })
        .await?;
    let ids: Vec<i64> = rows
        .into_iter()
        .filter(|(_, level, rules)| access::resolve(*level, rules).visible())
        .map(|(id, _, _)| id)
        .collect();
    let shown = slice(&ids, limit, offset);
    if shown.is_empty() {
        return Ok((ids.len() as i64, Vec::new()));
    }
    let mut stmt = of_user(user_id, organizations);
    stmt.columns(COLUMNS.map(|c| (P::Table, c)))
        .and_where(Expr::col((P::Table, P::Id)).is_in(shown.iter().copied()))
        .order_by((P::Table, P::Id), Order::Asc);
    Ok((ids.len() as i64, tx.query(&stmt, from_row).await?))
}

/// Every project of the organization that `vis` sees, in id order.
pub async fn all(tx: &mut Tx, org_id: &str, vis: &Visibility) -> DbResult<Vec<Project>> {
    if *vis == Visibility::All {
        let mut stmt = in_org(org_id);
        stmt.columns(COLUMNS).order_by(P::Id, Order::Asc);
        return tx.query(&stmt, from_row).await;
    }
    let ids = visible_ids(tx, org_id, vis, None).await?;
    by_ids(tx, org_id, &ids).await
}

/// The first project of the organization (lowest id) that `vis` sees: the
/// fallback of `@current` and of the user's current project.
pub async fn first_visible(tx: &mut Tx, org_id: &str, vis: &Visibility) -> DbResult<Option<i64>> {
    if *vis == Visibility::All {
        let mut stmt = in_org(org_id);
        stmt.column(P::Id).order_by(P::Id, Order::Asc).limit(1);
        return tx.query_opt(&stmt, |r| r.i64(0)).await;
    }
    Ok(visible_ids(tx, org_id, vis, None).await?.first().copied())
}

/// Locks every project of the organization until the transaction ends
/// (PostgreSQL), in id order; returns their ids. Its deletion waits here for
/// the writers that hold one (see `organizations::deletion`).
pub async fn lock_all(tx: &mut Tx, org_id: &str) -> DbResult<Vec<i64>> {
    let mut stmt = in_org(org_id);
    stmt.column(P::Id)
        .order_by(P::Id, Order::Asc)
        .lock_exclusive();
    tx.query(&stmt, |r| r.i64(0)).await
}

/// The organization's project ids, as a subquery.
pub fn ids_of(org_id: &str) -> SelectStatement {
    let mut stmt = in_org(org_id);
    stmt.column(P::Id);
    stmt
}

#[cfg(test)]
mod tests {
    use super::{FIND, FIND_FOR_UPDATE};

    #[test]
    fn the_find_statements_bind_what_their_values_say() {
        for stmt in [&FIND, &FIND_FOR_UPDATE] {
            stmt.check(&("org".into(), 42));
            stmt.check(&("another".into(), -1));
        }
    }
}
