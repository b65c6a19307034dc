//! HTTP: the router, the state every handler shares, and the rules every
//! route shares (trailing slashes, unknown routes and methods, health).

pub mod pagination;
pub mod request;

use std::future::Future;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, MethodFilter, MethodRouter};
use axum::{Json, Router};
use serde_json::Value;

use crate::auth::{Scope, Target};
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::storage::Db;
pub use request::{ApiRequest, OrgContext};

/// What every handler shares.
#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub config: Arc<Config>,
}

impl App {
    pub fn new(db: Db, config: Config) -> App {
        App {
            db,
            config: Arc::new(config),
        }
    }

    /// The absolute URL of a request path, for pagination links.
    pub fn absolute(&self, path: &str) -> String {
        format!("{}{}", self.config.site_url, path)
    }
}

/// Builds the whole application. `serve`, the tests and the benchmark all use it.
pub fn router(app: App) -> Router {
    let r = Router::new().route("/_health", get(health).fallback(plain_method_not_allowed));
    let r = crate::projects::routes(r);
    r.fallback(not_found).with_state(app)
}

/// Registers a route with and without its trailing slash, as PostHog's `/?` patterns do.
pub fn route(r: Router<App>, path: &str, methods: MethodRouter<App>) -> Router<App> {
    let bare = path.trim_end_matches('/');
    r.route(bare, methods.clone())
        .route(&format!("{bare}/"), methods)
}

/// The method router of an organization route, answering the methods it
/// does not have. As in PostHog, permissions are checked first: personal API
/// keys are refused for actions that declare no scope, so a key sees that 403
/// before it could see a 405. The one exception is PATCH on a list route,
/// which PostHog maps to a write of `list_object` (then 405).
pub fn methods(list_object: Option<&'static str>) -> MethodRouter<App> {
    MethodRouter::new().fallback(
        move |State(app): State<App>, mut req: ApiRequest| async move {
            let patch_write;
            let scopes: &[Scope] = match list_object {
                Some(object) if req.method == Method::PATCH => {
                    patch_write = [Scope::write(object)];
                    &patch_write
                }
                _ => &[],
            };
            req.organization(&app, scopes, Target::Organization).await?;
            Err::<(), _>(ApiError::method_not_allowed(req.method.as_str()))
        },
    )
}

async fn health() -> &'static str {
    "ok"
}

async fn plain_method_not_allowed(req: axum::extract::Request) -> ApiError {
    ApiError::method_not_allowed(req.method().as_str())
}

async fn not_found() -> ApiError {
    ApiError::not_found()
}

pub fn ok(body: Value) -> ApiResult<Response> {
    Ok(Json(body).into_response())
}

/// A body already rendered as JSON text (the hot paths write it directly).
pub fn ok_json(body: String) -> ApiResult<Response> {
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

pub fn created_json(body: String) -> ApiResult<Response> {
    Ok((
        StatusCode::CREATED,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

pub fn no_content() -> ApiResult<Response> {
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What a route requires of a key: scopes (any one suffices) and what the
/// route acts on.
pub struct Requires {
    pub scopes: &'static [Scope],
    pub target: Target,
}

impl Requires {
    /// A route acting on the organization (lists, creates).
    pub const fn organization(scopes: &'static [Scope]) -> Requires {
        Requires {
            scopes,
            target: Target::Organization,
        }
    }

    /// A route acting on one project: a project-scoped key must name it.
    pub const fn project(scopes: &'static [Scope]) -> Requires {
        Requires {
            scopes,
            target: Target::Project,
        }
    }
}

/// Declares an organization route's method together with what it requires;
/// the handler receives the checked [`OrgContext`].
pub trait ScopedRoute {
    fn scoped<F, Fut>(self, filter: MethodFilter, requires: &'static Requires, handler: F) -> Self
    where
        F: Fn(App, ApiRequest, OrgContext) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult<Response>> + Send + 'static;
}

impl ScopedRoute for MethodRouter<App> {
    fn scoped<F, Fut>(self, filter: MethodFilter, requires: &'static Requires, handler: F) -> Self
    where
        F: Fn(App, ApiRequest, OrgContext) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult<Response>> + Send + 'static,
    {
        self.on(
            filter,
            move |State(app): State<App>, mut req: ApiRequest| {
                let handler = handler.clone();
                async move {
                    let ctx = req
                        .organization(&app, requires.scopes, requires.target)
                        .await?;
                    handler(app, req, ctx).await
                }
            },
        )
    }
}
