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

pub mod migrations;
mod pg;
mod row;
pub mod schema;
mod sqlite;

use std::fmt;

use sea_query::{PostgresQueryBuilder, QueryStatementWriter, SqliteQueryBuilder, Values};

pub use row::RowRead;

/// What can go wrong talking to a database, as far as callers care.
#[derive(Debug)]
pub enum DbError {
    /// A UNIQUE constraint refused the write (callers map it to their own 409/400).
    Unique,
    /// The database is locked or the pool is exhausted: worth retrying.
    Busy(String),
    Other(String),
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Unique => f.write_str("unique constraint violated"),
            DbError::Busy(m) => write!(f, "database busy: {m}"),
            DbError::Other(m) => f.write_str(m),
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
    /// `sqlite://PATH` (created when missing) or `postgres://...`.
    pub async fn connect(url: &str) -> DbResult<Db> {
        if let Some(path) = url.strip_prefix("sqlite://") {
            Ok(Db::Sqlite(sqlite::SqliteDb::open(path)?))
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

    /// For requests that only read: statements run in autocommit (each sees
    /// one committed snapshot), which keeps the hot path to one round trip
    /// per statement on both databases.
    pub async fn read(&self) -> DbResult<Tx> {
        Ok(match self {
            Db::Sqlite(db) => Tx::Sqlite(db.begin_read()?),
            Db::Postgres(db) => Tx::Postgres(db.begin(false).await?),
        })
    }

    /// A write transaction. SQLite takes the write lock now, so the checks a
    /// request makes before writing cannot be invalidated by another writer.
    pub async fn write(&self) -> DbResult<Tx> {
        Ok(match self {
            Db::Sqlite(db) => Tx::Sqlite(db.begin_write().await?),
            Db::Postgres(db) => Tx::Postgres(db.begin(true).await?),
        })
    }

    pub async fn migrate(&self) -> DbResult<usize> {
        migrations::run(self).await
    }
}

/// One transaction on either database. Dropping it without [`Tx::commit`]
/// rolls back.
pub enum Tx {
    Sqlite(sqlite::SqliteTx),
    Postgres(pg::PgTx),
}

impl Tx {
    fn build(&self, stmt: &impl QueryStatementWriter) -> (String, Values) {
        match self {
            Tx::Sqlite(_) => stmt.build(SqliteQueryBuilder),
            Tx::Postgres(_) => stmt.build(PostgresQueryBuilder),
        }
    }

    pub fn is_postgres(&self) -> bool {
        matches!(self, Tx::Postgres(_))
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
        match self {
            Tx::Sqlite(tx) => tx.query(&sql, &values, map),
            Tx::Postgres(tx) => tx.query(&sql, &values, map).await,
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
        match self {
            Tx::Sqlite(tx) => tx.read_version(),
            Tx::Postgres(_) => Ok(None),
        }
    }

    /// Runs a statement for its effect; returns the number of rows touched.
    pub async fn execute(&mut self, stmt: &impl QueryStatementWriter) -> DbResult<u64> {
        let (sql, values) = self.build(stmt);
        match self {
            Tx::Sqlite(tx) => tx.execute(&sql, &values),
            Tx::Postgres(tx) => tx.execute(&sql, &values).await,
        }
    }

    /// Runs a fixed piece of SQL with no parameters (schema statements; never user input).
    pub(crate) async fn batch(&mut self, sql: &str) -> DbResult<()> {
        match self {
            Tx::Sqlite(tx) => tx.batch(sql),
            Tx::Postgres(tx) => tx.batch(sql).await,
        }
    }

    pub async fn commit(self) -> DbResult<()> {
        match self {
            Tx::Sqlite(tx) => tx.commit().await,
            Tx::Postgres(tx) => tx.commit().await,
        }
    }
}

/// A value of a type prickle's portable schema does not use (a bug, reported
/// as an error rather than a panic).
fn unportable(v: &sea_query::Value) -> DbError {
    DbError::Other(format!("value of an unsupported type bound: {v:?}"))
}

/// Hides the password part of a database URL so it can be logged.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let creds = &url[scheme_end + 3..at];
            match creds.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &creds[..colon],
                    &url[at..]
                ),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_url;

    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            redact_url("postgres://u:secret@h:5432/db"),
            "postgres://u:***@h:5432/db"
        );
        assert_eq!(redact_url("postgres://u@h/db"), "postgres://u@h/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
