//! See `hostile/mod.rs`. Sign-up through an invite (issue 13, section 2):
//! the invite's id is listed to every member, so it must not be enough to
//! accept the invite; and a sign-up is refused before its password costs a
//! hash, with the hashes that do run bounded in number, so a crowd of
//! anonymous posts cannot run the server out of memory.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use prickle::config::Config;
use prickle::storage::schema::{OrganizationInvites as I, Users as U};
use prickle::storage::Db;
use sea_query::{Expr, ExprTrait, Query};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::invites::{age, invites_path};
use crate::processes::{self, Server};
use crate::signup::{api_path, link, signup};
use crate::support::{TestApp, World, SITE};

/// Long before any invite made now: expired.
const LONG_AGO: i64 = 1_577_836_800_000_000;

async fn invite(w: &World, key: &str, body: Value) -> Value {
    let r = w
        .app
        .call("POST", &invites_path(&w.org), Some(key), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

fn new_account() -> Value {
    json!({"first_name": "Mallory", "password": "chosen by mallory"})
}

async fn account_exists(db: &Db, email: &str) -> bool {
    let mut tx = db.read().await.unwrap();
    let q = Query::select()
        .column(U::Id)
        .from(U::Table)
        .and_where(Expr::col(U::EmailKey).eq(email))
        .to_owned();
    let found = tx.query_opt(&q, |r| r.i64(0)).await.unwrap().is_some();
    tx.commit().await.unwrap();
    found
}

/// What an unknown invite is answered with: the answer every missing or
/// wrong token must get, byte for byte.
async fn unknown_invite_answer(w: &World, method: &str) -> (StatusCode, Value) {
    let path = signup(&uuid::Uuid::new_v4().to_string());
    let body = (method == "POST").then(new_account);
    let r = w.app.call(method, &path, None, body).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["detail"], "The provided invite ID is not valid.");
    (r.status, r.body)
}

#[tokio::test]
async fn a_member_cannot_accept_an_owner_invite_with_its_listed_id() {
    let w = World::new().await;
    let inv = invite(
        &w,
        &w.owner,
        json!({"target_email": "victim@example.org", "level": 15}),
    )
    .await;
    let id = inv["id"].as_str().unwrap();
    let token = inv["signup_url"]
        .as_str()
        .unwrap()
        .split_once("?token=")
        .unwrap()
        .1
        .to_string();
    // The level-1 member lists the invites: the id is there, the token is not.
    let listed = w
        .app
        .call("GET", &invites_path(&w.org), Some(&w.member), None)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["results"][0]["id"], id);
    assert!(listed.body["results"][0].get("signup_url").is_none());
    assert!(!listed.body.to_string().contains(&token));

    let unknown_get = unknown_invite_answer(&w, "GET").await;
    let unknown_post = unknown_invite_answer(&w, "POST").await;
    let other = invite(&w, &w.owner, json!({"target_email": "other@example.org"})).await;
    let other_token = other["signup_url"]
        .as_str()
        .unwrap()
        .split_once("?token=")
        .unwrap()
        .1
        .to_string();
    let wrong = [
        signup(id),
        format!("{}?token=", signup(id)),
        format!("{}?token=nope", signup(id)),
        format!("{}?token={}", signup(id), &token[1..]),
        format!("{}?token={token}x", signup(id)),
        // Another invite's token opens only that invite.
        format!("{}?token={other_token}", signup(id)),
    ];
    for path in &wrong {
        let r = w.app.call("GET", path, None, None).await;
        assert_eq!((r.status, r.body), unknown_get, "GET {path}");
        let r = w.app.call("POST", path, None, Some(new_account())).await;
        assert_eq!((r.status, r.body), unknown_post, "POST {path}");
        // Signed in, the key's user needs the token just the same.
        let r = w
            .app
            .call("POST", path, Some(&w.member), Some(json!({})))
            .await;
        assert_eq!((r.status, r.body), unknown_post, "POST {path} with a key");
    }
    // In the body: a wrong token, or one that is not a string.
    for bad in [json!("nope"), json!(null), json!(1), json!([token.clone()])] {
        let mut body = new_account();
        body["token"] = bad.clone();
        let r = w.app.call("POST", &signup(id), None, Some(body)).await;
        assert_eq!((r.status, r.body), unknown_post, "body token {bad}");
    }
    assert!(!account_exists(&w.app.db, "victim@example.org").await);

    // The invitee, with the link: the body token works as well as the query.
    let mut body = json!({"first_name": "Victor", "password": "the real invitee"});
    body["token"] = json!(token);
    let r = w.app.call("POST", &signup(id), None, Some(body)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["email"], "victim@example.org");
}

#[tokio::test]
async fn a_signed_in_invitee_needs_the_token_too() {
    let w = World::new().await;
    let inv = invite(
        &w,
        &w.admin,
        json!({"target_email": "outsider@example.com", "level": 8}),
    )
    .await;
    let id = inv["id"].as_str().unwrap();
    let unknown = unknown_invite_answer(&w, "POST").await;
    let r = w
        .app
        .call("GET", &signup(id), Some(&w.outsider), None)
        .await;
    assert_eq!(r.body, unknown.1);
    let r = w
        .app
        .call("POST", &signup(id), Some(&w.outsider), Some(json!({})))
        .await;
    assert_eq!((r.status, r.body), unknown);
    let r = w
        .app
        .call("POST", &link(&inv), Some(&w.outsider), Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

/// An invite stored before tokens existed (its digest NULL), as migration 8
/// leaves every earlier invite.
async fn forget_token(db: &Db, id: &str) {
    let mut tx = db.write().await.unwrap();
    let q = Query::update()
        .table(I::Table)
        .value(I::SignupTokenDigest, Option::<String>::None)
        .and_where(Expr::col(I::Id).eq(id))
        .to_owned();
    tx.execute(&q).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn invites_from_before_tokens_open_only_with_a_rolled_link() {
    let w = World::new().await;
    let inv = invite(&w, &w.admin, json!({"target_email": "old@x.com"})).await;
    let id = inv["id"].as_str().unwrap();
    forget_token(&w.app.db, id).await;
    let unknown = unknown_invite_answer(&w, "GET").await;
    for path in [link(&inv), signup(id), format!("{}?token=", signup(id))] {
        let r = w.app.call("GET", &path, None, None).await;
        assert_eq!((r.status, r.body), unknown, "{path}");
    }
    // The operator rolls a link; the one before it stops working.
    let first = prickle::admin::invite_link(&w.app.db, id, SITE)
        .await
        .unwrap();
    assert_eq!(first["id"], id);
    let second = prickle::admin::invite_link(&w.app.db, id, SITE)
        .await
        .unwrap();
    let (first, second) = (
        first["signup_url"].as_str().unwrap(),
        second["signup_url"].as_str().unwrap(),
    );
    assert!(
        second.starts_with(&format!("{SITE}/signup/{id}?token=")),
        "{second}"
    );
    let r = w.app.call("GET", &api_path(first), None, None).await;
    assert_eq!((r.status, r.body), unknown);
    let r = w.app.call("GET", &api_path(second), None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Unknown and malformed ids write nothing and say so.
    for bad in [uuid::Uuid::new_v4().to_string(), "abc".to_string()] {
        let e = prickle::admin::invite_link(&w.app.db, &bad, SITE)
            .await
            .unwrap_err();
        assert!(e.starts_with("no invite"), "{e}");
    }
}

#[tokio::test]
async fn the_invite_link_command_prints_a_working_link() {
    let (url, _dir) = processes::suite_database().await;
    let app = TestApp::at(&url).await;
    let w = World::with_app(app).await;
    let inv = invite(&w, &w.admin, json!({"target_email": "cli@x.com"})).await;
    let id = inv["id"].as_str().unwrap();
    let out = processes::admin(&url, &["invite-link", "--id", id]);
    let keys: Vec<&str> = out
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, ["id", "signup_url"]);
    assert_eq!(out["id"], id);
    // Without SITE_URL: http:// + the bind address, as the contract says.
    let url_printed = out["signup_url"].as_str().unwrap();
    assert!(
        url_printed.starts_with(&format!("http://127.0.0.1:8000/signup/{id}?token=")),
        "{url_printed}"
    );
    let r = w.app.call("GET", &api_path(url_printed), None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // The create response's link is dead now.
    let r = w.app.call("GET", &link(&inv), None, None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    let out = processes::admin(
        &url,
        &[
            "invite-link",
            "--id",
            id,
            "--site-url",
            "https://app.example.com/",
        ],
    );
    assert!(out["signup_url"]
        .as_str()
        .unwrap()
        .starts_with(&format!("https://app.example.com/signup/{id}?token=")));
    // An unknown invite: one line on stderr, nothing on stdout, non-zero.
    let missing = processes::run(
        &url,
        &[
            "admin",
            "invite-link",
            "--id",
            &uuid::Uuid::new_v4().to_string(),
        ],
    );
    assert!(!missing.status.success());
    assert!(missing.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("no invite"), "{stderr}");
}

/// A sign-up through the router, with the response's `Retry-After`.
async fn post_signup(w: &World, path: &str, body: Value) -> (StatusCode, Value, Option<String>) {
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))
        .unwrap();
    let resp = w.app.router.clone().oneshot(req).await.unwrap();
    let status = resp.status();
    let retry_after = resp
        .headers()
        .get(header::RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    crate::conformance::check(
        "POST",
        path.split('?').next().unwrap(),
        status.as_u16(),
        &body,
    );
    (status, body, retry_after)
}

/// With no hash slot free, every sign-up that gets as far as hashing is
/// refused with 503: so each refusal below that is not a 503 was decided
/// before any hashing.
#[tokio::test]
async fn every_refusal_comes_before_the_password_is_hashed() {
    let mut config = Config::new(SITE, 2000, Some("test-secret"));
    config.max_concurrent_password_hashes = 0;
    config.password_hash_wait = Duration::from_millis(50);
    let w = World::with_app(TestApp::with_config(config).await).await;

    let expired = invite(&w, &w.admin, json!({"target_email": "late@x.com"})).await;
    age(&w, expired["id"].as_str().unwrap(), LONG_AGO).await;
    let (status, body, _) = post_signup(&w, &link(&expired), new_account()).await;
    assert_eq!(
        (status, body["code"].clone()),
        (StatusCode::BAD_REQUEST, json!("expired"))
    );

    w.app.user("taken@x.com").await;
    let taken = invite(&w, &w.admin, json!({"target_email": "taken@x.com"})).await;
    let (status, body, _) = post_signup(&w, &link(&taken), new_account()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        body["detail"],
        "There already exists an account with email address taken@x.com. Please log in instead."
    );

    let withdrawn = invite(&w, &w.admin, json!({"target_email": "gone@x.com"})).await;
    let r = w
        .app
        .call(
            "DELETE",
            &format!(
                "{}{}/",
                invites_path(&w.org),
                withdrawn["id"].as_str().unwrap()
            ),
            Some(&w.admin),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let (status, body, _) = post_signup(&w, &link(&withdrawn), new_account()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["detail"], "The provided invite ID is not valid.");

    let fresh = invite(&w, &w.admin, json!({"target_email": "fresh@x.com"})).await;
    let (status, body, _) =
        post_signup(&w, &signup(fresh["id"].as_str().unwrap()), new_account()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["detail"], "The provided invite ID is not valid.");

    // The one sign-up that passes every check needs a hash: none is free.
    let (status, body, retry_after) = post_signup(&w, &link(&fresh), new_account()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(
        body,
        json!({"type": "server_error", "code": "service_unavailable",
               "detail": "Service temporarily unavailable, try again later.", "attr": null})
    );
    assert_eq!(retry_after.as_deref(), Some("1"));
    // Nothing was written: the invite is still there to use.
    assert!(!account_exists(&w.app.db, "fresh@x.com").await);
    let r = w.app.call("GET", &link(&fresh), None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

/// Peak resident memory of a process, from the kernel (kB).
fn peak_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM")
}

/// The attack on the real binary: 200 anonymous sign-ups at once,
/// half on one expired invite and half spread over ten valid ones with their
/// right tokens. The server's peak memory stays under 300 MB, the expired
/// invite costs no hash, and no invite is used twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_hundred_concurrent_sign_ups_stay_under_300_mb() {
    let _turn = super::HEAVY.lock().await;
    let (url, _dir) = processes::suite_database().await;
    let (org, key) = processes::owner_with_key(&url, "owner@example.com");
    let server = Server::start(&url).await;
    let http = processes::client();
    let mut links = Vec::new();
    for i in 0..11 {
        let r = http
            .post(server.url(&format!("/api/organizations/{org}/invites/")))
            .bearer_auth(&key)
            .json(&json!({"target_email": format!("crowd{i}@x.com")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let inv: Value = r.json().await.unwrap();
        links.push((
            inv["id"].as_str().unwrap().to_string(),
            api_path(inv["signup_url"].as_str().unwrap()),
        ));
    }
    let (expired_id, expired_path) = links.remove(0);
    {
        let db = Db::connect(&url).await.unwrap();
        let mut tx = db.write().await.unwrap();
        let q = Query::update()
            .table(I::Table)
            .value(I::CreatedAt, LONG_AGO)
            .and_where(Expr::col(I::Id).eq(expired_id.as_str()))
            .to_owned();
        tx.execute(&q).await.unwrap();
        tx.commit().await.unwrap();
    }
    let before = peak_rss_kb(server.pid());
    let mut tasks = Vec::new();
    for n in 0..200 {
        let path = if n % 2 == 0 {
            expired_path.clone()
        } else {
            links[(n / 2) % links.len()].1.clone()
        };
        let (http, target) = (http.clone(), server.url(&path));
        tasks.push(tokio::spawn(async move {
            let body = json!({"first_name": "Crowd", "password": format!("password number {n}")});
            let r = http.post(&target).json(&body).send().await.unwrap();
            let status = r.status().as_u16();
            (path, status, r.json::<Value>().await.unwrap_or(Value::Null))
        }));
    }
    let mut joined: HashMap<String, usize> = HashMap::new();
    for t in tasks {
        let (path, status, body) = t.await.unwrap();
        if path == expired_path {
            assert_eq!(
                (status, body["code"].as_str()),
                (400, Some("expired")),
                "{body}"
            );
            continue;
        }
        match status {
            201 => *joined.entry(path).or_default() += 1,
            // Used by the winner, or no hash slot within the wait.
            400 | 503 => assert!(body["type"].is_string(), "{body}"),
            other => panic!("{other}: {body}"),
        }
    }
    assert!(joined.values().all(|&n| n == 1), "{joined:?}");
    assert!(!joined.is_empty(), "some sign-up got through");
    let peak = peak_rss_kb(server.pid());
    eprintln!("200 concurrent sign-ups: peak RSS {peak} kB (before: {before} kB)");
    assert!(
        peak <= 300 * 1024,
        "peak RSS {peak} kB (before the crowd: {before} kB)\n{}",
        server.log_text()
    );
}
