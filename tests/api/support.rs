//! The test app: the real router over a real database (a fresh SQLite file,
//! or a fresh PostgreSQL schema when `PRICKLE_TEST_DATABASE_URL` is set), and
//! typed actors to call it as.

#![allow(dead_code)]

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use http_body_util::BodyExt;
use prickle::admin;
use prickle::api::router;
use prickle::config::Config;
use prickle::http::App;
use prickle::storage::Db;
use serde_json::{json, Value};
use tower::ServiceExt;

pub const SITE: &str = "http://testserver";

pub use crate::common::{fresh_postgres_schema, postgres_url, throttled};

pub struct TestApp {
    pub db: Db,
    pub router: Router,
    pub database_url: String,
    _dir: Option<tempfile::TempDir>,
}

pub struct Response {
    pub status: StatusCode,
    pub body: Value,
}

impl Response {
    /// PostHog's error body, as one tuple for compact assertions.
    pub fn error(&self) -> (u16, &str, &str, Value) {
        (
            self.status.as_u16(),
            self.body["code"].as_str().unwrap_or("<no code>"),
            self.body["detail"].as_str().unwrap_or("<no detail>"),
            self.body["attr"].clone(),
        )
    }
}

impl TestApp {
    pub async fn new() -> TestApp {
        Self::with_config(Config::new(SITE, 2000, Some("test-secret"))).await
    }

    pub async fn with_config(config: Config) -> TestApp {
        Self::migrated_through(i64::MAX, config).await
    }

    /// A fresh database migrated only up to `version`, as an older release
    /// left it, and the router over it (tests of the migrations after it).
    pub async fn at_version(version: i64) -> TestApp {
        Self::migrated_through(version, Config::new(SITE, 2000, Some("test-secret"))).await
    }

    async fn migrated_through(version: i64, config: Config) -> TestApp {
        let (database_url, dir) = match postgres_url() {
            Some(url) => (fresh_postgres_schema(&url).await, None),
            None => {
                let dir = tempfile::tempdir().expect("tempdir");
                (
                    format!("sqlite://{}", dir.path().join("test.db").display()),
                    Some(dir),
                )
            }
        };
        let db = Db::connect(&database_url).await.expect("connect");
        prickle::storage::migrations::run_through(&db, prickle::time::now_micros, version)
            .await
            .expect("migrate");
        let router = router(App::new(db.clone(), config));
        TestApp {
            db,
            router,
            database_url,
            _dir: dir,
        }
    }

    /// The router over an existing database (one the binary also writes).
    pub async fn at(database_url: &str) -> TestApp {
        let db = Db::connect(database_url).await.expect("connect");
        db.migrate().await.expect("migrate");
        let router = router(App::new(
            db.clone(),
            Config::new(SITE, 2000, Some("test-secret")),
        ));
        TestApp {
            db,
            router,
            database_url: database_url.to_string(),
            _dir: None,
        }
    }

    pub async fn user(&self, email: &str) -> Value {
        admin::create_user(&self.db, email, "Test", "User", None)
            .await
            .expect("create user")
    }

    /// A new organization owned by a new user; returns the organization id.
    pub async fn organization(&self, name: &str, owner_email: &str) -> String {
        self.user(owner_email).await;
        let org = admin::create_organization(&self.db, name, owner_email)
            .await
            .expect("create org");
        org["id"].as_str().unwrap().to_string()
    }

    pub async fn add_member(&self, org: &str, email: &str, level: i64) {
        self.user(email).await;
        admin::add_member(&self.db, org, email, level)
            .await
            .expect("add member");
    }

    pub async fn key(&self, email: &str, scopes: &[&str]) -> String {
        self.key_with(email, scopes, None, None).await
    }

    pub async fn key_with(
        &self,
        email: &str,
        scopes: &[&str],
        orgs: Option<Vec<String>>,
        teams: Option<Vec<i64>>,
    ) -> String {
        let new = admin::NewKey {
            email,
            label: "test",
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            scoped_organizations: orgs,
            scoped_teams: teams,
        };
        let k = admin::create_personal_api_key(&self.db, new)
            .await
            .expect("create key");
        k["value"].as_str().unwrap().to_string()
    }

    /// Sends a request through the router; the response is checked against
    /// the API document (`conformance`).
    pub async fn send(&self, req: Request<Body>) -> Response {
        let method = req.method().to_string();
        let path = req.uri().path().to_string();
        let resp = self
            .router
            .clone()
            .oneshot(req)
            .await
            .expect("router is infallible");
        let status = resp.status();
        let bytes = resp.into_body().collect().await.expect("body").to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        crate::conformance::check(&method, &path, status.as_u16(), &body);
        record(&method, &path, status.as_u16(), &body);
        Response { status, body }
    }

    /// A JSON request with a bearer key (or none).
    pub async fn call(
        &self,
        method: &str,
        path: &str,
        key: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut b = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path);
        if let Some(k) = key {
            b = b.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        let req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        };
        self.send(req.unwrap()).await
    }

    /// A raw body with an explicit content type.
    pub async fn call_raw(
        &self,
        method: &str,
        path: &str,
        key: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Response {
        let req = Request::builder()
            .method(Method::from_bytes(method.as_bytes()).unwrap())
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, content_type)
            .body(Body::from(body))
            .unwrap();
        self.send(req).await
    }
}

/// One organization with an owner, an admin and a member, and an outsider
/// who owns another organization; each with a full-access (`*`) key.
pub struct World {
    pub app: TestApp,
    pub org: String,
    pub other_org: String,
    pub owner: String,
    pub admin: String,
    pub member: String,
    pub outsider: String,
}

impl World {
    pub async fn new() -> World {
        World::with_app(TestApp::new().await).await
    }

    /// The same world on an app of the caller's (e.g. with email configured).
    pub async fn with_app(app: TestApp) -> World {
        let org = app.organization("Hedgehogs", "owner@example.com").await;
        app.add_member(&org, "admin@example.com", 8).await;
        app.add_member(&org, "member@example.com", 1).await;
        let other_org = app.organization("Others", "outsider@example.com").await;
        let owner = app.key("owner@example.com", &["*"]).await;
        let admin = app.key("admin@example.com", &["*"]).await;
        let member = app.key("member@example.com", &["*"]).await;
        let outsider = app.key("outsider@example.com", &["*"]).await;
        World {
            app,
            org,
            other_org,
            owner,
            admin,
            member,
            outsider,
        }
    }

    pub fn projects(&self) -> String {
        format!("/api/organizations/{}/projects/", self.org)
    }

    pub fn project(&self, id: i64) -> String {
        format!("/api/organizations/{}/projects/{id}/", self.org)
    }

    /// Creates a project in the other organization, as its owner (the
    /// outsider); returns its detail.
    pub async fn create_other_project(&self, name: &str) -> Value {
        let path = format!("/api/organizations/{}/projects/", self.other_org);
        let r = self
            .app
            .call(
                "POST",
                &path,
                Some(&self.outsider),
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body
    }

    /// Creates a project as the owner; returns its detail.
    pub async fn create_project(&self, name: &str) -> Value {
        let r = self
            .app
            .call(
                "POST",
                &self.projects(),
                Some(&self.owner),
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        r.body
    }
}

/// With `PRICKLE_RECORD_RESPONSES=<dir>`, every response the suite receives
/// is appended to `<dir>/<test name>.jsonl`, so a refactoring can compare
/// what clients see before and after (`scripts/compare_responses.py`).
fn record(method: &str, path: &str, status: u16, body: &Value) {
    use std::io::Write;
    let Some(dir) = std::env::var_os("PRICKLE_RECORD_RESPONSES") else {
        return;
    };
    let test = std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .replace("::", ".");
    let line = json!({"method": method, "path": path, "status": status, "body": body});
    let file = std::path::Path::new(&dir).join(format!("{test}.jsonl"));
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .expect("record file");
    writeln!(f, "{line}").expect("record");
}
