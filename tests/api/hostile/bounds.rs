//! See `hostile/mod.rs`. Every input bounded: query parameters of every
//! route, and the sizes of what a user may store.

use std::collections::BTreeSet;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::support::{Response, World};

/// The query parameters any route might read, besides its documented ones,
/// and one nobody reads.
const COMMON_PARAMETERS: &[&str] = &[
    "search",
    "limit",
    "offset",
    "email",
    "order",
    "updated_after",
    "page",
    "format",
    "personal_api_key",
    "no_such_parameter",
];

/// The bound `http::request` reads every query string with.
const MAX: usize = prickle::http::request::MAX_QUERY_CHARS;

fn encode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

/// Values far over the bound, each under the 64 KiB a URI may hold once
/// percent-encoded: ASCII, non-ASCII, a NUL, and LIKE's wildcards.
fn huge_values() -> Vec<(&'static str, String)> {
    vec![
        ("ascii", "a".repeat(60_000)),
        ("non-ascii", "é".repeat(9_000)),
        ("nul", format!("{}\0", "a".repeat(40_000))),
        ("wildcards", "%_\\".repeat(7_000)),
    ]
}

/// Values at the bound, which reach the handlers.
fn bounded_values() -> Vec<(&'static str, String)> {
    vec![
        ("ascii", "a".repeat(MAX)),
        ("non-ascii", "é".repeat(MAX)),
        ("four-byte", "🦔".repeat(MAX)),
        ("nul", format!("{}\0", "a".repeat(MAX - 1))),
        ("wildcards", "%_\\".repeat(MAX / 3)),
    ]
}

/// The documented query parameters of a route and method.
fn documented(method: &str, path: &str) -> Vec<String> {
    let doc = crate::conformance::document();
    let key = format!("{path}/");
    let op = &doc["paths"][&key][method.to_ascii_lowercase()];
    op["parameters"]
        .as_array()
        .map(|ps| {
            ps.iter()
                .filter(|p| p["in"] == "query")
                .filter_map(|p| p["name"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// A concrete path for a declared pattern: real objects where the world has
/// them, so the request reaches the handler.
pub(crate) struct Fixtures {
    org: String,
    project: i64,
    member_uuid: String,
    invite: String,
    /// A role the member holds, and that holding.
    role: String,
    role_membership: String,
}

impl Fixtures {
    pub(crate) async fn new(w: &World) -> Fixtures {
        let project = w.create_project("Bounded").await["id"].as_i64().unwrap();
        let members = format!("/api/organizations/{}/members/", w.org);
        let r = w.app.call("GET", &members, Some(&w.owner), None).await;
        let member_uuid = r.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["user"]["email"] == "member@example.com")
            .map(|m| m["user"]["uuid"].as_str().unwrap().to_string())
            .unwrap();
        let invites = format!("/api/organizations/{}/invites/", w.org);
        let body = json!({"target_email": "bounded@example.com"});
        let r = w
            .app
            .call("POST", &invites, Some(&w.owner), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let invite = r.body["id"].as_str().unwrap().to_string();
        let roles = format!("/api/organizations/{}/roles/", w.org);
        let body = json!({"name": "Bounded"});
        let r = w.app.call("POST", &roles, Some(&w.owner), Some(body)).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        let role = r.body["id"].as_str().unwrap().to_string();
        let holders = format!("{roles}{role}/role_memberships/");
        let body = json!({"user_uuid": member_uuid});
        let r = w
            .app
            .call("POST", &holders, Some(&w.owner), Some(body))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        Fixtures {
            org: w.org.clone(),
            project,
            member_uuid,
            invite,
            role,
            role_membership: r.body["id"].as_str().unwrap().to_string(),
        }
    }

    pub(crate) fn path(&self, pattern: &str) -> String {
        let mut out = String::new();
        for segment in pattern.split('/').skip(1) {
            out.push('/');
            let value = match segment {
                "{organization_id}" => self.org.clone(),
                "{user__uuid}" => self.member_uuid.clone(),
                "{invite_id}" => self.invite.clone(),
                "{role_id}" => self.role.clone(),
                "{file}" => "index.html".to_string(),
                s if s.starts_with('{') => match pattern {
                    p if p.contains("/invites/") => self.invite.clone(),
                    p if p.contains("/role_memberships/") => self.role_membership.clone(),
                    p if p.contains("/roles/") => self.role.clone(),
                    p if p.contains("/projects/") => self.project.to_string(),
                    p if p.contains("/personal_api_keys/") => "@current".to_string(),
                    // Any other user is PostHog's non-staff 403, before the handler.
                    p if p.starts_with("/api/users/") => "@me".to_string(),
                    _ => "1".to_string(),
                },
                s => s.to_string(),
            };
            out.push_str(&value);
        }
        out.push('/');
        out
    }
}

fn assert_not_5xx(r: &Response, what: &str) {
    assert!(r.status.as_u16() < 500, "{what}: {} {:?}", r.status, r.body);
}

/// Every query parameter of every route (documented, commonly read, and
/// unknown), far over the bound: a 400 naming the parameter, never a 5xx,
/// whatever the route, method or encoding. New routes are covered as they
/// are declared.
#[tokio::test]
async fn every_query_parameter_of_every_route_is_bounded() {
    let _turn = super::HEAVY.lock().await;
    let w = World::new().await;
    let f = Fixtures::new(&w).await;
    let endpoints = prickle::api::endpoints();
    let mut checked = 0;
    for e in &endpoints {
        let method = e.method.as_str();
        let path = f.path(e.path);
        let mut names: BTreeSet<String> = documented(method, e.path).into_iter().collect();
        names.extend(COMMON_PARAMETERS.iter().map(|s| s.to_string()));
        for name in &names {
            for (kind, value) in huge_values() {
                let uri = format!("{path}?{}={}", encode(name), encode(&value));
                let r = w.app.call(method, &uri, Some(&w.owner), None).await;
                let what = format!("{method} {} ?{name}= {kind}", e.path);
                assert_not_5xx(&r, &what);
                assert_eq!(
                    r.error(),
                    (
                        400,
                        "max_length",
                        format!("Ensure this field has no more than {MAX} characters.").as_str(),
                        json!(name)
                    ),
                    "{what}"
                );
                checked += 1;
            }
        }
        // A name over the bound cannot be named back.
        let uri = format!("{path}?{}=1", "n".repeat(MAX + 1));
        let r = w.app.call(method, &uri, Some(&w.owner), None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{method} {}", e.path);
        assert_eq!(r.body["attr"], Value::Null);
    }
    assert!(checked >= endpoints.len() * COMMON_PARAMETERS.len() * 4);
    // The documented parameters are read from the document itself.
    let members = documented("GET", "/api/organizations/{organization_id}/members");
    assert!(members.iter().any(|p| p == "updated_after"), "{members:?}");
}

/// Values within the bound reach the handlers of every read route: none of
/// them is a 5xx on either database (SQLite's LIKE limit, PostgreSQL's NUL).
#[tokio::test]
async fn bounded_query_values_never_reach_a_5xx() {
    let w = World::new().await;
    let f = Fixtures::new(&w).await;
    for e in prickle::api::endpoints()
        .iter()
        .filter(|e| e.method == axum::http::Method::GET)
    {
        let path = f.path(e.path);
        let mut names: BTreeSet<String> = documented("GET", e.path).into_iter().collect();
        names.extend(COMMON_PARAMETERS.iter().map(|s| s.to_string()));
        for name in &names {
            for (kind, value) in bounded_values() {
                let uri = format!("{path}?{}={}", encode(name), encode(&value));
                let r = w.app.call("GET", &uri, Some(&w.owner), None).await;
                assert_not_5xx(&r, &format!("GET {} ?{name}= {kind}", e.path));
            }
        }
    }
}

/// The report: a 60,000-character search of the projects list was
/// SQLite's "LIKE or GLOB pattern too complex", a 500.
#[tokio::test]
async fn a_huge_project_search_is_a_400_naming_it() {
    let w = World::new().await;
    let uri = format!("{}?search={}", w.projects(), "a".repeat(60_000));
    let r = w.app.call("GET", &uri, Some(&w.owner), None).await;
    assert_eq!(
        r.error(),
        (
            400,
            "max_length",
            format!("Ensure this field has no more than {MAX} characters.").as_str(),
            json!("search")
        )
    );
    let uri = format!("{}?search={}", w.projects(), encode(&"%".repeat(MAX)));
    let r = w.app.call("GET", &uri, Some(&w.owner), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["count"], 0);
}

// ------------------------------------------------------------ /api/users/@me/

const ME: &str = "/api/users/@me/";

async fn patch_me(w: &World, body: Value) -> Response {
    w.app.call("PATCH", ME, Some(&w.member), Some(body)).await
}

#[tokio::test]
async fn digest_settings_are_capped_at_a_thousand_projects() {
    let w = World::new().await;
    let many = |from: usize, n: usize| -> Value {
        Value::Object(
            (from..from + n)
                .map(|i| (i.to_string(), json!(true)))
                .collect(),
        )
    };
    let r = patch_me(
        &w,
        json!({"notification_settings": {"project_weekly_digest_disabled": many(0, 600)}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Merged with what is stored: the second PATCH would make 1,200.
    let r = patch_me(
        &w,
        json!({"notification_settings": {"project_weekly_digest_disabled": many(600, 600)}}),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_input",
            "project_weekly_digest_disabled may name at most 1000 projects",
            json!("notification_settings")
        )
    );
    let r = w.app.call("GET", ME, Some(&w.member), None).await;
    let stored = &r.body["notification_settings"]["project_weekly_digest_disabled"];
    assert_eq!(stored.as_object().unwrap().len(), 600);
    // A key is a project id, not a place to store text.
    let r = patch_me(
        &w,
        json!({"notification_settings": {"project_weekly_digest_disabled": {"x".repeat(10_000): true}}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
    assert_eq!(r.body["attr"], "notification_settings");
    // Values stay PostHog's: booleans only.
    let r = patch_me(
        &w,
        json!({"notification_settings": {"project_weekly_digest_disabled": {"1": "x".repeat(100)}}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{:?}", r.body);
}

#[tokio::test]
async fn hedgehog_config_is_capped_at_16_kb() {
    let w = World::new().await;
    let big = json!({"accessories": ["x".repeat(20_000)]});
    let r = patch_me(&w, json!({ "hedgehog_config": big })).await;
    assert_eq!(
        r.error(),
        (
            400,
            "max_length",
            "Ensure this field has no more than 16384 bytes of JSON.",
            json!("hedgehog_config")
        )
    );
    let small = json!({"use_as_profile": true, "color": "blue", "accessories": ["beret"]});
    let r = patch_me(&w, json!({ "hedgehog_config": small })).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["hedgehog_config"], small);
}

/// PostHog's max lengths on what users, organizations and invites store,
/// and prickle's cap on an invite's message.
#[tokio::test]
async fn stored_strings_have_posthog_max_lengths() {
    let w = World::new().await;
    let org = format!("/api/organizations/{}/", w.org);
    let invites = format!("/api/organizations/{}/invites/", w.org);
    let too_long = |n: usize| "x".repeat(n + 1);
    let cases: Vec<(&str, String, &str, Value, &str, usize)> = vec![
        (
            "PATCH",
            ME.into(),
            "me",
            json!({"first_name": too_long(150)}),
            "first_name",
            150,
        ),
        (
            "PATCH",
            ME.into(),
            "me",
            json!({"last_name": too_long(150)}),
            "last_name",
            150,
        ),
        (
            "PATCH",
            org.clone(),
            "owner",
            json!({"name": too_long(64)}),
            "name",
            64,
        ),
        (
            "POST",
            "/api/organizations/".into(),
            "owner",
            json!({"name": too_long(64)}),
            "name",
            64,
        ),
        (
            "POST",
            invites.clone(),
            "owner",
            json!({"target_email": "a@example.com", "first_name": too_long(30)}),
            "first_name",
            30,
        ),
        (
            "POST",
            invites.clone(),
            "owner",
            json!({"target_email": "a@example.com", "message": too_long(2000)}),
            "message",
            2000,
        ),
    ];
    for (method, path, who, body, attr, max) in cases {
        let key = if who == "me" { &w.member } else { &w.owner };
        let r = w.app.call(method, &path, Some(key), Some(body)).await;
        assert_eq!(
            r.error(),
            (
                400,
                "max_length",
                format!("Ensure this field has no more than {max} characters.").as_str(),
                json!(attr)
            ),
            "{method} {path} {attr}"
        );
    }
    // At the cap, the invite message is stored.
    let body = json!({"target_email": "a@example.com", "message": "x".repeat(2000)});
    let r = w
        .app
        .call("POST", &invites, Some(&w.owner), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}
