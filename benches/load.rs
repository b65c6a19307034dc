//! Load benchmark: `cargo bench --bench load`.
//!
//! Starts the release `prickle` binary on a fresh SQLite database, seeds one
//! organization with 1,000 projects, then drives each endpoint with N
//! concurrent keep-alive HTTP/1.1 connections (hyper's connection-level
//! client, one tokio thread) and compares its throughput with `/_health`
//! measured in the same run. The server runs with SQLite's default
//! `synchronous=FULL`; PATCH is then measured again on a second server over
//! the same database with `PRICKLE_SQLITE_SYNCHRONOUS=normal`, against the
//! same `/_health` figure. Then every project is made private and GET
//! project is measured for the owner and then for a plain member with a
//! member rule on each (issue 15's cost of the rules). Last, on PostgreSQL
//! seeded the same way, GET project on one server, then on two processes
//! sharing the database with the connections split between them (issue 16's
//! cost of scaling out). Prints a table, the servers' peak RSS and the
//! targets with PASS/FAIL (SKIP for a phase not run); exits non-zero when a
//! target fails or any request got a non-2xx answer.
//!
//! Environment: `PRICKLE_BENCH_SECONDS` (default 10) per endpoint,
//! `PRICKLE_BENCH_CONNECTIONS` (default 64), `PRICKLE_BENCH_WARMUP_SECONDS`
//! (default 1, not measured), `PRICKLE_BENCH_PROJECTS` (default 1000),
//! `PRICKLE_BENCH_MEMBERS` (default 10000: the members of a second
//! organization, whose list is measured at its first and last page),
//! `PRICKLE_BENCH_BIN` (another `prickle` binary, e.g. one built with debug
//! info for profiling; default: the release build cargo made for the bench),
//! `PRICKLE_BENCH_ONLY` (comma-separated prefixes of phase names, e.g.
//! `GET projects/:id/,PG`: only those phases run, and what they need seeded;
//! `/_health` always runs), `PRICKLE_BENCH_DATABASE_URL` (an empty
//! PostgreSQL database for the PG phases; default: `prickle_bench_<pid>`,
//! created on the machine's PostgreSQL at 127.0.0.1:5432 and dropped at the
//! end). When PostgreSQL is unreachable the PG phases are skipped, said so,
//! unless `CI=true`, where the run fails.

#[path = "load/postgres.rs"]
mod postgres;
#[path = "load/targets.rs"]
mod targets;

use std::fs::File;
use std::process::{Child, Command, ExitCode, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpStream;

use targets::Only;

/// The binary under test: the release build cargo made for this bench, or
/// `PRICKLE_BENCH_BIN` (e.g. a build with debug info, for profiling).
fn bin() -> String {
    std::env::var("PRICKLE_BENCH_BIN")
        .ok()
        .filter(|b| !b.is_empty())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_prickle").to_string())
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => v
            .trim()
            .parse()
            .unwrap_or_else(|_| panic!("{name} must be a number, got {v:?}")),
        _ => default,
    }
}

/// The server process; killed (and reaped) when dropped, also on panic.
struct Server {
    child: Child,
    log: std::path::PathBuf,
}

impl Server {
    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(20)..].join("\n")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `prickle serve` on a free port over `database_url`, with `env` added.
fn start_server(
    database_url: &str,
    dir: &std::path::Path,
    name: &str,
    env: &[(&str, &str)],
) -> (Server, u16) {
    let port = free_port();
    let log = dir.join(format!("{name}.log"));
    let log_file = File::create(&log).expect("server log");
    let child = Command::new(bin())
        .args(["serve", "--bind", &format!("127.0.0.1:{port}")])
        .env("DATABASE_URL", database_url)
        .env("RUST_LOG", "warn")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(log_file.try_clone().expect("server log"))
        .stderr(log_file)
        .spawn()
        .expect("start prickle serve");
    (Server { child, log }, port)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind an ephemeral port")
        .port()
}

/// Runs `prickle admin ...` and returns the JSON object it prints.
fn admin(database_url: &str, args: &[&str]) -> Value {
    let out = Command::new(bin())
        .arg("admin")
        .args(args)
        .env("DATABASE_URL", database_url)
        .output()
        .expect("run prickle admin");
    assert!(
        out.status.success(),
        "prickle admin {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "prickle admin {args:?} printed no JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

type Sender = SendRequest<Full<Bytes>>;

async fn connect(port: u16) -> std::io::Result<Sender> {
    let stream = TcpStream::connect(("127.0.0.1", port)).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::task::spawn_local(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// What a request looks like; every part is cheap to clone (refcounted).
#[derive(Clone)]
struct Spec {
    method: Method,
    uri: Uri,
    body: Bytes,
}

/// Headers shared by every request.
#[derive(Clone)]
struct Common {
    host: HeaderValue,
    auth: HeaderValue,
    json: HeaderValue,
}

fn build(spec: &Spec, common: &Common, with_auth: bool) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(spec.body.clone()));
    *req.method_mut() = spec.method.clone();
    *req.uri_mut() = spec.uri.clone();
    let h = req.headers_mut();
    h.insert(HOST, common.host.clone());
    if with_auth {
        h.insert(AUTHORIZATION, common.auth.clone());
    }
    if !spec.body.is_empty() {
        h.insert(CONTENT_TYPE, common.json.clone());
    }
    req
}

/// Sends one request; returns the status and, when asked, the body.
async fn send(
    sender: &mut Sender,
    req: Request<Full<Bytes>>,
    keep_body: bool,
) -> Result<(u16, Option<Bytes>), String> {
    sender.ready().await.map_err(|e| e.to_string())?;
    let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let mut body = resp.into_body();
    if keep_body {
        let bytes = body.collect().await.map_err(|e| e.to_string())?.to_bytes();
        return Ok((status, Some(bytes)));
    }
    // Drain without collecting: the connection is reusable once the body is read.
    while let Some(frame) = body.frame().await {
        frame.map_err(|e| e.to_string())?;
    }
    Ok((status, None))
}

async fn wait_for_health(server: &mut Server, port: u16, common: &Common) {
    let spec = Spec {
        method: Method::GET,
        uri: Uri::from_static("/_health"),
        body: Bytes::new(),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = server.child.try_wait() {
            panic!(
                "prickle serve exited with {status} before answering /_health:\n{}",
                server.log_tail()
            );
        }
        if let Ok(mut s) = connect(port).await {
            if let Ok((200, _)) = send(&mut s, build(&spec, common, false), false).await {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "/_health did not answer 200 within 30 s:\n{}",
            server.log_tail()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Creates `count` projects over a few connections; returns their ids.
async fn seed(port: u16, org: &str, common: &Common, count: usize) -> Vec<i64> {
    let workers = 8.min(count.max(1));
    let uri: Uri = format!("/api/organizations/{org}/projects/")
        .parse()
        .unwrap();
    let mut handles = Vec::new();
    for w in 0..workers {
        let uri = uri.clone();
        let common = common.clone();
        handles.push(tokio::task::spawn_local(async move {
            let mut sender = connect(port).await.expect("connect for seeding");
            let mut ids = Vec::new();
            for n in (w..count).step_by(workers) {
                let spec = Spec {
                    method: Method::POST,
                    uri: uri.clone(),
                    body: Bytes::from(format!(r#"{{"name": "Project {n}"}}"#)),
                };
                let (status, body) = send(&mut sender, build(&spec, &common, true), true)
                    .await
                    .expect("create project");
                let body = body.unwrap_or_default();
                assert_eq!(
                    status,
                    201,
                    "creating project {n}: {}",
                    String::from_utf8_lossy(&body)
                );
                let v: Value = serde_json::from_slice(&body).expect("project JSON");
                ids.push(v["id"].as_i64().expect("project id"));
            }
            ids
        }));
    }
    let mut ids = Vec::with_capacity(count);
    for h in handles {
        ids.extend(h.await.expect("seeding task"));
    }
    ids.sort_unstable();
    ids
}

/// Per-connection results.
#[derive(Default)]
struct Tally {
    ok: u64,
    non_2xx: u64,
    transport_errors: u64,
    first_problem: Option<String>,
    /// Microseconds, successful requests only.
    latencies: Vec<u32>,
}

struct Outcome {
    name: &'static str,
    rps: f64,
    p50_ms: f64,
    p99_ms: f64,
    non_2xx: u64,
    transport_errors: u64,
    first_problem: Option<String>,
}

/// How every endpoint is driven.
#[derive(Clone)]
struct Load {
    port: u16,
    common: Common,
    connections: usize,
    warmup: Duration,
    measure: Duration,
}

/// The request a connection sends as its `n`th: `make(connection, n)`.
type Maker = Rc<dyn Fn(usize, u64) -> Spec>;

/// Fills organization `org` with `count` members in all (its owner
/// included), written straight to the database in one transaction: far
/// faster than one `admin add-member` process each.
async fn seed_members(database_url: &str, org: &str, count: usize) {
    use prickle::storage::schema::{OrganizationMemberships as M, Users as U};
    use sea_query::Query;
    let db = prickle::storage::Db::connect(database_url)
        .await
        .expect("connect for seeding members");
    let mut tx = db.write().await.expect("write transaction");
    let start = prickle::time::now_micros() - count as i64 * 1000;
    let mut added = 1;
    while added < count {
        let batch = (count - added).min(500);
        let mut users = Query::insert();
        users.into_table(U::Table).columns([
            U::Uuid,
            U::DistinctId,
            U::FirstName,
            U::LastName,
            U::Email,
            U::EmailKey,
            U::IsActive,
            U::DateJoined,
        ]);
        for n in added..added + batch {
            let email = format!("member{n}@example.com");
            users.values_panic([
                uuid::Uuid::now_v7().to_string().into(),
                format!("distinct-{n}").into(),
                format!("Member {n}").into(),
                "Crowd".into(),
                email.clone().into(),
                email.into(),
                true.into(),
                start.into(),
            ]);
        }
        users.returning_col(U::Id);
        let ids = tx.query(&users, |r| r.i64(0)).await.expect("insert users");
        let mut memberships = Query::insert();
        memberships.into_table(M::Table).columns([
            M::Id,
            M::OrganizationId,
            M::UserId,
            M::Level,
            M::JoinedAt,
            M::UpdatedAt,
        ]);
        for (i, id) in ids.iter().enumerate() {
            let joined = start + (added + i) as i64 * 1000;
            memberships.values_panic([
                uuid::Uuid::now_v7().to_string().into(),
                org.into(),
                (*id).into(),
                1i64.into(),
                joined.into(),
                joined.into(),
            ]);
        }
        tx.execute(&memberships).await.expect("insert memberships");
        added += batch;
    }
    tx.commit().await.expect("commit members");
}

const MEMBERS_FIRST: &str = "GET members/ offset 0";
const MEMBERS_LAST: &str = "GET members/ offset 9900";

/// The member list of the crowded organization, 100 a page, at its first
/// page and at its last.
async fn member_lists(load: &Load, only: &Only, org: &str, count: usize) -> Vec<Outcome> {
    let last_offset = count.saturating_sub(100);
    let mut out = Vec::new();
    for (name, offset) in [(MEMBERS_FIRST, 0), (MEMBERS_LAST, last_offset)] {
        if !only.runs(name) {
            continue;
        }
        let uri: Uri = format!("/api/organizations/{org}/members/?limit=100&offset={offset}")
            .parse()
            .unwrap();
        let make: Maker = Rc::new(move |_, _| Spec {
            method: Method::GET,
            uri: uri.clone(),
            body: Bytes::new(),
        });
        out.push(phase(load, name, true, make).await);
    }
    out
}

/// `connections` keep-alive connections, each sending back to back until
/// the deadline; only requests started after the warm-up are measured.
async fn run_endpoint(load: &Load, name: &'static str, with_auth: bool, make: Maker) -> Outcome {
    run_spread(&[load], name, with_auth, make).await
}

/// `run_endpoint` over several servers at once, each with its `Load`'s
/// connections, all measured over the first one's window and counted as
/// one: the throughput of processes sharing a database.
async fn run_spread(loads: &[&Load], name: &'static str, with_auth: bool, make: Maker) -> Outcome {
    let (warmup, measure) = (loads[0].warmup, loads[0].measure);
    let connections: usize = loads.iter().map(|l| l.connections).sum();
    let mut senders = Vec::with_capacity(connections);
    for load in loads {
        for _ in 0..load.connections {
            let sender = connect(load.port).await.expect("connect");
            senders.push((load.port, load.common.clone(), sender));
        }
    }
    let start = Instant::now();
    let measured_from = start + warmup;
    let end = measured_from + measure;
    let expected = (measure.as_secs_f64() * 200_000.0 / connections as f64) as usize + 1024;
    let mut handles = Vec::with_capacity(connections);
    for (c, (port, common, mut sender)) in senders.into_iter().enumerate() {
        let make = make.clone();
        handles.push(tokio::task::spawn_local(async move {
            let mut t = Tally {
                latencies: Vec::with_capacity(expected),
                ..Tally::default()
            };
            let mut n: u64 = 0;
            loop {
                let begun = Instant::now();
                if begun >= end {
                    break;
                }
                let req = build(&make(c, n), &common, with_auth);
                n += 1;
                let result = send(&mut sender, req, false).await;
                let measured = begun >= measured_from;
                match result {
                    Ok((status, _)) if (200..300).contains(&status) => {
                        if measured {
                            t.ok += 1;
                            let us = begun.elapsed().as_micros().min(u32::MAX as u128) as u32;
                            t.latencies.push(us);
                        }
                    }
                    Ok((status, _)) => {
                        t.non_2xx += 1;
                        t.first_problem
                            .get_or_insert_with(|| format!("HTTP {status} (connection {c})"));
                    }
                    Err(e) => {
                        t.transport_errors += 1;
                        t.first_problem
                            .get_or_insert_with(|| format!("transport error: {e}"));
                        match connect(port).await {
                            Ok(s) => sender = s,
                            Err(e) => {
                                t.first_problem = Some(format!("reconnect failed: {e}"));
                                break;
                            }
                        }
                    }
                }
            }
            t
        }));
    }
    let mut all = Tally::default();
    for h in handles {
        let t = h.await.expect("connection task");
        all.ok += t.ok;
        all.non_2xx += t.non_2xx;
        all.transport_errors += t.transport_errors;
        if all.first_problem.is_none() {
            all.first_problem = t.first_problem;
        }
        all.latencies.extend_from_slice(&t.latencies);
    }
    let elapsed = Instant::now().saturating_duration_since(measured_from);
    let secs = elapsed.as_secs_f64().max(measure.as_secs_f64()).max(1e-9);
    all.latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if all.latencies.is_empty() {
            return f64::NAN;
        }
        let i = ((all.latencies.len() as f64 * p).ceil() as usize).clamp(1, all.latencies.len());
        all.latencies[i - 1] as f64 / 1000.0
    };
    Outcome {
        name,
        rps: all.ok as f64 / secs,
        p50_ms: pct(0.50),
        p99_ms: pct(0.99),
        non_2xx: all.non_2xx,
        transport_errors: all.transport_errors,
        first_problem: all.first_problem,
    }
}

/// VmHWM (peak resident set) of a process, in MB.
fn peak_rss_mb(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

/// PATCHes of a project's timezone: each connection owns the projects
/// i ≡ c (mod connections) and flips theirs between `zones` on every visit,
/// so every PATCH is a real write.
fn patch_maker(uris: Rc<Vec<Uri>>, connections: usize, zones: [&str; 2]) -> Maker {
    let zones = zones.map(|z| Bytes::from(format!(r#"{{"timezone": "{z}"}}"#)));
    Rc::new(move |c, n| {
        let owned = (uris.len() + connections - 1 - c) / connections;
        let (slot, visit) = if owned == 0 {
            // More connections than projects: share them.
            ((c + n as usize * connections) % uris.len(), n)
        } else {
            (c + (n as usize % owned) * connections, n / owned as u64)
        };
        Spec {
            method: Method::PATCH,
            uri: uris[slot % uris.len()].clone(),
            body: zones[(visit % 2) as usize].clone(),
        }
    })
}

const HEALTH: &str = "GET /_health";
const LIST: &str = "GET projects/?limit=100";
const PATCH_FULL: &str = "PATCH projects/:id/ FULL";
const PATCH_NORMAL: &str = "PATCH projects/:id/ normal";
const INVITES_LIST: &str = "GET invites/";
const INVITES_CREATE: &str = "POST invites/";

/// Every phase, in the order a full run measures them.
const PHASES: &[&str] = &[
    HEALTH,
    LIST,
    RETRIEVE,
    PATCH_FULL,
    INVITES_LIST,
    INVITES_CREATE,
    MEMBERS_FIRST,
    MEMBERS_LAST,
    PATCH_NORMAL,
    RETRIEVE_OWNER,
    RETRIEVE_PRIVATE,
    postgres::RETRIEVE,
    postgres::RETRIEVE_X2,
];

/// What every phase of a run shares.
struct Run {
    only: Only,
    connections: usize,
    warmup: Duration,
    measure: Duration,
    projects: usize,
    members: usize,
    dir: std::path::PathBuf,
}

impl Run {
    fn load(&self, port: u16, common: Common) -> Load {
        Load {
            port,
            common,
            connections: self.connections,
            warmup: self.warmup,
            measure: self.measure,
        }
    }
}

/// Runs one phase and says how it went.
async fn phase(load: &Load, name: &'static str, with_auth: bool, make: Maker) -> Outcome {
    let o = run_endpoint(load, name, with_auth, make).await;
    eprintln!("  {name}: {:.0} req/s", o.rps);
    o
}

/// Tells, with its log, of a server that died before its phases ended.
fn report_exit(server: &mut Server) {
    if let Ok(Some(status)) = server.child.try_wait() {
        eprintln!(
            "prickle serve exited early with {status}:\n{}",
            server.log_tail()
        );
    }
}

/// A user owning a new organization, with a key of every scope: the
/// organization's id and the key.
fn owner_with_key(database_url: &str) -> (String, String) {
    admin(
        database_url,
        &[
            "create-user",
            "--email",
            "bench@example.com",
            "--first-name",
            "Bench",
        ],
    );
    let org = admin(
        database_url,
        &[
            "create-organization",
            "--name",
            "Benchmarks",
            "--owner-email",
            "bench@example.com",
        ],
    )["id"]
        .as_str()
        .expect("organization id")
        .to_string();
    let key = admin(
        database_url,
        &[
            "create-personal-api-key",
            "--email",
            "bench@example.com",
            "--label",
            "bench",
            "--scopes",
            "*",
        ],
    )["value"]
        .as_str()
        .expect("key value")
        .to_string();
    (org, key)
}

/// A plain member of `org` with a key of every scope, whose every project
/// is made private to them but for a member rule: GET project through the
/// access rules.
fn plain_member_key(database_url: &str, org: &str) -> String {
    admin(
        database_url,
        &[
            "create-user",
            "--email",
            "member@example.com",
            "--first-name",
            "Member",
        ],
    );
    admin(
        database_url,
        &[
            "add-member",
            "--organization",
            org,
            "--email",
            "member@example.com",
            "--level",
            "1",
        ],
    );
    admin(
        database_url,
        &[
            "create-personal-api-key",
            "--email",
            "member@example.com",
            "--label",
            "bench",
            "--scopes",
            "*",
        ],
    )["value"]
        .as_str()
        .expect("key value")
        .to_string()
}

/// A second organization of the owner's with `count` members in all; its id.
fn crowd_organization(database_url: &str, count: usize) -> String {
    let crowd = admin(
        database_url,
        &[
            "create-organization",
            "--name",
            "Crowd",
            "--owner-email",
            "bench@example.com",
        ],
    )["id"]
        .as_str()
        .expect("organization id")
        .to_string();
    let seeded = Instant::now();
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(seed_members(database_url, &crowd, count));
    eprintln!(
        "seeded {count} members in {:.1} s",
        seeded.elapsed().as_secs_f64()
    );
    crowd
}

fn project_uris(org: &str, ids: &[i64]) -> Rc<Vec<Uri>> {
    Rc::new(
        ids.iter()
            .map(|id| {
                format!("/api/organizations/{org}/projects/{id}/")
                    .parse()
                    .unwrap()
            })
            .collect(),
    )
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn main() -> ExitCode {
    let seconds: f64 = env_or("PRICKLE_BENCH_SECONDS", 10.0);
    let connections: usize = env_or("PRICKLE_BENCH_CONNECTIONS", 64);
    let warmup_seconds: f64 = env_or("PRICKLE_BENCH_WARMUP_SECONDS", 1.0);
    let project_count: usize = env_or("PRICKLE_BENCH_PROJECTS", 1000);
    let member_count: usize = env_or("PRICKLE_BENCH_MEMBERS", 10_000);
    assert!(connections > 0 && seconds > 0.0 && project_count > 0);
    let dir = tempfile::tempdir().expect("tempdir");
    let run = Run {
        only: Only::from_env(PHASES),
        connections,
        warmup: Duration::from_secs_f64(warmup_seconds),
        measure: Duration::from_secs_f64(seconds),
        projects: project_count,
        members: member_count,
        dir: dir.path().to_path_buf(),
    };

    // First, so that an unreachable PostgreSQL fails a CI run at once.
    let (pg, pg_skipped) = if run.only.any(postgres::PHASES) {
        match postgres::Database::open() {
            Ok(db) => (Some(db), None),
            Err(why) if in_ci() => {
                println!("FAILURE: CI=true and {why}");
                return ExitCode::FAILURE;
            }
            Err(why) => {
                eprintln!("PostgreSQL phases skipped: {why}");
                (None, Some(why))
            }
        }
    } else {
        (None, None)
    };

    let database_url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let (org, key) = owner_with_key(&database_url);
    let member_key = plain_member_key(&database_url, &org);
    let crowd = run
        .only
        .any(&[MEMBERS_FIRST, MEMBERS_LAST])
        .then(|| crowd_organization(&database_url, member_count));
    let seeded = Seeded {
        org,
        key,
        member_key,
        crowd,
    };
    eprintln!(
        "measuring {seconds} s per endpoint ({warmup_seconds} s warm-up), {connections} connections"
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let local = tokio::task::LocalSet::new();
    let (outcomes, peak, pg_peaks) = local.block_on(&runtime, async {
        let (mut outcomes, peak) = sqlite_phases(&run, &database_url, &seeded).await;
        let mut pg_peaks = Vec::new();
        if let Some(pg) = &pg {
            let (more, peaks) = postgres::phases(&run, &pg.url).await;
            outcomes.extend(more);
            pg_peaks = peaks;
        }
        (outcomes, peak, pg_peaks)
    });
    drop(pg);

    let failed = report(&run, &outcomes, peak, &pg_peaks, pg_skipped.as_deref());
    drop(dir);
    if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    }
}

/// The SQLite database's users, organizations and keys.
struct Seeded {
    org: String,
    key: String,
    member_key: String,
    /// The organization of `Run::members` members, when a member list is measured.
    crowd: Option<String>,
}

/// The SQLite phases `run` asks for, and the first server's peak RSS.
async fn sqlite_phases(
    run: &Run,
    database_url: &str,
    seeded: &Seeded,
) -> (Vec<Outcome>, Option<f64>) {
    let only = &run.only;
    let org = &seeded.org;
    let (mut server, port) = start_server(
        database_url,
        &run.dir,
        "server-full",
        &[("PRICKLE_SQLITE_SYNCHRONOUS", "full")],
    );
    let common = Common {
        host: HeaderValue::from_str(&format!("127.0.0.1:{port}")).unwrap(),
        auth: HeaderValue::from_str(&format!("Bearer {}", seeded.key)).unwrap(),
        json: HeaderValue::from_static("application/json"),
    };
    wait_for_health(&mut server, port, &common).await;
    let private = [RETRIEVE_OWNER, RETRIEVE_PRIVATE];
    let ids = if only.any(&[LIST, RETRIEVE, PATCH_FULL, PATCH_NORMAL]) || only.any(&private) {
        let seeded = Instant::now();
        let ids = seed(port, org, &common, run.projects).await;
        eprintln!(
            "seeded {} projects in {:.1} s",
            ids.len(),
            seeded.elapsed().as_secs_f64()
        );
        ids
    } else {
        Vec::new()
    };
    let project_uris = project_uris(org, &ids);
    let list_uri: Uri = format!("/api/organizations/{org}/projects/?limit=100")
        .parse()
        .unwrap();

    let health: Maker = Rc::new(|_, _| Spec {
        method: Method::GET,
        uri: Uri::from_static("/_health"),
        body: Bytes::new(),
    });
    let list: Maker = Rc::new(move |_, _| Spec {
        method: Method::GET,
        uri: list_uri.clone(),
        body: Bytes::new(),
    });
    let retrieve = project_retrieve(project_uris.clone());
    let patch = patch_maker(
        project_uris.clone(),
        run.connections,
        ["Europe/Berlin", "America/New_York"],
    );

    let mut plan: Vec<(&'static str, bool, Maker)> = vec![
        (HEALTH, false, health),
        (LIST, true, list),
        (RETRIEVE, true, retrieve),
        (PATCH_FULL, true, patch),
    ];
    if only.any(&[INVITES_LIST, INVITES_CREATE]) {
        plan.extend(invite_plan(port, org, &common).await);
    }
    let load = run.load(port, common.clone());
    let mut outcomes = Vec::new();
    for (name, with_auth, make) in plan {
        if only.runs(name) {
            outcomes.push(phase(&load, name, with_auth, make).await);
        }
    }
    if let Some(crowd) = &seeded.crowd {
        outcomes.extend(member_lists(&load, only, crowd, run.members).await);
    }
    let peak = peak_rss_mb(server.pid());
    report_exit(&mut server);
    drop(server);
    if !only.runs(PATCH_NORMAL) && !only.any(&private) {
        return (outcomes, peak);
    }

    // The same writes on a second server over the same database, with
    // synchronous=NORMAL; zones the first run never set, so that every
    // PATCH is again a real write.
    let (mut normal, port) = start_server(
        database_url,
        &run.dir,
        "server-normal",
        &[("PRICKLE_SQLITE_SYNCHRONOUS", "normal")],
    );
    let common = Common {
        host: HeaderValue::from_str(&format!("127.0.0.1:{port}")).unwrap(),
        ..common
    };
    wait_for_health(&mut normal, port, &common).await;
    let load = run.load(port, common);
    if only.runs(PATCH_NORMAL) {
        let zones = ["Asia/Tokyo", "America/Chicago"];
        let patch = patch_maker(project_uris.clone(), run.connections, zones);
        outcomes.push(phase(&load, PATCH_NORMAL, true, patch).await);
    }
    if only.any(&private) {
        // Last (its 2,000 rule writes would weigh on any phase after them):
        // every project made private, then GET project by the owner and by
        // the plain member with a member rule, back to back.
        make_private(load.port, org, &load.common, &ids).await;
        let member = Load {
            common: Common {
                auth: HeaderValue::from_str(&format!("Bearer {}", seeded.member_key)).unwrap(),
                ..load.common.clone()
            },
            ..load.clone()
        };
        for (load, name) in [(&load, RETRIEVE_OWNER), (&member, RETRIEVE_PRIVATE)] {
            if only.runs(name) {
                outcomes
                    .push(phase(load, name, true, project_retrieve(project_uris.clone())).await);
            }
        }
    }
    report_exit(&mut normal);
    (outcomes, peak)
}

/// Prints the table, the failures and the targets; whether the run failed.
fn report(
    run: &Run,
    outcomes: &[Outcome],
    peak: Option<f64>,
    pg_peaks: &[f64],
    pg_skipped: Option<&str>,
) -> bool {
    let health_rps = outcomes
        .iter()
        .find(|o| o.name == HEALTH)
        .expect("/_health always runs")
        .rps;
    println!();
    println!(
        "prickle load benchmark: SQLite (synchronous=FULL unless marked normal) and PostgreSQL (PG), \
         {} projects, {} connections, {} s per endpoint; every ratio to the SQLite server's /_health",
        run.projects,
        run.connections,
        run.measure.as_secs_f64()
    );
    println!(
        "{:<32} {:>11} {:>9} {:>9} {:>8} {:>10}",
        "endpoint", "requests/s", "p50 ms", "p99 ms", "errors", "vs health"
    );
    for o in outcomes {
        println!(
            "{:<32} {:>11.0} {:>9.2} {:>9.2} {:>8} {:>9.3}x",
            o.name,
            o.rps,
            o.p50_ms,
            o.p99_ms,
            o.non_2xx + o.transport_errors,
            o.rps / health_rps
        );
    }
    let mut failed = false;
    for o in outcomes {
        if o.non_2xx + o.transport_errors > 0 {
            failed = true;
            println!(
                "FAILURE: {}: {} non-2xx, {} transport errors; first: {}",
                o.name,
                o.non_2xx,
                o.transport_errors,
                o.first_problem.as_deref().unwrap_or("?")
            );
        }
    }
    match peak {
        Some(mb) => println!("SQLite server peak RSS (VmHWM): {mb:.1} MB"),
        None => println!("SQLite server peak RSS (VmHWM): unavailable"),
    }
    if !pg_peaks.is_empty() {
        let mbs: Vec<String> = pg_peaks.iter().map(|mb| format!("{mb:.1} MB")).collect();
        println!("PostgreSQL servers' peak RSS (VmHWM): {}", mbs.join(", "));
    }
    if let Some(why) = pg_skipped {
        println!("PostgreSQL phases skipped: {why}");
    }

    println!();
    println!("targets:");
    for target in targets::targets(outcomes, peak) {
        let (verdict, got) = match &target.result {
            Some((true, got)) => ("PASS", format!("measured {got}")),
            Some((false, got)) => ("FAIL", format!("measured {got}")),
            None => ("SKIP", "skipped: phase not run".to_string()),
        };
        println!("  {verdict:<4} {:<50} ({got})", target.what);
        failed |= target.result.as_ref().is_some_and(|(pass, _)| !pass);
    }
    failed
}

const RETRIEVE: &str = "GET projects/:id/";
const RETRIEVE_OWNER: &str = "GET projects/:id/ owner, private";
const RETRIEVE_PRIVATE: &str = "GET projects/:id/ private member";

/// GET project over `uris`, each connection walking them in its own order.
fn project_retrieve(uris: Rc<Vec<Uri>>) -> Maker {
    Rc::new(move |c, n| {
        let i = (c.wrapping_mul(7919) + n as usize) % uris.len();
        Spec {
            method: Method::GET,
            uri: uris[i].clone(),
            body: Bytes::new(),
        }
    })
}

/// Makes every project private (default rule `none`) and gives the plain
/// member a `member` rule on each, through the API as the owner.
async fn make_private(port: u16, org: &str, common: &Common, ids: &[i64]) {
    let mut sender = connect(port).await.expect("connect for access rules");
    let members: Uri = format!("/api/organizations/{org}/members/")
        .parse()
        .unwrap();
    let list = Spec {
        method: Method::GET,
        uri: members,
        body: Bytes::new(),
    };
    let (status, body) = send(&mut sender, build(&list, common, true), true)
        .await
        .expect("list members");
    assert_eq!(status, 200);
    let body: Value = serde_json::from_slice(&body.unwrap_or_default()).expect("members JSON");
    let membership = body["results"]
        .as_array()
        .and_then(|r| {
            r.iter()
                .find(|m| m["user"]["email"] == "member@example.com")
        })
        .and_then(|m| m["id"].as_str())
        .expect("the member's membership")
        .to_string();
    let workers = 8;
    let mut handles = Vec::new();
    for w in 0..workers {
        let ids: Vec<i64> = ids.iter().copied().skip(w).step_by(workers).collect();
        let (org, common, membership) = (org.to_string(), common.clone(), membership.clone());
        handles.push(tokio::task::spawn_local(async move {
            let mut sender = connect(port).await.expect("connect for access rules");
            for id in ids {
                let uri: Uri = format!("/api/organizations/{org}/projects/{id}/access_controls/")
                    .parse()
                    .unwrap();
                for body in [
                    r#"{"access_level": "none"}"#.to_string(),
                    format!(
                        r#"{{"access_level": "member", "organization_member": "{membership}"}}"#
                    ),
                ] {
                    let spec = Spec {
                        method: Method::PUT,
                        uri: uri.clone(),
                        body: Bytes::from(body),
                    };
                    let (status, body) = send(&mut sender, build(&spec, &common, true), true)
                        .await
                        .expect("write an access rule");
                    assert_eq!(
                        status,
                        200,
                        "access rule on {id}: {}",
                        String::from_utf8_lossy(&body.unwrap_or_default())
                    );
                }
            }
        }));
    }
    for h in handles {
        h.await.expect("access rule task");
    }
}

/// Invites: `GET invites/` over 100 seeded invites, then `POST invites/`
/// with a new email every time (each a real insert).
async fn invite_plan(port: u16, org: &str, common: &Common) -> Vec<(&'static str, bool, Maker)> {
    let list_uri: Uri = format!("/api/organizations/{org}/invites/")
        .parse()
        .unwrap();
    let bulk_uri: Uri = format!("/api/organizations/{org}/invites/bulk/")
        .parse()
        .unwrap();
    let mut sender = connect(port).await.expect("connect for seeding invites");
    for batch in 0..5 {
        let items: Vec<String> = (0..20)
            .map(|i| format!(r#"{{"target_email": "seed-{batch}-{i}@bench.example.com"}}"#))
            .collect();
        let spec = Spec {
            method: Method::POST,
            uri: bulk_uri.clone(),
            body: Bytes::from(format!("[{}]", items.join(","))),
        };
        let (status, body) = send(&mut sender, build(&spec, common, true), true)
            .await
            .expect("seed invites");
        assert_eq!(
            status,
            201,
            "seeding invites: {}",
            String::from_utf8_lossy(&body.unwrap_or_default())
        );
    }
    let list: Maker = Rc::new(move |_, _| Spec {
        method: Method::GET,
        uri: list_uri.clone(),
        body: Bytes::new(),
    });
    let create_uri: Uri = format!("/api/organizations/{org}/invites/")
        .parse()
        .unwrap();
    let create: Maker = Rc::new(move |c, n| Spec {
        method: Method::POST,
        uri: create_uri.clone(),
        body: Bytes::from(format!(
            r#"{{"target_email": "invitee-{c}-{n}@bench.example.com"}}"#
        )),
    });
    vec![(INVITES_LIST, true, list), (INVITES_CREATE, true, create)]
}
