use axum::http::StatusCode;
use serde_json::json;

use crate::support::World;

#[tokio::test]
async fn create_then_list_then_retrieve() {
    let w = World::new().await;
    let created = w.create_project("Hedgebox").await;
    let id = created["id"].as_i64().unwrap();
    let list = w
        .app
        .call("GET", &w.projects(), Some(&w.member), None)
        .await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["count"], 1);
    assert_eq!(list.body["results"][0]["name"], "Hedgebox");
    let got = w
        .app
        .call("GET", &w.project(id), Some(&w.member), None)
        .await;
    assert_eq!(got.status, StatusCode::OK);
    assert_eq!(got.body["name"], "Hedgebox");
    let patched = w
        .app
        .call(
            "PATCH",
            &w.project(id),
            Some(&w.admin),
            Some(json!({"name": "Renamed"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{:?}", patched.body);
    assert_eq!(patched.body["name"], "Renamed");
}
