//! The rules of sessions as plain functions: when a session has ended,
//! the lockout after repeated failed logins (django-axes, as PostHog
//! configures it), and Django's CSRF check as DRF's SessionAuthentication
//! enforces it.

use axum::http::Method;

use crate::error::ApiError;

/// django-axes' `AXES_FAILURE_LIMIT` in PostHog.
pub const FAILURE_LIMIT: i64 = 30;
/// django-axes' `AXES_COOLOFF_TIME` in PostHog: the window the failures
/// are counted in, and how long a lockout lasts.
pub const COOLOFF_MINUTES: i64 = 10;
pub const COOLOFF_MICROS: i64 = COOLOFF_MINUTES * 60 * 1_000_000;

/// PostHog's `SESSION_SENSITIVE_ACTIONS_AGE`: sensitive actions (managing
/// personal API keys) need a login at most this old.
pub const SENSITIVE_ACTIONS_MICROS: i64 = 2 * 3600 * 1_000_000;

/// PostHog's TimeSensitiveActionPermission on an unsafe method: a session
/// signed in longer ago must log in again (keys pass: it is about sessions).
pub fn recently_signed_in(signed_in_at: Option<i64>, now: i64) -> Result<(), ApiError> {
    match signed_in_at {
        Some(at) if now.saturating_sub(at) > SENSITIVE_ACTIONS_MICROS => Err(
            ApiError::permission_denied("This action requires you to be recently authenticated."),
        ),
        _ => Ok(()),
    }
}

/// A session's last use is written at most this often: reads stay reads.
pub const TOUCH_EVERY_MICROS: i64 = 60 * 1_000_000;

/// PostHog's answer to a wrong email or password (one answer for both).
pub fn invalid_credentials() -> ApiError {
    ApiError::validation("invalid_credentials", "Invalid email or password.")
}

/// PostHog's `axes_locked_out` answer.
pub fn locked_out() -> ApiError {
    let mut e = ApiError::permission_denied(format!(
        "Too many failed login attempts. Please try again in {COOLOFF_MINUTES} minutes."
    ));
    e.code = "too_many_failed_attempts".into();
    e
}

/// Locked out when the account, or the address, has reached the limit of
/// failures within the window.
pub fn check_lockout(by_email: i64, by_address: i64) -> Result<(), ApiError> {
    if by_email >= FAILURE_LIMIT || by_address >= FAILURE_LIMIT {
        return Err(locked_out());
    }
    Ok(())
}

/// The lifetimes a session is held to, in microseconds.
#[derive(Clone, Copy, Debug)]
pub struct Lifetimes {
    pub idle: i64,
    pub max: i64,
}

impl Lifetimes {
    pub fn of(idle: std::time::Duration, max: std::time::Duration) -> Lifetimes {
        let micros = |d: std::time::Duration| i64::try_from(d.as_micros()).unwrap_or(i64::MAX);
        Lifetimes {
            idle: micros(idle),
            max: micros(max),
        }
    }

    /// Still usable at `now`: used within the idle lifetime, and made
    /// within the absolute one.
    pub fn is_live(&self, created_at: i64, last_seen_at: i64, now: i64) -> bool {
        now.saturating_sub(last_seen_at) < self.idle && now.saturating_sub(created_at) < self.max
    }

    /// The cookie's `Max-Age`, in seconds: the absolute lifetime (the idle
    /// one is the server's to enforce).
    pub fn cookie_max_age(&self) -> i64 {
        self.max / 1_000_000
    }
}

/// Is the last use old enough to be written again?
pub fn needs_touch(last_seen_at: i64, now: i64) -> bool {
    now.saturating_sub(last_seen_at) >= TOUCH_EVERY_MICROS
}

/// Django's safe methods: no CSRF token needed.
pub fn is_safe(method: &Method) -> bool {
    matches!(
        *method,
        Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
    )
}

/// What a request shows of its origin and its CSRF token.
pub struct CsrfFacts<'a> {
    /// The `Origin` header, when sent.
    pub origin: Option<&'a str>,
    /// The origins the site is served from (SITE_URL's, and the request's
    /// own host as Django's `request.get_host()`).
    pub good_origins: &'a [String],
    /// The `csrftoken` cookie.
    pub cookie: Option<&'a str>,
    /// The `X-CSRFToken` header.
    pub header: Option<&'a str>,
    /// The session's token.
    pub expected: &'a str,
}

/// DRF's SessionAuthentication on an unsafe method: Django's CsrfViewMiddleware
/// checks, answered as `PermissionDenied("CSRF Failed: <reason>")`.
pub fn check_csrf(f: &CsrfFacts<'_>) -> Result<(), ApiError> {
    let failed = |reason: String| ApiError::permission_denied(format!("CSRF Failed: {reason}"));
    if let Some(origin) = f.origin {
        if !f.good_origins.iter().any(|g| g == origin) {
            return Err(failed(format!(
                "Origin checking failed - {origin} does not match any trusted origins."
            )));
        }
    }
    let Some(cookie) = f.cookie.filter(|c| !c.is_empty()) else {
        return Err(failed("CSRF cookie not set.".into()));
    };
    let Some(header) = f.header.filter(|h| !h.is_empty()) else {
        return Err(failed("CSRF token missing.".into()));
    };
    let same = |a: &str, b: &str| {
        use subtle::ConstantTimeEq;
        a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
    };
    if !same(header, cookie) || !same(header, f.expected) {
        return Err(failed(
            "CSRF token from the 'X-Csrftoken' HTTP header incorrect.".into(),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lockout_at_the_limit_per_account_or_address() {
        assert!(check_lockout(29, 29).is_ok());
        for (e, a) in [(30, 0), (0, 30), (31, 31)] {
            let err = check_lockout(e, a).unwrap_err();
            assert_eq!(
                (err.status.as_u16(), err.kind, err.code.as_ref()),
                (403, "authentication_error", "too_many_failed_attempts")
            );
            assert_eq!(
                err.detail,
                "Too many failed login attempts. Please try again in 10 minutes."
            );
        }
    }

    #[test]
    fn sensitive_actions_need_a_recent_login() {
        assert!(recently_signed_in(None, i64::MAX).is_ok());
        assert!(recently_signed_in(Some(0), SENSITIVE_ACTIONS_MICROS).is_ok());
        let e = recently_signed_in(Some(0), SENSITIVE_ACTIONS_MICROS + 1).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.detail.as_ref()),
            (
                403,
                "This action requires you to be recently authenticated."
            )
        );
    }

    #[test]
    fn sessions_end_idle_or_old() {
        let l = Lifetimes { idle: 10, max: 100 };
        assert!(l.is_live(0, 0, 9));
        assert!(!l.is_live(0, 0, 10));
        assert!(l.is_live(0, 95, 99));
        assert!(!l.is_live(0, 95, 100));
        assert!(needs_touch(0, TOUCH_EVERY_MICROS));
        assert!(!needs_touch(0, TOUCH_EVERY_MICROS - 1));
    }

    #[test]
    fn csrf_as_django_reports_it() {
        let good = ["http://localhost:8000".to_string()];
        let facts = |origin, cookie, header| CsrfFacts {
            origin,
            good_origins: &good,
            cookie,
            header,
            expected: "tok",
        };
        let detail = |f: CsrfFacts<'_>| {
            check_csrf(&f)
                .err()
                .map(|e| e.detail.into_owned())
                .unwrap_or_else(|| "ok".into())
        };
        assert_eq!(detail(facts(None, Some("tok"), Some("tok"))), "ok");
        assert_eq!(
            detail(facts(
                Some("http://localhost:8000"),
                Some("tok"),
                Some("tok")
            )),
            "ok"
        );
        assert_eq!(
            detail(facts(Some("https://evil.example"), Some("tok"), Some("tok"))),
            "CSRF Failed: Origin checking failed - https://evil.example does not match any trusted origins."
        );
        assert_eq!(
            detail(facts(None, None, Some("tok"))),
            "CSRF Failed: CSRF cookie not set."
        );
        assert_eq!(
            detail(facts(None, Some("tok"), None)),
            "CSRF Failed: CSRF token missing."
        );
        assert_eq!(
            detail(facts(None, Some("tok"), Some("other"))),
            "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect."
        );
        // A cookie and header that agree but are not the session's.
        assert_eq!(
            detail(facts(None, Some("forged"), Some("forged"))),
            "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect."
        );
    }
}
