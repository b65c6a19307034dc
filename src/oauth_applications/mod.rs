//! `GET /api/organizations/:organization_id/oauth_applications/`: the
//! organization's OAuth applications, read-only (PostHog maps no other
//! method, so a key's POST is refused by the unmapped-method answer).
//! Applications are registered by operators with
//! `prickle admin create-oauth-application`. prickle serves no OAuth token
//! endpoint, so applications are given no client secret to keep.
//!
//! The registration fields are checked in [`payload`]; any member may list
//! applications, so there are no permission rules beyond membership.

pub mod model;
pub mod openapi;
pub mod payload;
pub mod store;

use axum::response::Response;

use crate::auth::Scope;
use crate::error::ApiResult;
use crate::http::{self, pagination, ApiRequest, App, Member, NonMember, Routes};

const READ: &[Scope] = &[Scope::read("organization")];
const LIST_PATH: &str = "/api/organizations/{organization_id}/oauth_applications";

pub fn routes(r: Routes) -> Routes {
    r.organization(openapi::list(), READ, NonMember::Forbidden, list)
}

/// Any member may list them.
async fn list(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    let query = req.query_pairs();
    let page = pagination::page(&query);
    let base = app.absolute(req.uri.path());
    let mut tx = app.db.read().await?;
    let count = store::count(&mut tx, &ctx.org.id).await?;
    let apps = store::list(&mut tx, &ctx.org.id, page.limit, page.offset).await?;
    tx.commit().await?;
    let shown: Vec<_> = apps.iter().map(model::OAuthApplication::shown).collect();
    http::ok_json(pagination::envelope_of(&base, &query, page, count, &shown)?)
}
