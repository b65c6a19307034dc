//! `/api/personal_api_keys/`: a key may read itself (by `@current` or its own
//! id), and nothing else here. Keys are created, listed, revoked and rolled
//! by the operator (`prickle admin ...`), as PostHog only allows from its app.
//!
//! Handlers are thin: who may read what in [`rules`], queries in [`store`],
//! the shape in [`model`]. No route takes a body.

pub mod model;
pub mod openapi;
pub mod rules;
pub mod store;

use axum::response::Response;

use crate::auth::Caller;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Access, ApiRequest, App, Routes};

const LIST_PATH: &str = "/api/personal_api_keys";
const DETAIL_PATH: &str = "/api/personal_api_keys/{id}";
const ROLL_PATH: &str = "/api/personal_api_keys/{id}/roll";

pub fn routes(r: Routes) -> Routes {
    use openapi as doc;
    r.caller(doc::retrieve(), Access::AnyKey, retrieve)
        .caller(doc::list(), Access::AnyKey, refuse)
        .caller(doc::create(), Access::AnyKey, refuse)
        .caller(doc::partial_update(), Access::AnyKey, refuse)
        .caller(doc::update(), Access::AnyKey, refuse)
        .caller(doc::destroy(), Access::AnyKey, refuse)
        .caller(doc::roll(), Access::AnyKey, refuse)
}

async fn refuse(_: App, _: ApiRequest, _: Caller) -> ApiResult<Response> {
    Err(rules::key_refused())
}

/// The calling key itself. Another key of the same user exists but is
/// refused (403); anything else is not found among the user's keys (404).
async fn retrieve(app: App, req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    let id = match req.param("id").unwrap_or_default() {
        "@current" => caller.key_id.as_str(),
        id => id,
    };
    let mut tx = app.db.read().await?;
    let key = store::find(&mut tx, caller.user.id, id).await?;
    tx.commit().await?;
    let key = key.ok_or_else(ApiError::not_found)?;
    rules::may_read(&key.id, &caller.key_id)?;
    http::ok_of(&key.shown(None))
}
