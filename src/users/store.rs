//! Every query of the users resource: the account row (its columns are
//! read by authentication and by every store that embeds a user), the
//! profile only `/api/users/@me/` reads and writes, and the current
//! organization and project PostHog would pick.

use sea_query::{Expr, ExprTrait, Order, Query};
use serde_json::{Map, Value};

use super::model::{email_key, Current, NewUser, Profile, User};
use super::payload::Change;
use crate::access::{self, Visibility};
use crate::organizations::{self, MembershipLevel, Organization};
use crate::projects::store as projects;
use crate::storage::schema::{OrganizationMemberships as M, Users};
use crate::storage::{DbError, DbResult, RowRead, Tx};

/// Columns read by [`User::from_row`], in its order.
pub const COLUMNS: [Users; 13] = [
    Users::Id,
    Users::Uuid,
    Users::DistinctId,
    Users::FirstName,
    Users::LastName,
    Users::Email,
    Users::IsEmailVerified,
    Users::HedgehogConfig,
    Users::RoleAtOrganization,
    Users::IsActive,
    Users::CurrentOrganizationId,
    Users::CurrentTeamId,
    Users::LastLogin,
];

impl User {
    /// Reads [`COLUMNS`] starting at column `at`.
    pub fn from_row(r: &dyn RowRead, at: usize) -> DbResult<User> {
        Ok(User {
            id: r.i64(at)?,
            uuid: r.string(at + 1)?,
            distinct_id: r.opt_string(at + 2)?,
            first_name: r.string(at + 3)?,
            last_name: r.string(at + 4)?,
            email: r.string(at + 5)?,
            is_email_verified: r.opt_bool(at + 6)?,
            hedgehog_config: r.json(at + 7)?,
            role_at_organization: r.opt_string(at + 8)?,
            is_active: r.bool(at + 9)?,
            current_organization_id: r.opt_string(at + 10)?,
            current_team_id: r.opt_i64(at + 11)?,
            last_login: r.opt_i64(at + 12)?,
        })
    }
}

pub async fn insert(tx: &mut Tx, new: NewUser<'_>, now: i64) -> DbResult<User> {
    let uuid = uuid::Uuid::now_v7().to_string();
    let distinct_id = crate::auth::keys::random_token(43);
    let stmt = Query::insert()
        .into_table(Users::Table)
        .columns([
            Users::Uuid,
            Users::DistinctId,
            Users::FirstName,
            Users::LastName,
            Users::Email,
            Users::EmailKey,
            Users::Password,
            Users::IsActive,
            Users::DateJoined,
        ])
        .values_panic([
            uuid.clone().into(),
            distinct_id.into(),
            new.first_name.into(),
            new.last_name.into(),
            new.email.trim().into(),
            email_key(new.email).into(),
            new.password_hash.into(),
            true.into(),
            now.into(),
        ])
        .returning(Query::returning().columns(COLUMNS))
        .to_owned();
    tx.query(&stmt, |r| User::from_row(r, 0))
        .await?
        .pop()
        .ok_or_else(|| DbError::Other("insert returned no row".into()))
}

pub async fn find_by_email(tx: &mut Tx, email: &str) -> DbResult<Option<User>> {
    let stmt = Query::select()
        .columns(COLUMNS)
        .from(Users::Table)
        .and_where(Expr::col(Users::EmailKey).eq(email_key(email)))
        .to_owned();
    tx.query_opt(&stmt, |r| User::from_row(r, 0)).await
}

pub async fn set_current(
    tx: &mut Tx,
    user_id: i64,
    organization_id: Option<&str>,
    team_id: Option<i64>,
) -> DbResult<()> {
    let stmt = Query::update()
        .table(Users::Table)
        .value(Users::CurrentOrganizationId, organization_id)
        .value(Users::CurrentTeamId, team_id)
        .and_where(Expr::col(Users::Id).eq(user_id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// A new account made through an invite: its email is not verified yet, and
/// it keeps the role it gave.
pub async fn set_new_account_fields(tx: &mut Tx, user_id: i64, role: &str) -> DbResult<()> {
    let stmt = Query::update()
        .table(Users::Table)
        .value(Users::IsEmailVerified, false)
        .value(Users::RoleAtOrganization, role)
        .and_where(Expr::col(Users::Id).eq(user_id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// The profile columns of the user (PostHog's defaults if there is no such user).
pub async fn profile(tx: &mut Tx, user_id: i64) -> DbResult<Profile> {
    let stmt = Query::select()
        .columns([
            Users::AnonymizeData,
            Users::ToolbarMode,
            Users::ThemeMode,
            Users::NotificationSettings,
            Users::PendingEmail,
            Users::Password,
            Users::DateJoined,
        ])
        .from(Users::Table)
        .and_where(Expr::col(Users::Id).eq(user_id))
        .to_owned();
    let found = tx
        .query_opt(&stmt, |r: &dyn RowRead| {
            let notifications = match r.json(3) {
                Ok(Value::Object(m)) => m,
                _ => Map::new(),
            };
            Ok(Profile {
                anonymize_data: r.opt_bool(0)?,
                toolbar_mode: r.opt_string(1)?,
                theme_mode: r.opt_string(2)?,
                notification_settings: notifications,
                pending_email: r.opt_string(4)?,
                has_password: r
                    .opt_string(5)?
                    .is_some_and(|p| !p.is_empty() && !p.starts_with('!')),
                date_joined: r.i64(6)?,
            })
        })
        .await?;
    Ok(found.unwrap_or_default())
}

/// Writes a profile change; nothing when it changes nothing.
pub async fn save_profile(tx: &mut Tx, user_id: i64, c: Change) -> DbResult<()> {
    let mut stmt = Query::update();
    stmt.table(Users::Table)
        .and_where(Expr::col(Users::Id).eq(user_id));
    let mut any = false;
    let mut set = |col: Users, v: sea_query::Value| {
        stmt.value(col, v);
        any = true;
    };
    if let Some(v) = c.first_name {
        set(Users::FirstName, v.into());
    }
    if let Some(v) = c.last_name {
        set(Users::LastName, v.into());
    }
    if let Some(v) = c.notification_settings {
        set(
            Users::NotificationSettings,
            Value::Object(v).to_string().into(),
        );
    }
    if let Some(v) = c.anonymize_data {
        set(Users::AnonymizeData, v.into());
    }
    if let Some(v) = c.toolbar_mode {
        set(Users::ToolbarMode, v.into());
    }
    if let Some(v) = c.theme_mode {
        set(Users::ThemeMode, v.into());
    }
    if let Some(v) = c.hedgehog_config {
        let text = (!v.is_null()).then(|| v.to_string());
        set(Users::HedgehogConfig, text.into());
    }
    if let Some(v) = c.role_at_organization {
        set(Users::RoleAtOrganization, v.into());
    }
    if any {
        tx.execute(&stmt).await?;
    }
    Ok(())
}

/// The organization and the user's membership of it, if they are a member.
pub async fn membership(
    tx: &mut Tx,
    org_id: &str,
    user: &User,
) -> DbResult<Option<(Organization, MembershipLevel)>> {
    Ok(organizations::find_with_level(tx, org_id, user.id)
        .await?
        .and_then(|(org, m)| m.map(|m| (org, m))))
}

/// PostHog's `User.organization` and `User.team`: the current ones while
/// the user still belongs to them (and, for the project, can see it), else
/// the project's organization, else the first organization joined; and the
/// first project of that organization the user can see.
pub async fn choose(tx: &mut Tx, user: &User) -> DbResult<Current> {
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
            if let Some((o, m)) = org.as_ref().filter(|(o, _)| o.id == team_org) {
                let rules = access::store::rules_for(tx, team_id, &m.id).await?;
                if access::resolve(Some(m.level), &rules).visible() {
                    team = projects::find(tx, &o.id, team_id, false).await?;
                }
            }
        }
    }
    if org.is_none() {
        let (mut first, _) = organizations::store::of_user(tx, user.id, None, 1, 0).await?;
        org = first.pop();
    }
    if team.is_none() {
        if let Some((o, m)) = &org {
            let visibility = Visibility::of(m.level, &m.id);
            if let Some(id) = projects::first_visible(tx, &o.id, &visibility).await? {
                team = projects::find(tx, &o.id, id, false).await?;
            }
        }
    }
    Ok(Current { org, team })
}

/// Did the user join the organization before anyone else?
pub async fn is_first_member(tx: &mut Tx, org_id: &str, user_id: i64) -> DbResult<bool> {
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
