//! Projects: list and retrieve, one test per PostHog behaviour, and the
//! helpers every `projects_*` file shares. Create is in `projects_create.rs`,
//! updates in `projects_update.rs` and `projects_settings.rs`, delete and the
//! activity log in `projects_activity.rs`.

use axum::http::StatusCode;
use prickle::config::Config;
use serde_json::{json, Value};

use crate::support::{Response, TestApp, World, SITE};

/// The project detail's fields in PostHog's order (ProjectBackwardCompat).
pub(crate) const DETAIL_FIELDS: [&str; 70] = [
    "id",
    "organization",
    "name",
    "product_description",
    "created_at",
    "effective_membership_level",
    "has_group_types",
    "group_types",
    "live_events_token",
    "updated_at",
    "uuid",
    "api_token",
    "app_urls",
    "anonymize_ips",
    "completed_snippet_onboarding",
    "ingested_event",
    "test_account_filters",
    "test_account_filters_default_checked",
    "path_cleaning_filters",
    "is_demo",
    "timezone",
    "data_attributes",
    "person_display_name_properties",
    "correlation_config",
    "autocapture_opt_out",
    "autocapture_exceptions_opt_in",
    "autocapture_web_vitals_opt_in",
    "autocapture_web_vitals_allowed_metrics",
    "autocapture_exceptions_errors_to_ignore",
    "capture_console_log_opt_in",
    "capture_performance_opt_in",
    "session_recording_opt_in",
    "session_recording_sample_rate",
    "session_recording_minimum_duration_milliseconds",
    "session_recording_linked_flag",
    "session_recording_network_payload_capture_config",
    "session_recording_masking_config",
    "session_recording_url_trigger_config",
    "session_recording_url_blocklist_config",
    "session_recording_event_trigger_config",
    "session_recording_trigger_match_type_config",
    "session_recording_trigger_groups",
    "session_recording_retention_period",
    "session_replay_config",
    "survey_config",
    "access_control",
    "week_start_day",
    "primary_dashboard",
    "live_events_columns",
    "recording_domains",
    "person_on_events_querying_enabled",
    "inject_web_apps",
    "extra_settings",
    "modifiers",
    "default_modifiers",
    "has_completed_onboarding_for",
    "surveys_opt_in",
    "heatmaps_opt_in",
    "product_intents",
    "flags_persistence_default",
    "secret_api_token",
    "secret_api_token_backup",
    "receive_org_level_activity_logs",
    "business_model",
    "conversations_enabled",
    "conversations_settings",
    "logs_settings",
    "proactive_tasks_enabled",
    "available_setup_task_ids",
    "user_access_level",
];

/// The list item's fields in PostHog's order (ProjectBackwardCompatBasic).
const BASIC_FIELDS: [&str; 11] = [
    "id",
    "uuid",
    "organization",
    "api_token",
    "name",
    "completed_snippet_onboarding",
    "has_completed_onboarding_for",
    "ingested_event",
    "is_demo",
    "timezone",
    "access_control",
];

pub(crate) const NOT_FOUND: (u16, &str, &str, Value) =
    (404, "not_found", "Not found.", Value::Null);

pub(crate) fn keys(v: &Value) -> Vec<&str> {
    v.as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect()
}

pub(crate) fn id_of(v: &Value) -> i64 {
    v["id"].as_i64().expect("an integer id")
}

/// POST /projects/ in the world's organization.
pub(crate) async fn create(w: &World, key: &str, body: Value) -> Response {
    w.app
        .call("POST", &w.projects(), Some(key), Some(body))
        .await
}

/// A project created by the owner; returns its id.
pub(crate) async fn new_project(w: &World, name: &str) -> i64 {
    id_of(&w.create_project(name).await)
}

pub(crate) async fn get(w: &World, key: &str, path: &str) -> Response {
    w.app.call("GET", path, Some(key), None).await
}

/// The project as the owner sees it.
pub(crate) async fn detail(w: &World, id: i64) -> Value {
    let r = get(w, &w.owner, &w.project(id)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

pub(crate) async fn patch(w: &World, key: &str, id: i64, body: Value) -> Response {
    w.app
        .call("PATCH", &w.project(id), Some(key), Some(body))
        .await
}

pub(crate) fn activity_path(w: &World, id: i64) -> String {
    format!("{}activity/", w.project(id))
}

/// The project's activity page as the owner sees it.
pub(crate) async fn activity(w: &World, id: i64) -> Value {
    let r = get(w, &w.owner, &activity_path(w, id)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body
}

/// How many projects the owner sees in the organization.
pub(crate) async fn count(w: &World) -> i64 {
    let r = get(w, &w.owner, &w.projects()).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    r.body["count"].as_i64().unwrap()
}

fn names(page: &Value) -> Vec<&str> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect()
}

/// A world whose organization may hold at most `max` non-demo projects.
pub(crate) async fn world_with_limit(max: i64) -> World {
    let app = TestApp::with_config(Config::new(SITE, max, Some("test-secret"))).await;
    // World::new's cast, over this app.
    let org = app.organization("Hedgehogs", "owner@example.com").await;
    app.add_member(&org, "admin@example.com", 8).await;
    app.add_member(&org, "member@example.com", 1).await;
    let other_org = app.organization("Others", "outsider@example.com").await;
    World {
        owner: app.key("owner@example.com", &["*"]).await,
        admin: app.key("admin@example.com", &["*"]).await,
        member: app.key("member@example.com", &["*"]).await,
        outsider: app.key("outsider@example.com", &["*"]).await,
        app,
        org,
        other_org,
    }
}

// ---------------------------------------------------------------- list

#[tokio::test]
async fn list_returns_basic_fields_only() {
    let w = World::new().await;
    let created = w.create_project("Hedgebox").await;
    let r = get(&w, &w.member, &w.projects()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(keys(&r.body), ["count", "next", "previous", "results"]);
    assert_eq!(r.body["count"], 1);
    let item = &r.body["results"][0];
    assert_eq!(keys(item), BASIC_FIELDS);
    for field in ["id", "uuid", "organization", "api_token", "name"] {
        assert_eq!(item[field], created[field], "{field}");
    }
    assert_eq!(item["ingested_event"], false);
    assert_eq!(item["is_demo"], false);
    assert_eq!(item["timezone"], "UTC");
    assert_eq!(item["access_control"], false);
}

/// A page is rendered once per commit (SQLite), for the callers who see the
/// same projects: a rename, a new project or a rule hiding one shows on the
/// very next request, and an admin and a member never share a page.
#[tokio::test]
async fn the_list_shows_every_change_at_once() {
    let w = World::new().await;
    let id = w.create_project("Before").await["id"].as_i64().unwrap();
    for _ in 0..2 {
        assert_eq!(
            names(&get(&w, &w.owner, &w.projects()).await.body),
            ["Before"]
        );
    }
    let r = w
        .app
        .call(
            "PATCH",
            &w.project(id),
            Some(&w.owner),
            Some(json!({"name": "After"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        names(&get(&w, &w.owner, &w.projects()).await.body),
        ["After"]
    );
    w.create_project("Second").await;
    assert_eq!(
        names(&get(&w, &w.member, &w.projects()).await.body),
        ["After", "Second"]
    );
    let r = w
        .app
        .call(
            "PUT",
            &format!("{}access_controls/", w.project(id)),
            Some(&w.owner),
            Some(json!({"access_level": "none"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(
        names(&get(&w, &w.member, &w.projects()).await.body),
        ["Second"]
    );
    assert_eq!(
        names(&get(&w, &w.admin, &w.projects()).await.body),
        ["After", "Second"]
    );
    assert_eq!(
        names(&get(&w, &w.member, &w.projects()).await.body),
        ["Second"]
    );
}

#[tokio::test]
async fn list_is_ordered_by_id() {
    let w = World::new().await;
    for name in ["Zeta", "Alpha", "Mu"] {
        new_project(&w, name).await;
    }
    let r = get(&w, &w.owner, &w.projects()).await;
    assert_eq!(names(&r.body), ["Zeta", "Alpha", "Mu"]);
}

#[tokio::test]
async fn list_paginates_with_limit_and_offset() {
    let w = World::new().await;
    for name in ["One", "Two", "Three"] {
        new_project(&w, name).await;
    }
    let base = format!("{SITE}{}", w.projects());
    let first = get(&w, &w.owner, &format!("{}?limit=2", w.projects())).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["count"], 3);
    assert_eq!(names(&first.body), ["One", "Two"]);
    assert_eq!(first.body["next"], format!("{base}?limit=2&offset=2"));
    assert_eq!(first.body["previous"], Value::Null);

    let last = get(&w, &w.owner, &format!("{}?limit=2&offset=2", w.projects())).await;
    assert_eq!(last.body["count"], 3);
    assert_eq!(names(&last.body), ["Three"]);
    assert_eq!(last.body["next"], Value::Null);
    assert_eq!(last.body["previous"], format!("{base}?limit=2"));

    let middle = get(&w, &w.owner, &format!("{}?limit=1&offset=1", w.projects())).await;
    assert_eq!(names(&middle.body), ["Two"]);
    assert_eq!(middle.body["next"], format!("{base}?limit=1&offset=2"));
    assert_eq!(middle.body["previous"], format!("{base}?limit=1"));
}

#[tokio::test]
async fn list_search_filters_by_name_case_insensitively() {
    let w = World::new().await;
    for name in ["Analytics Dashboard", "Revenue Tracker", "User Analytics"] {
        new_project(&w, name).await;
    }
    let search = |term: &str| format!("{}?search={term}", w.projects());
    let r = get(&w, &w.owner, &search("Analytics")).await;
    assert_eq!(r.body["count"], 2);
    assert_eq!(names(&r.body), ["Analytics Dashboard", "User Analytics"]);
    let r = get(&w, &w.owner, &search("revenue")).await;
    assert_eq!(r.body["count"], 1);
    assert_eq!(names(&r.body), ["Revenue Tracker"]);
    let r = get(&w, &w.owner, &search("nonexistent")).await;
    assert_eq!(r.body["count"], 0);
    assert_eq!(r.body["results"], json!([]));
    // An empty search is no filter; LIKE wildcards are matched literally.
    let r = get(&w, &w.owner, &search("")).await;
    assert_eq!(r.body["count"], 3);
    let r = get(&w, &w.owner, &search("%25")).await;
    assert_eq!(r.body["count"], 0);
    new_project(&w, "snake_case").await;
    new_project(&w, "snakeXcase").await;
    let r = get(&w, &w.owner, &search("e_c")).await;
    assert_eq!(names(&r.body), ["snake_case"]);
}

#[tokio::test]
async fn list_through_the_current_organization() {
    let w = World::new().await;
    new_project(&w, "Hedgebox").await;
    let r = get(&w, &w.member, "/api/organizations/@current/projects/").await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(names(&r.body), ["Hedgebox"]);
    assert_eq!(r.body["results"][0]["organization"], w.org.as_str());
}

#[tokio::test]
async fn list_by_non_member_is_an_empty_page() {
    let w = World::new().await;
    new_project(&w, "Hedgebox").await;
    let r = get(&w, &w.outsider, &w.projects()).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        r.body,
        json!({"count": 0, "next": null, "previous": null, "results": []})
    );
}

#[tokio::test]
async fn list_of_unknown_or_malformed_organization_is_404() {
    let w = World::new().await;
    let missing = "/api/organizations/0190c0de-0000-7000-8000-00000000dead/projects/";
    for path in [missing, "/api/organizations/not-a-uuid/projects/"] {
        let r = get(&w, &w.owner, path).await;
        assert_eq!(
            r.error(),
            (404, "not_found", "Organization not found.", Value::Null),
            "{path}"
        );
    }
}

#[tokio::test]
async fn list_with_key_scoped_to_another_organization() {
    let w = World::new().await;
    new_project(&w, "Mine").await;
    prickle::admin::add_member(&w.app.db, &w.other_org, "owner@example.com", 1)
        .await
        .expect("join other org");
    let theirs = w.create_other_project("Theirs").await;
    let key = w
        .app
        .key_with(
            "owner@example.com",
            &["*"],
            Some(vec![w.other_org.clone()]),
            None,
        )
        .await;
    let r = get(
        &w,
        &key,
        &format!("/api/organizations/{}/projects/", w.other_org),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"][0]["id"], theirs["id"]);
    let r = get(&w, &key, &w.projects()).await;
    let detail = format!(
        "API key does not have access to the requested organization: ID {}.",
        w.org
    );
    assert_eq!(
        r.error(),
        (403, "permission_denied", detail.as_str(), Value::Null)
    );
}

#[tokio::test]
async fn list_needs_project_read_scope() {
    let w = World::new().await;
    let key = w
        .app
        .key("member@example.com", &["organization:read"])
        .await;
    let r = get(&w, &key, &w.projects()).await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "API key missing required scope 'project:read'",
            Value::Null
        )
    );
    let key = w.app.key("member@example.com", &["project:read"]).await;
    assert_eq!(get(&w, &key, &w.projects()).await.status, StatusCode::OK);
}

// ------------------------------------------------------------ retrieve

#[tokio::test]
async fn retrieve_current_project() {
    let w = World::new().await;
    new_project(&w, "First").await;
    let id = new_project(&w, "Second").await;
    let r = get(&w, &w.owner, &format!("{}@current/", w.projects())).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(id_of(&r.body), id);
    assert_eq!(r.body["name"], "Second");
    assert_eq!(r.body["timezone"], "UTC");
    assert_eq!(r.body["is_demo"], false);
    assert_eq!(r.body["has_group_types"], false);
    assert_eq!(r.body["group_types"], json!([]));
    assert!(r.body.get("event_names").is_none());
}

/// PostHog's `User.team`: a user with no current project (a member who
/// never created one) gets the first project of their current organization.
#[tokio::test]
async fn retrieve_current_falls_back_to_the_organizations_first_project() {
    let w = World::new().await;
    let current = format!("{}@current/", w.projects());
    assert_eq!(get(&w, &w.member, &current).await.error(), NOT_FOUND);
    let first = new_project(&w, "First").await;
    new_project(&w, "Second").await;
    let r = get(&w, &w.member, &current).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(id_of(&r.body), first);
}

#[tokio::test]
async fn retrieve_project_of_another_organization_is_404() {
    let w = World::new().await;
    let theirs = w.create_other_project("Theirs").await;
    let their_id = id_of(&theirs);
    // Through our organization's path: not one of its projects.
    let r = get(&w, &w.owner, &w.project(their_id)).await;
    assert_eq!(r.error(), NOT_FOUND);
    assert_eq!(r.body["type"], "invalid_request");
    // Through their organization's path: not a member.
    let path = format!("/api/organizations/{}/projects/{their_id}/", w.other_org);
    let r = get(&w, &w.owner, &path).await;
    assert_eq!(r.error(), NOT_FOUND);
}

#[tokio::test]
async fn retrieve_by_non_member_is_404() {
    let w = World::new().await;
    let id = new_project(&w, "Hedgebox").await;
    let r = get(&w, &w.outsider, &w.project(id)).await;
    assert_eq!(r.error(), NOT_FOUND);
}

#[tokio::test]
async fn retrieve_malformed_or_unknown_id_is_404() {
    let w = World::new().await;
    new_project(&w, "Hedgebox").await;
    for raw in ["abc", "1.5", "-", "99999999999999999999999", "0", "123456"] {
        let path = format!("{}{raw}/", w.projects());
        let r = get(&w, &w.owner, &path).await;
        assert_eq!(r.error(), NOT_FOUND, "{raw}");
    }
}

#[tokio::test]
async fn retrieve_without_trailing_slash() {
    let w = World::new().await;
    let id = new_project(&w, "Hedgebox").await;
    let path = w.project(id);
    let r = get(&w, &w.member, path.trim_end_matches('/')).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(id_of(&r.body), id);
}

#[tokio::test]
async fn effective_membership_level_is_capped_at_admin() {
    let w = World::new().await;
    let id = new_project(&w, "Hedgebox").await;
    for (key, level) in [(&w.owner, 8), (&w.admin, 8), (&w.member, 1)] {
        let r = get(&w, key, &w.project(id)).await;
        assert_eq!(r.body["effective_membership_level"], level);
    }
}

#[tokio::test]
async fn live_events_token_is_a_signed_livestream_jwt() {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use base64::Engine;
    use hmac::{Hmac, Mac};

    let w = World::new().await;
    let project = w.create_project("Hedgebox").await;
    let token = project["live_events_token"].as_str().unwrap();
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[0]).unwrap()).unwrap();
    assert_eq!(header, json!({"alg": "HS256", "typ": "JWT"}));
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(
        keys(&claims),
        [
            "team_id",
            "api_token",
            "user_id",
            "organization_id",
            "exp",
            "aud"
        ]
    );
    assert_eq!(claims["team_id"], project["id"]);
    assert_eq!(claims["api_token"], project["api_token"]);
    assert_eq!(claims["organization_id"], w.org.as_str());
    assert_eq!(claims["aud"], "posthog:livestream");
    assert!(claims["user_id"].is_i64() && claims["exp"].is_i64());
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(b"test-secret").unwrap();
    mac.update(format!("{}.{}", parts[0], parts[1]).as_bytes());
    mac.verify_slice(&URL_SAFE_NO_PAD.decode(parts[2]).unwrap())
        .expect("signed with the configured secret key");
}
