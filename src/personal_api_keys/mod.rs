//! `/api/personal_api_keys/`: a key may read itself (by `@current` or its own
//! id), and nothing else here. A signed-in session manages the user's keys:
//! list, create (the value shown once), update, delete and roll, with
//! PostHog's validation; a key calling those gets 403, as PostHog allows
//! them only from its app. The operator has the same through `prickle admin`.
//!
//! Handlers are thin: who may do what in [`rules`], the body in
//! [`payload`], queries in [`store`], the shape in [`model`].

pub mod model;
pub mod openapi;
pub mod payload;
pub mod rules;
pub mod store;

use axum::response::Response;
use serde_json::{json, Value};

use crate::auth::{keys, Caller};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Access, ApiRequest, App, Routes};
use crate::organizations::{self, store as org_store};
use crate::payload::Checked;
use crate::storage::Tx;
use crate::time;
use model::PersonalApiKey;

const LIST_PATH: &str = "/api/personal_api_keys";
const DETAIL_PATH: &str = "/api/personal_api_keys/{id}";
const ROLL_PATH: &str = "/api/personal_api_keys/{id}/roll";

pub fn routes(r: Routes) -> Routes {
    use openapi as doc;
    r.caller(doc::retrieve(), Access::AnyKey, retrieve)
        .caller(doc::list(), Access::Session, list)
        .caller(doc::create(), Access::Session, create)
        .caller(doc::partial_update(), Access::Session, partial_update)
        .caller(doc::update(), Access::Session, update)
        .caller(doc::destroy(), Access::Session, destroy)
        .caller(doc::roll(), Access::Session, roll)
}

/// A key reads itself: `@current` or its own id (another key of the same
/// user exists but is refused, 403; anything else is 404). A session reads
/// any of the user's keys.
async fn retrieve(app: App, req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    let id = match req.param("id").unwrap_or_default() {
        "@current" if !caller.is_session() => caller.key_id.as_str(),
        id => id,
    };
    let mut tx = app.db.read().await?;
    let key = store::find(&mut tx, caller.user.id, id).await?;
    tx.commit().await?;
    let key = key.ok_or_else(ApiError::not_found)?;
    if !caller.is_session() {
        rules::may_read(&key.id, &caller.key_id)?;
    }
    http::ok_of(&key.shown(None))
}

async fn list(app: App, _: ApiRequest, caller: Caller) -> ApiResult<Response> {
    let mut tx = app.db.read().await?;
    let keys = store::of_user(&mut tx, caller.user.id).await?;
    tx.commit().await?;
    let shown: Vec<_> = keys.iter().map(|k| k.shown(None)).collect();
    http::ok_of(&shown)
}

/// The body checked as PostHog's serializer checks it: the fields' kinds,
/// then `validate_scopes`, `validate_scoped_teams`,
/// `validate_scoped_organizations` (every project and organization named
/// must be the user's).
async fn checked_body(
    tx: &mut Tx,
    req: &mut ApiRequest,
    user_id: i64,
    partial: bool,
) -> ApiResult<crate::payload::Valid> {
    let mut checked: Checked = payload::KEY.check(req.data()?, partial)?;
    checked.refine("scopes", payload::check_scopes);
    let teams = checked.value("scoped_teams").cloned();
    let teams_ok = match &teams {
        Some(v) => {
            payload::bounded(v).map_err(|e| e.at("scoped_teams"))?;
            let mut all = true;
            for t in v.as_array().into_iter().flatten() {
                let id = t.as_i64().unwrap_or_default();
                all = all && org_store::is_member_of_project(tx, id, user_id).await?;
                if !all {
                    break;
                }
            }
            all
        }
        None => true,
    };
    checked.refine("scoped_teams", |v| {
        rules::may_scope_to_project(teams_ok).map_err(ApiError::invalid_input)?;
        Ok(v.clone())
    });
    let orgs = checked.value("scoped_organizations").cloned();
    let orgs_ok: Result<bool, ()> = match &orgs {
        Some(v) => {
            payload::bounded(v).map_err(|e| e.at("scoped_organizations"))?;
            let mut result = Ok(true);
            for o in v.as_array().into_iter().flatten() {
                let Some(id) = o.as_str().and_then(organizations::parse_uuid) else {
                    result = Err(());
                    break;
                };
                if !org_store::is_member(tx, &id, user_id).await? {
                    result = Ok(false);
                    break;
                }
            }
            result
        }
        None => Ok(true),
    };
    checked.refine("scoped_organizations", |v| {
        match orgs_ok {
            Err(()) => return Err(ApiError::invalid_input("Invalid organization UUID")),
            Ok(member) => {
                rules::may_scope_to_organization(member).map_err(ApiError::invalid_input)?
            }
        }
        // Stored as the canonical (lower-case, hyphenated) ids.
        let ids: Vec<Value> = v
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|o| o.as_str().and_then(organizations::parse_uuid))
            .map(Value::String)
            .collect();
        Ok(if v.is_null() {
            Value::Null
        } else {
            Value::Array(ids)
        })
    });
    checked.finish()
}

/// A stored JSON list from an accepted value (null stays null).
fn stored_list(v: Option<&Value>) -> Option<String> {
    v.filter(|v| !v.is_null()).map(Value::to_string)
}

/// PostHog's TimeSensitiveActionPermission: changing keys needs a recent login.
fn recent(caller: &Caller) -> ApiResult<()> {
    crate::sessions::rules::recently_signed_in(caller.signed_in_at, time::now_micros())
}

async fn create(app: App, mut req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    recent(&caller)?;
    let user_id = caller.user.id;
    let mut tx = app.db.write().await?;
    let valid = checked_body(&mut tx, &mut req, user_id, false).await?;
    let existing = store::count_of_user(&mut tx, user_id).await?;
    rules::may_add_key(existing).map_err(ApiError::invalid_input)?;
    let value = keys::new_personal_api_key();
    let key = PersonalApiKey {
        id: keys::random_token(43),
        user_id,
        label: valid.text("label").flatten().unwrap_or_default(),
        mask_value: Some(keys::mask(&value)),
        created_at: time::now_micros(),
        last_used_at: None,
        last_rolled_at: None,
        scopes: Some(
            valid
                .get("scopes")
                .cloned()
                .unwrap_or(json!([]))
                .to_string(),
        ),
        scoped_organizations: stored_list(valid.get("scoped_organizations")),
        scoped_teams: stored_list(valid.get("scoped_teams")),
    };
    store::insert(&mut tx, &key, &keys::secure_value(&value)).await?;
    tx.commit().await?;
    http::created_of(&key.shown(Some(&value)))
}

async fn partial_update(app: App, req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    change(app, req, caller, true).await
}

async fn update(app: App, req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    change(app, req, caller, false).await
}

/// The user's key the path names (404 otherwise, `@current` included: a
/// session is no key).
async fn own_key(tx: &mut Tx, req: &ApiRequest, caller: &Caller) -> ApiResult<PersonalApiKey> {
    let id = req.param("id").unwrap_or_default();
    store::find(tx, caller.user.id, id)
        .await?
        .ok_or_else(ApiError::not_found)
}

async fn change(
    app: App,
    mut req: ApiRequest,
    caller: Caller,
    partial: bool,
) -> ApiResult<Response> {
    recent(&caller)?;
    let mut tx = app.db.write().await?;
    let mut key = own_key(&mut tx, &req, &caller).await?;
    let valid = checked_body(&mut tx, &mut req, caller.user.id, partial).await?;
    if let Some(label) = valid.text("label") {
        key.label = label.unwrap_or_default();
    }
    if let Some(scopes) = valid.get("scopes") {
        key.scopes = Some(scopes.to_string());
    }
    if valid.has("scoped_organizations") {
        key.scoped_organizations = stored_list(valid.get("scoped_organizations"));
    }
    if valid.has("scoped_teams") {
        key.scoped_teams = stored_list(valid.get("scoped_teams"));
    }
    store::update(&mut tx, &key).await?;
    tx.commit().await?;
    http::ok_of(&key.shown(None))
}

async fn destroy(app: App, req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    recent(&caller)?;
    let mut tx = app.db.write().await?;
    let key = own_key(&mut tx, &req, &caller).await?;
    store::delete(&mut tx, &key.id).await?;
    tx.commit().await?;
    http::no_content()
}

async fn roll(app: App, req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    recent(&caller)?;
    let mut tx = app.db.write().await?;
    let mut key = own_key(&mut tx, &req, &caller).await?;
    let value = store::roll(&mut tx, &mut key, time::now_micros()).await?;
    tx.commit().await?;
    http::ok_of(&key.shown(Some(&value)))
}
