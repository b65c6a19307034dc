//! OAuth-application queries; the list takes the organization.

use sea_query::{Alias, Expr, ExprTrait, Order, Query};

use super::model::OAuthApplication;
use crate::storage::schema::OauthApplications as A;
use crate::storage::{DbError, DbResult, RowRead, Tx};

const COLUMNS: [A; 8] = [
    A::Id,
    A::OrganizationId,
    A::Name,
    A::ClientId,
    A::RedirectUris,
    A::IsVerified,
    A::Created,
    A::Updated,
];

fn from_row(r: &dyn RowRead) -> DbResult<OAuthApplication> {
    Ok(OAuthApplication {
        id: r.string(0)?,
        organization_id: r.opt_string(1)?,
        name: r.string(2)?,
        client_id: r.string(3)?,
        redirect_uris: r.string(4)?,
        is_verified: r.bool(5)?,
        created: r.i64(6)?,
        updated: r.i64(7)?,
    })
}

/// Newest first; ties by id, so limit/offset pages never overlap.
pub async fn list(
    tx: &mut Tx,
    org_id: &str,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<OAuthApplication>> {
    let stmt = Query::select()
        .columns(COLUMNS)
        .from(A::Table)
        .and_where(Expr::col(A::OrganizationId).eq(org_id))
        .order_by(A::Created, Order::Desc)
        .order_by(A::Id, Order::Desc)
        .limit(limit as u64)
        .offset(offset as u64)
        .to_owned();
    tx.query(&stmt, from_row).await
}

pub async fn count(tx: &mut Tx, org_id: &str) -> DbResult<i64> {
    let stmt = Query::select()
        .expr_as(Expr::col(A::Id).count(), Alias::new("n"))
        .from(A::Table)
        .and_where(Expr::col(A::OrganizationId).eq(org_id))
        .to_owned();
    tx.query_opt(&stmt, |r| r.i64(0))
        .await?
        .ok_or_else(|| DbError::Other("count returned no row".into()))
}

pub async fn insert(tx: &mut Tx, app: &OAuthApplication) -> DbResult<()> {
    let stmt = Query::insert()
        .into_table(A::Table)
        .columns(COLUMNS)
        .values_panic([
            app.id.clone().into(),
            app.organization_id.clone().into(),
            app.name.clone().into(),
            app.client_id.clone().into(),
            app.redirect_uris.clone().into(),
            app.is_verified.into(),
            app.created.into(),
            app.updated.into(),
        ])
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}
