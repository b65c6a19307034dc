//! `/api/personal_api_keys/`: a key reads itself and nothing else; the
//! operator lists, revokes and rolls keys.

use serde_json::{json, Value};

use crate::support::World;

const REFUSED: &str = "This action does not support Personal API Key access";

async fn new_key(w: &World, email: &str, scopes: &[&str]) -> (String, String) {
    let k = prickle::admin::create_personal_api_key(
        &w.app.db,
        prickle::admin::NewKey {
            email,
            label: "mine",
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            scoped_organizations: Some(vec![w.org.clone()]),
            scoped_teams: None,
        },
    )
    .await
    .unwrap();
    (
        k["id"].as_str().unwrap().into(),
        k["value"].as_str().unwrap().into(),
    )
}

#[tokio::test]
async fn a_key_reads_itself_without_any_scope() {
    let w = World::new().await;
    let (id, value) = new_key(&w, "member@example.com", &["project:read"]).await;
    for path in [
        "/api/personal_api_keys/@current/".to_string(),
        format!("/api/personal_api_keys/{id}"),
    ] {
        let r = w.app.call("GET", &path, Some(&value), None).await;
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let b = &r.body;
        let keys: Vec<&str> = b.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "id",
                "label",
                "value",
                "mask_value",
                "created_at",
                "last_used_at",
                "user_id",
                "scopes",
                "scoped_teams",
                "scoped_organizations",
                "last_rolled_at"
            ]
        );
        assert_eq!(b["id"], id.as_str());
        assert_eq!(b["label"], "mine");
        assert_eq!(b["value"], Value::Null, "the secret is never shown again");
        assert!(!b.to_string().contains(&value));
        assert_eq!(
            b["mask_value"],
            format!("phx_...{}", &value[value.len() - 4..])
        );
        assert_eq!(b["scopes"], json!(["project:read"]));
        assert_eq!(b["scoped_organizations"], json!([w.org]));
        assert_eq!(b["scoped_teams"], Value::Null);
        assert_eq!(b["last_rolled_at"], Value::Null);
        assert!(b["last_used_at"].is_string(), "used by this very request");
        assert!(b["user_id"].is_i64());
    }
    // Another key of the same user: refused. Someone else's, or none: not found.
    let (other_id, _) = new_key(&w, "member@example.com", &["*"]).await;
    let r = w
        .app
        .call(
            "GET",
            &format!("/api/personal_api_keys/{other_id}/"),
            Some(&value),
            None,
        )
        .await;
    assert_eq!(r.error(), (403, "permission_denied", REFUSED, Value::Null));
    let (theirs, _) = new_key(&w, "owner@example.com", &["*"]).await;
    for id in [theirs.as_str(), "nope"] {
        let r = w
            .app
            .call(
                "GET",
                &format!("/api/personal_api_keys/{id}/"),
                Some(&value),
                None,
            )
            .await;
        assert_eq!(
            r.error(),
            (404, "not_found", "Not found.", Value::Null),
            "{id}"
        );
    }
    assert_eq!(
        w.app
            .call("GET", "/api/personal_api_keys/@current/", None, None)
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn every_other_action_is_refused_to_keys() {
    let w = World::new().await;
    let (id, value) = new_key(&w, "owner@example.com", &["*"]).await;
    for (method, path) in [
        ("GET", "/api/personal_api_keys/".to_string()),
        ("POST", "/api/personal_api_keys/".to_string()),
        ("PATCH", format!("/api/personal_api_keys/{id}/")),
        ("PUT", "/api/personal_api_keys/@current/".to_string()),
        ("DELETE", format!("/api/personal_api_keys/{id}/")),
        ("POST", format!("/api/personal_api_keys/{id}/roll/")),
        ("POST", "/api/personal_api_keys/@current/roll".to_string()),
    ] {
        let r = w
            .app
            .call(method, &path, Some(&value), Some(json!({"label": "x"})))
            .await;
        assert_eq!(
            r.error(),
            (403, "permission_denied", REFUSED, Value::Null),
            "{method} {path}"
        );
    }
    // Still there, still working.
    let r = w
        .app
        .call(
            "GET",
            "/api/personal_api_keys/@current/",
            Some(&value),
            None,
        )
        .await;
    assert_eq!(r.body["label"], "mine");
}

#[tokio::test]
async fn revoked_and_rolled_keys_stop_working_on_their_next_request() {
    let w = World::new().await;
    let (revoked_id, revoked) = new_key(&w, "admin@example.com", &["*"]).await;
    let (rolled_id, rolled) = new_key(&w, "admin@example.com", &["*"]).await;
    let list = prickle::admin::list_personal_api_keys(&w.app.db, "admin@example.com")
        .await
        .unwrap();
    let ids: Vec<&str> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "the World's key and these two: {list}");
    assert!(ids.contains(&revoked_id.as_str()) && ids.contains(&rolled_id.as_str()));
    assert!(list["results"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["value"].is_null()));
    for key in [&revoked, &rolled] {
        assert_eq!(
            w.app
                .call("GET", &w.projects(), Some(key), None)
                .await
                .status,
            200
        );
    }

    let out = prickle::admin::revoke_personal_api_key(&w.app.db, &revoked_id)
        .await
        .unwrap();
    assert_eq!(out["id"], revoked_id.as_str());
    assert_eq!(out["value"], Value::Null);
    let r = w.app.call("GET", &w.projects(), Some(&revoked), None).await;
    assert_eq!(
        r.error(),
        (
            401,
            "authentication_failed",
            "Personal API key found in request Authorization header is invalid.",
            Value::Null
        )
    );
    assert!(
        prickle::admin::revoke_personal_api_key(&w.app.db, &revoked_id)
            .await
            .is_err()
    );

    let out = prickle::admin::roll_personal_api_key(&w.app.db, &rolled_id)
        .await
        .unwrap();
    let new_value = out["value"].as_str().unwrap();
    assert!(new_value.starts_with("phx_") && new_value != rolled);
    assert!(out["last_rolled_at"].is_string());
    assert_eq!(
        out["mask_value"],
        format!("phx_...{}", &new_value[new_value.len() - 4..])
    );
    assert_eq!(
        w.app
            .call("GET", &w.projects(), Some(&rolled), None)
            .await
            .status,
        401
    );
    let r = w
        .app
        .call(
            "GET",
            "/api/personal_api_keys/@current/",
            Some(new_value),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["id"], rolled_id.as_str());
    assert_eq!(
        r.body["scoped_organizations"],
        json!([w.org]),
        "a roll keeps the restrictions"
    );
    assert!(prickle::admin::roll_personal_api_key(&w.app.db, "nope")
        .await
        .is_err());
    assert!(
        prickle::admin::list_personal_api_keys(&w.app.db, "nobody@example.com")
            .await
            .is_err()
    );
}
