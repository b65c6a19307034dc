//! The web pages (issue 18) over the in-process router: each page answers
//! (or sends a visitor without a session to the login page) with the
//! labelled controls the pages' DOM contract names, the assets are served
//! with their types and keep every first load under 100 KB, and no page
//! shows a secret.

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

use crate::support::{TestApp, World};

/// A first page load (the page, its style sheet and its script) may weigh
/// at most this.
const PAGE_LOAD_BUDGET: usize = 100 * 1024;

/// Every page that needs a session, with the page key its body carries.
const SIGNED_IN: &[(&str, &str)] = &[
    ("/", "projects"),
    ("/projects", "projects"),
    ("/projects/1", "project"),
    ("/members", "members"),
    ("/invites", "invites"),
    ("/keys", "keys"),
    ("/organization", "organization"),
    ("/legal-documents", "legal-documents"),
    ("/oauth-applications", "oauth-applications"),
];

struct Page {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

/// A GET through the router, with the session cookie and the
/// `Accept-Encoding` given: the status, the headers and the body as sent.
async fn send(
    app: &TestApp,
    path: &str,
    cookie: Option<&str>,
    accept_encoding: Option<&str>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut req = Request::builder().uri(path);
    if let Some(e) = accept_encoding {
        req = req.header(header::ACCEPT_ENCODING, e);
    }
    if let Some(c) = cookie {
        req = req.header(header::COOKIE, c);
    }
    let resp = app
        .router
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let headers = resp.headers().clone();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, bytes.to_vec())
}

async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> Page {
    let (status, headers, bytes) = send(app, path, cookie, None).await;
    Page {
        status,
        headers,
        body: String::from_utf8(bytes).expect("pages are UTF-8"),
    }
}

const PASSWORD: &str = "correct horse battery";

/// A browser signed in (`POST /api/login/`) as a new user with `email`:
/// the `Cookie` header it sends.
async fn browser(app: &TestApp, email: &str) -> String {
    prickle::admin::create_user(&app.db, email, "Ada", "Lovelace", Some(PASSWORD))
        .await
        .expect("create user");
    let body = json!({"email": email, "password": PASSWORD}).to_string();
    let req = Request::builder()
        .method("POST")
        .uri("/api/login/")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body))
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let cookies: Vec<String> = resp
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect();
    assert!(cookies.iter().any(|c| c.starts_with("sessionid=")));
    cookies.join("; ")
}

/// The id of the control the `<label for>` with exactly `text` names,
/// asserting that the control exists.
fn labelled(html: &str, text: &str) -> String {
    let needle = format!(">{text}</label>");
    let at = html
        .find(&needle)
        .unwrap_or_else(|| panic!("no label {text:?} in the page"));
    let open = html[..at].rfind("<label").expect("a label element");
    let tag = &html[open..at];
    let start = tag.find("for=\"").expect("the label names its control") + 5;
    let id = &tag[start..];
    let id = &id[..id.find('"').unwrap()];
    assert!(
        html.contains(&format!("id=\"{id}\"")),
        "label {text:?} names #{id}, which is not in the page"
    );
    id.to_string()
}

/// The opening tag of the element with `id`.
fn tag_of<'h>(html: &'h str, id: &str) -> &'h str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id}"));
    let open = html[..at].rfind('<').unwrap();
    let close = at + html[at..].find('>').unwrap();
    &html[open..=close]
}

fn button(html: &str, text: &str) {
    assert!(
        html.contains(&format!(">{text}</button>")),
        "no button {text:?} in the page"
    );
}

#[tokio::test]
async fn pages_without_a_session_go_to_the_login_page() {
    let app = TestApp::new().await;
    for (path, _) in SIGNED_IN {
        let page = get(&app, path, None).await;
        assert_eq!(page.status, StatusCode::FOUND, "{path}");
        let next: String = form_urlencoded::byte_serialize(path.as_bytes()).collect();
        assert_eq!(
            page.headers[header::LOCATION],
            format!("/login?next={next}").as_str(),
            "{path}"
        );
    }
    // The query string comes back too, and a trailing slash is served.
    let page = get(&app, "/members/?search=ada", None).await;
    assert_eq!(
        page.headers[header::LOCATION],
        "/login?next=%2Fmembers%2F%3Fsearch%3Dada"
    );
    // An empty cookie, or one that names no session, is no session.
    for cookie in ["sessionid=", "sessionid=made-up", "csrftoken=x"] {
        let page = get(&app, "/keys", Some(cookie)).await;
        assert_eq!(page.status, StatusCode::FOUND, "{cookie}");
    }
    // Signed in, then signed out: the page, then the login page again.
    let cookie = browser(&app, "ada@example.com").await;
    assert_eq!(
        get(&app, "/keys", Some(&cookie)).await.status,
        StatusCode::OK
    );
    let csrf = cookie.split("csrftoken=").nth(1).unwrap().to_string();
    let req = Request::builder()
        .method("POST")
        .uri("/api/logout/")
        .header(header::COOKIE, &cookie)
        .header("X-CSRFToken", csrf)
        .body(Body::empty())
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    assert_eq!(
        get(&app, "/keys", Some(&cookie)).await.status,
        StatusCode::FOUND
    );
}

#[tokio::test]
async fn the_login_page() {
    let app = TestApp::new().await;
    let page = get(&app, "/login", None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.headers[header::CONTENT_TYPE],
        "text/html; charset=utf-8"
    );
    let html = &page.body;
    let email = labelled(html, "Email");
    assert!(tag_of(html, &email).contains("type=\"email\""));
    let password = labelled(html, "Password");
    assert!(tag_of(html, &password).contains("type=\"password\""));
    button(html, "Log in");
    assert!(html.contains("role=\"alert\" data-error-for=\"\""));
    // No navigation before signing in.
    assert!(!html.contains("<nav"));
    assert!(html.contains("data-page=\"login\""));
}

#[tokio::test]
async fn every_signed_in_page_has_the_navigation() {
    let app = TestApp::new().await;
    let session = browser(&app, "ada@example.com").await;
    for (path, key) in SIGNED_IN {
        let page = get(&app, path, Some(&session)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        let html = &page.body;
        assert!(html.contains(&format!("data-page=\"{key}\"")), "{path}");
        assert!(html.contains("<nav"), "{path}");
        for link in [
            "Projects",
            "Members",
            "Invites",
            "API keys",
            "Organization",
            "Legal documents",
            "OAuth applications",
        ] {
            assert!(html.contains(&format!("\">{link}</a>")), "{path}: {link}");
        }
        let switcher = labelled(html, "Organization");
        assert!(tag_of(html, &switcher).starts_with("<select"), "{path}");
        button(html, "Log out");
        // The page headers.
        let csp = page.headers[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap();
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"));
        assert_eq!(page.headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(page.headers[header::REFERRER_POLICY], "no-referrer");
        // Scripts come only from the asset; the inline blocks are data.
        assert_eq!(
            html.matches("<script").count(),
            1 + html.matches("<script type=\"application/json\"").count(),
            "{path}"
        );
    }
}

#[tokio::test]
async fn each_page_has_the_controls_of_the_contract() {
    let app = TestApp::new().await;
    let session = browser(&app, "ada@example.com").await;
    let page = |path: &'static str| {
        let (app, session) = (&app, &session);
        async move {
            let p = get(app, path, Some(session)).await;
            assert_eq!(p.status, StatusCode::OK, "{path}");
            p.body
        }
    };

    let html = page("/projects").await;
    assert!(html.contains("id=\"project-list\""));
    labelled(&html, "Name");
    button(&html, "Create project");

    let html = page("/projects/7").await;
    assert!(html.contains("data-project=\"7\""));
    let name = labelled(&html, "Name");
    assert!(tag_of(&html, &name).contains("data-setting=\"name\""));
    let tz = labelled(&html, "Timezone");
    assert!(tag_of(&html, &tz).starts_with("<select"));
    assert!(html.contains("<option>Europe/Lisbon</option>"));
    // Every declared setting is in the form, labelled, with its error slot.
    for s in prickle::projects::settings::SETTINGS {
        let id = format!("setting-{}", s.name);
        assert!(html.contains(&format!("for=\"{id}\"")), "{}", s.name);
        assert!(tag_of(&html, &id).contains(&format!("data-setting=\"{}\"", s.name)));
        assert!(
            html.contains(&format!("data-error-for=\"{}\"", s.name)),
            "{}",
            s.name
        );
    }
    button(&html, "Save");
    button(&html, "Delete project");
    assert!(tag_of(&html, "delete-dialog").starts_with("<dialog"));
    button(&html, "Delete");
    assert!(html.contains(">Access</h2>"));
    labelled(&html, "Default access for members");
    // A project id that is no number is no project.
    assert_eq!(
        get(&app, "/projects/x", Some(&session)).await.status,
        StatusCode::NOT_FOUND
    );

    let html = page("/members").await;
    let search = labelled(&html, "Search");
    assert!(tag_of(&html, &search).contains("type=\"search\""));
    assert!(html.contains("id=\"members\""));
    // The permission matrix comes from members::rules::check.
    assert!(html.contains("\"8:1:0\":{\"update\":[1,8],\"remove\":true}"));
    assert!(html.contains("\"1:1:0\":{\"update\":[],\"remove\":false}"));

    let html = page("/invites").await;
    let email = labelled(&html, "Email");
    assert!(tag_of(&html, &email).contains("type=\"email\""));
    let level = labelled(&html, "Level");
    assert!(tag_of(&html, &level).starts_with("<select"));
    labelled(&html, "Message");
    assert!(html.contains("<legend>Project access</legend>"));
    button(&html, "Send invite");
    assert!(tag_of(&html, "signup-link").starts_with("<code"));
    button(&html, "Copy link");
    assert!(html.contains("id=\"invites\""));

    let html = page("/keys").await;
    labelled(&html, "Label");
    for scope in [
        "project:read",
        "project:write",
        "organization:read",
        "* (all access)",
    ] {
        let id = labelled(&html, scope);
        assert!(tag_of(&html, &id).contains("type=\"checkbox\""), "{scope}");
    }
    assert!(html.contains("<legend>Organizations</legend>"));
    assert!(html.contains("<legend>Projects</legend>"));
    button(&html, "Create key");
    assert!(tag_of(&html, "new-key-value").starts_with("<code"));
    button(&html, "Copy");

    let html = page("/organization").await;
    labelled(&html, "Name");
    for switch in [
        "members_can_invite",
        "members_can_create_projects",
        "members_can_use_personal_api_keys",
    ] {
        assert!(tag_of(&html, switch).contains("type=\"checkbox\""));
        assert!(html.contains(&format!("<label for=\"{switch}\">")));
    }
    button(&html, "Save");
    button(&html, "Leave organization");

    for path in ["/legal-documents", "/oauth-applications"] {
        let html = page(path).await;
        assert!(html.contains("<table"), "{path}");
    }
}

#[tokio::test]
async fn the_assets_and_the_weight_of_each_page() {
    let app = TestApp::new().await;
    let session = browser(&app, "ada@example.com").await;
    let css = get(&app, prickle::pages::css_url(), None).await;
    assert_eq!(css.status, StatusCode::OK);
    assert_eq!(css.headers[header::CONTENT_TYPE], "text/css; charset=utf-8");
    let js = get(&app, prickle::pages::js_url(), None).await;
    assert_eq!(js.status, StatusCode::OK);
    assert_eq!(
        js.headers[header::CONTENT_TYPE],
        "text/javascript; charset=utf-8"
    );
    assert_eq!(js.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let assets = css.body.len() + js.body.len();
    let mut pages: Vec<(String, Page)> = Vec::new();
    for (path, _) in SIGNED_IN {
        pages.push((path.to_string(), get(&app, path, Some(&session)).await));
    }
    pages.push(("/login".into(), get(&app, "/login", None).await));
    for (path, page) in &pages {
        assert!(page.body.contains(prickle::pages::css_url()), "{path}");
        assert!(page.body.contains(prickle::pages::js_url()), "{path}");
        let load = page.body.len() + assets;
        assert!(load <= PAGE_LOAD_BUDGET, "{path}: {load} bytes");
    }
    // Pages are served only by GET (and HEAD).
    let req = Request::builder()
        .method("POST")
        .uri("/login")
        .body(Body::empty())
        .unwrap();
    let resp = app.router.clone().oneshot(req).await.unwrap();
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
}

/// A GET that accepts gzip: the status, the headers and the body as sent.
async fn get_gzip(app: &TestApp, path: &str, cookie: Option<&str>) -> (Page, Vec<u8>) {
    let (status, headers, bytes) = send(app, path, cookie, Some("gzip, deflate, br, zstd")).await;
    let page = Page {
        status,
        headers,
        body: String::new(),
    };
    (page, bytes)
}

fn gunzip(bytes: &[u8]) -> String {
    use std::io::Read;
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .expect("gzip");
    out
}

#[tokio::test]
async fn pages_and_assets_are_gzipped_for_browsers_that_accept_it() {
    let app = TestApp::new().await;
    let session = browser(&app, "ada@example.com").await;
    let mut total = 0;
    for (path, cookie) in [
        ("/projects/1", Some(session.as_str())),
        ("/members", Some(session.as_str())),
        ("/login", None),
        (prickle::pages::css_url(), None),
        (prickle::pages::js_url(), None),
    ] {
        let plain = get(&app, path, cookie).await;
        let (page, sent) = get_gzip(&app, path, cookie).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        assert_eq!(page.headers[header::CONTENT_ENCODING], "gzip", "{path}");
        assert_eq!(page.headers[header::VARY], "accept-encoding", "{path}");
        assert_eq!(plain.headers[header::VARY], "accept-encoding", "{path}");
        assert!(
            !plain.headers.contains_key(header::CONTENT_ENCODING),
            "{path}"
        );
        assert_eq!(gunzip(&sent), plain.body, "{path}");
        assert!(
            sent.len() * 2 < plain.body.len(),
            "{path}: {} bytes",
            sent.len()
        );
        total += sent.len();
    }
    // The heaviest page with both assets, as a browser fetches them.
    assert!(total < 40 * 1024, "{total} bytes");
    // A redirect has nothing to compress.
    let (page, sent) = get_gzip(&app, "/keys", None).await;
    assert_eq!(page.status, StatusCode::FOUND);
    assert!(sent.is_empty() && !page.headers.contains_key(header::CONTENT_ENCODING));
}

#[tokio::test]
async fn pages_are_not_in_the_api_document() {
    let declared = prickle::api::routes();
    let pages = declared.pages();
    assert!(pages.iter().any(|p| p.path == "/login"));
    for p in &pages {
        assert!(!p.path.starts_with("/api"), "{}", p.path);
        assert!(
            !declared.endpoints().iter().any(|e| e.path == p.path),
            "{} is both a page and an API route",
            p.path
        );
    }
    let app = TestApp::new().await;
    let schema = get(&app, "/api/schema/?format=json", None).await;
    assert_eq!(schema.status, StatusCode::OK);
    let doc: serde_json::Value = serde_json::from_str(&schema.body).unwrap();
    for p in &pages {
        assert!(doc["paths"].get(p.path).is_none(), "{}", p.path);
    }
}

#[tokio::test]
async fn the_signup_page_shows_the_invite_and_no_secret() {
    let w = World::new().await;
    let path = format!("/api/organizations/{}/invites/", w.org);
    let r = w
        .app
        .call(
            "POST",
            &path,
            Some(&w.owner),
            Some(json!({"target_email": "new@example.com", "level": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let link = r.body["signup_url"].as_str().unwrap();
    let page_path = link.strip_prefix(crate::support::SITE).unwrap().to_string();
    let token = page_path.split("token=").nth(1).unwrap().to_string();

    let page = get(&w.app, &page_path, None).await;
    assert_eq!(page.status, StatusCode::OK);
    let html = &page.body;
    assert!(html.contains("Join Hedgehogs"), "{html}");
    assert!(html.contains("new@example.com"));
    // The inviter, by name.
    assert!(html.contains("Test User invited"), "{html}");
    labelled(html, "First name");
    let password = labelled(html, "Password");
    assert!(tag_of(html, &password).contains("type=\"password\""));
    button(html, "Join");
    assert!(!html.contains(&token), "the page repeats the token");
    assert!(!html.contains("<nav"));
    assert_eq!(page.headers[header::REFERRER_POLICY], "no-referrer");

    // Signed in, a person joins with their account: no name or password asked.
    let session = browser(&w.app, "ada@example.com").await;
    let page = get(&w.app, &page_path, Some(&session)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page
        .body
        .contains("You are signed in as <strong>ada@example.com</strong>"));
    assert!(!page.body.contains("id=\"password\""));
    button(&page.body, "Join");

    // A wrong token, a missing one and an unknown invite look alike.
    let (base, _) = page_path.split_once('?').unwrap();
    for wrong in [
        format!("{base}?token=nope"),
        base.to_string(),
        "/signup/0190aaaa-0000-7000-8000-000000000000?token=x".to_string(),
        "/signup/not-a-uuid".to_string(),
    ] {
        let page = get(&w.app, &wrong, None).await;
        assert_eq!(page.status, StatusCode::NOT_FOUND, "{wrong}");
        assert!(
            page.body.contains("This invite link is not valid"),
            "{wrong}"
        );
        assert!(!page.body.contains("Hedgehogs"), "{wrong}");
        assert!(!page.body.contains("id=\"signup-form\""), "{wrong}");
    }
}

#[tokio::test]
async fn no_page_shows_a_key() {
    let w = World::new().await;
    let project = w.create_project("Secretive").await;
    let r = w
        .app
        .call(
            "POST",
            &format!("/api/organizations/{}/invites/", w.org),
            Some(&w.owner),
            Some(json!({"target_email": "leak@example.com"})),
        )
        .await;
    let token = r.body["signup_url"]
        .as_str()
        .unwrap()
        .split("token=")
        .nth(1)
        .unwrap()
        .to_string();
    let api_token = project["api_token"].as_str().unwrap().to_string();
    let session = browser(&w.app, "ada@example.com").await;
    prickle::admin::add_member(&w.app.db, &w.org, "ada@example.com", 8)
        .await
        .unwrap();
    let session_id = session
        .split(';')
        .next()
        .unwrap()
        .trim_start_matches("sessionid=");
    let secrets = [
        w.owner.as_str(),
        w.member.as_str(),
        &token,
        &api_token,
        session_id,
    ];
    let mut paths: Vec<String> = SIGNED_IN.iter().map(|(p, _)| p.to_string()).collect();
    paths.push("/login".into());
    for path in &paths {
        let page = get(&w.app, path, Some(&session)).await;
        assert_eq!(page.status, StatusCode::OK, "{path}");
        for secret in secrets {
            assert!(!page.body.contains(secret), "{path} shows a secret");
        }
        assert!(!page.body.contains("phx_"), "{path}");
    }
}
