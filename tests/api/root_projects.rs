//! `/api/projects/...`: the projects endpoints at the root mount.

use serde_json::{json, Value};

use crate::support::{TestApp, World};

fn root(id: impl std::fmt::Display) -> String {
    format!("/api/projects/{id}/")
}

#[tokio::test]
async fn the_list_spans_the_callers_organizations() {
    let w = World::new().await;
    let here = w.create_project("Here").await["id"].as_i64().unwrap();
    let there = w.create_other_project("There").await["id"]
        .as_i64()
        .unwrap();
    let r = w
        .app
        .call("GET", "/api/projects/", Some(&w.owner), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"][0]["id"], here);
    prickle::admin::add_member(&w.app.db, &w.other_org, "owner@example.com", 1)
        .await
        .unwrap();
    let r = w
        .app
        .call("GET", "/api/projects/", Some(&w.owner), None)
        .await;
    let ids: Vec<&Value> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| &p["id"])
        .collect();
    assert_eq!(ids, [&json!(here), &json!(there)]);
    let r = w
        .app
        .call(
            "GET",
            "/api/projects/?limit=1&offset=1",
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(r.body["count"], 2);
    assert_eq!(r.body["results"][0]["id"], there);
    assert_eq!(
        r.body["previous"],
        "http://testserver/api/projects/?limit=1"
    );

    let scoped = w
        .app
        .key_with(
            "owner@example.com",
            &["project:read"],
            Some(vec![w.other_org.clone()]),
            None,
        )
        .await;
    let r = w
        .app
        .call("GET", "/api/projects/", Some(&scoped), None)
        .await;
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"][0]["id"], there);
    // The outsider sees only their own organization's.
    let r = w
        .app
        .call("GET", "/api/projects/", Some(&w.outsider), None)
        .await;
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"][0]["id"], there);
    let project_key = w
        .app
        .key_with("owner@example.com", &["*"], None, Some(vec![here]))
        .await;
    let r = w
        .app
        .call("GET", "/api/projects/", Some(&project_key), None)
        .await;
    assert_eq!(
        r.error().2,
        "API keys with scoped projects are only supported on project-based endpoints."
    );
}

#[tokio::test]
async fn create_goes_into_the_current_organization() {
    let w = World::new().await;
    let r = w
        .app
        .call(
            "POST",
            "/api/projects/",
            Some(&w.admin),
            Some(json!({"name": "Rooted"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["organization"], w.org.as_str());
    let r = w
        .app
        .call(
            "POST",
            "/api/projects/",
            Some(&w.admin),
            Some(json!({"name": "Rooted"})),
        )
        .await;
    assert_eq!(
        r.status, 409,
        "same rules as under the organization: {}",
        r.body
    );
    let r = w
        .app
        .call(
            "POST",
            "/api/projects/",
            Some(&w.member),
            Some(json!({"name": "Nope"})),
        )
        .await;
    assert_eq!(
        r.error().2,
        "You need to be an organization admin or above to create new projects."
    );
    // Switch the admin's current organization: creation follows.
    prickle::admin::add_member(&w.app.db, &w.other_org, "admin@example.com", 8)
        .await
        .unwrap();
    w.app
        .call(
            "PATCH",
            "/api/users/@me/",
            Some(&w.admin),
            Some(json!({"set_current_organization": w.other_org})),
        )
        .await;
    let r = w
        .app
        .call("POST", "/api/projects/", Some(&w.admin), Some(json!({})))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["organization"], w.other_org.as_str());
    assert_eq!(r.body["name"], "Default project");
    let restricted = w
        .app
        .key_with("admin@example.com", &["*"], Some(vec![w.org.clone()]), None)
        .await;
    let r = w
        .app
        .call("POST", "/api/projects/", Some(&restricted), Some(json!({})))
        .await;
    assert_eq!(
        r.error().2,
        format!(
            "API key does not have access to the requested organization: ID {}.",
            w.other_org
        )
    );

    let app = TestApp::new().await;
    app.user("lonely@example.com").await;
    let key = app.key("lonely@example.com", &["*"]).await;
    let r = app
        .call(
            "POST",
            "/api/projects/",
            Some(&key),
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(
        r.error(),
        (
            404,
            "not_found",
            "You need to belong to an organization.",
            Value::Null
        )
    );
    let r = app.call("GET", "/api/projects/", Some(&key), None).await;
    assert_eq!(r.body["count"], 0);
    let r = app
        .call("GET", "/api/projects/@current/", Some(&key), None)
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn a_projects_own_routes_behave_as_under_its_organization() {
    let w = World::new().await;
    let p = w.create_project("Root").await;
    let id = p["id"].as_i64().unwrap();
    let there = w.create_other_project("There").await["id"]
        .as_i64()
        .unwrap();

    let r = w.app.call("GET", &root(id), Some(&w.member), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let mut under = w
        .app
        .call("GET", &w.project(id), Some(&w.member), None)
        .await
        .body;
    let mut at_root = r.body;
    for b in [&mut under, &mut at_root] {
        b.as_object_mut().unwrap().remove("live_events_token");
    }
    assert_eq!(at_root, under);
    let r = w
        .app
        .call("GET", "/api/projects/@current/", Some(&w.owner), None)
        .await;
    assert_eq!(r.body["id"], id);

    let r = w
        .app
        .call(
            "PATCH",
            &root(id),
            Some(&w.admin),
            Some(json!({"name": "Renamed", "timezone": "Europe/Lisbon"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["timezone"], "Europe/Lisbon");
    let r = w
        .app
        .call(
            "PUT",
            &root(id),
            Some(&w.admin),
            Some(json!({"name": "Put"})),
        )
        .await;
    assert_eq!(r.body["name"], "Put");
    let r = w
        .app
        .call(
            "PATCH",
            &root(id),
            Some(&w.member),
            Some(json!({"timezone": "UTC"})),
        )
        .await;
    assert_eq!(
        r.error().2,
        "Only project admins can modify these settings: timezone"
    );
    let r = w
        .app
        .call(
            "GET",
            &format!("/api/projects/{id}/activity/"),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body["total_count"].as_i64().unwrap() >= 3, "{}", r.body);

    // Another organization's project: not found for a non-member.
    for (method, key) in [("GET", &w.owner), ("PATCH", &w.owner), ("DELETE", &w.owner)] {
        let r = w
            .app
            .call(method, &root(there), Some(key), Some(json!({})))
            .await;
        assert_eq!(
            r.error(),
            (404, "not_found", "Not found.", Value::Null),
            "{method}"
        );
    }
    let r = w.app.call("GET", &root(id), Some(&w.outsider), None).await;
    assert_eq!(r.status, 404);
    // Keys: restricted to another organization, to another project. A
    // non-member's restricted key learns nothing of the project's organization.
    let outsider_key = w
        .app
        .key_with(
            "outsider@example.com",
            &["*"],
            Some(vec![w.other_org.clone()]),
            None,
        )
        .await;
    let r = w
        .app
        .call("GET", &root(id), Some(&outsider_key), None)
        .await;
    assert_eq!(r.error(), (404, "not_found", "Not found.", Value::Null));
    prickle::admin::add_member(&w.app.db, &w.other_org, "admin@example.com", 1)
        .await
        .unwrap();
    let other_org_key = w
        .app
        .key_with(
            "admin@example.com",
            &["*"],
            Some(vec![w.other_org.clone()]),
            None,
        )
        .await;
    let r = w
        .app
        .call("GET", &root(id), Some(&other_org_key), None)
        .await;
    assert_eq!(
        r.error().2,
        format!(
            "API key does not have access to the requested organization: ID {}.",
            w.org
        )
    );
    let second = w.create_project("Second").await["id"].as_i64().unwrap();
    let project_key = w
        .app
        .key_with("owner@example.com", &["*"], None, Some(vec![second]))
        .await;
    assert_eq!(
        w.app
            .call("GET", &root(second), Some(&project_key), None)
            .await
            .status,
        200
    );
    let r = w.app.call("GET", &root(id), Some(&project_key), None).await;
    assert_eq!(
        r.error().2,
        format!("API key does not have access to the requested project: ID {id}.")
    );
    // Methods the route lacks: keys are refused, as PostHog refuses them.
    let r = w
        .app
        .call("POST", &root(id), Some(&w.owner), Some(json!({})))
        .await;
    assert_eq!(
        r.error().2,
        "This action does not support personal API key access"
    );
    for bad in ["abc", "0", "-1", "99999999999999999999", "1.5"] {
        let r = w.app.call("GET", &root(bad), Some(&w.owner), None).await;
        assert_eq!(
            r.error(),
            (404, "not_found", "Not found.", Value::Null),
            "{bad}"
        );
    }

    let r = w.app.call("DELETE", &root(id), Some(&w.member), None).await;
    assert_eq!(r.status, 403);
    let r = w.app.call("DELETE", &root(id), Some(&w.admin), None).await;
    assert_eq!(r.status, 204);
    assert_eq!(
        w.app
            .call("GET", &root(id), Some(&w.admin), None)
            .await
            .status,
        404
    );
    assert_eq!(
        w.app
            .call("GET", &w.project(id), Some(&w.admin), None)
            .await
            .status,
        404
    );
}

/// With no current project, `@current` is the first project of the
/// current organization, under both mounts (`organizations::current_project`),
/// and with no current organization either, the first organization joined.
#[tokio::test]
async fn current_project_falls_back_to_the_first_of_the_current_organization() {
    let w = World::new().await;
    let first = w.create_project("First").await["id"].as_i64().unwrap();
    w.create_project("Second").await;
    let user =
        prickle::users::find_by_email(&mut w.app.db.read().await.unwrap(), "admin@example.com")
            .await
            .unwrap()
            .unwrap();
    for org in [Some(w.org.as_str()), None] {
        let mut tx = w.app.db.write().await.unwrap();
        prickle::users::set_current(&mut tx, user.id, org, None)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        for path in [
            "/api/projects/@current/".to_string(),
            format!("/api/organizations/{}/projects/@current/", w.org),
            "/api/organizations/@current/projects/@current/".to_string(),
        ] {
            let r = w.app.call("GET", &path, Some(&w.admin), None).await;
            assert_eq!(
                (r.status.as_u16(), &r.body["id"]),
                (200, &json!(first)),
                "{org:?} {path}"
            );
        }
    }
}
