//! The access-control API (`GET`/`PUT .../access_controls`, `GET
//! .../users_with_access`) on both project mounts, and the invite checks
//! against the rules: the spec's §5-7 and §10, items 1-17 and 38-42 of its
//! §14, and the design's §3.1-3.3, §5.1, §6.2-6.3.

use axum::http::StatusCode;
use prickle::storage::schema::{
    AccessControls as A, ActivityLog as L, OrganizationMemberships as M, RoleMemberships as RM,
    Roles as R, Users as U,
};
use sea_query::{Expr, ExprTrait, Query};
use serde_json::{json, Value};

use crate::support::{Response, World};

const MUST_BE_ADMIN: &str = "Must be admin to modify project permissions.";

fn ac(p: i64) -> String {
    format!("/api/projects/{p}/access_controls/")
}

fn ac_org(w: &World, p: i64) -> String {
    format!("/api/organizations/{}/projects/{p}/access_controls/", w.org)
}

fn uwa(p: i64) -> String {
    format!("/api/projects/{p}/users_with_access/")
}

fn uwa_org(w: &World, p: i64) -> String {
    format!(
        "/api/organizations/{}/projects/{p}/users_with_access/",
        w.org
    )
}

async fn get(w: &World, key: &str, path: &str) -> Response {
    w.app.call("GET", path, Some(key), None).await
}

async fn put(w: &World, key: &str, p: i64, body: Value) -> Response {
    w.app.call("PUT", &ac(p), Some(key), Some(body)).await
}

async fn put_ok(w: &World, key: &str, p: i64, body: Value) -> Value {
    let r = put(w, key, p, body).await;
    assert!(r.status.is_success(), "{}", r.body);
    r.body
}

/// A member of `org` by email: (membership id, user uuid, user id).
async fn membership(w: &World, org: &str, email: &str) -> (String, String, i64) {
    let path = format!("/api/organizations/{org}/members/?limit=100");
    let owner = if org == w.org { &w.owner } else { &w.outsider };
    let r = get(w, owner, &path).await;
    let m = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["email"] == email)
        .unwrap_or_else(|| panic!("{email} not in {org}"))
        .clone();
    (
        m["id"].as_str().unwrap().to_string(),
        m["user"]["uuid"].as_str().unwrap().to_string(),
        m["user"]["id"].as_i64().unwrap(),
    )
}

async fn mid(w: &World, email: &str) -> String {
    membership(w, &w.org.clone(), email).await.0
}

/// A role of `org` (straight to the table: the roles routes are another's).
async fn role(w: &World, org: &str, name: &str) -> String {
    let id = uuid::Uuid::now_v7().to_string();
    let mut tx = w.app.db.write().await.unwrap();
    let stmt = Query::insert()
        .into_table(R::Table)
        .columns([R::Id, R::OrganizationId, R::Name, R::NameKey, R::CreatedAt])
        .values_panic([
            id.clone().into(),
            org.into(),
            name.into(),
            name.to_lowercase().into(),
            prickle::time::now_micros().into(),
        ])
        .to_owned();
    tx.execute(&stmt).await.unwrap();
    tx.commit().await.unwrap();
    id
}

async fn join_role(w: &World, role_id: &str, membership_id: &str) {
    let mut tx = w.app.db.write().await.unwrap();
    let user = Query::select()
        .column(M::UserId)
        .from(M::Table)
        .and_where(Expr::col(M::Id).eq(membership_id))
        .to_owned();
    let user_id = tx.query_opt(&user, |r| r.i64(0)).await.unwrap().unwrap();
    let now = prickle::time::now_micros();
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
            role_id.into(),
            user_id.into(),
            membership_id.into(),
            now.into(),
            now.into(),
        ])
        .to_owned();
    tx.execute(&stmt).await.unwrap();
    tx.commit().await.unwrap();
}

async fn count(w: &World, table: impl sea_query::Iden + 'static) -> i64 {
    let mut tx = w.app.db.read().await.unwrap();
    let stmt = Query::select()
        .expr(Expr::cust("COUNT(*)"))
        .from(table)
        .to_owned();
    tx.query_opt(&stmt, |r| r.i64(0)).await.unwrap().unwrap()
}

/// (rules, activity entries): what a refused request must leave unchanged.
async fn written(w: &World) -> (i64, i64) {
    (count(w, A::Table).await, count(w, L::Table).await)
}

/// The project's activity entries about its rules, oldest first.
async fn rule_entries(w: &World, p: i64) -> Vec<Value> {
    let r = get(w, &w.owner, &format!("/api/projects/{p}/activity/")).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let mut entries: Vec<Value> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["detail"]["changes"][0]["field"] == "access_controls")
        .cloned()
        .collect();
    entries.reverse();
    entries
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

/// Items 11-12, 18: the payload's keys in PostHog's order, and the caller's
/// own level; a member on a project without rules is a member (decision 5).
#[tokio::test]
async fn the_payload_and_the_callers_level() {
    let w = World::new().await;
    let p = w.create_project("Open").await["id"].as_i64().unwrap();
    for path in [ac(p), ac_org(&w, p)] {
        let r = get(&w, &w.member, &path).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            keys(&r.body),
            [
                "access_controls",
                "available_access_levels",
                "default_access_level",
                "minimum_access_level",
                "maximum_access_level",
                "user_access_level",
                "user_can_edit_access_levels",
                "inherited_access"
            ]
        );
        assert_eq!(
            r.body,
            json!({
                "access_controls": [],
                "available_access_levels": ["none", "member", "admin"],
                "default_access_level": "member",
                "minimum_access_level": "none",
                "maximum_access_level": "admin",
                "user_access_level": "member",
                "user_can_edit_access_levels": false,
                "inherited_access": null
            })
        );
        for key in [&w.admin, &w.owner] {
            let r = get(&w, key, &path).await;
            assert_eq!(r.body["user_access_level"], "admin");
            assert_eq!(r.body["user_can_edit_access_levels"], true);
        }
    }
}

/// Items 2-3: 200 on create and update (never 201), 204 on delete, also of
/// nothing; `created_by` is the first writer and stays; `updated_at` moves;
/// every rule listed whoever asks, oldest first; one activity entry per
/// change, none for no-ops.
#[tokio::test]
async fn put_creates_updates_and_deletes_one_rule() {
    let w = World::new().await;
    let p = w.create_project("Rules").await["id"].as_i64().unwrap();
    let member = mid(&w, "member@example.com").await;
    let (_, _, admin_id) = membership(&w, &w.org.clone(), "admin@example.com").await;
    let (_, _, owner_id) = membership(&w, &w.org.clone(), "owner@example.com").await;

    let r = put(
        &w,
        &w.admin,
        p,
        json!({"access_level": "member", "organization_member": member}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        keys(&r.body),
        [
            "access_level",
            "resource",
            "resource_id",
            "organization_member",
            "role",
            "created_by",
            "created_at",
            "updated_at"
        ]
    );
    assert_eq!(r.body["access_level"], "member");
    assert_eq!(r.body["resource"], "project");
    assert_eq!(r.body["resource_id"], p.to_string());
    assert_eq!(r.body["organization_member"], member);
    assert_eq!(r.body["role"], Value::Null);
    assert_eq!(r.body["created_by"], admin_id);
    assert_eq!(r.body["created_at"], r.body["updated_at"]);
    let created = r.body.clone();

    // The owner raises it: same rule, first writer kept, updated_at moves.
    // `resource` and `resource_id` in the body are ignored.
    let r = put(
        &w,
        &w.owner,
        p,
        json!({"access_level": "admin", "organization_member": member, "resource": "x", "resource_id": "9"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["access_level"], "admin");
    assert_eq!(r.body["resource_id"], p.to_string());
    assert_eq!(r.body["created_by"], admin_id);
    assert_eq!(r.body["created_at"], created["created_at"]);
    assert!(r.body["updated_at"].as_str() > created["updated_at"].as_str());
    // The same level again: 200, no new entry.
    put_ok(
        &w,
        &w.owner,
        p,
        json!({"access_level": "admin", "organization_member": member}),
    )
    .await;

    // A default rule, made second, listed second; everyone sees every rule.
    let default = put_ok(&w, &w.owner, p, json!({"access_level": "none"})).await;
    assert_eq!(default["organization_member"], Value::Null);
    assert_eq!(default["created_by"], owner_id);
    let r = get(&w, &w.member, &ac(p)).await;
    let listed = r.body["access_controls"].as_array().unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[0]["organization_member"], member);
    assert_eq!(listed[0]["access_level"], "admin");
    assert_eq!(listed[1], default);
    // Item 21: the member's admin rule beats the private default.
    assert_eq!(r.body["user_access_level"], "admin");
    assert_eq!(r.body["user_can_edit_access_levels"], true);

    // Delete: 204 with no body, then 204 again for nothing.
    for _ in 0..2 {
        let r = put(
            &w,
            &w.owner,
            p,
            json!({"access_level": null, "organization_member": member}),
        )
        .await;
        assert_eq!(r.status, StatusCode::NO_CONTENT);
        assert_eq!(r.body, Value::Null);
    }
    let r = get(&w, &w.owner, &ac(p)).await;
    assert_eq!(r.body["access_controls"].as_array().unwrap().len(), 1);

    // The log: created, changed, created (default), deleted; by whom.
    let entries = rule_entries(&w, p).await;
    let shape: Vec<(Value, Value, Value, Value)> = entries
        .iter()
        .map(|e| {
            let c = &e["detail"]["changes"][0];
            (
                e["user"]["email"].clone(),
                c["action"].clone(),
                c["before"].clone(),
                c["after"].clone(),
            )
        })
        .collect();
    let rule = |level: &str, m: Option<&str>| json!({"access_level": level, "organization_member": m, "role": null});
    let m = Some(member.as_str());
    assert_eq!(
        shape,
        vec![
            (
                json!("admin@example.com"),
                json!("created"),
                Value::Null,
                rule("member", m)
            ),
            (
                json!("owner@example.com"),
                json!("changed"),
                rule("member", m),
                rule("admin", m)
            ),
            (
                json!("owner@example.com"),
                json!("created"),
                Value::Null,
                rule("none", None)
            ),
            (
                json!("owner@example.com"),
                json!("deleted"),
                rule("admin", m),
                Value::Null
            ),
        ]
    );
    for e in &entries {
        assert_eq!(e["activity"], "updated");
        assert_eq!(e["scope"], "Team");
        assert_eq!(e["item_id"], p.to_string());
        assert_eq!(e["detail"]["name"], "Rules");
        assert_eq!(e["detail"]["changes"][0]["type"], "Team");
    }
}

/// Every field row of the design's §3.2 and the object checks, with the
/// exact body; nothing written after any of them.
#[tokio::test]
async fn field_and_object_errors() {
    let w = World::new().await;
    let p = w.create_project("Errors").await["id"].as_i64().unwrap();
    let member = mid(&w, "member@example.com").await;
    let (outsider_mid, _, _) = membership(&w, &w.other_org.clone(), "outsider@example.com").await;
    let ours = role(&w, &w.org, "Ours").await;
    let theirs = role(&w, &w.other_org, "Theirs").await;
    let random = uuid::Uuid::new_v4().to_string();
    let level_err = "Invalid access level. Must be one of: none, member, admin";
    let member_err = "Invalid organization member id. Use the 'id' field from the /api/organizations/<organization_id>/members/ endpoint.";
    let missing = |v: &str| format!("Invalid pk \"{v}\" - object does not exist.");
    let rows: Vec<(Value, (&str, String, Value))> = vec![
        (
            json!({}),
            (
                "required",
                "This field is required.".into(),
                json!("access_level"),
            ),
        ),
        (
            json!({"access_level": "bad"}),
            ("invalid_input", level_err.into(), json!("access_level")),
        ),
        (
            json!({"access_level": "viewer"}),
            ("invalid_input", level_err.into(), json!("access_level")),
        ),
        (
            json!({"access_level": 5}),
            ("invalid_input", level_err.into(), json!("access_level")),
        ),
        (
            json!({"access_level": ""}),
            (
                "blank",
                "This field may not be blank.".into(),
                json!("access_level"),
            ),
        ),
        (
            json!({"access_level": "  "}),
            (
                "blank",
                "This field may not be blank.".into(),
                json!("access_level"),
            ),
        ),
        (
            json!({"access_level": true}),
            (
                "invalid_input",
                "Not a valid string.".into(),
                json!("access_level"),
            ),
        ),
        (
            json!({"access_level": []}),
            (
                "invalid_input",
                "Not a valid string.".into(),
                json!("access_level"),
            ),
        ),
        (
            json!({"access_level": {}}),
            (
                "invalid_input",
                "Not a valid string.".into(),
                json!("access_level"),
            ),
        ),
        (
            json!({"access_level": "ad\u{0}min"}),
            (
                "null_characters_not_allowed",
                "Null characters are not allowed.".into(),
                json!("access_level"),
            ),
        ),
        (
            json!({"access_level": "member", "organization_member": "not-a-valid-uuid"}),
            (
                "invalid_input",
                member_err.into(),
                json!("organization_member"),
            ),
        ),
        (
            json!({"access_level": "member", "organization_member": []}),
            (
                "invalid_input",
                member_err.into(),
                json!("organization_member"),
            ),
        ),
        (
            json!({"access_level": "member", "organization_member": random}),
            (
                "does_not_exist",
                missing(&random),
                json!("organization_member"),
            ),
        ),
        (
            json!({"access_level": "member", "organization_member": 5}),
            (
                "does_not_exist",
                missing("00000000-0000-0000-0000-000000000005"),
                json!("organization_member"),
            ),
        ),
        (
            json!({"access_level": "member", "role": "x"}),
            (
                "invalid_input",
                "\u{201c}x\u{201d} is not a valid UUID.".into(),
                json!("role"),
            ),
        ),
        (
            json!({"access_level": "member", "role": true}),
            (
                "incorrect_type",
                "Incorrect type. Expected pk value, received bool.".into(),
                json!("role"),
            ),
        ),
        (
            json!({"access_level": "member", "role": random}),
            ("does_not_exist", missing(&random), json!("role")),
        ),
        (
            json!({"access_level": "member", "organization_member": member, "role": ours}),
            (
                "invalid_input",
                "You can not scope an access control to both a member and a role.".into(),
                Value::Null,
            ),
        ),
        (
            json!({"access_level": "member", "role": theirs}),
            (
                "invalid_input",
                "The role must belong to the same organization as this project.".into(),
                Value::Null,
            ),
        ),
        (
            json!({"access_level": "member", "organization_member": outsider_mid}),
            (
                "invalid_input",
                "The member must belong to the same organization as this project.".into(),
                Value::Null,
            ),
        ),
    ];
    let before = written(&w).await;
    for (body, (code, detail, attr)) in &rows {
        let r = put(&w, &w.owner, p, body.clone()).await;
        assert_eq!(
            r.error(),
            (400, *code, detail.as_str(), attr.clone()),
            "{body}"
        );
        assert_eq!(written(&w).await, before, "{body}");
    }
    // A member's invalid body is a 400 before the 403 (fields first).
    for (body, (code, _, _)) in rows.iter().take(3).chain(rows.iter().skip(17)) {
        let r = put(&w, &w.member, p, body.clone()).await;
        assert_eq!(
            (r.status.as_u16(), r.body["code"].as_str().unwrap()),
            (400, *code),
            "{body}"
        );
    }
    assert_eq!(written(&w).await, before);
    // A body that is no object is DRF's; trimmed levels are accepted.
    let r = put(&w, &w.owner, p, json!(["admin"])).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(written(&w).await, before);
    let r = put(
        &w,
        &w.owner,
        p,
        json!({"access_level": " admin ", "role": ours}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["access_level"], "admin");
    assert_eq!(r.body["role"], ours);
}

/// Items 1, 4 and 5: who may write rules. A member may not (also not
/// delete); a project admin by rule may, down to lowering themselves, after
/// which they may not; a role or default admin rule counts too; a non-member
/// gets 404.
#[tokio::test]
async fn who_may_write_rules() {
    let w = World::new().await;
    let p = w.create_project("Who").await["id"].as_i64().unwrap();
    let member = mid(&w, "member@example.com").await;
    let before = written(&w).await;
    for body in [
        json!({"access_level": "admin"}),
        json!({"access_level": "admin", "organization_member": member}),
        json!({"access_level": null}),
    ] {
        let r = put(&w, &w.member, p, body).await;
        assert_eq!(
            r.error(),
            (403, "permission_denied", MUST_BE_ADMIN, Value::Null)
        );
        assert_eq!(r.body["type"], "authentication_error");
    }
    assert_eq!(written(&w).await, before);
    let r = put(&w, &w.outsider, p, json!({"access_level": "admin"})).await;
    assert_eq!(r.error(), (404, "not_found", "Not found.", Value::Null));

    // Project admin by member rule: may write, even lower themselves...
    put_ok(
        &w,
        &w.owner,
        p,
        json!({"access_level": "admin", "organization_member": member}),
    )
    .await;
    put_ok(&w, &w.member, p, json!({"access_level": "member"})).await;
    let r = put(
        &w,
        &w.member,
        p,
        json!({"access_level": "member", "organization_member": member}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["access_level"], "member");
    // ...and then may not raise themselves back.
    let r = put(
        &w,
        &w.member,
        p,
        json!({"access_level": "admin", "organization_member": member}),
    )
    .await;
    assert_eq!(
        r.error(),
        (403, "permission_denied", MUST_BE_ADMIN, Value::Null)
    );

    // By role rule (with no member rule), and by the default rule.
    put_ok(
        &w,
        &w.owner,
        p,
        json!({"access_level": null, "organization_member": member}),
    )
    .await;
    let editors = role(&w, &w.org, "Editors").await;
    join_role(&w, &editors, &member).await;
    put_ok(
        &w,
        &w.owner,
        p,
        json!({"access_level": "admin", "role": editors}),
    )
    .await;
    let r = get(&w, &w.member, &ac(p)).await;
    assert_eq!(r.body["user_can_edit_access_levels"], true);
    put_ok(
        &w,
        &w.member,
        p,
        json!({"access_level": null, "role": editors}),
    )
    .await;
    put_ok(&w, &w.owner, p, json!({"access_level": "admin"})).await;
    let r = get(&w, &w.member, &ac_org(&w, p)).await;
    assert_eq!(
        (
            r.body["user_access_level"].clone(),
            r.body["user_can_edit_access_levels"].clone()
        ),
        (json!("admin"), json!(true))
    );
    put_ok(&w, &w.member, p, json!({"access_level": "member"})).await;
    let r = put(&w, &w.member, p, json!({"access_level": "admin"})).await;
    assert_eq!(r.error().2, MUST_BE_ADMIN);

    // Item 2 and §3.2: a rule naming an org admin changes nothing for them.
    let admin = mid(&w, "admin@example.com").await;
    put_ok(
        &w,
        &w.owner,
        p,
        json!({"access_level": "none", "organization_member": admin}),
    )
    .await;
    let r = get(&w, &w.admin, &ac(p)).await;
    assert_eq!(r.body["user_access_level"], "admin");
    put_ok(&w, &w.admin, p, json!({"access_level": "none"})).await;
}

/// Decision 2, items 5, 16, 20-22: a project hidden from the caller is 404
/// on every access-control route of both mounts, exactly as an unknown id.
#[tokio::test]
async fn hidden_projects_are_not_found() {
    let w = World::new().await;
    let p = w.create_project("Private").await["id"].as_i64().unwrap();
    let member = mid(&w, "member@example.com").await;
    put_ok(&w, &w.owner, p, json!({"access_level": "none"})).await;
    let paths = [ac(p), ac_org(&w, p), uwa(p), uwa_org(&w, p)];
    for path in &paths {
        let r = get(&w, &w.member, path).await;
        assert_eq!(
            r.error(),
            (404, "not_found", "Not found.", Value::Null),
            "{path}"
        );
        let unknown = path.replace(&format!("/{p}/"), "/987654/");
        assert_eq!(get(&w, &w.member, &unknown).await.body, r.body);
    }
    let before = written(&w).await;
    for body in [
        json!({"access_level": "admin"}),
        json!({"access_level": "bad"}),
        json!([1]),
    ] {
        let r = put(&w, &w.member, p, body).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.body);
    }
    assert_eq!(written(&w).await, before);
    // An explicit denial under an open default hides it too.
    put_ok(&w, &w.owner, p, json!({"access_level": "member"})).await;
    assert_eq!(get(&w, &w.member, &ac(p)).await.status, StatusCode::OK);
    put_ok(
        &w,
        &w.owner,
        p,
        json!({"access_level": "none", "organization_member": member}),
    )
    .await;
    assert_eq!(
        get(&w, &w.member, &ac(p)).await.status,
        StatusCode::NOT_FOUND
    );
    // Items 21-22: a member or role rule opens a private project.
    put_ok(&w, &w.owner, p, json!({"access_level": "none"})).await;
    put_ok(
        &w,
        &w.owner,
        p,
        json!({"access_level": "member", "organization_member": member}),
    )
    .await;
    let r = get(&w, &w.member, &ac(p)).await;
    assert_eq!(r.body["user_access_level"], "member");
    put_ok(
        &w,
        &w.owner,
        p,
        json!({"access_level": null, "organization_member": member}),
    )
    .await;
    let viewers = role(&w, &w.org, "Viewers").await;
    join_role(&w, &viewers, &member).await;
    put_ok(
        &w,
        &w.owner,
        p,
        json!({"access_level": "member", "role": viewers}),
    )
    .await;
    for path in &paths {
        assert_eq!(
            get(&w, &w.member, path).await.status,
            StatusCode::OK,
            "{path}"
        );
    }
    // A role of another organization never applies (its rule cannot even be written).
    let theirs = role(&w, &w.other_org, "Theirs").await;
    join_role(&w, &theirs, &member).await;
    let r = put(
        &w,
        &w.owner,
        p,
        json!({"access_level": "admin", "role": theirs}),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        get(&w, &w.member, &ac(p)).await.body["user_access_level"],
        "member"
    );
}

/// Items 13-17: users_with_access lists the active members who can see the
/// project, with level and source, highest level first, then user uuid
/// descending.
#[tokio::test]
async fn users_with_access_contents_and_order() {
    let w = World::new().await;
    let p = w.create_project("Who sees").await["id"].as_i64().unwrap();
    w.app.add_member(&w.org, "m2@example.com", 1).await;
    w.app.add_member(&w.org, "m3@example.com", 1).await;
    w.app.add_member(&w.org, "gone@example.com", 1).await;
    let mut people = std::collections::HashMap::new();
    for email in [
        "owner@example.com",
        "admin@example.com",
        "member@example.com",
        "m2@example.com",
        "m3@example.com",
        "gone@example.com",
    ] {
        people.insert(email, membership(&w, &w.org.clone(), email).await);
    }
    // An inactive user is left out.
    let mut tx = w.app.db.write().await.unwrap();
    let stmt = Query::update()
        .table(U::Table)
        .value(U::IsActive, false)
        .and_where(Expr::col(U::Id).eq(people["gone@example.com"].2))
        .to_owned();
    tx.execute(&stmt).await.unwrap();
    tx.commit().await.unwrap();

    let entry = |email: &str, level: &str, source: &str, org_level: &str| {
        let (m, u, _) = &people[email];
        json!({
            "user_id": u,
            "access_level": level,
            "access_source": source,
            "organization_membership_id": m,
            "organization_membership_level": org_level
        })
    };
    let sorted = |mut v: Vec<Value>| {
        v.sort_by(|a, b| {
            let rank = |x: &Value| {
                (
                    x["access_level"] == "admin",
                    x["user_id"].as_str().unwrap().to_string(),
                )
            };
            rank(b).cmp(&rank(a))
        });
        v
    };
    // No rules: org admins `organization_admin`, members `default`.
    let r = get(&w, &w.member, &uwa(p)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let want = sorted(vec![
        entry("owner@example.com", "admin", "organization_admin", "owner"),
        entry("admin@example.com", "admin", "organization_admin", "admin"),
        entry("member@example.com", "member", "default", "member"),
        entry("m2@example.com", "member", "default", "member"),
        entry("m3@example.com", "member", "default", "member"),
    ]);
    assert_eq!(r.body, json!({"users": want, "total_count": 5}));
    assert_eq!(
        keys(&r.body["users"][0]),
        [
            "user_id",
            "access_level",
            "access_source",
            "organization_membership_id",
            "organization_membership_level"
        ]
    );

    // Private, with a member rule (admin) and a role rule (member): the
    // third member is left out.
    let team = role(&w, &w.org, "Team").await;
    join_role(&w, &team, &people["m2@example.com"].0).await;
    put_ok(&w, &w.owner, p, json!({"access_level": "none"})).await;
    put_ok(
        &w,
        &w.owner,
        p,
        json!({"access_level": "admin", "organization_member": people["member@example.com"].0}),
    )
    .await;
    put_ok(
        &w,
        &w.owner,
        p,
        json!({"access_level": "member", "role": team}),
    )
    .await;
    let want = sorted(vec![
        entry("owner@example.com", "admin", "organization_admin", "owner"),
        entry("admin@example.com", "admin", "organization_admin", "admin"),
        entry("member@example.com", "admin", "explicit_member", "member"),
        entry("m2@example.com", "member", "explicit_role", "member"),
    ]);
    let r = get(&w, &w.member, &uwa_org(&w, p)).await;
    assert_eq!(r.body, json!({"users": want, "total_count": 4}));
}

/// Design §6.3 / §7.4: two admins writing the same subject at once leave
/// one rule, at one of the two levels, and each answers 200.
#[tokio::test]
async fn concurrent_writes_of_one_subject_leave_one_rule() {
    let w = World::new().await;
    let p = w.create_project("Race").await["id"].as_i64().unwrap();
    let member = mid(&w, "member@example.com").await;
    for round in 0..8 {
        let (a, b) = if round % 2 == 0 {
            ("admin", "none")
        } else {
            ("member", "admin")
        };
        let (ra, rb) = tokio::join!(
            put(
                &w,
                &w.owner,
                p,
                json!({"access_level": a, "organization_member": member})
            ),
            put(
                &w,
                &w.admin,
                p,
                json!({"access_level": b, "organization_member": member})
            ),
        );
        assert_eq!(
            (ra.status, rb.status),
            (StatusCode::OK, StatusCode::OK),
            "{} {}",
            ra.body,
            rb.body
        );
        let r = get(&w, &w.owner, &ac(p)).await;
        let rules = r.body["access_controls"].as_array().unwrap();
        assert_eq!(rules.len(), 1, "{}", r.body);
        assert!([a, b].contains(&rules[0]["access_level"].as_str().unwrap()));
    }
    assert_eq!(count(&w, A::Table).await, 1);
}

fn invites(w: &World) -> String {
    format!("/api/organizations/{}/invites/", w.org)
}

fn bulk(w: &World) -> String {
    format!("/api/organizations/{}/invites/bulk/", w.org)
}

async fn invite(w: &World, key: &str, email: &str, access: Value) -> Response {
    let body = json!({"target_email": email, "private_project_access": access});
    w.app.call("POST", &invites(w), Some(key), Some(body)).await
}

const NO_PROJECT: &str =
    "Project does not exist on this organization, or it is private and you do not have access to it.";
const ABOVE_OWN: &str = "You cannot invite to a private project with a higher level than your own.";

/// The spec's §10 as the design orders it (§5.1, Q1 decided), items 38-41.
#[tokio::test]
async fn invites_are_checked_against_the_rules() {
    let w = World::new().await;
    let open = w.create_project("Open").await["id"].as_i64().unwrap();
    let private = w.create_project("Private").await["id"].as_i64().unwrap();
    let led = w.create_project("Led").await["id"].as_i64().unwrap();
    let member = mid(&w, "member@example.com").await;
    put_ok(&w, &w.owner, private, json!({"access_level": "none"})).await;
    put_ok(&w, &w.owner, led, json!({"access_level": "none"})).await;
    put_ok(
        &w,
        &w.owner,
        led,
        json!({"access_level": "admin", "organization_member": member}),
    )
    .await;
    let err = |detail: &str, attr: &str| {
        (
            400u16,
            "invalid_input".to_string(),
            detail.to_string(),
            json!(attr),
        )
    };
    let got = |r: &Response| {
        let (s, c, d, a) = r.error();
        (s, c.to_string(), d.to_string(), a)
    };
    let stored = || async { count(&w, prickle::storage::schema::OrganizationInvites::Table).await };
    let before = stored().await;
    // Step 1: level; step 2: a project of this organization.
    let other = w.create_other_project("Theirs").await["id"]
        .as_i64()
        .unwrap();
    for (key, access, detail) in [
        (
            &w.owner,
            json!([{"id": open, "level": "none"}]),
            "The \"level\" field must be a valid access level.",
        ),
        (
            &w.owner,
            json!([{"id": other, "level": "member"}]),
            NO_PROJECT,
        ),
        (
            &w.owner,
            json!([{"id": 987654, "level": "member"}]),
            NO_PROJECT,
        ),
        // Step 4: hidden from the inviter (item 39).
        (
            &w.member,
            json!([{"id": private, "level": "member"}]),
            NO_PROJECT,
        ),
        // Step 6: above their own level, restricted or not (items 41, Q1).
        (
            &w.member,
            json!([{"id": open, "level": "admin"}]),
            ABOVE_OWN,
        ),
        (
            &w.member,
            json!([{"id": open, "level": "member"}, {"id": private, "level": "member"}]),
            NO_PROJECT,
        ),
    ] {
        let r = invite(&w, key, "x@x.com", access.clone()).await;
        assert_eq!(got(&r), err(detail, "private_project_access"), "{access}");
    }
    assert_eq!(stored().await, before);
    // Step 3: org admins invite anywhere at any level (item 38).
    let r = invite(
        &w,
        &w.admin,
        "a@x.com",
        json!([{"id": private, "level": "admin"}]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A member: open projects at member (item 38), a project they lead at admin (item 40).
    let r = invite(
        &w,
        &w.member,
        "b@x.com",
        json!([{"id": open, "level": "member"}, {"id": led, "level": "admin"}]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    // A member rule `member` on a private project: member yes, admin no.
    put_ok(
        &w,
        &w.owner,
        led,
        json!({"access_level": "member", "organization_member": member}),
    )
    .await;
    let r = invite(
        &w,
        &w.member,
        "c@x.com",
        json!([{"id": led, "level": "admin"}]),
    )
    .await;
    assert_eq!(got(&r), err(ABOVE_OWN, "private_project_access"));
    // Decision 7: an own `none` rule under a `member` default hides it.
    put_ok(&w, &w.owner, open, json!({"access_level": "member"})).await;
    put_ok(
        &w,
        &w.owner,
        open,
        json!({"access_level": "none", "organization_member": member}),
    )
    .await;
    let r = invite(
        &w,
        &w.member,
        "d@x.com",
        json!([{"id": open, "level": "member"}]),
    )
    .await;
    assert_eq!(got(&r), err(NO_PROJECT, "private_project_access"));

    // Bulk: all or nothing, the failing element in attr.
    let before = stored().await;
    let body = json!([
        {"target_email": "e@x.com", "private_project_access": [{"id": led, "level": "member"}]},
        {"target_email": "f@x.com", "private_project_access": [{"id": private, "level": "member"}]},
    ]);
    let r = w
        .app
        .call("POST", &bulk(&w), Some(&w.member), Some(body))
        .await;
    assert_eq!(got(&r), err(NO_PROJECT, "__1__private_project_access"));
    assert_eq!(stored().await, before);
}

/// Item 42: accepting an invite creates member rules at the invited levels,
/// visible through GET access_controls, and the new member sees the private
/// project the invite granted.
#[tokio::test]
async fn accepting_an_invite_creates_member_rules() {
    let w = World::new().await;
    let private = w.create_project("Private").await["id"].as_i64().unwrap();
    let open = w.create_project("Open").await["id"].as_i64().unwrap();
    put_ok(&w, &w.owner, private, json!({"access_level": "none"})).await;
    let r = invite(
        &w,
        &w.admin,
        "new@x.com",
        json!([{"id": private, "level": "member"}, {"id": open, "level": "admin"}, {"id": private, "level": "admin"}]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = w
        .app
        .call(
            "POST",
            &crate::signup::link(&r.body),
            None,
            Some(json!({"first_name": "New", "password": "correct horse"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let (new_mid, _, new_id) = membership(&w, &w.org.clone(), "new@x.com").await;
    for (p, level) in [(private, "admin"), (open, "admin")] {
        let r = get(&w, &w.owner, &ac(p)).await;
        let rule = r.body["access_controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["organization_member"] == new_mid.as_str())
            .cloned()
            .unwrap_or_else(|| panic!("no rule on {p}: {}", r.body));
        assert_eq!(rule["access_level"], level);
        assert_eq!(rule["created_by"], new_id);
        // Logged on the project, by the newcomer, triggered by the invite.
        let entries = rule_entries(&w, p).await;
        let last = entries.last().expect("an entry for the new rule");
        assert_eq!(last["user"]["email"], "new@x.com", "{last}");
        assert_eq!(last["detail"]["trigger"]["job_type"], "invite", "{last}");
        assert_eq!(last["detail"]["changes"][0]["action"], "created", "{last}");
        assert_eq!(
            last["detail"]["changes"][0]["after"]["access_level"], level,
            "{last}"
        );
    }
    let key = w.app.key("new@x.com", &["*"]).await;
    let r = get(&w, &key, &ac(private)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["user_access_level"], "admin");
}
