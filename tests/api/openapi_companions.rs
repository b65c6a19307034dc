//! The API document on the companion routes (`/api/users/`, `/api/organizations/`,
//! `/api/personal_api_keys/`, the root `/api/projects/` mount): operation ids
//! and scopes, and components that list every field the server renders
//! (the conformance check would not notice a field the document leaves out).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::conformance;
use crate::support::World;

#[test]
fn companion_operations_are_named_and_scoped() {
    let doc = conformance::document();
    let any_key = json!([{"PersonalAPIKeyAuth": []}]);
    let session = json!([{"cookieAuth": []}]);
    let scoped = |scopes: &[&str]| {
        Value::Array(
            scopes
                .iter()
                .map(|s| json!({"PersonalAPIKeyAuth": [s]}))
                .collect(),
        )
    };
    let user = "/api/users/{uuid}/";
    let orgs = "/api/organizations/";
    let org = "/api/organizations/{organization_id}/";
    let keys = "/api/personal_api_keys/";
    let key = "/api/personal_api_keys/{id}/";
    let projects = "/api/projects/";
    let project = "/api/projects/{id}/";
    let rows: Vec<(&str, &str, &str, Value)> = vec![
        ("get", user, "users_retrieve", scoped(&["user:read"])),
        ("put", user, "users_update", scoped(&["user:write"])),
        (
            "patch",
            user,
            "users_partial_update",
            scoped(&["user:write"]),
        ),
        (
            "get",
            orgs,
            "organizations_list",
            scoped(&["organization:read"]),
        ),
        (
            "post",
            orgs,
            "organizations_create",
            scoped(&["organization:write"]),
        ),
        (
            "get",
            org,
            "organizations_retrieve",
            scoped(&["organization:read"]),
        ),
        (
            "put",
            org,
            "organizations_update",
            scoped(&["organization:write"]),
        ),
        (
            "patch",
            org,
            "organizations_partial_update",
            scoped(&["organization:write"]),
        ),
        (
            "delete",
            org,
            "organizations_destroy",
            scoped(&["organization:write"]),
        ),
        ("get", key, "personal_api_keys_retrieve", any_key.clone()),
        ("get", keys, "personal_api_keys_list", session.clone()),
        ("post", keys, "personal_api_keys_create", session.clone()),
        ("put", key, "personal_api_keys_update", session.clone()),
        (
            "patch",
            key,
            "personal_api_keys_partial_update",
            session.clone(),
        ),
        ("delete", key, "personal_api_keys_destroy", session.clone()),
        (
            "post",
            "/api/personal_api_keys/{id}/roll/",
            "personal_api_keys_roll_create",
            session,
        ),
        ("get", projects, "list", scoped(&["project:read"])),
        ("post", projects, "create", scoped(&["project:write"])),
        ("get", project, "retrieve", scoped(&["project:read"])),
        ("put", project, "update", scoped(&["project:write"])),
        (
            "patch",
            project,
            "partial_update",
            scoped(&["project:write"]),
        ),
        ("delete", project, "destroy", scoped(&["project:write"])),
        (
            "get",
            "/api/projects/{id}/activity/",
            "activity_retrieve_2",
            scoped(&["project:read", "activity_log:read"]),
        ),
    ];
    for (method, path, id, security) in rows {
        let op = &doc["paths"][path][method];
        assert_eq!(op["operationId"], id, "{method} {path}");
        assert_eq!(op["security"], security, "{method} {path}");
    }
    // A key reading itself has a success to document; the actions only a
    // session may take document theirs, and the 403 a key gets.
    assert!(doc["paths"][key]["get"]["responses"]["200"].is_object());
    let session_only = &doc["paths"][keys]["post"]["responses"];
    assert!(session_only["201"].is_object() && session_only["403"].is_object());
    // Creating at the root mount may find no current organization.
    assert!(doc["paths"][projects]["post"]["responses"]["404"].is_object());
}

/// The properties a component lists for responses (its write-only ones left out).
fn shown(component: &str) -> BTreeSet<String> {
    let schema = &conformance::document()["components"]["schemas"][component];
    schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("no component {component}"))
        .iter()
        .filter(|(_, s)| s["writeOnly"] != true)
        .map(|(k, _)| k.clone())
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .unwrap_or_else(|| panic!("not an object: {v}"))
        .keys()
        .cloned()
        .collect()
}

#[tokio::test]
async fn companion_components_list_every_rendered_field() {
    let w = World::new().await;
    w.create_project("Burrow").await;
    let me = w
        .app
        .call("GET", "/api/users/@me/", Some(&w.owner), None)
        .await;
    assert_eq!(me.status, 200, "{}", me.body);
    assert_eq!(keys(&me.body), shown("User"));
    assert_eq!(keys(&me.body["organization"]), shown("Organization"));
    assert_eq!(
        keys(&me.body["organizations"][0]),
        shown("OrganizationBasic")
    );
    assert_eq!(keys(&me.body["team"]), shown("TeamBasic"));
    let orgs = w
        .app
        .call("GET", "/api/organizations/", Some(&w.owner), None)
        .await;
    assert_eq!(orgs.status, 200);
    assert_eq!(keys(&orgs.body["results"][0]), shown("Organization"));
    let key = w
        .app
        .call(
            "GET",
            "/api/personal_api_keys/@current/",
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(key.status, 200);
    assert_eq!(keys(&key.body), shown("PersonalAPIKey"));
    // The fields only a PATCH reads are write-only, never shown.
    let user = &conformance::document()["components"]["schemas"]["PatchedUser"]["properties"];
    for name in ["set_current_organization", "set_current_team", "password"] {
        assert_eq!(user[name]["writeOnly"], true, "{name}");
    }
}
