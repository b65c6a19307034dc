//! `/_ready`: 200 while the database answers with every migration applied;
//! 503 with `Retry-After` while a migration is missing, while the server
//! drains after SIGTERM (before connections close), and (`tests/services`)
//! while PostgreSQL is unreachable. `/_health` stays the liveness check.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use prickle::config::Config;
use prickle::http::App;
use prickle::storage::migrations::MIGRATIONS;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;

use crate::processes::{client, owner_with_key, suite_database, Server};
use crate::support::{TestApp, SITE};

/// PostHog's error body for every `/_ready` refusal.
pub(crate) fn not_ready() -> Value {
    json!({
        "type": "server_error",
        "code": "not_ready",
        "detail": "The server is not ready to serve requests.",
        "attr": null
    })
}

/// (status, `Retry-After`, body) of a GET.
async fn get(router: &Router, path: &str) -> (StatusCode, Option<String>, Value) {
    let req = Request::get(path).body(Body::empty()).unwrap();
    let r = router.clone().oneshot(req).await.unwrap();
    let status = r.status();
    let retry = r
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, retry, body)
}

#[tokio::test]
async fn ready_once_every_migration_is_applied() {
    let app = TestApp::new().await;
    for path in ["/_ready", "/_ready/"] {
        let (status, retry, body) = get(&app.router, path).await;
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(retry, None);
        assert_eq!(body, json!({"status": "ready"}));
    }
}

#[tokio::test]
async fn a_missing_migration_is_503() {
    let last = MIGRATIONS.last().unwrap().version;
    let app = TestApp::at_version(last - 1).await;
    let (status, retry, body) = get(&app.router, "/_ready").await;
    assert_eq!(status, 503);
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(body, not_ready());
    // Liveness says nothing of the schema.
    assert_eq!(get(&app.router, "/_health").await.0, 200);
    // Once migrated, ready.
    prickle::storage::migrations::run(&app.db, prickle::time::now_micros)
        .await
        .unwrap();
    assert_eq!(get(&app.router, "/_ready").await.0, 200);
}

#[tokio::test]
async fn draining_is_503_while_health_stays_200() {
    let db = TestApp::new().await;
    let app = App::new(db.db.clone(), Config::new(SITE, 2000, Some("test-secret")));
    let draining = app.draining.clone();
    let router = prickle::api::router(app);
    assert_eq!(get(&router, "/_ready").await.0, 200);
    draining.store(true, Ordering::Relaxed);
    let (status, retry, body) = get(&router, "/_ready").await;
    assert_eq!(status, 503);
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(body, not_ready());
    assert_eq!(get(&router, "/_health").await.0, 200);
}

/// Reads a whole `Connection: close` response; returns its status and body.
async fn read_response(stream: &mut tokio::net::TcpStream) -> (u16, String) {
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut raw))
        .await
        .expect("response within 30 s")
        .expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {text:?}"));
    let body = text
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

#[tokio::test]
async fn sigterm_flips_readiness_before_the_drain_and_the_request_in_flight_completes() {
    let (database_url, _dir) = suite_database().await;
    let (org, key) = owner_with_key(&database_url, "ada@example.com");
    let mut server =
        Server::start_serving(&database_url, &["--shutdown-delay-seconds", "5"], &[]).await;
    let http = client();
    let r = http.get(server.url("/_ready")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // A slow request: its headers and half its body are in when SIGTERM comes.
    let body = br#"{"name": "Sent during the drain"}"#;
    let (first, rest) = body.split_at(body.len() / 2);
    let addr = server.url("").trim_start_matches("http://").to_string();
    let mut slow = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /api/organizations/{org}/projects/ HTTP/1.1\r\nHost: prickle\r\n\
         Authorization: Bearer {key}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(first).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;

    let signalled = Instant::now();
    server.send_signal("-TERM");
    // New connections are still accepted: readiness answers 503 (never
    // anything but 200 before the flip), liveness 200.
    let r = loop {
        let r = http
            .get(server.url("/_ready"))
            .send()
            .await
            .unwrap_or_else(|e| panic!("/_ready refused during the delay: {e}"));
        if r.status() == 503 {
            break r;
        }
        assert_eq!(r.status(), 200);
        assert!(
            signalled.elapsed() < Duration::from_secs(3),
            "/_ready still 200 after SIGTERM:\n{}",
            server.log_text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(r.headers()[header::RETRY_AFTER], "1");
    assert_eq!(r.json::<Value>().await.unwrap(), not_ready());
    let r = http.get(server.url("/_health")).send().await.unwrap();
    assert_eq!(r.status(), 200);

    // The request in flight completes.
    slow.write_all(rest).await.unwrap();
    let (status, answer) = read_response(&mut slow).await;
    assert_eq!(status, 201, "{answer}");
    assert!(answer.contains("Sent during the drain"), "{answer}");

    let status = server.wait_exit("-TERM").await;
    assert_eq!(status.code(), Some(0), "{}", server.log_text());
    // The delay was served before the drain, not cut short.
    assert!(signalled.elapsed() >= Duration::from_secs(5));
    let log = server.log_text();
    assert!(log.contains("/_ready answers 503"), "{log}");
}
