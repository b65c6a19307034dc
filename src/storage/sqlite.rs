//! SQLite, called inline on the request's thread.
//!
//! Measured on our machines: hopping to a blocking pool for every query halves
//! throughput, so statements run directly in the async task. A read takes this
//! thread's cached read connection (WAL lets readers run beside the writer);
//! a write takes the single writer connection, which serialises writers in
//! this process without spinning on SQLITE_BUSY, and `BEGIN IMMEDIATE` takes
//! the file lock up front against other processes (the admin CLI).
//!
//! # Durability
//!
//! `synchronous=FULL` (the default, [`Synchronous`]): a write is
//! acknowledged once the WAL holding it is on disk, so it survives a power
//! cut. The sync is not made inside COMMIT, which would hold the writer
//! slot through it: the writer connection runs `synchronous=NORMAL`, and
//! the [`syncer`] thread syncs the WAL after each COMMIT before the batch's
//! members hear of it (one sync for every batch COMMITted meanwhile).
//! `NORMAL` leaves that last sync to the OS (and to checkpoints): a killed
//! process still loses nothing, a power cut can lose the last transactions.
//! Group commit is what keeps FULL affordable: one sync per batch or more.
//!
//! # Group commit
//!
//! Writers that arrive together share one SQLite transaction (a *batch*) and
//! one `COMMIT`. Each write transaction is a `SAVEPOINT` inside the batch's
//! `BEGIN IMMEDIATE`: a writer that fails or is dropped rolls back to its own
//! savepoint only. [`SqliteTx::commit`] `RELEASE`s the savepoint and then
//! waits for the batch's outcome, so it returns only once its changes are
//! COMMITted, and under FULL synced (or with the error that stopped the
//! batch committing).
//!
//! A writer ending its turn with the writer slot (commit, drop, failure)
//! leaves the batch open only while the batch is small and young
//! ([`BATCH_MAX_MEMBERS`], [`BATCH_MAX_AGE`]) and other writers are queued
//! for the slot, or (FULL) the syncer is busy and takes the batch on
//! ([`syncer::Handle::defer`]); otherwise it COMMITs. Between batches the
//! file lock is free for other processes.
//!
//! Why an open batch is always closed. `queued` counts writers between "about
//! to wait for the slot" and "got it / gave up"; a waiter's count is removed
//! exactly once: on acquiring (while holding the slot) or when its wait is
//! dropped ([`Shared::leave_queue`]). Invariant: *when a batch is open and no
//! one holds the slot, `queued > 0` or the syncer has taken the batch on*
//! (it then takes the slot and COMMITs whatever batch is open once its sync
//! is done, or, when the database is dropped, before its thread stops). It
//! holds because
//! - a holder frees the slot with a batch open only in [`Shared::end_turn`],
//!   while holding the `queued` lock and having seen `queued > 0` or had the
//!   syncer take the batch on; every other way to free the slot first
//!   closes the batch;
//! - `queued` drops on acquiring only while the slot is held;
//! - a cancelled waiter decrements under the `queued` lock (after dropping
//!   its lock future, which hands back a permit it may already have been
//!   given); if it reached 0 it try-locks the slot: success means no one
//!   holds it, so it COMMITs the batch itself; failure means someone holds
//!   it, and that holder will end its turn through `end_turn`.
//!
//! So an open batch always has a holder or a queued writer (or the syncer)
//! who will become one (or clean up); batches are bounded, so each is closed after finitely
//! many turns, and every close publishes the outcome its members await (a
//! dropped batch closes their channel, which they report as an error: no one
//! waits forever).
//!
//! # Checkpoints
//!
//! The writer does not checkpoint (`wal_autocheckpoint=0`): a background
//! thread with its own connection runs `wal_checkpoint(PASSIVE)` every
//! [`CHECKPOINT_EVERY`], off the request path. When the WAL still holds more
//! than [`WAL_RESTART_FRAMES`] frames it queues for the writer slot like any
//! writer, commits any open batch, and runs `wal_checkpoint(RESTART)`, so the
//! next write starts the WAL from its beginning: the WAL cannot grow without
//! bound under a steady write load. The thread stops (and is joined) when
//! the last handle to the database is dropped.

use std::cell::RefCell;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, MutexGuard as StdGuard, Weak};
use std::task::{Context, Poll};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::types::Value as SqlValue;
use rusqlite::{Connection, ErrorCode, OpenFlags};
use sea_query::{Value, Values};
use tokio::sync::{watch, Mutex, OwnedMutexGuard};

mod syncer;

use super::row::SqliteRow;
use super::{unportable, DbError, DbResult, RowRead, Synchronous};
use crate::metrics::Histogram;

const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
const STATEMENT_CACHE: usize = 256;
/// A batch commits once this many writers have joined it...
const BATCH_MAX_MEMBERS: usize = 64;
/// ...or once it has been open this long, even with writers queued.
const BATCH_MAX_AGE: Duration = Duration::from_millis(10);
/// How often the background thread runs a passive checkpoint.
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);
/// WAL frames (pages) beyond which the background thread restarts the WAL.
const WAL_RESTART_FRAMES: i64 = 4000;
/// A WAL file larger than this is truncated to it when the WAL restarts.
const WAL_SIZE_LIMIT: i64 = 64 * 1024 * 1024;
/// The RESTART checkpoint holds the writer slot: it waits this long at most
/// for readers and other processes, then tries again on a later tick.
const CHECKPOINT_BUSY_TIMEOUT: Duration = Duration::from_millis(200);

const SAVEPOINT: &str = "SAVEPOINT prickle_tx";
const RELEASE: &str = "RELEASE prickle_tx";
const ROLLBACK_TO: &str = "ROLLBACK TO prickle_tx";

static NEXT_DB_ID: AtomicU64 = AtomicU64::new(1);
/// Read connections are numbered, so a cache built on one connection's
/// `data_version` is never checked against another's.
static NEXT_READER: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Read connections of this thread, one per open database, with their numbers.
    static READERS: RefCell<Vec<((u64, u64), Connection)>> = const { RefCell::new(Vec::new()) };
}

/// Timings of batching and checkpointing (tests shrink them).
#[derive(Clone, Copy)]
struct Tuning {
    batch_max_age: Duration,
    checkpoint_every: Duration,
    wal_restart_frames: i64,
}

const TUNING: Tuning = Tuning {
    batch_max_age: BATCH_MAX_AGE,
    checkpoint_every: CHECKPOINT_EVERY,
    wal_restart_frames: WAL_RESTART_FRAMES,
};

#[derive(Clone)]
pub struct SqliteDb {
    id: u64,
    path: Arc<PathBuf>,
    synchronous: Synchronous,
    shared: Arc<Shared>,
    /// Only whether the epoch's table exists: SQLite learns of changes
    /// through `data_version` (`grants`).
    pub(super) watch: Arc<super::grants::Watch>,
}

/// The writer side of one database.
struct Shared {
    /// Under FULL. Held for its drop, which syncs what is waiting and stops
    /// the thread; first, so that it does so before the writer closes.
    #[cfg_attr(not(test), allow(dead_code))]
    syncer: Option<syncer::Syncer>,
    slot: Arc<Mutex<Writer>>,
    /// Writers waiting for `slot` (see the module documentation).
    queued: std::sync::Mutex<usize>,
    checkpointer: Checkpointer,
    /// [`BATCH_MAX_AGE`] (tests lengthen it).
    batch_max_age: Duration,
    /// Write transactions per COMMITted batch (the writer observes them).
    batch_sizes: Arc<Histogram>,
    /// WAL restarts by the checkpoint thread.
    #[cfg(test)]
    restarts: AtomicU64,
}

/// The writer connection and the batch open on it, if any.
struct Writer {
    conn: Connection,
    batch: Option<Batch>,
    batch_sizes: Arc<Histogram>,
    /// Under FULL: where COMMITted batches wait for the WAL to be synced.
    syncer: Option<syncer::Handle>,
    /// Batches COMMITted.
    #[cfg(test)]
    commits: u64,
}

/// An open `BEGIN IMMEDIATE` transaction shared by write transactions.
struct Batch {
    started: Instant,
    members: usize,
    /// `Some` once the batch is closed: `Ok` when it COMMITted (and, under
    /// FULL, the WAL was synced).
    outcome: syncer::Outcome,
}

impl SqliteDb {
    pub fn open(path: &str, synchronous: Synchronous) -> DbResult<SqliteDb> {
        Self::open_tuned(path, synchronous, TUNING)
    }

    fn open_tuned(path: &str, synchronous: Synchronous, tuning: Tuning) -> DbResult<SqliteDb> {
        if path.is_empty() {
            return Err(DbError::Other("sqlite:// URL has no path".into()));
        }
        let path = PathBuf::from(path);
        // Under FULL the writer's COMMIT does not sync: the syncer does.
        let writer = open_connection(&path, Synchronous::Normal)?;
        // WAL is a property of the file: set once, by the writer.
        let mode: String = writer
            .query_row("PRAGMA journal_mode=WAL", [], |r| r.get(0))
            .map_err(classify)?;
        if !mode.eq_ignore_ascii_case("wal") {
            return Err(DbError::Other(format!(
                "could not enable WAL (journal_mode={mode})"
            )));
        }
        // Checkpoints run in the background thread, never inside a COMMIT.
        writer
            .execute_batch(&format!(
                "PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit={WAL_SIZE_LIMIT};"
            ))
            .map_err(classify)?;
        let checkpoint_conn = open_connection(&path, synchronous)?;
        checkpoint_conn
            .busy_timeout(CHECKPOINT_BUSY_TIMEOUT)
            .map_err(classify)?;
        let syncer = match synchronous {
            Synchronous::Full => Some(syncer::Syncer::new(writer.path().unwrap_or_default())),
            Synchronous::Normal => None,
        };
        let batch_sizes = Arc::new(Histogram::new(crate::metrics::BATCH_SIZE_BUCKETS));
        let shared = Arc::new(Shared {
            slot: Arc::new(Mutex::new(Writer {
                conn: writer,
                batch: None,
                batch_sizes: batch_sizes.clone(),
                syncer: syncer.as_ref().map(syncer::Syncer::handle),
                #[cfg(test)]
                commits: 0,
            })),
            syncer,
            queued: std::sync::Mutex::new(0),
            checkpointer: Checkpointer::default(),
            batch_max_age: tuning.batch_max_age,
            batch_sizes,
            #[cfg(test)]
            restarts: AtomicU64::new(0),
        });
        shared
            .checkpointer
            .start(Arc::downgrade(&shared), checkpoint_conn, tuning)?;
        if let Some(syncer) = &shared.syncer {
            let slot = Arc::downgrade(&shared.slot);
            syncer.start(Box::new(move || {
                if let Some(slot) = slot.upgrade() {
                    slot.blocking_lock().close_batch(None);
                }
            }))?;
        }
        Ok(SqliteDb {
            id: NEXT_DB_ID.fetch_add(1, Ordering::Relaxed),
            path: Arc::new(path),
            synchronous,
            shared,
            watch: Arc::default(),
        })
    }

    /// Write transactions waiting for the writer slot now.
    pub fn writers_queued(&self) -> usize {
        *self.shared.queued()
    }

    /// Write transactions per COMMITted batch.
    pub fn commit_batches(&self) -> &Histogram {
        &self.shared.batch_sizes
    }

    pub fn begin_read(&self) -> DbResult<SqliteTx> {
        let cached = READERS.with(|r| {
            let mut r = r.borrow_mut();
            r.iter()
                .position(|((id, _), _)| *id == self.id)
                .map(|i| r.swap_remove(i))
        });
        let (key, conn) = match cached {
            Some(c) => c,
            None => (
                (self.id, NEXT_READER.fetch_add(1, Ordering::Relaxed)),
                open_connection(&self.path, self.synchronous)?,
            ),
        };
        // Reads run in autocommit, as on PostgreSQL: each statement sees one
        // committed snapshot, and the hot path saves a BEGIN and a COMMIT.
        Ok(SqliteTx {
            conn: Some(Holder::Reader(key, conn)),
        })
    }

    /// Takes the writer slot and opens a savepoint in the open batch (or a
    /// new one).
    pub async fn begin_write(&self) -> DbResult<SqliteTx> {
        let guard = match self.shared.slot.clone().try_lock_owned() {
            Ok(guard) => guard,
            Err(_) => Queued::new(&self.shared).await,
        };
        self.shared.start_turn(guard)
    }
}

impl Shared {
    fn queued(&self) -> StdGuard<'_, usize> {
        self.queued.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Joins (or opens) the batch and opens this writer's savepoint.
    fn start_turn(self: &Arc<Self>, mut guard: OwnedMutexGuard<Writer>) -> DbResult<SqliteTx> {
        let w = &mut *guard;
        if w.batch.is_some() && w.conn.is_autocommit() {
            w.close_batch(Some(rolled_back()));
        }
        if w.batch.is_none() {
            if let Err(e) = exec(&w.conn, "BEGIN IMMEDIATE") {
                self.end_turn(guard, false);
                return Err(e);
            }
            w.batch = Some(Batch {
                started: Instant::now(),
                members: 0,
                outcome: watch::channel(None).0,
            });
        }
        let batch = w.batch.as_mut().expect("batch opened above");
        batch.members += 1;
        let outcome = batch.outcome.subscribe();
        if let Err(e) = exec(&w.conn, SAVEPOINT) {
            self.end_turn(guard, false);
            return Err(e);
        }
        Ok(SqliteTx {
            conn: Some(Holder::Writer(WriteTurn {
                shared: self.clone(),
                guard,
                outcome,
            })),
        })
    }

    /// Ends a turn with the slot; the writer's savepoint is already released
    /// or rolled back (`poisoned`: rolling it back failed, so the whole
    /// batch must go). Leaves the batch open for a queued writer, or closes it.
    fn end_turn(&self, mut guard: OwnedMutexGuard<Writer>, poisoned: bool) {
        let w = &mut *guard;
        if w.batch.is_some() {
            if poisoned {
                let e = DbError::Other("write transaction could not be rolled back".into());
                w.close_batch(Some(e));
            } else if w.conn.is_autocommit() {
                // SQLite rolled the whole transaction back (IOERR, FULL, ...).
                w.close_batch(Some(rolled_back()));
            }
        }
        let queued = self.queued();
        let keep_open = w.batch.as_ref().is_some_and(|b| {
            b.members < BATCH_MAX_MEMBERS
                && b.started.elapsed() < self.batch_max_age
                && (*queued > 0 || w.syncer.as_ref().is_some_and(syncer::Handle::defer))
        });
        if keep_open {
            // Freed while `queued` is locked and positive, or with the
            // syncer bound to COMMIT the batch: the invariant.
            drop(guard);
            drop(queued);
            return;
        }
        drop(queued);
        w.close_batch(None);
    }

    /// A waiter gave up before getting the slot (its lock future is dropped).
    fn leave_queue(&self) {
        let mut queued = self.queued();
        *queued -= 1;
        if *queued == 0 {
            if let Ok(mut w) = self.slot.try_lock() {
                drop(queued);
                w.close_batch(None);
            }
        }
    }

    /// Background: queue for the slot like a writer, close any open batch,
    /// and restart the WAL while no writer of this process can run.
    fn restart_wal(&self, checkpoint_conn: &Connection) {
        *self.queued() += 1;
        let mut w = self.slot.blocking_lock();
        *self.queued() -= 1;
        w.close_batch(None);
        match checkpoint(checkpoint_conn, "RESTART") {
            Ok(Checkpointed { busy: false, .. }) => {
                #[cfg(test)]
                self.restarts.fetch_add(1, Ordering::Relaxed);
            }
            // Readers or another process kept it from finishing: next tick.
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sqlite WAL restart checkpoint failed"),
        }
    }
}

impl Writer {
    /// COMMITs the open batch (or rolls it back with `failure`) and tells
    /// its members.
    fn close_batch(&mut self, failure: Option<DbError>) {
        let Some(batch) = self.batch.take() else {
            return;
        };
        let result = match failure {
            None => exec(&self.conn, "COMMIT"),
            Some(e) => Err(e),
        };
        if result.is_err() && !self.conn.is_autocommit() {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::warn!(error = %e, "sqlite rollback failed");
            }
        }
        if result.is_ok() {
            self.batch_sizes.observe(batch.members as u64);
            #[cfg(test)]
            {
                self.commits += 1;
            }
            if let Some(syncer) = &self.syncer {
                syncer.committed(batch.outcome);
                return;
            }
        }
        batch.outcome.send_replace(Some(result));
    }
}

fn rolled_back() -> DbError {
    DbError::Other("SQLite rolled back the write transaction".into())
}

/// Waiting for the writer slot, counted in `queued` until the slot is ours
/// or the wait is dropped.
struct Queued {
    shared: Arc<Shared>,
    lock: Option<Pin<Box<dyn Future<Output = OwnedMutexGuard<Writer>> + Send>>>,
}

impl Queued {
    fn new(shared: &Arc<Shared>) -> Queued {
        *shared.queued() += 1;
        Queued {
            shared: shared.clone(),
            lock: Some(Box::pin(shared.slot.clone().lock_owned())),
        }
    }
}

impl Future for Queued {
    type Output = OwnedMutexGuard<Writer>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let lock = self.lock.as_mut().expect("Queued polled after completion");
        let guard = std::task::ready!(lock.as_mut().poll(cx));
        self.lock = None;
        *self.shared.queued() -= 1;
        Poll::Ready(guard)
    }
}

impl Drop for Queued {
    fn drop(&mut self) {
        if let Some(lock) = self.lock.take() {
            // First hand back the slot, should the mutex have passed it to us.
            drop(lock);
            self.shared.leave_queue();
        }
    }
}

/// The background checkpoint thread of one database.
#[derive(Default)]
struct Checkpointer {
    stop: Arc<(std::sync::Mutex<bool>, Condvar)>,
    thread: std::sync::Mutex<Option<JoinHandle<()>>>,
}

impl Checkpointer {
    fn start(&self, shared: Weak<Shared>, conn: Connection, tuning: Tuning) -> DbResult<()> {
        let stop = self.stop.clone();
        let handle = std::thread::Builder::new()
            .name("prickle-checkpoint".into())
            .spawn(move || run_checkpoints(&conn, &shared, &stop, tuning))
            .map_err(|e| DbError::Other(format!("cannot start checkpoint thread: {e}")))?;
        *self.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(handle);
        Ok(())
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let (flag, wake) = &*self.stop;
        *flag.lock().unwrap_or_else(|e| e.into_inner()) = true;
        wake.notify_all();
        let handle = self
            .thread
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            // The thread itself may drop the last handle (it holds one while
            // restarting the WAL); it is stopping anyway then.
            if handle.thread().id() != std::thread::current().id() {
                let _ = handle.join();
            }
        }
    }
}

fn run_checkpoints(
    conn: &Connection,
    shared: &Weak<Shared>,
    stop: &(std::sync::Mutex<bool>, Condvar),
    tuning: Tuning,
) {
    let (flag, wake) = stop;
    let mut stopped = flag.lock().unwrap_or_else(|e| e.into_inner());
    loop {
        let deadline = Instant::now() + tuning.checkpoint_every;
        while !*stopped {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            stopped = wake
                .wait_timeout(stopped, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        if *stopped {
            return;
        }
        drop(stopped);
        match checkpoint(conn, "PASSIVE") {
            Ok(c) if c.frames > tuning.wal_restart_frames => {
                // Copy what was written during that pass too, so that the
                // RESTART, which holds the writer slot, has little left to do.
                let _ = checkpoint(conn, "PASSIVE");
                if let Some(shared) = shared.upgrade() {
                    shared.restart_wal(conn);
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sqlite checkpoint failed"),
        }
        stopped = flag.lock().unwrap_or_else(|e| e.into_inner());
    }
}

/// What `PRAGMA wal_checkpoint` reports.
struct Checkpointed {
    /// It could not finish (readers, or another process writing).
    busy: bool,
    /// The WAL's size in frames (pages).
    frames: i64,
}

fn checkpoint(conn: &Connection, mode: &str) -> DbResult<Checkpointed> {
    conn.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |r| {
        Ok(Checkpointed {
            busy: r.get::<_, i64>(0)? != 0,
            frames: r.get(1)?,
        })
    })
    .map_err(classify)
}

fn open_connection(path: &Path, synchronous: Synchronous) -> DbResult<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_CREATE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags).map_err(classify)?;
    conn.busy_timeout(BUSY_TIMEOUT).map_err(classify)?;
    // See "Durability" above.
    let pragmas = match synchronous {
        Synchronous::Full => "PRAGMA foreign_keys=ON; PRAGMA synchronous=FULL;",
        Synchronous::Normal => "PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;",
    };
    conn.execute_batch(pragmas).map_err(classify)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(conn)
}

fn exec(conn: &Connection, sql: &str) -> DbResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .map_err(classify)?;
    Ok(())
}

/// Rolls back to this writer's savepoint and pops it; false when SQLite
/// refused (the batch is then in an unknown state).
fn undo_savepoint(conn: &Connection) -> bool {
    match exec(conn, ROLLBACK_TO).and_then(|()| exec(conn, RELEASE)) {
        Ok(()) => true,
        Err(e) => {
            tracing::warn!(error = %e, "sqlite rollback to savepoint failed");
            false
        }
    }
}

/// A writer's turn with the slot: its savepoint is open in the batch.
struct WriteTurn {
    shared: Arc<Shared>,
    guard: OwnedMutexGuard<Writer>,
    outcome: watch::Receiver<Option<DbResult<()>>>,
}

enum Holder {
    Reader((u64, u64), Connection),
    Writer(WriteTurn),
}

impl Holder {
    fn conn(&self) -> &Connection {
        match self {
            Holder::Reader(_, c) => c,
            Holder::Writer(t) => &t.guard.conn,
        }
    }
}

pub struct SqliteTx {
    conn: Option<Holder>,
}

impl SqliteTx {
    /// Is this a read transaction (a read connection of this thread)?
    pub fn is_read(&self) -> bool {
        matches!(self.conn, Some(Holder::Reader(..)))
    }

    /// On a read connection: its number and SQLite's `data_version`, which
    /// changes whenever another connection (this process's writer, or
    /// another process) commits. Equal answers mean nothing was committed
    /// in between. `None` on the writer.
    pub fn read_version(&self) -> DbResult<Option<(u64, i64)>> {
        match &self.conn {
            Some(Holder::Reader((_, serial), conn)) => {
                // Cached: every authenticated request asks (`grants`).
                let v = conn
                    .prepare_cached("PRAGMA data_version")
                    .and_then(|mut s| s.query_row([], |r| r.get::<_, i64>(0)))
                    .map_err(classify)?;
                Ok(Some((*serial, v)))
            }
            _ => Ok(None),
        }
    }

    fn conn(&self) -> &Connection {
        self.conn
            .as_ref()
            .expect("connection present until drop")
            .conn()
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

    /// A write returns once its batch has COMMITted (durable as the
    /// database's [`Synchronous`] promises), or with the error that stopped
    /// the batch.
    pub async fn commit(mut self) -> DbResult<()> {
        let Some(Holder::Writer(turn)) = self.conn.take_if(|h| matches!(h, Holder::Writer(_)))
        else {
            return Ok(());
        };
        let WriteTurn {
            shared,
            guard,
            mut outcome,
        } = turn;
        if let Err(e) = exec(&guard.conn, RELEASE) {
            let clean = undo_savepoint(&guard.conn);
            shared.end_turn(guard, !clean);
            return Err(e);
        }
        shared.end_turn(guard, false);
        drop(shared);
        let closed = outcome.wait_for(Option::is_some).await;
        match closed.as_deref() {
            Ok(Some(Ok(()))) => Ok(()),
            Ok(Some(Err(e))) => Err(same_error(e)),
            Ok(None) | Err(_) => Err(DbError::Other("write batch abandoned".into())),
        }
    }
}

impl Drop for SqliteTx {
    fn drop(&mut self) {
        match self.conn.take() {
            Some(Holder::Reader(id, conn)) => READERS.with(|r| r.borrow_mut().push((id, conn))),
            // Not committed: undo this writer's part of the batch only.
            Some(Holder::Writer(WriteTurn { shared, guard, .. })) => {
                let clean = undo_savepoint(&guard.conn);
                shared.end_turn(guard, !clean);
            }
            None => {}
        }
    }
}

/// A batch's error, for each of its members.
fn same_error(e: &DbError) -> DbError {
    match e {
        DbError::Unique => DbError::Unique,
        DbError::Busy(m) => DbError::Busy(m.clone()),
        DbError::Other(m) => DbError::Other(m.clone()),
        DbError::GrantsChanged => DbError::GrantsChanged,
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

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::path::{Path, PathBuf};
    use std::pin::Pin;
    use std::sync::atomic::Ordering;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};
    use std::time::{Duration, Instant};

    use rusqlite::Connection;
    use sea_query::{Value, Values};
    use tokio::sync::oneshot;

    use super::{DbError, SqliteDb, SqliteTx, Synchronous, Tuning, TUNING};

    fn open(tuning: Tuning) -> (tempfile::TempDir, PathBuf, SqliteDb) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("test.db");
        let db = SqliteDb::open_tuned(
            path.to_str().expect("utf-8 path"),
            Synchronous::Full,
            tuning,
        )
        .expect("open");
        (dir, path, db)
    }

    /// A database with `t(id, v)` and `child(id, parent_id)`, whose foreign
    /// key is checked at COMMIT (a way to make a batch's COMMIT fail).
    async fn database() -> (tempfile::TempDir, PathBuf, SqliteDb) {
        database_tuned(TUNING).await
    }

    async fn database_tuned(tuning: Tuning) -> (tempfile::TempDir, PathBuf, SqliteDb) {
        let (dir, path, db) = open(tuning);
        let mut tx = db.begin_write().await.expect("begin");
        tx.batch(
            "CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB);
             CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER
                 REFERENCES t (id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .expect("schema");
        tx.commit().await.expect("commit schema");
        (dir, path, db)
    }

    fn insert(tx: &mut SqliteTx, id: i64) -> Result<u64, DbError> {
        tx.execute(
            "INSERT INTO t (id) VALUES (?)",
            &Values(vec![Value::BigInt(Some(id))]),
        )
    }

    /// The ids a new connection sees: what is committed.
    fn committed_ids(path: &Path) -> Vec<i64> {
        let conn = Connection::open(path).expect("fresh connection");
        let mut stmt = conn.prepare("SELECT id FROM t ORDER BY id").unwrap();
        let ids = stmt.query_map([], |r| r.get(0)).unwrap();
        ids.collect::<Result<_, _>>().unwrap()
    }

    fn commits(db: &SqliteDb) -> u64 {
        db.shared.slot.try_lock().expect("writer idle").commits
    }

    fn queued(db: &SqliteDb) -> usize {
        *db.shared.queued()
    }

    /// Lets spawned tasks (on this current-thread runtime) run until they block.
    async fn settle() {
        for _ in 0..20 {
            tokio::task::yield_now().await;
        }
    }

    fn poll_once<F: Future + ?Sized>(f: Pin<&mut F>) -> Poll<F::Output> {
        f.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writers_all_commit_and_are_visible_when_commit_returns() {
        let (_dir, path, db) = database().await;
        let before = commits(&db);
        let path = Arc::new(path);
        let n = 100;
        let mut tasks = Vec::new();
        for id in 0..n {
            let db = db.clone();
            let path = path.clone();
            tasks.push(tokio::spawn(async move {
                let mut tx = db.begin_write().await.expect("begin");
                insert(&mut tx, id).expect("insert");
                // Hold the slot a while so that others queue behind.
                tokio::task::yield_now().await;
                tx.commit().await.expect("commit");
                // Acknowledged: a new connection must see it.
                assert!(committed_ids(&path).contains(&id), "row {id} not committed");
            }));
        }
        for t in tasks {
            t.await.expect("writer task");
        }
        assert_eq!(committed_ids(&path), (0..n).collect::<Vec<_>>());
        let batches = commits(&db) - before;
        assert!(
            batches < n as u64,
            "{n} writers, {batches} COMMITs: no group commit"
        );
    }

    #[tokio::test]
    async fn a_commit_waits_for_its_batch_to_commit() {
        let (_dir, path, db) = database().await;
        let before = commits(&db);
        let mut a = db.begin_write().await.unwrap();
        insert(&mut a, 1).unwrap();
        let (ready_tx, ready) = oneshot::channel();
        let (go, go_rx) = oneshot::channel::<()>();
        let db2 = db.clone();
        let b = tokio::spawn(async move {
            let mut b = db2.begin_write().await?;
            insert(&mut b, 2)?;
            ready_tx.send(()).unwrap();
            go_rx.await.unwrap();
            b.commit().await
        });
        settle().await;
        assert_eq!(queued(&db), 1);
        let mut a_commit = Box::pin(a.commit());
        // A leaves the batch open for B, which is queued...
        assert!(poll_once(a_commit.as_mut()).is_pending());
        ready.await.unwrap();
        // ...so A's commit has not returned, and nothing is committed yet.
        assert!(poll_once(a_commit.as_mut()).is_pending());
        assert_eq!(committed_ids(&path), Vec::<i64>::new());
        go.send(()).unwrap();
        b.await.unwrap().expect("B commits");
        a_commit.await.expect("A commits");
        assert_eq!(committed_ids(&path), vec![1, 2]);
        assert_eq!(commits(&db) - before, 1, "one COMMIT for both");
    }

    #[tokio::test]
    async fn a_dropped_transaction_rolls_back_only_itself() {
        let (_dir, path, db) = database().await;
        let mut a = db.begin_write().await.unwrap();
        insert(&mut a, 1).unwrap();
        let db2 = db.clone();
        let b = tokio::spawn(async move {
            let mut b = db2.begin_write().await.unwrap();
            insert(&mut b, 2).unwrap();
            // Dropped without commit (an error, or the request cancelled).
        });
        let db3 = db.clone();
        let c = tokio::spawn(async move {
            let mut c = db3.begin_write().await?;
            insert(&mut c, 3)?;
            c.commit().await
        });
        settle().await;
        assert_eq!(queued(&db), 2);
        let mut a_commit = Box::pin(a.commit());
        assert!(poll_once(a_commit.as_mut()).is_pending());
        b.await.unwrap();
        c.await.unwrap().expect("C commits");
        a_commit.await.expect("A commits");
        assert_eq!(committed_ids(&path), vec![1, 3]);

        // The last member of a batch dropped: it still commits the others.
        let mut a = db.begin_write().await.unwrap();
        insert(&mut a, 4).unwrap();
        let db2 = db.clone();
        let b = tokio::spawn(async move {
            let mut b = db2.begin_write().await.unwrap();
            insert(&mut b, 5).unwrap();
        });
        settle().await;
        a.commit().await.expect("A commits");
        b.await.unwrap();
        assert_eq!(committed_ids(&path), vec![1, 3, 4]);
    }

    #[tokio::test]
    async fn a_failing_statement_does_not_affect_the_rest_of_the_batch() {
        let (_dir, path, db) = database().await;
        let mut a = db.begin_write().await.unwrap();
        insert(&mut a, 1).unwrap();
        let db2 = db.clone();
        let b = tokio::spawn(async move {
            let mut b = db2.begin_write().await?;
            assert!(matches!(insert(&mut b, 1), Err(DbError::Unique)));
            insert(&mut b, 5)?;
            b.commit().await
        });
        let db3 = db.clone();
        let c = tokio::spawn(async move {
            let mut c = db3.begin_write().await?;
            let err = insert(&mut c, 5).expect_err("B's row is there");
            assert!(matches!(err, DbError::Unique));
            Err::<(), _>(err) // the request fails: its tx is dropped
        });
        let db4 = db.clone();
        let d = tokio::spawn(async move {
            let mut d = db4.begin_write().await?;
            insert(&mut d, 2)?;
            d.commit().await
        });
        settle().await;
        assert_eq!(queued(&db), 3);
        a.commit().await.expect("A commits");
        b.await.unwrap().expect("B commits");
        assert!(c.await.unwrap().is_err());
        d.await.unwrap().expect("D commits");
        assert_eq!(committed_ids(&path), vec![1, 2, 5]);
    }

    #[tokio::test]
    async fn a_failed_commit_fails_every_member_of_the_batch() {
        let (_dir, path, db) = database().await;
        let mut a = db.begin_write().await.unwrap();
        insert(&mut a, 1).unwrap();
        let db2 = db.clone();
        let b = tokio::spawn(async move {
            let mut b = db2.begin_write().await?;
            // A deferred foreign key: only COMMIT finds the missing parent.
            b.execute(
                "INSERT INTO child (id, parent_id) VALUES (1, 99)",
                &Values(vec![]),
            )?;
            b.commit().await
        });
        settle().await;
        let a_result = a.commit().await;
        let b_result = b.await.unwrap();
        assert!(a_result.is_err(), "A: {a_result:?}");
        assert!(b_result.is_err(), "B: {b_result:?}");
        assert_eq!(committed_ids(&path), Vec::<i64>::new());
        // The writer is usable again.
        let mut tx = db.begin_write().await.unwrap();
        insert(&mut tx, 7).unwrap();
        tx.commit().await.unwrap();
        assert_eq!(committed_ids(&path), vec![7]);
    }

    #[tokio::test]
    async fn a_waiter_cancelled_after_being_handed_the_slot_still_gets_the_batch_committed() {
        let (_dir, path, db) = database().await;
        let mut a = db.begin_write().await.unwrap();
        insert(&mut a, 1).unwrap();
        let db2 = db.clone();
        let b = tokio::spawn(async move {
            let mut b = db2.begin_write().await.unwrap();
            insert(&mut b, 2).unwrap();
            b.commit().await
        });
        settle().await;
        assert_eq!(queued(&db), 1);
        let mut a_commit = Box::pin(a.commit());
        // A leaves the batch open for B and the mutex hands B the slot...
        assert!(poll_once(a_commit.as_mut()).is_pending());
        // ...but B is cancelled before it runs.
        b.abort();
        assert!(b.await.unwrap_err().is_cancelled());
        assert_eq!(queued(&db), 0);
        tokio::time::timeout(Duration::from_secs(5), a_commit)
            .await
            .expect("A's commit returns")
            .expect("A commits");
        assert_eq!(committed_ids(&path), vec![1]);
    }

    #[tokio::test]
    async fn a_cancelled_commit_wait_does_not_undo_the_write() {
        let (_dir, path, db) = database().await;
        let mut a = db.begin_write().await.unwrap();
        insert(&mut a, 1).unwrap();
        let db2 = db.clone();
        let b = tokio::spawn(async move {
            let mut b = db2.begin_write().await.unwrap();
            insert(&mut b, 2).unwrap();
            b.commit().await
        });
        settle().await;
        let mut a_commit = Box::pin(a.commit());
        assert!(poll_once(a_commit.as_mut()).is_pending());
        drop(a_commit); // the request went away while waiting
        b.await.unwrap().expect("B commits");
        // Released into the batch, so committed with it (never acknowledged).
        assert_eq!(committed_ids(&path), vec![1, 2]);
    }

    #[test]
    fn synchronous_is_what_was_asked_for_with_the_writers_sync_on_the_syncer() {
        for (mode, pragma) in [(Synchronous::Full, 2), (Synchronous::Normal, 1)] {
            let dir = tempfile::tempdir().expect("tempdir");
            let path = dir.path().join("test.db");
            let db = SqliteDb::open(path.to_str().unwrap(), mode).expect("open");
            let read = |conn: &Connection| -> i64 {
                conn.query_row("PRAGMA synchronous", [], |r| r.get(0))
                    .unwrap()
            };
            // The writer's COMMIT never syncs: under FULL the syncer does.
            assert_eq!(read(&db.shared.slot.try_lock().unwrap().conn), 1);
            assert_eq!(db.shared.syncer.is_some(), mode == Synchronous::Full);
            let reader = db.begin_read().unwrap();
            assert_eq!(read(reader.conn()), pragma, "{mode:?} reader");
        }
    }

    #[tokio::test]
    async fn under_full_a_commit_returns_only_once_the_wal_is_synced() {
        // Batches stay open however slowly the test runs.
        let (_dir, path, db) = database_tuned(Tuning {
            batch_max_age: Duration::from_secs(3600),
            ..TUNING
        })
        .await;
        let before = commits(&db);
        let queue = db
            .shared
            .syncer
            .as_ref()
            .expect("FULL syncs")
            .queue_for_tests();
        queue.wait_idle();
        let syncs = queue.syncs();
        queue.pause();
        let mut a = db.begin_write().await.unwrap();
        insert(&mut a, 1).unwrap();
        let mut a_commit = Box::pin(a.commit());
        // COMMITted (another connection reads it) but not yet synced: not
        // acknowledged.
        assert!(poll_once(a_commit.as_mut()).is_pending());
        assert_eq!(committed_ids(&path), vec![1]);
        // The writer is not held by the sync: the next writes go ahead, in a
        // batch left open for the syncer to COMMIT once it is done.
        let mut b = db.begin_write().await.unwrap();
        insert(&mut b, 2).unwrap();
        let mut b_commit = Box::pin(b.commit());
        assert!(poll_once(b_commit.as_mut()).is_pending());
        let mut c = db.begin_write().await.unwrap();
        insert(&mut c, 3).unwrap();
        let mut c_commit = Box::pin(c.commit());
        assert!(poll_once(c_commit.as_mut()).is_pending());
        assert_eq!(committed_ids(&path), vec![1]);
        assert!(poll_once(a_commit.as_mut()).is_pending());
        assert_eq!(queue.syncs(), syncs);
        queue.resume();
        let within = |f| tokio::time::timeout(Duration::from_secs(5), f);
        within(a_commit)
            .await
            .expect("A's commit returns")
            .expect("A");
        within(b_commit)
            .await
            .expect("B's commit returns")
            .expect("B");
        within(c_commit)
            .await
            .expect("C's commit returns")
            .expect("C");
        assert_eq!(committed_ids(&path), vec![1, 2, 3]);
        assert_eq!(commits(&db) - before, 2, "B and C share a COMMIT");
        // One sync or two: B and C's COMMIT can join A's round.
        assert!(queue.syncs() > syncs);
    }

    #[tokio::test]
    async fn a_batch_left_to_the_syncer_commits_when_the_database_is_dropped() {
        let (_dir, path, db) = database().await;
        let queue = db
            .shared
            .syncer
            .as_ref()
            .expect("FULL syncs")
            .queue_for_tests();
        queue.wait_idle();
        queue.pause();
        let mut a = db.begin_write().await.unwrap();
        insert(&mut a, 1).unwrap();
        let mut a_commit = Box::pin(a.commit());
        assert!(poll_once(a_commit.as_mut()).is_pending());
        let mut b = db.begin_write().await.unwrap();
        insert(&mut b, 2).unwrap();
        let mut b_commit = Box::pin(b.commit());
        assert!(poll_once(b_commit.as_mut()).is_pending());
        queue.resume();
        drop(db);
        a_commit.await.expect("A commits");
        b_commit.await.expect("B commits");
        assert_eq!(committed_ids(&path), vec![1, 2]);
    }

    #[tokio::test]
    async fn a_failed_sync_fails_its_writes_and_every_later_one() {
        let (_dir, path, db) = database().await;
        let queue = db
            .shared
            .syncer
            .as_ref()
            .expect("FULL syncs")
            .queue_for_tests();
        queue.fail_next();
        let mut a = db.begin_write().await.unwrap();
        insert(&mut a, 1).unwrap();
        assert!(a.commit().await.is_err(), "acknowledged without a sync");
        // Whatever the next sync says, the pages the failed one could not
        // write may be gone: nothing is acknowledged any more.
        let mut b = db.begin_write().await.unwrap();
        insert(&mut b, 2).unwrap();
        assert!(
            b.commit().await.is_err(),
            "acknowledged after a failed sync"
        );
        // Reads go on.
        assert_eq!(committed_ids(&path), vec![1, 2]);
    }

    #[test]
    fn the_checkpoint_thread_stops_with_the_database() {
        for _ in 0..20 {
            let (_dir, _path, db) = open(TUNING);
            let thread_token = Arc::downgrade(&db.shared.checkpointer.stop);
            let clone = db.clone();
            drop(db);
            assert!(thread_token.upgrade().is_some(), "a clone keeps it running");
            drop(clone);
            assert!(thread_token.upgrade().is_none(), "thread still running");
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_wal_is_restarted_under_a_steady_write_load() {
        let (_dir, path, db) = open(Tuning {
            checkpoint_every: Duration::from_millis(10),
            wal_restart_frames: 20,
            ..TUNING
        });
        let mut tx = db.begin_write().await.unwrap();
        tx.batch("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)")
            .unwrap();
        tx.commit().await.unwrap();
        // The WAL header's checkpoint sequence number counts the times the
        // WAL restarted from its beginning.
        let wal = path.with_extension("db-wal");
        let wal_restarts = || {
            let header = std::fs::read(&wal).unwrap_or_default();
            header
                .get(12..16)
                .map_or(0, |s| u32::from_be_bytes(s.try_into().unwrap()))
        };
        let first = wal_restarts();
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut id = 0;
        while wal_restarts() < first + 3 {
            assert!(
                Instant::now() < deadline,
                "the WAL was not restarted ({} RESTART checkpoints)",
                db.shared.restarts.load(Ordering::Relaxed)
            );
            let mut tx = db.begin_write().await.unwrap();
            tx.execute(
                "INSERT INTO t (id, v) VALUES (?, zeroblob(3000))",
                &Values(vec![Value::BigInt(Some(id))]),
            )
            .unwrap();
            tx.commit().await.unwrap();
            id += 1;
        }
        assert!(db.shared.restarts.load(Ordering::Relaxed) > 0);
        assert_eq!(committed_ids(&path).len(), id as usize);
    }
}
