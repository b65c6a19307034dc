//! `/api/organizations/:organization_id/projects/...`: list, create,
//! retrieve, update, delete and the activity log.
//!
//! Handlers are thin: they run the shared checks, call the rules in
//! [`rules`] and the queries in [`store`], and render with [`model`].

pub(crate) mod bodies;
pub mod live_events;
pub mod model;
pub mod openapi;
pub mod payload;
pub mod root;
pub mod rules;
pub mod settings;
pub mod setup_tasks;
pub mod store;
pub mod timezones;
mod update;

use std::future::Future;
use std::pin::Pin;

use axum::response::Response;
use serde_json::{Map, Value};

use crate::access::{self, ProjectLevel, Visibility};
use crate::activity;
use crate::auth::{self, keys, Scope};
use crate::drf;
use crate::error::{ApiError, ApiResult};
use crate::http::{
    self, pagination, ApiRequest, App, Member, NonMember, ProjectMember, ProjectNeed, Routes,
};
use crate::organizations::{self, Level, Organization};
use crate::storage::Tx;
use crate::time;
use crate::users;
use model::{Project, Viewer};

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

const READ: &[Scope] = &[Scope::read("project")];
const WRITE: &[Scope] = &[Scope::write("project")];
/// PostHog refuses personal API keys here; prickle serves them (decisions.md).
const ACTIVITY: &[Scope] = &[Scope::read("project"), Scope::read("activity_log")];

const LIST_PATH: &str = "/api/organizations/{organization_id}/projects";
const DETAIL_PATH: &str = "/api/organizations/{organization_id}/projects/{id}";
const ACTIVITY_PATH: &str = "/api/organizations/{organization_id}/projects/{id}/activity";

pub fn routes(r: Routes) -> Routes {
    use openapi as doc;
    use NonMember::{Decide, EmptyList};
    use ProjectNeed::{Admin, Read};
    r.organization(doc::list(), READ, EmptyList, list)
        .organization(doc::create(), WRITE, Decide(non_member_create), create)
        .project(doc::retrieve(), "id", READ, Read, retrieve)
        .project(doc::partial_update(), "id", WRITE, Read, partial_update)
        .project(doc::update(), "id", WRITE, Read, update)
        .project(doc::destroy(), "id", WRITE, Admin, destroy)
        .project(doc::activity_log(), "id", ACTIVITY, Read, activity_log)
}

/// What a non-member gets from a project create: PostHog's create looks the
/// organization up among the caller's (404), but a demo request is refused
/// by its permission class first (403).
fn non_member_create<'a>(
    _: &'a App,
    req: &'a mut ApiRequest,
    _: &'a Organization,
) -> BoxFuture<'a, ApiError> {
    let is_demo = req
        .data()
        .and_then(payload::read)
        .is_ok_and(|sent| wants_demo(&sent.fields));
    Box::pin(async move {
        if is_demo {
            ApiError::forbidden()
        } else {
            ApiError::organization_not_found()
        }
    })
}

/// PostHog's plan check on PUT: making a project a demo when the
/// organization already has another demo is refused.
async fn demo_plan_check(app: &App, org_id: &str, id: Option<i64>) -> ApiResult<()> {
    let mut tx = app.db.read().await?;
    let other_demo = store::has_demo(&mut tx, org_id, id).await?;
    tx.commit().await?;
    if other_demo {
        rules::within_project_limit(0, i64::MAX, true, true)?;
    }
    Ok(())
}

fn viewer<'a>(app: &'a App, ctx: &Member, project_level: ProjectLevel) -> Viewer<'a> {
    Viewer {
        user_id: ctx.caller.user.id,
        project_level,
        signing_key: &app.config.secret_key,
    }
}

/// The project in the path, as the route declaration already checked it
/// (in the organization, reachable by the key); read again here inside the
/// handler's own transaction, still filtered by the organization.
async fn load(tx: &mut Tx, ctx: &ProjectMember, for_update: bool) -> ApiResult<Project> {
    store::find(tx, &ctx.org.id, ctx.project_id, for_update)
        .await?
        .ok_or_else(ApiError::not_found)
}

/// The caller's levels (in the organization, on the project) as they stand
/// under the write lock. A SQLite write transaction shuts out every other
/// writer, so while the grants epoch is the one the request was authorized
/// at (`auth::View::Current`), nothing the route's levels were read from has
/// changed since (every such change bumps it) and they stand as resolved;
/// otherwise, and on PostgreSQL, they are resolved again under the locks.
async fn levels_under_lock(
    tx: &mut Tx,
    authorized_at: auth::View,
    ctx: &ProjectMember,
) -> ApiResult<(Level, ProjectLevel)> {
    if let auth::View::Current(epoch) = authorized_at {
        if !tx.is_postgres() && tx.read_grants_epoch().await? == epoch {
            return Ok((ctx.level, ctx.access.level));
        }
    }
    let (level, granted) = access::relock(tx, ctx).await?;
    Ok((level, granted.level))
}

/// One activity entry about this project, by the caller.
async fn log(
    tx: &mut Tx,
    ctx: &Member,
    project: &Project,
    activity: &str,
    scope: &str,
    changes: Option<Vec<Value>>,
    now: i64,
) -> ApiResult<()> {
    let entry = activity::Entry {
        organization_id: &ctx.org.id,
        team_id: Some(project.id),
        user_id: Some(ctx.caller.user.id),
        activity,
        scope,
        item_id: project.id.to_string(),
        detail: activity::detail(&project.name, changes),
    };
    Ok(activity::record(tx, entry, now).await?)
}

async fn list(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    let query = req.query_pairs();
    let page = pagination::page(&query);
    let search = query
        .iter()
        .rev()
        .find(|(k, _)| k == "search")
        .map(|(_, v)| v.as_str());
    if let Some(term) = search {
        drf::no_null_characters(term, &"search".into())?;
    }
    let base = app.absolute(req.uri.path());
    let visibility = ctx.visibility();
    let mut tx = app.db.read().await?;
    // A page is rendered once per commit, for everyone who sees the
    // same projects (admins: all; a member: by their membership).
    let key = || PageKey {
        org_id: ctx.org.id.clone(),
        visibility: match &visibility {
            Visibility::All => None,
            Visibility::Member { membership_id } => Some(membership_id.clone()),
        },
        search: search.map(str::to_owned),
        limit: page.limit,
        offset: page.offset,
    };
    let rendered = app
        .rendered
        .project_pages
        .page(&mut tx, key, async |tx: &mut Tx| {
            let (count, projects) = store::page(
                tx,
                &ctx.org.id,
                &visibility,
                search,
                page.limit,
                page.offset,
            )
            .await?;
            let results = http::to_json(&model::basic_list(&projects))?;
            Ok(std::sync::Arc::new((count, results)))
        })
        .await?;
    tx.commit().await?;
    let (count, results) = &*rendered;
    http::ok_json(pagination::envelope_json(
        &base, &query, page, *count, results,
    ))
}

/// A page of an organization's project list as one caller sees it.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct PageKey {
    org_id: String,
    /// `None`: every project (admins); else the membership the rules name.
    visibility: Option<String>,
    search: Option<String>,
    limit: i64,
    offset: i64,
}

/// A body rendered since the last commit to the database is shown
/// again (`bodies`), without reading the project.
pub(crate) async fn retrieve(app: App, _: ApiRequest, ctx: ProjectMember) -> ApiResult<Response> {
    let mut tx = app.db.read().await?;
    let generation = tx.commit_generation().await?;
    let key = bodies::Key {
        project_id: ctx.project_id,
        user_id: ctx.caller.user.id,
        level: ctx.access.level.as_i64(),
    };
    let rendered = bodies::Rendered {
        organization_id: &ctx.org.id,
        signing_key: &app.config.secret_key,
    };
    let kept = &app.rendered.project_bodies;
    if let Some(generation) = generation {
        let now = chrono::Utc::now().timestamp();
        if let Some(body) = bodies::get(kept, &key, generation, &rendered, now) {
            tx.commit().await?;
            return http::ok_json_bytes(body);
        }
    }
    let project = load(&mut tx, &ctx, false).await?;
    tx.commit().await?;
    let (body, reusable_until) = project.detail_reusable(&viewer(&app, &ctx, ctx.access.level));
    let body = bytes::Bytes::from(body);
    if let Some(generation) = generation {
        bodies::put(
            kept,
            key,
            generation,
            &rendered,
            reusable_until,
            body.clone(),
        );
    }
    http::ok_json_bytes(body)
}

/// A new, unnamed project of the organization with every default setting.
pub(crate) fn blank(org: &Organization, now: i64) -> Project {
    let mut project = Project {
        id: 0,
        uuid: uuid::Uuid::now_v7().to_string(),
        organization_id: org.id.clone(),
        name: String::new(),
        product_description: None,
        is_demo: false,
        api_token: keys::new_project_token(),
        secret_api_token: None,
        secret_api_token_backup: None,
        ingested_event: false,
        settings_json: String::new(),
        created_at: now,
        updated_at: now,
    };
    let mut defaults = settings::defaults();
    defaults.insert(
        "anonymize_ips".into(),
        Value::Bool(org.default_anonymize_ips),
    );
    project.set_settings(&defaults);
    project
}

/// A demo is requested by a truthy `is_demo` (PostHog reads it before validation).
fn wants_demo(body: &Map<String, Value>) -> bool {
    body.get("is_demo")
        .is_some_and(|v| settings::parse_bool(v, "is_demo").unwrap_or(false))
}

pub(crate) async fn create(app: App, mut req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    let sent = payload::read(req.data()?)?;
    let is_demo = wants_demo(&sent.fields);
    let now = time::now_micros();
    let mut tx = app.db.write().await?;
    organizations::lock(&mut tx, &ctx.org.id).await?;
    let non_demo = store::count_non_demo(&mut tx, &ctx.org.id).await?;
    let has_demo = store::has_demo(&mut tx, &ctx.org.id, None).await?;
    rules::within_project_limit(
        non_demo,
        app.config.max_projects_per_organization,
        is_demo,
        has_demo,
    )?;
    rules::may_create(ctx.level, is_demo, &ctx.org)?;
    let level = ctx.level;

    let mut project = blank(&ctx.org, now);
    let mut changes = update::validate(&mut tx, &project, &sent, level, false, now).await?;
    rules::may_create_with_fields(level, &changes.admin_fields)?;
    if sent.fields.contains_key("primary_dashboard") {
        return Err(ApiError::invalid_input(
            "Primary dashboard cannot be set on project creation.",
        )
        .at("primary_dashboard"));
    }
    changes.check_deferred()?;
    changes.apply_to(&mut project);
    if project.name.is_empty() {
        let taken = store::default_name_keys(&mut tx, &ctx.org.id).await?;
        project.name = model::next_default_name(&taken);
    }
    project.id = store::insert(&mut tx, &project)
        .await
        .map_err(|e| update::name_conflict(e, &project.name))?;
    for scope in ["Project", "Team"] {
        log(&mut tx, &ctx, &project, "created", scope, None, now).await?;
    }
    users::set_current(
        &mut tx,
        ctx.caller.user.id,
        Some(&ctx.org.id),
        Some(project.id),
    )
    .await?;
    tx.commit().await?;
    // A new project has no rules: its creator's level is their organization's.
    let created = access::resolve(Some(ctx.level), &access::Rules::NONE)
        .level
        .unwrap_or(ProjectLevel::Member);
    http::created_json(project.detail(&viewer(&app, &ctx, created)))
}

pub(crate) async fn partial_update(
    app: App,
    req: ApiRequest,
    ctx: ProjectMember,
) -> ApiResult<Response> {
    change(app, req, ctx, false).await
}

/// PUT behaves as PATCH (clients send partial bodies with PUT), but passes
/// PostHog's plan check first, as PUT does there.
pub(crate) async fn update(app: App, req: ApiRequest, ctx: ProjectMember) -> ApiResult<Response> {
    change(app, req, ctx, true).await
}

/// PATCHes and PUTs worked out again under the lock because the project
/// changed after their snapshot (debug builds: the tests check the path runs).
#[cfg(debug_assertions)]
pub static REPLANS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// An update worked out against one version of a project.
struct Plan {
    /// The version it was worked out from.
    base: Project,
    project: Project,
    team_changes: Vec<Value>,
    project_changes: Vec<Value>,
}

impl Plan {
    fn changes_nothing(&self) -> bool {
        self.team_changes.is_empty() && self.project_changes.is_empty()
    }
}

/// Validates the body against `current` in PostHog's order and works out
/// the new version: admin-only fields take admin on the project
/// (`project_level`), `receive_org_level_activity_logs` the organization's.
async fn plan(
    tx: &mut Tx,
    current: Project,
    sent: &payload::Sent,
    (org_level, project_level): (Level, ProjectLevel),
    now: i64,
) -> ApiResult<Plan> {
    let mut changes = update::validate(tx, &current, sent, org_level, true, now).await?;
    rules::may_update_fields(project_level, &changes.admin_fields)?;
    changes.check_deferred()?;
    let mut project = current.clone();
    let (before_settings, after_settings) = changes.apply_to(&mut project);
    let (team_changes, project_changes) =
        update::diff(&current, &project, &before_settings, &after_settings);
    project.updated_at = now;
    Ok(Plan {
        base: current,
        project,
        team_changes,
        project_changes,
    })
}

async fn change(
    app: App,
    mut req: ApiRequest,
    ctx: ProjectMember,
    put: bool,
) -> ApiResult<Response> {
    let sent = payload::read(req.data()?)?;
    let id = ctx.project_id;
    let now = time::now_micros();
    // Validation, the diff and the JSON work happen against a snapshot,
    // outside the write lock; under it, the plan is reused when the project is
    // still that snapshot and worked out again otherwise, so concurrent
    // updates never lose one another.
    if put && wants_demo(&sent.fields) {
        demo_plan_check(&app, &ctx.org.id, Some(id)).await?;
    }
    let mut tx = app.db.read().await?;
    let levels = (ctx.level, ctx.access.level);
    let snapshot = load(&mut tx, &ctx, false).await?;
    let mut draft = plan(&mut tx, snapshot, &sent, levels, now).await?;
    tx.commit().await?;
    if draft.changes_nothing() {
        return http::ok_json(draft.base.detail(&viewer(&app, &ctx, levels.1)));
    }

    let mut tx = app.db.write().await?;
    let locked = load(&mut tx, &ctx, true).await?;
    let locked_levels = levels_under_lock(&mut tx, req.grants, &ctx).await?;
    if !locked.same_content(&draft.base) || locked_levels != levels {
        #[cfg(debug_assertions)]
        REPLANS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        draft = plan(&mut tx, locked, &sent, locked_levels, now).await?;
    }
    let Plan {
        base,
        project,
        team_changes,
        project_changes,
    } = draft;
    if !team_changes.is_empty() || !project_changes.is_empty() {
        store::update(&mut tx, &base, &project)
            .await
            .map_err(|e| update::name_conflict(e, &project.name))?;
        for (scope, changes) in [("Team", team_changes), ("Project", project_changes)] {
            if !changes.is_empty() {
                log(
                    &mut tx,
                    &ctx,
                    &project,
                    "updated",
                    scope,
                    Some(changes),
                    now,
                )
                .await?;
            }
        }
    }
    tx.commit().await?;
    let shown = if base.same_content(&project) {
        &base
    } else {
        &project
    };
    http::ok_json(shown.detail(&viewer(&app, &ctx, locked_levels.1)))
}

pub(crate) async fn destroy(app: App, req: ApiRequest, ctx: ProjectMember) -> ApiResult<Response> {
    let now = time::now_micros();
    let mut tx = app.db.write().await?;
    let project = load(&mut tx, &ctx, true).await?;
    let project_level = levels_under_lock(&mut tx, req.grants, &ctx).await?.1;
    rules::may_delete(project_level)?;
    store::delete(&mut tx, &ctx.org.id, project.id).await?;
    // The log outlives the project: PostHog keeps "deleted" entries.
    for scope in ["Team", "Project"] {
        log(&mut tx, &ctx, &project, "deleted", scope, None, now).await?;
    }
    tx.commit().await?;
    http::no_content()
}

/// A positive integer query parameter, or its default when absent.
fn positive_param(query: &[(String, String)], name: &'static str, default: i64) -> ApiResult<i64> {
    match query.iter().rev().find(|(k, _)| k == name) {
        None => Ok(default),
        Some((_, v)) => match v.trim().parse::<i64>() {
            Ok(n) if n >= 1 => Ok(n),
            Ok(_) => Err(ApiError::validation(
                "min_value",
                "Ensure this value is greater than or equal to 1.",
            )
            .at(name)),
            Err(_) => Err(ApiError::invalid_input("A valid integer is required.").at(name)),
        },
    }
}

/// PostHog's activity page: `page`/`limit` (default 10), links that replace
/// or append those two parameters in the URL as requested, and `total_count`.
pub(crate) async fn activity_log(
    app: App,
    req: ApiRequest,
    ctx: ProjectMember,
) -> ApiResult<Response> {
    let id = ctx.project_id;
    let query = req.query_pairs();
    let limit = positive_param(&query, "limit", 10)?;
    let page = positive_param(&query, "page", 1)?;
    let mut tx = app.db.read().await?;
    let offset = (page - 1).saturating_mul(limit);
    let (results, total) = activity::page(
        &mut tx,
        &ctx.org.id,
        id,
        "Team",
        &id.to_string(),
        limit,
        offset,
    )
    .await?;
    tx.commit().await?;
    let url = match req.uri.query() {
        Some(q) => app.absolute(&format!("{}?{q}", req.uri.path())),
        None => app.absolute(req.uri.path()),
    };
    let link = |p: i64| set_query_param(&set_query_param(&url, "page", p), "limit", limit);
    let next = (offset.saturating_add(limit) < total).then(|| link(page + 1));
    let previous = (page > 1).then(|| link(page - 1));
    http::ok_of(&activity::LogPage {
        results,
        next,
        previous,
        total_count: total,
    })
}

/// Replaces every `name=<digits>` in the URL's query, or appends `name=value`.
fn set_query_param(url: &str, name: &str, value: i64) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let Some(query) = query else {
        return format!("{base}?{name}={value}");
    };
    let mut found = false;
    let parts: Vec<String> = query
        .split('&')
        .map(|part| match part.split_once('=') {
            Some((k, v)) if k == name && !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()) => {
                found = true;
                format!("{name}={value}")
            }
            _ => part.to_string(),
        })
        .collect();
    let mut out = format!("{base}?{}", parts.join("&"));
    if !found {
        out.push_str(&format!("&{name}={value}"));
    }
    out
}

/// Maps a unique-index violation on the name to PostHog's 409.
impl From<update::Conflict> for ApiError {
    fn from(c: update::Conflict) -> Self {
        ApiError::conflict(format!(
            "There is already a project called \"{}\" in this organization. Choose a different name.",
            c.0
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::set_query_param;

    #[test]
    fn activity_links_like_posthog() {
        let u = "https://h/api/organizations/o/projects/2/activity";
        assert_eq!(
            set_query_param(&set_query_param(u, "page", 2), "limit", 10),
            format!("{u}?page=2&limit=10")
        );
        let u2 = format!("{u}?limit=5&page=3&x=y");
        assert_eq!(
            set_query_param(&set_query_param(&u2, "page", 4), "limit", 5),
            format!("{u}?limit=5&page=4&x=y")
        );
    }
}
