//! PostgreSQL through a deadpool pool of tokio-postgres clients.
//!
//! Reads run in autocommit (one statement, one snapshot: no BEGIN/COMMIT round
//! trips on the hot path); writes run between BEGIN and COMMIT and take row
//! locks (`FOR UPDATE`) where a check must hold until the write lands.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use deadpool_postgres::{
    Manager, ManagerConfig, Object, Pool, PoolError, RecyclingMethod, Runtime,
};
use sea_query::{Value, Values};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::AsyncMessage;

use super::grants::{self, Watch};
use super::pg_generation::{self, Rounds};
use super::pg_tls::{self, Tls};
use super::{unportable, DbError, DbResult, RowRead};

const POOL_SIZE: usize = 32;
const POOL_WAIT: Duration = Duration::from_secs(5);

#[derive(Clone)]
pub struct PgDb {
    pool: Pool,
    /// Connections asked of the pool while none was idle.
    waits: Arc<AtomicU64>,
    /// How the listener connection is opened (`listen`).
    listener: Arc<(tokio_postgres::Config, Tls)>,
    /// What the listener has seen (`grants`).
    pub(super) watch: Arc<Watch>,
    /// The commit rounds (`pg_generation`), once serving.
    rounds: Arc<OnceLock<Arc<Rounds>>>,
}

impl PgDb {
    pub async fn connect(url: &str) -> DbResult<PgDb> {
        let (url, tls) = pg_tls::split_url(url).map_err(DbError::Other)?;
        let mut config: tokio_postgres::Config =
            url.parse().map_err(|e: tokio_postgres::Error| {
                DbError::Other(format!("invalid PostgreSQL URL: {}", describe(&e)))
            })?;
        config.ssl_mode(tls.pg_mode());
        let manager = Manager::from_config(
            config.clone(),
            tls.connector().map_err(DbError::Other)?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .create_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| DbError::Other(e.to_string()))?;
        // Fail at start-up, not on the first request, when the server is
        // unreachable or its certificate is refused.
        drop(pool.get().await.map_err(|e| connect_error(e, &tls))?);
        Ok(PgDb {
            pool,
            waits: Arc::new(AtomicU64::new(0)),
            listener: Arc::new((config, tls)),
            watch: Arc::new(Watch::default()),
            rounds: Arc::new(OnceLock::new()),
        })
    }

    /// Starts the grants listener (once per process that serves requests):
    /// a connection of its own that LISTENs on [`grants::CHANNEL`], counts
    /// each notification into the watch, and reconnects every second while
    /// the server is gone (the cache is not used meanwhile).
    pub fn listen(&self) {
        let mut config = self.listener.0.clone();
        config.application_name(grants::LISTENER_NAME);
        let (tls, watch) = (self.listener.1.clone(), self.watch.clone());
        // Without a runtime (a command that serves nothing) there is no one to tell.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (rounds_config, rounds_tls) = (self.listener.0.clone(), self.listener.1.clone());
        self.rounds.get_or_init(|| {
            let _entered = runtime.enter();
            Arc::new(pg_generation::start(rounds_config, rounds_tls))
        });
        runtime.spawn(async move {
            loop {
                if let Err(e) = listen_once(&config, &tls, &watch).await {
                    tracing::warn!(error = %e, "grants listener lost; authorization cache off until it is back");
                }
                watch.set_listening(false);
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        });
    }

    /// A write holds its connection from BEGIN; a read takes one at its
    /// first statement, so a read answered from a kept body never does.
    pub async fn begin(&self, write: bool) -> DbResult<PgTx> {
        let mut tx = PgTx {
            client: None,
            db: self.clone(),
            open: false,
            rounds: if write {
                None
            } else {
                self.rounds.get().cloned()
            },
        };
        if write {
            let client = tx.client().await?;
            client.batch_execute("BEGIN").await.map_err(classify)?;
            tx.open = true;
        }
        Ok(tx)
    }

    async fn connection(&self) -> DbResult<Object> {
        let status = self.pool.status();
        if status.available == 0 && status.size >= status.max_size {
            self.waits.fetch_add(1, Ordering::Relaxed);
        }
        self.pool.get().await.map_err(pool_error)
    }

    /// The pool's size, its idle connections, and the waits so far.
    pub fn pool_gauges(&self) -> (usize, usize, u64) {
        let status = self.pool.status();
        (
            status.size,
            status.available,
            self.waits.load(Ordering::Relaxed),
        )
    }
}

/// One listener connection's life: LISTEN, then count notifications until
/// the connection ends.
async fn listen_once(config: &tokio_postgres::Config, tls: &Tls, watch: &Watch) -> DbResult<()> {
    let connector = tls.connector().map_err(DbError::Other)?;
    let (client, mut connection) = config.connect(connector).await.map_err(classify)?;
    let (listening_tx, mut listening) = tokio::sync::oneshot::channel::<()>();
    let listen = async move {
        let sql = format!("LISTEN {}", grants::CHANNEL);
        client.batch_execute(&sql).await.map_err(classify)?;
        watch.set_listening(true);
        // Keep the client (and so the connection) until the connection ends.
        let _ = listening_tx.send(());
        std::future::pending::<()>().await;
        drop(client);
        Ok::<(), DbError>(())
    };
    let drive = async {
        loop {
            match std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                Some(Ok(AsyncMessage::Notification(_))) => watch.notified(),
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(classify(e)),
                None => return Err(DbError::Other("connection closed".into())),
            }
        }
    };
    tokio::pin!(listen, drive);
    tokio::select! {
        r = &mut listen => r,
        r = &mut drive => {
            let _ = listening.try_recv();
            r
        }
    }
}

pub struct PgTx {
    client: Option<Object>,
    db: PgDb,
    open: bool,
    /// Reads only: the commit rounds, when they run.
    rounds: Option<Arc<Rounds>>,
}

impl PgTx {
    async fn client(&mut self) -> DbResult<&Object> {
        if self.client.is_none() {
            self.client = Some(self.db.connection().await?);
        }
        Ok(self.client.as_ref().expect("just taken"))
    }

    pub async fn query<T, F>(&mut self, sql: &str, values: &Values, mut map: F) -> DbResult<Vec<T>>
    where
        F: FnMut(&dyn RowRead) -> DbResult<T>,
    {
        let params = to_pg(values)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(classify)?;
        let rows = match grants::take_expected() {
            None => client.query(&stmt, &refs).await,
            Some(expected) => {
                let check = checked_first(client, expected);
                let (moved, rows) = tokio::join!(check, client.query(&stmt, &refs));
                moved?;
                rows
            }
        }
        .map_err(classify)?;
        rows.iter().map(|r| map(r)).collect()
    }

    pub async fn execute(&mut self, sql: &str, values: &Values) -> DbResult<u64> {
        let params = to_pg(values)?;
        let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
        let client = self.client().await?;
        let stmt = client.prepare_cached(sql).await.map_err(classify)?;
        match grants::take_expected() {
            None => client.execute(&stmt, &refs).await.map_err(classify),
            Some(expected) => {
                let check = checked_first(client, expected);
                let (moved, n) = tokio::join!(check, client.execute(&stmt, &refs));
                moved?;
                n.map_err(classify)
            }
        }
    }

    /// The WAL position a shared cache may use now (`pg_generation`), from
    /// a round that started after this request asked; the round's grants
    /// epoch checks the one this request relied on, if any, as its first
    /// statement would have. `None`: no round (a write, or none to be had).
    pub async fn commit_generation(&mut self) -> DbResult<Option<u64>> {
        let Some(rounds) = &self.rounds else {
            return Ok(None);
        };
        let Some((position, epoch)) = rounds.current().await else {
            return Ok(None);
        };
        match grants::take_expected() {
            Some(expected) if expected != epoch => Err(DbError::GrantsChanged),
            _ => Ok(Some(position)),
        }
    }

    pub async fn batch(&mut self, sql: &str) -> DbResult<()> {
        self.client()
            .await?
            .batch_execute(sql)
            .await
            .map_err(classify)
    }

    pub async fn commit(mut self) -> DbResult<()> {
        if self.open {
            self.client()
                .await?
                .batch_execute("COMMIT")
                .await
                .map_err(classify)?;
            self.open = false;
        }
        Ok(())
    }
}

/// The epoch check sent ahead of a request's first statement, in the same
/// round trip (tokio-postgres pipelines requests issued together; the
/// server runs them in order, so the epoch is read before the statement's
/// snapshot). `Err(GrantsChanged)` when it moved from `expected`.
async fn checked_first(client: &Object, expected: i64) -> DbResult<()> {
    let (sql, values) = grants::READ.build(true, &());
    let params = to_pg(&values)?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
    let stmt = client.prepare_cached(sql).await.map_err(classify)?;
    let row = client.query_one(&stmt, &refs).await.map_err(classify)?;
    let epoch: i64 = row.try_get(0).map_err(classify)?;
    if epoch == expected {
        Ok(())
    } else {
        Err(DbError::GrantsChanged)
    }
}

impl Drop for PgTx {
    fn drop(&mut self) {
        if !self.open {
            return;
        }
        let Some(client) = self.client.take() else {
            return;
        };
        // Drop cannot await: roll back in the background so the connection
        // goes back to the pool clean. Without a runtime, close it instead
        // (the server rolls back a closed session).
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                handle.spawn(async move {
                    if client.batch_execute("ROLLBACK").await.is_err() {
                        drop(Object::take(client));
                    }
                });
            }
            Err(_) => drop(Object::take(client)),
        }
    }
}

type Param = Box<dyn ToSql + Sync + Send>;

/// Every integer column is BIGINT, so every integer binds as i64 (tokio-postgres
/// checks Rust types against column types strictly).
pub(super) fn to_pg(values: &Values) -> DbResult<Vec<Param>> {
    values
        .iter()
        .map(|v| -> DbResult<Param> {
            Ok(match v {
                Value::Bool(b) => Box::new(*b),
                Value::TinyInt(i) => Box::new(i.map(i64::from)),
                Value::SmallInt(i) => Box::new(i.map(i64::from)),
                Value::Int(i) => Box::new(i.map(i64::from)),
                Value::BigInt(i) => Box::new(*i),
                Value::TinyUnsigned(i) => Box::new(i.map(i64::from)),
                Value::SmallUnsigned(i) => Box::new(i.map(i64::from)),
                Value::Unsigned(i) => Box::new(i.map(i64::from)),
                Value::BigUnsigned(i) => Box::new(i.map(|i| i64::try_from(i).unwrap_or(i64::MAX))),
                Value::Float(f) => Box::new(f.map(f64::from)),
                Value::Double(f) => Box::new(*f),
                Value::String(s) => Box::new(s.clone()),
                Value::Char(c) => Box::new(c.map(|c| c.to_string())),
                Value::Bytes(b) => Box::new(b.clone()),
                other => return Err(unportable(other)),
            })
        })
        .collect()
}

pub(super) fn classify(e: tokio_postgres::Error) -> DbError {
    match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => DbError::Unique,
        Some(c)
            if *c == SqlState::T_R_SERIALIZATION_FAILURE
                || *c == SqlState::T_R_DEADLOCK_DETECTED
                || *c == SqlState::LOCK_NOT_AVAILABLE =>
        {
            DbError::Busy(describe(&e))
        }
        _ if e.is_closed() => DbError::Busy(describe(&e)),
        _ => DbError::Other(describe(&e)),
    }
}

/// One line for the log, without row values: the server's DETAIL quotes
/// them (`Key (api_token)=(phc_...) already exists`, `Failing row contains
/// (...)`), and HINT and CONTEXT can too, so only the severity, SQLSTATE,
/// message and the names of the objects involved are kept.
fn describe(e: &tokio_postgres::Error) -> String {
    let Some(db) = e.as_db_error() else {
        // tokio-postgres's Display leaves out the cause (the refused
        // connection, the TLS alert), which is the useful part.
        let mut s = e.to_string();
        let mut cause = std::error::Error::source(e);
        while let Some(c) = cause {
            if c.is::<tokio_postgres::error::DbError>() {
                break;
            }
            let _ = write!(s, ": {c}");
            cause = c.source();
        }
        return one_line(&s);
    };
    let mut s = format!(
        "db error: {} {}: {}",
        db.severity(),
        db.code().code(),
        db.message()
    );
    for (what, name) in [
        ("table", db.table()),
        ("column", db.column()),
        ("constraint", db.constraint()),
    ] {
        if let Some(name) = name {
            let _ = write!(s, " ({what} {name})");
        }
    }
    one_line(&s)
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A failed first connection, with a hint when the server's certificate was refused.
fn connect_error(e: PoolError, tls: &Tls) -> DbError {
    let hint = match &e {
        PoolError::Backend(e) => tls.explain(e),
        _ => None,
    };
    match (pool_error(e), hint) {
        (DbError::Other(m) | DbError::Busy(m), Some(hint)) => {
            DbError::Other(format!("{m} ({hint})"))
        }
        (e, _) => e,
    }
}

fn pool_error(e: PoolError) -> DbError {
    match e {
        PoolError::Backend(e) => classify(e),
        other => DbError::Busy(other.to_string()),
    }
}
