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
