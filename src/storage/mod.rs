//! Storage: one set of sea-query statements, two databases.
//!
//! A request opens one [`Tx`] (read or write), runs statements through it and
//! commits. SQLite is driven inline on the request's thread (no thread hop):
//! readers come from a per-thread connection cache, writes go through the one
//! writer connection and take the database lock up front (`BEGIN IMMEDIATE`).
//! PostgreSQL goes through a deadpool pool of tokio-postgres clients.
//!
//! Nothing here knows about HTTP; errors are [`DbError`], which the HTTP error
//! type converts.

pub mod generation;
pub mod grants;
pub mod migrations;
mod pg;
mod pg_generation;
mod pg_tls;
mod prebuilt;
mod row;
pub mod schema;
mod sqlite;

use std::fmt;

use sea_query::{PostgresQueryBuilder, QueryStatementWriter, SqliteQueryBuilder, Values};

pub use prebuilt::Prebuilt;
pub use row::RowRead;

/// SQLite's `PRAGMA synchronous` for the connections prickle opens. PostgreSQL
/// ignores it (its own settings decide).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Synchronous {
    /// Each COMMIT waits for the WAL to reach the disk: an acknowledged write
    /// survives a power cut.
    #[default]
    Full,
    /// COMMIT hands the WAL to the OS: survives a killed process, but a power
    /// cut can lose the last transactions.
    Normal,
}

impl std::str::FromStr for Synchronous {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "full" => Ok(Synchronous::Full),
            "normal" => Ok(Synchronous::Normal),
            other => Err(format!("expected full or normal, got {other:?}")),
        }
    }
}

/// How [`Db::connect_with`] opens a database.
#[derive(Clone, Copy, Debug, Default)]
pub struct DbOptions {
    pub sqlite_synchronous: Synchronous,
}

/// What can go wrong talking to a database, as far as callers care.
#[derive(Debug)]
pub enum DbError {
    /// A UNIQUE constraint refused the write (callers map it to their own 409/400).
    Unique,
    /// The database is locked or the pool is exhausted: worth retrying.
    Busy(String),
    Other(String),
    /// The grants epoch a request relied on (from the authorization cache)
    /// moved before its first statement: answer it again without the cache.
    GrantsChanged,
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Unique => f.write_str("unique constraint violated"),
            DbError::Busy(m) => write!(f, "database busy: {m}"),
            DbError::Other(m) => f.write_str(m),
            DbError::GrantsChanged => f.write_str("grants changed during the request"),
        }
    }
}

impl std::error::Error for DbError {}

pub type DbResult<T> = Result<T, DbError>;

/// A connected database: SQLite (default) or PostgreSQL.
#[derive(Clone)]
pub enum Db {
    Sqlite(sqlite::SqliteDb),
    Postgres(pg::PgDb),
}

impl Db {
    /// `sqlite://PATH` (created when missing) or `postgres://...`, with the
    /// default options.
    pub async fn connect(url: &str) -> DbResult<Db> {
        Self::connect_with(url, DbOptions::default()).await
    }

    pub async fn connect_with(url: &str, options: DbOptions) -> DbResult<Db> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(Db::Sqlite(sqlite::SqliteDb::open(
                path,
                options.sqlite_synchronous,
            )?))
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Db::Postgres(pg::PgDb::connect(url).await?))
        } else {
            Err(DbError::Other(format!(
                "unsupported database URL (expected sqlite://PATH or postgres://...): {}",
                redact_url(url)
            )))
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Db::Postgres(_))
    }

    fn watch(&self) -> &grants::Watch {
        match self {
            Db::Sqlite(db) => &db.watch,
            Db::Postgres(db) => &db.watch,
        }
    }

    /// Starts what tells this process of grant changes made elsewhere:
    /// PostgreSQL's listener (`grants`); SQLite needs none.
    pub fn watch_grants(&self) {
        if let Db::Postgres(db) = self {
            db.listen();
        }
    }

    /// PostgreSQL: `Some(n)` while the listener is connected, `n` changing
    /// with every notification; `None` while it is down (or never started).
    /// SQLite: always `Some(0)` (its reads vouch for the epoch themselves).
    /// `None` on a database without the epoch's table.
    pub fn grants_watch(&self) -> Option<u64> {
        if !self.watch().tracked() {
            return None;
        }
        match self {
            Db::Sqlite(_) => Some(0),
            Db::Postgres(db) => db.watch.state(),
        }
    }

    /// For requests that only read: statements run in autocommit (each sees
    /// one committed snapshot), which keeps the hot path to one round trip
    /// per statement on both databases.
    pub async fn read(&self) -> DbResult<Tx> {
        let inner = match self {
            Db::Sqlite(db) => TxInner::Sqlite(db.begin_read()?),
            Db::Postgres(db) => TxInner::Postgres(db.begin(false).await?),
        };
        Ok(Tx::new(inner, self.watch().tracked()))
    }

    /// A write transaction. SQLite takes the write lock now, so the checks a
    /// request makes before writing cannot be invalidated by another writer.
    pub async fn write(&self) -> DbResult<Tx> {
        let inner = match self {
            Db::Sqlite(db) => TxInner::Sqlite(db.begin_write().await?),
            Db::Postgres(db) => TxInner::Postgres(db.begin(true).await?),
        };
        Ok(Tx::new(inner, self.watch().tracked()))
    }

    /// Whether writes bump the grants epoch: not while the database is held
    /// at a version before its table (`migrations::run_through`).
    pub(crate) fn track_grants(&self, on: bool) {
        self.watch().set_tracked(on);
    }

    pub async fn migrate(&self) -> DbResult<usize> {
        migrations::run(self, crate::time::now_micros).await
    }

    /// What `/metrics` shows of the database now.
    pub fn gauges(&self) -> DbGauges<'_> {
        match self {
            Db::Sqlite(db) => DbGauges::Sqlite {
                writers_queued: db.writers_queued(),
                commit_batches: db.commit_batches(),
            },
            Db::Postgres(db) => {
                let (size, available, waits) = db.pool_gauges();
                DbGauges::Postgres {
                    size,
                    available,
                    waits,
                }
            }
        }
    }
}

/// The database's side of `/metrics`.
pub enum DbGauges<'a> {
    Sqlite {
        /// Write transactions waiting for the writer slot.
        writers_queued: usize,
        /// Write transactions per COMMITted batch.
        commit_batches: &'a crate::metrics::Histogram,
    },
    Postgres {
        size: usize,
        available: usize,
        /// Connections asked of a pool with none idle.
        waits: u64,
    },
}

/// One transaction on either database. Dropping it without [`Tx::commit`]
/// rolls back.
pub struct Tx {
    inner: TxInner,
    /// A statement wrote a table the authorization cache reads: the commit
    /// bumps the grants epoch (`grants`).
    grants_written: bool,
    /// The database has the epoch's table.
    grants_tracked: bool,
}

enum TxInner {
    Sqlite(sqlite::SqliteTx),
    Postgres(pg::PgTx),
}

impl Tx {
    fn new(inner: TxInner, grants_tracked: bool) -> Tx {
        Tx {
            inner,
            grants_written: false,
            grants_tracked,
        }
    }

    fn build(&self, stmt: &impl QueryStatementWriter) -> (String, Values) {
        match self.inner {
            TxInner::Sqlite(_) => stmt.build(SqliteQueryBuilder),
            TxInner::Postgres(_) => stmt.build(PostgresQueryBuilder),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self.inner, TxInner::Postgres(_))
    }

    /// Notes a statement that writes what the authorization cache reads.
    fn watch(&mut self, sql: &str) {
        if !self.grants_written && !sql.starts_with("SELECT") && grants::writes_grants(sql) {
            self.grants_written = true;
        }
    }

    /// Runs a statement that returns rows, mapping each with `map`.
    pub async fn query<T, F>(
        &mut self,
        stmt: &impl QueryStatementWriter,
        map: F,
    ) -> DbResult<Vec<T>>
    where
        F: FnMut(&dyn RowRead) -> DbResult<T> + Send,
    {
        let (sql, values) = self.build(stmt);
        self.watch(&sql);
        match &mut self.inner {
            TxInner::Sqlite(tx) => tx.query(&sql, &values, map),
            TxInner::Postgres(tx) => tx.query(&sql, &values, map).await,
        }
    }

    /// Runs a [`Prebuilt`] statement for `args`, mapping each row with `map`.
    pub async fn query_prebuilt<A, S, T, F>(
        &mut self,
        stmt: &Prebuilt<A, S>,
        args: &A,
        map: F,
    ) -> DbResult<Vec<T>>
    where
        S: QueryStatementWriter,
        F: FnMut(&dyn RowRead) -> DbResult<T> + Send,
    {
        let postgres = self.is_postgres();
        let (sql, values) = stmt.build(postgres, args);
        self.watch(sql);
        match &mut self.inner {
            TxInner::Sqlite(tx) => tx.query(sql, &values, map),
            TxInner::Postgres(tx) => tx.query(sql, &values, map).await,
        }
    }

    /// Runs a [`Prebuilt`] statement for `args` for its effect; returns the
    /// number of rows touched.
    pub async fn execute_prebuilt<A, S>(&mut self, stmt: &Prebuilt<A, S>, args: &A) -> DbResult<u64>
    where
        S: QueryStatementWriter,
    {
        let postgres = self.is_postgres();
        let (sql, values) = stmt.build(postgres, args);
        self.watch(sql);
        match &mut self.inner {
            TxInner::Sqlite(tx) => tx.execute(sql, &values),
            TxInner::Postgres(tx) => tx.execute(sql, &values).await,
        }
    }

    /// The first row, if any.
    pub async fn query_opt<T, F>(
        &mut self,
        stmt: &impl QueryStatementWriter,
        map: F,
    ) -> DbResult<Option<T>>
    where
        F: FnMut(&dyn RowRead) -> DbResult<T> + Send,
    {
        Ok(self.query(stmt, map).await?.into_iter().next())
    }

    /// A token that stays equal while nothing is committed to the database:
    /// SQLite read transactions only (see `SqliteTx::read_version`), `None`
    /// elsewhere. Lets a per-thread cache know it is still current.
    pub fn read_version(&self) -> DbResult<Option<(u64, i64)>> {
        match &self.inner {
            TxInner::Sqlite(tx) => tx.read_version(),
            TxInner::Postgres(_) => Ok(None),
        }
    }

    /// The commit generation a cache shared by the process's threads may
    /// use now: on SQLite ([`generation`]) read transactions only, and only
    /// when nothing was committed since this thread last asked (asked once
    /// per request: the answer found with the grants epoch is taken, see
    /// [`grants::take_observed`]); on
    /// PostgreSQL the WAL position of a round shared with the requests
    /// waiting with this one (`pg_generation`). `None`: do not use a cache.
    pub async fn commit_generation(&mut self) -> DbResult<Option<u64>> {
        match &mut self.inner {
            TxInner::Sqlite(tx) if tx.is_read() => match grants::take_observed() {
                Some(observed) => Ok(observed),
                None => generation::current(|| self.read_version()),
            },
            TxInner::Sqlite(_) => Ok(None),
            TxInner::Postgres(tx) => tx.commit_generation().await,
        }
    }

    /// The grants epoch as of now, where this process can know it without
    /// asking the database each time: SQLite read transactions (see
    /// [`grants`]). `None` elsewhere.
    pub async fn grants_epoch(&mut self) -> DbResult<Option<i64>> {
        match self.inner {
            TxInner::Sqlite(_) => grants::sqlite_epoch(self).await,
            TxInner::Postgres(_) => Ok(None),
        }
    }

    /// The grants epoch, read now (before the statements whose answers it
    /// will vouch for).
    pub async fn read_grants_epoch(&mut self) -> DbResult<i64> {
        let epoch = self
            .query_prebuilt(&grants::READ, &(), grants::epoch_from_row)
            .await?;
        epoch
            .into_iter()
            .next()
            .ok_or_else(|| DbError::Other("grant_epochs has no row".into()))
    }

    /// Runs a statement for its effect; returns the number of rows touched.
    pub async fn execute(&mut self, stmt: &impl QueryStatementWriter) -> DbResult<u64> {
        let (sql, values) = self.build(stmt);
        self.watch(&sql);
        self.execute_sql(&sql, &values).await
    }

    /// [`Tx::execute`] for a write that changes nothing a grant depends on
    /// although its table is watched (a key's `last_used_at`): the cache is
    /// not emptied for it.
    pub async fn execute_outside_grants(
        &mut self,
        stmt: &impl QueryStatementWriter,
    ) -> DbResult<u64> {
        let (sql, values) = self.build(stmt);
        self.execute_sql(&sql, &values).await
    }

    async fn execute_sql(&mut self, sql: &str, values: &Values) -> DbResult<u64> {
        match &mut self.inner {
            TxInner::Sqlite(tx) => tx.execute(sql, values),
            TxInner::Postgres(tx) => tx.execute(sql, values).await,
        }
    }

    /// Runs a fixed piece of SQL with no parameters (schema statements; never user input).
    pub(crate) async fn batch(&mut self, sql: &str) -> DbResult<()> {
        match &mut self.inner {
            TxInner::Sqlite(tx) => tx.batch(sql),
            TxInner::Postgres(tx) => tx.batch(sql).await,
        }
    }

    pub async fn commit(mut self) -> DbResult<()> {
        if self.grants_written && self.grants_tracked {
            let bump = grants::bump();
            self.execute_outside_grants(&bump).await?;
            if self.is_postgres() {
                self.query(&grants::notify(), |_| Ok(())).await?;
            }
        }
        match self.inner {
            TxInner::Sqlite(tx) => tx.commit().await,
            TxInner::Postgres(tx) => tx.commit().await,
        }
    }
}

/// A value of a type prickle's portable schema does not use (a bug, reported
/// as an error rather than a panic).
fn unportable(v: &sea_query::Value) -> DbError {
    DbError::Other(format!("value of an unsupported type bound: {v:?}"))
}

/// Hides the passwords in a database URL so it can be logged: the one in
/// the credentials (up to the first '@', as tokio-postgres reads them) and a
/// `password=` query parameter.
pub fn redact_url(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_string();
    };
    let (scheme, rest) = url.split_at(scheme_end);
    let (creds, rest) = match rest.find('@') {
        Some(at) => {
            let (creds, rest) = rest.split_at(at);
            let creds = match creds.split_once(':') {
                Some((user, _)) => format!("{user}:***"),
                None => creds.to_string(),
            };
            (creds, rest)
        }
        None => (String::new(), rest),
    };
    let rest = match rest.split_once('?') {
        Some((path, query)) => {
            let query: Vec<String> = query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _))
                        if percent_encoding::percent_decode_str(key)
                            .decode_utf8_lossy()
                            .eq_ignore_ascii_case("password") =>
                    {
                        format!("{key}=***")
                    }
                    _ => pair.to_string(),
                })
                .collect();
            format!("{path}?{}", query.join("&"))
        }
        None => rest.to_string(),
    };
    format!("{scheme}{creds}{rest}")
}

#[cfg(test)]
mod tests {
    use super::{redact_url, Synchronous};

    #[test]
    fn synchronous_is_full_by_default_and_parses_either_case() {
        assert_eq!(Synchronous::default(), Synchronous::Full);
        assert_eq!("normal".parse(), Ok(Synchronous::Normal));
        assert_eq!("FULL".parse(), Ok(Synchronous::Full));
        assert!("off".parse::<Synchronous>().is_err());
    }

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
        assert_eq!(
            redact_url("postgres://h/db?sslmode=require&password=secret"),
            "postgres://h/db?sslmode=require&password=***"
        );
        assert_eq!(
            redact_url("postgres://h/db?p%61ssword=secret"),
            "postgres://h/db?p%61ssword=***"
        );
        // tokio-postgres ends the credentials at the first '@'.
        assert_eq!(
            redact_url("postgres://u:secret@h/db?application_name=a@b"),
            "postgres://u:***@h/db?application_name=a@b"
        );
    }
}
