//! Rate limits as PostHog's, behind `RATE_LIMIT_ENABLED`: per key, per
//! address for anonymous callers (the address a trusted proxy names), in one
//! process and across processes sharing Redis; Redis unreachable fails open.

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request};
use http_body_util::BodyExt;
use prickle::config::Config;
use prickle::rate_limit::{Rate, RateLimitSettings};
use prickle::server::Limits;
use serde_json::{json, Value};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tower::ServiceExt;

use crate::processes::{self, client, Server};
use crate::slow_clients::{read_response, relaxed, serve};
use crate::support::{throttled, TestApp, World, SITE};

async fn world_with(settings: RateLimitSettings) -> World {
    let config = Config::new(SITE, 2000, Some("test-secret")).with_rate_limits(settings);
    World::with_app(TestApp::with_config(config).await).await
}

/// One GET through the router: status, `Retry-After`, body.
async fn get(w: &World, path: &str, key: Option<&str>) -> (u16, Option<String>, Value) {
    let mut req = Request::get(path);
    if let Some(key) = key {
        req = req.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    let resp = w
        .app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let retry = resp
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, retry, body)
}

#[tokio::test]
async fn a_key_past_its_burst_gets_posthogs_429_with_retry_after() {
    let w = world_with(RateLimitSettings {
        burst: Rate::new(5, 60),
        ..RateLimitSettings::on()
    })
    .await;
    let me = "/api/users/@me/";
    for i in 0..5 {
        let (status, _, body) = get(&w, me, Some(&w.member)).await;
        assert_eq!(status, 200, "request {i}: {body}");
    }
    let (status, retry, body) = get(&w, me, Some(&w.member)).await;
    assert_eq!(status, 429);
    // The oldest of the five leaves the window in just under a minute.
    let wait: u64 = retry.expect("Retry-After").parse().unwrap();
    assert!((55..=60).contains(&wait), "{wait}");
    assert_eq!(body, throttled(wait));
    // Every route counts the key (a refused request too)...
    let (status, _, _) = get(&w, &w.projects(), Some(&w.member)).await;
    assert_eq!(status, 429);
    // ...and only that key.
    let (status, _, _) = get(&w, me, Some(&w.admin)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn the_sustained_rate_counts_too_and_the_longest_wait_is_given() {
    let w = world_with(RateLimitSettings {
        burst: Rate::new(100, 1),
        sustained: Rate::new(3, 3600),
        ..RateLimitSettings::on()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(get(&w, "/api/users/@me/", Some(&w.owner)).await.0, 200);
    }
    let (status, retry, body) = get(&w, "/api/users/@me/", Some(&w.owner)).await;
    assert_eq!(status, 429);
    let wait: u64 = retry.unwrap().parse().unwrap();
    assert!((3590..=3600).contains(&wait), "{wait}");
    assert_eq!(body, throttled(wait));
}

#[tokio::test]
async fn anonymous_callers_are_limited_per_address_and_health_never() {
    let w = world_with(RateLimitSettings {
        burst: Rate::new(3, 60),
        ..RateLimitSettings::on()
    })
    .await;
    for _ in 0..3 {
        assert_eq!(get(&w, "/api/schema/?format=json", None).await.0, 200);
    }
    let (status, retry, _) = get(&w, "/api/schema/?format=json", None).await;
    assert_eq!((status, retry.is_some()), (429, true));
    for _ in 0..20 {
        assert_eq!(get(&w, "/_health", None).await.0, 200);
    }
    // A request without a key to a route that needs one is PostHog's 401,
    // not counted and not throttled.
    for _ in 0..5 {
        assert_eq!(get(&w, "/api/users/@me/", None).await.0, 401);
    }
}

#[tokio::test]
async fn off_by_default() {
    let w = World::new().await;
    for _ in 0..600 {
        assert_eq!(get(&w, "/api/users/@me/", Some(&w.member)).await.0, 200);
    }
}

/// A GET of the schema over a real connection from 127.0.0.1, naming
/// `forwarded` in `X-Forwarded-For`.
async fn schema_from(addr: std::net::SocketAddr, forwarded: &str) -> u16 {
    let mut s = TcpStream::connect(addr).await.unwrap();
    let req = format!(
        "GET /api/schema/?format=json HTTP/1.1\r\nHost: prickle\r\n\
         X-Forwarded-For: {forwarded}\r\nConnection: close\r\n\r\n"
    );
    s.write_all(req.as_bytes()).await.unwrap();
    read_response(&mut s).await.expect("answer").status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trusted_proxy_names_the_client_and_nobody_else_does() {
    let w = world_with(RateLimitSettings {
        burst: Rate::new(2, 60),
        ..RateLimitSettings::on()
    })
    .await;
    // Not trusted: the header is the client's own word, and ignored.
    let served = serve(&w, relaxed()).await;
    assert_eq!(schema_from(served.addr, "198.51.100.1").await, 200);
    assert_eq!(schema_from(served.addr, "198.51.100.2").await, 200);
    assert_eq!(schema_from(served.addr, "198.51.100.3").await, 429);
    served.shut_down().await;

    // Behind a trusted proxy: each client has its own budget, and a forged
    // entry in front of the proxy's is not believed.
    let w = world_with(RateLimitSettings {
        burst: Rate::new(2, 60),
        ..RateLimitSettings::on()
    })
    .await;
    let served = serve(
        &w,
        Limits {
            trusted_proxies: "127.0.0.1".parse().unwrap(),
            ..relaxed()
        },
    )
    .await;
    for _ in 0..2 {
        assert_eq!(schema_from(served.addr, "203.0.113.1").await, 200);
    }
    assert_eq!(schema_from(served.addr, "203.0.113.1").await, 429);
    assert_eq!(schema_from(served.addr, "9.9.9.9, 203.0.113.1").await, 429);
    assert_eq!(schema_from(served.addr, "203.0.113.2").await, 200);
    served.shut_down().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_unreachable_fails_open_and_warns_once() {
    let (url, _dir) = processes::suite_database().await;
    let (_, key) = processes::owner_with_key(&url, "ada@example.com");
    // Nothing listens on port 1.
    let env = [
        ("RATE_LIMIT_ENABLED", "true"),
        ("PRICKLE_RATE_LIMIT_BURST", "2/minute"),
        ("REDIS_URL", "redis://127.0.0.1:1"),
    ];
    let server = Server::start_with(&url, &env).await;
    let http = client();
    for i in 0..10 {
        let r = http
            .get(server.url("/api/users/@me/"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "request {i}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = server.log_text();
    assert_eq!(
        log.matches("Redis unreachable").count(),
        1,
        "one warning a minute:\n{log}"
    );
    assert!(!log.contains(&key), "the key reached the log");
}

/// One anonymous POST through the router: status and `Retry-After`.
async fn post(w: &World, path: &str, body: Value) -> (u16, Option<String>) {
    let req = Request::post(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = w.app.router.clone().oneshot(req).await.unwrap();
    let retry = resp
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_string());
    (resp.status().as_u16(), retry)
}

#[tokio::test]
async fn sign_up_and_the_signing_webhook_have_posthogs_per_address_limits() {
    let w = world_with(RateLimitSettings::on()).await;
    // PostHog's SIGNUP_IP_THROTTLE_RATE, 5/day: every attempt counts, a
    // wrong invite or token too.
    let signup = "/api/signup/01890000-0000-7000-8000-000000000000/?token=wrong";
    let attempt = json!({"first_name": "Mallory", "password": "correct horse battery"});
    for i in 0..5 {
        let (status, _) = post(&w, signup, attempt.clone()).await;
        assert_eq!(status, 400, "attempt {i}");
    }
    let (status, retry) = post(&w, signup, attempt).await;
    assert_eq!(status, 429);
    let wait: u64 = retry.unwrap().parse().unwrap();
    assert!((86_000..=86_400).contains(&wait), "{wait}");

    // The webhook: 5 a minute (and 30 an hour).
    let webhook = "/api/legal_documents/signed/";
    let guess = json!({"secret": "guess", "signed_document_url": "https://evil.example/x.pdf"});
    for i in 0..5 {
        let (status, _) = post(&w, webhook, guess.clone()).await;
        assert_eq!(status, 404, "guess {i}");
    }
    let (status, retry) = post(&w, webhook, guess).await;
    assert_eq!(status, 429);
    let wait: u64 = retry.unwrap().parse().unwrap();
    assert!((55..=60).contains(&wait), "{wait}");
}
