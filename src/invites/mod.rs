//! `/api/organizations/:organization_id/invites/...`: list, create, bulk
//! create and delete invites; `crate::signup` turns one into a membership.
//!
//! Handlers are thin: validation in [`payload`], who may do what in
//! [`rules`], queries in [`store`], rendering in [`model`], and the email in
//! [`email`], sent only after the transaction commits.

pub mod email;
pub mod model;
pub mod openapi;
pub mod payload;
pub mod rules;
pub mod store;
pub mod token;

use std::collections::HashMap;

use axum::response::Response;
use serde_json::Value;

use crate::access;
use crate::access::rules::InviteFacts;
use crate::auth::Scope;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, pagination, ApiRequest, App, Member, NonMember, Routes};
use crate::organizations;
use crate::storage::Tx;
use crate::time;
use model::Invite;
use payload::NewInvite;

const READ: &[Scope] = &[Scope::read("organization_member")];
const WRITE: &[Scope] = &[Scope::write("organization_member")];

const LIST_PATH: &str = "/api/organizations/{organization_id}/invites";
const BULK_PATH: &str = "/api/organizations/{organization_id}/invites/bulk";
const DETAIL_PATH: &str = "/api/organizations/{organization_id}/invites/{id}";

/// PostHog's cap on one bulk request.
pub const MAX_BULK: usize = 20;

/// Invite writes check the person before the key, as PostHog's permission
/// classes run there (membership, then may-invite or admin, then scopes).
pub fn routes(r: Routes) -> Routes {
    let r = r
        .organization(openapi::list(), READ, NonMember::Forbidden, list)
        .organization_gated(openapi::create(), WRITE, may_invite, create)
        .organization_gated(openapi::bulk(), WRITE, may_invite, bulk)
        .organization_gated(openapi::destroy(), WRITE, may_delete, destroy);
    crate::signup::routes(r)
}

fn may_invite(m: &Member) -> ApiResult<()> {
    rules::may_invite(m.level, &m.org)
}

fn may_delete(m: &Member) -> ApiResult<()> {
    crate::organizations::require_admin(m.level)
}

async fn list(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    let query = req.query_pairs();
    let page = pagination::page(&query);
    let base = app.absolute(req.uri.path());
    let now = time::now_micros();
    let mut tx = app.db.read().await?;
    let count = store::count(&mut tx, &ctx.org.id).await?;
    let invites = store::list(&mut tx, &ctx.org.id, page.limit, page.offset).await?;
    tx.commit().await?;
    http::ok_json(pagination::envelope_of(
        &base,
        &query,
        page,
        count,
        &model::shown(&invites, now),
    )?)
}

/// The organization's projects and what the inviter is on each, read only
/// when a payload names some, in the invite's transaction (organization
/// locked), so the checks and the insert see one state of the rules.
async fn project_facts(
    tx: &mut Tx,
    ctx: &Member,
    needed: bool,
) -> ApiResult<HashMap<i64, InviteFacts>> {
    if !needed {
        return Ok(HashMap::new());
    }
    let Some((membership_id, level)) =
        access::store::membership(tx, &ctx.org.id, ctx.caller.user.id).await?
    else {
        // Removed since the request was routed: no project is theirs to name.
        return Ok(HashMap::new());
    };
    let rules = access::store::invite_facts(tx, &ctx.org.id, &membership_id).await?;
    Ok(rules
        .into_iter()
        .map(|(id, rules)| (id, InviteFacts::of(level, &rules)))
        .collect())
}

async fn create(app: App, mut req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    let checked = payload::check(req.data()?)?;
    let now = time::now_micros();
    let mut tx = app.db.write().await?;
    organizations::lock(&mut tx, &ctx.org.id).await?;
    let projects = project_facts(&mut tx, &ctx, payload::names_projects(&checked)).await?;
    let check = payload::Context {
        level: ctx.level,
        projects: &projects,
    };
    let new = payload::accept(checked, &check)?;
    let invite = write(&mut tx, &app, &ctx, new, now).await?;
    tx.commit().await?;
    send_emails(&app, &ctx, std::slice::from_ref(&invite));
    http::created_of(&invite.shown(now))
}

/// All or nothing (decisions.md): every element is validated first, then
/// all are written in one transaction; any failure writes and sends nothing.
async fn bulk(app: App, mut req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    let Some(Value::Array(items)) = req.data()?.json() else {
        return Err(ApiError::invalid_input(
            "This endpoint needs an array of data for bulk invite creation.",
        ));
    };
    if items.len() > MAX_BULK {
        return Err(ApiError::validation(
            "max_length",
            "A maximum of 20 invites can be sent in a single request.",
        ));
    }
    let checked: Vec<ApiResult<crate::payload::Checked>> = items
        .iter()
        .enumerate()
        .map(|(i, item)| {
            let prefix = format!("__{i}__");
            match item {
                Value::Object(o) => Ok(payload::INVITE.check_object(o, false, &prefix)),
                other => Err(ApiError::invalid_input(format!(
                    "Invalid data. Expected a dictionary, but got {}.",
                    crate::drf::py_type_name(other)
                ))
                .at(format!("{prefix}non_field_errors"))),
            }
        })
        .collect();
    let needed = checked
        .iter()
        .any(|c| c.as_ref().is_ok_and(payload::names_projects));
    let now = time::now_micros();
    let mut tx = app.db.write().await?;
    organizations::lock(&mut tx, &ctx.org.id).await?;
    let projects = project_facts(&mut tx, &ctx, needed).await?;
    let check = payload::Context {
        level: ctx.level,
        projects: &projects,
    };
    let mut parsed: Vec<NewInvite> = Vec::with_capacity(checked.len());
    let mut first_error: Option<ApiError> = None;
    for item in checked {
        match item.and_then(|c| payload::accept(c, &check)) {
            Ok(new) => parsed.push(new),
            // A level escalation escapes validation at once, beating the 400s.
            Err(e) if e.status == axum::http::StatusCode::FORBIDDEN => return Err(e),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    let mut created = Vec::with_capacity(parsed.len());
    for new in parsed {
        created.push(write(&mut tx, &app, &ctx, new, now).await?);
    }
    tx.commit().await?;
    send_emails(&app, &ctx, &created);
    http::created_of(&model::shown(&created, now))
}

/// PostHog's create, inside the caller's transaction (organization locked):
/// refuse a current member, combine pending invites if asked, replace every
/// earlier invite for the email, insert.
async fn write(
    tx: &mut Tx,
    app: &App,
    ctx: &Member,
    new: NewInvite,
    now: i64,
) -> ApiResult<Invite> {
    let org_id = &ctx.org.id;
    if store::has_member_with_email(tx, org_id, &new.target_email).await? {
        return Err(ApiError::invalid_input(
            "A user with this email address already belongs to the organization.",
        ));
    }
    // Omitted: PostHog's model default `[]`; sent empty or null: stored null.
    let sent = new.private_project_access.clone();
    let mut level = new.level;
    let mut access = match &sent {
        None => Some(Vec::new()),
        Some(list) => list.clone(),
    };
    if new.combine_pending_invites {
        let pending =
            store::pending_for(tx, org_id, &new.target_email, model::valid_since(now)).await?;
        if !pending.is_empty() {
            let pending: Vec<_> = pending
                .into_iter()
                .map(|i| (i.level, i.private_project_access))
                .collect();
            // PostHog crashes on an explicit `[]` here; prickle treats it as absent.
            let listed = access.clone().unwrap_or_default();
            let (l, a) = rules::combine(&pending, new.level, &listed);
            level = l;
            access = Some(a);
        }
    }
    store::delete_for(tx, org_id, &new.target_email).await?;
    let id = uuid::Uuid::new_v4().to_string();
    let (token, digest) = token::new();
    let invite = Invite {
        signup_url: Some(token::signup_url(&app.config.site_url, &id, &token)),
        // Random (v4), not time-ordered, though every member can list it: the
        // token is the sign-up link's secret.
        id,
        organization_id: org_id.clone(),
        target_email: new.target_email,
        first_name: new.first_name,
        created_by: Some(ctx.caller.user.clone()),
        emailing_attempt_made: app.config.email.is_some() && new.send_email,
        level,
        message: new.message,
        private_project_access: access,
        created_at: now,
        updated_at: now,
    };
    store::insert(tx, &invite, &digest).await?;
    Ok(invite)
}

fn send_emails(app: &App, ctx: &Member, invites: &[Invite]) {
    let Some(settings) = &app.config.email else {
        return;
    };
    let mails = invites
        .iter()
        .filter(|i| i.emailing_attempt_made)
        .filter_map(|i| {
            let link = i.signup_url.as_deref()?;
            Some(email::InviteEmail::new(i, &ctx.org.name, link))
        })
        .collect();
    email::send_later(settings, mails);
}

async fn destroy(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    let id = req
        .param("id")
        .and_then(organizations::parse_uuid)
        .ok_or_else(ApiError::not_found)?;
    let mut tx = app.db.write().await?;
    let deleted = store::delete(&mut tx, &ctx.org.id, &id).await?;
    if deleted == 0 {
        return Err(ApiError::not_found());
    }
    tx.commit().await?;
    http::no_content()
}
