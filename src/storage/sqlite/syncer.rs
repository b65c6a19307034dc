//! `synchronous=FULL` off the writer: a batch COMMITs without syncing the
//! WAL, and this thread syncs it before the batch's members hear of their
//! commit.
//!
//! SQLite's FULL mode syncs the WAL inside COMMIT, while the writer slot is
//! held: every writer queued behind a batch waited out its sync, and the
//! tokio worker running it sat in the syscall. With the writer connection
//! on `synchronous=NORMAL` a COMMIT only writes the WAL frames (NORMAL still
//! syncs the WAL header whenever the WAL starts over, and before and after
//! each checkpoint); this thread then `fdatasync`s the WAL file and only
//! then publishes the batch's outcome. A member's `commit()` therefore still
//! returns only once the frames of its COMMIT are on disk: one sync covers
//! every batch COMMITted before it started, and the writer goes on with the
//! next batch meanwhile.
//!
//! What changes: another request can read a batch's changes between its
//! COMMIT and the sync (as it could once the sync was done); a power cut in
//! between loses them although they were read, never a write that was
//! acknowledged.
//!
//! While a sync runs, a batch whose last member ends its turn with no writer
//! queued is left open rather than COMMITted ([`Handle::defer`]): its
//! members would wait for the next sync either way, and writers arriving
//! meanwhile join it, so batches stay large (fewer COMMITs, fewer WAL
//! frames). This thread COMMITs it as soon as its sync is done, taking the
//! writer slot like any writer, and syncs it next. So an open batch with
//! the slot free has either a queued writer (the module's invariant) or
//! this thread's promise to close it.
//!
//! A failed sync fails its batches, and every batch after it: the kernel
//! may have dropped the pages it could not write, so a later sync that
//! succeeds proves nothing about them, and the WAL behind them may have a
//! hole. Writes fail until the process restarts (and SQLite recovers the
//! WAL); reads go on.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

use tokio::sync::watch;

use super::super::{DbError, DbResult};

/// Where a batch's members wait for its outcome.
pub(super) type Outcome = watch::Sender<Option<DbResult<()>>>;

/// The thread, owned by the database: dropping it COMMITs a batch left open
/// for it, syncs what is waiting and stops the thread.
pub(super) struct Syncer {
    queue: Arc<Queue>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// COMMITs the open batch, if any (taking the writer slot).
pub(super) type CommitOpen = Box<dyn Fn() + Send>;

/// The writer's side: where it hands COMMITted batches.
#[derive(Clone)]
pub(super) struct Handle(Arc<Queue>);

struct Queue {
    state: Mutex<State>,
    wake: Condvar,
    wal: PathBuf,
    /// Tests set it to keep the thread from syncing.
    #[cfg(test)]
    paused: std::sync::atomic::AtomicBool,
    /// Tests set it to make the next sync fail.
    #[cfg(test)]
    fail_next: std::sync::atomic::AtomicBool,
}

#[derive(Default)]
struct State {
    /// COMMITted batches whose frames may not be on disk yet.
    committed: Vec<Outcome>,
    /// The thread is syncing (or COMMITting a deferred batch).
    syncing: bool,
    /// A batch was left open for the thread to COMMIT.
    deferred: bool,
    /// Why writes can no longer be acknowledged.
    failed: Option<String>,
    stop: bool,
    /// Syncs done (tests).
    #[cfg(test)]
    syncs: u64,
}

impl Queue {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Syncer {
    /// The syncer of the WAL of the database at `database` (the path SQLite
    /// resolved, `Connection::path`); [`Syncer::start`] starts its thread.
    pub(super) fn new(database: &str) -> Syncer {
        Syncer {
            queue: Arc::new(Queue {
                state: Mutex::new(State::default()),
                wake: Condvar::new(),
                wal: PathBuf::from(format!("{database}-wal")),
                #[cfg(test)]
                paused: std::sync::atomic::AtomicBool::new(false),
                #[cfg(test)]
                fail_next: std::sync::atomic::AtomicBool::new(false),
            }),
            thread: Mutex::new(None),
        }
    }

    /// Starts the thread; `commit_open` COMMITs a batch left open for it.
    pub(super) fn start(&self, commit_open: CommitOpen) -> DbResult<()> {
        let queue = self.queue.clone();
        let thread = std::thread::Builder::new()
            .name("prickle-wal-sync".into())
            .spawn(move || run(&queue, &commit_open))
            .map_err(|e| DbError::Other(format!("cannot start WAL sync thread: {e}")))?;
        *self.thread.lock().unwrap_or_else(|e| e.into_inner()) = Some(thread);
        Ok(())
    }

    pub(super) fn handle(&self) -> Handle {
        Handle(self.queue.clone())
    }

    #[cfg(test)]
    pub(super) fn queue_for_tests(&self) -> TestQueue<'_> {
        TestQueue(&self.queue)
    }
}

impl Handle {
    /// Whether the batch whose turn ends with no writer queued may stay
    /// open: yes while a sync runs or waits to (this thread then COMMITs it
    /// once that sync is done).
    pub(super) fn defer(&self) -> bool {
        let mut state = self.0.state();
        let busy = state.syncing || !state.committed.is_empty();
        if busy {
            state.deferred = true;
        }
        busy
    }

    /// A batch COMMITted (without syncing): its members hear once a sync
    /// that started after this has succeeded.
    pub(super) fn committed(&self, outcome: Outcome) {
        let mut state = self.0.state();
        if let Some(why) = &state.failed {
            outcome.send_replace(Some(Err(DbError::Other(why.clone()))));
            return;
        }
        state.committed.push(outcome);
        drop(state);
        self.0.wake.notify_one();
    }
}

impl Drop for Syncer {
    /// The database is going away: no writer holds or waits for the slot,
    /// so the thread can COMMIT a batch left open for it before it stops.
    fn drop(&mut self) {
        self.queue.state().stop = true;
        self.queue.wake.notify_all();
        let handle = self
            .thread
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .take();
        if let Some(handle) = handle {
            // The thread syncs what is waiting before it stops.
            let _ = handle.join();
        }
    }
}

fn run(queue: &Queue, commit_open: &CommitOpen) {
    let mut wal: Option<File> = None;
    let mut state = queue.state();
    loop {
        if state.deferred {
            state.deferred = false;
            state.syncing = true;
            drop(state);
            // Hands the batch over with `committed` (or finds it closed).
            commit_open();
            state = queue.state();
            continue;
        }
        if !state.committed.is_empty() {
            let round = std::mem::take(&mut state.committed);
            state.syncing = true;
            drop(state);
            sync_round(queue, &mut wal, round);
            state = queue.state();
            continue;
        }
        state.syncing = false;
        if state.stop {
            return;
        }
        state = queue.wake.wait(state).unwrap_or_else(|e| e.into_inner());
    }
}

/// Syncs the WAL and tells each batch of `round` how it went.
fn sync_round(queue: &Queue, wal: &mut Option<File>, round: Vec<Outcome>) {
    #[cfg(test)]
    while queue.paused.load(std::sync::atomic::Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    let result = sync(wal, &queue.wal);
    #[cfg(test)]
    let result = match queue
        .fail_next
        .swap(false, std::sync::atomic::Ordering::SeqCst)
    {
        true => Err("injected".to_string()),
        false => result,
    };
    let mut state = queue.state();
    #[cfg(test)]
    {
        state.syncs += 1;
    }
    if let Err(e) = &result {
        tracing::error!(error = %e, wal = %queue.wal.display(), "syncing the SQLite WAL failed; writes fail until restart");
        state.failed = Some(format!("syncing the WAL failed: {e}"));
    }
    // Later batches fail too, and the ones waiting now were COMMITted
    // before the failure was known: fail them as well.
    let failed = state.failed.clone();
    drop(state);
    for outcome in round {
        let told = match &failed {
            None => Ok(()),
            Some(why) => Err(DbError::Other(why.clone())),
        };
        outcome.send_replace(Some(told));
    }
}

/// `fdatasync` of the WAL file, opened on first use (the first COMMIT has
/// created it by then), with its directory synced once so that the file
/// itself survives a power cut.
fn sync(wal: &mut Option<File>, path: &Path) -> Result<(), String> {
    if wal.is_none() {
        let file = File::options()
            .write(true)
            .open(path)
            .map_err(|e| format!("cannot open the WAL: {e}"))?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            File::open(dir)
                .and_then(|d| d.sync_all())
                .map_err(|e| format!("cannot sync the WAL's directory: {e}"))?;
        }
        *wal = Some(file);
    }
    let file = wal.as_ref().expect("opened above");
    file.sync_data().map_err(|e| e.to_string())
}

/// The queue as the tests see it.
#[cfg(test)]
pub(super) struct TestQueue<'a>(&'a Queue);

#[cfg(test)]
impl TestQueue<'_> {
    /// Until [`TestQueue::resume`], the thread syncs nothing.
    pub(super) fn pause(&self) {
        self.0
            .paused
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub(super) fn resume(&self) {
        self.0
            .paused
            .store(false, std::sync::atomic::Ordering::SeqCst);
    }

    pub(super) fn fail_next(&self) {
        self.0
            .fail_next
            .store(true, std::sync::atomic::Ordering::SeqCst);
    }

    pub(super) fn syncs(&self) -> u64 {
        self.0.state().syncs
    }

    /// Waits until the thread has nothing to do (the setup's writes synced).
    pub(super) fn wait_idle(&self) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let state = self.0.state();
            if !state.syncing && !state.deferred && state.committed.is_empty() {
                return;
            }
            drop(state);
            assert!(std::time::Instant::now() < deadline, "syncer never idle");
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}
