//! `/api/users/@me/`: who the key belongs to, their current organization and
//! project (chosen, and saved, as PostHog chooses them), and the profile
//! fields a key may change.
//!
//! Handlers are thin: the body in [`payload`], which user may be addressed
//! in [`rules`], queries in [`store`], shapes in [`model`]. What the other
//! resources use (the user row, its columns, the account lookups) is
//! re-exported here.

pub mod model;
pub mod openapi;
pub mod payload;
pub mod rules;
pub mod store;

use axum::response::Response;
use serde_json::value::RawValue;

use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Access, ApiRequest, App, Routes};
use crate::organizations;
use crate::sessions;
use crate::storage::{DbError, DbResult, Tx};
use crate::time;
use model::Current;

pub use model::{email_key, NewUser, User};
pub use store::{find_by_email, insert, set_current, COLUMNS};

const READ: &[Scope] = &[Scope::read("user")];
const WRITE: &[Scope] = &[Scope::write("user")];
pub(super) const PATH: &str = "/api/users/{uuid}";

pub fn routes(r: Routes) -> Routes {
    use self::openapi as doc;
    r.caller(doc::retrieve(), Access::User(READ), retrieve)
        .caller(doc::partial_update(), Access::User(WRITE), update)
        // Clients send partial bodies with PUT too.
        .caller(doc::update(), Access::User(WRITE), update)
}

/// `UserSerializer`'s shape for the caller, read through the stores.
async fn render(tx: &mut Tx, user: &User, current: &Current) -> DbResult<String> {
    let p = store::profile(tx, user.id).await?;
    let organization = match &current.org {
        Some((org, m)) => Some(raw(organizations::full_json(tx, org, m).await?)?),
        None => None,
    };
    let first_user = match &current.org {
        Some((org, _)) => store::is_first_member(tx, &org.id, user.id).await?,
        None => false,
    };
    let pending_invites =
        crate::invites::store::pending_for_user(tx, user, time::now_micros()).await?;
    let (orgs, _) = organizations::store::of_user(tx, user.id, None, i64::MAX, 0).await?;
    let mut shown = Vec::with_capacity(orgs.len());
    for (org, m) in &orgs {
        shown.push(raw(
            organizations::basic_json(tx, org, Some(m.level)).await?
        )?);
    }
    let me = model::me(
        user,
        &p,
        current.team.as_ref(),
        organization,
        shown,
        first_user,
        pending_invites,
    );
    serde_json::to_string(&me).map_err(|e| DbError::Other(e.to_string()))
}

/// A shape already rendered, embedded as it is.
fn raw(json: String) -> DbResult<Box<RawValue>> {
    RawValue::from_string(json).map_err(|e| DbError::Other(e.to_string()))
}

/// Renders the user, first saving the current organization and project
/// PostHog would have picked when none (or a stale one) is set.
async fn show(app: &App, user: &User) -> ApiResult<String> {
    let mut tx = app.db.read().await?;
    let current = store::choose(&mut tx, user).await?;
    let (org, team) = current.ids();
    let stale = org != user.current_organization_id.as_deref() || team != user.current_team_id;
    if !stale {
        let body = render(&mut tx, user, &current).await?;
        tx.commit().await?;
        return Ok(body);
    }
    drop(tx);
    let mut tx = app.db.write().await?;
    let current = store::choose(&mut tx, user).await?;
    let (org, team) = current.ids();
    store::set_current(&mut tx, user.id, org, team).await?;
    let body = render(&mut tx, user, &current).await?;
    tx.commit().await?;
    Ok(body)
}

/// PostHog's `validate_password_change`: an account with a password must
/// name it in `current_password` (checked within the hash slots), then the
/// new one meets the password rules and is hashed.
async fn new_password_hash(
    app: &App,
    user_id: i64,
    new: String,
    current: Option<String>,
) -> ApiResult<String> {
    let mut tx = app.db.read().await?;
    let stored = sessions::store::password_of(&mut tx, user_id).await?;
    tx.commit().await?;
    if let Some(stored) = stored.filter(|s| !s.is_empty() && !s.starts_with('!')) {
        let Some(current) = current else {
            return Err(ApiError::validation(
                "required",
                "This field is required when updating your password.",
            )
            .at("current_password"));
        };
        if !app.password_hashes.verify(current, Some(stored)).await? {
            return Err(ApiError::validation(
                "incorrect_password",
                "Your current password is incorrect.",
            )
            .at("current_password"));
        }
    }
    crate::passwords::check_new(&new, "password")?;
    app.password_hashes.hash(new).await
}

async fn retrieve(app: App, req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    rules::only_me(req.param("uuid"))?;
    http::ok_json(show(&app, &caller.user).await?)
}

async fn update(app: App, mut req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    rules::only_me(req.param("uuid"))?;
    let user = &caller.user;
    let session = crate::sessions::token(&req).map(crate::auth::keys::secure_value);
    let data = req.data()?;
    // A key's password change is refused below; a session's is throttled.
    if caller.is_session() && payload::sent_password(data) {
        app.rate_limiter.password_change(user.id).await?;
    }
    payload::refuse_changes(data, user, caller.is_session())?;
    let change = payload::password_change(data).filter(|_| caller.is_session());
    let checked = payload::check(data)?;
    let new_hash = match change {
        Some((new, current)) => Some(new_password_hash(&app, user.id, new, current).await?),
        None => None,
    };
    let mut tx = app.db.write().await?;
    if let Some(hash) = &new_hash {
        sessions::store::set_password(&mut tx, user.id, hash).await?;
        // Django's `update_session_auth_hash`: this browser stays signed in,
        // every other session of the user ends.
        sessions::store::delete_others(&mut tx, user.id, session.as_deref()).await?;
    }
    let current = store::profile(&mut tx, user.id).await?;
    let update = payload::accept(&mut tx, user, &current, checked).await?;
    store::save_profile(&mut tx, user.id, update.change).await?;
    if let Some((org, team)) = &update.switch {
        store::set_current(&mut tx, user.id, Some(org), *team).await?;
    }
    let user = store::find_by_email(&mut tx, &user.email)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    http::ok_json(show(&app, &user).await?)
}
