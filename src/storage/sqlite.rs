//! SQLite, called inline on the request's thread.
//!
//! Measured on our machines: hopping to a blocking pool for every query halves
//! throughput, so statements run directly in the async task. A read takes this
//! thread's cached read connection (WAL lets readers run beside the writer);
//! a write takes the single writer connection, which serialises writers in
//! this process without spinning on SQLITE_BUSY, and `BEGIN IMMEDIATE` takes
//! the file lock up front against other processes (the admin CLI).

use std::cell::RefCell;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use sea_query::{Value, Values};
use tokio::sync::{Mutex, OwnedMutexGuard};

use super::row::SqliteRow;
use super::{unportable, DbError, DbResult, RowRead};

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const STATEMENT_CACHE: usize = 256;

static NEXT_DB_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Read connections of this thread, one per open database.
    static READERS: RefCell<Vec<(u64, Connection)>> = const { RefCell::new(Vec::new()) };
}

#[derive(Clone)]
pub struct SqliteDb {
    id: u64,
    path: Arc<PathBuf>,
    writer: Arc<Mutex<Connection>>,
}

impl SqliteDb {
    pub fn open(path: &str) -> DbResult<SqliteDb> {
        if path.is_empty() {
            return Err(DbError::Other("sqlite:// URL has no path".into()));
        }
        let path = PathBuf::from(path);
        let writer = open_connection(&path)?;
        // WAL is a property of the file: set once, by the writer.
        let mode: String = writer
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(classify)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(DbError::Other(format!(
                "could not enable WAL (journal_mode={mode})"
            )));
        }
        Ok(SqliteDb {
            id: NEXT_DB_ID.fetch_add(1, Ordering::Relaxed),
            path: Arc::new(path),
            writer: Arc::new(Mutex::new(writer)),
        })
    }

    pub fn begin_read(&self) -> DbResult<SqliteTx> {
        let cached = READERS.with(|r| {
            let mut r = r.borrow_mut();
            r.iter()
                .position(|(id, _)| *id == self.id)
                .map(|i| r.swap_remove(i).1)
        });
        let conn = match cached {
            Some(c) => c,
            None => open_connection(&self.path)?,
        };
        // Reads run in autocommit, as on PostgreSQL: each statement sees one
        // committed snapshot, and the hot path saves a BEGIN and a COMMIT.
        Ok(SqliteTx {
            conn: Some(Holder::Reader(self.id, conn)),
            open: false,
        })
    }

    pub async fn begin_write(&self) -> DbResult<SqliteTx> {
        let guard = self.writer.clone().lock_owned().await;
        let mut tx = SqliteTx {
            conn: Some(Holder::Writer(guard)),
            open: false,
        };
        tx.exec_cached("BEGIN IMMEDIATE")?;
        tx.open = true;
        Ok(tx)
    }
}

fn open_connection(path: &PathBuf) -> DbResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(classify)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(classify)?;
    // synchronous=NORMAL in WAL mode: a commit is in the OS once acknowledged,
    // so a killed process loses nothing; only a power cut could.
    conn.execute_batch("PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;")
        .map_err(classify)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

enum Holder {
    Reader(u64, Connection),
    Writer(OwnedMutexGuard<Connection>),
}

impl Holder {
    fn conn(&self) -> &Connection {
        match self {
            Holder::Reader(_, c) => c,
            Holder::Writer(g) => g,
        }
    }
}

pub struct SqliteTx {
    conn: Option<Holder>,
    open: bool,
}

impl SqliteTx {
    fn conn(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("connection present until drop")
            .conn()
    }

    fn exec_cached(&mut self, sql: &str) -> DbResult<()> {
        self.conn()
            .prepare_cached(sql)
            .and_then(|mut s| s.execute([]))
            .map_err(classify)?;
        Ok(())
    }

    pub fn query<T, F>(&mut self, sql: &str, values: &Values, mut map: F) -> DbResult<Vec<T>>
    where
        F: FnMut(&dyn RowRead) -> DbResult<T>,
    {
        let mut stmt = self.conn().prepare_cached(sql).map_err(classify)?;
        let mut rows = stmt
            .query(rusqlite::params_from_iter(to_sqlite(values)?))
            .map_err(classify)?;
        let mut out = Vec::new();
        while let Some(row) = rows.next().map_err(classify)? {
            out.push(map(&SqliteRow(row))?);
        }
        Ok(out)
    }

    pub fn execute(&mut self, sql: &str, values: &Values) -> DbResult<u64> {
        let mut stmt = self.conn().prepare_cached(sql).map_err(classify)?;
        let n = stmt
            .execute(rusqlite::params_from_iter(to_sqlite(values)?))
            .map_err(classify)?;
        Ok(n as u64)
    }

    pub fn batch(&mut self, sql: &str) -> DbResult<()> {
        self.conn().execute_batch(sql).map_err(classify)
    }

    pub fn commit(mut self) -> DbResult<()> {
        if self.open {
            self.exec_cached("COMMIT")?;
            self.open = false;
        }
        Ok(())
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        if self.open {
            // Never leave the connection inside a transaction.
            if let Err(e) = self.conn().execute_batch("ROLLBACK") {
                tracing::warn!(error = %e, "sqlite rollback failed");
            }
        }
        if let Some(Holder::Reader(id, conn)) = self.conn.take() {
            READERS.with(|r| r.borrow_mut().push((id, conn)));
        }
    }
}

fn to_sqlite(values: &Values) -> DbResult<Vec<SqlValue>> {
    values.iter().map(to_sqlite_value).collect()
}

fn to_sqlite_value(v: &Value) -> DbResult<SqlValue> {
    fn opt<T>(v: &Option<T>, f: impl Fn(&T) -> SqlValue) -> SqlValue {
        v.as_ref().map(f).unwrap_or(SqlValue::Null)
    }
    Ok(match v {
        Value::Bool(b) => opt(b, |b| SqlValue::Integer(*b as i64)),
        Value::TinyInt(i) => opt(i, |i| SqlValue::Integer(*i as i64)),
        Value::SmallInt(i) => opt(i, |i| SqlValue::Integer(*i as i64)),
        Value::Int(i) => opt(i, |i| SqlValue::Integer(*i as i64)),
        Value::BigInt(i) => opt(i, |i| SqlValue::Integer(*i)),
        Value::TinyUnsigned(i) => opt(i, |i| SqlValue::Integer(*i as i64)),
        Value::SmallUnsigned(i) => opt(i, |i| SqlValue::Integer(*i as i64)),
        Value::Unsigned(i) => opt(i, |i| SqlValue::Integer(*i as i64)),
        Value::BigUnsigned(i) => opt(i, |i| {
            SqlValue::Integer(i64::try_from(*i).unwrap_or(i64::MAX))
        }),
        Value::Float(f) => opt(f, |f| SqlValue::Real(*f as f64)),
        Value::Double(f) => opt(f, |f| SqlValue::Real(*f)),
        Value::String(s) => opt(s, |s| SqlValue::Text(s.clone())),
        Value::Char(c) => opt(c, |c| SqlValue::Text(c.to_string())),
        Value::Bytes(b) => opt(b, |b| SqlValue::Blob(b.clone())),
        other => return Err(unportable(other)),
    })
}

fn classify(e: rusqlite::Error) -> DbError {
    if let rusqlite::Error::SqliteFailure(code, _) = &e {
        match code.code {
            ErrorCode::ConstraintViolation
                if code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                    || code.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY =>
            {
                return DbError::Unique
            }
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => {
                return DbError::Busy(e.to_string())
            }
            _ => {}
        }
    }
    DbError::Other(e.to_string())
}
