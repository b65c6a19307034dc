//! The authentication queries: a key by its digest, with its user and (for
//! an organization route) the organization and the caller's membership, in
//! one joined query; and the hourly `last_used_at` bump.

use sea_query::{Expr, ExprTrait, JoinType, Query};

use super::{grant, Authenticated, Caller, OrgRef};
use crate::error::ApiResult;
use crate::organizations::{self, Organization};
use crate::storage::schema::{
    OrganizationMemberships as M, Organizations as O, PersonalApiKeys as K, Users as U,
};
use crate::storage::{Db, DbError, Tx};
use crate::users::{self, User};

pub(super) struct Found {
    pub stored_digest: String,
    pub last_used_at: Option<i64>,
    pub auth: Authenticated,
}

pub(super) async fn lookup(
    tx: &mut Tx,
    digest: &str,
    org: Option<&OrgRef>,
) -> Result<Option<Found>, DbError> {
    // Built in place: this runs on every request, and `.to_owned()` would copy it.
    let mut stmt = Query::select();
    stmt.columns([
        (K::Table, K::Id),
        (K::Table, K::SecureValue),
        (K::Table, K::LastUsedAt),
        (K::Table, K::Scopes),
        (K::Table, K::ScopedOrganizations),
        (K::Table, K::ScopedTeams),
    ])
    .columns(users::COLUMNS.map(|c| (U::Table, c)))
    .from(K::Table)
    .inner_join(
        U::Table,
        Expr::col((U::Table, U::Id)).equals((K::Table, K::UserId)),
    )
    .and_where(Expr::col((K::Table, K::SecureValue)).eq(digest));
    const USER_AT: usize = 6;
    const ORG_AT: usize = USER_AT + users::COLUMNS.len();
    if let Some(org) = org {
        let on = match org {
            OrgRef::Id(id) => Expr::col((O::Table, O::Id)).eq(id.as_str()),
            OrgRef::Current => {
                Expr::col((O::Table, O::Id)).equals((U::Table, U::CurrentOrganizationId))
            }
        };
        stmt.columns(organizations::COLUMNS.map(|c| (O::Table, c)))
            .column((M::Table, M::Level))
            .column((M::Table, M::Id))
            .join(JoinType::LeftJoin, O::Table, on)
            .join(
                JoinType::LeftJoin,
                M::Table,
                Expr::col((M::Table, M::OrganizationId))
                    .equals((O::Table, O::Id))
                    .and(Expr::col((M::Table, M::UserId)).equals((U::Table, U::Id))),
            );
    }
    let with_org = org.is_some();
    tx.query_opt(&stmt, |r| {
        let caller = Caller {
            key_id: r.string(0)?,
            grant: grant(r.opt_string(3)?, r.opt_string(4)?, r.opt_string(5)?),
            user: User::from_row(r, USER_AT)?,
            signed_in_at: None,
        };
        // An organization's id is never NULL: a NULL id means the join found none.
        let organization = if with_org && r.opt_string(ORG_AT)?.is_some() {
            let org = Organization::from_row(r, ORG_AT)?;
            let at = ORG_AT + organizations::COLUMNS.len();
            Some((org, organizations::store::membership_from_row(r, at)?))
        } else {
            None
        };
        Ok(Found {
            stored_digest: r.string(1)?,
            last_used_at: r.opt_i64(2)?,
            auth: Authenticated {
                caller,
                organization,
            },
        })
    })
    .await
}

/// `last_used_at` is bumped at most once an hour, so reads stay reads.
pub(super) async fn touch(db: &Db, key_id: &str, now: i64) -> ApiResult<()> {
    let mut tx = db.write().await?;
    let stmt = Query::update()
        .table(K::Table)
        .value(K::LastUsedAt, now)
        .and_where(Expr::col(K::Id).eq(key_id))
        .to_owned();
    // Not a grant change: every process's cache keeps the key (each bumps
    // its own copy's `last_used_at`).
    tx.execute_outside_grants(&stmt).await?;
    tx.commit().await?;
    Ok(())
}
