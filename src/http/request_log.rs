//! Each request's id and its one log line.
//!
//! The router runs every request (404s and the rate limits' 429s included)
//! inside a span carrying its `request_id`, so every line logged while it is
//! handled names it; the id goes back in the `X-Request-Id` response header,
//! and one line per request records what an operator may see: the method,
//! the route template as declared (never the raw path, which holds ids and
//! emails, nor the query string, which may hold a key), the status, the
//! duration, and the key's and its user's ids once the key is known.
//! The same place counts the request for `/metrics` (`crate::metrics`):
//! in flight while it runs, then by method, declared route and status.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

use super::App;
use crate::auth::Caller;

pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client-given request id kept, in bytes.
pub const MAX_REQUEST_ID_BYTES: usize = 128;

/// The request's line is logged with this target (`RUST_LOG` can filter it:
/// `info,prickle::request=off`).
pub const TARGET: &str = "prickle::request";

/// The client's `X-Request-Id` when it is a usable id: 1 to 128 bytes of
/// printable ASCII without spaces. Anything else could forge or break log
/// lines, so it is replaced.
pub fn kept_request_id(given: Option<&HeaderValue>) -> Option<HeaderValue> {
    let given = given?;
    let bytes = given.as_bytes();
    let printable = bytes.iter().all(|b| (0x21..=0x7e).contains(b));
    (!bytes.is_empty() && bytes.len() <= MAX_REQUEST_ID_BYTES && printable).then(|| given.clone())
}

fn generated_request_id() -> HeaderValue {
    let mut text = uuid::Uuid::encode_buffer();
    let text = uuid::Uuid::new_v4().hyphenated().encode_lower(&mut text);
    HeaderValue::from_str(text).expect("a UUID is a header value")
}

/// Who made the request, filled in by authentication
/// (`ApiRequest::authenticate`) once the key is known.
#[derive(Clone, Default)]
pub struct RequestLog(Arc<OnceLock<(String, i64)>>);

impl RequestLog {
    pub fn identify(&self, caller: &Caller) {
        let _ = self.0.set((caller.key_id.clone(), caller.user.id));
    }
}

/// The router's outermost layer: the request id, the span, the log line.
pub async fn layer(State(app): State<App>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let in_flight = app.metrics.start_request();
    let id = kept_request_id(req.headers().get(&X_REQUEST_ID)).unwrap_or_else(generated_request_id);
    // Only printable ASCII reaches here.
    let id_text = id.to_str().unwrap_or_default().to_owned();
    let method = req.method().clone();
    // Both forms of a path are served; the declared one has no trailing slash.
    let route = req.extensions().get::<MatchedPath>().map(|p| {
        let p = p.as_str();
        let trimmed = p.trim_end_matches('/');
        if trimmed.is_empty() { "/" } else { trimmed }.to_owned()
    });
    let log = RequestLog::default();
    req.extensions_mut().insert(log.clone());
    // At the error level so that it is on whenever any line is logged.
    let span = tracing::error_span!("request", request_id = %id_text);
    let mut response = next.run(req).instrument(span.clone()).await;
    response.headers_mut().insert(X_REQUEST_ID.clone(), id);
    let took = started.elapsed();
    drop(in_flight);
    if let Some(table) = app.metrics.http.get() {
        table.observe(&method, route.as_deref(), response.status(), took);
    }
    // Microsecond precision: a float of whole microseconds over 1000.
    let duration_ms = took.as_micros() as f64 / 1000.0;
    let status = response.status().as_u16();
    let who = log.0.get();
    span.in_scope(|| {
        tracing::info!(
            target: TARGET,
            method = %method,
            route = route.as_deref(),
            status,
            duration_ms,
            request_id = %id_text,
            key_id = who.map(|(key, _)| key.as_str()),
            user_id = who.map(|(_, user)| *user),
            "request"
        )
    });
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kept(raw: &[u8]) -> bool {
        let value = HeaderValue::from_bytes(raw).expect("header value");
        kept_request_id(Some(&value)).is_some()
    }

    #[test]
    fn printable_ids_up_to_128_bytes_are_kept() {
        assert!(kept(b"abc-123"));
        assert!(kept(&[b'x'; 128]));
        assert!(kept(b"!~"));
        assert!(!kept(&[b'x'; 129]));
        assert!(!kept(b""));
        assert!(!kept(b"has space"));
        assert!(!kept(b"tab\there"));
        assert!(!kept("caf\u{e9}".as_bytes()));
        assert!(kept_request_id(None).is_none());
    }

    #[test]
    fn generated_ids_are_uuids() {
        let id = generated_request_id();
        let text = id.to_str().expect("ascii");
        assert_eq!(
            uuid::Uuid::parse_str(text).expect("uuid").get_version_num(),
            4
        );
    }
}
