//! Projects: POST. The full detail PostHog returns, defaults and naming,
//! the project limit and demo projects, who may create, and the create-time
//! field gates.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::projects::{
    count, create, detail, get, id_of, keys, new_project, world_with_limit, DETAIL_FIELDS,
};
use crate::support::World;

async fn allow_members_to_create_projects(w: &World) {
    prickle::admin::update_organization(&w.app.db, &w.org, Some(true), None)
        .await
        .expect("update organization");
}

#[tokio::test]
async fn create_returns_201_with_full_detail_in_posthog_order() {
    let w = World::new().await;
    let r = create(&w, &w.owner, json!({"name": "Hedgebox"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(keys(&r.body), DETAIL_FIELDS);
    assert!(r.body["id"].as_i64().unwrap() > 0);
    assert_eq!(r.body["organization"], w.org.as_str());
    assert_eq!(r.body["name"], "Hedgebox");
    assert!(uuid::Uuid::parse_str(r.body["uuid"].as_str().unwrap()).is_ok());
    assert!(r.body["api_token"].as_str().unwrap().starts_with("phc_"));
    assert_eq!(r.body["secret_api_token"], Value::Null);
    assert_eq!(r.body["secret_api_token_backup"], Value::Null);
    assert_eq!(r.body["effective_membership_level"], 8);
    for ts in ["created_at", "updated_at"] {
        let s = r.body[ts].as_str().unwrap();
        assert!(
            chrono::DateTime::parse_from_rfc3339(s).is_ok() && s.ends_with('Z'),
            "{s}"
        );
    }
    // What the create returns is what a later read returns.
    let got = detail(&w, id_of(&r.body)).await;
    for field in DETAIL_FIELDS {
        if field != "live_events_token" {
            assert_eq!(got[field], r.body[field], "{field}");
        }
    }
}

#[tokio::test]
async fn create_gives_each_project_its_own_tokens_and_ids() {
    let w = World::new().await;
    let a = w.create_project("A").await;
    let b = w.create_project("B").await;
    for field in ["id", "uuid", "api_token"] {
        assert_ne!(a[field], b[field], "{field}");
    }
}

/// PostHog's settings for a fresh self-hosted project, with prickle's
/// decisions: no dashboards (`primary_dashboard` null), no GeoIP
/// (`week_start_day` null), retention `30d`.
#[tokio::test]
async fn create_applies_posthog_defaults() {
    let w = World::new().await;
    let r = create(&w, &w.owner, json!({"name": "Hedgebox"})).await;
    let expected = json!({
        "product_description": null,
        "has_group_types": false,
        "group_types": [],
        "app_urls": [],
        "anonymize_ips": false,
        "completed_snippet_onboarding": false,
        "ingested_event": false,
        "test_account_filters_default_checked": null,
        "path_cleaning_filters": [],
        "is_demo": false,
        "timezone": "UTC",
        "data_attributes": ["data-attr"],
        "person_display_name_properties": null,
        "correlation_config": {},
        "autocapture_opt_out": null,
        "autocapture_exceptions_opt_in": null,
        "autocapture_web_vitals_opt_in": null,
        "autocapture_web_vitals_allowed_metrics": null,
        "autocapture_exceptions_errors_to_ignore": null,
        "capture_console_log_opt_in": true,
        "capture_performance_opt_in": true,
        "session_recording_opt_in": false,
        "session_recording_sample_rate": null,
        "session_recording_minimum_duration_milliseconds": null,
        "session_recording_linked_flag": null,
        "session_recording_network_payload_capture_config": null,
        "session_recording_masking_config": null,
        "session_recording_url_trigger_config": [],
        "session_recording_url_blocklist_config": [],
        "session_recording_event_trigger_config": [],
        "session_recording_trigger_match_type_config": null,
        "session_recording_trigger_groups": null,
        "session_recording_retention_period": "30d",
    });
    // Two objects: one would exceed json!'s recursion limit.
    let more = json!({
        "session_replay_config": null,
        "survey_config": null,
        "access_control": false,
        "week_start_day": null,
        "primary_dashboard": null,
        "live_events_columns": null,
        "recording_domains": null,
        "person_on_events_querying_enabled": false,
        "inject_web_apps": null,
        "modifiers": null,
        "has_completed_onboarding_for": null,
        "surveys_opt_in": null,
        "heatmaps_opt_in": null,
        "product_intents": [],
        "flags_persistence_default": false,
        "secret_api_token": null,
        "secret_api_token_backup": null,
        "receive_org_level_activity_logs": false,
        "business_model": null,
        "conversations_enabled": null,
        "conversations_settings": null,
        "logs_settings": null,
        "proactive_tasks_enabled": null,
    });
    let wrong: Vec<String> = expected
        .as_object()
        .unwrap()
        .iter()
        .chain(more.as_object().unwrap())
        .filter(|(k, v)| &r.body[k.as_str()] != *v)
        .map(|(k, v)| format!("{k}: want {v}, got {}", r.body[k.as_str()]))
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(
        r.body["default_modifiers"]["personsOnEventsMode"],
        "person_id_override_properties_joined"
    );
    let tasks = r.body["available_setup_task_ids"].as_array().unwrap();
    assert!(tasks.contains(&json!("ingest_first_event")));
    // The list shows the same defaults.
    let list = get(&w, &w.owner, &w.projects()).await;
    let item = &list.body["results"][0];
    assert_eq!(item["completed_snippet_onboarding"], false);
    assert_eq!(item["has_completed_onboarding_for"], Value::Null);
}

/// PostHog's default internal-traffic filter (the cohort-based newest one
/// needs cohorts, which prickle does not have).
#[tokio::test]
async fn create_excludes_localhost_traffic_by_default() {
    let w = World::new().await;
    let p = w.create_project("Hedgebox").await;
    assert_eq!(
        p["test_account_filters"],
        json!([{"key": "$host", "operator": "not_regex", "value": "^(localhost|127\\.0\\.0\\.1)($|:)", "type": "event"}])
    );
}

#[tokio::test]
async fn create_without_name_numbers_default_projects() {
    let w = World::new().await;
    let mut got = Vec::new();
    for _ in 0..3 {
        let r = create(&w, &w.owner, json!({})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
        got.push(r.body["name"].as_str().unwrap().to_string());
    }
    assert_eq!(
        got,
        ["Default project", "Default project 2", "Default project 3"]
    );
    // A freed number is reused first; names are compared trimmed and case-insensitively.
    let id2 = id_of(&get(&w, &w.owner, &w.projects()).await.body["results"][1]);
    let r = w
        .app
        .call("DELETE", &w.project(id2), Some(&w.owner), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = create(&w, &w.owner, json!({})).await;
    assert_eq!(r.body["name"], "Default project 2");
    let w2 = World::new().await;
    new_project(&w2, "  DEFAULT PROJECT ").await;
    let r = create(&w2, &w2.owner, json!({})).await;
    assert_eq!(r.body["name"], "Default project 2");
}

#[tokio::test]
async fn create_trims_the_name() {
    let w = World::new().await;
    let r = create(&w, &w.owner, json!({"name": "  Hedgebox \n"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["name"], "Hedgebox");
}

#[tokio::test]
async fn create_with_duplicate_name_is_409() {
    let w = World::new().await;
    new_project(&w, "Hedgebox").await;
    for name in ["Hedgebox", "hedgebox", "  HEDGEBOX  "] {
        let r = create(&w, &w.owner, json!({ "name": name })).await;
        let detail = format!(
            "There is already a project called \"{}\" in this organization. Choose a different name.",
            name.trim()
        );
        assert_eq!(
            r.error(),
            (409, "conflict", detail.as_str(), Value::Null),
            "{name}"
        );
        assert_eq!(r.body["type"], "invalid_request");
    }
    assert_eq!(count(&w).await, 1);
}

#[tokio::test]
async fn create_with_a_name_used_in_another_organization() {
    let w = World::new().await;
    new_project(&w, "Hedgebox").await;
    // Names are unique per organization only: the helper asserts the 201.
    w.create_other_project("Hedgebox").await;
}

/// DRF's CharField rules for `name` (required=False, min_length=1, max_length=200).
#[tokio::test]
async fn create_with_invalid_name_is_400() {
    let w = World::new().await;
    let long = "x".repeat(201);
    let cases = [
        (json!(""), "blank", "This field may not be blank."),
        (json!("   "), "blank", "This field may not be blank."),
        (json!(null), "null", "This field may not be null."),
        (
            json!(long),
            "max_length",
            "Ensure this field has no more than 200 characters.",
        ),
    ];
    for (name, code, detail) in cases {
        let r = create(&w, &w.owner, json!({ "name": name })).await;
        assert_eq!(r.error(), (400, code, detail, json!("name")), "{name}");
    }
    let r = create(&w, &w.owner, json!({"name": "x".repeat(200)})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(count(&w).await, 1);
}

#[tokio::test]
async fn create_makes_it_the_callers_current_project() {
    let w = World::new().await;
    let first = new_project(&w, "First").await;
    let current = format!("{}@current/", w.projects());
    assert_eq!(id_of(&get(&w, &w.owner, &current).await.body), first);
    let second = new_project(&w, "Second").await;
    assert_eq!(id_of(&get(&w, &w.owner, &current).await.body), second);
    // Other users' current project does not move (the admin has none: the first).
    assert_eq!(id_of(&get(&w, &w.admin, &current).await.body), first);
}

#[tokio::test]
async fn create_at_the_project_limit_is_403() {
    let w = world_with_limit(2).await;
    new_project(&w, "One").await;
    new_project(&w, "Two").await;
    let r = create(&w, &w.admin, json!({"name": "Three"})).await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "You have reached the maximum limit of 2 projects per organization. Contact support if you'd like access to more projects.",
            Value::Null
        )
    );
    assert_eq!(r.body["type"], "authentication_error");
    assert_eq!(count(&w).await, 2);
}

#[tokio::test]
async fn demo_projects_do_not_count_toward_the_limit() {
    let w = world_with_limit(2).await;
    new_project(&w, "Regular").await;
    let demo = create(&w, &w.owner, json!({"name": "Demo", "is_demo": true})).await;
    assert_eq!(demo.status, StatusCode::CREATED, "{:?}", demo.body);
    assert_eq!(demo.body["is_demo"], true);
    let r = create(&w, &w.owner, json!({"name": "Second regular"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    let r = create(&w, &w.owner, json!({"name": "Third regular"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert_eq!(count(&w).await, 3);
}

#[tokio::test]
async fn demo_project_can_be_created_at_the_limit() {
    let w = world_with_limit(1).await;
    new_project(&w, "Regular").await;
    let r = create(&w, &w.owner, json!({"name": "Demo", "is_demo": true})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn cannot_create_a_second_demo_project() {
    let w = World::new().await;
    let r = create(&w, &w.admin, json!({"name": "Demo", "is_demo": true})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let r = create(
        &w,
        &w.admin,
        json!({"name": "Second Demo", "is_demo": true}),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "You have reached the maximum limit of allowed projects for your current plan. Upgrade your plan to be able to create and manage more projects.",
            Value::Null
        )
    );
    assert_eq!(count(&w).await, 1);
}

#[tokio::test]
async fn member_can_create_a_demo_project() {
    let w = World::new().await;
    let r = create(&w, &w.member, json!({"name": "Hedgebox", "is_demo": true})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["is_demo"], true);
    assert_eq!(r.body["effective_membership_level"], 1);
}

#[tokio::test]
async fn member_cannot_create_a_project_by_default() {
    let w = World::new().await;
    let r = create(&w, &w.member, json!({"name": "Hedgebox"})).await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "You need to be an organization admin or above to create new projects.",
            Value::Null
        )
    );
    assert_eq!(count(&w).await, 0);
}

#[tokio::test]
async fn member_can_create_a_project_when_the_organization_allows() {
    let w = World::new().await;
    allow_members_to_create_projects(&w).await;
    let r = create(&w, &w.member, json!({"name": "Hedgebox"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["effective_membership_level"], 1);
}

#[tokio::test]
async fn admins_and_owners_can_always_create_projects() {
    let w = World::new().await;
    for (key, name) in [(&w.admin, "By admin"), (&w.owner, "By owner")] {
        let r = create(&w, key, json!({ "name": name })).await;
        assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    }
}

#[tokio::test]
async fn non_member_create_is_404_and_demo_create_is_403() {
    let w = World::new().await;
    let r = create(&w, &w.outsider, json!({"name": "Intruder"})).await;
    assert_eq!(
        r.error(),
        (404, "not_found", "Organization not found.", Value::Null)
    );
    let r = create(
        &w,
        &w.outsider,
        json!({"name": "Intruder", "is_demo": true}),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "You do not have permission to perform this action.",
            Value::Null
        )
    );
    assert_eq!(count(&w).await, 0);
}

#[tokio::test]
async fn create_needs_project_write_scope() {
    let w = World::new().await;
    let key = w.app.key("owner@example.com", &["project:read"]).await;
    let r = create(&w, &key, json!({"name": "Hedgebox"})).await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "API key missing required scope 'project:write'",
            Value::Null
        )
    );
    let key = w.app.key("owner@example.com", &["project:write"]).await;
    let r = create(&w, &key, json!({"name": "Hedgebox"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
}

#[tokio::test]
async fn member_cannot_set_admin_only_settings_on_create() {
    let w = World::new().await;
    allow_members_to_create_projects(&w).await;
    let r = create(
        &w,
        &w.member,
        json!({"name": "Sneaky Project", "timezone": "Europe/Lisbon"}),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "Only organization admins can set these settings on project creation: timezone",
            Value::Null
        )
    );
    assert_eq!(count(&w).await, 0);
    // Member-safe settings are fine.
    let r = create(
        &w,
        &w.member,
        json!({"name": "Fine", "session_recording_opt_in": true, "product_description": "ok"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn member_cannot_opt_into_org_level_activity_on_create() {
    let w = World::new().await;
    allow_members_to_create_projects(&w).await;
    let r = create(
        &w,
        &w.member,
        json!({"name": "Sneaky Project", "receive_org_level_activity_logs": true, "anonymize_ips": true}),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "Only organization admins can set these settings on project creation: anonymize_ips, receive_org_level_activity_logs",
            Value::Null
        )
    );
    assert_eq!(count(&w).await, 0);
}

#[tokio::test]
async fn admin_can_set_admin_only_settings_on_create() {
    let w = World::new().await;
    let r = create(
        &w,
        &w.admin,
        json!({"name": "Sneaky Project", "receive_org_level_activity_logs": true, "timezone": "Europe/Lisbon"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_eq!(r.body["receive_org_level_activity_logs"], true);
    assert_eq!(r.body["timezone"], "Europe/Lisbon");
}

#[tokio::test]
async fn create_with_access_control_is_400_deprecated() {
    let w = World::new().await;
    for value in [json!(true), json!(false)] {
        let r = create(
            &w,
            &w.admin,
            json!({"name": "Hedgebox", "access_control": value}),
        )
        .await;
        assert_eq!(
            r.error(),
            (
                400,
                "invalid_input",
                "The 'access_control' field has been deprecated and is no longer supported. Please use the new access control system instead. For more information, visit: https://posthog.com/docs/settings/access-control",
                json!("access_control")
            )
        );
    }
    assert_eq!(count(&w).await, 0);
    let r = create(
        &w,
        &w.admin,
        json!({"name": "Hedgebox", "access_control": null}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
}

#[tokio::test]
async fn create_with_primary_dashboard_is_400() {
    let w = World::new().await;
    let r = create(
        &w,
        &w.admin,
        json!({"name": "Hedgebox", "primary_dashboard": 1}),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_input",
            "Primary dashboard cannot be set on project creation.",
            json!("primary_dashboard")
        )
    );
    assert_eq!(count(&w).await, 0);
}

/// PostHog's `validate()` order on create: the admin gate, then
/// `primary_dashboard`, then the errors-to-ignore list.
#[tokio::test]
async fn create_checks_gate_then_primary_dashboard_then_errors_to_ignore() {
    let w = World::new().await;
    allow_members_to_create_projects(&w).await;
    let bad_list = json!({"x": 1});
    let r = create(
        &w,
        &w.member,
        json!({"name": "X", "autocapture_exceptions_errors_to_ignore": bad_list}),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "Only organization admins can set these settings on project creation: autocapture_exceptions_errors_to_ignore",
            Value::Null
        )
    );
    let r = create(
        &w,
        &w.admin,
        json!({"name": "X", "primary_dashboard": 1, "autocapture_exceptions_errors_to_ignore": bad_list}),
    )
    .await;
    assert_eq!(r.body["attr"], "primary_dashboard");
    let r = create(
        &w,
        &w.admin,
        json!({"name": "X", "autocapture_exceptions_errors_to_ignore": bad_list}),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_input",
            "Must provide a list for field: autocapture_exceptions_errors_to_ignore.",
            Value::Null
        )
    );
    assert_eq!(count(&w).await, 0);
}

#[tokio::test]
async fn create_ignores_read_only_fields() {
    let w = World::new().await;
    let r = create(
        &w,
        &w.owner,
        json!({"name": "Hedgebox", "id": 4242, "api_token": "phc_mine", "organization": w.other_org,
               "ingested_event": true, "secret_api_token": "phs_mine", "effective_membership_level": 15}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{:?}", r.body);
    assert_ne!(r.body["id"], 4242);
    assert_ne!(r.body["api_token"], "phc_mine");
    assert_eq!(r.body["organization"], w.org.as_str());
    assert_eq!(r.body["ingested_event"], false);
    assert_eq!(r.body["secret_api_token"], Value::Null);
    assert_eq!(r.body["effective_membership_level"], 8);
}

#[tokio::test]
async fn concurrent_creates_with_the_same_name_one_wins() {
    let w = World::new().await;
    let (a, b) = tokio::join!(
        create(&w, &w.owner, json!({"name": "Hedgebox"})),
        create(&w, &w.admin, json!({"name": "hedgebox "})),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 409], "{:?} {:?}", a.body, b.body);
    let loser = if a.status == StatusCode::CONFLICT {
        &a
    } else {
        &b
    };
    assert_eq!(loser.body["code"], "conflict");
    assert_eq!(count(&w).await, 1);
}

#[tokio::test]
async fn concurrent_creates_without_names_get_distinct_defaults() {
    let w = World::new().await;
    let (a, b) = tokio::join!(
        create(&w, &w.owner, json!({})),
        create(&w, &w.admin, json!({})),
    );
    assert_eq!(
        (a.status, b.status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    let mut got = [a.body["name"].clone(), b.body["name"].clone()];
    got.sort_by_key(|v| v.as_str().unwrap().to_string());
    assert_eq!(got, [json!("Default project"), json!("Default project 2")]);
}
