//! Projects: DELETE (synchronous in prickle: 204, then 404) and the
//! project's activity log.

use axum::http::StatusCode;
use prickle::storage::schema::ActivityLog as A;
use prickle::storage::RowRead;
use sea_query::{Expr, ExprTrait, Query};
use serde_json::{json, Value};

use crate::projects::{
    activity, activity_path, count, detail, get, id_of, keys, new_project, patch, NOT_FOUND,
};
use crate::support::{World, SITE};

async fn world() -> (World, i64) {
    let w = World::new().await;
    let id = new_project(&w, "Hedgebox").await;
    (w, id)
}

async fn delete(w: &World, key: &str, id: i64) -> crate::support::Response {
    w.app.call("DELETE", &w.project(id), Some(key), None).await
}

/// Every stored log row of a project, `(scope, activity, detail)`, sorted.
async fn stored(w: &World, id: i64) -> Vec<(String, String, Value)> {
    let stmt = Query::select()
        .columns([A::Scope, A::Activity, A::Detail])
        .from(A::Table)
        .and_where(Expr::col(A::TeamId).eq(id))
        .to_owned();
    let mut tx = w.app.db.read().await.expect("read");
    let mut rows = tx
        .query(&stmt, |r: &dyn RowRead| {
            Ok((r.string(0)?, r.string(1)?, r.json(2)?))
        })
        .await
        .expect("query");
    tx.commit().await.expect("commit");
    rows.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    rows
}

fn plain(name: &str) -> Value {
    json!({"changes": null, "trigger": null, "name": name, "short_id": null, "type": null})
}

// ------------------------------------------------------------ delete

#[tokio::test]
async fn member_cannot_delete_a_project() {
    let (w, id) = world().await;
    let r = delete(&w, &w.member, id).await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "You don't have sufficient permissions in the project.",
            Value::Null
        )
    );
    assert_eq!(detail(&w, id).await["name"], "Hedgebox");
}

#[tokio::test]
async fn admin_deletes_a_project_with_204_then_it_is_gone() {
    let (w, id) = world().await;
    new_project(&w, "Keeper").await;
    let r = delete(&w, &w.admin, id).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.body, Value::Null);
    assert_eq!(get(&w, &w.owner, &w.project(id)).await.error(), NOT_FOUND);
    assert_eq!(
        get(&w, &w.owner, &activity_path(&w, id)).await.error(),
        NOT_FOUND
    );
    assert_eq!(
        patch(&w, &w.owner, id, json!({"name": "Back"}))
            .await
            .error(),
        NOT_FOUND
    );
    assert_eq!(delete(&w, &w.owner, id).await.error(), NOT_FOUND);
    assert_eq!(count(&w).await, 1);
}

#[tokio::test]
async fn delete_keeps_team_and_project_deleted_entries() {
    let (w, id) = world().await;
    assert_eq!(
        delete(&w, &w.owner, id).await.status,
        StatusCode::NO_CONTENT
    );
    let rows = stored(&w, id).await;
    let want = [
        ("Project", "created"),
        ("Project", "deleted"),
        ("Team", "created"),
        ("Team", "deleted"),
    ];
    assert_eq!(
        rows.iter()
            .map(|(s, a, _)| (s.as_str(), a.as_str()))
            .collect::<Vec<_>>(),
        want
    );
    for (scope, act, stored_detail) in &rows {
        assert_eq!(stored_detail["changes"], Value::Null, "{scope}/{act}");
        assert_eq!(stored_detail["name"], "Hedgebox", "{scope}/{act}");
    }
}

#[tokio::test]
async fn delete_by_non_member_or_through_another_organization_is_404() {
    let (w, id) = world().await;
    assert_eq!(delete(&w, &w.outsider, id).await.error(), NOT_FOUND);
    let path = format!("/api/organizations/{}/projects/{id}/", w.other_org);
    let r = w.app.call("DELETE", &path, Some(&w.outsider), None).await;
    assert_eq!(r.error(), NOT_FOUND);
    assert_eq!(count(&w).await, 1);
}

#[tokio::test]
async fn delete_needs_project_write_scope() {
    let (w, id) = world().await;
    let key = w.app.key("owner@example.com", &["project:read"]).await;
    assert_eq!(
        delete(&w, &key, id).await.error(),
        (
            403,
            "permission_denied",
            "API key missing required scope 'project:write'",
            Value::Null
        )
    );
    assert_eq!(count(&w).await, 1);
}

#[tokio::test]
async fn delete_clears_the_current_project() {
    let (w, first) = world().await;
    let second = new_project(&w, "Second").await;
    let current = format!("{}@current/", w.projects());
    assert_eq!(id_of(&get(&w, &w.owner, &current).await.body), second);
    assert_eq!(
        delete(&w, &w.admin, second).await.status,
        StatusCode::NO_CONTENT
    );
    // No current project: the organization's first one.
    assert_eq!(id_of(&get(&w, &w.owner, &current).await.body), first);
    assert_eq!(
        delete(&w, &w.admin, first).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(get(&w, &w.owner, &current).await.error(), NOT_FOUND);
}

#[tokio::test]
async fn deleted_project_frees_its_name() {
    let (w, id) = world().await;
    assert_eq!(
        delete(&w, &w.admin, id).await.status,
        StatusCode::NO_CONTENT
    );
    let again = new_project(&w, "Hedgebox").await;
    assert_ne!(again, id);
    // The new project's log starts afresh.
    assert_eq!(activity(&w, again).await["total_count"], 1);
}

// ---------------------------------------------------------- activity

#[tokio::test]
async fn activity_after_create_is_one_team_created_entry() {
    let (w, id) = world().await;
    let log = activity(&w, id).await;
    assert_eq!(keys(&log), ["results", "next", "previous", "total_count"]);
    assert_eq!(log["total_count"], 1);
    assert_eq!(log["next"], Value::Null);
    assert_eq!(log["previous"], Value::Null);
    let entry = &log["results"][0];
    assert_eq!(
        keys(entry),
        [
            "id",
            "user",
            "activity",
            "scope",
            "item_id",
            "detail",
            "created_at"
        ]
    );
    assert!(uuid::Uuid::parse_str(entry["id"].as_str().unwrap()).is_ok());
    assert_eq!(
        entry["user"],
        json!({"first_name": "Test", "email": "owner@example.com"})
    );
    assert_eq!(entry["activity"], "created");
    assert_eq!(entry["scope"], "Team");
    assert_eq!(entry["item_id"], id.to_string());
    assert_eq!(entry["detail"], plain("Hedgebox"));
    assert_eq!(
        keys(&entry["detail"]),
        ["changes", "trigger", "name", "short_id", "type"]
    );
    let created = entry["created_at"].as_str().unwrap();
    assert!(created.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(created).is_ok());
    // The stored log also has the Project entry, which this endpoint does not show.
    let rows = stored(&w, id).await;
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (rows[0].0.as_str(), rows[0].1.as_str()),
        ("Project", "created")
    );
    assert_eq!(rows[0].2["name"], "Hedgebox");
}

#[tokio::test]
async fn activity_shows_team_scope_only() {
    let (w, id) = world().await;
    assert_eq!(
        patch(&w, &w.admin, id, json!({"product_description": "Hogs"}))
            .await
            .status,
        StatusCode::OK
    );
    // A description change is logged under Project only: not shown here.
    assert_eq!(activity(&w, id).await["total_count"], 1);
    let rows = stored(&w, id).await;
    let project_update = rows
        .iter()
        .find(|(s, a, _)| s == "Project" && a == "updated")
        .expect("a Project/updated row");
    assert_eq!(
        project_update.2["changes"],
        json!([{"type": "Project", "action": "created", "field": "product_description", "before": null, "after": "Hogs"}])
    );
}

#[tokio::test]
async fn rename_is_logged_under_team_and_project() {
    let (w, id) = world().await;
    assert_eq!(
        patch(&w, &w.admin, id, json!({"name": "Hogbox"}))
            .await
            .status,
        StatusCode::OK
    );
    let log = activity(&w, id).await;
    assert_eq!(log["total_count"], 2);
    assert_eq!(
        log["results"][0]["detail"],
        json!({
            "changes": [{"type": "Team", "action": "changed", "field": "name", "before": "Hedgebox", "after": "Hogbox"}],
            "trigger": null, "name": "Hogbox", "short_id": null, "type": null
        })
    );
    let rows = stored(&w, id).await;
    let project_update = rows
        .iter()
        .find(|(s, a, _)| s == "Project" && a == "updated")
        .expect("a Project/updated row");
    assert_eq!(
        project_update.2["changes"],
        json!([{"type": "Project", "action": "changed", "field": "name", "before": "Hedgebox", "after": "Hogbox"}])
    );
    assert_eq!(project_update.2["name"], "Hogbox");
}

#[tokio::test]
async fn activity_names_the_user_who_acted() {
    let (w, id) = world().await;
    patch(&w, &w.admin, id, json!({"timezone": "Europe/Lisbon"})).await;
    patch(&w, &w.owner, id, json!({"timezone": "Asia/Tokyo"})).await;
    let log = activity(&w, id).await;
    let emails: Vec<&Value> = log["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["user"]["email"])
        .collect();
    assert_eq!(
        emails,
        [
            &json!("owner@example.com"),
            &json!("admin@example.com"),
            &json!("owner@example.com")
        ]
    );
}

#[tokio::test]
async fn activity_is_newest_first_and_paginates_with_page_and_limit() {
    let (w, id) = world().await;
    for tz in ["Europe/Lisbon", "Asia/Tokyo", "America/New_York"] {
        let r = patch(&w, &w.admin, id, json!({ "timezone": tz })).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let path = activity_path(&w, id);
    let url = format!("{SITE}{path}");
    let first = get(&w, &w.owner, &format!("{path}?limit=2")).await;
    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(first.body["total_count"], 4);
    let afters: Vec<&Value> = first.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["detail"]["changes"][0]["after"])
        .collect();
    assert_eq!(afters, [&json!("America/New_York"), &json!("Asia/Tokyo")]);
    assert_eq!(first.body["next"], format!("{url}?limit=2&page=2"));
    assert_eq!(first.body["previous"], Value::Null);

    let second = get(&w, &w.owner, &format!("{path}?limit=2&page=2")).await;
    let results = second.body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    assert_eq!(results[0]["detail"]["changes"][0]["after"], "Europe/Lisbon");
    assert_eq!(results[1]["activity"], "created");
    assert_eq!(second.body["next"], Value::Null);
    assert_eq!(second.body["previous"], format!("{url}?limit=2&page=1"));
}

#[tokio::test]
async fn activity_pages_hold_ten_entries_by_default() {
    let (w, id) = world().await;
    for i in 0..10 {
        let r = patch(&w, &w.admin, id, json!({ "name": format!("Name {i}") })).await;
        assert_eq!(r.status, StatusCode::OK);
    }
    let log = activity(&w, id).await;
    assert_eq!(log["total_count"], 11);
    assert_eq!(log["results"].as_array().unwrap().len(), 10);
    let url = format!("{SITE}{}", activity_path(&w, id));
    assert_eq!(log["next"], format!("{url}?page=2&limit=10"));
    let last = get(&w, &w.owner, &format!("{}?page=2", activity_path(&w, id))).await;
    assert_eq!(last.body["results"].as_array().unwrap().len(), 1);
    assert_eq!(last.body["previous"], format!("{url}?page=1&limit=10"));
}

#[tokio::test]
async fn activity_links_keep_other_query_parameters_in_place() {
    let (w, id) = world().await;
    for tz in ["Europe/Lisbon", "Asia/Tokyo"] {
        patch(&w, &w.admin, id, json!({ "timezone": tz })).await;
    }
    let path = activity_path(&w, id);
    let r = get(&w, &w.owner, &format!("{path}?foo=bar&page=2&limit=1")).await;
    let url = format!("{SITE}{path}");
    assert_eq!(r.body["next"], format!("{url}?foo=bar&page=3&limit=1"));
    assert_eq!(r.body["previous"], format!("{url}?foo=bar&page=1&limit=1"));
}

#[tokio::test]
async fn activity_page_past_the_end_is_empty() {
    let (w, id) = world().await;
    let r = get(&w, &w.owner, &format!("{}?page=5", activity_path(&w, id))).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["results"], json!([]));
    assert_eq!(r.body["total_count"], 1);
    assert_eq!(r.body["next"], Value::Null);
}

/// PostHog answers these with a 500; prickle with a validation error.
#[tokio::test]
async fn activity_with_invalid_page_or_limit_is_400() {
    let (w, id) = world().await;
    let path = activity_path(&w, id);
    let cases = [
        (
            "limit=0",
            "min_value",
            "Ensure this value is greater than or equal to 1.",
            "limit",
        ),
        (
            "page=0",
            "min_value",
            "Ensure this value is greater than or equal to 1.",
            "page",
        ),
        (
            "page=abc",
            "invalid_input",
            "A valid integer is required.",
            "page",
        ),
        (
            "limit=1.5",
            "invalid_input",
            "A valid integer is required.",
            "limit",
        ),
    ];
    for (query, code, message, attr) in cases {
        let r = get(&w, &w.owner, &format!("{path}?{query}")).await;
        assert_eq!(r.error(), (400, code, message, json!(attr)), "{query}");
    }
}

#[tokio::test]
async fn activity_of_another_organizations_project_is_404() {
    let (w, id) = world().await;
    assert_eq!(
        get(&w, &w.outsider, &activity_path(&w, id)).await.error(),
        NOT_FOUND
    );
    let theirs = w.create_other_project("Theirs").await;
    let r = get(&w, &w.owner, &activity_path(&w, id_of(&theirs))).await;
    assert_eq!(r.error(), NOT_FOUND);
}

#[tokio::test]
async fn activity_is_readable_by_members_and_with_read_scopes() {
    let (w, id) = world().await;
    let path = activity_path(&w, id);
    assert_eq!(get(&w, &w.member, &path).await.status, StatusCode::OK);
    for scope in ["project:read", "activity_log:read"] {
        let key = w.app.key("member@example.com", &[scope]).await;
        assert_eq!(get(&w, &key, &path).await.status, StatusCode::OK, "{scope}");
    }
    let key = w
        .app
        .key("member@example.com", &["organization:read"])
        .await;
    assert_eq!(
        get(&w, &key, &path).await.error(),
        (
            403,
            "permission_denied",
            "API key missing required scope 'project:read'",
            Value::Null
        )
    );
}

#[tokio::test]
async fn activity_of_current_project() {
    let (w, id) = world().await;
    let r = get(&w, &w.owner, &format!("{}@current/activity/", w.projects())).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["results"][0]["item_id"], id.to_string());
}
