//! The whole API, assembled in one place above the resources: each resource
//! declares its routes (`http::Routes`), and this is the only list of them.
//! `serve`, the tests and the benchmark all build the router here.

use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::http::{header, Method};
use axum::response::{IntoResponse, Response};
use axum::Router;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult};
use crate::http::{ApiRequest, App, Endpoint, Routes};
use crate::openapi::{schema, Operation};
use crate::rate_limit::Throttle;

/// Every route the server answers, as declared.
pub fn routes() -> Routes {
    // Liveness and readiness checks are never limited.
    let r = Routes::new()
        .public_throttled(health_doc(), Throttle::Exempt, health)
        .public_throttled(ready_doc(), Throttle::Exempt, ready)
        .public_throttled(metrics_doc(), Throttle::Exempt, metrics_unless_moved);
    let r = crate::openapi::routes(r);
    let r = crate::projects::routes(r);
    let r = crate::projects::root::routes(r);
    let r = crate::users::routes(r);
    let r = crate::sessions::routes(r);
    let r = crate::organizations::routes(r);
    let r = crate::personal_api_keys::routes(r);
    let r = crate::legal_documents::routes(r);
    let r = crate::oauth_applications::routes(r);
    let r = crate::invites::routes(r);
    let r = crate::access::routes(r);
    let r = crate::members::routes(r);
    let r = crate::roles::routes(r);
    // The web pages, which call the routes above.
    crate::pages::routes(r)
}

/// Builds the whole application.
pub fn router(app: App) -> Router {
    routes().into_router(app)
}

/// The router of `PRICKLE_METRICS_BIND`'s listener: `/metrics` alone.
pub fn metrics_router(app: App) -> Router {
    Routes::new()
        .public_throttled(metrics_doc(), Throttle::Exempt, metrics)
        .into_router(app)
}

/// Every declared route, for the auth table test and the API schema.
pub fn endpoints() -> Vec<Endpoint> {
    routes().endpoints().to_vec()
}

async fn health(_: App, _: ApiRequest) -> ApiResult<Response> {
    Ok("ok".into_response())
}

/// `/metrics` on the main port: 404 (as any unknown path) once
/// `PRICKLE_METRICS_BIND` has moved it.
async fn metrics_unless_moved(app: App, req: ApiRequest) -> ApiResult<Response> {
    if app.config.metrics_elsewhere {
        return Err(ApiError::not_found());
    }
    metrics(app, req).await
}

async fn metrics(app: App, _: ApiRequest) -> ApiResult<Response> {
    let body = crate::metrics::render(&app);
    Ok(([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], body).into_response())
}

/// Not in the API document (`openapi::described`): it is not PostHog's.
fn metrics_doc() -> Operation {
    Operation::new(Method::GET, crate::metrics::PATH, "metrics_retrieve")
        .describe("Prometheus metrics, in the text format 0.0.4.")
        .tags(&["health"])
}

fn health_doc() -> Operation {
    Operation::new(Method::GET, "/_health", "health_retrieve")
        .describe("Liveness: `ok` while the server answers.")
        .tags(&["health"])
        .returns_as(
            200,
            "text/plain",
            schema::choice(schema::Kind::String, ["ok"]),
        )
}

/// How long `/_ready` waits for the database before answering 503: a
/// PostgreSQL that stopped answering must not hang the probe.
pub const READY_TIMEOUT: Duration = Duration::from_secs(2);

/// `/_ready`'s body.
#[derive(Serialize, ToSchema)]
#[schema(as = Readiness)]
struct Ready {
    /// Always `ready`: other states are 503 with the error body.
    #[schema(example = "ready")]
    status: &'static str,
}

/// Readiness: not draining, the database answers, every migration applied.
async fn ready(app: App, _: ApiRequest) -> ApiResult<Response> {
    if app.draining.load(Ordering::Relaxed) {
        return Err(ApiError::not_ready("draining after a stop signal"));
    }
    let check = crate::storage::migrations::all_applied(&app.db);
    match tokio::time::timeout(READY_TIMEOUT, check).await {
        Ok(Ok(true)) => crate::http::ok_of(&Ready { status: "ready" }),
        Ok(Ok(false)) => Err(ApiError::not_ready("migrations pending")),
        Ok(Err(e)) => Err(ApiError::not_ready(format!("database: {e}"))),
        Err(_) => Err(ApiError::not_ready(format!(
            "database did not answer within {READY_TIMEOUT:?}"
        ))),
    }
}

fn ready_doc() -> Operation {
    Operation::new(Method::GET, "/_ready", "ready_retrieve")
        .describe(
            "Readiness: 200 while the database answers and every migration is applied; \
             503 (with `Retry-After`) while the server drains after SIGTERM or the \
             database does not answer within two seconds.",
        )
        .tags(&["health"])
        .returns(200, schema::component("Readiness"))
        .component_of::<Ready>()
        .error(503)
}
