//! `/_ready` when PostgreSQL stops answering for the server: it holds the
//! probe's statement behind a lock, or the database is dropped under it
//! (`DROP DATABASE ... WITH (FORCE)` closes its connections and refuses new
//! ones). The probe answers 503 within its bound, never hangs; `/_health`,
//! the liveness check, stays 200.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::processes::{client, Server};

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let (server, _) = base.rsplit_once('/').expect("database in the URL");
    format!("{server}/{name}{query}")
}

pub async fn an_unreachable_database_is_503_within_a_bound(url: String) {
    let (admin, conn) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(conn);
    let name = format!(
        "prickle_ready_{}_{}",
        std::process::id(),
        prickle::auth::keys::random_token(6).to_lowercase()
    );
    admin
        .batch_execute(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create database");
    let server = Server::start(&with_database(&url, &name)).await;
    let http = client();
    let r = http.get(server.url("/_ready")).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", server.log_text());
    let bound = prickle::api::READY_TIMEOUT + Duration::from_secs(3);

    // A database that holds the check's statement without answering: 503
    // once the probe's bound has passed, not a hang.
    let (locker, conn) =
        tokio_postgres::connect(&with_database(&url, &name), tokio_postgres::NoTls)
            .await
            .expect("connect");
    tokio::spawn(conn);
    locker
        .batch_execute("BEGIN; LOCK TABLE prickle_migrations IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let asked = Instant::now();
    let r = http.get(server.url("/_ready")).send().await.unwrap();
    let took = asked.elapsed();
    assert_eq!(r.status(), 503, "{}", server.log_text());
    assert!(took >= prickle::api::READY_TIMEOUT, "{took:?}");
    assert!(took < bound, "/_ready took {took:?}");
    locker.batch_execute("ROLLBACK").await.expect("unlock");
    let r = http.get(server.url("/_ready")).send().await.unwrap();
    assert_eq!(r.status(), 200, "{}", server.log_text());

    admin
        .batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .expect("drop database");
    for _ in 0..3 {
        let asked = Instant::now();
        let r = http.get(server.url("/_ready")).send().await.unwrap();
        let took = asked.elapsed();
        assert_eq!(r.status(), 503, "{}", server.log_text());
        assert!(took < bound, "/_ready took {took:?}");
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(
            r.json::<Value>().await.unwrap(),
            json!({
                "type": "server_error",
                "code": "not_ready",
                "detail": "The server is not ready to serve requests.",
                "attr": null
            })
        );
    }
    let r = http.get(server.url("/_health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
}
