//! `/api/organizations/` and `/api/organizations/:organization_id/`: the
//! caller's organizations, a new one, and one organization's settings.
//!
//! Handlers are thin: the body in [`payload`], who may do what in [`rules`],
//! queries in [`store`] (deleting an organization in `store::deletion`),
//! shapes in [`model`]. What the other resources use (levels, the admin
//! check, the organization row, `@current` and the lookups every route
//! resolves through) is re-exported here.

pub mod model;
pub mod openapi;
pub mod payload;
pub mod rules;
pub mod store;

use axum::response::Response;

use crate::access::Visibility;
use crate::activity;
use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, pagination, Access, ApiRequest, App, Member, Routes};
use crate::projects;
use crate::storage::{DbResult, Tx};
use crate::time;
use crate::users;

pub use model::{Level, Membership, MembershipLevel, Organization};
pub use rules::{require_admin, INSUFFICIENT};
pub use store::deletion::lock as lock_no_key;
pub use store::{
    add_member, current_organization, current_project, find, find_with_level, first_joined,
    first_project, first_visible_project, has_project, lock, of_project, COLUMNS,
};

const READ: &[Scope] = &[Scope::read("organization")];
const WRITE: &[Scope] = &[Scope::write("organization")];

pub(super) const LIST_PATH: &str = "/api/organizations";
pub(super) const DETAIL_PATH: &str = "/api/organizations/{organization_id}";

pub fn routes(r: Routes) -> Routes {
    use self::openapi as doc;
    r.caller(doc::list(), Access::Organizations(READ), list)
        .caller(doc::create(), Access::Organizations(WRITE), create)
        .organization_object(doc::retrieve(), READ, retrieve)
        .organization_object(doc::partial_update(), WRITE, update)
        // PUT behaves as PATCH (decisions.md).
        .organization_object(doc::update(), WRITE, update)
        .organization_object(doc::destroy(), WRITE, destroy)
}

/// The key's organization restriction, as a list filter (`None`: unrestricted).
fn restriction(caller: &Caller) -> Option<Vec<String>> {
    caller
        .grant
        .scoped_organizations
        .clone()
        .filter(|o| !o.is_empty())
}

async fn list(app: App, req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    let query = req.query_pairs();
    let page = pagination::page(&query);
    let base = app.absolute(req.uri.path());
    let only = restriction(&caller);
    let mut tx = app.db.read().await?;
    let (orgs, count) = store::of_user(
        &mut tx,
        caller.user.id,
        only.as_deref(),
        page.limit,
        page.offset,
    )
    .await?;
    let mut results = Vec::with_capacity(orgs.len());
    for (org, membership) in &orgs {
        results.push(full_json(&mut tx, org, membership).await?);
    }
    tx.commit().await?;
    let results = format!("[{}]", results.join(","));
    http::ok_json(pagination::envelope_json(
        &base, &query, page, count, &results,
    ))
}

/// PostHog's `Organization.objects.bootstrap`: the organization, its first
/// project, the caller as owner, and both become the caller's current ones.
async fn create(app: App, mut req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    let change = payload::validate(req.data()?, true)?;
    let now = time::now_micros();
    let name = change.name.clone().unwrap_or_default();
    let mut tx = app.db.write().await?;
    let mut org = store::insert(&mut tx, &name, now).await?;
    let mut d = store::details(&mut tx, &org.id).await?;
    change.apply(&mut org, &mut d);
    store::save(&mut tx, &org, &d).await?;
    let owner = store::add_member(&mut tx, &org.id, &caller.user, Level::Owner, now).await?;
    let mut project = projects::blank(&org, now);
    project.name = "Default project".into();
    project.id = projects::store::insert(&mut tx, &project).await?;
    for scope in ["Project", "Team"] {
        let entry = activity::Entry {
            organization_id: &org.id,
            team_id: Some(project.id),
            user_id: Some(caller.user.id),
            activity: "created",
            scope,
            item_id: project.id.to_string(),
            detail: activity::detail(&project.name, None),
        };
        activity::record(&mut tx, entry, now).await?;
    }
    users::set_current(&mut tx, caller.user.id, Some(&org.id), Some(project.id)).await?;
    let viewer = MembershipLevel {
        id: owner.id,
        level: Level::Owner,
    };
    let body = full_json(&mut tx, &org, &viewer).await?;
    tx.commit().await?;
    http::created_json(body)
}

async fn retrieve(app: App, _: ApiRequest, ctx: Member) -> ApiResult<Response> {
    let mut tx = app.db.read().await?;
    let body = full_json(&mut tx, &ctx.org, &viewer(&ctx)).await?;
    tx.commit().await?;
    http::ok_json(body)
}

async fn update(app: App, mut req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    // PostHog's OrganizationAdminWritePermissions: admins change settings.
    require_admin(ctx.level)?;
    let checked = payload::check(req.data()?, false)?;
    let mut tx = app.db.write().await?;
    store::lock(&mut tx, &ctx.org.id).await?;
    // `default_role_id` names a role of this organization, read under the
    // lock (a role delete clears it in its own transaction).
    let role = match payload::named_role(&checked).and_then(parse_uuid) {
        Some(id) => crate::roles::store::find(&mut tx, &ctx.org.id, &id)
            .await?
            .map(|r| r.id),
        None => None,
    };
    let change = payload::finish(checked, role)?;
    let mut org = store::find(&mut tx, &ctx.org.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut d = store::details(&mut tx, &org.id).await?;
    change.apply(&mut org, &mut d);
    org.updated_at = time::now_micros();
    store::save(&mut tx, &org, &d).await?;
    let body = full_json(&mut tx, &org, &viewer(&ctx)).await?;
    tx.commit().await?;
    http::ok_json(body)
}

async fn destroy(app: App, _: ApiRequest, ctx: Member) -> ApiResult<Response> {
    rules::may_delete(ctx.level)?;
    let mut tx = app.db.write().await?;
    store::deletion::delete(&mut tx, &ctx.org.id).await?;
    tx.commit().await?;
    http::no_content()
}

/// Is `s` a canonical UUID? Path ids that are not are a 404, never a query.
pub fn parse_uuid(s: &str) -> Option<String> {
    uuid::Uuid::parse_str(s)
        .ok()
        .map(|u| u.hyphenated().to_string())
}

/// The member as the organization's shapes see them.
fn viewer(ctx: &Member) -> MembershipLevel {
    MembershipLevel {
        id: ctx.membership_id.clone(),
        level: ctx.level,
    }
}

/// The full organization shape (`OrganizationSerializer`), as the member
/// `viewer` sees it: its `teams` and `projects` are the ones they can see.
pub async fn full_json(
    tx: &mut Tx,
    org: &Organization,
    viewer: &MembershipLevel,
) -> DbResult<String> {
    let d = store::details(tx, &org.id).await?;
    let visibility = Visibility::of(viewer.level, &viewer.id);
    let projects = projects::store::all(tx, &org.id, &visibility).await?;
    let member_count = store::member_count(tx, &org.id).await?;
    let shape = model::full(org, Some(viewer.level), &d, &projects, member_count);
    serde_json::to_string(&shape).map_err(|e| crate::storage::DbError::Other(e.to_string()))
}

/// The short shape (`OrganizationBasicSerializer`) of `/api/users/@me/`'s `organizations`.
pub async fn basic_json(tx: &mut Tx, org: &Organization, level: Option<Level>) -> DbResult<String> {
    let d = store::details(tx, &org.id).await?;
    let shape = model::basic(org, level, &d);
    serde_json::to_string(&shape).map_err(|e| crate::storage::DbError::Other(e.to_string()))
}
