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

use std::borrow::Cow;

use axum::response::Response;
use sea_query::{Expr, ExprTrait, Query};
use serde_json::{Map, Value};

use super::model::{Invite, InviteSignupPreview, InviteSignupResponse};
use super::{store, token};
use crate::drf::{self, CharOpts};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, ApiRequest, App, Routes};
use crate::members::model::UserBasic;
use crate::organizations;
use crate::passwords;
use crate::rate_limit::Throttle;
use crate::storage::schema::{OrganizationMemberships as M, ProjectMemberAccess as A, Users as U};
use crate::storage::{DbError, Tx};
use crate::time;
use crate::users::{self, NewUser, User};

pub(crate) const PATH: &str = "/api/signup/{invite_id}";

pub fn routes(r: Routes) -> Routes {
    use super::openapi as doc;
    r.public(doc::signup_preview(), preview)
        // PostHog's SignupIPThrottle, when rate limits are on.
        .public_throttled(doc::signup_accept(), Throttle::Signup, accept)
}

fn not_valid() -> ApiError {
    ApiError::invalid_input("The provided invite ID is not valid.")
}

fn account_taken(email: &str) -> ApiError {
    ApiError::invalid_input(format!(
        "There already exists an account with email address {email}. Please log in instead."
    ))
}

/// The token the caller presents: `?token=`, else a `token` field of the
/// sign-up body. A value that is not a string is no token.
fn presented_token(req: &ApiRequest, body: Option<&Map<String, Value>>) -> Option<String> {
    req.query()
        .remove("token")
        .or_else(|| body?.get("token")?.as_str().map(str::to_owned))
}

/// The key's user when the request carries one (401 for a bad one, as
/// PostHog authenticates before any permission class runs).
async fn caller(app: &App, req: &mut ApiRequest) -> ApiResult<Option<User>> {
    if !req.has_credentials() {
        return Ok(None);
    }
    Ok(Some(req.authenticate(app, None).await?.caller.user))
}

/// What an invite is checked against, read from the database.
pub struct Facts<'a> {
    pub now: i64,
    /// The caller's email when authenticated.
    pub user_email: Option<&'a str>,
    /// Anonymous preview only: an account with the invite's email exists.
    pub account_exists: bool,
    pub user_is_member: bool,
    pub email_is_member: bool,
}

/// PostHog's `OrganizationInvite.validate`, in its order.
pub fn validate(invite: &Invite, f: &Facts) -> ApiResult<()> {
    if let Some(email) = f.user_email {
        if users::email_key(email) != users::email_key(&invite.target_email) {
            return Err(ApiError::validation(
                "invalid_recipient",
                "This invite is intended for another email address.",
            ));
        }
    }
    if invite.is_expired(f.now) {
        return Err(ApiError::validation(
            "expired",
            "This invite has expired. Please ask your admin for a new one.",
        ));
    }
    if f.account_exists {
        return Err(ApiError::validation(
            "account_exists",
            format!("/login?next=/signup/{}", invite.id),
        ));
    }
    if f.user_is_member {
        return Err(ApiError::validation(
            "user_already_member",
            "You already are a member of this organization.",
        ));
    }
    if f.email_is_member {
        return Err(ApiError::validation(
            "existing_email_address",
            "Another user with this email address already belongs to this organization.",
        ));
    }
    Ok(())
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

/// The sign-up body, as PostHog's invite sign-up serializer reads it.
struct Body {
    first_name: Option<String>,
    password: Option<String>,
    role_at_organization: String,
}

fn parse_body(body: &Map<String, Value>, anonymous: bool) -> ApiResult<Body> {
    let field = |name: &'static str, max: usize, allow_blank: bool| -> ApiResult<Option<String>> {
        match body.get(name) {
            None => Ok(None),
            Some(v) => {
                let opts = CharOpts {
                    allow_null: false,
                    allow_blank,
                    max_length: Some(max),
                };
                drf::char_field(v, &Cow::Borrowed(name), &opts)
            }
        }
    };
    let mut first: Option<ApiError> = None;
    let first_name = field("first_name", 128, false).unwrap_or_else(|e| {
        first.get_or_insert(e);
        None
    });
    let password = match field("password", 72, false) {
        Ok(Some(p)) => match passwords::check_new(&p, "password") {
            Ok(()) => Some(p),
            Err(e) => {
                first.get_or_insert(e);
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            first.get_or_insert(e);
            None
        }
    };
    let role_at_organization = field("role_at_organization", 128, true).unwrap_or_else(|e| {
        first.get_or_insert(e);
        None
    });
    if let Some(e) = first {
        return Err(e);
    }
    if anonymous {
        if first_name.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::required("first_name"));
        }
        if password.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::required("password"));
        }
    }
    Ok(Body {
        first_name,
        password,
        role_at_organization: role_at_organization.unwrap_or_default(),
    })
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
    let raw = req.body_object()?;
    let body = parse_body(&raw, user.is_none())?;
    let presented = presented_token(&req, Some(&raw));
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
        set_new_account_fields(&mut tx, user.id, &body.role_at_organization).await?;
        user.is_email_verified = Some(false);
        user.role_at_organization = Some(body.role_at_organization.clone());
    }
    join(&mut tx, &invite, &user, now).await?;
    let project = organizations::first_project(&mut tx, &org_id).await?;
    users::set_current(&mut tx, user.id, Some(&org_id), project).await?;
    tx.commit().await?;
    http::created_of(&InviteSignupResponse {
        user: UserBasic::of(&user),
        redirect_url: "/",
    })
}

async fn set_new_account_fields(tx: &mut Tx, user_id: i64, role: &str) -> ApiResult<()> {
    let stmt = Query::update()
        .table(U::Table)
        .value(U::IsEmailVerified, false)
        .value(U::RoleAtOrganization, role)
        .and_where(Expr::col(U::Id).eq(user_id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
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
        let stmt = Query::update()
            .table(M::Table)
            .value(M::InvitedById, by.id)
            .and_where(Expr::col(M::Id).eq(membership.id.as_str()))
            .to_owned();
        tx.execute(&stmt).await?;
    }
    let access = invite.private_project_access.as_deref().unwrap_or_default();
    if !access.is_empty() {
        let projects = store::project_ids(tx, org_id).await?;
        for a in access.iter().filter(|a| projects.contains(&a.id)) {
            let stmt = Query::insert()
                .into_table(A::Table)
                .columns([A::Id, A::ProjectId, A::MembershipId, A::Level, A::CreatedAt])
                .values_panic([
                    uuid::Uuid::now_v7().to_string().into(),
                    a.id.into(),
                    membership.id.clone().into(),
                    a.level.as_str().into(),
                    now.into(),
                ])
                .to_owned();
            tx.execute(&stmt).await?;
        }
    }
    store::delete_for(tx, org_id, &invite.target_email).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invites::model::VALIDITY_DAYS;
    use crate::organizations::Level;
    use serde_json::json;

    fn invite(created_at: i64) -> Invite {
        Invite {
            id: "abc".into(),
            organization_id: "o".into(),
            target_email: "x@x.com".into(),
            first_name: String::new(),
            created_by: None,
            emailing_attempt_made: false,
            level: Level::Member,
            message: None,
            private_project_access: None,
            created_at,
            updated_at: created_at,
            signup_url: None,
        }
    }

    fn code(r: ApiResult<()>) -> String {
        r.err()
            .map(|e| e.code.into_owned())
            .unwrap_or_else(|| "ok".into())
    }

    #[test]
    fn invite_checks_in_posthog_order() {
        let now = 100 * VALIDITY_DAYS * 24 * time::HOUR_MICROS;
        let fresh = invite(now);
        let old = invite(0);
        let facts = |email: Option<&'static str>, exists, member, email_member| Facts {
            now,
            user_email: email,
            account_exists: exists,
            user_is_member: member,
            email_is_member: email_member,
        };
        assert_eq!(
            code(validate(&fresh, &facts(None, false, false, false))),
            "ok"
        );
        assert_eq!(
            code(validate(
                &fresh,
                &facts(Some("X@X.COM"), false, false, false)
            )),
            "ok"
        );
        assert_eq!(
            code(validate(&old, &facts(Some("y@x.com"), false, false, false))),
            "invalid_recipient"
        );
        assert_eq!(
            code(validate(&old, &facts(None, true, false, false))),
            "expired"
        );
        assert_eq!(
            code(validate(&fresh, &facts(None, true, false, true))),
            "account_exists"
        );
        assert_eq!(
            code(validate(&fresh, &facts(Some("x@x.com"), false, true, true))),
            "user_already_member"
        );
        assert_eq!(
            code(validate(&fresh, &facts(None, false, false, true))),
            "existing_email_address"
        );
    }

    #[test]
    fn body_rules() {
        let parse = |v: Value, anon| {
            parse_body(v.as_object().unwrap(), anon)
                .err()
                .map(|e| (e.code.into_owned(), e.attr.map(|a| a.into_owned())))
        };
        assert_eq!(
            parse(json!({}), true),
            Some(("required".into(), Some("first_name".into())))
        );
        assert_eq!(
            parse(json!({"first_name": "A"}), true),
            Some(("required".into(), Some("password".into())))
        );
        assert_eq!(
            parse(json!({"first_name": "A", "password": "123"}), true),
            Some(("password_too_short".into(), Some("password".into())))
        );
        // A password that is sent is checked even for a signed-in caller.
        assert_eq!(
            parse(json!({"password": "123"}), false),
            Some(("password_too_short".into(), Some("password".into())))
        );
        assert_eq!(parse(json!({}), false), None);
        assert_eq!(
            parse(
                json!({"first_name": "x".repeat(129), "password": "12345678"}),
                true
            ),
            Some(("max_length".into(), Some("first_name".into())))
        );
    }
}
