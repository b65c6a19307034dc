//! Sessions, as PostHog's API has them: `POST /api/login/` signs a browser
//! in with an email and password, `POST /api/logout/` signs it out, and
//! every route accepts the session's `sessionid` cookie in place of a
//! personal API key (`authenticate`, called by `ApiRequest::authenticate`
//! when the request carries no key).
//!
//! Sessions live in the database (only the SHA-256 digest of the token is
//! stored), so every process accepts them and a logout ends one
//! everywhere. Each is looked up on every request it makes, never cached:
//! a logout, a password change or a deactivated user takes effect on the
//! next request; the organization and membership checks that follow are
//! the same (cached, epoch-checked) ones a key's request runs.
//!
//! Handlers are thin: lifetimes, lockout and CSRF in [`rules`], statements
//! in [`store`], the body in [`payload`].

pub mod model;
pub mod openapi;
pub mod payload;
pub mod rules;
pub mod store;

use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::auth::{self, keys, Authenticated, Caller, KeyGrant, OrgRef, View};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, ApiRequest, App, Routes};
use crate::rate_limit::Throttle;
use crate::storage::Tx;
use crate::time;
use crate::users;
use rules::Lifetimes;

pub(crate) const LOGIN_PATH: &str = "/api/login";
pub(crate) const LOGOUT_PATH: &str = "/api/logout";
/// PostHog's own logout: a Django view at `/logout`, then the login page.
pub(crate) const LOGOUT_PAGE_PATH: &str = "/logout";

/// Django's cookie names (`SESSION_COOKIE_NAME`, `CSRF_COOKIE_NAME`) and
/// the header the token comes back in (`CSRF_HEADER_NAME`).
pub const SESSION_COOKIE: &str = "sessionid";
pub const CSRF_COOKIE: &str = "csrftoken";
pub const CSRF_HEADER: &str = "x-csrftoken";

/// Characters of a session token (base62: ~285 bits) and of a CSRF token.
const SESSION_TOKEN_CHARS: usize = 48;
const CSRF_TOKEN_CHARS: usize = 64;

pub fn routes(r: Routes) -> Routes {
    use openapi as doc;
    r.public_throttled(doc::login(), Throttle::Api, login)
        .public(doc::logout(), logout)
        .public(doc::logout_page(), logout_page)
}

fn lifetimes(app: &App) -> Lifetimes {
    Lifetimes::of(app.config.session_idle, app.config.session_max)
}

/// The caller a live session names (`None`: no such session, or it ended,
/// or its user was deactivated: the request is anonymous). An unsafe
/// method must pass the CSRF check (403 otherwise), as DRF's
/// SessionAuthentication enforces it. `org` is looked up as a key's
/// request looks it up, through the authorization cache.
pub async fn authenticate(
    app: &App,
    req: &ApiRequest,
    token: &str,
    org: Option<&OrgRef>,
) -> ApiResult<Option<(Authenticated, View)>> {
    let digest = keys::secure_value(token);
    let mut tx = app.db.read().await?;
    let view = app.auth_cache.view(&app.db, &mut tx).await?;
    let Some(found) = store::find(&mut tx, &digest).await? else {
        return Ok(None);
    };
    let now = time::now_micros();
    if !found.user.is_active || !lifetimes(app).is_live(found.created_at, found.last_seen_at, now) {
        return Ok(None);
    }
    if !rules::is_safe(&req.method) {
        csrf(app, req, &found.csrf_token)?;
    }
    let caller = Caller {
        key_id: format!("session:{}", found.user.id),
        user: found.user,
        grant: KeyGrant {
            session: true,
            ..KeyGrant::default()
        },
        signed_in_at: Some(found.created_at),
    };
    let organization = match org {
        Some(org) => auth::organization(&app.auth_cache, view, &mut tx, org, &caller).await?,
        None => None,
    };
    drop(tx);
    if rules::needs_touch(found.last_seen_at, now) {
        let mut tx = app.db.write().await?;
        store::touch(&mut tx, &digest, now).await?;
        tx.commit().await?;
    }
    let auth = Authenticated {
        caller,
        organization,
    };
    Ok(Some((auth, view)))
}

/// Django's CSRF check for a request made with a session.
fn csrf(app: &App, req: &ApiRequest, expected: &str) -> ApiResult<()> {
    let mut good_origins = vec![origin_of(&app.config.site_url).to_string()];
    if let Some(host) = req.header(header::HOST) {
        good_origins.push(format!("http://{host}"));
        good_origins.push(format!("https://{host}"));
    }
    rules::check_csrf(&rules::CsrfFacts {
        origin: req.header(header::ORIGIN),
        good_origins: &good_origins,
        cookie: req.cookie(CSRF_COOKIE),
        header: req.header(header::HeaderName::from_static(CSRF_HEADER)),
        expected,
    })
}

/// `scheme://host[:port]` of a URL.
fn origin_of(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

/// A session just made: its token (for the cookie only) and CSRF token.
pub struct SignedIn {
    token: String,
    csrf_token: String,
}

/// Makes a session for the user in the caller's write transaction, and
/// removes the user's sessions that have ended.
pub async fn sign_in(app: &App, tx: &mut Tx, user_id: i64, now: i64) -> ApiResult<SignedIn> {
    let signed = SignedIn {
        token: keys::random_token(SESSION_TOKEN_CHARS),
        csrf_token: keys::random_token(CSRF_TOKEN_CHARS),
    };
    let l = lifetimes(app);
    store::delete_ended(
        tx,
        user_id,
        now.saturating_sub(l.idle),
        now.saturating_sub(l.max),
    )
    .await?;
    let digest = keys::secure_value(&signed.token);
    let new = store::NewSession {
        digest: &digest,
        user_id,
        csrf_token: &signed.csrf_token,
    };
    store::insert(tx, &new, now).await?;
    store::set_last_login(tx, user_id, now).await?;
    Ok(signed)
}

/// Sets the session's cookies on an answer (after its transaction committed).
pub fn set_cookies(app: &App, mut response: Response, signed: &SignedIn) -> ApiResult<Response> {
    let max_age = lifetimes(app).cookie_max_age();
    let secure = secure_suffix(app);
    let cookies = [
        format!(
            "{SESSION_COOKIE}={}; Max-Age={max_age}; Path=/; HttpOnly; SameSite=Lax{secure}",
            signed.token
        ),
        format!(
            "{CSRF_COOKIE}={}; Max-Age={max_age}; Path=/; SameSite=Lax{secure}",
            signed.csrf_token
        ),
    ];
    append_cookies(&mut response, &cookies)?;
    Ok(response)
}

fn secure_suffix(app: &App) -> &'static str {
    if app.config.site_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    }
}

fn append_cookies(response: &mut Response, cookies: &[String]) -> ApiResult<()> {
    for c in cookies {
        let value = HeaderValue::from_str(c).map_err(ApiError::internal)?;
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    Ok(())
}

/// `POST /api/login/`: PostHog's answers, in its order: the body, the
/// lockout (django-axes refuses before any password is checked), then the
/// password, checked with the same work whether or not the account exists.
async fn login(app: App, mut req: ApiRequest) -> ApiResult<Response> {
    let valid = payload::LOGIN.check(req.data()?, false)?.finish()?;
    let email = valid.text("email").flatten().unwrap_or_default();
    let password = valid.text("password").flatten().unwrap_or_default();
    let email_key = users::email_key(&email);
    let address = req.client.map(|a| a.to_string());
    let now = time::now_micros();
    let mut tx = app.db.read().await?;
    let (by_email, by_address) = store::failures_since(
        &mut tx,
        &email_key,
        address.as_deref(),
        now - rules::COOLOFF_MICROS,
    )
    .await?;
    rules::check_lockout(by_email, by_address)?;
    let account = store::account_by_email(&mut tx, &email).await?;
    tx.commit().await?;
    // An inactive account is checked like an unknown one (Django's
    // ModelBackend refuses it), so its answer and its work are the same.
    let stored = account
        .as_ref()
        .filter(|a| a.user.is_active)
        .and_then(|a| a.password.clone());
    let matched = app.password_hashes.verify(password, stored).await?;
    let now = time::now_micros();
    let mut tx = app.db.write().await?;
    let Some(account) = account.filter(|_| matched) else {
        store::record_failure(
            &mut tx,
            &email_key,
            address.as_deref(),
            now,
            now - rules::COOLOFF_MICROS,
        )
        .await?;
        tx.commit().await?;
        // The failure that reaches the limit is answered with the lockout,
        // as django-axes does.
        let by_address = if address.is_some() { by_address + 1 } else { 0 };
        rules::check_lockout(by_email + 1, by_address)?;
        return Err(rules::invalid_credentials());
    };
    let signed = sign_in(&app, &mut tx, account.user.id, now).await?;
    tx.commit().await?;
    let response = http::ok_of(&model::LoginSuccess { success: true })?;
    set_cookies(&app, response, &signed)
}

/// `POST /api/logout/`: the session the cookie names ends (a live one
/// only with its CSRF token), and both cookies are cleared. Without a
/// session there is nothing to end: the cookies are cleared all the same.
async fn logout(app: App, mut req: ApiRequest) -> ApiResult<Response> {
    // No field is read, but a body that is not an object is refused as
    // DRF's serializers would.
    req.data()?.object()?;
    if let Some(token) = req.cookie(SESSION_COOKIE) {
        let digest = keys::secure_value(token);
        let mut tx = app.db.write().await?;
        if let Some(found) = store::find(&mut tx, &digest).await? {
            let live =
                lifetimes(&app).is_live(found.created_at, found.last_seen_at, time::now_micros());
            if live && found.user.is_active {
                csrf(&app, &req, &found.csrf_token)?;
            }
            store::delete(&mut tx, &digest).await?;
        }
        tx.commit().await?;
    }
    cleared(&app, http::no_content()?)
}

/// `GET /logout`, as PostHog serves it: the session ends (a safe method:
/// Django's `csrf_protect` asks no token) and the browser is sent to
/// `/login`.
async fn logout_page(app: App, req: ApiRequest) -> ApiResult<Response> {
    if let Some(token) = token(&req) {
        let mut tx = app.db.write().await?;
        store::delete(&mut tx, &keys::secure_value(token)).await?;
        tx.commit().await?;
    }
    let mut response = axum::http::StatusCode::FOUND.into_response();
    response
        .headers_mut()
        .insert(header::LOCATION, HeaderValue::from_static("/login"));
    cleared(&app, response)
}

/// The answer with both cookies cleared (Django's `delete_cookie`).
fn cleared(app: &App, mut response: Response) -> ApiResult<Response> {
    let secure = secure_suffix(app);
    let expired = "expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=Lax";
    append_cookies(
        &mut response,
        &[
            format!("{SESSION_COOKIE}=\"\"; {expired}; HttpOnly{secure}"),
            format!("{CSRF_COOKIE}=\"\"; {expired}{secure}"),
        ],
    )?;
    Ok(response)
}

/// The session token a request carries, if any (for callers outside
/// `http` that need to know whether a browser is signed in).
pub fn token(req: &ApiRequest) -> Option<&str> {
    req.cookie(SESSION_COOKIE).filter(|t| !t.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins() {
        assert_eq!(
            origin_of("https://app.example.com"),
            "https://app.example.com"
        );
        assert_eq!(
            origin_of("http://127.0.0.1:8000/base"),
            "http://127.0.0.1:8000"
        );
    }
}
