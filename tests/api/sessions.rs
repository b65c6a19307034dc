//! Sessions as PostHog's API has them: `POST /api/login/` and its cookies,
//! the session on every route (scopes do not apply, the person's rules do),
//! Django's CSRF check on unsafe methods, logout, the lockout after 30
//! failures, the keys and the password only a session may manage, and
//! sign-up signing the new user in. On SQLite and PostgreSQL alike.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request};
use http_body_util::BodyExt;
use prickle::admin;
use prickle::config::Config;
use prickle::http::client::ClientAddr;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::support::{TestApp, World, SITE};

const PASSWORD: &str = "correct horse battery";

struct Reply {
    status: u16,
    body: Value,
    set_cookies: Vec<String>,
}

impl Reply {
    fn error(&self) -> (u16, &str, &str, Value) {
        (
            self.status,
            self.body["code"].as_str().unwrap_or("<no code>"),
            self.body["detail"].as_str().unwrap_or("<no detail>"),
            self.body["attr"].clone(),
        )
    }

    /// The value a `Set-Cookie` gives `name`.
    fn cookie(&self, name: &str) -> Option<String> {
        self.set_cookies.iter().find_map(|c| {
            let (k, rest) = c.split_once('=')?;
            (k == name).then(|| rest.split(';').next().unwrap_or_default().to_string())
        })
    }

    fn cookie_line(&self, name: &str) -> &str {
        self.set_cookies
            .iter()
            .find(|c| c.starts_with(&format!("{name}=")))
            .map(String::as_str)
            .unwrap_or_default()
    }
}

/// A signed-in browser's cookies.
#[derive(Clone)]
struct Session {
    id: String,
    csrf: String,
}

/// How a request presents the session.
#[derive(Clone, Copy)]
enum Csrf {
    /// Cookie and header, as a page sends them.
    Sent,
    /// The cookie only (no `X-CSRFToken`).
    NoHeader,
    /// Neither the CSRF cookie nor the header.
    NoCookie,
    /// A header that is not the token.
    Wrong,
}

async fn send(app: &TestApp, req: Request<Body>) -> Reply {
    let method = req.method().to_string();
    let path = req.uri().path().to_string();
    let resp = app.router.clone().oneshot(req).await.expect("infallible");
    let status = resp.status().as_u16();
    let set_cookies = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    crate::conformance::check(&method, &path, status, &body);
    Reply {
        status,
        body,
        set_cookies,
    }
}

fn request(
    method: &str,
    path: &str,
    session: Option<(&Session, Csrf)>,
    body: Option<Value>,
) -> Request<Body> {
    let mut b = Request::builder().method(method).uri(path);
    if let Some((s, csrf)) = session {
        let cookie = match csrf {
            Csrf::NoCookie => format!("sessionid={}", s.id),
            _ => format!("sessionid={}; csrftoken={}", s.id, s.csrf),
        };
        b = b.header(header::COOKIE, cookie);
        match csrf {
            Csrf::Sent => b = b.header("X-CSRFToken", &s.csrf),
            Csrf::Wrong => b = b.header("X-CSRFToken", "not-the-token"),
            Csrf::NoHeader | Csrf::NoCookie => {}
        }
    }
    match body {
        Some(v) => b
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(v.to_string()))
            .unwrap(),
        None => b.body(Body::empty()).unwrap(),
    }
}

async fn call(
    app: &TestApp,
    method: &str,
    path: &str,
    session: &Session,
    body: Option<Value>,
) -> Reply {
    send(
        app,
        request(method, path, Some((session, Csrf::Sent)), body),
    )
    .await
}

async fn login_from(app: &TestApp, email: &str, password: &str, from: Option<IpAddr>) -> Reply {
    let mut req = request(
        "POST",
        "/api/login/",
        None,
        Some(json!({"email": email, "password": password})),
    );
    if let Some(ip) = from {
        req.extensions_mut().insert(ClientAddr(ip));
    }
    send(app, req).await
}

async fn login(app: &TestApp, email: &str, password: &str) -> Reply {
    login_from(app, email, password, None).await
}

async fn signed_in(app: &TestApp, email: &str) -> Session {
    let r = login(app, email, PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    Session {
        id: r.cookie("sessionid").expect("sessionid"),
        csrf: r.cookie("csrftoken").expect("csrftoken"),
    }
}

async fn account(app: &TestApp, email: &str) {
    admin::create_user(&app.db, email, "Ada", "Lovelace", Some(PASSWORD))
        .await
        .expect("create user");
}

/// A world whose member also has a password.
async fn world_with_member_account() -> World {
    let w = World::new().await;
    account(&w.app, "ada@example.com").await;
    admin::add_member(&w.app.db, &w.org, "ada@example.com", 1)
        .await
        .unwrap();
    w
}

#[tokio::test]
async fn login_sets_the_session_and_csrf_cookies_and_the_session_is_the_user() {
    let app = TestApp::new().await;
    account(&app, "ada@example.com").await;
    let r = login(&app, "Ada@Example.com", PASSWORD).await;
    assert_eq!((r.status, r.body.clone()), (200, json!({"success": true})));
    let session = r.cookie_line("sessionid");
    for part in ["HttpOnly", "SameSite=Lax", "Path=/", "Max-Age="] {
        assert!(session.contains(part), "{session}");
    }
    assert!(!session.contains("Secure"), "http site: {session}");
    let csrf = r.cookie_line("csrftoken");
    assert!(
        csrf.contains("SameSite=Lax") && csrf.contains("Path=/"),
        "{csrf}"
    );
    assert!(!csrf.contains("HttpOnly"), "pages read it: {csrf}");
    let s = Session {
        id: r.cookie("sessionid").unwrap(),
        csrf: r.cookie("csrftoken").unwrap(),
    };
    let me = call(&app, "GET", "/api/users/@me/", &s, None).await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(me.body["email"], "ada@example.com");
    // Without the cookie, or with one that names no session: anonymous.
    let anon = send(&app, request("GET", "/api/users/@me/", None, None)).await;
    assert_eq!(anon.error().0, 401);
    let forged = Session {
        id: "forged".into(),
        csrf: s.csrf.clone(),
    };
    let r = call(&app, "GET", "/api/users/@me/", &forged, None).await;
    assert_eq!(
        r.error(),
        (
            401,
            "not_authenticated",
            "Authentication credentials were not provided.",
            Value::Null
        )
    );
    // Only the token's digest is stored.
    let app2 = &app;
    let stored = prickle_sessions_digests(app2).await;
    assert!(!stored.iter().any(|d| d.contains(&s.id)));
    assert_eq!(stored.len(), 1);
}

async fn prickle_sessions_digests(app: &TestApp) -> Vec<String> {
    use prickle::storage::schema::Sessions as S;
    use sea_query::Query;
    let mut tx = app.db.read().await.unwrap();
    let stmt = Query::select().column(S::Digest).from(S::Table).to_owned();
    let rows = tx.query(&stmt, |r| r.string(0)).await.unwrap();
    tx.commit().await.unwrap();
    rows
}

#[tokio::test]
async fn wrong_credentials_get_one_answer_and_bad_bodies_name_the_field() {
    let app = TestApp::new().await;
    account(&app, "ada@example.com").await;
    admin::create_user(&app.db, "nopass@example.com", "No", "Pass", None)
        .await
        .unwrap();
    let invalid = (
        400,
        "invalid_credentials",
        "Invalid email or password.",
        Value::Null,
    );
    for (email, password) in [
        ("ada@example.com", "wrong password"),
        ("nobody@example.com", PASSWORD),
        ("nopass@example.com", PASSWORD),
    ] {
        let r = login(&app, email, password).await;
        assert_eq!(r.error(), invalid, "{email}");
        assert!(r.set_cookies.is_empty());
    }
    let r = login(&app, "not-an-email", PASSWORD).await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_input",
            "Enter a valid email address.",
            json!("email")
        )
    );
    let r = send(
        &app,
        request(
            "POST",
            "/api/login/",
            None,
            Some(json!({"email": "ada@example.com"})),
        ),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            400,
            "required",
            "This field is required.",
            json!("password")
        )
    );
}

#[tokio::test]
async fn unsafe_methods_need_the_csrf_token_as_django_checks_it() {
    let app = TestApp::new().await;
    account(&app, "ada@example.com").await;
    let s = signed_in(&app, "ada@example.com").await;
    let patch = |csrf| {
        request(
            "PATCH",
            "/api/users/@me/",
            Some((&s, csrf)),
            Some(json!({"first_name": "Augusta"})),
        )
    };
    let cases = [
        (Csrf::NoHeader, "CSRF Failed: CSRF token missing."),
        (Csrf::NoCookie, "CSRF Failed: CSRF cookie not set."),
        (
            Csrf::Wrong,
            "CSRF Failed: CSRF token from the 'X-Csrftoken' HTTP header incorrect.",
        ),
    ];
    for (csrf, detail) in cases {
        let r = send(&app, patch(csrf)).await;
        assert_eq!(
            r.error(),
            (403, "permission_denied", detail, Value::Null),
            "{detail}"
        );
        assert_eq!(r.body["type"], "authentication_error");
    }
    // Another site's page.
    let mut req = patch(Csrf::Sent);
    req.headers_mut()
        .insert(header::ORIGIN, "https://evil.example".parse().unwrap());
    let r = send(&app, req).await;
    assert_eq!(
        r.error().2,
        "CSRF Failed: Origin checking failed - https://evil.example does not match any trusted origins."
    );
    // Nothing was changed by the refused ones; the site's own page passes.
    let mut req = patch(Csrf::Sent);
    req.headers_mut()
        .insert(header::ORIGIN, SITE.parse().unwrap());
    let r = send(&app, req).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["first_name"], "Augusta");
    // Safe methods need no token.
    let r = send(
        &app,
        request("GET", "/api/users/@me/", Some((&s, Csrf::NoCookie)), None),
    )
    .await;
    assert_eq!(r.status, 200);
}

#[tokio::test]
async fn logout_ends_the_session_everywhere_and_clears_the_cookies() {
    let app = TestApp::new().await;
    account(&app, "ada@example.com").await;
    let laptop = signed_in(&app, "ada@example.com").await;
    let phone = signed_in(&app, "ada@example.com").await;
    // Refused without the token: the session goes on.
    let r = send(
        &app,
        request(
            "POST",
            "/api/logout/",
            Some((&laptop, Csrf::NoHeader)),
            None,
        ),
    )
    .await;
    assert_eq!(r.error().2, "CSRF Failed: CSRF token missing.");
    assert_eq!(
        call(&app, "GET", "/api/users/@me/", &laptop, None)
            .await
            .status,
        200
    );
    let r = call(&app, "POST", "/api/logout/", &laptop, None).await;
    assert_eq!(r.status, 204);
    for name in ["sessionid", "csrftoken"] {
        let line = r.cookie_line(name);
        assert!(
            line.contains("Max-Age=0") && line.contains("Path=/"),
            "{line}"
        );
    }
    assert_eq!(
        call(&app, "GET", "/api/users/@me/", &laptop, None)
            .await
            .status,
        401
    );
    assert_eq!(
        call(&app, "GET", "/api/users/@me/", &phone, None)
            .await
            .status,
        200
    );
    // PostHog's logout link ends the session too, and sends to the login page.
    let r = send(
        &app,
        request("GET", "/logout", Some((&phone, Csrf::NoHeader)), None),
    )
    .await;
    assert_eq!(r.status, 302);
    assert!(r.cookie_line("sessionid").contains("Max-Age=0"));
    assert_eq!(
        call(&app, "GET", "/api/users/@me/", &phone, None)
            .await
            .status,
        401
    );
    // Logging out without a session clears the cookies all the same.
    let r = send(&app, request("POST", "/api/logout/", None, None)).await;
    assert_eq!(r.status, 204);
    assert!(r.cookie_line("sessionid").contains("Max-Age=0"));
}

#[tokio::test]
async fn a_session_is_not_limited_by_scopes_but_by_membership_and_levels() {
    let w = world_with_member_account().await;
    let app = &w.app;
    let s = signed_in(app, "ada@example.com").await;
    // Any route, no scope needed: the organization's projects, its members.
    let r = call(app, "GET", &w.projects(), &s, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let members = format!("/api/organizations/{}/members/", w.org);
    assert_eq!(call(app, "GET", &members, &s, None).await.status, 200);
    // The person's rules: a member is no admin, an outsider no member.
    let org = format!("/api/organizations/{}/", w.org);
    let r = call(app, "PATCH", &org, &s, Some(json!({"name": "Mine"}))).await;
    assert_eq!(
        r.error().2,
        "Your organization access level is insufficient."
    );
    let other = format!("/api/organizations/{}/", w.other_org);
    assert_eq!(call(app, "GET", &other, &s, None).await.status, 404);
    let other_projects = format!("/api/organizations/{}/projects/", w.other_org);
    let r = call(app, "GET", &other_projects, &s, None).await;
    assert_eq!((r.status, r.body["count"].clone()), (200, json!(0)));
    // Removed from the organization: refused from the next request on.
    let me = call(app, "GET", "/api/users/@me/", &s, None).await;
    let uuid = me.body["uuid"].as_str().unwrap().to_string();
    let r = app
        .call("DELETE", &format!("{members}{uuid}/"), Some(&w.owner), None)
        .await;
    assert_eq!(r.status.as_u16(), 204, "{}", r.body);
    let r = call(
        app,
        "GET",
        &format!("/api/organizations/{}/", w.org),
        &s,
        None,
    )
    .await;
    assert_eq!(r.status, 404);
    let r = call(app, "GET", &w.projects(), &s, None).await;
    assert_eq!(r.body["count"], 0);
}

#[tokio::test]
async fn thirty_failures_lock_out_the_account_and_the_address() {
    let app = TestApp::new().await;
    account(&app, "ada@example.com").await;
    account(&app, "bob@example.com").await;
    let here = Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 7)));
    let elsewhere = Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9)));
    let locked = (
        403,
        "too_many_failed_attempts",
        "Too many failed login attempts. Please try again in 10 minutes.",
        Value::Null,
    );
    for i in 1..=29 {
        let r = login_from(&app, "ada@example.com", "wrong", here).await;
        assert_eq!(r.error().1, "invalid_credentials", "attempt {i}");
    }
    // The 30th failure is answered with the lockout, as django-axes does.
    let r = login_from(&app, "ada@example.com", "wrong", here).await;
    assert_eq!(r.error(), locked);
    assert_eq!(r.body["type"], "authentication_error");
    // The right password does not help, from anywhere.
    let r = login_from(&app, "ada@example.com", PASSWORD, elsewhere).await;
    assert_eq!(r.error(), locked);
    // The address is locked for every account.
    let r = login_from(&app, "bob@example.com", PASSWORD, here).await;
    assert_eq!(r.error(), locked);
    // Another account from another address is not.
    let r = login_from(&app, "bob@example.com", PASSWORD, elsewhere).await;
    assert_eq!(r.status, 200, "{}", r.body);
    // Stored in the database: another process over it sees the lock.
    let other = TestApp::at(&app.database_url).await;
    let r = login_from(&other, "ada@example.com", PASSWORD, elsewhere).await;
    assert_eq!(r.error(), locked);
}

#[tokio::test]
async fn idle_and_old_sessions_end() {
    let mut config = Config::new(SITE, 2000, Some("test-secret"));
    config.session_idle = Duration::from_millis(300);
    let app = TestApp::with_config(config).await;
    account(&app, "ada@example.com").await;
    let s = signed_in(&app, "ada@example.com").await;
    assert_eq!(
        call(&app, "GET", "/api/users/@me/", &s, None).await.status,
        200
    );
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        call(&app, "GET", "/api/users/@me/", &s, None).await.status,
        401
    );

    let mut config = Config::new(SITE, 2000, Some("test-secret"));
    config.session_max = Duration::from_millis(300);
    let app = TestApp::with_config(config).await;
    account(&app, "ada@example.com").await;
    let s = signed_in(&app, "ada@example.com").await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(
        call(&app, "GET", "/api/users/@me/", &s, None).await.status,
        401
    );
}

#[tokio::test]
async fn a_session_manages_the_users_keys_and_a_key_may_not() {
    let w = world_with_member_account().await;
    let app = &w.app;
    let s = signed_in(app, "ada@example.com").await;
    let r = call(
        app,
        "POST",
        "/api/personal_api_keys/",
        &s,
        Some(
            json!({"label": "laptop", "scopes": ["project:read"], "scoped_organizations": [w.org]}),
        ),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let value = r.body["value"].as_str().unwrap().to_string();
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(value.starts_with("phx_"));
    assert_eq!(r.body["scopes"], json!(["project:read"]));
    // The key works with a plain client, within its scopes.
    let r = app.call("GET", &w.projects(), Some(&value), None).await;
    assert_eq!(r.status.as_u16(), 200, "{}", r.body);
    let r = app
        .call("GET", "/api/personal_api_keys/", Some(&value), None)
        .await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "This action does not support Personal API Key access",
            Value::Null
        )
    );
    let r = app
        .call(
            "POST",
            "/api/personal_api_keys/",
            Some(&value),
            Some(json!({"label": "x", "scopes": ["*"]})),
        )
        .await;
    assert_eq!(r.status.as_u16(), 403);
    // Listed without the value, newest first.
    let r = call(app, "GET", "/api/personal_api_keys/", &s, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body.as_array().unwrap().len(), 1);
    assert_eq!(r.body[0]["value"], Value::Null);
    let detail = format!("/api/personal_api_keys/{id}/");
    let r = call(app, "PATCH", &detail, &s, Some(json!({"label": "desk"}))).await;
    assert_eq!((r.status, r.body["label"].clone()), (200, json!("desk")));
    // Rolled: the old value is refused, the new one shown once.
    let r = call(app, "POST", &format!("{detail}roll/"), &s, None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let rolled = r.body["value"].as_str().unwrap().to_string();
    assert_ne!(rolled, value);
    assert_eq!(
        app.call("GET", &w.projects(), Some(&value), None)
            .await
            .status
            .as_u16(),
        401
    );
    assert_eq!(
        app.call("GET", &w.projects(), Some(&rolled), None)
            .await
            .status
            .as_u16(),
        200
    );
    // Another user's key is not found.
    let r = call(app, "DELETE", "/api/personal_api_keys/nope/", &s, None).await;
    assert_eq!(r.status, 404);
    let r = call(app, "DELETE", &detail, &s, None).await;
    assert_eq!(r.status, 204);
    assert_eq!(
        app.call("GET", &w.projects(), Some(&rolled), None)
            .await
            .status
            .as_u16(),
        401
    );
}

#[tokio::test]
async fn keys_are_validated_as_posthog_validates_them() {
    let w = world_with_member_account().await;
    let app = &w.app;
    let s = signed_in(app, "ada@example.com").await;
    let create = |body: Value| call(app, "POST", "/api/personal_api_keys/", &s, Some(body));
    let r = create(json!({"label": "x", "scopes": ["project:read", "nope:write"]})).await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_input",
            "Invalid scope: nope:write",
            json!("scopes")
        )
    );
    let r =
        create(json!({"label": "x", "scopes": ["*"], "scoped_organizations": [w.other_org]})).await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_input",
            "You must be a member of all organizations that you are scoping the key to.",
            json!("scoped_organizations")
        )
    );
    let r = create(json!({"label": "x", "scopes": ["*"], "scoped_organizations": ["not-a-uuid"]}))
        .await;
    assert_eq!(r.error().2, "Invalid organization UUID");
    let other_project = w.create_other_project("Theirs").await["id"]
        .as_i64()
        .unwrap();
    let r = create(json!({"label": "x", "scopes": ["*"], "scoped_teams": [other_project]})).await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_input",
            "You must be a member of all teams that you are scoping the key to.",
            json!("scoped_teams")
        )
    );
    let r = create(json!({"scopes": ["*"]})).await;
    assert_eq!(r.error().3, json!("label"));
    for i in 0..10 {
        let r = create(json!({"label": format!("k{i}"), "scopes": ["*"]})).await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let r = create(json!({"label": "eleventh", "scopes": ["*"]})).await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_input",
            "You can only have 10 personal API keys. Remove an existing key before creating a new one.",
            Value::Null
        )
    );
}

#[tokio::test]
async fn a_session_changes_the_password_with_the_current_one() {
    let app = TestApp::new().await;
    account(&app, "ada@example.com").await;
    let s = signed_in(&app, "ada@example.com").await;
    let phone = signed_in(&app, "ada@example.com").await;
    let me = "/api/users/@me/";
    let r = call(
        &app,
        "PATCH",
        me,
        &s,
        Some(json!({"password": "a new secret"})),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            400,
            "required",
            "This field is required when updating your password.",
            json!("current_password")
        )
    );
    let r = call(
        &app,
        "PATCH",
        me,
        &s,
        Some(json!({"password": "a new secret", "current_password": "guess"})),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            400,
            "incorrect_password",
            "Your current password is incorrect.",
            json!("current_password")
        )
    );
    let r = call(
        &app,
        "PATCH",
        me,
        &s,
        Some(json!({"password": "short", "current_password": PASSWORD})),
    )
    .await;
    assert_eq!(r.error().1, "password_too_short");
    let r = call(
        &app,
        "PATCH",
        me,
        &s,
        Some(json!({"password": "a new secret", "current_password": PASSWORD})),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    // This browser stays signed in; the others are signed out.
    assert_eq!(call(&app, "GET", me, &s, None).await.status, 200);
    assert_eq!(call(&app, "GET", me, &phone, None).await.status, 401);
    assert_eq!(login(&app, "ada@example.com", PASSWORD).await.status, 400);
    assert_eq!(
        login(&app, "ada@example.com", "a new secret").await.status,
        200
    );
    // Five tries a minute.
    let r = call(
        &app,
        "PATCH",
        me,
        &s,
        Some(json!({"password": "another secret", "current_password": "guess"})),
    )
    .await;
    assert_eq!(r.error().1, "incorrect_password");
    let r = call(
        &app,
        "PATCH",
        me,
        &s,
        Some(json!({"password": "another secret", "current_password": "guess"})),
    )
    .await;
    assert_eq!(r.status, 429, "{}", r.body);
}

#[tokio::test]
async fn a_key_still_changes_no_password() {
    let app = TestApp::new().await;
    account(&app, "ada@example.com").await;
    let key = app.key("ada@example.com", &["*"]).await;
    let r = app
        .call(
            "PATCH",
            "/api/users/@me/",
            Some(&key),
            Some(json!({"password": "a new secret", "current_password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status.as_u16(), 403);
    assert_eq!(login(&app, "ada@example.com", PASSWORD).await.status, 200);
}

#[tokio::test]
async fn signing_up_through_an_invite_signs_the_new_user_in() {
    let w = World::new().await;
    let app = &w.app;
    let r = app
        .call(
            "POST",
            &format!("/api/organizations/{}/invites/", w.org),
            Some(&w.owner),
            Some(json!({"target_email": "newcomer@example.com", "level": 1})),
        )
        .await;
    assert_eq!(r.status.as_u16(), 201, "{}", r.body);
    let link = crate::signup::link(&r.body);
    let r = send(
        app,
        request(
            "POST",
            &link,
            None,
            Some(json!({"first_name": "New", "password": "correct horse"})),
        ),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let s = Session {
        id: r.cookie("sessionid").expect("signed in"),
        csrf: r.cookie("csrftoken").expect("csrf"),
    };
    let me = call(app, "GET", "/api/users/@me/", &s, None).await;
    assert_eq!(me.body["email"], "newcomer@example.com");
    assert_eq!(me.body["organization"]["id"], json!(w.org));
    // And the password works for the next login.
    assert_eq!(
        login(app, "newcomer@example.com", "correct horse")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn sessions_are_documented_as_cookie_auth() {
    let doc = crate::conformance::document();
    assert_eq!(
        doc["components"]["securitySchemes"]["cookieAuth"],
        json!({"type": "apiKey", "in": "cookie", "name": "sessionid"})
    );
    assert_eq!(
        doc["paths"]["/api/personal_api_keys/"]["post"]["security"],
        json!([{"cookieAuth": []}])
    );
    assert_eq!(
        doc["paths"]["/api/login/"]["post"]["operationId"],
        "login_create"
    );
    assert!(doc["paths"]["/api/login/"]["post"]
        .get("security")
        .is_none());
}

#[tokio::test]
async fn changing_keys_needs_a_login_at_most_two_hours_old() {
    use prickle::storage::schema::Sessions as S;
    use sea_query::Query;
    let app = TestApp::new().await;
    account(&app, "ada@example.com").await;
    let s = signed_in(&app, "ada@example.com").await;
    let r = call(
        &app,
        "POST",
        "/api/personal_api_keys/",
        &s,
        Some(json!({"label": "early", "scopes": ["*"]})),
    )
    .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    // Signed in three hours ago (used just now).
    let three_hours = 3 * 3600 * 1_000_000;
    let stmt = Query::update()
        .table(S::Table)
        .value(S::CreatedAt, prickle::time::now_micros() - three_hours)
        .to_owned();
    let mut tx = app.db.write().await.unwrap();
    tx.execute(&stmt).await.unwrap();
    tx.commit().await.unwrap();
    let stale = (
        403,
        "permission_denied",
        "This action requires you to be recently authenticated.",
        Value::Null,
    );
    let detail = format!("/api/personal_api_keys/{id}/");
    let body = json!({"label": "late", "scopes": ["*"]});
    let r = call(&app, "POST", "/api/personal_api_keys/", &s, Some(body)).await;
    assert_eq!(r.error(), stale);
    let r = call(&app, "PATCH", &detail, &s, Some(json!({"label": "x"}))).await;
    assert_eq!(r.error(), stale);
    let r = call(&app, "POST", &format!("{detail}roll/"), &s, None).await;
    assert_eq!(r.error(), stale);
    let r = call(&app, "DELETE", &detail, &s, None).await;
    assert_eq!(r.error(), stale);
    // Reading is not sensitive; logging in again makes it recent.
    assert_eq!(
        call(&app, "GET", "/api/personal_api_keys/", &s, None)
            .await
            .status,
        200
    );
    let fresh = signed_in(&app, "ada@example.com").await;
    assert_eq!(
        call(&app, "DELETE", &detail, &fresh, None).await.status,
        204
    );
}

/// The owner of a [`World`], signed in (a password set for them first).
async fn owner_session(w: &World) -> Session {
    let me = w
        .app
        .call("GET", "/api/users/@me/", Some(&w.owner), None)
        .await;
    let id = me.body["id"].as_i64().unwrap();
    let hash = prickle::passwords::hash_now(PASSWORD).unwrap();
    let mut tx = w.app.db.write().await.unwrap();
    prickle::sessions::store::set_password(&mut tx, id, &hash)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    signed_in(&w.app, "owner@example.com").await
}

/// Every route a key reads, a session reads the same way: the owner's
/// session gets the status the owner's `*` key gets, on every declared GET
/// (the key-management routes, which refuse keys, aside).
#[tokio::test]
async fn a_session_reads_every_route_as_the_owners_star_key_does() {
    let w = World::new().await;
    let f = crate::hostile::bounds::Fixtures::new(&w).await;
    let s = owner_session(&w).await;
    let mut walked = 0;
    for e in prickle::api::endpoints() {
        let public = matches!(e.access, prickle::http::Access::Public);
        if e.method != axum::http::Method::GET || public {
            continue;
        }
        let path = f.path(e.path);
        let by_session = call(&w.app, "GET", &path, &s, None).await;
        let by_key = w.app.call("GET", &path, Some(&w.owner), None).await;
        assert!(by_session.status < 500, "{path}: {}", by_session.body);
        match e.path {
            // A key reads only itself there; a session any of the user's keys.
            "/api/personal_api_keys" => assert_eq!(by_session.status, 200, "{path}"),
            "/api/personal_api_keys/{id}" => assert_eq!(by_session.status, 404, "{path}"),
            _ => assert_eq!(
                by_session.status,
                by_key.status.as_u16(),
                "{path}: {} / {}",
                by_session.body,
                by_key.body
            ),
        }
        walked += 1;
    }
    assert!(walked > 20, "{walked} routes");
}

#[tokio::test]
async fn cookies_are_secure_under_an_https_site() {
    let app = TestApp::with_config(Config::new(
        "https://prickle.example",
        2000,
        Some("test-secret"),
    ))
    .await;
    account(&app, "ada@example.com").await;
    let r = login(&app, "ada@example.com", PASSWORD).await;
    assert_eq!(r.status, 200);
    for name in ["sessionid", "csrftoken"] {
        assert!(
            r.cookie_line(name).ends_with("; Secure"),
            "{}",
            r.cookie_line(name)
        );
    }
    let s = Session {
        id: r.cookie("sessionid").unwrap(),
        csrf: r.cookie("csrftoken").unwrap(),
    };
    // The site's own origin passes the CSRF check.
    let mut req = request("POST", "/api/logout/", Some((&s, Csrf::Sent)), None);
    req.headers_mut()
        .insert(header::ORIGIN, "https://prickle.example".parse().unwrap());
    let r = send(&app, req).await;
    assert_eq!(r.status, 204);
    assert!(r.cookie_line("sessionid").ends_with("; Secure"));
}

/// Every declared write route checks the session's CSRF token before
/// anything else it does: nothing is written without it.
#[tokio::test]
async fn every_write_route_refuses_a_session_without_its_csrf_token() {
    let w = World::new().await;
    let f = crate::hostile::bounds::Fixtures::new(&w).await;
    let s = owner_session(&w).await;
    let mut walked = 0;
    for e in prickle::api::endpoints() {
        let public = matches!(e.access, prickle::http::Access::Public);
        if public || !matches!(e.method.as_str(), "POST" | "PUT" | "PATCH" | "DELETE") {
            continue;
        }
        let path = f.path(e.path);
        let body = (e.method != axum::http::Method::DELETE).then(|| json!({}));
        let r = send(
            &w.app,
            request(e.method.as_str(), &path, Some((&s, Csrf::NoHeader)), body),
        )
        .await;
        assert_eq!(
            r.error(),
            (
                403,
                "permission_denied",
                "CSRF Failed: CSRF token missing.",
                Value::Null
            ),
            "{} {path}",
            e.method
        );
        walked += 1;
    }
    assert!(walked > 20, "{walked} routes");
    // The world is as it was: the owner still reads the organization.
    let r = w
        .app
        .call(
            "GET",
            &format!("/api/organizations/{}/", w.org),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(r.status.as_u16(), 200);
}
