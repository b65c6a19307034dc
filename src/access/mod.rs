//! Project access control: who may see and run each project.
//!
//! A project carries rules (a default rule, member rules and role rules);
//! `rules::resolve` turns them and the caller's organization level into the
//! caller's level on the project. `store` reads and writes the rules; every
//! route that reaches a project resolves through it (`http::routes`).
//!
//! The routes here, on both project mounts: `GET`/`PUT .../access_controls`
//! (read a project's rules, write one) and `GET .../users_with_access`.

pub mod model;
pub mod openapi;
pub mod payload;
pub mod rules;
pub mod store;

pub use rules::{resolve, Granted, ProjectLevel, Resolved, RuleLevel, Rules, Source, Visibility};

use axum::response::Response;
use serde_json::Value;

use crate::activity;
use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, ApiRequest, App, ProjectMember, ProjectNeed, Routes};
use crate::organizations::Level;
use crate::storage::Tx;
use crate::time;
use model::{AccessControls, Rule};
use store::NewRule;

const READ: &[Scope] = &[Scope::read("access_control")];
const WRITE: &[Scope] = &[Scope::write("access_control")];

const ROOT_PATH: &str = "/api/projects/{id}/access_controls";
const ROOT_USERS_PATH: &str = "/api/projects/{id}/users_with_access";
const ORG_PATH: &str = "/api/organizations/{organization_id}/projects/{id}/access_controls";
const ORG_USERS_PATH: &str = "/api/organizations/{organization_id}/projects/{id}/users_with_access";

pub const MUST_BE_ADMIN: &str = "Must be admin to modify project permissions.";

pub fn routes(r: Routes) -> Routes {
    use openapi as doc;
    r.root_project(doc::retrieve(), "id", READ, ProjectNeed::Read, retrieve)
        .root_project(doc::update(), "id", WRITE, ProjectNeed::Read, update)
        .root_project(
            doc::users_with_access(),
            "id",
            READ,
            ProjectNeed::Read,
            users_with_access,
        )
        .project(doc::retrieve_2(), "id", READ, ProjectNeed::Read, retrieve)
        .project(doc::update_2(), "id", WRITE, ProjectNeed::Read, update)
        .project(
            doc::users_with_access_2(),
            "id",
            READ,
            ProjectNeed::Read,
            users_with_access,
        )
}

/// The caller's organization level and their grant on the project, read
/// again inside a write transaction that holds the project's lock, so a
/// write's gates judge the rules as they are when it lands (a rule changed
/// since the route resolved it counts). 404 once the project is hidden from
/// them or they left. Project writes and rule writes both go through it.
pub async fn relock(tx: &mut Tx, ctx: &ProjectMember) -> ApiResult<(Level, Granted)> {
    let found = store::project_access(tx, ctx.project_id, Some(&ctx.org.id), ctx.caller.user.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let level = found
        .membership
        .map(|m| m.level)
        .ok_or_else(ApiError::not_found)?;
    let granted = resolve(Some(level), &found.rules)
        .granted()
        .ok_or_else(ApiError::not_found)?;
    Ok((level, granted))
}

/// The reads answer from the level the route resolved (`ctx.access`), as
/// every project route does; only the PUT resolves again, under its locks.
async fn retrieve(app: App, _req: ApiRequest, ctx: ProjectMember) -> ApiResult<Response> {
    let mut tx = app.db.read().await?;
    let rules = store::list(&mut tx, &ctx.org.id, ctx.project_id).await?;
    tx.commit().await?;
    let can_edit = rules::may_edit_rules(Some(ctx.level), &ctx.access.into());
    http::ok_of(&AccessControls::new(&rules, ctx.access.level, can_edit))
}

async fn users_with_access(app: App, _req: ApiRequest, ctx: ProjectMember) -> ApiResult<Response> {
    let mut tx = app.db.read().await?;
    let members = store::members_on(&mut tx, &ctx.org.id, ctx.project_id).await?;
    tx.commit().await?;
    http::ok_of(&model::users_with_access(&members))
}

/// PostHog's order: the project (404), the fields, the object checks, the
/// permission (403, deletes and no-ops included), then the write. Everything
/// runs under the organization and project locks, so the caller's level is
/// the one the write sees (two project admins demoting each other are
/// serialised, and the second is refused).
async fn update(app: App, mut req: ApiRequest, ctx: ProjectMember) -> ApiResult<Response> {
    let org_id = &ctx.org.id;
    let now = time::now_micros();
    let mut tx = app.db.write().await?;
    let project_name = store::lock_project(&mut tx, org_id, ctx.project_id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let (level, granted) = relock(&mut tx, &ctx).await?;
    let checked = payload::RULE.check(req.data()?, false)?;
    let (member, role) = payload::named_ids(&checked);
    let found = payload::Found {
        membership_org: match &member {
            Some(id) => store::membership_organization(&mut tx, id).await?,
            None => None,
        },
        role_org: match &role {
            Some(id) => store::role_organization(&mut tx, id).await?,
            None => None,
        },
    };
    let put = payload::accept(checked, &found)?;
    payload::object_checks(&put, &found, org_id)?;
    if !rules::may_edit_rules(Some(level), &granted.into()) {
        return Err(ApiError::permission_denied(MUST_BE_ADMIN));
    }
    let new = NewRule {
        organization_id: org_id,
        project_id: ctx.project_id,
        membership_id: put.membership_id.as_deref(),
        role_id: put.role_id.as_deref(),
        level: put.level.unwrap_or(RuleLevel::None),
        by: Some(ctx.caller.user.id),
    };
    let before = store::find(&mut tx, &new).await?;
    let after = match put.level {
        None => {
            store::delete(&mut tx, &new).await?;
            None
        }
        Some(_) => {
            store::upsert(&mut tx, &new, now).await?;
            store::find(&mut tx, &new).await?
        }
    };
    let changed = before.as_ref().map(|r| r.level) != after.as_ref().map(|r| r.level);
    if changed {
        let change = RuleChange {
            organization_id: org_id,
            project_id: ctx.project_id,
            project_name: &project_name,
            user_id: ctx.caller.user.id,
            before: before.as_ref(),
            after: after.as_ref(),
            trigger: Value::Null,
        };
        record_change(&mut tx, change, now).await?;
    }
    tx.commit().await?;
    match &after {
        Some(rule) => http::ok_of(&rule.shown()),
        None => http::no_content(),
    }
}

/// A rule written, changed or deleted, and by whom.
pub struct RuleChange<'a> {
    pub organization_id: &'a str,
    pub project_id: i64,
    pub project_name: &'a str,
    pub user_id: i64,
    pub before: Option<&'a Rule>,
    pub after: Option<&'a Rule>,
    /// What made it, when not a request on the rules (an accepted invite).
    pub trigger: Value,
}

/// The project's activity entry for a rule change (design §6.2: prickle's
/// own, PostHog logs none): `Team`/`updated`, so the project's activity log
/// shows it, with one `access_controls` change.
pub async fn record_change(tx: &mut Tx, c: RuleChange<'_>, now: i64) -> ApiResult<()> {
    let json = |r: Option<&Rule>| r.map_or(Value::Null, Rule::activity_json);
    let change = activity::change("Team", "access_controls", &json(c.before), &json(c.after));
    let mut detail = activity::detail(c.project_name, change.map(|c| vec![c]));
    detail["trigger"] = c.trigger;
    let entry = activity::Entry {
        organization_id: c.organization_id,
        team_id: Some(c.project_id),
        user_id: Some(c.user_id),
        activity: "updated",
        scope: "Team",
        item_id: c.project_id.to_string(),
        detail,
    };
    Ok(activity::record(tx, entry, now).await?)
}
