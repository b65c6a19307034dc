//! `GET /metrics`: Prometheus's text format, counters that are exact (N
//! requests read back as exactly N more on their labels), route labels that
//! are declared templates (never a raw id, email or key), and
//! `PRICKLE_METRICS_BIND` moving the scrape to its own address.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use prickle::config::Config;
use prickle::rate_limit::{Rate, RateLimitSettings};
use tower::ServiceExt;

use crate::processes::{client, free_port, owner_with_key, suite_database, Server};
use crate::support::{TestApp, World, SITE};

/// One scrape: each sample's value by its series (`name{labels}` as
/// written), after checking every line's shape.
struct Scrape {
    text: String,
    samples: BTreeMap<String, f64>,
}

impl Scrape {
    fn parse(text: String) -> Scrape {
        let mut types: BTreeMap<String, String> = BTreeMap::new();
        let mut samples = BTreeMap::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').expect("HELP name text");
                assert!(is_name(name) && !help.is_empty(), "{line}");
                continue;
            }
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
                assert!(is_name(name), "{line}");
                assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
                assert!(types.insert(name.into(), kind.into()).is_none(), "{line}");
                continue;
            }
            assert!(!line.starts_with('#') && !line.is_empty(), "{line:?}");
            let (series, value) = line.rsplit_once(' ').expect("series value");
            let value: f64 = match value {
                "+Inf" => f64::INFINITY,
                v => v.parse().unwrap_or_else(|_| panic!("value of {line}")),
            };
            let name = match series.split_once('{') {
                Some((name, labels)) => {
                    let labels = labels.strip_suffix('}').expect("closing brace");
                    check_labels(labels, line);
                    name
                }
                None => series,
            };
            assert!(is_name(name), "{line}");
            // The family was declared before its samples.
            let family = ["_bucket", "_sum", "_count"]
                .iter()
                .find_map(|s| {
                    let base = name.strip_suffix(s)?;
                    (types.get(base).map(String::as_str) == Some("histogram")).then_some(base)
                })
                .unwrap_or(name);
            assert!(types.contains_key(family), "no TYPE before {line}");
            assert!(
                samples.insert(series.to_string(), value).is_none(),
                "{series} twice"
            );
        }
        Scrape { text, samples }
    }

    /// A series' value; 0 when it is not shown (no request on it yet).
    fn get(&self, series: &str) -> f64 {
        self.samples.get(series).copied().unwrap_or(0.0)
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
        && !name.starts_with(|c: char| c.is_ascii_digit())
}

/// `a="x",b="y"`, values with escapes only for `\`, `"` and newline.
fn check_labels(mut labels: &str, line: &str) {
    while !labels.is_empty() {
        let (name, rest) = labels.split_once("=\"").unwrap_or_else(|| panic!("{line}"));
        assert!(is_name(name), "label name in {line}");
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => {
                    let (_, c) = chars.next().expect("escape");
                    assert!(['\\', '"', 'n'].contains(&c), "{line}");
                }
                Some((i, '"')) => break i,
                Some(_) => {}
                None => panic!("unclosed label value in {line}"),
            }
        };
        labels = &rest[end + 1..];
        labels = labels.strip_prefix(',').unwrap_or(labels);
    }
}

fn requests(method: &str, route: &str, status: u16) -> String {
    format!("http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}")
}

fn durations(method: &str, route: &str, status: u16) -> String {
    format!(
        "http_request_duration_seconds_count{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
    )
}

async fn scrape(router: &Router) -> Scrape {
    let req = Request::get("/metrics").body(Body::empty()).unwrap();
    let r = router.clone().oneshot(req).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        r.headers()[header::CONTENT_TYPE],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    Scrape::parse(String::from_utf8(bytes.to_vec()).unwrap())
}

const PROJECT: &str = "/api/organizations/{organization_id}/projects/{id}";

#[tokio::test]
async fn n_requests_read_back_as_exactly_n_on_their_route_template() {
    let w = World::new().await;
    let project = w.create_project("Counted").await;
    let id = project["id"].as_i64().unwrap();
    let before = scrape(&w.app.router).await;
    for i in 0..7 {
        // With and without the trailing slash: one route.
        let path = w.project(id);
        let path = if i % 2 == 0 {
            path.trim_end_matches('/').to_string()
        } else {
            path
        };
        let r = w.app.call("GET", &path, Some(&w.owner), None).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    for _ in 0..3 {
        let r = w
            .app
            .call("GET", &w.project(id + 1000), Some(&w.owner), None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
    }
    for _ in 0..2 {
        let r = w
            .app
            .call("GET", &w.project(id), Some("phx_not_a_key"), None)
            .await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let unmatched = "/no/such/owner@example.com";
    for _ in 0..4 {
        assert_eq!(w.app.call("GET", unmatched, None, None).await.status, 404);
    }
    // A method the path does not declare (a rarer row).
    let r = w.app.call("PUT", "/_health", None, None).await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
    let after = scrape(&w.app.router).await;
    for (series, n) in [
        (requests("GET", PROJECT, 200), 7.0),
        (durations("GET", PROJECT, 200), 7.0),
        (requests("GET", PROJECT, 404), 3.0),
        (durations("GET", PROJECT, 404), 3.0),
        (requests("GET", PROJECT, 401), 2.0),
        (requests("GET", "unmatched", 404), 4.0),
        (requests("PUT", "/_health", 405), 1.0),
        (durations("PUT", "/_health", 405), 1.0),
        // The first scrape, counted once answered.
        (requests("GET", "/metrics", 200), 1.0),
    ] {
        assert_eq!(after.get(&series) - before.get(&series), n, "{series}");
    }
    // Nothing else moved.
    let moved: Vec<_> = after
        .samples
        .iter()
        .filter(|(s, v)| s.starts_with("http_requests_total") && before.get(s) != **v)
        .collect();
    assert_eq!(moved.len(), 6, "{moved:?}");
    // Route labels are templates, never what the path held.
    for raw in [
        w.org.as_str(),
        &format!("/{id}"),
        "owner@example.com",
        "phx_not_a_key",
        &w.owner,
        "/no/such",
    ] {
        assert!(!after.text.contains(raw), "{raw} in\n{}", after.text);
    }
    for line in after.text.lines().filter(|l| l.contains("route=\"")) {
        let route = line
            .split("route=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        assert!(
            route == "unmatched" || prickle::api::endpoints().iter().any(|e| e.path == route),
            "{line}"
        );
    }
}

#[tokio::test]
async fn durations_are_a_histogram_with_the_agreed_buckets() {
    let w = World::new().await;
    for _ in 0..5 {
        assert_eq!(
            w.app
                .call("GET", "/api/users/@me/", Some(&w.member), None)
                .await
                .status,
            200
        );
    }
    let s = scrape(&w.app.router).await;
    let labels = "method=\"GET\",route=\"/api/users/{uuid}\",status=\"200\"";
    let les = [
        "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5",
        "10", "+Inf",
    ];
    let mut last = 0.0;
    for le in les {
        let v = s.get(&format!(
            "http_request_duration_seconds_bucket{{{labels},le=\"{le}\"}}"
        ));
        assert!(v >= last, "buckets are cumulative");
        last = v;
    }
    assert_eq!(last, 5.0);
    assert_eq!(
        s.get(&format!("http_request_duration_seconds_count{{{labels}}}")),
        5.0
    );
    assert!(s.get(&format!("http_request_duration_seconds_sum{{{labels}}}")) > 0.0);
    let bucket_lines = s
        .text
        .lines()
        .filter(|l| l.starts_with("http_request_duration_seconds_bucket") && l.contains(labels))
        .count();
    assert_eq!(bucket_lines, les.len());
}

#[tokio::test]
async fn process_build_database_and_rate_limit_families() {
    let config = Config::new(SITE, 2000, Some("test-secret")).with_rate_limits(RateLimitSettings {
        burst: Rate::new(2, 60),
        ..RateLimitSettings::on()
    });
    let w = World::with_app(TestApp::with_config(config).await).await;
    let before = scrape(&w.app.router).await;
    assert_eq!(before.get("prickle_rate_limited_total"), 0.0);
    let mut refused = 0.0;
    for _ in 0..5 {
        // Not through `call`: the document does not list 429 here.
        let req = Request::get("/api/users/@me/")
            .header(header::AUTHORIZATION, format!("Bearer {}", w.admin))
            .body(Body::empty())
            .unwrap();
        let r = w.app.router.clone().oneshot(req).await.unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            refused += 1.0;
        }
    }
    assert_eq!(refused, 3.0);
    let s = scrape(&w.app.router).await;
    assert_eq!(s.get("prickle_rate_limited_total"), refused);
    // The metrics and health checks are never limited.
    for _ in 0..5 {
        scrape(&w.app.router).await;
    }
    let version = env!("CARGO_PKG_VERSION");
    assert_eq!(
        s.get(&format!("prickle_build_info{{version=\"{version}\"}}")),
        1.0
    );
    assert!(s.get("process_resident_memory_bytes") > 1e6);
    assert!(s.get("process_open_fds") > 0.0);
    // The scrape itself is in flight.
    assert_eq!(s.get("prickle_http_requests_in_flight"), 1.0);
    for family in [
        "prickle_connections_open",
        "prickle_connections_refused_total",
    ] {
        assert!(s.text.contains(&format!("# TYPE {family} ")), "{family}");
    }
    if w.app.db.is_postgres() {
        assert!(s.get("prickle_db_pool_size") >= 1.0);
        assert!(s.text.contains("\nprickle_db_pool_waits_total "));
    } else {
        // Each write above (the world's set-up) committed in some batch.
        assert!(s.get("prickle_sqlite_commit_batch_size_count") >= 1.0);
        assert_eq!(s.get("prickle_sqlite_writer_queue_length"), 0.0);
        assert!(s
            .text
            .contains("prickle_sqlite_commit_batch_size_bucket{le=\"64\"} "));
    }
}

#[test]
fn metrics_are_not_part_of_the_api_document() {
    let document = prickle::openapi::document(&prickle::api::endpoints());
    let paths = serde_json::to_value(&document.paths).unwrap();
    assert!(paths.get("/metrics/").is_none() && paths.get("/metrics").is_none());
    assert!(paths.get("/_ready/").is_some());
}

/// `prickle serve`: the scrape on the main port by default, with the
/// connection gauges; `PRICKLE_METRICS_BIND` moves it (404 on the main port).
#[tokio::test]
async fn metrics_bind_moves_the_scrape_to_its_own_address() {
    let (url, _dir) = suite_database().await;
    let (_, key) = owner_with_key(&url, "metrics@example.com");
    let http = client();
    let server = Server::start(&url).await;
    let r = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let s = Scrape::parse(r.text().await.unwrap());
    assert!(s.get("prickle_connections_open") >= 1.0);
    drop(server);

    let port = free_port();
    let bind = format!("127.0.0.1:{port}");
    let server = Server::start_with(&url, &[("PRICKLE_METRICS_BIND", bind.as_str())]).await;
    let main = http.get(server.url("/metrics")).send().await.unwrap();
    assert_eq!(main.status(), 404);
    let elsewhere = format!("http://{bind}/metrics");
    let before = Scrape::parse(
        http.get(&elsewhere)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
    );
    for _ in 0..3 {
        let r = http
            .get(server.url("/api/users/@me/"))
            .bearer_auth(&key)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
    }
    let r = http.get(&elsewhere).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let after = Scrape::parse(r.text().await.unwrap());
    let me = requests("GET", "/api/users/{uuid}", 200);
    assert_eq!(after.get(&me) - before.get(&me), 3.0);
    // The main port's 404 for /metrics, counted on its route.
    assert_eq!(after.get(&requests("GET", "/metrics", 404)), 1.0);
    assert!(after.get("prickle_connections_open") >= 1.0);
    assert!(after.get("process_open_fds") > 0.0);
    assert!(server
        .log_text()
        .contains(&format!("metrics on http://{bind}/metrics")));
}

/// A client's own token as a method is counted as `other`: clients cannot
/// grow the label set.
#[tokio::test]
async fn unknown_methods_are_one_label() {
    let app = TestApp::new().await;
    for method in ["FROB", "WIBBLE", "FROB"] {
        let req = Request::builder()
            .method(method)
            .uri("/nowhere")
            .body(Body::empty())
            .unwrap();
        let r = app.router.clone().oneshot(req).await.unwrap();
        assert_eq!(r.status(), StatusCode::NOT_FOUND);
    }
    let s = scrape(&app.router).await;
    assert_eq!(s.get(&requests("other", "unmatched", 404)), 3.0);
    assert!(!s.text.contains("FROB") && !s.text.contains("WIBBLE"));
}

/// Connections closed unread by the per-address cap are counted by reason,
/// and open ones are shown.
#[tokio::test]
async fn refused_connections_are_counted_by_reason() {
    use tokio::io::AsyncReadExt;
    let (url, _dir) = suite_database().await;
    let server = Server::start_with(&url, &[("PRICKLE_MAX_CONNECTIONS_PER_ADDRESS", "3")]).await;
    let addr = server.url("").trim_start_matches("http://").to_string();
    // Hold connections until one is refused (closed before a byte is read).
    let mut held = Vec::new();
    let mut refused = 0.0;
    for _ in 0..6 {
        let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
        let mut byte = [0u8; 1];
        match tokio::time::timeout(Duration::from_millis(300), c.read(&mut byte)).await {
            Err(_) => held.push(c),
            Ok(_) => refused += 1.0,
        }
    }
    assert!(refused >= 1.0 && held.len() <= 3, "{refused} refused");
    let open_held = held.len() as f64;
    // Room for the scrape's own connection.
    held.pop();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let r = client().get(server.url("/metrics")).send().await.unwrap();
    let s = Scrape::parse(r.text().await.unwrap());
    let per_address = "prickle_connections_refused_total{reason=\"max_connections_per_address\"}";
    assert_eq!(s.get(per_address), refused);
    assert_eq!(
        s.get("prickle_connections_refused_total{reason=\"max_connections\"}"),
        0.0
    );
    // The held ones but the dropped one, and the scrape's.
    assert!(s.get("prickle_connections_open") >= open_held, "{}", s.text);
    drop(held);
}

/// The authorization cache's families: N warm requests read back as exactly
/// N more hits per lookup each makes (the key; for a project route also the
/// organization and the project's rules), and no miss.
#[tokio::test]
async fn warm_requests_are_counted_as_auth_cache_hits() {
    let w = World::new().await;
    let project = w.create_project("Cached").await;
    let id = project["id"].as_i64().unwrap();
    let hits = "prickle_auth_cache_hits_total";
    let misses = "prickle_auth_cache_misses_total";
    for (path, lookups) in [("/api/users/@me/".to_string(), 1.0), (w.project(id), 3.0)] {
        // PostgreSQL: another test's grant change anywhere in the database
        // empties this cache too (its notification is database-wide); such
        // a round shows misses and is measured again.
        let mut measured = false;
        for _ in 0..10 {
            // Warm: the first requests read what the cache then holds (on
            // PostgreSQL, once its listener is up).
            for _ in 0..3 {
                let r = w.app.call("GET", &path, Some(&w.member), None).await;
                assert_eq!(r.status, StatusCode::OK, "{path}");
            }
            let before = scrape(&w.app.router).await;
            for _ in 0..5 {
                let r = w.app.call("GET", &path, Some(&w.member), None).await;
                assert_eq!(r.status, StatusCode::OK, "{path}");
            }
            let after = scrape(&w.app.router).await;
            let moved = |series: &str| after.get(series) - before.get(series);
            if moved(misses) > 0.0 && w.app.db.is_postgres() {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
            assert_eq!(moved(hits), 5.0 * lookups, "{path}\n{}", after.text);
            assert_eq!(moved(misses), 0.0, "{path}");
            assert!(after.get("prickle_auth_cache_entries") >= lookups);
            measured = true;
            break;
        }
        assert!(measured, "{path}: the cache never stayed warm");
    }
    let s = scrape(&w.app.router).await;
    for (family, kind) in [
        (hits, "counter"),
        (misses, "counter"),
        ("prickle_auth_cache_entries", "gauge"),
    ] {
        assert!(
            s.text.contains(&format!("# TYPE {family} {kind}\n")),
            "{family}"
        );
    }
}
