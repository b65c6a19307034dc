//! What both test targets (`api`, `services`) share without the rest of
//! `support`: a database for a test, PostHog's fixed bodies.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};

/// Where PostgreSQL tests go when the suite runs against it.
pub fn postgres_url() -> Option<String> {
    std::env::var("PRICKLE_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
}

static SCHEMA_SEQ: AtomicU64 = AtomicU64::new(0);

/// A fresh, empty schema on the PostgreSQL server at `url`; returns a URL
/// whose connections use it.
pub async fn fresh_postgres_schema(url: &str) -> String {
    let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL unreachable at {url}: {e}"));
    tokio::spawn(conn);
    let schema = format!(
        "t_{}_{}_{}",
        std::process::id(),
        SCHEMA_SEQ.fetch_add(1, Ordering::Relaxed),
        prickle::auth::keys::random_token(6).to_lowercase()
    );
    client
        .batch_execute(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create schema");
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}options=-c%20search_path%3D{schema}")
}

/// PostHog's 429 body for a wait of `seconds`.
pub fn throttled(seconds: u64) -> Value {
    let unit = if seconds == 1 { "second" } else { "seconds" };
    json!({
        "type": "throttled_error",
        "code": "throttled",
        "detail": format!("Request was throttled. Expected available in {seconds} {unit}."),
        "attr": null
    })
}
