//! The one error type every request path returns. It renders PostHog's
//! `{"type", "code", "detail", "attr"}` body (drf-exceptions-hog), so clients
//! written against PostHog parse our failures unchanged.

use std::borrow::Cow;
use std::fmt;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

pub type ApiResult<T> = Result<T, ApiError>;

const GRANTS_CHANGED: &str = "grants_changed";

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    /// PostHog's `type`: `validation_error`, `authentication_error`, `invalid_request`, `server_error`.
    pub kind: &'static str,
    pub code: Cow<'static, str>,
    pub detail: Cow<'static, str>,
    pub attr: Option<Cow<'static, str>>,
    /// A header the answer carries besides its body.
    pub header: Option<ErrorHeader>,
}

/// What an error tells the client in a header (one at most: they belong to
/// different statuses, and one field keeps `ApiError` small).
#[derive(Debug, Clone, PartialEq)]
pub enum ErrorHeader {
    /// `WWW-Authenticate`, on 401s.
    Challenge(String),
    /// `Retry-After`, in seconds: 429 and 503.
    RetryAfter(u32),
}

impl ApiError {
    fn new(
        status: StatusCode,
        kind: &'static str,
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        ApiError {
            status,
            kind,
            code: code.into(),
            detail: detail.into(),
            attr: None,
            header: None,
        }
    }

    /// 429 with DRF's `Throttled` wording (`wait`: seconds, rounded up, or
    /// unknown) and a `Retry-After` header (PostHog omits it; clients use it).
    pub fn throttled(wait: Option<u32>) -> Self {
        let detail = match wait {
            None => "Request was throttled.".to_string(),
            Some(1) => "Request was throttled. Expected available in 1 second.".to_string(),
            Some(n) => format!("Request was throttled. Expected available in {n} seconds."),
        };
        let mut e = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            "throttled_error",
            "throttled",
            detail,
        );
        e.header = Some(ErrorHeader::RetryAfter(wait.unwrap_or(1)));
        e
    }

    /// 503 when the server is at a bound it keeps for everyone's sake
    /// (requests in flight, password hashes at once), in DRF's
    /// `ServiceUnavailable` wording (`Retry-After: 1`, as every 503).
    pub fn over_capacity() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "service_unavailable",
            "Service temporarily unavailable, try again later.",
        )
    }

    /// 408 (DRF has no exception for it; the wording follows DRF's).
    pub fn request_timeout() -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            "invalid_request",
            "request_timeout",
            "Request body was not received in time.",
        )
    }

    /// Names the offending field (PostHog joins nested paths with `__`).
    pub fn at(mut self, attr: impl Into<Cow<'static, str>>) -> Self {
        self.attr = Some(attr.into());
        self
    }

    /// 400 `validation_error` with an explicit code (`invalid_choice`, `max_value`, ...).
    pub fn validation(
        code: impl Into<Cow<'static, str>>,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "validation_error", code, detail)
    }

    /// 400 `invalid_input` (DRF's `invalid`, renamed by PostHog).
    pub fn invalid_input(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::validation("invalid_input", detail)
    }

    pub fn required(attr: impl Into<Cow<'static, str>>) -> Self {
        Self::validation("required", "This field is required.").at(attr)
    }

    pub fn null(attr: impl Into<Cow<'static, str>>) -> Self {
        Self::validation("null", "This field may not be null.").at(attr)
    }

    pub fn invalid_choice(value: &str, attr: impl Into<Cow<'static, str>>) -> Self {
        Self::validation(
            "invalid_choice",
            format!("\"{value}\" is not a valid choice."),
        )
        .at(attr)
    }

    pub fn not_a_valid_boolean(attr: impl Into<Cow<'static, str>>) -> Self {
        Self::invalid_input("Must be a valid boolean.").at(attr)
    }

    pub fn not_a_valid_string(attr: impl Into<Cow<'static, str>>) -> Self {
        Self::invalid_input("Not a valid string.").at(attr)
    }

    pub fn not_authenticated(challenge: String) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "not_authenticated",
            "Authentication credentials were not provided.",
        );
        e.header = Some(ErrorHeader::Challenge(challenge));
        e
    }

    pub fn authentication_failed(detail: impl Into<Cow<'static, str>>, challenge: String) -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "authentication_error",
            "authentication_failed",
            detail,
        );
        e.header = Some(ErrorHeader::Challenge(challenge));
        e
    }

    pub fn permission_denied(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "authentication_error",
            "permission_denied",
            detail,
        )
    }

    /// DRF's default 403 text.
    pub fn forbidden() -> Self {
        Self::permission_denied("You do not have permission to perform this action.")
    }

    pub fn not_found() -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request",
            "not_found",
            "Not found.",
        )
    }

    pub fn organization_not_found() -> Self {
        Self::not_found_detail("Organization not found.")
    }

    /// A 404 with a detail of its own.
    pub fn not_found_detail(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "invalid_request",
            "not_found",
            detail,
        )
    }

    pub fn method_not_allowed(method: &str) -> Self {
        Self::new(
            StatusCode::METHOD_NOT_ALLOWED,
            "invalid_request",
            "method_not_allowed",
            format!("Method \"{method}\" not allowed."),
        )
    }

    pub fn conflict(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, "invalid_request", "conflict", detail)
    }

    pub fn parse_error(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "parse_error",
            detail,
        )
    }

    pub fn unsupported_media_type(content_type: &str) -> Self {
        Self::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request",
            "unsupported_media_type",
            format!("Unsupported media type \"{content_type}\" in request."),
        )
    }

    pub fn payload_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "invalid_request",
            "payload_too_large",
            "Request body is too large.",
        )
    }

    /// A failure that is ours, not the client's. The cause goes to the log
    /// (never to the client, which could leak internals).
    pub fn internal(cause: impl fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "error",
            "A server error occurred.",
        )
    }

    /// The database is momentarily unable to serve (pool exhausted, lock
    /// timeout): the client may retry.
    pub fn unavailable(cause: impl fmt::Display) -> Self {
        tracing::warn!(error = %cause, "database unavailable");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "service_unavailable",
            "The server is busy. Please try again.",
        )
    }

    /// The authorization cache's answer went stale during the request
    /// (`DbError::GrantsChanged`): the route answers again without it.
    pub fn grants_changed() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            GRANTS_CHANGED,
            "The server is busy. Please try again.",
        )
    }

    pub fn is_grants_changed(&self) -> bool {
        self.code == GRANTS_CHANGED
    }

    /// 503 from `/_ready`: the server is draining, its database does not
    /// answer in time, or it lacks a migration (`reason`, logged).
    pub fn not_ready(reason: impl fmt::Display) -> Self {
        tracing::warn!(%reason, "not ready: 503");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "server_error",
            "not_ready",
            "The server is not ready to serve requests.",
        )
    }

    /// [`ApiError::over_capacity`], with the bound that was reached in the
    /// log (for bounds reached rarely enough that a line each is useful).
    pub fn busy(cause: impl fmt::Display) -> Self {
        tracing::warn!(reason = %cause, "busy: 503");
        Self::over_capacity()
    }

    /// 406: no rendering the client accepts (DRF's content negotiation).
    pub fn not_acceptable() -> Self {
        Self::new(
            StatusCode::NOT_ACCEPTABLE,
            "invalid_request",
            "not_acceptable",
            "Could not satisfy the request Accept header.",
        )
    }

    pub fn body(&self) -> serde_json::Value {
        serde_json::to_value(ErrorBody {
            kind: self.kind,
            code: &self.code,
            detail: &self.detail,
            attr: self.attr.as_deref(),
        })
        .unwrap_or_default()
    }
}

/// PostHog's error body, as every failure renders it.
#[derive(serde::Serialize, utoipa::ToSchema)]
#[schema(as = ErrorResponse)]
pub struct ErrorBody<'a> {
    /// `validation_error`, `authentication_error`, `invalid_request` or `server_error`.
    #[serde(rename = "type")]
    #[schema(rename = "type")]
    pub kind: &'a str,
    /// What went wrong, for programs: `required`, `not_found`, `permission_denied`, ...
    pub code: &'a str,
    /// What went wrong, for people.
    pub detail: &'a str,
    /// The offending field (nested fields joined with `__`), or null.
    #[schema(required = true)]
    pub attr: Option<&'a str>,
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut resp = (self.status, axum::Json(self.body())).into_response();
        match self.header {
            Some(ErrorHeader::Challenge(challenge)) => {
                if let Ok(v) = HeaderValue::from_str(&challenge) {
                    resp.headers_mut().insert(header::WWW_AUTHENTICATE, v);
                }
            }
            Some(ErrorHeader::RetryAfter(seconds)) => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
            // Every 503 is momentary (a busy database, a bounded resource taken).
            None if self.status == StatusCode::SERVICE_UNAVAILABLE => {
                resp.headers_mut()
                    .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            None => {}
        }
        resp
    }
}

impl From<crate::storage::DbError> for ApiError {
    fn from(e: crate::storage::DbError) -> Self {
        match e {
            // Callers that expect a conflict map it to their own message first.
            crate::storage::DbError::Unique => {
                ApiError::conflict("A conflicting record already exists.")
            }
            crate::storage::DbError::Busy(m) => ApiError::unavailable(m),
            crate::storage::DbError::Other(m) => ApiError::internal(m),
            // Answered again by the route (`http::routes`); a 503 only if
            // something answers it without retrying.
            crate::storage::DbError::GrantsChanged => ApiError::grants_changed(),
        }
    }
}
