//! `GET /metrics`: what an operator scrapes, in Prometheus's text format
//! (0.0.4). Counting is atomic adds where each thing happens (the request's
//! log line, connection admission, the rate limits, the database); the text
//! is only rendered on a scrape. The names are fixed (issue 17).

pub mod histogram;
pub mod http;
pub mod shards;

use std::fmt::Write;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::OnceLock;

pub use histogram::Histogram;
pub use http::HttpTable;
pub use shards::ShardedCounter;

use crate::http::App;
use crate::storage::DbGauges;

/// Where the scrape is served.
pub const PATH: &str = "/metrics";

/// The scrape's `Content-Type`.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The counters of one server, shared through [`App`].
#[derive(Default)]
pub struct Metrics {
    /// Built from the declared routes with the router (`Routes::into_router`).
    pub http: OnceLock<HttpTable>,
    /// Counted by every request, so in shards.
    pub in_flight: ShardedCounter,
    pub connections: Connections,
}

/// Connection admission (`server/admission.rs`).
#[derive(Default)]
pub struct Connections {
    pub open: AtomicI64,
    pub refused_max_connections: AtomicU64,
    pub refused_max_connections_per_address: AtomicU64,
}

/// One request in flight; dropping it (the response made, or the request
/// abandoned) counts it out.
pub struct InFlight<'a>(&'a ShardedCounter);

impl Metrics {
    pub fn start_request(&self) -> InFlight<'_> {
        self.in_flight.add(1);
        InFlight(&self.in_flight)
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.add(-1);
    }
}

/// `SQLite`'s group-commit batch sizes' buckets.
pub const BATCH_SIZE_BUCKETS: &[u64] = &[1, 2, 4, 8, 16, 32, 64];

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn single(out: &mut String, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
    family(out, name, kind, help);
    let _ = writeln!(out, "{name} {value}");
}

/// The whole scrape.
pub fn render(app: &App) -> String {
    let m = &app.metrics;
    let mut out = String::with_capacity(16 << 10);
    if let Some(table) = m.http.get() {
        table.render(&mut out);
    }
    let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
    single(
        &mut out,
        "prickle_http_requests_in_flight",
        "gauge",
        "HTTP requests being handled.",
        m.in_flight.get(),
    );
    let c = &m.connections;
    single(
        &mut out,
        "prickle_connections_open",
        "gauge",
        "Client connections open.",
        c.open.load(Ordering::Relaxed),
    );
    family(
        &mut out,
        "prickle_connections_refused_total",
        "counter",
        "Connections closed unread by the connection limits.",
    );
    for (reason, n) in [
        ("max_connections", &c.refused_max_connections),
        (
            "max_connections_per_address",
            &c.refused_max_connections_per_address,
        ),
    ] {
        let _ = writeln!(
            out,
            "prickle_connections_refused_total{{reason=\"{reason}\"}} {}",
            load(n)
        );
    }
    single(
        &mut out,
        "prickle_rate_limited_total",
        "counter",
        "Requests refused with 429 by the rate limits.",
        app.rate_limiter.refused(),
    );
    let (hits, misses, entries) = app.auth_cache.counts();
    single(
        &mut out,
        "prickle_auth_cache_hits_total",
        "counter",
        "Authorization lookups answered from the per-process cache.",
        hits,
    );
    single(
        &mut out,
        "prickle_auth_cache_misses_total",
        "counter",
        "Authorization lookups the cache could not answer (read from the database).",
        misses,
    );
    single(
        &mut out,
        "prickle_auth_cache_entries",
        "gauge",
        "Entries held by the authorization cache.",
        entries,
    );
    match app.db.gauges() {
        DbGauges::Sqlite {
            writers_queued,
            commit_batches,
        } => {
            single(
                &mut out,
                "prickle_sqlite_writer_queue_length",
                "gauge",
                "Write transactions waiting for SQLite's writer.",
                writers_queued,
            );
            family(
                &mut out,
                "prickle_sqlite_commit_batch_size",
                "histogram",
                "Write transactions per SQLite COMMIT (group commit).",
            );
            commit_batches.render(&mut out, "prickle_sqlite_commit_batch_size", "", 1.0);
        }
        DbGauges::Postgres {
            size,
            available,
            waits,
        } => {
            single(
                &mut out,
                "prickle_db_pool_size",
                "gauge",
                "PostgreSQL connections in the pool.",
                size,
            );
            single(
                &mut out,
                "prickle_db_pool_available",
                "gauge",
                "PostgreSQL connections idle in the pool.",
                available,
            );
            single(
                &mut out,
                "prickle_db_pool_waits_total",
                "counter",
                "Times a request found no idle PostgreSQL connection and waited.",
                waits,
            );
        }
    }
    let process = process::sample();
    single(
        &mut out,
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
        process.resident_bytes,
    );
    single(
        &mut out,
        "process_open_fds",
        "gauge",
        "Open file descriptors.",
        process.open_fds,
    );
    family(
        &mut out,
        "prickle_build_info",
        "gauge",
        "The running build; always 1.",
    );
    let _ = writeln!(
        out,
        "prickle_build_info{{version=\"{}\"}} 1",
        env!("CARGO_PKG_VERSION")
    );
    out
}

mod process {
    /// What `/proc` tells of this process (zero elsewhere).
    pub struct Sample {
        pub resident_bytes: u64,
        pub open_fds: u64,
    }

    #[cfg(target_os = "linux")]
    pub fn sample() -> Sample {
        // statm: size resident shared ... in pages.
        let pages = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
            .unwrap_or(0);
        // SAFETY: sysconf only reads a constant of the system.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page = u64::try_from(page).unwrap_or(4096);
        let open_fds = std::fs::read_dir("/proc/self/fd")
            .map(|d| d.count() as u64)
            .unwrap_or(0);
        Sample {
            resident_bytes: pages * page,
            open_fds,
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub fn sample() -> Sample {
        Sample {
            resident_bytes: 0,
            open_fds: 0,
        }
    }
}
