//! `/api/organizations/:organization_id/legal_documents/...` (list, create,
//! retrieve; PostHog's early version maps no update or delete) and the
//! public signing webhook `POST /api/legal_documents/signed`.
//!
//! The signing round trip: each document is created with a random secret of
//! which only the SHA-256 digest is stored, so nobody, the API included, can
//! show it. An operator hands a secret to the signing service with
//! `prickle admin roll-legal-document-secret`, which replaces the digest and
//! prints the new secret once; the service posts it back with the signed
//! document's URL, and the document becomes `signed`. That is final: the
//! secret changes nothing afterwards (`rules::is_signed`).

pub mod model;
pub mod openapi;
pub mod payload;
pub mod rules;
pub mod store;

use axum::response::Response;
use serde_json::{json, Value};

use crate::activity;
use crate::auth::{keys, Scope};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, pagination, ApiRequest, App, Member, NonMember, Routes};
use crate::organizations::{self, Organization};
use crate::rate_limit::Throttle;
use crate::storage::{DbError, Tx};
use crate::time;
use model::{Creator, LegalDocument};

const READ: &[Scope] = &[Scope::read("legal_document")];
const WRITE: &[Scope] = &[Scope::write("legal_document")];

const LIST_PATH: &str = "/api/organizations/{organization_id}/legal_documents";
const DETAIL_PATH: &str = "/api/organizations/{organization_id}/legal_documents/{id}";
pub const SIGNED_PATH: &str = "/api/legal_documents/signed";

/// The activity log's scope for these entries.
const SCOPE: &str = "LegalDocument";

pub fn routes(r: Routes) -> Routes {
    use openapi as doc;
    use NonMember::Forbidden;
    r.organization(doc::list(), READ, Forbidden, list)
        .organization(doc::create(), WRITE, Forbidden, create)
        .organization(doc::retrieve(), READ, Forbidden, retrieve)
        // PostHog's per-address limits on its signing webhook, when rate
        // limits are on.
        .public_throttled(doc::signed(), Throttle::SigningWebhook, signed)
}

/// A fresh signing secret (≈256 bits) and the digest that is all we keep.
pub fn new_secret() -> (String, String) {
    let secret = keys::random_token(43);
    let digest = keys::secure_value(&secret);
    (secret, digest)
}

async fn list(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    organizations::require_admin(ctx.level)?;
    let query = req.query_pairs();
    let page = pagination::page(&query);
    let base = app.absolute(req.uri.path());
    let mut tx = app.db.read().await?;
    let count = store::count(&mut tx, &ctx.org.id).await?;
    let docs = store::list(&mut tx, &ctx.org.id, page.limit, page.offset).await?;
    tx.commit().await?;
    let shown: Vec<_> = docs.iter().map(LegalDocument::shown).collect();
    http::ok_json(pagination::envelope_of(&base, &query, page, count, &shown)?)
}

async fn retrieve(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    organizations::require_admin(ctx.level)?;
    let id = req
        .param("id")
        .and_then(organizations::parse_uuid)
        .ok_or_else(ApiError::not_found)?;
    let mut tx = app.db.read().await?;
    let doc = store::find(&mut tx, &ctx.org.id, &id).await?;
    tx.commit().await?;
    http::ok_of(&doc.ok_or_else(ApiError::not_found)?.shown())
}

/// One activity entry about a document; `user_id` None for the signing
/// service (a system entry).
async fn log(
    tx: &mut Tx,
    org: &Organization,
    doc: &LegalDocument,
    user_id: Option<i64>,
    activity: &str,
    changes: Option<Vec<Value>>,
    now: i64,
) -> ApiResult<()> {
    let mut detail = activity::detail(&doc.activity_name(activity), changes);
    detail["context"] = json!({
        "organization_id": org.id,
        "organization_name": org.name,
        "document_type": doc.document_type,
        "company_name": doc.company_name,
    });
    let entry = activity::Entry {
        organization_id: &org.id,
        team_id: None,
        user_id,
        activity,
        scope: SCOPE,
        item_id: doc.id.clone(),
        detail,
    };
    Ok(activity::record(tx, entry, now).await?)
}

async fn create(app: App, mut req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    organizations::require_admin(ctx.level)?;
    let new = payload::validate_create(req.data()?)?;
    let now = time::now_micros();
    let user = &ctx.caller.user;
    let doc = LegalDocument {
        id: uuid::Uuid::now_v7().to_string(),
        organization_id: ctx.org.id.clone(),
        document_type: new.document_type,
        company_name: new.company_name,
        company_address: new.company_address,
        representative_name: new.representative_name,
        representative_title: new.representative_title,
        representative_email: new.representative_email,
        dpa_mode: new.dpa_mode,
        status: model::SUBMITTED.into(),
        signed_document_url: String::new(),
        created_by: Some(Creator {
            first_name: user.first_name.clone(),
            email: user.email.clone(),
        }),
        created_at: now,
        updated_at: now,
    };
    // Nobody learns this secret: the operator rolls a new one for the
    // signing service (see the module comment).
    let (_, digest) = new_secret();
    let mut tx = app.db.write().await?;
    if store::has_type(&mut tx, &ctx.org.id, &doc.document_type).await? {
        return Err(payload::duplicate(&doc.document_type));
    }
    // A concurrent create that passed the check above is stopped here.
    store::insert(&mut tx, &doc, &digest, user.id)
        .await
        .map_err(|e| match e {
            DbError::Unique => payload::duplicate(&doc.document_type),
            e => e.into(),
        })?;
    log(&mut tx, &ctx.org, &doc, Some(user.id), "created", None, now).await?;
    tx.commit().await?;
    http::created_of(&doc.shown())
}

/// The signing service's call: the secret names the document; a secret that
/// names none is 404 and changes nothing. The first signature wins: for a
/// document already signed the answer is its state as it stands (PostHog's
/// newer webhook answers a replay so), and nothing is re-applied or logged.
async fn signed(app: App, mut req: ApiRequest) -> ApiResult<Response> {
    let signed = payload::validate_signed(req.data()?)?;
    let digest = keys::secure_value(&signed.secret);
    let now = time::now_micros();
    let mut tx = app.db.write().await?;
    let found = store::find_by_secret_digest(&mut tx, &digest).await?;
    let Some((before, _)) = found.filter(|(_, stored)| keys::digests_match(stored, &digest)) else {
        return Err(ApiError::not_found());
    };
    if rules::is_signed(&before.status, &before.signed_document_url) {
        tx.commit().await?;
        return answer(&before.status);
    }
    let org = organizations::find(&mut tx, &before.organization_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut after = before.clone();
    after.status = model::SIGNED.into();
    after.signed_document_url = signed.signed_document_url;
    after.updated_at = now;
    if !store::mark_signed(&mut tx, &after).await? {
        // Signed by a concurrent call since the read: that one won.
        let current = store::find(&mut tx, &before.organization_id, &before.id)
            .await?
            .ok_or_else(ApiError::not_found)?;
        tx.commit().await?;
        return answer(&current.status);
    }
    let changes: Vec<Value> = [
        ("status", &before.status, &after.status),
        (
            "signed_document_url",
            &before.signed_document_url,
            &after.signed_document_url,
        ),
    ]
    .into_iter()
    .filter_map(|(field, b, a)| activity::change(SCOPE, field, &json!(b), &json!(a)))
    .collect();
    if !changes.is_empty() {
        log(&mut tx, &org, &after, None, "updated", Some(changes), now).await?;
    }
    tx.commit().await?;
    answer(&after.status)
}

fn answer(status: &str) -> ApiResult<Response> {
    http::ok_of(&model::WebhookAnswer { status })
}
