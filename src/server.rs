//! `prickle serve`: migrate, listen, serve within the connection limits, and
//! drain on SIGTERM/SIGINT.

mod admission;
mod body;
mod connection;

pub use admission::raise_fd_limit;

use std::future::Future;
use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch, Semaphore};

use crate::api::router;
use crate::config::{Config, ServeArgs};
use crate::http::client::TrustedProxies;
use crate::http::App;
use crate::metrics::Metrics;
use crate::storage::{redact_url, Db};

/// What a client may take or hold (see `server/connection.rs`).
#[derive(Clone, Debug)]
pub struct Limits {
    /// To send a request's headers, from their first byte (from the
    /// connection's opening for its first request).
    pub header_read_timeout: Duration,
    /// To send a request's body, once its headers are in (then 408).
    pub body_read_timeout: Duration,
    /// An idle connection (no request in hand, nothing sent or received) is
    /// closed after this long.
    pub keep_alive_timeout: Duration,
    /// Requests handled at once (each with its head and body in); beyond,
    /// 503 with `Retry-After`.
    pub max_in_flight_requests: usize,
    /// Connections open at once; beyond, new ones are closed at once.
    pub max_connections: usize,
    /// Connections open at once from one client address (trusted proxies
    /// count only towards `max_connections`).
    pub max_connections_per_address: usize,
    /// What bodies being read may hold in memory beyond their first 16 KiB
    /// each (`server/body.rs`).
    pub max_body_buffer_bytes: usize,
    /// Whose `X-Forwarded-For` names the client.
    pub trusted_proxies: TrustedProxies,
}

impl Default for Limits {
    /// The defaults of `prickle serve`.
    fn default() -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(30),
            keep_alive_timeout: Duration::from_secs(75),
            max_in_flight_requests: 512,
            max_connections: 4096,
            max_connections_per_address: 256,
            max_body_buffer_bytes: 64 << 20,
            trusted_proxies: TrustedProxies::none(),
        }
    }
}

fn to_usize(n: u64) -> usize {
    usize::try_from(n).unwrap_or(usize::MAX)
}

impl Limits {
    pub fn from_serve_args(args: &ServeArgs) -> Limits {
        Limits {
            header_read_timeout: Duration::from_secs(args.header_read_timeout_seconds),
            body_read_timeout: Duration::from_secs(args.body_read_timeout_seconds),
            keep_alive_timeout: Duration::from_secs(args.keep_alive_timeout_seconds),
            max_in_flight_requests: to_usize(args.max_in_flight_requests),
            max_connections: to_usize(args.max_connections),
            max_connections_per_address: to_usize(args.max_connections_per_address),
            max_body_buffer_bytes: to_usize(args.max_body_buffer_mib).saturating_mul(1 << 20),
            trusted_proxies: args.trusted_proxies.clone(),
        }
    }
}

pub async fn serve(args: ServeArgs) -> Result<(), String> {
    let url = &args.database.database_url;
    let db = Db::connect_with(url, args.database.options())
        .await
        .map_err(|e| format!("cannot open {}: {e}", redact_url(url)))?;
    db.migrate()
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    let listener = TcpListener::bind(&args.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let metrics_listener = match &args.metrics_bind {
        Some(bind) => Some(
            TcpListener::bind(bind)
                .await
                .map_err(|e| format!("cannot listen on {bind} (metrics): {e}"))?,
        ),
        None => None,
    };
    let app = App::new(db, Config::from_serve_args(&args));
    let draining = app.draining.clone();
    tracing::info!(%addr, "listening on http://{addr}");
    let mut limits = Limits::from_serve_args(&args);
    limits.max_connections = admission::within_fd_limit(limits.max_connections);

    // The main router first: it builds the request counters' table, which
    // the metrics listener's router shares.
    let main_router = router(app.clone());
    if let Some(listener) = metrics_listener {
        let addr = listener.local_addr().map_err(|e| e.to_string())?;
        tracing::info!(%addr, "metrics on http://{addr}/metrics");
        // Its connections are not the clients': counted apart, not shown.
        let own = Arc::new(Metrics::default());
        let metrics_router = crate::api::metrics_router(app.clone());
        // Ends with the process.
        tokio::spawn(run(
            listener,
            metrics_router,
            Limits::default(),
            own,
            std::future::pending(),
        ));
    }
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(run(
        listener,
        main_router,
        limits,
        app.metrics.clone(),
        async {
            let _ = stop_rx.await;
        },
    ));
    shutdown_signal().await;
    // Readiness flips first, while connections are still accepted.
    draining.store(true, Ordering::Relaxed);
    if args.shutdown_delay_seconds > 0 {
        tracing::info!(
            seconds = args.shutdown_delay_seconds,
            "stop signal: /_ready answers 503; serving on before draining"
        );
        // A second signal cuts the delay short.
        tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(args.shutdown_delay_seconds)) => {}
            () = shutdown_signal() => {}
        }
    }
    tracing::info!("shutting down: draining in-flight requests");
    let _ = stop_tx.send(());
    match tokio::time::timeout(Duration::from_secs(args.shutdown_grace_seconds), server).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("server task failed: {e}")),
        Err(_) => {
            // Every acknowledged write is already committed; what is still
            // running is abandoned and rolls back.
            tracing::warn!("shutdown deadline passed with requests in flight");
            Ok(())
        }
    }
}

/// Serves `router` on `listener` within `limits` until `shutdown` completes;
/// then stops accepting, lets the requests in hand finish, closes idle
/// connections, and returns once every connection is closed. `prickle serve`
/// and the slow-client tests run this.
pub async fn run(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    metrics: Arc<Metrics>,
    shutdown: impl Future<Output = ()> + Send,
) {
    let permits = limits
        .max_in_flight_requests
        .clamp(1, Semaphore::MAX_PERMITS);
    let admission = Arc::new(admission::Admission::new(&limits, metrics));
    let shared = Arc::new(connection::Shared {
        router,
        in_flight: Arc::new(Semaphore::new(permits)),
        body_budget: body::BodyBudget::new(limits.max_body_buffer_bytes),
        limits,
    });
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every connection holds a sender: `recv` sees the channel close once
    // the last one is gone.
    let (open_tx, mut open_rx) = mpsc::channel::<()>(1);
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                accept_failed(e).await;
                continue;
            }
        };
        // Beyond the limits the connection is closed before a byte is read.
        let Some(slot) = admission.admit(peer.ip()) else {
            drop(stream);
            continue;
        };
        // Each response goes out in one write; don't hold it back.
        let _ = stream.set_nodelay(true);
        let (shared, stop_rx, open_tx) = (shared.clone(), stop_rx.clone(), open_tx.clone());
        tokio::spawn(async move {
            let _slot = slot;
            connection::serve(stream, peer.ip(), shared, stop_rx, open_tx).await;
        });
    }
    drop(listener);
    let _ = stop_tx.send(true);
    drop(open_tx);
    let _ = open_rx.recv().await;
}

async fn accept_failed(e: io::Error) {
    if matches!(
        e.kind(),
        io::ErrorKind::ConnectionRefused
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
    ) {
        return;
    }
    // Out of file descriptors, most likely: give connections time to close.
    tracing::error!(error = %e, "accept failed");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}
