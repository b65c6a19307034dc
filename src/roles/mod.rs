//! `/api/organizations/:organization_id/roles/...`: an organization's roles
//! (list, create, retrieve, PATCH, PUT, delete) and who holds each
//! (`.../roles/:role_id/role_memberships/`: list, add, retrieve, remove).
//! Role rules on projects name roles; the project resolution counts them.
//!
//! Any member reads; admins and owners write ([`rules`]), checked before the
//! body is read. Writes lock the organization row `FOR NO KEY UPDATE` (the
//! design's lock order for access-control writes: it serialises with member
//! writes and organization deletion, never with a project writer's
//! foreign-key check) and read the caller's level again under it. Every
//! write is logged in the activity log (scope `Role`).

pub mod model;
pub mod openapi;
pub mod payload;
pub mod rules;
pub mod store;

use axum::response::Response;
use serde_json::{json, Value};

use crate::activity;
use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, pagination, ApiRequest, App, Member, NonMember, Routes};
use crate::members;
use crate::organizations;
use crate::storage::{DbError, Tx};
use crate::time;
use model::{Holder, Role, ShownHolder, ShownRole};

const READ: &[Scope] = &[Scope::read("organization")];
const WRITE: &[Scope] = &[Scope::write("organization")];

const LIST_PATH: &str = "/api/organizations/{organization_id}/roles";
const DETAIL_PATH: &str = "/api/organizations/{organization_id}/roles/{id}";
const HOLDERS_PATH: &str = "/api/organizations/{organization_id}/roles/{role_id}/role_memberships";
const HOLDER_PATH: &str =
    "/api/organizations/{organization_id}/roles/{role_id}/role_memberships/{id}";

/// The activity log's scope for role entries.
const SCOPE: &str = "Role";

pub const DUPLICATE_NAME: &str = "There is already a role with this name.";
pub const NO_ROLE: &str = "Role does not exist.";
pub const NO_USER: &str = "User does not exist.";
pub const ALREADY_HOLDS: &str = "User is already part of the role.";

pub fn routes(r: Routes) -> Routes {
    use openapi as doc;
    use NonMember::Forbidden;
    r.organization(doc::list(), READ, Forbidden, list)
        .organization(doc::create(), WRITE, Forbidden, create)
        .organization(doc::retrieve(), READ, Forbidden, retrieve)
        .organization(doc::partial_update(), WRITE, Forbidden, partial_update)
        // PUT is a full update here: `name` is required (the spec, Q6).
        .organization(doc::update(), WRITE, Forbidden, update)
        .organization(doc::destroy(), WRITE, Forbidden, destroy)
        .organization(doc::holders_list(), READ, Forbidden, holders_list)
        .organization(doc::holders_create(), WRITE, Forbidden, holders_create)
        .organization(doc::holder_retrieve(), READ, Forbidden, holder_retrieve)
        .organization(doc::holder_destroy(), WRITE, Forbidden, holder_destroy)
}

/// A uuid of the path; a malformed one is a 404, never a query.
fn path_uuid(req: &ApiRequest, name: &str) -> ApiResult<String> {
    req.param(name)
        .and_then(organizations::parse_uuid)
        .ok_or_else(ApiError::not_found)
}

fn duplicate_name() -> ApiError {
    ApiError::validation("unique", DUPLICATE_NAME).at("name")
}

/// The write lock, then the caller's level read again under it: a caller
/// demoted or removed while waiting is refused.
async fn lock_for_write(tx: &mut Tx, ctx: &Member) -> ApiResult<()> {
    organizations::lock_no_key(tx, &ctx.org.id).await?;
    let level = members::store::level_of(tx, &ctx.org.id, ctx.caller.user.id)
        .await?
        .ok_or_else(ApiError::forbidden)?;
    rules::may_write(level)
}

async fn default_role(tx: &mut Tx, org_id: &str) -> ApiResult<Option<String>> {
    Ok(organizations::store::details(tx, org_id)
        .await?
        .default_role_id)
}

/// One entry about a role, by the caller.
async fn log(
    tx: &mut Tx,
    ctx: &Member,
    role_id: &str,
    activity: &str,
    detail: Value,
    now: i64,
) -> ApiResult<()> {
    let entry = activity::Entry {
        organization_id: &ctx.org.id,
        team_id: None,
        user_id: Some(ctx.caller.user.id),
        activity,
        scope: SCOPE,
        item_id: role_id.to_string(),
        detail,
    };
    Ok(activity::record(tx, entry, now).await?)
}

/// A holder as the activity log names them.
fn holder_json(h: &Holder) -> Value {
    json!({"user_uuid": h.member.user.uuid, "email": h.member.user.email})
}

async fn list(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    let query = req.query_pairs();
    let page = pagination::page(&query);
    let base = app.absolute(req.uri.path());
    let mut tx = app.db.read().await?;
    let count = store::count(&mut tx, &ctx.org.id).await?;
    let roles = store::list(&mut tx, &ctx.org.id, page.limit, page.offset).await?;
    let ids: Vec<&str> = roles.iter().map(|r| r.id.as_str()).collect();
    let holders = store::holders_of(&mut tx, &ctx.org.id, &ids).await?;
    let default = default_role(&mut tx, &ctx.org.id).await?;
    tx.commit().await?;
    let shown: Vec<_> = roles
        .iter()
        .map(|r| ShownRole::of(r, &holders, default.as_deref()))
        .collect();
    http::ok_json(pagination::envelope_of(&base, &query, page, count, &shown)?)
}

async fn retrieve(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    let id = path_uuid(&req, "id")?;
    let mut tx = app.db.read().await?;
    let role = store::find(&mut tx, &ctx.org.id, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let holders = store::holders_of(&mut tx, &ctx.org.id, &[&role.id]).await?;
    let default = default_role(&mut tx, &ctx.org.id).await?;
    tx.commit().await?;
    http::ok_of(&ShownRole::of(&role, &holders, default.as_deref()))
}

async fn create(app: App, mut req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    rules::may_write(ctx.level)?;
    let name = payload::name(req.data()?, false)?.unwrap_or_default();
    let now = time::now_micros();
    let mut tx = app.db.write().await?;
    lock_for_write(&mut tx, &ctx).await?;
    if store::name_taken(&mut tx, &ctx.org.id, &name, None).await? {
        return Err(duplicate_name());
    }
    let role = Role {
        id: uuid::Uuid::now_v7().to_string(),
        organization_id: ctx.org.id.clone(),
        name,
        created_at: now,
        created_by: Some(ctx.caller.user.clone()),
    };
    // A concurrent create that passed the check above is stopped here.
    store::insert(&mut tx, &role).await.map_err(|e| match e {
        DbError::Unique => duplicate_name(),
        e => e.into(),
    })?;
    let detail = activity::detail(&role.name, None);
    log(&mut tx, &ctx, &role.id, "created", detail, now).await?;
    tx.commit().await?;
    http::created_of(&ShownRole::of(&role, &[], None))
}

async fn partial_update(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    rename(app, req, ctx, true).await
}

async fn update(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    rename(app, req, ctx, false).await
}

/// PATCH (`partial`) and PUT: the role is looked up before its body is
/// read, as DRF's `update` gets the object first.
async fn rename(app: App, mut req: ApiRequest, ctx: Member, partial: bool) -> ApiResult<Response> {
    rules::may_write(ctx.level)?;
    let id = path_uuid(&req, "id")?;
    let now = time::now_micros();
    let mut tx = app.db.write().await?;
    lock_for_write(&mut tx, &ctx).await?;
    let mut role = store::find(&mut tx, &ctx.org.id, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let name = payload::name(req.data()?, partial)?;
    if let Some(name) = name.filter(|n| *n != role.name) {
        if store::name_taken(&mut tx, &ctx.org.id, &name, Some(&role.id)).await? {
            return Err(duplicate_name());
        }
        store::rename(&mut tx, &ctx.org.id, &role.id, &name)
            .await
            .map_err(|e| match e {
                DbError::Unique => duplicate_name(),
                e => e.into(),
            })?;
        let change = activity::change(SCOPE, "name", &json!(role.name), &json!(name));
        role.name = name;
        let detail = activity::detail(&role.name, change.map(|c| vec![c]));
        log(&mut tx, &ctx, &role.id, "updated", detail, now).await?;
    }
    let holders = store::holders_of(&mut tx, &ctx.org.id, &[&role.id]).await?;
    let default = default_role(&mut tx, &ctx.org.id).await?;
    tx.commit().await?;
    http::ok_of(&ShownRole::of(&role, &holders, default.as_deref()))
}

/// Deletes the role; its memberships and rules go with it, and the
/// organization's default role is cleared if it was this one.
async fn destroy(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    rules::may_write(ctx.level)?;
    let id = path_uuid(&req, "id")?;
    let now = time::now_micros();
    let mut tx = app.db.write().await?;
    lock_for_write(&mut tx, &ctx).await?;
    let role = store::find(&mut tx, &ctx.org.id, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    store::delete(&mut tx, &ctx.org.id, &role.id).await?;
    let detail = activity::detail(&role.name, None);
    log(&mut tx, &ctx, &role.id, "deleted", detail, now).await?;
    tx.commit().await?;
    http::no_content()
}

/// A role of another organization, or of none, lists an empty page (PostHog
/// filters the queryset), not a 404.
async fn holders_list(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    let role_id = path_uuid(&req, "role_id")?;
    let query = req.query_pairs();
    let page = pagination::page(&query);
    let base = app.absolute(req.uri.path());
    let mut tx = app.db.read().await?;
    let count = store::holder_count(&mut tx, &ctx.org.id, &role_id).await?;
    let holders =
        store::holders_page(&mut tx, &ctx.org.id, &role_id, page.limit, page.offset).await?;
    tx.commit().await?;
    let shown: Vec<_> = holders.iter().map(ShownHolder::of).collect();
    http::ok_json(pagination::envelope_of(&base, &query, page, count, &shown)?)
}

async fn holder_retrieve(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    let role_id = path_uuid(&req, "role_id")?;
    let id = path_uuid(&req, "id")?;
    let mut tx = app.db.read().await?;
    let holder = store::find_holder(&mut tx, &ctx.org.id, &role_id, &id).await?;
    tx.commit().await?;
    http::ok_of(&ShownHolder::of(&holder.ok_or_else(ApiError::not_found)?))
}

/// Adds a member to the role: the body's field first, then (under the
/// lock) the role, the user and the duplicate, in PostHog's order.
async fn holders_create(app: App, mut req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    rules::may_write(ctx.level)?;
    let role_id = path_uuid(&req, "role_id")?;
    let user_uuid = payload::user_uuid(req.data()?)?;
    let now = time::now_micros();
    let mut tx = app.db.write().await?;
    lock_for_write(&mut tx, &ctx).await?;
    let role = store::find(&mut tx, &ctx.org.id, &role_id)
        .await?
        .ok_or_else(|| ApiError::invalid_input(NO_ROLE))?;
    let member = store::active_member(&mut tx, &ctx.org.id, &user_uuid)
        .await?
        .ok_or_else(|| ApiError::invalid_input(NO_USER))?;
    if store::holds(&mut tx, &role.id, member.user.id).await? {
        return Err(ApiError::invalid_input(ALREADY_HOLDS));
    }
    let holder = Holder {
        id: uuid::Uuid::now_v7().to_string(),
        role_id: role.id.clone(),
        member,
        joined_at: now,
        updated_at: now,
    };
    // The unique (role, user) index stops a concurrent add of the same user.
    store::insert_holder(&mut tx, &holder)
        .await
        .map_err(|e| match e {
            DbError::Unique => ApiError::invalid_input(ALREADY_HOLDS),
            e => e.into(),
        })?;
    let change = activity::change(SCOPE, "members", &Value::Null, &holder_json(&holder));
    let detail = activity::detail(&role.name, change.map(|c| vec![c]));
    log(&mut tx, &ctx, &role.id, "updated", detail, now).await?;
    tx.commit().await?;
    http::created_of(&ShownHolder::of(&holder))
}

async fn holder_destroy(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    rules::may_write(ctx.level)?;
    let role_id = path_uuid(&req, "role_id")?;
    let id = path_uuid(&req, "id")?;
    let now = time::now_micros();
    let mut tx = app.db.write().await?;
    lock_for_write(&mut tx, &ctx).await?;
    let holder = store::find_holder(&mut tx, &ctx.org.id, &role_id, &id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let role = store::find(&mut tx, &ctx.org.id, &role_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    store::delete_holder(&mut tx, &role.id, &holder.id).await?;
    let change = activity::change(SCOPE, "members", &holder_json(&holder), &Value::Null);
    let detail = activity::detail(&role.name, change.map(|c| vec![c]));
    log(&mut tx, &ctx, &role.id, "updated", detail, now).await?;
    tx.commit().await?;
    http::no_content()
}
