//! The grants epoch: how every process learns that what a key may reach has
//! changed, so the authorization cache (`auth::cache`) never answers from an
//! old grant.
//!
//! - Any transaction that writes a table the cache reads from (a key, a
//!   user, an organization, a membership, a role or its holders, an access
//!   rule; a project created or deleted) is marked by the statement's target
//!   table ([`writes_grants`]; nobody has to remember to call anything), and
//!   bumps `grant_epochs.epoch` just before it commits. On PostgreSQL it also
//!   sends `NOTIFY prickle_grants` in the same transaction, so the
//!   notification leaves with the commit and never before it.
//! - SQLite: a thread knows the epoch is current while `PRAGMA data_version`
//!   on its read connection is unchanged (any commit by another connection,
//!   in this process or another, changes it); it reads the epoch again only
//!   when it did ([`sqlite_epoch`]).
//! - PostgreSQL: a listener connection (`pg::listen`) empties the cache on
//!   every notification, and while it is down the cache is not used at all.
//!   A notification can still reach this process after a client's next
//!   request, so a request that used the cache also reads the epoch in the
//!   same round trip as its first statement ([`expect`], checked by
//!   `pg::PgTx`), and is answered again without the cache when it moved
//!   (`DbError::GrantsChanged`, retried by `http::routes`).

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use sea_query::{Expr, ExprTrait, Func, Query, SelectStatement, UpdateStatement};

use super::schema::GrantEpochs as G;
use super::{generation, DbResult, Prebuilt, RowRead, Tx};

/// The PostgreSQL channel the epoch's bumps are announced on.
pub const CHANNEL: &str = "prickle_grants";

/// The listener connection's `application_name` (operators see it in
/// `pg_stat_activity`).
pub const LISTENER_NAME: &str = "prickle-grants";

/// The tables the authorization cache reads. `projects` only for inserts
/// and deletes: the cache holds whether a project exists in an
/// organization, never its settings, so a PATCH does not empty it.
const WATCHED: &[&str] = &[
    "personal_api_keys",
    "users",
    "organizations",
    "organization_memberships",
    "roles",
    "role_memberships",
    "access_controls",
];
const WATCHED_ON_INSERT_OR_DELETE: &[&str] = &["projects"];

/// Does this statement (as rendered for either database: both quote
/// identifiers with `"`) write a table the cache reads?
pub(super) fn writes_grants(sql: &str) -> bool {
    let (rest, any_write) = if let Some(r) = sql.strip_prefix("INSERT INTO \"") {
        (r, false)
    } else if let Some(r) = sql.strip_prefix("DELETE FROM \"") {
        (r, false)
    } else if let Some(r) = sql.strip_prefix("UPDATE \"") {
        (r, true)
    } else {
        return false;
    };
    let table = rest.split('"').next().unwrap_or_default();
    WATCHED.contains(&table) || (!any_write && WATCHED_ON_INSERT_OR_DELETE.contains(&table))
}

/// The statements a marked transaction runs before it commits: the bump,
/// and on PostgreSQL the notification (constant text, no user input).
pub(super) fn bump() -> UpdateStatement {
    Query::update()
        .table(G::Table)
        .value(G::Epoch, Expr::col(G::Epoch).add(1))
        .and_where(Expr::col(G::Id).eq(1))
        .to_owned()
}

pub(super) fn notify() -> SelectStatement {
    Query::select()
        .expr(Func::cust("pg_notify").arg(CHANNEL).arg(""))
        .to_owned()
}

/// The epoch now.
pub(super) fn read() -> SelectStatement {
    Query::select()
        .column(G::Epoch)
        .from(G::Table)
        .and_where(Expr::col(G::Id).eq(1))
        .to_owned()
}

/// [`read`], its text rendered once: it runs on every write that may skip
/// reading grants again (`projects::change`) and wherever a cache is filled.
pub(super) static READ: Prebuilt<()> = Prebuilt::new(|()| read(), |()| vec![1.into()]);

/// PostgreSQL: [`read`] with the WAL insert position before it
/// (`pg_generation`'s rounds). Constant text: no input reaches it.
pub(super) static READ_WITH_WAL_POSITION: Prebuilt<()> = Prebuilt::new(
    |()| {
        read()
            .expr_as(
                Expr::cust("(pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint"),
                "wal_position",
            )
            .to_owned()
    },
    |()| vec![1.into()],
);

pub(super) fn epoch_from_row(r: &dyn RowRead) -> DbResult<i64> {
    r.i64(0)
}

thread_local! {
    /// This thread's read connection's `(number, data_version)` when it last
    /// read the epoch, and the epoch it read.
    static SEEN: Cell<Option<((u64, i64), i64)>> = const { Cell::new(None) };
}

/// SQLite: the epoch as of now, read through `tx` (a read transaction) only
/// when something was committed since this thread last read it. The
/// version is taken before the epoch, so a commit between the two makes the
/// next call read again.
pub(super) async fn sqlite_epoch(tx: &mut Tx) -> DbResult<Option<i64>> {
    // One `PRAGMA data_version` per request: what it says of the commit
    // generation is kept for the request's handler (`take_observed`).
    let mut read = None;
    let observed = generation::current(|| {
        read = tx.read_version()?;
        Ok(read)
    })?;
    let Some(version) = read else {
        return Ok(None);
    };
    let _ = PENDING.try_with(|p| p.observed.set(Some(observed)));
    if let Some((seen, epoch)) = SEEN.get() {
        if seen == version {
            return Ok(Some(epoch));
        }
    }
    let epoch = tx
        .query_prebuilt(&READ, &(), epoch_from_row)
        .await?
        .into_iter()
        .next();
    if let Some(epoch) = epoch {
        SEEN.set(Some((version, epoch)));
    }
    Ok(epoch)
}

/// What a PostgreSQL process knows of the epoch without asking: whether its
/// listener is connected, and how many notifications (and reconnections) it
/// has seen. Any change of `seen` empties the cache.
pub struct Watch {
    listening: AtomicBool,
    seen: AtomicU64,
    /// The database has the epoch's table: false only while it is held at
    /// a version before it (`migrations::run_through`, the migration tests).
    tracked: AtomicBool,
}

impl Default for Watch {
    fn default() -> Self {
        Watch {
            listening: AtomicBool::new(false),
            seen: AtomicU64::new(0),
            tracked: AtomicBool::new(true),
        }
    }
}

/// The migration that creates the epoch's table.
pub const MIGRATION: i64 = 11;

impl Watch {
    pub(super) fn tracked(&self) -> bool {
        self.tracked.load(Ordering::Relaxed)
    }

    pub(super) fn set_tracked(&self, on: bool) {
        self.tracked.store(on, Ordering::Relaxed);
    }

    /// `Some(seen)` while the listener is connected; `None`: do not cache.
    pub fn state(&self) -> Option<u64> {
        // Read `seen` first: a reconnection sets it before `listening`.
        let seen = self.seen.load(Ordering::Acquire);
        self.listening.load(Ordering::Acquire).then_some(seen)
    }

    pub(super) fn notified(&self) {
        self.seen.fetch_add(1, Ordering::AcqRel);
    }

    pub(super) fn set_listening(&self, on: bool) {
        // Whatever happened while it was down is unknown: count it as a change.
        self.seen.fetch_add(1, Ordering::AcqRel);
        self.listening.store(on, Ordering::Release);
    }
}

/// The epoch a request relied on and has not yet checked (PostgreSQL), and
/// whether the cache may be used at all (not on the answer given again).
#[derive(Default)]
struct Pending {
    expected: Cell<Option<i64>>,
    bypass: Cell<bool>,
    /// SQLite: the commit generation found when the epoch was checked,
    /// within this request ([`take_observed`]).
    observed: Cell<Option<Option<u64>>>,
}

tokio::task_local! {
    static PENDING: Pending;
}

/// Runs a request's checks and handler with its own pending check.
/// `bypass`: the request is answered again after the epoch moved, without
/// the cache. Returns the epoch still unchecked when it ended, if any.
pub async fn scope<F: Future>(bypass: bool, f: F) -> (F::Output, Option<i64>) {
    let pending = Pending {
        expected: Cell::new(None),
        bypass: Cell::new(bypass),
        observed: Cell::new(None),
    };
    PENDING
        .scope(pending, async move {
            let out = f.await;
            (out, PENDING.with(|p| p.expected.take()))
        })
        .await
}

/// May this request use the cache? (Not when it is answered again.)
pub fn cache_allowed() -> bool {
    PENDING.try_with(|p| !p.bypass.get()).unwrap_or(true)
}

/// The request answered from the cache at `epoch`: its first statement
/// checks it. Outside a [`scope`] (no retry possible) there is nothing to
/// register: the caller must not have used the cache.
pub fn expect(epoch: i64) -> bool {
    PENDING
        .try_with(|p| {
            if p.expected.get().is_none() {
                p.expected.set(Some(epoch));
            }
        })
        .is_ok()
}

/// SQLite: the commit generation this request found when it checked the
/// grants epoch (`generation::current`, read with the same `data_version`),
/// taken once. A request's handler may use it instead of asking again: it
/// was found after the request arrived, so a kept answer at that
/// generation is as current as the request needs (a commit after it is
/// concurrent with the request).
pub(super) fn take_observed() -> Option<Option<u64>> {
    PENDING.try_with(|p| p.observed.take()).ok().flatten()
}

/// The epoch the next statement must check, taken (checked once).
pub(super) fn take_expected() -> Option<i64> {
    PENDING.try_with(|p| p.expected.take()).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_query::{PostgresQueryBuilder, SqliteQueryBuilder};

    #[test]
    fn the_epoch_read_binds_what_its_values_say() {
        READ.check(&());
    }

    #[test]
    fn watched_writes_are_recognised_on_both_databases() {
        use crate::storage::schema::{OrganizationMemberships as M, Projects as P};
        let level = Query::update()
            .table(M::Table)
            .value(M::Level, 8)
            .and_where(Expr::col(M::Id).eq("m"))
            .to_owned();
        let rename = Query::update()
            .table(P::Table)
            .value(P::Name, "x")
            .and_where(Expr::col(P::Id).eq(1))
            .to_owned();
        let gone = Query::delete()
            .from_table(P::Table)
            .and_where(Expr::col(P::Id).eq(1))
            .to_owned();
        for (sqlite, pg, want) in [
            (
                level.to_string(SqliteQueryBuilder),
                level.to_string(PostgresQueryBuilder),
                true,
            ),
            (
                rename.to_string(SqliteQueryBuilder),
                rename.to_string(PostgresQueryBuilder),
                false,
            ),
            (
                gone.to_string(SqliteQueryBuilder),
                gone.to_string(PostgresQueryBuilder),
                true,
            ),
        ] {
            assert_eq!(writes_grants(&sqlite), want, "{sqlite}");
            assert_eq!(writes_grants(&pg), want, "{pg}");
        }
        assert!(!writes_grants("SELECT \"id\" FROM \"users\""));
        assert!(!writes_grants(
            "INSERT INTO \"activity_log\" (\"id\") VALUES (1)"
        ));
        assert!(writes_grants(
            "INSERT INTO \"projects\" (\"id\") VALUES (1)"
        ));
    }
}
