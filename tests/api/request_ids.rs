//! `X-Request-Id` through the real router: a usable id the client sends is
//! kept, anything else is replaced by a generated UUID, and every answer
//! carries it (errors, 404s, 405s and the rate limits' 429s included).

use axum::body::Body;
use axum::http::{header, HeaderValue, Request};
use prickle::config::Config;
use prickle::rate_limit::{Rate, RateLimitSettings};
use tower::ServiceExt;

use crate::support::{TestApp, World, SITE};

/// Sends `method path` (with `key` and the given `X-Request-Id` bytes);
/// returns the status and the response's `X-Request-Id`.
async fn request_id(
    w: &World,
    method: &str,
    path: &str,
    key: Option<&str>,
    given: Option<&[u8]>,
) -> (u16, String) {
    let mut req = Request::builder().method(method).uri(path);
    if let Some(key) = key {
        req = req.header(header::AUTHORIZATION, format!("Bearer {key}"));
    }
    if let Some(given) = given {
        req = req.header("x-request-id", HeaderValue::from_bytes(given).unwrap());
    }
    let resp = w
        .app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let ids: Vec<_> = resp.headers().get_all("x-request-id").iter().collect();
    assert_eq!(
        ids.len(),
        1,
        "{method} {path}: one X-Request-Id, got {ids:?}"
    );
    let id = ids[0].to_str().expect("printable").to_string();
    (resp.status().as_u16(), id)
}

fn assert_generated(id: &str, context: &str) {
    let parsed = uuid::Uuid::parse_str(id).unwrap_or_else(|_| panic!("{context}: {id:?}"));
    assert!(matches!(parsed.get_version_num(), 4 | 7), "{context}: {id}");
}

#[tokio::test]
async fn a_printable_request_id_is_kept_on_every_answer() {
    let w = World::new().await;
    let me = "/api/users/@me/";
    let cases: [(&str, String, Option<&str>, u16); 6] = [
        ("GET", me.to_string(), Some(w.member.as_str()), 200),
        ("GET", w.projects(), None, 401),
        ("GET", w.projects(), Some("phx_not_a_key"), 401),
        (
            "GET",
            format!("/api/organizations/{}/projects/", w.other_org),
            Some(w.member.as_str()),
            200,
        ),
        ("GET", "/no/such/route/".to_string(), None, 404),
        ("PUT", "/_health".to_string(), None, 405),
    ];
    let longest = "~".repeat(128);
    for given in [
        "abc-123",
        "!\"#$%&'()*+,-./09:;<=>?@AZ[\\]^_`az{|}~",
        longest.as_str(),
    ] {
        for (method, path, key, expected) in &cases {
            let (status, id) = request_id(&w, method, path, *key, Some(given.as_bytes())).await;
            assert_eq!(status, *expected, "{method} {path}");
            assert_eq!(id, given, "{method} {path}");
        }
    }
}

#[tokio::test]
async fn a_missing_too_long_or_unprintable_request_id_is_replaced() {
    let w = World::new().await;
    let me = "/api/users/@me/";
    let too_long = vec![b'a'; 129];
    let refused: [&[u8]; 6] = [
        &too_long,
        b"",
        b"has space",
        b"tab\there",
        b"caf\xe9",
        b"\x80\xff",
    ];
    for given in refused {
        let (status, id) = request_id(&w, "GET", me, Some(&w.member), Some(given)).await;
        assert_eq!(status, 200);
        assert_generated(&id, &format!("{given:?}"));
    }
    // Absent: a fresh id each time, on successes and failures alike.
    let mut seen = std::collections::HashSet::new();
    for (path, key) in [(me, Some(w.member.as_str())), (me, None), ("/nope", None)] {
        for _ in 0..2 {
            let (_, id) = request_id(&w, "GET", path, key, None).await;
            assert_generated(&id, path);
            assert!(seen.insert(id.clone()), "{id} given twice");
        }
    }
}

#[tokio::test]
async fn a_rate_limited_answer_carries_the_request_id() {
    let config = Config::new(SITE, 2000, Some("test-secret")).with_rate_limits(RateLimitSettings {
        burst: Rate::new(1, 60),
        ..RateLimitSettings::on()
    });
    let w = World::with_app(TestApp::with_config(config).await).await;
    let me = "/api/users/@me/";
    let (status, _) = request_id(&w, "GET", me, Some(&w.member), None).await;
    assert_eq!(status, 200);
    let (status, id) = request_id(&w, "GET", me, Some(&w.member), Some(b"limited-1")).await;
    assert_eq!(status, 429);
    assert_eq!(id, "limited-1");
    let (status, id) = request_id(&w, "GET", me, Some(&w.member), None).await;
    assert_eq!(status, 429);
    assert_generated(&id, "429");
}
