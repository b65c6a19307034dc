//! Project access rules, enforced: every place that reaches a project
//! resolves the caller's level on it (design §4.3). Rules are written
//! straight through `access::store::upsert`; the routes that write them are
//! tested where they are declared.

use axum::http::StatusCode;
use prickle::access::store::{self as access_store, NewRule};
use prickle::access::{RuleLevel, Rules};
use prickle::storage::schema::{RoleMemberships as RM, Roles as R};
use sea_query::Query;
use serde_json::{json, Value};

use crate::support::{TestApp, World};

const NOT_FOUND: (u16, &str, &str, Value) = (404, "not_found", "Not found.", Value::Null);

/// A membership id of the organization (`GET members/` shows it as `id`).
pub async fn membership_id(app: &TestApp, org: &str, email: &str) -> String {
    let mut tx = app.db.read().await.unwrap();
    let user = prickle::users::find_by_email(&mut tx, email)
        .await
        .unwrap()
        .expect("user");
    let found = prickle::organizations::find_with_level(&mut tx, org, user.id)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    found.and_then(|(_, m)| m).expect("a member").id
}

/// Writes a rule: the member's when `membership` is given, else the
/// project's default rule.
pub async fn rule(app: &TestApp, org: &str, project: i64, membership: Option<&str>, level: &str) {
    let level = RuleLevel::parse(level).expect("a level");
    let mut tx = app.db.write().await.unwrap();
    let new = NewRule {
        organization_id: org,
        project_id: project,
        membership_id: membership,
        role_id: None,
        level,
        by: None,
    };
    access_store::upsert(&mut tx, &new, prickle::time::now_micros())
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// The member actor's rule on `project`.
async fn member_rule(w: &World, project: i64, level: &str) {
    let m = membership_id(&w.app, &w.org, "member@example.com").await;
    rule(&w.app, &w.org, project, Some(&m), level).await;
}

async fn get(w: &World, key: &str, path: &str) -> crate::support::Response {
    w.app.call("GET", path, Some(key), None).await
}

fn root(id: impl std::fmt::Display) -> String {
    format!("/api/projects/{id}/")
}

fn names(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_hidden_project_answers_exactly_as_an_unknown_id() {
    let w = World::new().await;
    let id = w.create_project("Private").await["id"].as_i64().unwrap();
    member_rule(&w, id, "none").await;
    let missing = id + 1000;
    for (method, body) in [
        ("GET", None),
        ("PATCH", Some(json!({"name": "Mine"}))),
        ("PUT", Some(json!({"name": "Mine"}))),
        ("DELETE", None),
    ] {
        for (hidden, unknown) in [
            (w.project(id), w.project(missing)),
            (root(id), root(missing)),
            (
                format!("{}activity/", w.project(id)),
                format!("{}activity/", w.project(missing)),
            ),
        ] {
            if hidden.ends_with("activity/") && method != "GET" {
                continue;
            }
            let a = w
                .app
                .call(method, &hidden, Some(&w.member), body.clone())
                .await;
            let b = w
                .app
                .call(method, &unknown, Some(&w.member), body.clone())
                .await;
            assert_eq!(a.error(), NOT_FOUND, "{method} {hidden}");
            assert_eq!(a.body, b.body, "{method} {hidden}");
        }
    }
    // Nothing changed, and the owner still reaches it.
    let r = get(&w, &w.owner, &w.project(id)).await;
    assert_eq!(r.body["name"], "Private");
    // A key restricted to the hidden project learns nothing more either.
    let key = w
        .app
        .key_with("member@example.com", &["*"], None, Some(vec![id]))
        .await;
    assert_eq!(get(&w, &key, &root(id)).await.error(), NOT_FOUND);
}

#[tokio::test]
async fn a_project_without_rules_behaves_as_today() {
    let w = World::new().await;
    let id = w.create_project("Open").await["id"].as_i64().unwrap();
    let r = get(&w, &w.member, &w.project(id)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["effective_membership_level"], 1);
    assert_eq!(r.body["user_access_level"], "member");
    let r = w
        .app
        .call(
            "PATCH",
            &w.project(id),
            Some(&w.member),
            Some(json!({"timezone": "Europe/Lisbon"})),
        )
        .await;
    assert_eq!(
        r.error().2,
        "Only project admins can modify these settings: timezone"
    );
    let r = w
        .app
        .call("DELETE", &w.project(id), Some(&w.member), None)
        .await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "You don't have sufficient permissions in the project.",
            Value::Null
        )
    );
    for key in [&w.admin, &w.owner] {
        let r = get(&w, key, &root(id)).await;
        assert_eq!(r.body["effective_membership_level"], 8);
        assert_eq!(r.body["user_access_level"], "admin");
    }
}

#[tokio::test]
async fn the_project_json_shows_the_resolved_level() {
    let w = World::new().await;
    let cases = [
        // (default rule, member rule, effective level, user_access_level)
        (None, None, 1, "member"),
        (Some("member"), None, 1, "member"),
        (Some("admin"), None, 8, "admin"),
        (None, Some("member"), 1, "member"),
        (None, Some("admin"), 8, "admin"),
        (Some("none"), Some("member"), 1, "member"),
        (Some("admin"), Some("member"), 1, "member"),
        (Some("none"), Some("admin"), 8, "admin"),
    ];
    let m = membership_id(&w.app, &w.org, "member@example.com").await;
    for (i, (default, member, level, name)) in cases.into_iter().enumerate() {
        let id = w.create_project(&format!("Case {i}")).await["id"]
            .as_i64()
            .unwrap();
        if let Some(d) = default {
            rule(&w.app, &w.org, id, None, d).await;
        }
        if let Some(l) = member {
            rule(&w.app, &w.org, id, Some(&m), l).await;
        }
        for path in [w.project(id), root(id)] {
            let r = get(&w, &w.member, &path).await;
            assert_eq!(r.status, StatusCode::OK, "case {i}: {}", r.body);
            assert_eq!(r.body["effective_membership_level"], level, "case {i}");
            assert_eq!(r.body["user_access_level"], name, "case {i}");
            let keys: Vec<&String> = r.body.as_object().unwrap().keys().collect();
            assert_eq!(keys.last().unwrap().as_str(), "user_access_level");
        }
        // Org admins are project admins whatever the rules.
        let r = get(&w, &w.admin, &w.project(id)).await;
        assert_eq!(r.body["user_access_level"], "admin", "case {i}");
    }
    // List items and TeamBasic carry neither field.
    let page = get(&w, &w.member, &w.projects()).await;
    for item in page.body["results"].as_array().unwrap() {
        assert!(item.get("user_access_level").is_none());
        assert!(item.get("effective_membership_level").is_none());
    }
    let org = get(&w, &w.member, &format!("/api/organizations/{}/", w.org)).await;
    for team in org.body["teams"].as_array().unwrap() {
        assert!(team.get("user_access_level").is_none());
    }
}

#[tokio::test]
async fn a_member_creating_a_project_is_shown_as_a_member_of_it() {
    let w = World::new().await;
    prickle::admin::update_organization(&w.app.db, &w.org, Some(true), None)
        .await
        .unwrap();
    let r = w
        .app
        .call(
            "POST",
            &w.projects(),
            Some(&w.member),
            Some(json!({"name": "Made"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["effective_membership_level"], 1);
    assert_eq!(r.body["user_access_level"], "member");
    let r = w
        .app
        .call(
            "POST",
            &w.projects(),
            Some(&w.admin),
            Some(json!({"name": "Made 2"})),
        )
        .await;
    assert_eq!(r.body["effective_membership_level"], 8);
    assert_eq!(r.body["user_access_level"], "admin");
}

#[tokio::test]
async fn project_admins_by_rule_pass_the_admin_gates_but_not_the_org_level_one() {
    let w = World::new().await;
    let by_member = w.create_project("By member rule").await["id"]
        .as_i64()
        .unwrap();
    member_rule(&w, by_member, "admin").await;
    let by_default = w.create_project("By default rule").await["id"]
        .as_i64()
        .unwrap();
    rule(&w.app, &w.org, by_default, None, "admin").await;
    for id in [by_member, by_default] {
        for method in ["PATCH", "PUT"] {
            let r = w
                .app
                .call(
                    method,
                    &w.project(id),
                    Some(&w.member),
                    Some(json!({"timezone": "Europe/Lisbon"})),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{method} {id}: {}", r.body);
            assert_eq!(r.body["timezone"], "Europe/Lisbon");
        }
        let r = w
            .app
            .call(
                "PATCH",
                &root(id),
                Some(&w.member),
                Some(json!({"receive_org_level_activity_logs": true})),
            )
            .await;
        assert_eq!(
            r.error().2,
            "Only organization owners and admins can modify the receive_org_level_activity_logs setting.",
            "{id}"
        );
    }
    let r = w
        .app
        .call("DELETE", &w.project(by_member), Some(&w.member), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = w
        .app
        .call("DELETE", &root(by_default), Some(&w.member), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(
        get(&w, &w.owner, &root(by_default)).await.error(),
        NOT_FOUND
    );
    // A member rule below the default wins: explicit rules come first.
    let lowered = w.create_project("Lowered").await["id"].as_i64().unwrap();
    rule(&w.app, &w.org, lowered, None, "admin").await;
    member_rule(&w, lowered, "member").await;
    let r = w
        .app
        .call("DELETE", &w.project(lowered), Some(&w.member), None)
        .await;
    assert_eq!(r.error().0, 403);
}

#[tokio::test]
async fn both_project_lists_leave_hidden_projects_out_with_a_true_count() {
    let w = World::new().await;
    let mut ids = vec![];
    for n in 1..=5 {
        ids.push(
            w.create_project(&format!("Alpha {n}")).await["id"]
                .as_i64()
                .unwrap(),
        );
    }
    member_rule(&w, ids[1], "none").await;
    rule(&w.app, &w.org, ids[3], None, "none").await;
    let root_list = "/api/projects/";
    for list in [w.projects(), root_list.to_string()] {
        let all = get(&w, &w.member, &list).await;
        assert_eq!(all.body["count"], 3, "{list}: {}", all.body);
        assert_eq!(
            names(&all.body),
            ["Alpha 1", "Alpha 3", "Alpha 5"],
            "{list}"
        );
        let page = get(&w, &w.member, &format!("{list}?limit=2&offset=1")).await;
        assert_eq!(page.body["count"], 3);
        assert_eq!(names(&page.body), ["Alpha 3", "Alpha 5"], "{list}");
        assert_eq!(page.body["next"], Value::Null, "{list}");
        let first = get(&w, &w.member, &format!("{list}?limit=2")).await;
        assert_eq!(names(&first.body), ["Alpha 1", "Alpha 3"], "{list}");
        assert!(first.body["next"].as_str().unwrap().contains("offset=2"));
        // Admins see every project.
        let admin = get(&w, &w.admin, &list).await;
        assert_eq!(admin.body["count"], 5, "{list}");
    }
    // Search still applies, on the organization's list.
    let found = get(&w, &w.member, &format!("{}?search=alpha", w.projects())).await;
    assert_eq!(names(&found.body), ["Alpha 1", "Alpha 3", "Alpha 5"]);
    assert_eq!(found.body["count"], 3);
    let found = get(&w, &w.member, &format!("{}?search=alpha%202", w.projects())).await;
    assert_eq!(found.body["count"], 0);
}

#[tokio::test]
async fn the_organization_shows_only_the_projects_its_member_sees() {
    let w = World::new().await;
    let hidden = w.create_project("Hidden").await["id"].as_i64().unwrap();
    let shown = w.create_project("Shown").await["id"].as_i64().unwrap();
    member_rule(&w, hidden, "none").await;
    let ids = |org: &Value, field: &str| -> Vec<i64> {
        org[field]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_i64().unwrap())
            .collect()
    };
    let detail = format!("/api/organizations/{}/", w.org);
    for key in [&w.member, &w.admin] {
        let one = get(&w, key, &detail).await.body;
        let listed = get(&w, key, "/api/organizations/").await.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|o| o["id"] == w.org.as_str())
            .cloned()
            .unwrap();
        let me = get(&w, key, "/api/users/@me/").await.body["organization"].clone();
        for org in [one, listed, me] {
            for field in ["teams", "projects"] {
                let seen = ids(&org, field);
                assert!(seen.contains(&shown), "{field}");
                assert_eq!(seen.contains(&hidden), key == &w.admin, "{field}");
            }
        }
    }
}

#[tokio::test]
async fn current_project_pointers_skip_hidden_projects() {
    let w = World::new().await;
    let me = "/api/users/@me/";
    let first = w.create_project("First").await["id"].as_i64().unwrap();
    let second = w.create_project("Second").await["id"].as_i64().unwrap();
    // The member's current project is the organization's first; hide it.
    let r = get(&w, &w.member, me).await;
    assert_eq!(r.body["team"]["id"], first);
    member_rule(&w, first, "none").await;
    // `@current` still names the stored (hidden) project: 404.
    for path in [
        format!("/api/organizations/{}/projects/@current/", w.org),
        root("@current"),
    ] {
        assert_eq!(get(&w, &w.member, &path).await.error(), NOT_FOUND, "{path}");
    }
    // @me moves to the first visible project, and saves it.
    let r = get(&w, &w.member, me).await;
    assert_eq!(r.body["team"]["id"], second, "{}", r.body);
    let r = get(&w, &w.member, &root("@current")).await;
    assert_eq!(r.body["id"], second);
    // A hidden project cannot be made current.
    let r = w
        .app
        .call(
            "PATCH",
            me,
            Some(&w.member),
            Some(json!({"set_current_team": first})),
        )
        .await;
    assert_eq!(
        r.error(),
        (
            400,
            "does_not_exist",
            format!("Object with id={first} does not exist.").as_str(),
            json!("set_current_team")
        )
    );
    // Switching organization lands on the first visible project.
    let r = w
        .app
        .call(
            "PATCH",
            me,
            Some(&w.member),
            Some(json!({"set_current_organization": w.org})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["team"]["id"], second);
    // With no current project, `@current` falls back to the first visible one.
    member_rule(&w, second, "none").await;
    let third = w.create_project("Third").await["id"].as_i64().unwrap();
    {
        let mut tx = w.app.db.write().await.unwrap();
        let user = prickle::users::find_by_email(&mut tx, "member@example.com")
            .await
            .unwrap()
            .unwrap();
        prickle::users::set_current(&mut tx, user.id, Some(&w.org), None)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let r = get(&w, &w.member, &root("@current")).await;
    assert_eq!(r.body["id"], third, "{}", r.body);
}

#[tokio::test]
async fn removal_moves_the_current_project_to_one_the_member_sees() {
    let w = World::new().await;
    // The member also belongs to the other organization, whose first project is hidden from them.
    let m = prickle::admin::add_member(&w.app.db, &w.other_org, "member@example.com", 1)
        .await
        .unwrap();
    let theirs_first = w.create_other_project("Theirs first").await["id"]
        .as_i64()
        .unwrap();
    let theirs_second = w.create_other_project("Theirs").await["id"]
        .as_i64()
        .unwrap();
    let mid = m["id"].as_str().unwrap();
    rule(&w.app, &w.other_org, theirs_first, Some(mid), "none").await;
    let r = get(&w, &w.member, "/api/users/@me/").await;
    assert_eq!(r.body["organization"]["id"], w.org.as_str());
    let uuid = r.body["uuid"].as_str().unwrap().to_string();
    let r = w
        .app
        .call(
            "DELETE",
            &format!("/api/organizations/{}/members/{uuid}/", w.org),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    let r = get(&w, &w.member, "/api/users/@me/").await;
    assert_eq!(r.body["organization"]["id"], w.other_org.as_str());
    assert_eq!(r.body["team"]["id"], theirs_second, "{}", r.body);
}

/// Item 6: a member removed and added again starts with no rules: their
/// member rules went with the old membership (foreign key), so a private
/// project that let them in is hidden again, and an admin rule is gone.
#[tokio::test]
async fn a_member_added_again_starts_with_no_rules() {
    let w = World::new().await;
    let private = w.create_project("Private").await["id"].as_i64().unwrap();
    let open = w.create_project("Open").await["id"].as_i64().unwrap();
    rule(&w.app, &w.org, private, None, "none").await;
    member_rule(&w, private, "member").await;
    member_rule(&w, open, "admin").await;
    let r = get(&w, &w.member, &root(open)).await;
    assert_eq!(r.body["user_access_level"], "admin", "{}", r.body);
    let me = get(&w, &w.member, "/api/users/@me/").await;
    let uuid = me.body["uuid"].as_str().unwrap().to_string();
    let r = w
        .app
        .call(
            "DELETE",
            &format!("/api/organizations/{}/members/{uuid}/", w.org),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    prickle::admin::add_member(&w.app.db, &w.org, "member@example.com", 1)
        .await
        .unwrap();
    let r = get(&w, &w.member, &root(private)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    let r = get(&w, &w.member, &root(open)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["user_access_level"], "member", "{}", r.body);
    assert_eq!(r.body["effective_membership_level"], 1, "{}", r.body);
    let r = get(
        &w,
        &w.owner,
        &format!("/api/projects/{open}/access_controls/"),
    )
    .await;
    assert!(
        r.body["access_controls"]
            .as_array()
            .unwrap()
            .iter()
            .all(|rule| rule["organization_member"].is_null()),
        "{}",
        r.body
    );
}

/// The rules a membership gets: role rules aggregate by MAX, a role of
/// another organization never applies, and a member rule names one
/// membership only.
#[tokio::test]
async fn the_store_aggregates_role_rules_and_scopes_them_to_the_membership() {
    let w = World::new().await;
    let id = w.create_project("Roles").await["id"].as_i64().unwrap();
    let member = membership_id(&w.app, &w.org, "member@example.com").await;
    let admin = membership_id(&w.app, &w.org, "admin@example.com").await;
    // The member also belongs to the other organization.
    let elsewhere = prickle::admin::add_member(&w.app.db, &w.other_org, "member@example.com", 1)
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let now = prickle::time::now_micros();
    let mut tx = w.app.db.write().await.unwrap();
    let user = prickle::users::find_by_email(&mut tx, "member@example.com")
        .await
        .unwrap()
        .unwrap();
    let role = |org: &str, name: &str| {
        let id = uuid::Uuid::now_v7().to_string();
        let stmt = Query::insert()
            .into_table(R::Table)
            .columns([R::Id, R::OrganizationId, R::Name, R::NameKey, R::CreatedAt])
            .values_panic([
                id.clone().into(),
                org.into(),
                name.into(),
                name.to_lowercase().into(),
                now.into(),
            ])
            .to_owned();
        (id, stmt)
    };
    let (viewers, a) = role(&w.org, "Viewers");
    let (editors, b) = role(&w.org, "Editors");
    let (foreign, c) = role(&w.other_org, "Foreign");
    for stmt in [a, b, c] {
        tx.execute(&stmt).await.unwrap();
    }
    for (role, membership) in [
        (&viewers, &member),
        (&editors, &member),
        (&foreign, &elsewhere),
    ] {
        let stmt = Query::insert()
            .into_table(RM::Table)
            .columns([
                RM::Id,
                RM::RoleId,
                RM::UserId,
                RM::MembershipId,
                RM::JoinedAt,
                RM::UpdatedAt,
            ])
            .values_panic([
                uuid::Uuid::now_v7().to_string().into(),
                role.as_str().into(),
                user.id.into(),
                membership.as_str().into(),
                now.into(),
                now.into(),
            ])
            .to_owned();
        tx.execute(&stmt).await.unwrap();
    }
    fn write<'a>(
        org: &'a str,
        project_id: i64,
        role: Option<&'a str>,
        membership: Option<&'a str>,
        level: RuleLevel,
    ) -> NewRule<'a> {
        NewRule {
            organization_id: org,
            project_id,
            membership_id: membership,
            role_id: role,
            level,
            by: None,
        }
    }
    // A role of another organization naming this project (a rule the API
    // refuses; the store must still never count it).
    for rule in [
        write(&w.org, id, Some(&viewers), None, RuleLevel::None),
        write(&w.org, id, Some(&editors), None, RuleLevel::Member),
        write(&w.org, id, Some(&foreign), None, RuleLevel::Admin),
        write(&w.org, id, None, Some(&admin), RuleLevel::Admin),
        write(&w.org, id, None, None, RuleLevel::None),
    ] {
        access_store::upsert(&mut tx, &rule, now).await.unwrap();
    }
    let rules = access_store::rules_for(&mut tx, id, &member).await.unwrap();
    assert_eq!(
        rules,
        Rules {
            member: None,
            role: Some(RuleLevel::Member),
            default: Some(RuleLevel::None),
        }
    );
    // The same through the route checks' statement.
    let found = access_store::project_access(&mut tx, id, Some(&w.org), user.id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.rules, rules);
    assert_eq!(found.membership.unwrap().id, member);
    // The member in the other organization holds the foreign role only there.
    let theirs = access_store::rules_for(&mut tx, id, &elsewhere)
        .await
        .unwrap();
    assert_eq!(theirs.role, Some(RuleLevel::Admin));
    assert_eq!(theirs.member, None);
    tx.commit().await.unwrap();
    // MAX(none, member) = member: the member sees the private project.
    let r = get(&w, &w.member, &w.project(id)).await;
    assert_eq!(r.body["user_access_level"], "member", "{}", r.body);
}
