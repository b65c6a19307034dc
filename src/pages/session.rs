//! Whether a page's request comes from a signed-in browser: its session
//! cookie names a live session of an active user (the lookup
//! `sessions::authenticate` makes for the API, without the CSRF check, the
//! organization or the touch: a page only decides between serving its
//! shell and sending the browser to the login page).

use axum::http::{header, HeaderMap};

use crate::auth::keys;
use crate::http::App;
use crate::sessions::{rules::Lifetimes, store, SESSION_COOKIE};
use crate::storage::DbError;
use crate::time;
use crate::users::User;

/// The cookie `name` of a request, when it has a non-empty value.
pub fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim_matches('"'))
        .filter(|v| !v.is_empty())
}

/// True when the session cookie names a live session. A database that
/// cannot answer serves the page (its script then meets the API's answer)
/// rather than sending a signed-in person to the login page.
pub async fn signed_in(app: &App, headers: &HeaderMap) -> bool {
    !matches!(user(app, headers).await, Ok(None))
}

/// The user of the live session the cookie names (`Ok(None)`: none).
pub async fn user(app: &App, headers: &HeaderMap) -> Result<Option<User>, DbError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Ok(None);
    };
    let digest = keys::secure_value(token);
    let mut tx = app.db.read().await?;
    let found = store::find(&mut tx, &digest).await?;
    tx.commit().await?;
    let lifetimes = Lifetimes::of(app.config.session_idle, app.config.session_max);
    Ok(found
        .filter(|s| {
            s.user.is_active && lifetimes.is_live(s.created_at, s.last_seen_at, time::now_micros())
        })
        .map(|s| s.user))
}
