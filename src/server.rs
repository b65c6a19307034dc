//! `prickle serve`: migrate, listen, and drain on SIGTERM/SIGINT.

use std::time::Duration;

use tokio::net::TcpListener;

use crate::api::router;
use crate::config::{Config, ServeArgs};
use crate::http::App;
use crate::storage::{redact_url, Db};

pub async fn serve(args: ServeArgs) -> Result<(), String> {
    let db = Db::connect(&args.database.database_url)
        .await
        .map_err(|e| {
            format!(
                "cannot open {}: {e}",
                redact_url(&args.database.database_url)
            )
        })?;
    db.migrate()
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    let listener = TcpListener::bind(&args.bind)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.bind))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let app = App::new(db, Config::from_serve_args(&args));
    tracing::info!(%addr, "listening on http://{addr}");

    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        axum::serve(listener, router(app))
            .with_graceful_shutdown(async {
                let _ = stop_rx.await;
            })
            .await
    });
    shutdown_signal().await;
    tracing::info!("shutting down: draining in-flight requests");
    let _ = stop_tx.send(());
    match tokio::time::timeout(Duration::from_secs(args.shutdown_grace_seconds), server).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(format!("server error: {e}")),
        Ok(Err(e)) => Err(format!("server task failed: {e}")),
        Err(_) => {
            // Every acknowledged write is already committed; what is still
            // running is abandoned and rolls back.
            tracing::warn!("shutdown deadline passed with requests in flight");
            Ok(())
        }
    }
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
