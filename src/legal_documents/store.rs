//! Legal-document queries. Each takes the organization, except the signing
//! webhook's lookup, where the secret's digest is the credential and names
//! the one document it belongs to.

use sea_query::{Alias, Expr, ExprTrait, JoinType, LockType, Order, Query, SelectStatement};

use super::model::{Creator, LegalDocument, SIGNED};
use crate::storage::schema::{LegalDocuments as L, Users as U};
use crate::storage::{DbError, DbResult, RowRead, Tx};

const COLUMNS: [L; 13] = [
    L::Id,
    L::OrganizationId,
    L::DocumentType,
    L::CompanyName,
    L::CompanyAddress,
    L::RepresentativeName,
    L::RepresentativeTitle,
    L::RepresentativeEmail,
    L::DpaMode,
    L::Status,
    L::SignedDocumentUrl,
    L::CreatedAt,
    L::UpdatedAt,
];

fn from_row(r: &dyn RowRead) -> DbResult<LegalDocument> {
    let created_by = match (r.opt_string(13)?, r.opt_string(14)?) {
        (Some(first_name), Some(email)) => Some(Creator { first_name, email }),
        _ => None,
    };
    Ok(LegalDocument {
        id: r.string(0)?,
        organization_id: r.string(1)?,
        document_type: r.string(2)?,
        company_name: r.string(3)?,
        company_address: r.string(4)?,
        representative_name: r.string(5)?,
        representative_title: r.string(6)?,
        representative_email: r.string(7)?,
        dpa_mode: r.string(8)?,
        status: r.string(9)?,
        signed_document_url: r.string(10)?,
        created_at: r.i64(11)?,
        updated_at: r.i64(12)?,
        created_by,
    })
}

/// Documents with their creator (NULL once the account is gone).
fn select() -> SelectStatement {
    let mut stmt = Query::select();
    stmt.columns(COLUMNS.map(|c| (L::Table, c)))
        .columns([(U::Table, U::FirstName), (U::Table, U::Email)])
        .from(L::Table)
        .join(
            JoinType::LeftJoin,
            U::Table,
            Expr::col((U::Table, U::Id)).equals((L::Table, L::CreatedById)),
        );
    stmt
}

fn in_org(org_id: &str) -> SelectStatement {
    let mut stmt = select();
    stmt.and_where(Expr::col((L::Table, L::OrganizationId)).eq(org_id));
    stmt
}

pub async fn find(tx: &mut Tx, org_id: &str, id: &str) -> DbResult<Option<LegalDocument>> {
    let mut stmt = in_org(org_id);
    stmt.and_where(Expr::col((L::Table, L::Id)).eq(id));
    tx.query_opt(&stmt, from_row).await
}

/// Newest first; ties by id so limit/offset pages never overlap.
pub async fn list(
    tx: &mut Tx,
    org_id: &str,
    limit: i64,
    offset: i64,
) -> DbResult<Vec<LegalDocument>> {
    let mut stmt = in_org(org_id);
    stmt.order_by((L::Table, L::CreatedAt), Order::Desc)
        .order_by((L::Table, L::Id), Order::Desc)
        .limit(limit as u64)
        .offset(offset as u64);
    tx.query(&stmt, from_row).await
}

pub async fn count(tx: &mut Tx, org_id: &str) -> DbResult<i64> {
    let stmt = Query::select()
        .expr_as(Expr::col(L::Id).count(), Alias::new("n"))
        .from(L::Table)
        .and_where(Expr::col(L::OrganizationId).eq(org_id))
        .to_owned();
    tx.query_opt(&stmt, |r| r.i64(0))
        .await?
        .ok_or_else(|| DbError::Other("count returned no row".into()))
}

pub async fn has_type(tx: &mut Tx, org_id: &str, document_type: &str) -> DbResult<bool> {
    let stmt = Query::select()
        .column(L::Id)
        .from(L::Table)
        .and_where(Expr::col(L::OrganizationId).eq(org_id))
        .and_where(Expr::col(L::DocumentType).eq(document_type))
        .to_owned();
    Ok(tx.query_opt(&stmt, |r| r.string(0)).await?.is_some())
}

/// Inserts the document with its secret's digest and the creator's id.
/// A second document of the same type in the organization is
/// [`DbError::Unique`] (the unique index).
pub async fn insert(
    tx: &mut Tx,
    doc: &LegalDocument,
    secret_digest: &str,
    created_by_id: i64,
) -> DbResult<()> {
    let stmt = Query::insert()
        .into_table(L::Table)
        .columns(COLUMNS.into_iter().chain([L::SecretDigest, L::CreatedById]))
        .values_panic([
            doc.id.clone().into(),
            doc.organization_id.clone().into(),
            doc.document_type.clone().into(),
            doc.company_name.clone().into(),
            doc.company_address.clone().into(),
            doc.representative_name.clone().into(),
            doc.representative_title.clone().into(),
            doc.representative_email.clone().into(),
            doc.dpa_mode.clone().into(),
            doc.status.clone().into(),
            doc.signed_document_url.clone().into(),
            doc.created_at.into(),
            doc.updated_at.into(),
            secret_digest.into(),
            created_by_id.into(),
        ])
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// The document whose secret has this digest, with the stored digest
/// (compared again in constant time by the caller).
pub async fn find_by_secret_digest(
    tx: &mut Tx,
    digest: &str,
) -> DbResult<Option<(LegalDocument, String)>> {
    let mut stmt = select();
    stmt.column((L::Table, L::SecretDigest))
        .and_where(Expr::col((L::Table, L::SecretDigest)).eq(digest));
    // FOR UPDATE OF the document alone: PostgreSQL refuses to lock the
    // nullable side of the creator join.
    stmt.lock_with_tables(LockType::Update, [L::Table]);
    tx.query_opt(&stmt, |r| Ok((from_row(r)?, r.string(15)?)))
        .await
}

/// Records the signature unless the document is signed already (the
/// condition is in the statement, so of two concurrent signings exactly
/// one applies whatever the isolation); false when it was.
pub async fn mark_signed(tx: &mut Tx, doc: &LegalDocument) -> DbResult<bool> {
    let stmt = Query::update()
        .table(L::Table)
        .value(L::Status, doc.status.clone())
        .value(L::SignedDocumentUrl, doc.signed_document_url.clone())
        .value(L::UpdatedAt, doc.updated_at)
        .and_where(Expr::col(L::OrganizationId).eq(doc.organization_id.as_str()))
        .and_where(Expr::col(L::Id).eq(doc.id.as_str()))
        .and_where(Expr::col(L::Status).ne(SIGNED))
        .and_where(Expr::col(L::SignedDocumentUrl).eq(""))
        .to_owned();
    Ok(tx.execute(&stmt).await? > 0)
}

/// Replaces a document's secret digest; false when the organization has no
/// such document.
pub async fn set_secret_digest(
    tx: &mut Tx,
    org_id: &str,
    id: &str,
    digest: &str,
    now: i64,
) -> DbResult<bool> {
    let stmt = Query::update()
        .table(L::Table)
        .value(L::SecretDigest, digest)
        .value(L::UpdatedAt, now)
        .and_where(Expr::col(L::OrganizationId).eq(org_id))
        .and_where(Expr::col(L::Id).eq(id))
        .to_owned();
    Ok(tx.execute(&stmt).await? > 0)
}

/// Locks every document of the organization until the transaction ends
/// (PostgreSQL), in id order: its deletion waits here for a signing that
/// holds one (see `organizations::deletion`).
pub async fn lock_all(tx: &mut Tx, org_id: &str) -> DbResult<()> {
    let stmt = Query::select()
        .column(L::Id)
        .from(L::Table)
        .and_where(Expr::col(L::OrganizationId).eq(org_id))
        .order_by(L::Id, Order::Asc)
        .lock(LockType::Update)
        .to_owned();
    tx.query(&stmt, |r| r.string(0)).await?;
    Ok(())
}
