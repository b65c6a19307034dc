//! Joining through an invite (`/api/signup/:invite_id/`, items 95-105 of
//! the summary), and the invite email end to end over a real SMTP
//! conversation with a sink this test runs on loopback.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use prickle::config::{Config, EmailSettings};
use prickle::storage::schema::{AccessControls as A, OrganizationMemberships as M, Users as U};
use sea_query::{Expr, ExprTrait, Query};
use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::invites::{age, invites_path, stored};
use crate::support::{Response, TestApp, World, SITE};

pub(crate) fn signup(id: &str) -> String {
    format!("/api/signup/{id}/")
}

/// The sign-up API path behind a sign-up link (`SITE_URL/signup/<id>?token=...`).
pub(crate) fn api_path(signup_url: &str) -> String {
    let (_, rest) = signup_url
        .split_once("/signup/")
        .unwrap_or_else(|| panic!("not a sign-up link: {signup_url}"));
    let (id, query) = rest.split_once('?').unwrap_or((rest, ""));
    format!("/api/signup/{id}/?{query}")
}

/// The sign-up API path of a just-created invite, token included.
pub(crate) fn link(inv: &Value) -> String {
    api_path(inv["signup_url"].as_str().expect("signup_url on create"))
}

async fn invite(w: &World, key: &str, body: Value) -> Value {
    let r = w
        .app
        .call("POST", &invites_path(&w.org), Some(key), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

/// (user id, email, first name, password hash, current organization, current project)
async fn account(
    w: &World,
    email: &str,
) -> Option<(
    i64,
    String,
    String,
    Option<String>,
    Option<String>,
    Option<i64>,
)> {
    let mut tx = w.app.db.read().await.unwrap();
    let q = Query::select()
        .columns([
            U::Id,
            U::Email,
            U::FirstName,
            U::Password,
            U::CurrentOrganizationId,
            U::CurrentTeamId,
        ])
        .from(U::Table)
        .and_where(Expr::col(U::EmailKey).eq(email.to_lowercase()))
        .to_owned();
    tx.query_opt(&q, |r| {
        Ok((
            r.i64(0)?,
            r.string(1)?,
            r.string(2)?,
            r.opt_string(3)?,
            r.opt_string(4)?,
            r.opt_i64(5)?,
        ))
    })
    .await
    .unwrap()
}

/// The members of an organization (email, level, invited by), from the
/// database: the members endpoint is another resource's.
async fn members(w: &World, org: &str) -> Vec<(String, i64, Option<i64>)> {
    let mut tx = w.app.db.read().await.unwrap();
    let q = Query::select()
        .column((U::Table, U::Email))
        .column((M::Table, M::Level))
        .column((M::Table, M::InvitedById))
        .from(M::Table)
        .inner_join(
            U::Table,
            Expr::col((U::Table, U::Id)).equals((M::Table, M::UserId)),
        )
        .and_where(Expr::col((M::Table, M::OrganizationId)).eq(org))
        .to_owned();
    let mut out = tx
        .query(&q, |r| Ok((r.string(0)?, r.i64(1)?, r.opt_i64(2)?)))
        .await
        .unwrap();
    out.sort();
    out
}

fn assert_error(r: &Response, code: &str, detail: &str) {
    assert_eq!(r.error(), (400, code, detail, Value::Null), "{}", r.body);
    assert_eq!(r.body["type"], "validation_error");
}

#[tokio::test]
async fn preview() {
    let w = World::new().await;
    let inv = invite(&w, &w.admin, json!({"target_email": "new@x.com"})).await;
    let id = inv["id"].as_str().unwrap();
    // Item 95.
    let r = w.app.call("GET", &link(&inv), None, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"id": id, "target_email": "new@x.com", "first_name": "", "organization_name": "Hedgehogs"})
    );
    let r = w
        .app
        .call("GET", &link(&inv).replacen("/?", "?", 1), None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    // Item 96.
    for bad in [
        uuid::Uuid::new_v4().to_string(),
        "abc".into(),
        "1234".into(),
    ] {
        let r = w.app.call("GET", &signup(&bad), None, None).await;
        assert_error(&r, "invalid_input", "The provided invite ID is not valid.");
    }
    // Item 97: signed in as someone else.
    let r = w.app.call("GET", &link(&inv), Some(&w.member), None).await;
    assert_error(
        &r,
        "invalid_recipient",
        "This invite is intended for another email address.",
    );
    // An invalid key is a 401, not an anonymous preview.
    let r = w.app.call("GET", &link(&inv), Some("phx_nope"), None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // Item 98.
    age(&w, id, 1_577_836_800_000_000).await;
    let r = w.app.call("GET", &link(&inv), None, None).await;
    assert_error(
        &r,
        "expired",
        "This invite has expired. Please ask your admin for a new one.",
    );
    // An account with the invited email exists: log in first.
    w.app.user("known@x.com").await;
    let known = invite(&w, &w.admin, json!({"target_email": "known@x.com"})).await;
    let kid = known["id"].as_str().unwrap();
    let r = w.app.call("GET", &link(&known), None, None).await;
    assert_error(&r, "account_exists", &format!("/login?next=/signup/{kid}"));
    let key = w.app.key("known@x.com", &["user:read"]).await;
    let r = w.app.call("GET", &link(&known), Some(&key), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // An Authorization header of another scheme carries no key: anonymous.
    let req = axum::http::Request::builder()
        .uri(link(&known))
        .header("authorization", "Basic eDp5")
        .body(axum::body::Body::empty())
        .unwrap();
    let r = w.app.send(req).await;
    assert_error(&r, "account_exists", &format!("/login?next=/signup/{kid}"));
    // Other methods are 405 without credentials.
    let r = w
        .app
        .call("PUT", &link(&known), None, Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED);
}

#[tokio::test]
async fn new_account_joins_at_the_invited_level() {
    let w = World::new().await;
    let project = w.create_project("First").await["id"].as_i64().unwrap();
    let inv = invite(
        &w,
        &w.admin,
        json!({"target_email": "Alice@X.com", "level": 8, "private_project_access": [{"id": project, "level": "admin"}]}),
    )
    .await;
    // Item 100.
    for (body, attr) in [
        (json!({"password": "correct horse"}), "first_name"),
        (json!({"first_name": "Alice"}), "password"),
        (
            json!({"first_name": "", "password": "correct horse"}),
            "first_name",
        ),
    ] {
        let r = w.app.call("POST", &link(&inv), None, Some(body)).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
        assert_eq!(r.body["attr"], attr, "{}", r.body);
    }
    // Item 101.
    let r = w
        .app
        .call(
            "POST",
            &link(&inv),
            None,
            Some(json!({"first_name": "Alice", "password": "123"})),
        )
        .await;
    assert_eq!(
        r.error(),
        (
            400,
            "password_too_short",
            "This password is too short. It must contain at least 8 characters.",
            json!("password")
        )
    );
    assert!(account(&w, "alice@x.com").await.is_none());
    // Item 99.
    let r = w
        .app
        .call(
            "POST",
            &link(&inv),
            None,
            Some(json!({"first_name": "Alice", "password": "correct horse", "role_at_organization": "Engineering"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["email"], "alice@x.com");
    assert_eq!(r.body["first_name"], "Alice");
    assert_eq!(r.body["is_email_verified"], false);
    assert_eq!(r.body["role_at_organization"], "Engineering");
    assert_eq!(r.body["redirect_url"], "/");
    for k in ["id", "uuid", "distinct_id", "last_name", "hedgehog_config"] {
        assert!(r.body.get(k).is_some(), "{k}");
    }
    let (user_id, _, _, hash, current_org, current_team) =
        account(&w, "alice@x.com").await.unwrap();
    assert_eq!(r.body["id"], user_id);
    assert!(hash.unwrap().starts_with("argon2$argon2id$"));
    assert_eq!(current_org.as_deref(), Some(w.org.as_str()));
    assert_eq!(current_team, Some(project));
    let admin_id = account(&w, "admin@example.com").await.unwrap().0;
    assert!(members(&w, &w.org)
        .await
        .contains(&("alice@x.com".into(), 8, Some(admin_id))));
    // Item 104: the project access becomes a member rule of the membership.
    let mut tx = w.app.db.read().await.unwrap();
    let rows = tx
        .query(
            &Query::select()
                .columns([A::ProjectId, A::AccessLevel])
                .expr(Expr::col(A::SubjectKey).like("member:%"))
                .from(A::Table)
                .to_owned(),
            |r| Ok((r.i64(0)?, r.i64(1)?, r.bool(2)?)),
        )
        .await
        .unwrap();
    assert_eq!(rows, vec![(project, 8, true)]);
    drop(tx);
    // The invite is used up.
    assert!(stored(&w).await.is_empty());
    let r = w
        .app
        .call(
            "POST",
            &link(&inv),
            None,
            Some(json!({"first_name": "Alice", "password": "correct horse"})),
        )
        .await;
    assert_error(&r, "invalid_input", "The provided invite ID is not valid.");
}

#[tokio::test]
async fn refusals_leave_nothing_behind() {
    let w = World::new().await;
    // Expired: the transaction rolls back, so no account is left.
    let inv = invite(&w, &w.admin, json!({"target_email": "late@x.com"})).await;
    let id = inv["id"].as_str().unwrap();
    age(&w, id, 1_577_836_800_000_000).await;
    let body = json!({"first_name": "Late", "password": "correct horse"});
    let r = w
        .app
        .call("POST", &link(&inv), None, Some(body.clone()))
        .await;
    assert_error(
        &r,
        "expired",
        "This invite has expired. Please ask your admin for a new one.",
    );
    assert!(account(&w, "late@x.com").await.is_none());
    // An account with the email exists: log in instead.
    w.app.user("taken@x.com").await;
    let inv = invite(&w, &w.admin, json!({"target_email": "taken@x.com"})).await;
    let r = w
        .app
        .call("POST", &link(&inv), None, Some(body.clone()))
        .await;
    assert_error(
        &r,
        "invalid_input",
        "There already exists an account with email address taken@x.com. Please log in instead.",
    );
    // Unknown and malformed ids.
    for bad in [uuid::Uuid::new_v4().to_string(), "abc".into()] {
        let r = w
            .app
            .call("POST", &signup(&bad), None, Some(body.clone()))
            .await;
        assert_error(&r, "invalid_input", "The provided invite ID is not valid.");
    }
    // The body is checked before the invite is looked up.
    let r = w
        .app
        .call("POST", &signup("abc"), None, Some(json!({})))
        .await;
    assert_eq!(r.error().1, "required");
    assert_eq!(members(&w, &w.org).await.len(), 3);
}

#[tokio::test]
async fn existing_user_joins_with_their_key() {
    let w = World::new().await;
    // The outsider (owner of the other organization) is invited here.
    let inv = invite(
        &w,
        &w.admin,
        json!({"target_email": "OUTSIDER@example.com", "level": 1}),
    )
    .await;
    // Someone else's key: not their invite.
    let r = w
        .app
        .call("POST", &link(&inv), Some(&w.member), Some(json!({})))
        .await;
    assert_eq!(r.error().1, "invalid_recipient");
    // Items 102-103: joins, nothing about the account changes.
    let before = account(&w, "outsider@example.com").await.unwrap();
    let r = w
        .app
        .call(
            "POST",
            &link(&inv),
            Some(&w.outsider),
            Some(json!({"first_name": "Changed", "password": "a new password"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["first_name"], "Test");
    assert_eq!(r.body["redirect_url"], "/");
    let after = account(&w, "outsider@example.com").await.unwrap();
    assert_eq!(
        (after.0, &after.2, &after.3),
        (before.0, &before.2, &before.3)
    );
    assert_eq!(after.4.as_deref(), Some(w.org.as_str()));
    assert!(members(&w, &w.org)
        .await
        .iter()
        .any(|m| m.0 == "outsider@example.com" && m.1 == 1));
    assert_eq!(members(&w, &w.other_org).await.len(), 1);
    // Already a member: a new invite for them cannot be made, and an old one cannot be used.
    let r = w
        .app
        .call(
            "POST",
            &invites_path(&w.org),
            Some(&w.admin),
            Some(json!({"target_email": "outsider@example.com"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_invite_for_someone_already_a_member_cannot_be_used() {
    let w = World::new().await;
    let inv = invite(&w, &w.admin, json!({"target_email": "late@x.com"})).await;
    let id = inv["id"].as_str().unwrap();
    // Someone with that email joined another way meanwhile.
    w.app.add_member(&w.org, "late@x.com", 1).await;
    let key = w.app.key("late@x.com", &["user:read"]).await;
    let r = w
        .app
        .call("POST", &link(&inv), Some(&key), Some(json!({})))
        .await;
    assert_error(
        &r,
        "user_already_member",
        "You already are a member of this organization.",
    );
    let r = w.app.call("GET", &link(&inv), None, None).await;
    assert_error(&r, "account_exists", &format!("/login?next=/signup/{id}"));
}

/// Accepting one invite twice at once makes one membership.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_accepts_make_one_membership() {
    let w = World::new().await;
    let inv = invite(&w, &w.admin, json!({"target_email": "twice@x.com"})).await;
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let router = w.app.router.clone();
        let path = link(&inv);
        tasks.push(tokio::spawn(async move {
            let req = axum::http::Request::builder()
                .method("POST")
                .uri(path)
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    json!({"first_name": "Twice", "password": "correct horse"}).to_string(),
                ))
                .unwrap();
            let resp = tower::ServiceExt::oneshot(router, req).await.unwrap();
            let status = resp.status();
            let bytes = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap()
                .to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }));
    }
    let mut created = 0;
    for t in tasks {
        let (status, body) = t.await.unwrap();
        match status {
            StatusCode::CREATED => created += 1,
            StatusCode::BAD_REQUEST => assert!(
                [
                    "This invite has already been used.",
                    "The provided invite ID is not valid.",
                    "There already exists an account with email address twice@x.com. Please log in instead."
                ]
                .contains(&body["detail"].as_str().unwrap()),
                "{body}"
            ),
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(created, 1);
    let joined: Vec<_> = members(&w, &w.org)
        .await
        .into_iter()
        .filter(|m| m.0 == "twice@x.com")
        .collect();
    assert_eq!(joined.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// Email, end to end.

/// A minimal SMTP server: accepts every message and hands its DATA to the test.
async fn smtp_sink() -> (u16, mpsc::UnboundedReceiver<String>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let tx = tx.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(buf) = data.as_mut() {
                        if line == "." {
                            let _ = tx.send(data.take().unwrap());
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            buf.push_str(line.strip_prefix('.').unwrap_or(&line));
                            buf.push('\n');
                        }
                        continue;
                    }
                    let verb = line.get(..4).unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250 sink\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            break;
                        }
                        _ => b"250 ok\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, rx)
}

/// A header's value in a received message.
fn header<'a>(mail: &'a str, name: &str) -> Option<&'a str> {
    mail.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

/// The body, with quoted-printable soft breaks undone.
fn body(mail: &str) -> String {
    let body = mail.split_once("\n\n").map(|(_, b)| b).unwrap_or("");
    body.replace("=\n", "").replace("=3D", "=")
}

/// Log lines written while a test runs on this thread.
#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Capture {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

async fn world_with_email(settings: EmailSettings) -> World {
    let config = Config::new(SITE, 2000, Some("test-secret")).with_email(settings);
    World::with_app(TestApp::with_config(config).await).await
}

#[tokio::test]
async fn invite_email_reaches_the_invitee_who_signs_up_through_its_link() {
    let (port, mut inbox) = smtp_sink().await;
    let w = world_with_email(EmailSettings::plain(
        "127.0.0.1",
        port,
        "prickle@example.com",
    ))
    .await;
    // Items 4-5.
    let inv = invite(
        &w,
        &w.admin,
        json!({"target_email": "Xavier@X.com", "first_name": "Xavier", "message": "Come and count hedgehogs with us."}),
    )
    .await;
    assert_eq!(inv["emailing_attempt_made"], true);
    let id = inv["id"].as_str().unwrap();
    let mail = tokio::time::timeout(Duration::from_secs(20), inbox.recv())
        .await
        .expect("the invite email arrives")
        .unwrap();
    assert_eq!(header(&mail, "To"), Some("xavier@x.com"));
    assert_eq!(header(&mail, "Reply-To"), Some("admin@example.com"));
    assert_eq!(header(&mail, "From"), Some("prickle@example.com"));
    let subject = header(&mail, "Subject").unwrap();
    assert!(
        subject.contains("Test") && subject.contains("Hedgehogs"),
        "{subject}"
    );
    let text = body(&mail);
    assert!(text.contains("Come and count hedgehogs with us."), "{text}");
    assert!(text.contains("Hedgehogs"), "{text}");
    // The link carries the invite's token: the one the inviter was shown.
    let emailed = text
        .split_whitespace()
        .find(|w| w.starts_with(&format!("{SITE}/signup/{id}?token=")))
        .unwrap_or_else(|| panic!("no sign-up link: {text}"));
    assert_eq!(Some(emailed), inv["signup_url"].as_str());

    // Follow the link: the sign-up API behind `/signup/<id>?token=...`.
    let from_link = api_path(emailed);
    let r = w.app.call("GET", &from_link, None, None).await;
    assert_eq!(r.body["target_email"], "xavier@x.com");
    let r = w
        .app
        .call(
            "POST",
            &from_link,
            None,
            Some(json!({"first_name": "Xavier", "password": "hedgehogs count"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // The new member is listed by the members endpoint, at the invited level.
    let listed = w
        .app
        .call(
            "GET",
            &format!("/api/organizations/{}/members/?email=xavier@x.com", w.org),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["count"], 1, "{}", listed.body);
    assert_eq!(listed.body["results"][0]["user"]["first_name"], "Xavier");
    assert_eq!(listed.body["results"][0]["level"], 1);

    // Item 6: send_email false sends nothing.
    let quiet = invite(
        &w,
        &w.admin,
        json!({"target_email": "q@x.com", "send_email": false}),
    )
    .await;
    assert_eq!(quiet["emailing_attempt_made"], false);
    // Bulk invites are each emailed.
    let r = w
        .app
        .call(
            "POST",
            &format!("{}bulk/", invites_path(&w.org)),
            Some(&w.admin),
            Some(json!([{"target_email": "b1@x.com"}, {"target_email": "b2@x.com"}])),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let mut to = Vec::new();
    for _ in 0..2 {
        let mail = tokio::time::timeout(Duration::from_secs(20), inbox.recv())
            .await
            .expect("bulk invite emails arrive")
            .unwrap();
        to.push(header(&mail, "To").unwrap().to_string());
    }
    to.sort();
    assert_eq!(to, ["b1@x.com", "b2@x.com"]);
    assert!(
        tokio::time::timeout(Duration::from_millis(300), inbox.recv())
            .await
            .is_err(),
        "no email for send_email: false"
    );
}

#[tokio::test]
async fn a_dead_smtp_server_never_fails_the_invite() {
    let capture = Capture::default();
    let writer = capture.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    // A port nobody listens on: the server is stopped.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let mut settings = EmailSettings::plain("127.0.0.1", port, "prickle@example.com");
    settings.user = Some("mailer".into());
    settings.password = Some("smtp-secret-value".into());
    let w = world_with_email(settings).await;
    let inv = invite(&w, &w.admin, json!({"target_email": "lost@x.com"})).await;
    assert_eq!(inv["emailing_attempt_made"], true);
    let id = inv["id"].as_str().unwrap().to_string();
    // The invite is kept and usable.
    assert_eq!(stored(&w).await.len(), 1);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !capture.text().contains("invite email could not be sent") {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no error logged: {}",
            capture.text()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let log = capture.text();
    assert!(log.contains(&id), "{log}");
    assert!(!log.contains("smtp-secret-value"), "{log}");
    let r = w.app.call("GET", &link(&inv), None, None).await;
    assert_eq!(r.status, StatusCode::OK);
}
