//! PostgreSQL only: a process learns of a change through its grants
//! listener (`LISTEN prickle_grants`) and, when that is late or gone,
//! through the epoch its request's first statement checks. Both ways are
//! raced here: the listener connection terminated by the server, and the
//! notifications held back on their way to it (the listener still up, so
//! only the epoch check stands between the cache and a stale answer).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use super::{
    from_ok_to, level_1_to_8, race, raise_to_admin, remove_member, setup, setup_on, Setup, PATIENCE,
};
use crate::common;
use crate::processes::suite_database;

/// PostgreSQL: each process's grants listener is terminated by the
/// server, then a change is made at once (before or while the processes
/// notice and reconnect), then another once both listen again. Neither
/// change is ever served stale.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lost_listener_never_serves_a_stale_grant() {
    let Some(server_url) = common::postgres_url() else {
        return;
    };
    let s = setup().await;
    let (pg, conn) = tokio_postgres::connect(&server_url, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(conn);
    let paths = s.project_paths();

    // Warm, with both listening; the listeners are terminated and the
    // level changed at once (the processes may or may not have noticed).
    let old = both_listening(&pg, &s, &HashSet::new()).await;
    let change = async {
        let pids: Vec<i32> = old.iter().map(|(_, pid)| *pid).collect();
        let rows = pg
            .query(
                "SELECT pid FROM pg_stat_activity \
                 WHERE application_name = 'prickle-grants' AND pid = ANY($1) \
                 AND pg_terminate_backend(pid)",
                &[&pids],
            )
            .await
            .expect("terminate the listeners");
        raise_to_admin(&s).await;
        rows.iter().map(|r| r.get(0)).collect::<HashSet<i32>>()
    };
    let lost = "level, listeners lost";
    let terminated = race(lost, &s, &s.member_key, &paths, level_1_to_8(), change).await;
    for process in ["A", "B"] {
        assert!(
            old.iter()
                .any(|(p, pid)| *p == process && terminated.contains(pid)),
            "no listener of process {process} terminated: {old:?}, {terminated:?}"
        );
    }

    // Both listen again (new connections), and their caches serve again
    // only what is current.
    both_listening(&pg, &s, &terminated).await;
    // (An admin sees every project: a rule would not hide it; removal does.)
    let back = "removal, listeners back";
    let change = remove_member(&s);
    race(back, &s, &s.member_key, &paths, from_ok_to(404), change).await;
}

/// The listeners up, but what they receive held back: the change's
/// notification reaches neither process before the streams' next requests,
/// each of which must still get the new answer (the request's first
/// statement finds the epoch moved and it is answered again).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_late_notification_never_serves_a_stale_grant() {
    if common::postgres_url().is_none() {
        return;
    }
    let (url, dir) = suite_database().await;
    let relay = Relay::start(&url).await;
    let s = setup_on(relay.url(&url), dir).await;
    relay.wait_for_listeners(2).await;
    let paths = s.project_paths();
    let change = async {
        relay.hold.store(true, Ordering::SeqCst);
        raise_to_admin(&s).await;
    };
    race(
        "level, notifications held",
        &s,
        &s.member_key,
        &paths,
        level_1_to_8(),
        change,
    )
    .await;
    relay.hold.store(false, Ordering::SeqCst);
    let change = remove_member(&s);
    race(
        "removal, notifications released",
        &s,
        &s.member_key,
        &paths,
        from_ok_to(404),
        change,
    )
    .await;
}

/// A TCP relay in front of PostgreSQL that can hold back what the
/// servers' grants listeners receive (told apart by the
/// `application_name` in their startup message), leaving every other
/// connection alone.
struct Relay {
    port: u16,
    upstream: String,
    /// While set, nothing is passed on to a listener connection.
    hold: Arc<AtomicBool>,
    /// Listener connections seen.
    listeners: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Relay {
    async fn start(database_url: &str) -> Relay {
        let (start, end) = authority(database_url);
        let upstream = database_url[start..end].to_string();
        let socket = TcpListener::bind("127.0.0.1:0").await.expect("relay port");
        let port = socket.local_addr().expect("relay address").port();
        let hold = Arc::new(AtomicBool::new(false));
        let listeners = Arc::new(AtomicUsize::new(0));
        let (to, held, seen) = (upstream.clone(), hold.clone(), listeners.clone());
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = socket.accept().await {
                if let Ok(server) = TcpStream::connect(&to).await {
                    tokio::spawn(relay(client, server, held.clone(), seen.clone()));
                }
            }
        });
        Relay {
            port,
            upstream,
            hold,
            listeners,
            task,
        }
    }

    /// `database_url` through the relay, in clear (the relay reads the
    /// startup message).
    fn url(&self, database_url: &str) -> String {
        let url = database_url.replacen(&self.upstream, &format!("127.0.0.1:{}", self.port), 1);
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}sslmode=disable")
    }

    async fn wait_for_listeners(&self, n: usize) {
        let deadline = Instant::now() + PATIENCE;
        while self.listeners.load(Ordering::SeqCst) < n {
            assert!(
                Instant::now() < deadline,
                "fewer than {n} listeners through the relay"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Relay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// `host:port` in a `postgres://[user@]host:port/...` URL, as a range.
fn authority(url: &str) -> (usize, usize) {
    let scheme = url.find("://").expect("a URL") + 3;
    let end = scheme + url[scheme..].find('/').expect("a database");
    let start = url[scheme..end]
        .rfind('@')
        .map_or(scheme, |at| scheme + at + 1);
    (start, end)
}

/// One connection, both ways, until either side closes.
async fn relay(
    client: TcpStream,
    server: TcpStream,
    hold: Arc<AtomicBool>,
    seen: Arc<AtomicUsize>,
) {
    let (mut from_client, mut to_client) = client.into_split();
    let (mut from_server, mut to_server) = server.into_split();
    let is_listener = Arc::new(AtomicBool::new(false));
    let up = {
        let is_listener = is_listener.clone();
        async move {
            let name = prickle::storage::grants::LISTENER_NAME.as_bytes();
            // The startup message (after any SSL request) names the connection.
            let mut start = Vec::new();
            let mut buf = vec![0; 8192];
            loop {
                let n = from_client.read(&mut buf).await?;
                if n == 0 {
                    return to_server.shutdown().await;
                }
                if start.len() < 4096 {
                    start.extend_from_slice(&buf[..n]);
                    if start.windows(name.len()).any(|w| w == name)
                        && !is_listener.swap(true, Ordering::SeqCst)
                    {
                        seen.fetch_add(1, Ordering::SeqCst);
                    }
                }
                to_server.write_all(&buf[..n]).await?;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0; 8192];
        loop {
            let n = from_server.read(&mut buf).await?;
            if n == 0 {
                return to_client.shutdown().await;
            }
            while is_listener.load(Ordering::SeqCst) && hold.load(Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
            to_client.write_all(&buf[..n]).await?;
        }
    };
    let _: std::io::Result<()> = tokio::select! {
        r = up => r,
        r = down => r,
    };
}

/// Waits until A and B each have a grants listener other than `gone`;
/// returns them.
async fn both_listening(
    pg: &tokio_postgres::Client,
    s: &Setup,
    gone: &HashSet<i32>,
) -> Vec<(&'static str, i32)> {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let found: Vec<_> = listeners(pg, s)
            .await
            .into_iter()
            .filter(|(_, pid)| !gone.contains(pid))
            .collect();
        if ["A", "B"].iter().all(|p| found.iter().any(|(q, _)| q == p)) {
            return found;
        }
        assert!(
            Instant::now() < deadline,
            "not both listening after {PATIENCE:?}: {found:?}\nA:\n{}\nB:\n{}",
            s.a.log_text(),
            s.b.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The grants listeners of A and B: (process, backend pid), told apart by
/// the client port each process holds.
async fn listeners(pg: &tokio_postgres::Client, s: &Setup) -> Vec<(&'static str, i32)> {
    let rows = pg
        .query(
            "SELECT pid, client_port FROM pg_stat_activity \
             WHERE application_name = 'prickle-grants'",
            &[],
        )
        .await
        .expect("pg_stat_activity");
    let (on_a, on_b) = (local_ports(s.a.pid()), local_ports(s.b.pid()));
    rows.iter()
        .filter_map(|r| {
            let (pid, port): (i32, Option<i32>) = (r.get(0), r.get(1));
            let port = u16::try_from(port?).ok()?;
            if on_a.contains(&port) {
                Some(("A", pid))
            } else if on_b.contains(&port) {
                Some(("B", pid))
            } else {
                None
            }
        })
        .collect()
}

/// The local TCP ports of a process's sockets (Linux: its descriptors'
/// socket inodes, looked up in the TCP tables).
fn local_ports(pid: u32) -> HashSet<u16> {
    let inodes: HashSet<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .expect("a running server's descriptors")
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|link| {
            let link = link.to_string_lossy().into_owned();
            Some(
                link.strip_prefix("socket:[")?
                    .strip_suffix(']')?
                    .to_string(),
            )
        })
        .collect();
    let mut ports = HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let text = std::fs::read_to_string(table).unwrap_or_default();
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(inode)) = (fields.get(1), fields.get(9)) else {
                continue;
            };
            if !inodes.contains(*inode) {
                continue;
            }
            let port = local.rsplit(':').next().unwrap_or_default();
            if let Ok(port) = u16::from_str_radix(port, 16) {
                ports.insert(port);
            }
        }
    }
    ports
}
