//! Bad input of every kind to every write endpoint: always a 4xx with
//! PostHog's error body, never a 500, and nothing written.

use serde_json::{json, Value};

use crate::support::{Response, World};

/// What can be observed of the organization's projects, minus the
/// time-dependent live-events token.
async fn snapshot(w: &World) -> Value {
    let list = w
        .app
        .call(
            "GET",
            &format!("{}?limit=1000", w.projects()),
            Some(&w.owner),
            None,
        )
        .await;
    let mut details = Vec::new();
    for p in list.body["results"].as_array().unwrap() {
        let mut d = w
            .app
            .call(
                "GET",
                &w.project(p["id"].as_i64().unwrap()),
                Some(&w.owner),
                None,
            )
            .await
            .body;
        d.as_object_mut().unwrap().remove("live_events_token");
        details.push(d);
    }
    let activity_total = match list.body["results"].as_array().unwrap().first() {
        Some(p) => {
            let path = format!("{}activity/", w.project(p["id"].as_i64().unwrap()));
            w.app.call("GET", &path, Some(&w.owner), None).await.body["total_count"].clone()
        }
        None => Value::Null,
    };
    json!({"count": list.body["count"], "details": details, "activity": activity_total})
}

fn assert_posthog_error(r: &Response, status: u16, what: &str) {
    assert_eq!(r.status.as_u16(), status, "{what}: {}", r.body);
    let body = r
        .body
        .as_object()
        .unwrap_or_else(|| panic!("{what}: body is not an object: {}", r.body));
    let mut keys: Vec<&str> = body.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(keys, ["attr", "code", "detail", "type"], "{what}");
}

/// (description, raw body, expected status, expected attr)
fn raw_cases() -> Vec<(&'static str, Vec<u8>, u16, Value)> {
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    vec![
        ("truncated JSON", br#"{"name":"#.to_vec(), 400, Value::Null),
        (
            "trailing garbage",
            br#"{"name":"x"} x"#.to_vec(),
            400,
            Value::Null,
        ),
        (
            "invalid UTF-8",
            b"{\"name\":\"\xff\xfe\"}".to_vec(),
            400,
            Value::Null,
        ),
        (
            "lone surrogate",
            br#"{"name":"\ud800"}"#.to_vec(),
            400,
            Value::Null,
        ),
        ("deep nesting", deep.into_bytes(), 400, Value::Null),
        ("a list", b"[1,2]".to_vec(), 400, Value::Null),
        ("a string", br#""name""#.to_vec(), 400, Value::Null),
        ("a number", b"42".to_vec(), 400, Value::Null),
        ("null", b"null".to_vec(), 400, Value::Null),
        (
            "2 MiB",
            format!(r#"{{"name":"{}"}}"#, "x".repeat(2 * 1024 * 1024)).into_bytes(),
            413,
            Value::Null,
        ),
    ]
}

/// (description, body, expected status, expected attr)
fn field_cases() -> Vec<(&'static str, Value, u16, Value)> {
    vec![
        ("name null", json!({"name": null}), 400, json!("name")),
        ("name boolean", json!({"name": true}), 400, json!("name")),
        ("name list", json!({"name": ["x"]}), 400, json!("name")),
        ("name blank", json!({"name": "   "}), 400, json!("name")),
        (
            "name too long",
            json!({"name": "x".repeat(201)}),
            400,
            json!("name"),
        ),
        (
            "name with NUL",
            json!({"name": "a\u{0}b"}),
            400,
            json!("name"),
        ),
        (
            "description too long",
            json!({"product_description": "d".repeat(1001)}),
            400,
            json!("product_description"),
        ),
        (
            "is_demo not a boolean",
            json!({"is_demo": "maybe"}),
            400,
            json!("is_demo"),
        ),
        (
            "timezone unknown",
            json!({"timezone": "Mars/Olympus"}),
            400,
            json!("timezone"),
        ),
        (
            "timezone number",
            json!({"timezone": 5}),
            400,
            json!("timezone"),
        ),
        (
            "anonymize_ips null",
            json!({"anonymize_ips": null}),
            400,
            json!("anonymize_ips"),
        ),
        (
            "anonymize_ips object",
            json!({"anonymize_ips": {}}),
            400,
            json!("anonymize_ips"),
        ),
        (
            "app_urls string",
            json!({"app_urls": "https://x"}),
            400,
            json!("app_urls"),
        ),
        (
            "sample rate text",
            json!({"session_recording_sample_rate": "abc"}),
            400,
            json!("session_recording_sample_rate"),
        ),
        (
            "sample rate huge",
            json!({"session_recording_sample_rate": 1e308}),
            400,
            json!("session_recording_sample_rate"),
        ),
        (
            "duration negative",
            json!({"session_recording_minimum_duration_milliseconds": -1}),
            400,
            json!("session_recording_minimum_duration_milliseconds"),
        ),
        (
            "duration huge",
            json!({"session_recording_minimum_duration_milliseconds": 99999999999999999999u128.to_string()}),
            400,
            json!("session_recording_minimum_duration_milliseconds"),
        ),
        (
            "week start 7",
            json!({"week_start_day": 7}),
            400,
            json!("week_start_day"),
        ),
        (
            "retention unknown",
            json!({"session_recording_retention_period": "2y"}),
            400,
            json!("session_recording_retention_period"),
        ),
        (
            "business model unknown",
            json!({"business_model": "b2x"}),
            400,
            json!("business_model"),
        ),
        (
            "linked flag string",
            json!({"session_recording_linked_flag": "x"}),
            400,
            json!("session_recording_linked_flag"),
        ),
        (
            "access control",
            json!({"access_control": true}),
            400,
            json!("access_control"),
        ),
    ]
}

#[tokio::test]
async fn every_write_endpoint_refuses_bad_input_and_writes_nothing() {
    let w = World::new().await;
    let id = w.create_project("Untouched").await["id"].as_i64().unwrap();
    let before = snapshot(&w).await;
    let endpoints = [
        ("POST", w.projects()),
        ("PATCH", w.project(id)),
        ("PUT", w.project(id)),
    ];
    let mut checked = 0;
    for (method, path) in &endpoints {
        for (what, body, status, attr) in raw_cases() {
            let r = w
                .app
                .call_raw(method, path, &w.owner, "application/json", body)
                .await;
            let what = format!("{method} {what}");
            assert_posthog_error(&r, status, &what);
            assert_eq!(r.body["attr"], attr, "{what}");
            checked += 1;
        }
        for (what, body, status, attr) in field_cases() {
            let r = w.app.call(method, path, Some(&w.owner), Some(body)).await;
            let what = format!("{method} {what}");
            assert_posthog_error(&r, status, &what);
            assert_eq!(r.body["attr"], attr, "{what}");
            checked += 1;
        }
        let r = w
            .app
            .call_raw(method, path, &w.owner, "text/plain", b"name=x".to_vec())
            .await;
        assert_posthog_error(&r, 415, &format!("{method} text/plain"));
    }
    assert_eq!(
        snapshot(&w).await,
        before,
        "a refused request wrote something"
    );
    assert!(checked > 60);
}

#[tokio::test]
async fn malformed_ids_are_404() {
    let w = World::new().await;
    w.create_project("Only").await;
    let org = &w.org;
    for id in [
        "abc",
        "1.5",
        "99999999999999999999",
        "-1",
        "0",
        "%00",
        "1%20",
        "@me",
        "%F0%9F%A6%94",
    ] {
        for method in ["GET", "PATCH", "PUT", "DELETE"] {
            let path = format!("/api/organizations/{org}/projects/{id}/");
            let body = (method == "PATCH" || method == "PUT").then(|| json!({"name": "x"}));
            let r = w.app.call(method, &path, Some(&w.owner), body).await;
            assert_eq!(
                r.error(),
                (404, "not_found", "Not found.", Value::Null),
                "{method} {path}"
            );
        }
        let r = w
            .app
            .call(
                "GET",
                &format!("/api/organizations/{org}/projects/{id}/activity/"),
                Some(&w.owner),
                None,
            )
            .await;
        assert_eq!(r.status, 404, "activity {id}");
    }
    let r = w
        .app
        .call(
            "GET",
            "/api/organizations/%F0%9F%A6%94/projects/",
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(
        r.error(),
        (404, "not_found", "Organization not found.", Value::Null)
    );
}

#[tokio::test]
async fn odd_but_valid_strings_round_trip() {
    let w = World::new().await;
    for name in [
        "🦔 Hedgehog",
        "\u{202e}RTL override",
        "e\u{301} combining",
        "tab\there",
        "quote \" and \\ slash",
        &"é".repeat(200),
    ] {
        let r = w
            .app
            .call(
                "POST",
                &w.projects(),
                Some(&w.owner),
                Some(json!({"name": name})),
            )
            .await;
        assert_eq!(r.status, 201, "{name:?}: {}", r.body);
        assert_eq!(r.body["name"], name.trim());
        let got = w
            .app
            .call(
                "GET",
                &w.project(r.body["id"].as_i64().unwrap()),
                Some(&w.owner),
                None,
            )
            .await;
        assert_eq!(got.body["name"], name.trim());
    }
    let search = w
        .app
        .call(
            "GET",
            &format!("{}?search=%F0%9F%A6%94", w.projects()),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(search.body["count"], 1);
    let like = w
        .app
        .call(
            "GET",
            &format!("{}?search=%25", w.projects()),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(
        like.body["count"], 0,
        "LIKE wildcards in search are literal"
    );
}

/// (description, body, expected attr) for `POST legal_documents/`.
fn legal_document_cases() -> Vec<(&'static str, Value, Value)> {
    let valid = json!({
        "document_type": "DPA",
        "company_name": "Acme, Inc.",
        "company_address": "1 Main St",
        "representative_name": "Ada Lovelace",
        "representative_title": "CEO",
        "representative_email": "ada@acme.example",
        "dpa_mode": "pretty",
    });
    let with = |field: &str, v: Value| {
        let mut b = valid.clone();
        b[field] = v;
        b
    };
    vec![
        ("empty object", json!({}), json!("document_type")),
        (
            "type unknown",
            with("document_type", json!("NDA")),
            json!("document_type"),
        ),
        (
            "type number",
            with("document_type", json!(1)),
            json!("document_type"),
        ),
        (
            "type list",
            with("document_type", json!(["DPA"])),
            json!("document_type"),
        ),
        (
            "name null",
            with("company_name", Value::Null),
            json!("company_name"),
        ),
        (
            "name object",
            with("company_name", json!({})),
            json!("company_name"),
        ),
        (
            "name blank",
            with("company_name", json!("  ")),
            json!("company_name"),
        ),
        (
            "name too long",
            with("company_name", json!("x".repeat(256))),
            json!("company_name"),
        ),
        (
            "name with NUL",
            with("company_name", json!("a\u{0}b")),
            json!("company_name"),
        ),
        (
            "address too long",
            with("company_address", json!("x".repeat(513))),
            json!("company_address"),
        ),
        (
            "address blank",
            with("company_address", json!("")),
            json!("company_address"),
        ),
        (
            "title boolean",
            with("representative_title", json!(true)),
            json!("representative_title"),
        ),
        (
            "email invalid",
            with("representative_email", json!("ada@")),
            json!("representative_email"),
        ),
        (
            "email too long",
            with(
                "representative_email",
                json!(format!("{}@x.io", "a".repeat(250))),
            ),
            json!("representative_email"),
        ),
        (
            "mode preview-only",
            with("dpa_mode", json!("tswift")),
            json!("dpa_mode"),
        ),
        (
            "mode too long",
            with("dpa_mode", json!("p".repeat(17))),
            json!("dpa_mode"),
        ),
    ]
}

async fn legal_document_count(w: &World) -> Value {
    let path = format!("/api/organizations/{}/legal_documents/", w.org);
    w.app.call("GET", &path, Some(&w.owner), None).await.body["count"].clone()
}

#[tokio::test]
async fn legal_document_create_refuses_bad_input_and_writes_nothing() {
    let w = World::new().await;
    let path = format!("/api/organizations/{}/legal_documents/", w.org);
    assert_eq!(legal_document_count(&w).await, 0);
    for (what, body, status, attr) in raw_cases() {
        let r = w
            .app
            .call_raw("POST", &path, &w.owner, "application/json", body)
            .await;
        assert_posthog_error(&r, status, what);
        assert_eq!(r.body["attr"], attr, "{what}");
    }
    for (what, body, attr) in legal_document_cases() {
        let r = w.app.call("POST", &path, Some(&w.owner), Some(body)).await;
        assert_posthog_error(&r, 400, what);
        assert_eq!(r.body["attr"], attr, "{what}");
    }
    let r = w
        .app
        .call_raw(
            "POST",
            &path,
            &w.owner,
            "text/plain",
            b"document_type=DPA".to_vec(),
        )
        .await;
    assert_posthog_error(&r, 415, "text/plain");
    assert_eq!(
        legal_document_count(&w).await,
        0,
        "a refused request wrote something"
    );
}

#[tokio::test]
async fn the_signing_webhook_refuses_bad_input() {
    let w = World::new().await;
    let path = "/api/legal_documents/signed";
    for (what, body, status, attr) in raw_cases() {
        let req = axum::http::Request::builder()
            .method("POST")
            .uri(path)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(body))
            .unwrap();
        let r = w.app.send(req).await;
        assert_posthog_error(&r, status, what);
        assert_eq!(r.body["attr"], attr, "{what}");
    }
    for (what, body, attr) in [
        ("empty", json!({}), "secret"),
        (
            "secret number list",
            json!({"secret": [1], "signed_document_url": "https://a.io"}),
            "secret",
        ),
        (
            "url object",
            json!({"secret": "s", "signed_document_url": {}}),
            "signed_document_url",
        ),
        (
            "url spaces",
            json!({"secret": "s", "signed_document_url": "https://a .io"}),
            "signed_document_url",
        ),
        (
            "url NUL",
            json!({"secret": "s", "signed_document_url": "https://a.io/\u{0}"}),
            "signed_document_url",
        ),
    ] {
        let r = w.app.call("POST", path, None, Some(body)).await;
        assert_posthog_error(&r, 400, what);
        assert_eq!(r.body["attr"], attr, "{what}");
    }
}

/// What the companion endpoints show, to prove a refused write changed nothing.
async fn companion_snapshot(w: &World) -> Value {
    let get = |path: String| async move {
        let mut b = w.app.call("GET", &path, Some(&w.owner), None).await.body;
        if let Some(o) = b.as_object_mut() {
            o.remove("live_events_token");
        }
        b
    };
    json!({
        "me": get("/api/users/@me/".into()).await,
        "organizations": get("/api/organizations/".into()).await,
        "projects": get("/api/projects/".into()).await,
        "org": snapshot(w).await,
    })
}

/// (description, body, expected status, expected attr)
type Case = (&'static str, Value, u16, Value);

fn user_cases() -> Vec<Case> {
    vec![
        (
            "first_name null",
            json!({"first_name": null}),
            400,
            json!("first_name"),
        ),
        (
            "first_name list",
            json!({"first_name": ["x"]}),
            400,
            json!("first_name"),
        ),
        (
            "first_name too long",
            json!({"first_name": "x".repeat(151)}),
            400,
            json!("first_name"),
        ),
        (
            "last_name NUL",
            json!({"last_name": "a\u{0}b"}),
            400,
            json!("last_name"),
        ),
        (
            "role unknown",
            json!({"role_at_organization": "wizard"}),
            400,
            json!("role_at_organization"),
        ),
        (
            "role null",
            json!({"role_at_organization": null}),
            400,
            json!("role_at_organization"),
        ),
        (
            "theme unknown",
            json!({"theme_mode": "neon"}),
            400,
            json!("theme_mode"),
        ),
        (
            "toolbar number",
            json!({"toolbar_mode": 5}),
            400,
            json!("toolbar_mode"),
        ),
        (
            "anonymize text",
            json!({"anonymize_data": "maybe"}),
            400,
            json!("anonymize_data"),
        ),
        (
            "notifications text",
            json!({"notification_settings": "x"}),
            400,
            json!("notification_settings"),
        ),
        (
            "notifications key",
            json!({"notification_settings": {"nope": true}}),
            400,
            json!("notification_settings"),
        ),
        (
            "notifications type",
            json!({"notification_settings": {"plugin_disabled": 1}}),
            400,
            json!("notification_settings"),
        ),
        (
            "digest values",
            json!({"notification_settings": {"project_weekly_digest_disabled": {"1": "x"}}}),
            400,
            json!("notification_settings"),
        ),
        (
            "organization garbage",
            json!({"set_current_organization": "x"}),
            400,
            json!("set_current_organization"),
        ),
        (
            "organization object",
            json!({"set_current_organization": {}}),
            400,
            json!("set_current_organization"),
        ),
        (
            "team list",
            json!({"set_current_team": [1]}),
            400,
            json!("set_current_team"),
        ),
        (
            "team huge",
            json!({"set_current_team": "99999999999999999999"}),
            400,
            json!("set_current_team"),
        ),
        // A valid change with a bad one: nothing is written.
        (
            "half good",
            json!({"first_name": "Good", "theme_mode": "neon"}),
            400,
            json!("theme_mode"),
        ),
        (
            "email",
            json!({"email": "new@example.com", "first_name": "Good"}),
            403,
            Value::Null,
        ),
    ]
}

fn organization_cases() -> Vec<Case> {
    vec![
        ("name null", json!({"name": null}), 400, json!("name")),
        ("name blank", json!({"name": "  "}), 400, json!("name")),
        (
            "name too long",
            json!({"name": "x".repeat(65)}),
            400,
            json!("name"),
        ),
        ("name list", json!({"name": ["x"]}), 400, json!("name")),
        (
            "enforce_2fa text",
            json!({"name": "Ok", "enforce_2fa": "maybe"}),
            400,
            json!("enforce_2fa"),
        ),
        (
            "members_can_create_projects null",
            json!({"name": "Ok", "members_can_create_projects": null}),
            400,
            json!("members_can_create_projects"),
        ),
        (
            "personal keys object",
            json!({"name": "Ok", "members_can_use_personal_api_keys": {}}),
            400,
            json!("members_can_use_personal_api_keys"),
        ),
        (
            "stats method",
            json!({"name": "Ok", "default_experiment_stats_method": "magic"}),
            400,
            json!("default_experiment_stats_method"),
        ),
        (
            "logo unknown",
            json!({"name": "Ok", "logo_media_id": "x"}),
            400,
            json!("logo_media_id"),
        ),
        (
            "logo number",
            json!({"name": "Ok", "logo_media_id": 5}),
            400,
            json!("logo_media_id"),
        ),
        (
            "role unknown",
            json!({"name": "Ok", "default_role_id": "r"}),
            400,
            json!("default_role_id"),
        ),
    ]
}

#[tokio::test]
async fn companion_write_endpoints_refuse_bad_input_and_write_nothing() {
    let w = World::new().await;
    let id = w.create_project("Untouched").await["id"].as_i64().unwrap();
    let before = companion_snapshot(&w).await;
    let org = format!("/api/organizations/{}/", w.org);
    let root = format!("/api/projects/{id}/");
    let endpoints: Vec<(&str, String, Vec<Case>)> = vec![
        ("PATCH", "/api/users/@me/".into(), user_cases()),
        ("PUT", "/api/users/@me/".into(), user_cases()),
        ("POST", "/api/organizations/".into(), organization_cases()),
        ("PATCH", org.clone(), organization_cases()),
        ("PUT", org, organization_cases()),
        ("POST", "/api/projects/".into(), field_cases()),
        ("PATCH", root.clone(), field_cases()),
        ("PUT", root, field_cases()),
    ];
    let mut checked = 0;
    for (method, path, cases) in &endpoints {
        for (what, body, status, attr) in raw_cases() {
            let r = w
                .app
                .call_raw(method, path, &w.owner, "application/json", body)
                .await;
            let what = format!("{method} {path} {what}");
            assert_posthog_error(&r, status, &what);
            assert_eq!(r.body["attr"], attr, "{what}");
            checked += 1;
        }
        for (what, body, status, attr) in cases {
            let r = w
                .app
                .call(method, path, Some(&w.owner), Some(body.clone()))
                .await;
            let what = format!("{method} {path} {what}");
            assert_posthog_error(&r, *status, &what);
            assert_eq!(&r.body["attr"], attr, "{what}");
            checked += 1;
        }
        let r = w
            .app
            .call_raw(method, path, &w.owner, "text/plain", b"name=x".to_vec())
            .await;
        assert_posthog_error(&r, 415, &format!("{method} {path} text/plain"));
    }
    assert_eq!(
        companion_snapshot(&w).await,
        before,
        "a refused request wrote something"
    );
    assert!(checked > 150);
}

/// (description, invite payload, expected status, expected attr)
fn invite_field_cases() -> Vec<(&'static str, Value, u16, Value)> {
    let email = |extra: Value| {
        let mut o = json!({"target_email": "ok@example.com"});
        for (k, v) in extra.as_object().unwrap() {
            o[k] = v.clone();
        }
        o
    };
    vec![
        ("email missing", json!({}), 400, json!("target_email")),
        (
            "email null",
            json!({"target_email": null}),
            400,
            json!("target_email"),
        ),
        (
            "email boolean",
            json!({"target_email": true}),
            400,
            json!("target_email"),
        ),
        (
            "email list",
            json!({"target_email": ["a@b.co"]}),
            400,
            json!("target_email"),
        ),
        (
            "email object",
            json!({"target_email": {}}),
            400,
            json!("target_email"),
        ),
        (
            "email number",
            json!({"target_email": 5}),
            400,
            json!("target_email"),
        ),
        (
            "email blank",
            json!({"target_email": "  "}),
            400,
            json!("target_email"),
        ),
        (
            "email invalid",
            json!({"target_email": "a@b"}),
            400,
            json!("target_email"),
        ),
        (
            "email too long",
            json!({"target_email": format!("{}@example.com", "a".repeat(250))}),
            400,
            json!("target_email"),
        ),
        (
            "email with NUL",
            json!({"target_email": "a\u{0}@b.co"}),
            400,
            json!("target_email"),
        ),
        (
            "email of a member",
            json!({"target_email": "Member@Example.com"}),
            400,
            Value::Null,
        ),
        (
            "first_name too long",
            email(json!({"first_name": "x".repeat(31)})),
            400,
            json!("first_name"),
        ),
        (
            "first_name null",
            email(json!({"first_name": null})),
            400,
            json!("first_name"),
        ),
        (
            "first_name list",
            email(json!({"first_name": []})),
            400,
            json!("first_name"),
        ),
        ("level 3", email(json!({"level": 3})), 400, json!("level")),
        (
            "level text",
            email(json!({"level": "admin"})),
            400,
            json!("level"),
        ),
        (
            "level float",
            email(json!({"level": 8.5})),
            400,
            json!("level"),
        ),
        (
            "level null",
            email(json!({"level": null})),
            400,
            json!("level"),
        ),
        (
            "level boolean",
            email(json!({"level": true})),
            400,
            json!("level"),
        ),
        (
            "message object",
            email(json!({"message": {"a": 1}})),
            400,
            json!("message"),
        ),
        (
            "access string",
            email(json!({"private_project_access": "x"})),
            400,
            json!("private_project_access"),
        ),
        (
            "access of numbers",
            email(json!({"private_project_access": [1]})),
            400,
            json!("private_project_access"),
        ),
        (
            "access without level",
            email(json!({"private_project_access": [{"id": 1}]})),
            400,
            json!("private_project_access"),
        ),
        (
            "access id text",
            email(json!({"private_project_access": [{"id": "1", "level": "member"}]})),
            400,
            json!("private_project_access"),
        ),
        (
            "access id float",
            email(json!({"private_project_access": [{"id": 1.5, "level": "member"}]})),
            400,
            json!("private_project_access"),
        ),
        (
            "access id huge",
            email(json!({"private_project_access": [{"id": u64::MAX, "level": "member"}]})),
            400,
            json!("private_project_access"),
        ),
        (
            "access level owner",
            email(json!({"private_project_access": [{"id": 1, "level": "owner"}]})),
            400,
            json!("private_project_access"),
        ),
        (
            "access unknown project",
            email(json!({"private_project_access": [{"id": 424242, "level": "member"}]})),
            400,
            json!("private_project_access"),
        ),
        (
            "send_email text",
            email(json!({"send_email": "maybe"})),
            400,
            json!("send_email"),
        ),
        (
            "send_email null",
            email(json!({"send_email": null})),
            400,
            json!("send_email"),
        ),
        (
            "combine object",
            email(json!({"combine_pending_invites": {}})),
            400,
            json!("combine_pending_invites"),
        ),
    ]
}

/// The organization's invites as the owner lists them.
async fn invite_snapshot(w: &World) -> Value {
    let path = format!("/api/organizations/{}/invites/", w.org);
    w.app.call("GET", &path, Some(&w.owner), None).await.body
}

#[tokio::test]
async fn invite_endpoints_refuse_bad_input_and_write_nothing() {
    let w = World::new().await;
    let keep = format!("/api/organizations/{}/invites/", w.org);
    let r = w
        .app
        .call(
            "POST",
            &keep,
            Some(&w.owner),
            Some(json!({"target_email": "kept@example.com"})),
        )
        .await;
    assert_eq!(r.status, 201);
    let before = invite_snapshot(&w).await;
    let single = keep.clone();
    let bulk = format!("{keep}bulk/");
    let mut checked = 0;
    for (what, body, status, attr) in raw_cases() {
        let r = w
            .app
            .call_raw("POST", &single, &w.owner, "application/json", body.clone())
            .await;
        assert_posthog_error(&r, status, &format!("single {what}"));
        assert_eq!(r.body["attr"], attr, "single {what}");
        let r = w
            .app
            .call_raw("POST", &bulk, &w.owner, "application/json", body)
            .await;
        assert_posthog_error(&r, status, &format!("bulk {what}"));
        // A list of numbers names its first element; everything else is the whole body.
        let bulk_attr = if what == "a list" {
            json!("__0__non_field_errors")
        } else {
            attr
        };
        assert_eq!(r.body["attr"], bulk_attr, "bulk {what}");
        checked += 2;
    }
    for (what, body, status, attr) in invite_field_cases() {
        let r = w
            .app
            .call("POST", &single, Some(&w.owner), Some(body.clone()))
            .await;
        assert_posthog_error(&r, status, &format!("single {what}"));
        assert_eq!(r.body["attr"], attr, "single {what}");
        // In bulk, the same payload as the second element, after a good one.
        let r = w
            .app
            .call(
                "POST",
                &bulk,
                Some(&w.owner),
                Some(json!([{"target_email": "fine@example.com"}, body])),
            )
            .await;
        assert_posthog_error(&r, status, &format!("bulk {what}"));
        let bulk_attr = match attr.as_str() {
            Some(a) => json!(format!("__1__{a}")),
            None => Value::Null,
        };
        assert_eq!(r.body["attr"], bulk_attr, "bulk {what}");
        checked += 2;
    }
    for path in [&single, &bulk] {
        let r = w
            .app
            .call_raw(
                "POST",
                path,
                &w.owner,
                "text/plain",
                b"target_email=x".to_vec(),
            )
            .await;
        assert_posthog_error(&r, 415, &format!("{path} text/plain"));
    }
    assert_eq!(
        invite_snapshot(&w).await,
        before,
        "a refused request wrote something"
    );
    assert!(checked > 80);
}

/// What can be observed of the organization's members.
async fn members_snapshot(w: &World) -> Value {
    let path = format!("/api/organizations/{}/members/?limit=1000", w.org);
    let r = w.app.call("GET", &path, Some(&w.owner), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

#[tokio::test]
async fn member_writes_refuse_bad_input_and_write_nothing() {
    let w = World::new().await;
    let before = members_snapshot(&w).await;
    let uuid = before["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["email"] == "member@example.com")
        .unwrap()["user"]["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/organizations/{}/members/{uuid}/", w.org);
    let level_cases: Vec<(&str, Value)> = vec![
        ("level 3", json!({"level": 3})),
        ("level 0", json!({"level": 0})),
        ("level negative", json!({"level": -1})),
        ("level float", json!({"level": 8.5})),
        (
            "level huge",
            json!({"level": 99999999999999999999u128.to_string()}),
        ),
        ("level text", json!({"level": "admin"})),
        ("level blank", json!({"level": ""})),
        ("level boolean", json!({"level": true})),
        ("level list", json!({"level": [1]})),
        ("level object", json!({"level": {"level": 1}})),
        ("level null", json!({"level": null})),
        ("level NUL", json!({"level": "1\u{0}"})),
    ];
    let mut checked = 0;
    for method in ["PATCH", "PUT"] {
        for (what, body, status, attr) in raw_cases() {
            let r = w
                .app
                .call_raw(method, &path, &w.owner, "application/json", body)
                .await;
            let what = format!("{method} {what}");
            assert_posthog_error(&r, status, &what);
            assert_eq!(r.body["attr"], attr, "{what}");
            checked += 1;
        }
        for (what, body) in &level_cases {
            let r = w
                .app
                .call(method, &path, Some(&w.owner), Some(body.clone()))
                .await;
            let what = format!("{method} {what}");
            assert_posthog_error(&r, 400, &what);
            assert_eq!(r.body["attr"], "level", "{what}");
            checked += 1;
        }
        let r = w
            .app
            .call_raw(method, &path, &w.owner, "text/plain", b"level=8".to_vec())
            .await;
        assert_posthog_error(&r, 415, &format!("{method} text/plain"));
    }
    // Malformed or unknown member ids: 404, for every write.
    for id in [
        "abc",
        "1",
        "%00",
        "@you",
        "0190c0de-0000-7000-8000-00000000009",
    ] {
        for method in ["PATCH", "PUT", "DELETE"] {
            let path = format!("/api/organizations/{}/members/{id}/", w.org);
            let body = (method != "DELETE").then(|| json!({"level": 8}));
            let r = w.app.call(method, &path, Some(&w.owner), body).await;
            assert_posthog_error(&r, 404, &format!("{method} {id}"));
        }
    }
    assert_eq!(
        members_snapshot(&w).await,
        before,
        "a refused request wrote"
    );
    assert!(checked > 40);
}

/// The properties of an operation's JSON request body, from the API document.
fn request_properties(method: &str, pattern: &str) -> Vec<(String, Value)> {
    let doc = crate::conformance::document();
    let op = &doc["paths"][format!("{pattern}/")][method.to_ascii_lowercase()];
    let mut schema = &op["requestBody"]["content"]["application/json"]["schema"];
    while let Some(r) = schema["$ref"].as_str() {
        let name = r.trim_start_matches("#/components/schemas/");
        schema = &doc["components"]["schemas"][name];
    }
    match schema["properties"].as_object() {
        Some(props) => props.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        None => Vec::new(),
    }
}

/// Does the document give the operation a request body?
fn takes_body(method: &str, pattern: &str) -> bool {
    let doc = crate::conformance::document();
    let op = &doc["paths"][format!("{pattern}/")][method.to_ascii_lowercase()];
    op.get("requestBody").is_some()
}

/// A value of another JSON type than the property's.
fn wrong_type(schema: &Value) -> Value {
    match schema["type"].as_str() {
        Some("object") => json!("not an object"),
        Some("array") => json!({"not": "a list"}),
        _ => json!({"not": ["a", "scalar"]}),
    }
}

/// Strings a client might send anywhere: not UUIDs, control and
/// right-to-left characters, four-byte characters, SQL, near the body limit.
fn odd_strings() -> Vec<(&'static str, String)> {
    vec![
        ("not a UUID", "not-a-uuid".to_string()),
        (
            "a UUID with a bad digit",
            "0190a5b2-0000-7000-8000-00000000000g".to_string(),
        ),
        ("NUL", "a\0b".to_string()),
        ("right-to-left", "\u{202e}gnp.exe".to_string()),
        ("four-byte", "🦔".repeat(300)),
        ("SQL", "'); DROP TABLE projects; --".to_string()),
        ("100,000 characters", "a".repeat(100_000)),
    ]
}

fn assert_not_5xx_and_errors_are_posthogs(r: &Response, what: &str) {
    let status = r.status.as_u16();
    assert!(status < 500, "{what}: {status} {}", r.body);
    if status >= 400 {
        assert_posthog_error(r, status, what);
    }
}

/// Every write route declared (`api::endpoints`), so a new one is covered
/// without being listed: malformed bodies are a 4xx with PostHog's error
/// body; wrong types and odd strings in each documented field are never a
/// 5xx, and refused ones carry PostHog's body. Each route gets a fresh
/// world, so what one route changes (a rolled key, a used invite) cannot
/// hide what the next does.
#[tokio::test]
async fn every_declared_write_endpoint_refuses_bad_bodies() {
    let writes: Vec<_> = prickle::api::endpoints()
        .into_iter()
        .filter(|e| matches!(e.method.as_str(), "POST" | "PUT" | "PATCH"))
        .collect();
    assert!(writes.len() > 20, "{} write routes", writes.len());
    let mut checked = 0;
    for e in &writes {
        let method = e.method.as_str();
        let w = World::new().await;
        let f = crate::hostile::bounds::Fixtures::new(&w).await;
        let path = f.path(e.path);
        for (what, body, _, _) in raw_cases() {
            let r = w
                .app
                .call_raw(method, &path, &w.owner, "application/json", body)
                .await;
            let what = format!("{method} {} {what}", e.path);
            let status = r.status.as_u16();
            assert!((400..500).contains(&status), "{what}: {status} {}", r.body);
            assert_posthog_error(&r, status, &what);
            checked += 1;
        }
        // A key is refused before a session-only route reads its body
        // (tests/api/sessions.rs sends those bodies with a session).
        let session_only = matches!(e.access, prickle::http::Access::Session);
        if takes_body(method, e.path) && !session_only {
            // DRF parses no body without a Content-Type: 415, naming none.
            let req = axum::http::Request::builder()
                .method(method)
                .uri(&path)
                .header("authorization", format!("Bearer {}", w.owner))
                .body(axum::body::Body::from(r#"{"name": "x"}"#))
                .unwrap();
            let r = w.app.send(req).await;
            let what = format!("{method} {} without a Content-Type", e.path);
            assert_posthog_error(&r, 415, &what);
            assert_eq!(
                r.body["detail"], "Unsupported media type \"\" in request.",
                "{what}"
            );
            checked += 1;
        }
        for (field, schema) in request_properties(method, e.path) {
            let mut bodies = vec![("wrong type".to_string(), wrong_type(&schema))];
            bodies.extend(
                odd_strings()
                    .into_iter()
                    .map(|(what, s)| (what.to_string(), json!(s))),
            );
            for (what, value) in bodies {
                let r = w
                    .app
                    .call(
                        method,
                        &path,
                        Some(&w.owner),
                        Some(json!({ &field: value })),
                    )
                    .await;
                let what = format!("{method} {} {field}: {what}", e.path);
                assert_not_5xx_and_errors_are_posthogs(&r, &what);
                checked += 1;
            }
        }
    }
    assert!(checked > 500, "{checked} requests");
}

/// What a refused role write must leave as it was: the roles with their
/// holders, and the organization's activity.
async fn roles_snapshot(w: &World) -> Value {
    use sea_query::ExprTrait;
    let path = format!("/api/organizations/{}/roles/?limit=1000", w.org);
    let r = w.app.call("GET", &path, Some(&w.owner), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let stmt = sea_query::Query::select()
        .expr(sea_query::Expr::col(prickle::storage::schema::ActivityLog::Id).count())
        .from(prickle::storage::schema::ActivityLog::Table)
        .to_owned();
    let mut tx = w.app.db.read().await.unwrap();
    let entries = tx.query_opt(&stmt, |r| r.i64(0)).await.unwrap();
    tx.commit().await.unwrap();
    json!({"roles": r.body, "activity": entries})
}

#[tokio::test]
async fn role_writes_refuse_bad_input_and_write_nothing() {
    let w = World::new().await;
    let roles = format!("/api/organizations/{}/roles/", w.org);
    let made = w
        .app
        .call(
            "POST",
            &roles,
            Some(&w.owner),
            Some(json!({"name": "Marketing"})),
        )
        .await;
    assert_eq!(made.status, 201, "{}", made.body);
    let role = format!("{roles}{}/", made.body["id"].as_str().unwrap());
    let holders = format!("{role}role_memberships/");
    let before = roles_snapshot(&w).await;
    let name_cases: Vec<(&str, Value, &str)> = vec![
        ("name null", json!({"name": null}), "null"),
        ("name empty", json!({"name": ""}), "blank"),
        ("name blank", json!({"name": "  "}), "blank"),
        ("name 201", json!({"name": "x".repeat(201)}), "max_length"),
        ("name boolean", json!({"name": true}), "invalid_input"),
        ("name list", json!({"name": ["x"]}), "invalid_input"),
        ("name object", json!({"name": {"a": 1}}), "invalid_input"),
        (
            "name NUL",
            json!({"name": "a\u{0}b"}),
            "null_characters_not_allowed",
        ),
        ("name taken", json!({"name": " marketing "}), "unique"),
    ];
    let mut checked = 0;
    for (method, path) in [("POST", &roles), ("PATCH", &role), ("PUT", &role)] {
        for (what, body, status, attr) in raw_cases() {
            let r = w
                .app
                .call_raw(method, path, &w.owner, "application/json", body)
                .await;
            let what = format!("{method} {what}");
            assert_posthog_error(&r, status, &what);
            assert_eq!(r.body["attr"], attr, "{what}");
            checked += 1;
        }
        for (what, body, code) in &name_cases {
            if *what == "name taken" && method != "POST" {
                continue;
            }
            let r = w
                .app
                .call(method, path, Some(&w.owner), Some(body.clone()))
                .await;
            let what = format!("{method} {what}");
            assert_posthog_error(&r, 400, &what);
            assert_eq!(
                (r.body["code"].as_str(), r.body["attr"].as_str()),
                (Some(*code), Some("name")),
                "{what}"
            );
            checked += 1;
        }
    }
    for method in ["POST", "PUT"] {
        let path = if method == "POST" { &roles } else { &role };
        let r = w
            .app
            .call(method, path, Some(&w.owner), Some(json!({})))
            .await;
        assert_eq!(
            r.error(),
            (400, "required", "This field is required.", json!("name"))
        );
    }
    let user_cases: Vec<(&str, Value, &str, Value)> = vec![
        ("absent", json!({}), "required", json!("user_uuid")),
        (
            "null",
            json!({"user_uuid": null}),
            "null",
            json!("user_uuid"),
        ),
        (
            "not a uuid",
            json!({"user_uuid": "nope"}),
            "invalid_input",
            json!("user_uuid"),
        ),
        (
            "float",
            json!({"user_uuid": 1.5}),
            "invalid_input",
            json!("user_uuid"),
        ),
        (
            "list",
            json!({"user_uuid": []}),
            "invalid_input",
            json!("user_uuid"),
        ),
        (
            "nobody",
            json!({"user_uuid": "0190c0de-0000-7000-8000-000000000000"}),
            "invalid_input",
            Value::Null,
        ),
        (
            "an integer",
            json!({"user_uuid": 7}),
            "invalid_input",
            Value::Null,
        ),
    ];
    for (what, body, code, attr) in &user_cases {
        let r = w
            .app
            .call("POST", &holders, Some(&w.owner), Some(body.clone()))
            .await;
        assert_posthog_error(&r, 400, what);
        assert_eq!(
            (r.body["code"].as_str(), &r.body["attr"]),
            (Some(*code), attr),
            "{what}"
        );
        checked += 1;
    }
    for (what, body, status, attr) in raw_cases() {
        let r = w
            .app
            .call_raw("POST", &holders, &w.owner, "application/json", body)
            .await;
        assert_posthog_error(&r, status, what);
        assert_eq!(r.body["attr"], attr, "{what}");
        checked += 1;
    }
    let r = w
        .app
        .call_raw("POST", &roles, &w.owner, "text/plain", b"name=x".to_vec())
        .await;
    assert_posthog_error(&r, 415, "text/plain");
    assert_eq!(roles_snapshot(&w).await, before, "a refused request wrote");
    assert!(checked > 50, "{checked}");
}
