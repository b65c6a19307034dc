//! PostgreSQL's commit generation: the WAL insert position, read in rounds
//! that every request waiting at the time shares, so a process can keep
//! rendered answers (`http::rendered`) without a round trip of each
//! request's own.
//!
//! Every commit that changes a row inserts its commit record into the WAL
//! before anyone can see the change, so while the insert position has not
//! moved nothing has been committed. An answer rendered from what was read
//! after a round that found position `p` is current for every request
//! whose own round finds `p` again.
//!
//! A request joins the next round that starts after it asked (`current`):
//! the round's answer is never older than the request. The same round reads
//! the grants epoch, so a request answered from the authorization cache
//! needs no statement of its own to check it (`grants::expect`).
//!
//! The rounds run on a connection of their own: requests waiting for a
//! round hold pool connections, and a round must never wait for one. While
//! that connection cannot be had, or the position cannot be read (a
//! standby, a role without the right), nothing is kept: every request
//! queries, as without this.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, Statement};

use super::grants;
use super::pg::{classify, to_pg};
use super::pg_tls::Tls;
use super::{DbError, DbResult};

/// Longest a round may take before its waiters go on without it.
const ROUND_TIMEOUT: Duration = Duration::from_secs(5);

/// What one round read: the WAL insert position and the grants epoch.
pub type Round = (u64, i64);

type Waiter = oneshot::Sender<Option<Round>>;

/// The rounds' queue, fed by requests and drained by [`start`]'s task.
pub struct Rounds {
    queue: mpsc::UnboundedSender<Waiter>,
    /// False while the rounds' connection is down: nobody waits then.
    up: Arc<AtomicBool>,
}

impl Rounds {
    /// The next round's answer; `None` when there is none to be had.
    pub async fn current(&self) -> Option<Round> {
        if !self.up.load(Ordering::Acquire) {
            return None;
        }
        let (tx, rx) = oneshot::channel();
        self.queue.send(tx).ok()?;
        rx.await.ok().flatten()
    }
}

/// Starts the rounds' task on the current runtime.
pub(super) fn start(config: tokio_postgres::Config, tls: Tls) -> Rounds {
    let (queue, mut waiting) = mpsc::unbounded_channel::<Waiter>();
    let up = Arc::new(AtomicBool::new(false));
    let task_up = up.clone();
    tokio::spawn(async move {
        let mut batch: Vec<Waiter> = Vec::new();
        loop {
            let (client, stmt) = match connect(&config, &tls).await {
                Ok(ready) => ready,
                Err(e) => {
                    tracing::warn!(error = %e, "commit rounds: cannot connect; rendered answers are not kept meanwhile");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            task_up.store(true, Ordering::Release);
            loop {
                // Everyone queued now: each asked before this round's read.
                if waiting.recv_many(&mut batch, usize::MAX).await == 0 {
                    return;
                }
                // A connection that stops answering must not hold its
                // waiters: they go on without a round, and it is replaced.
                let answer = tokio::time::timeout(ROUND_TIMEOUT, read(&client, &stmt))
                    .await
                    .unwrap_or_else(|_| Err(DbError::Other("no answer in time".into())));
                let round = answer.as_ref().ok().copied();
                for w in batch.drain(..) {
                    let _ = w.send(round);
                }
                if let Err(e) = answer {
                    tracing::warn!(error = %e, "commit rounds: cannot read the WAL position; rendered answers are not kept meanwhile");
                    break;
                }
            }
            task_up.store(false, Ordering::Release);
            // Whoever queued meanwhile is told there is no round.
            while let Ok(w) = waiting.try_recv() {
                let _ = w.send(None);
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    });
    Rounds { queue, up }
}

/// The rounds' connection (operators see it as `prickle-rounds` in
/// `pg_stat_activity`) and its one statement, prepared.
async fn connect(config: &tokio_postgres::Config, tls: &Tls) -> DbResult<(Client, Statement)> {
    let mut config = config.clone();
    config.application_name("prickle-rounds");
    let connector = tls.connector().map_err(DbError::Other)?;
    let (client, connection) = config.connect(connector).await.map_err(classify)?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let (sql, _) = grants::READ_WITH_WAL_POSITION.build(true, &());
    let stmt = client.prepare(sql).await.map_err(classify)?;
    Ok((client, stmt))
}

async fn read(client: &Client, stmt: &Statement) -> DbResult<Round> {
    let (_, values) = grants::READ_WITH_WAL_POSITION.build(true, &());
    let params = to_pg(&values)?;
    let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
    let row = client.query_one(stmt, &refs).await.map_err(classify)?;
    let epoch: i64 = row.try_get(0).map_err(classify)?;
    let position: i64 = row.try_get(1).map_err(classify)?;
    Ok((position as u64, epoch))
}
