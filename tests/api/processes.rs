//! The real binary as operators run it: `prickle serve` processes on a shared
//! database (scale-out), killed with SIGKILL mid-write (durability), stopped
//! with SIGTERM (graceful shutdown), and the admin CLI's output contract.

use std::fs::File;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prickle::storage::schema::{
    ActivityLog, LegalDocuments, OauthApplications, OrganizationMemberships, Organizations,
    PersonalApiKeys, Projects, Users,
};
use prickle::storage::Db;
use sea_query::{Expr, Iden, Query};
use serde_json::{json, Value};

use crate::common;

const BIN: &str = env!("CARGO_BIN_EXE_prickle");

/// Generous bounds: debug builds on two busy cores.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const EXIT_TIMEOUT: Duration = Duration::from_secs(15);

/// A database for one test: a fresh PostgreSQL schema when the suite runs on
/// PostgreSQL, else a fresh SQLite file (the directory lives as long as the guard).
pub(crate) async fn suite_database() -> (String, Option<tempfile::TempDir>) {
    match common::postgres_url() {
        Some(url) => (common::fresh_postgres_schema(&url).await, None),
        None => sqlite_database(),
    }
}

pub(crate) fn sqlite_database() -> (String, Option<tempfile::TempDir>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}", dir.path().join("prickle.db").display());
    (url, Some(dir))
}

pub(crate) fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("ephemeral port")
        .port()
}

/// `prickle ...` with the database in the environment, as operators run it.
pub(crate) fn prickle(database_url: &str) -> Command {
    let mut cmd = Command::new(BIN);
    cmd.env("DATABASE_URL", database_url)
        .env_remove("RUST_LOG")
        .env_remove("PRICKLE_BIND")
        .env_remove("SITE_URL")
        // The sign-up memory test checks the default bound.
        .env_remove("PRICKLE_MAX_CONCURRENT_PASSWORD_HASHES")
        .stdin(Stdio::null());
    cmd
}

pub(crate) fn run(database_url: &str, args: &[&str]) -> Output {
    prickle(database_url)
        .args(args)
        .output()
        .expect("run prickle")
}

/// Runs an admin command that must succeed; returns the one JSON object it printed.
pub(crate) fn admin(database_url: &str, args: &[&str]) -> Value {
    let out = run(database_url, &[&["admin"], args].concat());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "prickle admin {args:?} exited {}: {stderr}",
        out.status
    );
    let v: Value = serde_json::from_str(stdout.trim_end()).unwrap_or_else(|e| {
        panic!("prickle admin {args:?} must print one JSON object ({e}): {stdout:?}")
    });
    assert!(v.is_object(), "not an object: {stdout}");
    assert_eq!(
        stdout.trim_end().lines().count(),
        1,
        "one JSON object on one line: {stdout:?}"
    );
    v
}

/// A user who owns an organization, with a full-access key: (org id, key).
pub(crate) fn owner_with_key(database_url: &str, email: &str) -> (String, String) {
    admin(database_url, &["create-user", "--email", email]);
    let org = admin(
        database_url,
        &[
            "create-organization",
            "--name",
            "Hedgehogs",
            "--owner-email",
            email,
        ],
    );
    let key = admin(
        database_url,
        &["create-personal-api-key", "--email", email, "--scopes", "*"],
    );
    (
        org["id"].as_str().expect("org id").to_string(),
        key["value"].as_str().expect("key value").to_string(),
    )
}

/// A running `prickle serve`; SIGKILLed and reaped when dropped.
pub(crate) struct Server {
    child: Option<Child>,
    base: String,
    log: PathBuf,
    _log_dir: tempfile::TempDir,
}

impl Server {
    pub(crate) async fn start(database_url: &str) -> Server {
        Server::start_with(database_url, &[]).await
    }

    /// `prickle serve` with `env` added to its environment.
    pub(crate) async fn start_with(database_url: &str, env: &[(&str, &str)]) -> Server {
        Server::start_serving(database_url, &[], env).await
    }

    /// `prickle serve ARGS...` with `env` added to its environment.
    pub(crate) async fn start_serving(
        database_url: &str,
        args: &[&str],
        env: &[(&str, &str)],
    ) -> Server {
        let mut last = String::new();
        // The free port can be taken between probing and binding: retry.
        for _ in 0..3 {
            let port = free_port();
            let log_dir = tempfile::tempdir().expect("tempdir");
            let log = log_dir.path().join("serve.log");
            let file = File::create(&log).expect("log file");
            let child = prickle(database_url)
                .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
                .args(args)
                // Longer than EXIT_TIMEOUT: a shutdown that waits on idle
                // connections fails the test instead of timing out "cleanly".
                .env("PRICKLE_SHUTDOWN_GRACE_SECONDS", "60")
                .envs(env.iter().copied())
                .stdout(file.try_clone().expect("log file"))
                .stderr(file)
                .spawn()
                .expect("spawn prickle serve");
            let mut server = Server {
                child: Some(child),
                base: format!("http://127.0.0.1:{port}"),
                log,
                _log_dir: log_dir,
            };
            match server.wait_healthy().await {
                Ok(()) => return server,
                Err(e) => last = e,
            }
        }
        panic!("prickle serve did not start: {last}")
    }

    async fn wait_healthy(&mut self) -> Result<(), String> {
        let client = client();
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child_mut().try_wait().expect("try_wait") {
                return Err(format!("exited with {status}:\n{}", self.log_text()));
            }
            if let Ok(r) = client.get(self.url("/_health")).send().await {
                if r.status() == 200 {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "/_health not 200 after {START_TIMEOUT:?}:\n{}",
                    self.log_text()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn child_mut(&mut self) -> &mut Child {
        self.child.as_mut().expect("server running")
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.as_ref().expect("server running").id()
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub(crate) fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// SIGKILL, then reap.
    fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("SIGKILL");
            child.wait().expect("reap");
        }
    }

    /// SIGTERM; waits (bounded) for the exit status.
    pub(crate) async fn terminate(&mut self) -> ExitStatus {
        self.signal("-TERM").await
    }

    /// Sends `signal` (as `kill` spells it); waits (bounded) for the exit status.
    async fn signal(&mut self, signal: &str) -> ExitStatus {
        self.send_signal(signal);
        self.wait_exit(signal).await
    }

    /// Sends `signal` (as `kill` spells it) and returns at once.
    pub(crate) fn send_signal(&self, signal: &str) {
        let pid = self.pid().to_string();
        let sent = Command::new("kill")
            .args([signal, &pid])
            .status()
            .expect("run kill");
        assert!(sent.success(), "kill {signal} {pid} failed");
    }

    /// Waits (bounded) for the exit status, after `signal` was sent.
    pub(crate) async fn wait_exit(&mut self, signal: &str) -> ExitStatus {
        let deadline = Instant::now() + EXIT_TIMEOUT;
        loop {
            if let Some(status) = self.child_mut().try_wait().expect("try_wait") {
                self.child = None;
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "prickle serve still running {EXIT_TIMEOUT:?} after kill {signal}:\n{}",
                self.log_text()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("http client")
}

/// An API caller: one key against one server.
#[derive(Clone)]
pub(crate) struct Api {
    http: reqwest::Client,
    base: String,
    key: String,
    org: String,
}

impl Api {
    pub(crate) fn new(server: &Server, key: &str, org: &str) -> Api {
        Api {
            http: client(),
            base: server.base.clone(),
            key: key.to_string(),
            org: org.to_string(),
        }
    }

    fn projects(&self) -> String {
        format!("{}/api/organizations/{}/projects/", self.base, self.org)
    }

    fn project(&self, id: i64) -> String {
        format!("{}{id}/", self.projects())
    }

    async fn send(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
    ) -> reqwest::Result<(u16, Value)> {
        let mut req = self.http.request(method, url).bearer_auth(&self.key);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, body))
    }

    pub(crate) async fn call(
        &self,
        method: reqwest::Method,
        url: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        self.send(method.clone(), url, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {url}: {e}"))
    }

    pub(crate) async fn create(&self, name: &str) -> Value {
        let (status, body) = self
            .call(
                reqwest::Method::POST,
                &self.projects(),
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(status, 201, "create {name}: {body}");
        body
    }

    pub(crate) async fn get(&self, id: i64) -> (u16, Value) {
        self.call(reqwest::Method::GET, &self.project(id), None)
            .await
    }

    // Only the scale-out test (tests/services) patches and deletes.
    #[allow(dead_code)]
    pub(crate) async fn patch(&self, id: i64, body: Value) -> (u16, Value) {
        self.call(reqwest::Method::PATCH, &self.project(id), Some(body))
            .await
    }

    // Only the scale-out test (tests/services) patches and deletes.
    #[allow(dead_code)]
    pub(crate) async fn delete(&self, id: i64) -> u16 {
        self.call(reqwest::Method::DELETE, &self.project(id), None)
            .await
            .0
    }

    /// Every project name, following `next` links.
    pub(crate) async fn all_names(&self) -> (i64, Vec<String>) {
        let mut names = Vec::new();
        let mut url = format!("{}?limit=100", self.projects());
        let mut count = -1;
        loop {
            let (status, body) = self.call(reqwest::Method::GET, &url, None).await;
            assert_eq!(status, 200, "list: {body}");
            count = body["count"].as_i64().unwrap_or(count);
            for p in body["results"].as_array().expect("results") {
                names.push(p["name"].as_str().unwrap_or_default().to_string());
            }
            match body["next"].as_str() {
                // Links are built on the site URL (the bind address): the same server.
                Some(next) => url = next.to_string(),
                None => return (count, names),
            }
        }
    }
}

/// What the client was told about one project.
#[derive(Clone, Debug)]
struct Acked {
    id: i64,
    created_name: String,
    /// The rename sent afterwards, and whether it was acknowledged.
    rename: Option<(String, bool)>,
}

#[tokio::test]
async fn acknowledged_writes_survive_sigkill() {
    // Always SQLite: that is where durability is prickle's own job.
    let (database_url, _dir) = sqlite_database();
    let (org, key) = owner_with_key(&database_url, "ada@example.com");
    let acked: Arc<Mutex<Vec<Acked>>> = Arc::default();
    for round in 0..4 {
        let mut server = Server::start(&database_url).await;
        let so_far = acked.lock().unwrap().clone();
        check_acknowledged(&Api::new(&server, &key, &org), &so_far).await;

        let writers = 4;
        // Set just before the SIGKILL: a failed request is expected after it,
        // any other answer at any time is a failure.
        let killed = Arc::new(AtomicBool::new(false));
        let failures: Arc<Mutex<Vec<String>>> = Arc::default();
        let mut tasks = Vec::new();
        for w in 0..writers {
            let api = Api::new(&server, &key, &org);
            let acked = acked.clone();
            let killed = killed.clone();
            let failures = failures.clone();
            tasks.push(tokio::spawn(async move {
                // Did the server answer `expected`? Records anything else.
                let answered =
                    |what: &str, expected: u16, got: reqwest::Result<(u16, Value)>| match got {
                        Ok((status, body)) if status == expected => Some(body),
                        Ok((status, body)) => {
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{what}: {status} {body}"));
                            None
                        }
                        Err(_) if killed.load(Ordering::SeqCst) => None,
                        Err(e) => {
                            failures
                                .lock()
                                .unwrap()
                                .push(format!("{what} failed before the kill: {e}"));
                            None
                        }
                    };
                // Create, then rename, until the server dies under us.
                for n in 0.. {
                    let name = format!("R{round} W{w} N{n}");
                    let created = api
                        .send(
                            reqwest::Method::POST,
                            &api.projects(),
                            Some(json!({ "name": name })),
                        )
                        .await;
                    let Some(body) = answered("create", 201, created) else {
                        return;
                    };
                    let id = body["id"].as_i64().expect("id");
                    let new_name = format!("{name} renamed");
                    let index = {
                        let mut a = acked.lock().unwrap();
                        a.push(Acked {
                            id,
                            created_name: name,
                            rename: Some((new_name.clone(), false)),
                        });
                        a.len() - 1
                    };
                    let body = json!({"name": new_name, "timezone": "Asia/Tokyo"});
                    let renamed = api
                        .send(reqwest::Method::PATCH, &api.project(id), Some(body))
                        .await;
                    if answered("rename", 200, renamed).is_none() {
                        return;
                    }
                    acked.lock().unwrap()[index].rename = Some((new_name, true));
                }
            }));
        }
        // Let some writes be acknowledged, then kill the server mid-stream.
        let before = acked.lock().unwrap().len();
        let deadline = Instant::now() + Duration::from_secs(60);
        while acked.lock().unwrap().len() < before + 20 + 5 * round {
            assert!(
                Instant::now() < deadline,
                "no writes acknowledged:\n{}",
                server.log_text()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        killed.store(true, Ordering::SeqCst);
        server.kill9();
        for t in tasks {
            t.await.expect("writer task");
        }
        let failures = failures.lock().unwrap();
        assert!(
            failures.is_empty(),
            "round {round}: answers other than 2xx: {failures:?}\n{}",
            server.log_text()
        );
        let a = acked.lock().unwrap();
        let unconfirmed = a
            .iter()
            .filter(|x| matches!(x.rename, Some((_, false))))
            .count();
        eprintln!(
            "round {round}: {} projects acknowledged so far, {unconfirmed} renames unconfirmed",
            a.len()
        );
    }
    // `migrate` on the killed database is a no-op, and a final server has everything.
    let out = run(&database_url, &["migrate"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut server = Server::start(&database_url).await;
    let all = acked.lock().unwrap().clone();
    assert!(all.len() >= 4 * 20, "{}", all.len());
    check_acknowledged(&Api::new(&server, &key, &org), &all).await;
    assert!(server.terminate().await.success());
}

/// Every acknowledged create exists; an acknowledged rename shows; an
/// unacknowledged one may or may not have landed.
async fn check_acknowledged(api: &Api, acked: &[Acked]) {
    for a in acked {
        let (status, got) = api.get(a.id).await;
        assert_eq!(status, 200, "acknowledged project {a:?} lost: {got}");
        let name = got["name"].as_str().unwrap_or_default();
        match &a.rename {
            Some((renamed, true)) => {
                assert_eq!(name, renamed, "acknowledged rename lost: {a:?}");
                assert_eq!(got["timezone"], "Asia/Tokyo");
            }
            Some((renamed, false)) => {
                assert!(name == a.created_name || name == renamed, "{a:?}: {name}")
            }
            None => assert_eq!(name, a.created_name),
        }
    }
    let (count, _) = api.all_names().await;
    assert!(count >= acked.len() as i64);
}

#[tokio::test]
async fn sigterm_and_sigint_exit_zero_promptly() {
    let (database_url, _dir) = suite_database().await;
    let (org, key) = owner_with_key(&database_url, "ada@example.com");
    for signal in ["-TERM", "-INT"] {
        let mut server = Server::start(&database_url).await;
        let api = Api::new(&server, &key, &org);
        let r = api
            .http
            .get(server.url("/_health"))
            .send()
            .await
            .expect("health");
        assert_eq!(r.status(), 200);
        // The client keeps an idle keep-alive connection open: shutdown must
        // not wait on it (the grace period outlasts EXIT_TIMEOUT).
        let created = api.create(&format!("Before {signal}")).await;
        assert_eq!(api.get(created["id"].as_i64().unwrap()).await.0, 200);
        let status = server.signal(signal).await;
        assert_eq!(
            status.code(),
            Some(0),
            "kill {signal}: exit status {status}:\n{}",
            server.log_text()
        );
        // Stopped means stopped.
        assert!(api.http.get(server.url("/_health")).send().await.is_err());
    }
    // Both writes were committed before the shutdowns.
    let server = Server::start(&database_url).await;
    let (count, names) = Api::new(&server, &key, &org).all_names().await;
    assert_eq!(count, 2, "{names:?}");
}

/// Rows in every table, to show a refused command wrote nothing.
pub(crate) async fn row_counts(db: &Db) -> Vec<(String, i64)> {
    fn table(t: impl Iden + 'static) -> (String, sea_query::SelectStatement) {
        let name = t.to_string();
        let stmt = Query::select()
            .expr(Expr::cust("COUNT(*)"))
            .from(t)
            .to_owned();
        (name, stmt)
    }
    let tables = [
        table(Users::Table),
        table(Organizations::Table),
        table(OrganizationMemberships::Table),
        table(PersonalApiKeys::Table),
        table(Projects::Table),
        table(ActivityLog::Table),
        table(LegalDocuments::Table),
        table(OauthApplications::Table),
    ];
    let mut tx = db.read().await.expect("read");
    let mut out = Vec::new();
    for (name, stmt) in tables {
        let n = tx
            .query_opt(&stmt, |r| r.i64(0))
            .await
            .expect("count")
            .unwrap_or(0);
        out.push((name, n));
    }
    tx.commit().await.expect("commit");
    out
}

#[tokio::test]
async fn admin_cli_output_contract() {
    let (database_url, _dir) = suite_database().await;
    for _ in 0..2 {
        let out = run(&database_url, &["migrate"]);
        assert!(
            out.status.success(),
            "migrate: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.stdout.is_empty(), "migrate prints nothing on stdout");
    }

    let user = admin(
        &database_url,
        &[
            "create-user",
            "--email",
            "ada@example.com",
            "--first-name",
            "Ada",
            "--last-name",
            "Lovelace",
        ],
    );
    for field in [
        "id",
        "uuid",
        "distinct_id",
        "first_name",
        "last_name",
        "email",
        "is_email_verified",
        "hedgehog_config",
        "role_at_organization",
    ] {
        assert!(user.get(field).is_some(), "user lacks {field}: {user}");
    }
    assert_eq!(user["email"], "ada@example.com");
    assert_eq!(user["first_name"], "Ada");

    let org = admin(
        &database_url,
        &[
            "create-organization",
            "--name",
            "Analytical Engines",
            "--owner-email",
            "ada@example.com",
        ],
    );
    assert_eq!(org["name"], "Analytical Engines");
    let org_id = org["id"].as_str().expect("org id").to_string();
    assert!(uuid::Uuid::parse_str(&org_id).is_ok(), "{org_id}");

    admin(
        &database_url,
        &["create-user", "--email", "charles@example.com"],
    );
    let member = admin(
        &database_url,
        &[
            "add-member",
            "--organization",
            &org_id,
            "--email",
            "charles@example.com",
            "--level",
            "8",
        ],
    );
    assert_eq!(member["level"], 8);
    assert_eq!(member["user"]["email"], "charles@example.com");
    assert!(member.get("id").is_some() && member.get("joined_at").is_some());

    let key = admin(
        &database_url,
        &[
            "create-personal-api-key",
            "--email",
            "ada@example.com",
            "--label",
            "laptop",
            "--scopes",
            "project:read,organization:write",
            "--scoped-organizations",
            &org_id,
        ],
    );
    assert_eq!(key["label"], "laptop");
    assert!(key["value"].as_str().is_some_and(|v| v.starts_with("phx_")));
    assert_eq!(key["scopes"], json!(["project:read", "organization:write"]));
    assert_eq!(key["scoped_organizations"], json!([org_id]));
    assert!(key.get("id").is_some() && key.get("scoped_teams").is_some());
    let default_key = admin(
        &database_url,
        &["create-personal-api-key", "--email", "charles@example.com"],
    );
    assert_eq!(default_key["scopes"], json!(["*"]));

    let db = Db::connect(&database_url).await.expect("connect");
    let before = row_counts(&db).await;
    let missing_org = uuid::Uuid::new_v4().to_string();
    let bad: Vec<Vec<&str>> = vec![
        // Unknown email.
        vec![
            "create-organization",
            "--name",
            "X",
            "--owner-email",
            "nobody@example.com",
        ],
        vec!["create-personal-api-key", "--email", "nobody@example.com"],
        vec![
            "add-member",
            "--organization",
            &org_id,
            "--email",
            "nobody@example.com",
            "--level",
            "1",
        ],
        // Duplicate email (case-insensitive, as PostHog).
        vec!["create-user", "--email", "ada@example.com"],
        vec!["create-user", "--email", "ADA@example.com"],
        // Invalid level.
        vec![
            "add-member",
            "--organization",
            &org_id,
            "--email",
            "ada@example.com",
            "--level",
            "3",
        ],
        // Invalid scope.
        vec![
            "create-personal-api-key",
            "--email",
            "ada@example.com",
            "--scopes",
            "nope:read",
        ],
        vec![
            "create-personal-api-key",
            "--email",
            "ada@example.com",
            "--scopes",
            "project:read,project:delete",
        ],
        // Unknown organization.
        vec![
            "add-member",
            "--organization",
            &missing_org,
            "--email",
            "charles@example.com",
            "--level",
            "1",
        ],
        vec![
            "add-member",
            "--organization",
            "not-a-uuid",
            "--email",
            "charles@example.com",
            "--level",
            "1",
        ],
        vec![
            "create-personal-api-key",
            "--email",
            "ada@example.com",
            "--scoped-organizations",
            &missing_org,
        ],
        // Already a member.
        vec![
            "add-member",
            "--organization",
            &org_id,
            "--email",
            "charles@example.com",
            "--level",
            "1",
        ],
        // Invalid email.
        vec!["create-user", "--email", "not an email"],
    ];
    for args in &bad {
        let out = run(&database_url, &[&["admin"], args.as_slice()].concat());
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded: {stdout}");
        assert!(stdout.is_empty(), "{args:?} printed on stdout: {stdout:?}");
        assert_eq!(
            stderr.trim_end().lines().count(),
            1,
            "{args:?}: one line on stderr, got {stderr:?}"
        );
        assert!(!stderr.trim().is_empty(), "{args:?}: empty error");
    }
    assert_eq!(row_counts(&db).await, before, "a refused command wrote");
}

/// `admin list-/revoke-/roll-personal-api-key` through the binary, against a
/// server running on the same database: the change holds from the server's
/// next request on.
#[tokio::test]
async fn admin_key_commands_take_effect_on_a_running_server() {
    let (database_url, _dir) = suite_database().await;
    let (org, key) = owner_with_key(&database_url, "grace@example.com");
    let listed = admin(
        &database_url,
        &["list-personal-api-keys", "--email", "grace@example.com"],
    );
    let results = listed["results"].as_array().expect("results");
    assert_eq!(results.len(), 1, "{listed}");
    let id = results[0]["id"].as_str().expect("id").to_string();
    assert_eq!(results[0]["value"], Value::Null);
    assert_eq!(results[0]["scopes"], json!(["*"]));
    assert!(!listed.to_string().contains(&key), "never the value");

    let server = Server::start(&database_url).await;
    let api = Api::new(&server, &key, &org);
    let (status, _) = api.call(reqwest::Method::GET, &api.projects(), None).await;
    assert_eq!(status, 200);

    let rolled = admin(&database_url, &["roll-personal-api-key", "--id", &id]);
    assert_eq!(rolled["id"], id.as_str());
    let new_value = rolled["value"].as_str().expect("new value").to_string();
    assert!(new_value.starts_with("phx_") && new_value != key);
    assert!(rolled["last_rolled_at"].is_string());
    let (status, _) = api.call(reqwest::Method::GET, &api.projects(), None).await;
    assert_eq!(status, 401, "the old value is refused");
    let api = Api::new(&server, &new_value, &org);
    let me = format!("{}/api/personal_api_keys/@current/", server.base);
    let (status, body) = api.call(reqwest::Method::GET, &me, None).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], id.as_str());

    let revoked = admin(&database_url, &["revoke-personal-api-key", "--id", &id]);
    assert_eq!(revoked["id"], id.as_str());
    assert_eq!(revoked["value"], Value::Null);
    let (status, _) = api.call(reqwest::Method::GET, &api.projects(), None).await;
    assert_eq!(status, 401, "revoked");
    let listed = admin(
        &database_url,
        &["list-personal-api-keys", "--email", "grace@example.com"],
    );
    assert_eq!(listed, json!({"results": []}));

    for args in [
        vec!["revoke-personal-api-key", "--id", &id],
        vec!["roll-personal-api-key", "--id", "nope"],
        vec!["list-personal-api-keys", "--email", "nobody@example.com"],
    ] {
        let out = run(&database_url, &[&["admin"], args.as_slice()].concat());
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stderr)
                .trim_end()
                .lines()
                .count(),
            1,
            "{args:?}"
        );
    }
}

/// No process serves a stale grant: with two servers on one database, a
/// member's rule on a project is toggled (hidden, then visible again) and,
/// once the write has committed, neither server answers from the old rule.
/// The rule is written by the owner's PUT on either server.
#[tokio::test]
async fn a_rule_change_is_seen_at_once_by_every_process() {
    let (database_url, _dir) = suite_database().await;
    let (org, owner_key) = owner_with_key(&database_url, "ruler@example.com");
    admin(
        &database_url,
        &["create-user", "--email", "ruled@example.com"],
    );
    let member = admin(
        &database_url,
        &[
            "add-member",
            "--organization",
            &org,
            "--email",
            "ruled@example.com",
            "--level",
            "1",
        ],
    );
    let membership = member["id"].as_str().expect("membership id").to_string();
    let key = admin(
        &database_url,
        &[
            "create-personal-api-key",
            "--email",
            "ruled@example.com",
            "--scopes",
            "*",
        ],
    )["value"]
        .as_str()
        .expect("key")
        .to_string();
    let a = Server::start(&database_url).await;
    let b = Server::start(&database_url).await;
    let owner_on = |server| Api::new(server, &owner_key, &org);
    let project = owner_on(&a).create("Toggled").await["id"]
        .as_i64()
        .expect("id");
    let (on_a, on_b) = (Api::new(&a, &key, &org), Api::new(&b, &key, &org));
    for round in 0..20 {
        let level = if round % 2 == 0 { "none" } else { "member" };
        // The owner's PUT on one server, alternately; its 200 means committed.
        let writer = owner_on(if round % 4 < 2 { &a } else { &b });
        let url = format!("{}access_controls/", writer.project(project));
        let body = json!({"access_level": level, "organization_member": membership});
        let (status, answer) = writer.call(reqwest::Method::PUT, &url, Some(body)).await;
        assert_eq!(status, 200, "round {round}: {answer}");
        let want = if level == "none" { 404 } else { 200 };
        for (name, api) in [("A", &on_a), ("B", &on_b)] {
            let (status, body) = api.get(project).await;
            assert_eq!(status, want, "round {round} on {name}: {body}");
        }
    }
}
