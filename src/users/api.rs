//! `/api/users/@me/`: who the key belongs to, their current organization and
//! project (chosen, and saved, as PostHog chooses them), and the profile
//! fields a key may change.

use axum::http::Method;
use axum::response::Response;
use sea_query::{Expr, ExprTrait, Order, Query};
use serde_json::{json, Map, Value};

use super::profile::{self, Profile};
use super::User;
use crate::auth::{Caller, Scope};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, Access, ApiRequest, App, Routes};
use crate::organizations::{self, Level, Organization};
use crate::projects::{model::Project, store as projects};
use crate::storage::schema::OrganizationMemberships as M;
use crate::storage::{DbResult, Tx};
use crate::time;

const READ: &[Scope] = &[Scope::read("user")];
const WRITE: &[Scope] = &[Scope::write("user")];
pub(super) const PATH: &str = "/api/users/{uuid}";

pub fn routes(r: Routes) -> Routes {
    r.caller(Method::GET, PATH, Access::User(READ), retrieve)
        .caller(Method::PATCH, PATH, Access::User(WRITE), update)
        // Clients send partial bodies with PUT too.
        .caller(Method::PUT, PATH, Access::User(WRITE), update)
}

/// Without staff users, `@me` is the only user anyone may address.
fn only_me(req: &ApiRequest) -> ApiResult<()> {
    if req.param("uuid") == Some("@me") {
        Ok(())
    } else {
        Err(ApiError::permission_denied(
            "As a non-staff user you're only allowed to access the `@me` user instance.",
        ))
    }
}

/// The user's current organization (with their level) and project.
struct Current {
    org: Option<(Organization, Level)>,
    team: Option<Project>,
}

impl Current {
    fn ids(&self) -> (Option<&str>, Option<i64>) {
        (
            self.org.as_ref().map(|(o, _)| o.id.as_str()),
            self.team.as_ref().map(|t| t.id),
        )
    }
}

async fn membership(
    tx: &mut Tx,
    org_id: &str,
    user: &User,
) -> DbResult<Option<(Organization, Level)>> {
    Ok(organizations::find_with_level(tx, org_id, user.id)
        .await?
        .and_then(|(org, level)| level.map(|l| (org, l))))
}

/// PostHog's `User.organization` and `User.team`: the current ones while
/// the user still belongs to them, else the project's organization, else the
/// first organization joined; and that organization's first project.
async fn choose(tx: &mut Tx, user: &User) -> DbResult<Current> {
    let mut org = match &user.current_organization_id {
        Some(id) => membership(tx, id, user).await?,
        None => None,
    };
    let mut team = None;
    if let Some(team_id) = user.current_team_id {
        if let Some(team_org) = organizations::of_project(tx, team_id).await? {
            if org.is_none() {
                org = membership(tx, &team_org, user).await?;
            }
            if org.as_ref().is_some_and(|(o, _)| o.id == team_org) {
                team = projects::find(tx, &team_org, team_id, false).await?;
            }
        }
    }
    if org.is_none() {
        let (mut first, _) = organizations::store::of_user(tx, user.id, None, 1, 0).await?;
        org = first.pop();
    }
    if team.is_none() {
        if let Some((o, _)) = &org {
            if let Some(id) = organizations::first_project(tx, &o.id).await? {
                team = projects::find(tx, &o.id, id, false).await?;
            }
        }
    }
    Ok(Current { org, team })
}

/// Did the user join the organization before anyone else?
async fn is_first_member(tx: &mut Tx, org_id: &str, user_id: i64) -> DbResult<bool> {
    let stmt = Query::select()
        .column(M::UserId)
        .from(M::Table)
        .and_where(Expr::col(M::OrganizationId).eq(org_id))
        .order_by(M::JoinedAt, Order::Asc)
        .order_by(M::Id, Order::Asc)
        .limit(1)
        .to_owned();
    Ok(tx.query_opt(&stmt, |r| r.i64(0)).await? == Some(user_id))
}

/// `UserSerializer`'s shape for the caller.
async fn render(tx: &mut Tx, user: &User, current: &Current) -> DbResult<Value> {
    let p: Profile = profile::find(tx, user.id).await?;
    let organization = match &current.org {
        Some((org, level)) => organizations::full_json(tx, org, Some(*level)).await?,
        None => Value::Null,
    };
    let first_user = match &current.org {
        Some((org, _)) => is_first_member(tx, &org.id, user.id).await?,
        None => false,
    };
    let pending_invites =
        crate::invites::store::pending_for_user(tx, user, time::now_micros()).await?;
    let (orgs, _) = organizations::store::of_user(tx, user.id, None, i64::MAX, 0).await?;
    let mut organizations = Vec::with_capacity(orgs.len());
    for (org, level) in &orgs {
        organizations.push(organizations::basic_json(tx, org, Some(*level)).await?);
    }
    Ok(json!({
        "date_joined": time::format(p.date_joined),
        "uuid": user.uuid,
        "distinct_id": user.distinct_id,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "pending_email": p.pending_email,
        "is_email_verified": user.is_email_verified,
        "notification_settings": profile::notifications_shown(&p),
        "anonymize_data": p.anonymize_data.unwrap_or(false),
        "toolbar_mode": p.toolbar_mode.as_deref().unwrap_or("toolbar"),
        "has_password": p.has_password,
        "id": user.id,
        "is_staff": false,
        "is_impersonated": false,
        "is_impersonated_until": null,
        "sensitive_session_expires_at": null,
        "team": current.team.as_ref().map(organizations::model::team_basic),
        "organization": organization,
        "organizations": organizations,
        "events_column_config": {"active": "DEFAULT"},
        "is_2fa_enabled": false,
        "has_social_auth": false,
        "has_sso_enforcement": false,
        "has_seen_product_intro_for": null,
        "scene_personalisation": [],
        "theme_mode": p.theme_mode,
        "hedgehog_config": user.hedgehog_config,
        "role_at_organization": user.role_at_organization,
        "is_organization_first_user": first_user,
        "pending_invites": pending_invites,
    }))
}

/// Renders the user, first saving the current organization and project
/// PostHog would have picked when none (or a stale one) is set.
async fn show(app: &App, user: &User) -> ApiResult<Value> {
    let mut tx = app.db.read().await?;
    let current = choose(&mut tx, user).await?;
    let (org, team) = current.ids();
    let stale = org != user.current_organization_id.as_deref() || team != user.current_team_id;
    if !stale {
        let body = render(&mut tx, user, &current).await?;
        tx.commit().await?;
        return Ok(body);
    }
    drop(tx);
    let mut tx = app.db.write().await?;
    let current = choose(&mut tx, user).await?;
    let (org, team) = current.ids();
    super::set_current(&mut tx, user.id, org, team).await?;
    let body = render(&mut tx, user, &current).await?;
    tx.commit().await?;
    Ok(body)
}

async fn retrieve(app: App, req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    only_me(&req)?;
    http::ok(show(&app, &caller.user).await?)
}

const KEY_CANNOT_CHANGE: &str =
    "You can only change your email or password from the PostHog app, not with an API key or token.";

/// `set_current_organization` / `set_current_team`: CharFields naming one of
/// the user's organizations / projects.
fn does_not_exist(v: &Value, field: &'static str) -> ApiError {
    ApiError::validation(
        "does_not_exist",
        format!("Object with id={} does not exist.", crate::drf::py_str(v)),
    )
    .at(field)
}

async fn switch_target(
    tx: &mut Tx,
    user: &User,
    body: &Map<String, Value>,
) -> ApiResult<Option<(String, Option<i64>)>> {
    let org = match body.get("set_current_organization") {
        None => None,
        Some(v) => {
            let id = match v {
                Value::String(s) => organizations::parse_uuid(s.trim()),
                _ => None,
            };
            let found = match id {
                Some(id) => membership(tx, &id, user).await?,
                None => None,
            };
            Some(
                found
                    .ok_or_else(|| does_not_exist(v, "set_current_organization"))?
                    .0
                    .id,
            )
        }
    };
    let team = match body.get("set_current_team") {
        None => None,
        Some(v) => {
            let id = match v {
                Value::String(s) => s.trim().parse::<i64>().ok(),
                Value::Number(n) => n.as_i64(),
                _ => None,
            };
            let mut found = None;
            if let Some(id) = id {
                if let Some(team_org) = organizations::of_project(tx, id).await? {
                    if membership(tx, &team_org, user).await?.is_some() {
                        found = Some((id, team_org));
                    }
                }
            }
            Some(found.ok_or_else(|| does_not_exist(v, "set_current_team"))?)
        }
    };
    Ok(match (org, team) {
        (Some(org), Some((_, team_org))) if team_org != org => {
            return Err(ApiError::invalid_input(
                "Team must belong to the same organization in set_current_organization.",
            )
            .at("set_current_team"))
        }
        (Some(org), Some((team, _))) => Some((org, Some(team))),
        (Some(org), None) => {
            let first = organizations::first_project(tx, &org).await?;
            Some((org, first))
        }
        (None, Some((team, team_org))) => Some((team_org, Some(team))),
        (None, None) => None,
    })
}

async fn update(app: App, mut req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    only_me(&req)?;
    let body = req.body_object()?;
    let user = &caller.user;
    let new_email = body
        .get("email")
        .and_then(Value::as_str)
        .is_some_and(|e| !e.trim().eq_ignore_ascii_case(&user.email));
    if new_email || body.contains_key("password") {
        return Err(ApiError::permission_denied(KEY_CANNOT_CHANGE));
    }
    if body.contains_key("is_staff") {
        return Err(ApiError::permission_denied(
            "You are not a staff user, contact your instance admin.",
        ));
    }
    let mut tx = app.db.write().await?;
    let current = profile::find(&mut tx, user.id).await?;
    let change = profile::validate(&current, &body)?;
    let switch = switch_target(&mut tx, user, &body).await?;
    profile::save(&mut tx, user.id, change).await?;
    if let Some((org, team)) = &switch {
        super::set_current(&mut tx, user.id, Some(org), *team).await?;
    }
    let user = super::find_by_email(&mut tx, &user.email)
        .await?
        .ok_or_else(ApiError::not_found)?;
    tx.commit().await?;
    http::ok(show(&app, &user).await?)
}
