//! Users: the people behind memberships and keys.

pub mod api;
pub mod openapi;
pub mod profile;

use sea_query::{Expr, ExprTrait, Query};
use serde_json::Value;

use crate::storage::schema::Users;
use crate::storage::{DbError, DbResult, RowRead, Tx};

#[derive(Clone, Debug)]
pub struct User {
    pub id: i64,
    pub uuid: String,
    pub distinct_id: Option<String>,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub is_email_verified: Option<bool>,
    pub hedgehog_config: Value,
    pub role_at_organization: Option<String>,
    pub is_active: bool,
    pub current_organization_id: Option<String>,
    pub current_team_id: Option<i64>,
    pub last_login: Option<i64>,
}

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

pub struct NewUser<'a> {
    pub email: &'a str,
    pub first_name: &'a str,
    pub last_name: &'a str,
    pub password_hash: Option<String>,
}

/// Emails are unique regardless of case.
pub fn email_key(email: &str) -> String {
    email.trim().to_lowercase()
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
