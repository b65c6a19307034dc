//! The log as operators read it: `prickle serve` with stderr to a file.
//! With `PRICKLE_LOG_FORMAT=json` every line is one JSON object, one per
//! request (method, declared route, status, duration, request id, key and
//! user ids) beside the server's own events, and no key value, raw path or
//! query string anywhere; the text format written to a file has no colour
//! codes; an unknown format is refused at start-up.

use std::io;
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{header, Request};
use prickle::logging::LogFormat;
use prickle::storage::schema::Projects;
use sea_query::{Expr, ExprTrait, Query};
use serde_json::Value;
use tower::ServiceExt;
use tracing_subscriber::EnvFilter;

use crate::processes::{self, client, owner_with_key, Server};
use crate::support::World;

const ROUTE_PROJECT: &str = "/api/organizations/{organization_id}/projects/{id}";
const ROUTE_PROJECTS: &str = "/api/organizations/{organization_id}/projects";

/// Sends a GET with an optional bearer key and request id; returns the status.
async fn get(url: &str, key: Option<&str>, request_id: Option<&str>) -> u16 {
    let mut req = client().get(url);
    if let Some(key) = key {
        req = req.bearer_auth(key);
    }
    if let Some(id) = request_id {
        req = req.header("X-Request-Id", id);
    }
    let resp = req.send().await.expect("request");
    if let Some(id) = request_id {
        assert_eq!(resp.headers()["x-request-id"], id, "{url}");
    }
    resp.status().as_u16()
}

fn key_id(database_url: &str, email: &str) -> String {
    let keys = processes::admin(database_url, &["list-personal-api-keys", "--email", email]);
    keys["results"][0]["id"]
        .as_str()
        .expect("key id")
        .to_string()
}

#[tokio::test]
async fn json_logs_hold_one_line_per_request_and_no_secret() {
    let (db, _dir) = processes::suite_database().await;
    let (org, key) = owner_with_key(&db, "ops@example.com");
    let key_id = key_id(&db, "ops@example.com");
    let mut server = Server::start_with(&db, &[("PRICKLE_LOG_FORMAT", "json")]).await;
    let project = processes::Api::new(&server, &key, &org)
        .create("Logged")
        .await;
    let id = project["id"].as_i64().expect("project id");
    let project_url = server.url(&format!("/api/organizations/{org}/projects/{id}/"));
    let projects_url = server.url(&format!("/api/organizations/{org}/projects/"));

    // (request id, expected status, route, authenticated)
    let sent = [
        (Some("req-project-1"), 200, Some(ROUTE_PROJECT), true),
        (Some("req-list-1"), 200, Some(ROUTE_PROJECTS), true),
        (Some("req-query-key"), 200, Some(ROUTE_PROJECTS), true),
        (Some("req-anonymous"), 401, Some(ROUTE_PROJECTS), false),
        (None, 404, None, false),
    ];
    assert_eq!(get(&project_url, Some(&key), sent[0].0).await, 200);
    assert_eq!(get(&projects_url, Some(&key), sent[1].0).await, 200);
    // The key in the query string, as PostHog accepts it, and an email.
    let with_key =
        format!("{projects_url}?personal_api_key={key}&search=ada.lovelace%40example.com");
    assert_eq!(get(&with_key, None, sent[2].0).await, 200);
    assert_eq!(get(&projects_url, None, sent[3].0).await, 401);
    let unknown = server.url("/api/no-such-route/ada.lovelace@example.com/?token=hush.hush");
    assert_eq!(get(&unknown, None, None).await, 404);
    assert!(server.terminate().await.success());

    let log = server.log_text();
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l:?}")))
        .collect();
    let raw_project_path = format!("/projects/{id}");
    for secret in [
        key.as_str(),
        "personal_api_key",
        "?",
        // With dots: ids and key ids (hex, base64url) cannot hold them by
        // chance, as a bare "ada" can ("...cada20" in a request id).
        "ada.lovelace",
        "hush.hush",
        org.as_str(),
        raw_project_path.as_str(),
        "no-such-route",
        "\u{1b}",
    ] {
        assert!(!log.contains(secret), "{secret:?} in the log:\n{log}");
    }
    // The server's own events are JSON lines too.
    let message = |l: &Value| l["message"].as_str().unwrap_or_default().to_string();
    assert!(
        lines.iter().any(|l| message(l).starts_with("listening on")),
        "{log}"
    );
    assert!(
        lines
            .iter()
            .any(|l| message(l).starts_with("shutting down")),
        "{log}"
    );

    // One line per request: the POST that made the project, the five above;
    // the start-up checks of /_health aside.
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "prickle::request" && l["route"] != "/_health")
        .collect();
    assert_eq!(requests.len(), 1 + sent.len(), "{log}");
    assert_eq!(requests[0]["method"], "POST");
    assert_eq!(requests[0]["route"], ROUTE_PROJECTS);
    assert_eq!(requests[0]["status"], 201);
    for (line, (given, status, route, authenticated)) in requests[1..].iter().zip(sent) {
        assert_eq!(line["message"], "request", "{line}");
        assert_eq!(line["method"], "GET", "{line}");
        assert_eq!(line["status"], status, "{line}");
        assert_eq!(line["route"].as_str(), route, "{line}");
        assert!(
            line["duration_ms"].as_f64().is_some_and(|d| d >= 0.0),
            "{line}"
        );
        let request_id = line["request_id"].as_str().expect("request_id");
        match given {
            Some(given) => assert_eq!(request_id, given, "{line}"),
            None => assert!(uuid::Uuid::parse_str(request_id).is_ok(), "{line}"),
        }
        // The request's span names it too (so does every line logged within it).
        assert_eq!(line["span"]["request_id"], request_id, "{line}");
        if authenticated {
            assert_eq!(line["key_id"], key_id.as_str(), "{line}");
            assert!(line["user_id"].as_i64().is_some(), "{line}");
        } else {
            assert!(line.get("key_id").is_none(), "{line}");
            assert!(line.get("user_id").is_none(), "{line}");
        }
    }
}

#[tokio::test]
async fn text_logs_written_to_a_file_have_no_colour_codes() {
    let (db, _dir) = processes::suite_database().await;
    let mut server = Server::start(&db).await;
    assert_eq!(get(&server.url("/nope"), None, Some("plain-1")).await, 404);
    assert!(server.terminate().await.success());
    let log = server.log_text();
    assert!(!log.contains('\u{1b}'), "escape codes in the log:\n{log:?}");
    let line = log
        .lines()
        .find(|l| l.contains("request_id=plain-1") && l.contains("status=404"))
        .unwrap_or_else(|| panic!("no request line:\n{log}"));
    assert!(!line.contains("/nope"), "{line}");
    assert!(log.contains("listening on"), "{log}");
}

#[test]
fn an_unknown_log_format_is_refused_at_start_up() {
    let (db, _dir) = processes::sqlite_database();
    // The start-up contract's answer to any bad setting (clap's usage error).
    let bad_setting = processes::prickle(&db)
        .args(["serve", "--sqlite-synchronous", "sometimes"])
        .output()
        .expect("run prickle");
    for format in ["xml", "JSON", ""] {
        let out = processes::prickle(&db)
            .args(["serve", "--bind", "127.0.0.1:0"])
            .env("PRICKLE_LOG_FORMAT", format)
            .output()
            .expect("run prickle");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{format:?}: {stderr}");
        assert_eq!(
            out.status.code(),
            bad_setting.status.code(),
            "{format:?}: {stderr}"
        );
        assert!(
            stderr.contains("PRICKLE_LOG_FORMAT must be `text` or `json`"),
            "{format:?}: {stderr}"
        );
        assert!(!stderr.contains("listening"), "{format:?}: {stderr}");
    }
    // Both formats are accepted by every command.
    for format in ["text", "json"] {
        let out = processes::prickle(&db)
            .args(["migrate"])
            .env("PRICKLE_LOG_FORMAT", format)
            .output()
            .expect("run prickle");
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// What the process's subscriber (`logging::subscriber`) writes.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().expect("log lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Every line logged while a request is handled names the request, not
/// only the request's own line: GET project logs (at error) a project whose
/// stored settings are not an object, under the request's id, in both
/// formats; a line logged outside any request names none.
#[tokio::test]
async fn lines_logged_within_a_request_carry_its_id() {
    let w = World::new().await;
    let id = w.create_project("Broken").await["id"].as_i64().expect("id");
    for (format, broken) in [(LogFormat::Json, "[1]"), (LogFormat::Text, "[2]")] {
        // Changed each time, so the body is rendered anew (rewriting the
        // same bytes commits nothing).
        let mut tx = w.app.db.write().await.expect("write");
        let stmt = Query::update()
            .table(Projects::Table)
            .value(Projects::Settings, broken)
            .and_where(Expr::col(Projects::Id).eq(id))
            .to_owned();
        tx.execute(&stmt).await.expect("break the settings");
        tx.commit().await.expect("commit");
        let log = Captured::default();
        let writer = log.clone();
        let subscriber = prickle::logging::subscriber(
            format,
            EnvFilter::new("info"),
            move || writer.clone(),
            false,
        );
        let guard = tracing::subscriber::set_default(subscriber);
        let req = Request::get(w.project(id))
            .header(header::AUTHORIZATION, format!("Bearer {}", w.owner))
            .header("x-request-id", "inside-1")
            .body(Body::empty())
            .expect("request");
        let r = w.app.router.clone().oneshot(req).await.expect("answer");
        assert_eq!(r.status(), 200);
        tracing::warn!("outside");
        drop(guard);
        let text = String::from_utf8(log.0.lock().expect("log lock").clone()).expect("utf-8");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        let (settings, request, outside) = (lines[0], lines[1], lines[2]);
        assert!(
            settings.contains("stored project settings are not a JSON object"),
            "{text}"
        );
        match format {
            LogFormat::Json => {
                for line in [settings, request] {
                    let v: Value = serde_json::from_str(line).expect("JSON");
                    assert_eq!(v["span"]["request_id"], "inside-1", "{line}");
                    assert_eq!(v["span"]["name"], "request", "{line}");
                }
                let v: Value = serde_json::from_str(settings).expect("JSON");
                assert_eq!(v["level"], "ERROR", "{settings}");
                let v: Value = serde_json::from_str(request).expect("JSON");
                assert_eq!(v["request_id"], "inside-1", "{request}");
                assert_eq!(v["status"], 200, "{request}");
                let v: Value = serde_json::from_str(outside).expect("JSON");
                assert!(v.get("span").is_none(), "{outside}");
            }
            LogFormat::Text => {
                for line in [settings, request] {
                    assert!(line.contains(" request{request_id=inside-1}: "), "{line}");
                }
                assert!(settings.contains("ERROR"), "{settings}");
                assert!(!outside.contains("request_id"), "{outside}");
            }
        }
    }
}
