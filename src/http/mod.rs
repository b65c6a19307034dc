//! HTTP: the state every handler shares, the one way to declare a route
//! (`routes`), the request as handlers see it, pagination and responses.
//! It knows no resource: `crate::api` assembles the router above them.

pub mod client;
pub mod pagination;
pub mod rendered;
pub mod request;
pub mod request_log;
pub mod routes;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::auth::AuthCache;
use crate::config::Config;
use crate::error::{ApiError, ApiResult};
use crate::metrics::Metrics;
use crate::passwords::HashSlots;
use crate::rate_limit::RateLimiter;
use crate::storage::Db;
pub use request::ApiRequest;
pub use routes::{
    Access, Endpoint, Member, NonMember, PageAccess, PageRequest, PageRoute, ProjectMember,
    ProjectNeed, Routes,
};

/// What every handler shares.
#[derive(Clone)]
pub struct App {
    pub db: Db,
    pub config: Arc<Config>,
    pub rate_limiter: Arc<RateLimiter>,
    /// Bounds the password hashes running at once (sign-up).
    pub password_hashes: Arc<HashSlots>,
    /// Set by `serve` when SIGTERM/SIGINT arrives: `/_ready` answers 503
    /// from then on, while requests are still served and drained.
    pub draining: Arc<AtomicBool>,
    /// What `/metrics` shows (`crate::metrics`).
    pub metrics: Arc<Metrics>,
    /// What keys may reach, per process (`auth::cache`).
    pub auth_cache: Arc<AuthCache>,
    /// Rendered answers kept until the next commit (`rendered`).
    pub rendered: Arc<rendered::Caches>,
}

impl App {
    pub fn new(db: Db, config: Config) -> App {
        // Serving requests: learn of grant changes made elsewhere.
        db.watch_grants();
        let auth_cache = Arc::new(AuthCache::new(config.auth_cache_entries));
        let rendered = Arc::new(rendered::Caches::new(config.render_cache_bytes));
        let password_hashes = Arc::new(HashSlots::new(
            config.max_concurrent_password_hashes,
            config.password_hash_wait,
        ));
        App {
            db,
            rate_limiter: Arc::new(RateLimiter::new(config.rate_limits.clone())),
            config: Arc::new(config),
            password_hashes,
            draining: Arc::new(AtomicBool::new(false)),
            metrics: Arc::new(Metrics::default()),
            auth_cache,
            rendered,
        }
    }

    /// The absolute URL of a request path, for pagination links.
    pub fn absolute(&self, path: &str) -> String {
        format!("{}{}", self.config.site_url, path)
    }
}

/// A response body of a typed shape: 200 with its JSON.
pub fn ok_of<T: serde::Serialize + ?Sized>(body: &T) -> ApiResult<Response> {
    ok_json(to_json(body)?)
}

/// A response body of a typed shape: 201 with its JSON.
pub fn created_of<T: serde::Serialize + ?Sized>(body: &T) -> ApiResult<Response> {
    created_json(to_json(body)?)
}

/// A typed shape's JSON text.
pub fn to_json<T: serde::Serialize + ?Sized>(body: &T) -> ApiResult<String> {
    serde_json::to_string(body).map_err(ApiError::internal)
}

/// A body already rendered as JSON text (the hot paths write it directly).
pub fn ok_json(body: String) -> ApiResult<Response> {
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}

/// A body kept rendered (a cache's): 200 with its JSON, not copied.
pub fn ok_json_bytes(body: bytes::Bytes) -> ApiResult<Response> {
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
