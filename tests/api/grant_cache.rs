//! No process serves a stale grant (issue 16): two `prickle serve`
//! processes, A and B, on one database, each with a warm authorization
//! cache. A change that narrows or widens what the member's key may reach
//! is made through A's API (or `prickle admin`) while a stream of requests
//! runs on each process; every request sent after the change was
//! acknowledged must get the new answer, on both processes, and every one
//! answered before the change was sent the old one.
//!
//! The instants are taken on the client, conservatively: a request's send
//! instant is taken before it leaves, its completion instant after its
//! body arrived, and the acknowledgement's instant after the response (or
//! the command's exit) arrived.
//!
//! PostgreSQL's own ways of learning late (a lost listener, a notification
//! held back) are in `listener`.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};

use crate::processes::{admin, owner_with_key, suite_database, Api, Server};

mod listener;

/// How long the streams run on once the change is acknowledged.
const AFTER: Duration = Duration::from_millis(300);
/// Requests each stream must have completed before the change, and sent
/// after its acknowledgement, for the race to say anything.
const AT_LEAST: usize = 3;
/// Bound on waiting for those: debug builds on two busy cores.
const PATIENCE: Duration = Duration::from_secs(30);

/// Two processes on one database: an owner, a member (level 1) with a
/// full-access key, and a project of the organization.
struct Setup {
    url: String,
    _dir: Option<tempfile::TempDir>,
    org: String,
    owner_key: String,
    member_key: String,
    member_key_id: String,
    membership: String,
    member_uuid: String,
    project: i64,
    a: Server,
    b: Server,
}

async fn setup() -> Setup {
    let (url, dir) = suite_database().await;
    setup_on(url, dir).await
}

async fn setup_on(url: String, dir: Option<tempfile::TempDir>) -> Setup {
    let (org, owner_key) = owner_with_key(&url, "owner@example.com");
    admin(&url, &["create-user", "--email", "member@example.com"]);
    let member = admin(
        &url,
        &[
            "add-member",
            "--organization",
            &org,
            "--email",
            "member@example.com",
            "--level",
            "1",
        ],
    );
    let key = admin(
        &url,
        &[
            "create-personal-api-key",
            "--email",
            "member@example.com",
            "--scopes",
            "*",
        ],
    );
    let (a, b) = tokio::join!(Server::start(&url), Server::start(&url));
    let project = Api::new(&a, &owner_key, &org).create("Watched").await["id"]
        .as_i64()
        .expect("project id");
    let text = |v: &Value| v.as_str().expect("a string").to_string();
    Setup {
        org,
        owner_key,
        member_key: text(&key["value"]),
        member_key_id: text(&key["id"]),
        membership: text(&member["id"]),
        member_uuid: text(&member["user"]["uuid"]),
        project,
        a,
        b,
        url,
        _dir: dir,
    }
}

impl Setup {
    /// The project as the member reaches it: through its organization, and
    /// from `/api/projects/` (each has its own cache entry).
    fn project_paths(&self) -> Vec<String> {
        vec![
            format!("/api/organizations/{}/projects/{}/", self.org, self.project),
            format!("/api/projects/{}/", self.project),
        ]
    }

    /// The owner's request on A; its answer arriving means committed.
    async fn owner_on_a(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let api = Api::new(&self.a, &self.owner_key, &self.org);
        api.call(method, &self.a.url(path), body).await
    }

    fn member_path(&self) -> String {
        format!(
            "/api/organizations/{}/members/{}/",
            self.org, self.member_uuid
        )
    }

    /// `prickle admin ARGS...` off the runtime's threads (the streams run on).
    async fn admin(&self, args: &[&str]) -> Value {
        let url = self.url.clone();
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        tokio::task::spawn_blocking(move || {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            admin(&url, &args)
        })
        .await
        .expect("admin command")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Answer {
    Old,
    New,
    Other,
}

/// Tells the old answer from the new one.
type Judge = Arc<dyn Fn(u16, &Value) -> Answer + Send + Sync>;

/// 200 before the change, `status` after it.
fn from_ok_to(status: u16) -> Judge {
    Arc::new(move |got, _| match got {
        200 => Answer::Old,
        s if s == status => Answer::New,
        _ => Answer::Other,
    })
}

/// The project as seen by a member (level 1), then by an admin (8).
fn level_1_to_8() -> Judge {
    Arc::new(
        |status, body| match (status, body["effective_membership_level"].as_i64()) {
            (200, Some(1)) => Answer::Old,
            (200, Some(8)) => Answer::New,
            _ => Answer::Other,
        },
    )
}

/// Only ever served (a key that did not exist before the change).
fn served() -> Judge {
    Arc::new(|got, _| match got {
        200 => Answer::New,
        _ => Answer::Other,
    })
}

/// One request of a stream.
struct Sample {
    process: &'static str,
    path: String,
    sent: Instant,
    done: Instant,
    answer: Answer,
    seen: String,
}

/// Back-to-back requests with one key, one task per process, recorded.
struct Streams {
    stop: Arc<AtomicBool>,
    samples: Arc<Mutex<Vec<Sample>>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl Streams {
    fn start(s: &Setup, key: &str, paths: &[String], judge: &Judge) -> Streams {
        let stop = Arc::new(AtomicBool::new(false));
        let samples: Arc<Mutex<Vec<Sample>>> = Arc::default();
        let mut tasks = Vec::new();
        for (process, server) in [("A", &s.a), ("B", &s.b)] {
            let api = Api::new(server, key, &s.org);
            let urls: Vec<(String, String)> =
                paths.iter().map(|p| (p.clone(), server.url(p))).collect();
            let (stop, samples, judge) = (stop.clone(), samples.clone(), judge.clone());
            tasks.push(tokio::spawn(async move {
                for (path, url) in urls.iter().cycle() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let sent = Instant::now();
                    let (status, body) = api.call(Method::GET, url, None).await;
                    let done = Instant::now();
                    let seen: String = format!("{status} {body}").chars().take(200).collect();
                    samples.lock().unwrap().push(Sample {
                        process,
                        path: path.clone(),
                        sent,
                        done,
                        answer: judge(status, &body),
                        seen,
                    });
                }
            }));
        }
        Streams {
            stop,
            samples,
            tasks,
        }
    }

    /// Waits until each process's stream has `n` requests that `counts`.
    async fn wait_for(&self, n: usize, what: &str, counts: impl Fn(&Sample) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let enough = {
                let samples = self.samples.lock().unwrap();
                ["A", "B"].iter().all(|p| {
                    samples
                        .iter()
                        .filter(|s| s.process == *p && counts(s))
                        .count()
                        >= n
                })
            };
            if enough {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "fewer than {n} requests {what} on a process after {PATIENCE:?}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    async fn stop(self) -> Vec<Sample> {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.tasks {
            t.await.expect("stream task");
        }
        Arc::try_unwrap(self.samples)
            .unwrap_or_else(|_| panic!("streams stopped"))
            .into_inner()
            .unwrap()
    }
}

/// The race's verdict: nothing but the old or the new answer; the new one
/// for every request sent after `acked`; the old one for every request
/// answered before `started`.
fn check(what: &str, samples: &[Sample], started: Instant, acked: Instant) {
    let ms = |a: Instant, b: Instant| {
        let sign = if a >= b { "+" } else { "-" };
        let d = if a >= b { a - b } else { b - a };
        format!("{sign}{:.1} ms", d.as_secs_f64() * 1e3)
    };
    let mut failures = Vec::new();
    for s in samples {
        let wrong = if s.answer == Answer::Other {
            Some("neither answer")
        } else if s.sent > acked && s.answer != Answer::New {
            Some("STALE: sent after the change was acknowledged")
        } else if s.done < started && s.answer != Answer::Old {
            Some("new answer before the change was made")
        } else {
            None
        };
        if let Some(why) = wrong {
            failures.push((
                s.process,
                format!(
                    "{why}: process {} GET {} sent {} / done {} from the acknowledgement: {}",
                    s.process,
                    s.path,
                    ms(s.sent, acked),
                    ms(s.done, acked),
                    s.seen
                ),
            ));
        }
    }
    let on = |p: &str| failures.iter().filter(|(q, _)| *q == p).count();
    let after = samples.iter().filter(|s| s.sent > acked).count();
    assert!(
        failures.is_empty(),
        "{what}: {} of {} requests wrong (A: {}, B: {}; {after} sent after the \
         acknowledgement, which came {} after the change started):\n{}",
        failures.len(),
        samples.len(),
        on("A"),
        on("B"),
        ms(acked, started),
        failures
            .iter()
            .take(12)
            .map(|(_, f)| f.clone())
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// Warms both processes' caches with `key` on `paths` (old answers only),
/// streams, runs `change` once each stream has had old answers, streams on
/// for [`AFTER`] (and until each stream sent some requests after the
/// acknowledgement), then checks the race. Returns what `change` returned.
async fn race<T>(
    what: &str,
    s: &Setup,
    key: &str,
    paths: &[String],
    judge: Judge,
    change: impl Future<Output = T>,
) -> T {
    for (process, server) in [("A", &s.a), ("B", &s.b)] {
        let api = Api::new(server, key, &s.org);
        for path in paths.iter().chain(paths) {
            let (status, body) = api.call(Method::GET, &server.url(path), None).await;
            assert_eq!(
                judge(status, &body),
                Answer::Old,
                "{what}: warming {process} on {path}: {status} {body}"
            );
        }
    }
    let streams = Streams::start(s, key, paths, &judge);
    streams.wait_for(AT_LEAST, "answered", |_| true).await;
    let started = Instant::now();
    let out = change.await;
    let acked = Instant::now();
    tokio::time::sleep(AFTER).await;
    streams
        .wait_for(AT_LEAST, "sent after the acknowledgement", |r| {
            r.sent > acked
        })
        .await;
    let samples = streams.stop().await;
    assert!(
        samples.iter().any(|r| r.done < started),
        "{what}: no request answered before the change"
    );
    check(what, &samples, started, acked);
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_key_is_refused_at_once_by_every_process() {
    let s = setup().await;
    let id = s.member_key_id.clone();
    let change = async {
        let revoked = s.admin(&["revoke-personal-api-key", "--id", &id]).await;
        assert_eq!(revoked["id"], id.as_str());
    };
    let paths = s.project_paths();
    race("revoke", &s, &s.member_key, &paths, from_ok_to(401), change).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_key_is_refused_and_its_new_value_served_at_once() {
    let s = setup().await;
    let paths = s.project_paths();
    let id = s.member_key_id.clone();
    let old_value = s.member_key.clone();
    let change = async {
        let rolled = s.admin(&["roll-personal-api-key", "--id", &id]).await;
        let value = rolled["value"].as_str().expect("new value").to_string();
        assert_ne!(value, old_value);
        // From the acknowledgement on, the new value streams too: nothing
        // sent with it may be refused, on either process.
        Streams::start(&s, &value, &paths, &served())
    };
    let rolled = race("roll", &s, &s.member_key, &paths, from_ok_to(401), change).await;
    rolled
        .wait_for(AT_LEAST, "with the new value", |_| true)
        .await;
    let samples = rolled.stop().await;
    let refused: Vec<_> = samples
        .iter()
        .filter(|r| r.answer != Answer::New)
        .map(|r| format!("process {} GET {}: {}", r.process, r.path, r.seen))
        .collect();
    assert!(refused.is_empty(), "the new value refused:\n{refused:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_is_a_non_member_at_once_on_every_process() {
    let s = setup().await;
    let change = remove_member(&s);
    let paths = s.project_paths();
    race(
        "removal",
        &s,
        &s.member_key,
        &paths,
        from_ok_to(404),
        change,
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_level_applies_at_once_on_every_process() {
    let s = setup().await;
    let change = raise_to_admin(&s);
    let paths = s.project_paths();
    race("level", &s, &s.member_key, &paths, level_1_to_8(), change).await;
}

/// The owner removes the member from the organization.
async fn remove_member(s: &Setup) {
    let (status, body) = s.owner_on_a(Method::DELETE, &s.member_path(), None).await;
    assert_eq!(status, 204, "remove the member: {body}");
}

/// The owner makes the member an admin (level 1 -> 8).
async fn raise_to_admin(s: &Setup) {
    let level = Some(json!({"level": 8}));
    let (status, body) = s.owner_on_a(Method::PATCH, &s.member_path(), level).await;
    assert_eq!(status, 200, "level 1 -> 8: {body}");
    assert_eq!(body["level"], 8);
}

/// The owner's rule hiding the project from the member.
async fn hide_from_member(s: &Setup) {
    let path = format!(
        "/api/organizations/{}/projects/{}/access_controls/",
        s.org, s.project
    );
    let rule = json!({"access_level": "none", "organization_member": s.membership});
    let (status, body) = s.owner_on_a(Method::PUT, &path, Some(rule)).await;
    assert_eq!(status, 200, "hide the project: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_access_rule_applies_at_once_on_every_process() {
    let s = setup().await;
    let paths = s.project_paths();
    let change = hide_from_member(&s);
    race("rule", &s, &s.member_key, &paths, from_ok_to(404), change).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_keys_switched_off_are_refused_at_once_on_every_process() {
    let s = setup().await;
    let change = async {
        let path = format!("/api/organizations/{}/", s.org);
        let off = json!({"members_can_use_personal_api_keys": false});
        let (status, body) = s.owner_on_a(Method::PATCH, &path, Some(off)).await;
        assert_eq!(status, 200, "switch members' keys off: {body}");
        assert_eq!(body["members_can_use_personal_api_keys"], false);
    };
    // The organization's own routes as well as its project's.
    let mut paths = s.project_paths();
    paths.push(format!("/api/organizations/{}/members/", s.org));
    race("switch", &s, &s.member_key, &paths, from_ok_to(403), change).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_project_is_gone_at_once_on_every_process() {
    let s = setup().await;
    let change = async {
        let path = format!("/api/organizations/{}/projects/{}/", s.org, s.project);
        let (status, body) = s.owner_on_a(Method::DELETE, &path, None).await;
        assert_eq!(status, 204, "delete the project: {body}");
    };
    // A route under the project too: it reads no project row of its own.
    let mut paths = s.project_paths();
    paths.push(format!(
        "/api/organizations/{}/projects/{}/access_controls/",
        s.org, s.project
    ));
    race(
        "deletion",
        &s,
        &s.member_key,
        &paths,
        from_ok_to(404),
        change,
    )
    .await;
}
