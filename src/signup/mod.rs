//! `/api/signup/:invite_id/`: the preview of an invite and joining through
//! it. Public routes: the invite's id names it and its sign-up token
//! (`?token=`, or a `token` body field on POST) proves the caller received
//! the link; a missing or wrong token is answered as an unknown invite. A
//! caller who sends a personal API key is that key's user (an existing
//! account joining, who needs the token too); otherwise a new account is
//! made from `first_name` and `password`.
//!
//! Joining checks everything that could refuse it before the password is
//! hashed (argon2: ~19 MiB and a core for a while), so a refused sign-up
//! costs a few reads; the hashes that do run are bounded by
//! `App::password_hashes`.
//!
//! Handlers are thin: the token and the account fields in [`payload`], who
//! may join in [`rules`], what it answers in [`model`]; sign-up has no table of its own, so its queries
//! are the invites', users' and organizations' stores. It is a resource of
//! its own, not part of `invites`: its routes are public (a key is
//! optional), sit outside any organization, and make accounts and
//! memberships.

pub mod model;
pub mod payload;
pub mod rules;

use axum::response::Response;
use serde_json::json;

use crate::access::{self, RuleLevel};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, ApiRequest, App, Routes};
use crate::invites::model::{AccessLevel, Invite};
use crate::invites::{store, token};
use crate::organizations;
use crate::rate_limit::Throttle;
use crate::sessions;
use crate::storage::{DbError, Tx};
use crate::time;
use crate::users::model::UserBasic;
use crate::users::{self, NewUser, User};
use model::{InviteSignupPreview, InviteSignupResponse};
use payload::presented_token;
use rules::{account_taken, not_valid, validate, Facts};

pub(crate) const PATH: &str = "/api/signup/{invite_id}";

pub fn routes(r: Routes) -> Routes {
    use crate::invites::openapi as doc;
    r.public(doc::signup_preview(), preview)
        // PostHog's SignupIPThrottle, when rate limits are on.
        .public_throttled(doc::signup_accept(), Throttle::Signup, accept)
}

/// The key's user when the request carries one (401 for a bad one, as
/// PostHog authenticates before any permission class runs), or a live
/// session's (a stale session cookie is no one, as in Django).
async fn caller(app: &App, req: &mut ApiRequest) -> ApiResult<Option<User>> {
    Ok(req.caller_if_any(app).await?.map(|c| c.user))
}

async fn is_member(tx: &mut Tx, org_id: &str, user_id: i64) -> ApiResult<bool> {
    Ok(organizations::find_with_level(tx, org_id, user_id)
        .await?
        .is_some_and(|(_, level)| level.is_some()))
}

/// The invite the path names, if the token opens it. Unknown, malformed,
/// tokenless and wrongly tokened all get the same answer, so nobody learns
/// from it whether an id exists.
async fn open(tx: &mut Tx, req: &ApiRequest, presented: Option<&str>) -> ApiResult<Invite> {
    let id = req
        .param("invite_id")
        .and_then(organizations::parse_uuid)
        .ok_or_else(not_valid)?;
    let (invite, digest) = store::find_for_signup(tx, &id)
        .await?
        .ok_or_else(not_valid)?;
    if !token::opens(digest.as_deref(), presented) {
        return Err(not_valid());
    }
    Ok(invite)
}

async fn preview(app: App, mut req: ApiRequest) -> ApiResult<Response> {
    let user = caller(&app, &mut req).await?;
    let presented = presented_token(&req, None);
    let mut tx = app.db.read().await?;
    let invite = open(&mut tx, &req, presented.as_deref()).await?;
    let org_id = invite.organization_id.clone();
    let organization_name = organizations::find(&mut tx, &org_id)
        .await?
        .ok_or_else(not_valid)?
        .name;
    let account_exists = user.is_none()
        && users::find_by_email(&mut tx, &invite.target_email)
            .await?
            .is_some();
    let user_is_member = match &user {
        Some(u) => is_member(&mut tx, &org_id, u.id).await?,
        None => false,
    };
    let email_is_member =
        store::has_member_with_email(&mut tx, &org_id, &invite.target_email).await?;
    tx.commit().await?;
    let facts = Facts {
        now: time::now_micros(),
        user_email: user.as_ref().map(|u| u.email.as_str()),
        account_exists,
        user_is_member,
        email_is_member,
    };
    validate(&invite, &facts)?;
    http::ok_of(&InviteSignupPreview {
        id: &invite.id,
        target_email: &invite.target_email,
        first_name: &invite.first_name,
        organization_name: &organization_name,
    })
}

/// Everything that refuses joining, in PostHog's order: for a new account,
/// an existing account with the email first (PostHog's user insert fails
/// before the invite is validated), then the invite's own checks. Run
/// before the password is hashed, and again under the organization's lock.
async fn check_joinable(
    tx: &mut Tx,
    invite: &Invite,
    user: Option<&User>,
    now: i64,
) -> ApiResult<()> {
    let org_id = &invite.organization_id;
    let email = &invite.target_email;
    if user.is_none() && users::find_by_email(tx, email).await?.is_some() {
        return Err(account_taken(email));
    }
    let facts = Facts {
        now,
        // A new account gets the invite's email.
        user_email: Some(user.map_or(email.as_str(), |u| u.email.as_str())),
        account_exists: false,
        user_is_member: match user {
            Some(u) => is_member(tx, org_id, u.id).await?,
            None => false,
        },
        email_is_member: store::has_member_with_email(tx, org_id, email).await?,
    };
    validate(invite, &facts)
}

/// Joins the invited organization: a new account (anonymous caller) or the
/// caller's own. First one read: the invite opened by its token and every
/// check that could refuse joining. Then the password is hashed, within the
/// hash slots. Then one transaction: the organization locked, the invite
/// read and checked again (a concurrent accept that won has deleted it),
/// the account, the membership at the invited level, its project access,
/// every invite for the email deleted, and the organization made the
/// user's current one.
async fn accept(app: App, mut req: ApiRequest) -> ApiResult<Response> {
    let user = caller(&app, &mut req).await?;
    let body = payload::check(req.data()?, user.is_none())?;
    let presented = presented_token(&req, body.token.clone());
    let mut tx = app.db.read().await?;
    let invite = open(&mut tx, &req, presented.as_deref()).await?;
    check_joinable(&mut tx, &invite, user.as_ref(), time::now_micros()).await?;
    tx.commit().await?;
    let password_hash = match (&user, body.password) {
        (None, Some(p)) => Some(app.password_hashes.hash(p).await?),
        _ => None,
    };
    let org_id = invite.organization_id.clone();
    let now = time::now_micros();
    let mut tx = app.db.write().await?;
    organizations::lock(&mut tx, &org_id).await?;
    let (invite, digest) = store::find_for_signup(&mut tx, &invite.id)
        .await?
        .ok_or_else(|| ApiError::validation("expired", "This invite has already been used."))?;
    // Rolled by an operator since the first read: the old link is dead.
    if !token::opens(digest.as_deref(), presented.as_deref()) {
        return Err(not_valid());
    }
    check_joinable(&mut tx, &invite, user.as_ref(), now).await?;
    let (mut user, is_new) = match user {
        Some(u) => (u, false),
        None => {
            let email = invite.target_email.clone();
            let new = NewUser {
                email: &email,
                first_name: body.first_name.as_deref().unwrap_or_default(),
                last_name: "",
                password_hash,
            };
            let u = users::insert(&mut tx, new, now)
                .await
                .map_err(|e| match e {
                    DbError::Unique => account_taken(&email),
                    e => e.into(),
                })?;
            (u, true)
        }
    };
    if is_new {
        users::store::set_new_account_fields(&mut tx, user.id, &body.role_at_organization).await?;
        user.is_email_verified = Some(false);
        user.role_at_organization = Some(body.role_at_organization.clone());
    }
    join(&mut tx, &invite, &user, now).await?;
    let project = organizations::first_project(&mut tx, &org_id).await?;
    users::set_current(&mut tx, user.id, Some(&org_id), project).await?;
    // A new account is signed in, as PostHog's sign-up logs the user in.
    let signed = match is_new {
        true => Some(sessions::sign_in(&app, &mut tx, user.id, now).await?),
        false => None,
    };
    tx.commit().await?;
    let response = http::created_of(&InviteSignupResponse {
        user: UserBasic::of(&user),
        redirect_url: "/",
    })?;
    match &signed {
        Some(signed) => sessions::set_cookies(&app, response, signed),
        None => Ok(response),
    }
}

/// The membership, who invited it, the project access the invite grants
/// (projects since deleted are skipped), and the invites it used up.
async fn join(tx: &mut Tx, invite: &Invite, user: &User, now: i64) -> ApiResult<()> {
    let org_id = &invite.organization_id;
    let membership = organizations::add_member(tx, org_id, user, invite.level, now)
        .await
        .map_err(|e| match e {
            // Joined by another request since the checks: PostHog's answer.
            DbError::Unique => ApiError::validation(
                "user_already_member",
                "You already are a member of this organization.",
            ),
            e => e.into(),
        })?;
    if let Some(by) = &invite.created_by {
        organizations::store::set_invited_by(tx, &membership.id, by.id).await?;
    }
    // One member rule per project still in the organization, at the highest
    // level the invite lists for it, each logged on its project.
    let projects = access::store::project_names(tx, org_id).await?;
    let mut granted = std::collections::BTreeMap::new();
    for a in invite.private_project_access.as_deref().unwrap_or_default() {
        if projects.contains_key(&a.id) {
            let level = granted.entry(a.id).or_insert(a.level);
            *level = (*level).max(a.level);
        }
    }
    for (project_id, level) in granted {
        let level = match level {
            AccessLevel::Member => RuleLevel::Member,
            AccessLevel::Admin => RuleLevel::Admin,
        };
        let rule = access::store::NewRule {
            organization_id: org_id,
            project_id,
            membership_id: Some(&membership.id),
            role_id: None,
            level,
            by: Some(user.id),
        };
        access::store::upsert(tx, &rule, now).await?;
        let after = access::store::find(tx, &rule).await?;
        let change = access::RuleChange {
            organization_id: org_id,
            project_id,
            project_name: &projects[&project_id],
            user_id: user.id,
            before: None,
            after: after.as_ref(),
            trigger: json!({"job_type": "invite", "job_id": invite.id, "payload": {}}),
        };
        access::record_change(tx, change, now).await?;
    }
    store::delete_for(tx, org_id, &invite.target_email).await?;
    Ok(())
}
