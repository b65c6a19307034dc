//! The whole API, assembled in one place above the resources: each resource
//! declares its routes (`http::Routes`), and this is the only list of them.
//! `serve`, the tests and the benchmark all build the router here.

use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::Router;

use crate::error::ApiResult;
use crate::http::{ApiRequest, App, Endpoint, Routes};
use crate::openapi::{schema, Operation};
use crate::rate_limit::Throttle;

/// Every route the server answers, as declared.
pub fn routes() -> Routes {
    // Liveness checks are never limited.
    let r = Routes::new().public_throttled(health_doc(), Throttle::Exempt, health);
    let r = crate::openapi::routes(r);
    let r = crate::projects::routes(r);
    let r = crate::projects::root::routes(r);
    let r = crate::users::routes(r);
    let r = crate::organizations::routes(r);
    let r = crate::personal_api_keys::routes(r);
    let r = crate::legal_documents::routes(r);
    let r = crate::oauth_applications::routes(r);
    let r = crate::invites::routes(r);
    let r = crate::access::routes(r);
    let r = crate::members::routes(r);
    crate::roles::routes(r)
}

/// Builds the whole application.
pub fn router(app: App) -> Router {
    routes().into_router(app)
}

/// Every declared route, for the auth table test and the API schema.
pub fn endpoints() -> Vec<Endpoint> {
    routes().endpoints().to_vec()
}

async fn health(_: App, _: ApiRequest) -> ApiResult<Response> {
    Ok("ok".into_response())
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
