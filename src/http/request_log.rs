//! Each request's id and its one log line.
//!
//! The router runs every request (404s and the rate limits' 429s included)
//! inside its [`Scope`], which holds its `request_id`: while the request's
//! future is polled the scope is its thread's current one, and the log
//! formats (`crate::logging`) write the id into every line logged meanwhile,
//! as a `request` span. The id goes back in the `X-Request-Id` response
//! header, and one line per request records what an operator may see: the
//! method, the route template as declared (never the raw path, which holds
//! ids and emails, nor the query string, which may hold a key), the status,
//! the duration, and the key's and its user's ids once the key is known.
//! The same place counts the request for `/metrics` (`crate::metrics`):
//! in flight while it runs, then by method, declared route and status.
//!
//! A scope is two swaps of a thread-local per poll. It replaced a `tracing`
//! span, whose registration, formatted field, entering and leaving were a
//! seventh of a `/_health` request's instructions (callgrind) whether or not
//! a line was logged: a span must exist before the lines it could name.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use super::App;
use crate::auth::Caller;
use crate::metrics::http::Route;

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

/// What a request's lines carry.
struct Scope {
    id: HeaderValue,
    /// The key's id and its user's id, once authentication knows them;
    /// kept only when the request's line is logged.
    who: Option<(String, i64)>,
}

thread_local! {
    /// The scope of the request being polled on this thread.
    static CURRENT: RefCell<Option<Scope>> = const { RefCell::new(None) };
}

/// A copy of what the current request's scope holds (taken only when a
/// line is logged).
fn current<T>(read: impl FnOnce(&Scope) -> T) -> Option<T> {
    CURRENT
        .try_with(|c| c.try_borrow().ok()?.as_ref().map(read))
        .ok()
        .flatten()
}

/// The id of the request being handled on this thread, if any: the log
/// formats write it into each line.
pub fn current_request_id() -> Option<HeaderValue> {
    current(|scope| scope.id.clone())
}

/// Where authentication (`ApiRequest::authenticate`) tells the request's
/// line who made it; in the request's extensions only when that line is
/// logged.
#[derive(Clone, Default)]
pub struct RequestLog(());

impl RequestLog {
    pub fn identify(&self, caller: &Caller) {
        let _ = CURRENT.try_with(|c| {
            if let Ok(mut scope) = c.try_borrow_mut() {
                if let Some(scope) = scope.as_mut() {
                    scope.who = Some((caller.key_id.clone(), caller.user.id));
                }
            }
        });
    }
}

pin_project_lite::pin_project! {
    /// A request's future, polled with its scope current; the answer gets
    /// the request id.
    pub struct InRequest<F> {
        scope: Option<Scope>,
        #[pin]
        inner: F,
    }
}

impl<F: Future<Output = Response>> Future for InRequest<F> {
    type Output = Response;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        let this = self.project();
        let polled = {
            let _current = Current::enter(this.scope);
            this.inner.poll(cx)
        };
        polled.map(|mut response| {
            if let Some(scope) = this.scope.take() {
                response
                    .headers_mut()
                    .insert(X_REQUEST_ID.clone(), scope.id);
            }
            response
        })
    }
}

/// A scope swapped in as its thread's current one, swapped back out when
/// dropped (after a panicking poll too).
struct Current<'a> {
    scope: &'a mut Option<Scope>,
    entered: bool,
}

impl<'a> Current<'a> {
    fn enter(scope: &'a mut Option<Scope>) -> Current<'a> {
        let entered = swap(scope);
        Current { scope, entered }
    }
}

impl Drop for Current<'_> {
    fn drop(&mut self) {
        if self.entered {
            swap(self.scope);
        }
    }
}

/// Exchanges `scope` with the thread's current one; false when it cannot
/// (the thread is exiting, or a line is being formatted).
fn swap(scope: &mut Option<Scope>) -> bool {
    CURRENT
        .try_with(|c| match c.try_borrow_mut() {
            Ok(mut current) => {
                std::mem::swap(&mut *current, scope);
                true
            }
            Err(_) => false,
        })
        .unwrap_or(false)
}

/// The router's outermost layer: the request id, its scope, the log line.
pub fn layer(
    State(app): State<App>,
    req: Request,
    next: Next,
) -> InRequest<impl Future<Output = Response>> {
    let id = kept_request_id(req.headers().get(&X_REQUEST_ID)).unwrap_or_else(generated_request_id);
    InRequest {
        scope: Some(Scope { id, who: None }),
        inner: handle(app, req, next),
    }
}

async fn handle(app: App, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let in_flight = app.metrics.start_request();
    let method = req.method().clone();
    // Looked up before the request runs: the label is the declared
    // template, borrowed from the table.
    let matched = req
        .extensions()
        .get::<MatchedPath>()
        .map(MatchedPath::as_str);
    let route = match app.metrics.http.get() {
        Some(table) => table.route_of(&method, matched),
        None => Route::outside_table(matched),
    };
    if tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        req.extensions_mut().insert(RequestLog::default());
    }
    let response = next.run(req).await;
    let took = started.elapsed();
    drop(in_flight);
    if let Some(table) = app.metrics.http.get() {
        table.observe(&route, &method, response.status(), took);
    }
    if tracing::enabled!(target: TARGET, tracing::Level::INFO) {
        let (id, who) = match current(|s| (s.id.clone(), s.who.clone())) {
            Some((id, who)) => (Some(id), who),
            None => (None, None),
        };
        tracing::info!(
            target: TARGET,
            method = %method,
            route = route.label.as_deref(),
            status = response.status().as_u16(),
            // Microsecond precision: a float of whole microseconds over 1000.
            duration_ms = took.as_micros() as f64 / 1000.0,
            request_id = id.as_ref().and_then(|id| id.to_str().ok()),
            key_id = who.as_ref().map(|(key, _)| key.as_str()),
            user_id = who.as_ref().map(|(_, user)| *user),
            "request"
        );
    }
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

    /// A request's id is current only while its future is polled: another
    /// request's polls on the same thread see theirs, and nothing is left
    /// behind once they are answered.
    #[tokio::test]
    async fn the_scope_is_current_only_while_its_request_is_polled() {
        async fn answer(expected: &'static str) -> Response {
            for _ in 0..3 {
                assert_eq!(current_request_id().unwrap(), expected);
                tokio::task::yield_now().await;
            }
            Response::default()
        }
        let scoped = |id: &'static str| InRequest {
            scope: Some(Scope {
                id: HeaderValue::from_static(id),
                who: None,
            }),
            inner: answer(id),
        };
        let (a, b) = tokio::join!(scoped("a"), scoped("b"));
        assert_eq!(a.headers()[&X_REQUEST_ID], "a");
        assert_eq!(b.headers()[&X_REQUEST_ID], "b");
        assert_eq!(current_request_id(), None);
    }
}
