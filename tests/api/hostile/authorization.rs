//! See `hostile/mod.rs`. Authorization holes: an organization's switch
//! against members' personal API keys, probing for projects that exist, and
//! a key's organization restriction on the organization itself.

use axum::http::StatusCode;
use prickle::http::Access;
use serde_json::{json, Value};

use crate::support::{Response, World};

fn refused_keys(name: &str) -> (u16, String) {
    (
        403,
        format!(
            "Organization '{name}' does not allow using personal API keys. \
             Contact an admin to enable personal API keys for this organization."
        ),
    )
}

/// A concrete path for an organization or project route of `w.org`.
fn path_of(pattern: &str, w: &World, project: i64, member_uuid: &str) -> String {
    let mut out = String::new();
    for segment in pattern.split('/').skip(1) {
        out.push('/');
        match segment {
            "{organization_id}" => out.push_str(&w.org),
            "{user__uuid}" => out.push_str(member_uuid),
            "{id}" if pattern.contains("/projects/") => out.push_str(&project.to_string()),
            s if s.starts_with('{') => out.push_str(&uuid::Uuid::new_v4().to_string()),
            s => out.push_str(s),
        }
    }
    out.push('/');
    out
}

async fn member_uuid(w: &World) -> String {
    let r = w
        .app
        .call("GET", "/api/users/@me/", Some(&w.member), None)
        .await;
    r.body["uuid"].as_str().unwrap().to_string()
}

async fn set_switch(w: &World, allowed: bool) {
    let path = format!("/api/organizations/{}/", w.org);
    let body = json!({ "members_can_use_personal_api_keys": allowed });
    let r = w.app.call("PATCH", &path, Some(&w.owner), Some(body)).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["members_can_use_personal_api_keys"], allowed);
}

fn error_body(r: &Response) -> (u16, String) {
    (
        r.status.as_u16(),
        r.body["detail"].as_str().unwrap_or("").to_string(),
    )
}

/// `members_can_use_personal_api_keys: false`: a member's key is refused on
/// every route of the organization and its projects (walked from the
/// declarations, so a new route is covered), with PostHog's body; admins and
/// owners are exempt, and so is the member's own account.
#[tokio::test]
async fn the_switch_refuses_members_keys_on_every_organization_and_project_route() {
    let w = World::new().await;
    let project = w.create_project("Switched").await["id"].as_i64().unwrap();
    let uuid = member_uuid(&w).await;
    set_switch(&w, false).await;
    let want = refused_keys("Hedgehogs");
    let mut checked = 0;
    for e in prickle::api::endpoints() {
        if !matches!(
            e.access,
            Access::Organization(..) | Access::Project(..) | Access::RootProject(..)
        ) {
            continue;
        }
        let path = path_of(e.path, &w, project, &uuid);
        let method = e.method.as_str();
        let body = (method != "GET" && method != "DELETE").then(|| json!({}));
        let r = w.app.call(method, &path, Some(&w.member), body).await;
        // PostHog checks the person before the key on invite deletes: a
        // member is refused as a member first (matrix.rs, PERSON_BEFORE_KEY).
        let want = match (method, e.path) {
            ("DELETE", "/api/organizations/{organization_id}/invites/{id}") => (
                403,
                "Your organization access level is insufficient.".to_string(),
            ),
            _ => want.clone(),
        };
        assert_eq!(error_body(&r), want, "{method} {path}: {:?}", r.body);
        assert_eq!(
            (
                r.body["type"].as_str(),
                r.body["code"].as_str(),
                &r.body["attr"]
            ),
            (
                Some("authentication_error"),
                Some("permission_denied"),
                &Value::Null
            ),
            "{method} {path}"
        );
        checked += 1;
    }
    assert!(checked > 20, "{checked}");

    // Admins and owners are exempt.
    for key in [&w.admin, &w.owner] {
        for path in [
            format!("/api/organizations/{}/", w.org),
            format!("/api/organizations/{}/projects/", w.org),
            format!("/api/projects/{project}/"),
        ] {
            let r = w.app.call("GET", &path, Some(key), None).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
        }
    }
    // The member's own account, and lists across their organizations, are
    // not one organization's routes.
    for path in ["/api/users/@me/", "/api/organizations/", "/api/projects/"] {
        let r = w.app.call("GET", path, Some(&w.member), None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {:?}", r.body);
    }
    // Another organization is not affected by this one's switch.
    let r = w
        .app
        .call(
            "GET",
            &format!("/api/organizations/{}/projects/", w.other_org),
            Some(&w.outsider),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    // Switched back on, the member's key works again.
    set_switch(&w, true).await;
    let r = w
        .app
        .call(
            "GET",
            &format!("/api/projects/{project}/"),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
}

/// PostHog's order: a key's missing scope is reported after the switch, a
/// non-member is not told about the switch at all.
#[tokio::test]
async fn the_switch_comes_before_the_scope_and_only_for_members() {
    let w = World::new().await;
    set_switch(&w, false).await;
    let read_only = w.app.key("member@example.com", &["user:read"]).await;
    let projects = w.projects();
    let r = w.app.call("GET", &projects, Some(&read_only), None).await;
    assert_eq!(error_body(&r), refused_keys("Hedgehogs"));
    // A non-member gets the answer non-members get: an empty list.
    let r = w.app.call("GET", &projects, Some(&w.outsider), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    assert_eq!(r.body["count"], 0);
}

/// A non-member's answer on a project route says nothing of whether the
/// project exists: PUT `{"is_demo": true}` was 403 for an existing project
/// (in an organization with a demo project) and 404 for a missing one.
/// Every project route and method, at both mounts, with and without a body.
#[tokio::test]
async fn a_non_member_cannot_tell_an_existing_project_from_a_missing_one() {
    let w = World::new().await;
    let demo = w
        .app
        .call(
            "POST",
            &w.projects(),
            Some(&w.owner),
            Some(json!({"name": "Demo", "is_demo": true})),
        )
        .await;
    assert_eq!(demo.status, StatusCode::CREATED, "{:?}", demo.body);
    let existing = w.create_project("Real").await["id"].as_i64().unwrap();
    let demo_id = demo.body["id"].as_i64().unwrap();
    let missing = existing + 1000;
    let mut patterns: Vec<&str> = prickle::api::endpoints()
        .into_iter()
        .filter(|e| matches!(e.access, Access::Project(..) | Access::RootProject(..)))
        .map(|e| e.path)
        .collect();
    patterns.sort_unstable();
    patterns.dedup();
    assert!(patterns.len() >= 4, "{patterns:?}");
    let bodies = [
        None,
        Some(json!({"is_demo": true})),
        Some(json!({"is_demo": true, "name": "Probe"})),
        Some(json!({"name": "Probe"})),
    ];
    let mut checked = 0;
    for pattern in &patterns {
        let at = |id: i64| {
            let p = pattern
                .replace("{organization_id}", &w.org)
                .replace("{id}", &id.to_string());
            format!("{p}/")
        };
        for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
            for body in &bodies {
                let missing_r = w
                    .app
                    .call(method, &at(missing), Some(&w.outsider), body.clone())
                    .await;
                for id in [existing, demo_id] {
                    let r = w
                        .app
                        .call(method, &at(id), Some(&w.outsider), body.clone())
                        .await;
                    assert_eq!(
                        (r.status, &r.body),
                        (missing_r.status, &missing_r.body),
                        "{method} {pattern} {body:?}"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 80);
    // Nothing was changed by the probes.
    let r = w
        .app
        .call("GET", &w.project(existing), Some(&w.owner), None)
        .await;
    assert_eq!(r.body["name"], "Real");
    assert_eq!(r.body["is_demo"], false);
}

/// A key restricted to other organizations, of a member: PostHog looks the
/// organization up among the key's, so its own object is 404; its routes
/// keep the restriction's 403, and `@current` is not a lookup.
#[tokio::test]
async fn the_organization_left_out_of_a_key_is_not_found() {
    let w = World::new().await;
    prickle::admin::add_member(&w.app.db, &w.other_org, "owner@example.com", 1)
        .await
        .unwrap();
    let key = w
        .app
        .key_with(
            "owner@example.com",
            &["*"],
            Some(vec![w.other_org.clone()]),
            None,
        )
        .await;
    let detail = format!("/api/organizations/{}/", w.org);
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"name": "Taken"}))),
        ("PUT", Some(json!({"name": "Taken"}))),
        ("DELETE", None),
    ] {
        let r = w.app.call(method, &detail, Some(&key), body).await;
        assert_eq!(
            r.error(),
            (404, "not_found", "Not found.", Value::Null),
            "{method}"
        );
    }
    // An organization that does not exist answers the same.
    let nowhere = format!("/api/organizations/{}/", uuid::Uuid::new_v4());
    let r = w.app.call("GET", &nowhere, Some(&key), None).await;
    assert_eq!(r.error(), (404, "not_found", "Not found.", Value::Null));
    let org_key_403 = format!(
        "API key does not have access to the requested organization: ID {}.",
        w.org
    );
    let r = w.app.call("GET", &w.projects(), Some(&key), None).await;
    assert_eq!(error_body(&r), (403, org_key_403.clone()));
    let r = w
        .app
        .call("GET", "/api/organizations/@current/", Some(&key), None)
        .await;
    assert_eq!(error_body(&r), (403, org_key_403));
    // The organization the key names is served.
    let other = format!("/api/organizations/{}/", w.other_org);
    let r = w.app.call("GET", &other, Some(&key), None).await;
    assert_eq!(r.status, StatusCode::OK, "{:?}", r.body);
    // Untouched.
    let r = w.app.call("GET", &detail, Some(&w.owner), None).await;
    assert_eq!(r.body["name"], "Hedgehogs");
}
