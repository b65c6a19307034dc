//! Projects: PATCH and PUT. Who may change what, PostHog's validation errors
//! (code, detail, attr), how settings merge, and what gets logged.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::projects::{activity, count, detail, get, id_of, new_project, patch, NOT_FOUND};
use crate::support::{Response, World};

const ADMIN_GATE: &str = "Only project admins can modify these settings: ";

fn gate(fields: &str) -> String {
    format!("{ADMIN_GATE}{fields}")
}

/// A world with one project, "Hedgebox"; returns its id too.
pub(crate) async fn world() -> (World, i64) {
    let w = World::new().await;
    let id = new_project(&w, "Hedgebox").await;
    (w, id)
}

async fn put(w: &World, key: &str, id: i64, body: Value) -> Response {
    w.app
        .call("PUT", &w.project(id), Some(key), Some(body))
        .await
}

/// PATCHes as the admin and expects a 400 with this code, detail and attr.
pub(crate) async fn rejects(
    w: &World,
    id: i64,
    body: Value,
    code: &str,
    detail: &str,
    attr: Value,
) {
    let r = patch(w, &w.admin, id, body.clone()).await;
    assert_eq!(r.error(), (400, code, detail, attr), "{body}");
    assert_eq!(r.body["type"], "validation_error");
}

/// PATCHes as the admin and returns the 200 body.
pub(crate) async fn accepts(w: &World, id: i64, body: Value) -> Value {
    let r = patch(w, &w.admin, id, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{body}: {:?}", r.body);
    r.body
}

// ------------------------------------------------------- basics, 404s

#[tokio::test]
async fn patch_timezone_updates_it_and_logs_the_change() {
    let (w, id) = world().await;
    let r = patch(&w, &w.admin, id, json!({"timezone": "Europe/Lisbon"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["timezone"], "Europe/Lisbon");
    assert_eq!(detail(&w, id).await["timezone"], "Europe/Lisbon");
    let log = activity(&w, id).await;
    let entry = &log["results"][0];
    assert_eq!(entry["activity"], "updated");
    assert_eq!(entry["scope"], "Team");
    assert_eq!(entry["item_id"], id.to_string());
    assert_eq!(
        entry["user"],
        json!({"first_name": "Test", "email": "admin@example.com"})
    );
    assert_eq!(
        entry["detail"],
        json!({
            "changes": [{"type": "Team", "action": "changed", "field": "timezone", "before": "UTC", "after": "Europe/Lisbon"}],
            "trigger": null, "name": "Hedgebox", "short_id": null, "type": null
        })
    );
}

#[tokio::test]
async fn patch_returns_the_full_detail() {
    let (w, id) = world().await;
    let r = patch(&w, &w.member, id, json!({})).await;
    assert_eq!(r.status, StatusCode::OK);
    let got = detail(&w, id).await;
    assert_eq!(crate::projects::keys(&r.body), crate::projects::keys(&got));
    assert_eq!(r.body["effective_membership_level"], 1);
}

#[tokio::test]
async fn patch_project_of_another_organization_is_404() {
    let (w, _) = world().await;
    let theirs = w.create_other_project("Theirs").await;
    let their_id = id_of(&theirs);
    let r = patch(&w, &w.owner, their_id, json!({"timezone": "Europe/Lisbon"})).await;
    assert_eq!(r.error(), NOT_FOUND);
    let path = format!("/api/organizations/{}/projects/{their_id}/", w.other_org);
    let r = get(&w, &w.outsider, &path).await;
    assert_eq!(r.body["timezone"], "UTC");
}

#[tokio::test]
async fn patch_by_non_member_is_404() {
    let (w, id) = world().await;
    let r = patch(&w, &w.outsider, id, json!({"timezone": "Europe/Lisbon"})).await;
    assert_eq!(r.error(), NOT_FOUND);
    let r = put(&w, &w.outsider, id, json!({"timezone": "Europe/Lisbon"})).await;
    assert_eq!(r.error(), NOT_FOUND);
    assert_eq!(detail(&w, id).await["timezone"], "UTC");
}

#[tokio::test]
async fn patch_of_unknown_or_malformed_id_is_404() {
    let (w, _) = world().await;
    for raw in ["999999", "abc"] {
        let path = format!("{}{raw}/", w.projects());
        let r = w
            .app
            .call("PATCH", &path, Some(&w.owner), Some(json!({"name": "X"})))
            .await;
        assert_eq!(r.error(), NOT_FOUND, "{raw}");
    }
}

#[tokio::test]
async fn patch_current_project() {
    let (w, id) = world().await;
    let path = format!("{}@current/", w.projects());
    let r = w
        .app
        .call(
            "PATCH",
            &path,
            Some(&w.owner),
            Some(json!({"timezone": "Asia/Tokyo"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(id_of(&r.body), id);
    assert_eq!(detail(&w, id).await["timezone"], "Asia/Tokyo");
}

#[tokio::test]
async fn read_only_key_cannot_update() {
    let (w, id) = world().await;
    let key = w.app.key("owner@example.com", &["project:read"]).await;
    for body in [
        json!({"timezone": "Europe/Lisbon"}),
        json!({"name": "Renamed"}),
    ] {
        let r = patch(&w, &key, id, body.clone()).await;
        assert_eq!(
            r.error(),
            (
                403,
                "permission_denied",
                "API key missing required scope 'project:write'",
                Value::Null
            ),
            "{body}"
        );
    }
    let got = detail(&w, id).await;
    assert_eq!(
        (got["timezone"].clone(), got["name"].clone()),
        (json!("UTC"), json!("Hedgebox"))
    );
}

#[tokio::test]
async fn write_key_can_update() {
    let (w, id) = world().await;
    let key = w.app.key("owner@example.com", &["project:write"]).await;
    let r = patch(
        &w,
        &key,
        id,
        json!({"timezone": "Europe/Lisbon", "name": "Renamed"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["timezone"], "Europe/Lisbon");
    assert_eq!(r.body["name"], "Renamed");
}

// ------------------------------------------------------- PUT

#[tokio::test]
async fn put_with_a_partial_body_behaves_as_patch() {
    let (w, id) = world().await;
    let r = put(&w, &w.admin, id, json!({"timezone": "Europe/Lisbon"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["timezone"], "Europe/Lisbon");
    assert_eq!(r.body["name"], "Hedgebox");
}

#[tokio::test]
async fn put_making_a_second_demo_project_is_403() {
    let (w, id) = world().await;
    let demo =
        crate::projects::create(&w, &w.owner, json!({"name": "Demo", "is_demo": true})).await;
    assert_eq!(demo.status, StatusCode::CREATED);
    let r = put(&w, &w.admin, id, json!({"is_demo": true})).await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "You have reached the maximum limit of allowed projects for your current plan. Upgrade your plan to be able to create and manage more projects.",
            Value::Null
        )
    );
    assert_eq!(detail(&w, id).await["is_demo"], false);
    // PostHog runs the plan check before membership, so a non-member saw the
    // 403 only for projects that exist; prickle answers 404 as for any
    // missing project (hostile/authorization.rs).
    let r = put(&w, &w.outsider, id, json!({"is_demo": true})).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The demo project itself may be PUT as a demo.
    let r = put(&w, &w.admin, id_of(&demo.body), json!({"is_demo": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // PATCH has no plan check.
    let r = patch(&w, &w.admin, id, json!({"is_demo": true})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["is_demo"], true);
}

#[tokio::test]
async fn update_is_allowed_at_the_project_limit() {
    let w = crate::projects::world_with_limit(1).await;
    let id = new_project(&w, "Only").await;
    let r = patch(&w, &w.admin, id, json!({"name": "Renamed"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let r = put(&w, &w.admin, id, json!({"name": "Renamed again"})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["name"], "Renamed again");
}

// ------------------------------------------------------- name

#[tokio::test]
async fn rename_to_a_taken_name_is_409() {
    let (w, id) = world().await;
    new_project(&w, "Other").await;
    for name in ["Other", " other "] {
        let r = patch(&w, &w.admin, id, json!({ "name": name })).await;
        let detail = format!(
            "There is already a project called \"{}\" in this organization. Choose a different name.",
            name.trim()
        );
        assert_eq!(r.error(), (409, "conflict", detail.as_str(), Value::Null));
    }
    assert_eq!(detail(&w, id).await["name"], "Hedgebox");
}

#[tokio::test]
async fn rename_to_own_name_is_allowed() {
    let (w, id) = world().await;
    let r = patch(&w, &w.admin, id, json!({"name": "Hedgebox"})).await;
    assert_eq!(r.status, StatusCode::OK);
    let r = patch(&w, &w.admin, id, json!({"name": "  HEDGEBOX "})).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["name"], "HEDGEBOX");
    let list = get(&w, &w.owner, &format!("{}?search=hedge", w.projects())).await;
    assert_eq!(list.body["results"][0]["name"], "HEDGEBOX");
}

/// Field validation runs before the admin gate, and the duplicate name stops it at once.
#[tokio::test]
async fn member_rename_to_a_taken_name_is_409_before_the_admin_gate() {
    let (w, id) = world().await;
    new_project(&w, "Other").await;
    let r = patch(
        &w,
        &w.member,
        id,
        json!({"name": "Other", "access_control": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CONFLICT);
    let r = patch(&w, &w.member, id, json!({"name": "Fresh"})).await;
    assert_eq!(
        r.error(),
        (403, "permission_denied", gate("name").as_str(), Value::Null)
    );
}

#[tokio::test]
async fn patch_with_invalid_name_is_400() {
    let (w, id) = world().await;
    rejects(
        &w,
        id,
        json!({"name": ""}),
        "blank",
        "This field may not be blank.",
        json!("name"),
    )
    .await;
    rejects(
        &w,
        id,
        json!({"name": null}),
        "null",
        "This field may not be null.",
        json!("name"),
    )
    .await;
    rejects(
        &w,
        id,
        json!({"name": "x".repeat(201)}),
        "max_length",
        "Ensure this field has no more than 200 characters.",
        json!("name"),
    )
    .await;
}

// ------------------------------------------------------- admin gate

#[tokio::test]
async fn member_cannot_patch_timezone() {
    let (w, id) = world().await;
    let r = patch(&w, &w.member, id, json!({"timezone": "Europe/Lisbon"})).await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            gate("timezone").as_str(),
            Value::Null
        )
    );
    assert_eq!(r.body["type"], "authentication_error");
    assert_eq!(detail(&w, id).await["timezone"], "UTC");
}

#[tokio::test]
async fn member_cannot_patch_admin_gated_settings() {
    let (w, id) = world().await;
    let cases = [
        ("timezone", json!("Europe/Lisbon")),
        ("anonymize_ips", json!(true)),
        ("autocapture_opt_out", json!(true)),
        ("data_attributes", json!(["data-x"])),
        ("week_start_day", json!(1)),
        ("path_cleaning_filters", json!([])),
        ("capture_console_log_opt_in", json!(false)),
        ("heatmaps_opt_in", json!(true)),
        ("recording_domains", json!(["https://example.com"])),
        ("session_recording_sample_rate", json!("0.5")),
        ("app_urls", json!(["https://example.com"])),
    ];
    for (field, value) in cases {
        let r = patch(&w, &w.member, id, json!({ field: value })).await;
        assert_eq!(
            r.error(),
            (403, "permission_denied", gate(field).as_str(), Value::Null),
            "{field}"
        );
    }
}

#[tokio::test]
async fn member_cannot_patch_name_or_is_demo() {
    let (w, id) = world().await;
    for (field, value) in [("name", json!("Renamed")), ("is_demo", json!(true))] {
        let r = patch(&w, &w.member, id, json!({ field: value })).await;
        assert_eq!(
            r.error(),
            (403, "permission_denied", gate(field).as_str(), Value::Null),
            "{field}"
        );
    }
    let got = detail(&w, id).await;
    assert_eq!(
        (got["name"].clone(), got["is_demo"].clone()),
        (json!("Hedgebox"), json!(false))
    );
}

#[tokio::test]
async fn member_can_patch_member_safe_settings() {
    let (w, id) = world().await;
    let body = json!({
        "session_recording_opt_in": true,
        "autocapture_exceptions_opt_in": true,
        "autocapture_web_vitals_opt_in": true,
        "autocapture_web_vitals_allowed_metrics": ["LCP", "CLS"],
        "surveys_opt_in": true,
        "has_completed_onboarding_for": {"product_analytics": true},
        "completed_snippet_onboarding": true,
        "primary_dashboard": 7,
        "product_description": "A hedgehog shop",
    });
    let r = patch(&w, &w.member, id, body.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    let got = detail(&w, id).await;
    for (field, value) in body.as_object().unwrap() {
        assert_eq!(&got[field.as_str()], value, "{field}");
    }
}

#[tokio::test]
async fn member_mixing_safe_and_admin_settings_is_refused_whole() {
    let (w, id) = world().await;
    let r = patch(
        &w,
        &w.member,
        id,
        json!({"surveys_opt_in": true, "timezone": "Europe/Lisbon", "anonymize_ips": true}),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            gate("anonymize_ips, timezone").as_str(),
            Value::Null
        )
    );
    let got = detail(&w, id).await;
    assert_eq!(got["surveys_opt_in"], Value::Null);
    assert_eq!(got["timezone"], "UTC");
}

/// PostHog checks the errors-to-ignore list in `validate()`, after the admin gate.
#[tokio::test]
async fn member_sending_bad_errors_to_ignore_meets_the_admin_gate_first() {
    let (w, id) = world().await;
    let body = json!({"autocapture_exceptions_errors_to_ignore": {"wat": "am i"}});
    let r = patch(&w, &w.member, id, body.clone()).await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            gate("autocapture_exceptions_errors_to_ignore").as_str(),
            Value::Null
        )
    );
    // A field error still comes before the gate.
    let r = patch(
        &w,
        &w.member,
        id,
        json!({"autocapture_exceptions_errors_to_ignore": {"wat": 1}, "timezone": "Nowhere/Land"}),
    )
    .await;
    assert_eq!(r.body["attr"], "timezone");
}

#[tokio::test]
async fn admin_and_owner_can_patch_admin_settings() {
    let (w, id) = world().await;
    for (key, tz) in [(&w.admin, "Europe/Lisbon"), (&w.owner, "Asia/Tokyo")] {
        let r = patch(&w, key, id, json!({"timezone": tz, "name": tz})).await;
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
        assert_eq!(r.body["timezone"], tz);
    }
}

#[tokio::test]
async fn member_cannot_change_org_level_activity_logs() {
    let (w, id) = world().await;
    // The setting's own 403 comes before any collected 400.
    let r = patch(
        &w,
        &w.member,
        id,
        json!({"receive_org_level_activity_logs": true, "access_control": true}),
    )
    .await;
    assert_eq!(
        r.body,
        json!({
            "type": "authentication_error",
            "code": "permission_denied",
            "detail": "Only organization owners and admins can modify the receive_org_level_activity_logs setting.",
            "attr": null
        })
    );
}

#[tokio::test]
async fn member_sending_null_org_level_activity_logs_hits_the_admin_gate() {
    let (w, id) = world().await;
    let r = patch(
        &w,
        &w.member,
        id,
        json!({"receive_org_level_activity_logs": null}),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            gate("receive_org_level_activity_logs").as_str(),
            Value::Null
        )
    );
}

#[tokio::test]
async fn admin_can_change_org_level_activity_logs() {
    let (w, id) = world().await;
    let body = accepts(&w, id, json!({"receive_org_level_activity_logs": true})).await;
    assert_eq!(body["receive_org_level_activity_logs"], true);
}

// ------------------------------------------------------- validation

#[tokio::test]
async fn patch_with_access_control_is_400_and_applies_nothing() {
    let (w, id) = world().await;
    for key in [&w.admin, &w.member] {
        let r = patch(
            &w,
            key,
            id,
            json!({"timezone": "Europe/Lisbon", "access_control": true}),
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
    assert_eq!(detail(&w, id).await["timezone"], "UTC");
    assert_eq!(activity(&w, id).await["total_count"], 1);
}

/// DRF reports the first failing field in serializer order, and a member's
/// invalid value is a 400 before the admin gate's 403.
#[tokio::test]
async fn validation_errors_follow_posthog_field_order() {
    let (w, id) = world().await;
    let r = patch(
        &w,
        &w.admin,
        id,
        json!({"session_recording_sample_rate": "abc", "timezone": "Nowhere/Land"}),
    )
    .await;
    assert_eq!(r.body["attr"], "timezone");
    let r = patch(
        &w,
        &w.admin,
        id,
        json!({"timezone": "Nowhere/Land", "product_description": "x".repeat(1001)}),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            400,
            "max_length",
            "Ensure this field has no more than 1000 characters.",
            json!("product_description")
        )
    );
    let r = patch(&w, &w.member, id, json!({"timezone": "Nowhere/Land"})).await;
    assert_eq!(r.error().0, 400);
}

// ------------------------------------------------------- no-ops, logging

#[tokio::test]
async fn no_op_patch_writes_no_activity() {
    let (w, id) = world().await;
    let before = detail(&w, id).await;
    for body in [
        json!({}),
        json!({"timezone": "UTC"}),
        json!({"name": "Hedgebox"}),
        json!({"is_demo": false}),
    ] {
        let r = patch(&w, &w.admin, id, body.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{body}");
        assert_eq!(r.body["updated_at"], before["updated_at"], "{body}");
    }
    let log = activity(&w, id).await;
    assert_eq!(log["total_count"], 1);
    assert_eq!(log["results"][0]["activity"], "created");
}

#[tokio::test]
async fn patch_ignores_read_only_fields() {
    let (w, id) = world().await;
    let before = detail(&w, id).await;
    let r = patch(
        &w,
        &w.admin,
        id,
        json!({"id": 1, "uuid": "x", "api_token": "phc_x", "organization": w.other_org, "ingested_event": true,
               "secret_api_token": "phs_x", "created_at": "2000-01-01T00:00:00Z", "default_modifiers": {}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    for field in [
        "id",
        "uuid",
        "api_token",
        "organization",
        "ingested_event",
        "secret_api_token",
        "created_at",
        "updated_at",
    ] {
        assert_eq!(r.body[field], before[field], "{field}");
    }
    assert_eq!(activity(&w, id).await["total_count"], 1);
}

/// Sends the PATCHes at once, each from its own task on the test's
/// multi-threaded runtime, so that they really run side by side; returns
/// their answers in order.
async fn patch_concurrently(w: &Arc<World>, id: i64, patches: Vec<(&str, Value)>) -> Vec<Response> {
    let tasks: Vec<_> = patches
        .into_iter()
        .map(|(who, body)| {
            let w = w.clone();
            let who = who.to_string();
            tokio::spawn(async move {
                let key = match who.as_str() {
                    "member" => &w.member,
                    "owner" => &w.owner,
                    _ => &w.admin,
                };
                patch(&w, key, id, body).await
            })
        })
        .collect();
    let mut answers = Vec::new();
    for t in tasks {
        answers.push(t.await.expect("PATCH task"));
    }
    answers
}

fn all_ok(answers: &[Response]) {
    for r in answers {
        assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_of_different_fields_both_persist() {
    let (w, id) = world().await;
    let w = Arc::new(w);
    let answers = patch_concurrently(
        &w,
        id,
        vec![
            ("admin", json!({"timezone": "Europe/Lisbon"})),
            ("owner", json!({"name": "Renamed"})),
        ],
    )
    .await;
    all_ok(&answers);
    let got = detail(&w, id).await;
    assert_eq!(got["timezone"], "Europe/Lisbon");
    assert_eq!(got["name"], "Renamed");
    assert_eq!(activity(&w, id).await["total_count"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_patches_of_different_settings_both_persist() {
    let (w, id) = world().await;
    let w = Arc::new(w);
    let answers = patch_concurrently(
        &w,
        id,
        vec![
            (
                "member",
                json!({"has_completed_onboarding_for": {"product_analytics": true}}),
            ),
            ("admin", json!({"timezone": "Europe/Lisbon"})),
        ],
    )
    .await;
    all_ok(&answers);
    let got = detail(&w, id).await;
    assert_eq!(
        got["has_completed_onboarding_for"],
        json!({"product_analytics": true})
    );
    assert_eq!(got["timezone"], "Europe/Lisbon");
    assert_eq!(count(&w).await, 1);
}

/// Round `round`'s PATCHes: each changes one field (or one key of
/// `survey_config`) to a value of that round.
fn round_of_patches(round: usize) -> Vec<(String, Value)> {
    let even = round % 2 == 0;
    let mut fields = vec![
        ("name".to_string(), json!(format!("Round {round}"))),
        (
            "timezone".into(),
            json!(["Europe/Lisbon", "Asia/Tokyo"][round % 2]),
        ),
        ("week_start_day".into(), json!(if even { 1 } else { 0 })),
        ("anonymize_ips".into(), json!(even)),
        ("completed_snippet_onboarding".into(), json!(even)),
        ("autocapture_opt_out".into(), json!(even)),
        ("capture_console_log_opt_in".into(), json!(!even)),
        ("capture_performance_opt_in".into(), json!(!even)),
        ("session_recording_opt_in".into(), json!(even)),
        ("surveys_opt_in".into(), json!(even)),
        ("heatmaps_opt_in".into(), json!(even)),
        ("flags_persistence_default".into(), json!(even)),
        ("data_attributes".into(), json!([format!("data-r{round}")])),
        (
            "person_display_name_properties".into(),
            json!([format!("prop-r{round}")]),
        ),
    ];
    for k in 0..6 {
        fields.push((format!("survey_config.k{k}"), json!(round)));
    }
    fields
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_patches_of_different_settings_lose_none() {
    let (w, id) = world().await;
    let w = Arc::new(w);
    #[cfg(debug_assertions)]
    let replans_before = prickle::projects::REPLANS.load(Ordering::Relaxed);
    let mut logged = 1;
    // Until a PATCH has been worked out again under the lock (the first
    // round almost always does it).
    for round in 0..5 {
        let fields = round_of_patches(round);
        let patches = fields
            .iter()
            .map(|(field, value)| {
                let body = match field.split_once('.') {
                    Some((setting, key)) => json!({ setting: { key: value } }),
                    None => json!({ field: value }),
                };
                ("admin", body)
            })
            .collect();
        all_ok(&patch_concurrently(&w, id, patches).await);
        logged += fields.len();
        let got = detail(&w, id).await;
        for (field, value) in &fields {
            let stored = match field.split_once('.') {
                Some((setting, key)) => &got[setting][key],
                None => &got[field.as_str()],
            };
            assert_eq!(stored, value, "round {round}: {field} lost");
        }
        assert_eq!(activity(&w, id).await["total_count"], logged);
        #[cfg(debug_assertions)]
        if prickle::projects::REPLANS.load(Ordering::Relaxed) > replans_before {
            return;
        }
    }
    #[cfg(debug_assertions)]
    panic!("no PATCH was worked out again under the lock in five rounds");
}

/// A demotion that commits while a PATCH waits for the write lock, its route
/// checks passed at the old level, applies to that PATCH: under the lock the
/// grants epoch has moved, so the levels are resolved again. (SQLite: its one
/// writer is what lets the test hold the PATCH there; PostgreSQL resolves
/// them again under row locks on every write.)
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_demotion_committed_while_a_patch_waits_for_the_lock_applies_to_it() {
    use prickle::storage::schema::{OrganizationMemberships as M, Users as U};
    use prickle::storage::DbGauges;
    use sea_query::{Expr, ExprTrait, Query};

    let (w, id) = world().await;
    if w.app.db.is_postgres() {
        return;
    }
    let w = Arc::new(w);
    // The checks answer from the authorization cache, as on a warm server.
    assert_eq!(
        get(&w, &w.admin, &w.project(id)).await.status,
        StatusCode::OK
    );
    let mut held = w.app.db.write().await.unwrap();
    let patching = {
        let w = w.clone();
        tokio::spawn(async move { patch(&w, &w.admin, id, json!({"name": "Renamed"})).await })
    };
    let queued = || match w.app.db.gauges() {
        DbGauges::Sqlite { writers_queued, .. } => writers_queued,
        DbGauges::Postgres { .. } => unreachable!("SQLite only"),
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while queued() == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the PATCH never queued"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let admin = Query::select()
        .column(U::Id)
        .from(U::Table)
        .and_where(Expr::col(U::Email).eq("admin@example.com"))
        .to_owned();
    let demote = Query::update()
        .table(M::Table)
        .value(M::Level, 1)
        .and_where(Expr::col(M::OrganizationId).eq(w.org.as_str()))
        .and_where(Expr::col(M::UserId).in_subquery(admin))
        .to_owned();
    assert_eq!(held.execute(&demote).await.unwrap(), 1);
    let committing = tokio::spawn(held.commit());
    let r = patching.await.unwrap();
    committing.await.unwrap().unwrap();
    assert_eq!(
        r.error(),
        (403, "permission_denied", gate("name").as_str(), Value::Null),
    );
    assert_eq!(detail(&w, id).await["name"], "Hedgebox");
}
