//! Roles and role memberships: PostHog's behaviours (ee/api/test/test_role.py,
//! test_role_membership.py and the rules its code enforces), the cascades,
//! the activity entries and the races, on both databases.

use axum::http::StatusCode;
use prickle::access::rules::RuleLevel;
use prickle::access::store::{upsert, NewRule};
use prickle::storage::schema::{
    AccessControls as AC, ActivityLog as A, RoleMemberships as RM, Roles as R, Users as U,
};
use prickle::storage::RowRead;
use sea_query::{Expr, ExprTrait, Query};
use serde_json::{json, Value};

use crate::support::{Response, World};

const INSUFFICIENT: &str = "Your organization access level is insufficient.";

fn roles(w: &World) -> String {
    format!("/api/organizations/{}/roles/", w.org)
}

fn role_path(w: &World, id: &str) -> String {
    format!("{}{id}/", roles(w))
}

fn holders(w: &World, role: &str) -> String {
    format!("{}{role}/role_memberships/", roles(w))
}

fn keys(v: &Value) -> Vec<&str> {
    v.as_object().unwrap().keys().map(String::as_str).collect()
}

/// A 400 with attr null and code `invalid_input`.
fn invalid(r: &Response, detail: &str) {
    assert_eq!(
        r.body,
        json!({"type": "validation_error", "code": "invalid_input", "detail": detail, "attr": null}),
        "status {}",
        r.status
    );
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
}

fn denied(r: &Response, detail: &str) {
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"type": "authentication_error", "code": "permission_denied", "detail": detail, "attr": null})
    );
}

async fn create(w: &World, key: &str, name: &str) -> Response {
    w.app
        .call("POST", &roles(w), Some(key), Some(json!({ "name": name })))
        .await
}

/// A new role, made by the owner; its id.
async fn role(w: &World, name: &str) -> String {
    let r = create(w, &w.owner, name).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body["id"].as_str().unwrap().to_string()
}

async fn add(w: &World, key: &str, role: &str, user_uuid: Value) -> Response {
    w.app
        .call(
            "POST",
            &holders(w, role),
            Some(key),
            Some(json!({ "user_uuid": user_uuid })),
        )
        .await
}

async fn uuid_of(w: &World, email: &str) -> String {
    let path = format!("/api/organizations/{}/members/?email={email}", w.org);
    let r = w.app.call("GET", &path, Some(&w.owner), None).await;
    r.body["results"][0]["user"]["uuid"]
        .as_str()
        .expect("a member")
        .to_string()
}

async fn count(
    w: &World,
    table: impl sea_query::IntoTableRef,
    id: impl sea_query::IntoIden,
) -> i64 {
    let stmt = Query::select()
        .expr(Expr::col(id).count())
        .from(table)
        .to_owned();
    let mut tx = w.app.db.read().await.unwrap();
    let n = tx.query_opt(&stmt, |r| r.i64(0)).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    n
}

/// The `Role` activity entries: (user id, activity, item id, detail), in order.
async fn role_entries(w: &World) -> Vec<(Option<i64>, String, String, Value)> {
    let stmt = Query::select()
        .columns([A::UserId, A::Activity, A::ItemId, A::Detail])
        .from(A::Table)
        .and_where(Expr::col(A::Scope).eq("Role"))
        .and_where(Expr::col(A::OrganizationId).eq(w.org.as_str()))
        .order_by(A::CreatedAt, sea_query::Order::Asc)
        .order_by(A::Id, sea_query::Order::Asc)
        .to_owned();
    let mut tx = w.app.db.read().await.unwrap();
    let rows = tx
        .query(&stmt, |r: &dyn RowRead| {
            Ok((
                r.opt_i64(0)?,
                r.string(1)?,
                r.opt_string(2)?.unwrap_or_default(),
                r.json(3)?,
            ))
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    rows
}

#[tokio::test]
async fn roles_in_posthogs_shape_listed_by_creation_per_organization() {
    let w = World::new().await;
    let made = create(&w, &w.admin, "  Engineering ").await;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
    let role = &made.body;
    assert_eq!(
        keys(role),
        [
            "id",
            "name",
            "created_at",
            "created_by",
            "members",
            "is_default"
        ]
    );
    assert!(uuid::Uuid::parse_str(role["id"].as_str().unwrap()).is_ok());
    assert_eq!(role["name"], "Engineering");
    assert!(role["created_at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(role["created_by"]["email"], "admin@example.com");
    assert_eq!(
        keys(&role["created_by"]),
        [
            "id",
            "uuid",
            "distinct_id",
            "first_name",
            "last_name",
            "email",
            "is_email_verified",
            "hedgehog_config",
            "role_at_organization"
        ]
    );
    assert_eq!(role["members"], json!([]));
    assert_eq!(role["is_default"], false);
    // Read-only fields in a body are ignored.
    let second = w
        .app
        .call(
            "POST",
            &roles(&w),
            Some(&w.owner),
            Some(json!({"name": "Design", "id": "x", "is_default": true, "members": [1], "created_by": 5})),
        )
        .await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.body);
    assert_eq!(second.body["is_default"], false);
    assert_eq!(second.body["created_by"]["email"], "owner@example.com");
    // Another organization's roles neither count nor show, and its names are its own.
    let other = w
        .app
        .call(
            "POST",
            &format!("/api/organizations/{}/roles/", w.other_org),
            Some(&w.outsider),
            Some(json!({"name": "engineering"})),
        )
        .await;
    assert_eq!(other.status, StatusCode::CREATED, "{}", other.body);
    let listed = w.app.call("GET", &roles(&w), Some(&w.member), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(keys(&listed.body), ["count", "next", "previous", "results"]);
    assert_eq!(listed.body["count"], 2);
    let names: Vec<&str> = listed.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Engineering", "Design"]);
    assert_eq!(listed.body["results"][0], made.body);
    let page = w
        .app
        .call(
            "GET",
            &format!("{}?limit=1", roles(&w)),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(page.body["results"][0]["name"], "Engineering");
    assert_eq!(
        page.body["next"],
        format!(
            "http://testserver/api/organizations/{}/roles/?limit=1&offset=1",
            w.org
        )
    );
    // One role: 200 for any member; another organization's, unknown or malformed: 404.
    let id = made.body["id"].as_str().unwrap();
    let one = w
        .app
        .call("GET", &role_path(&w, id), Some(&w.member), None)
        .await;
    assert_eq!((one.status, &one.body), (StatusCode::OK, &made.body));
    let other_id = other.body["id"].as_str().unwrap();
    for bad in [
        other_id,
        "0190c0de-0000-7000-8000-000000000000",
        "nope",
        "1",
    ] {
        let r = w
            .app
            .call("GET", &role_path(&w, bad), Some(&w.owner), None)
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad}: {}", r.body);
        assert_eq!(r.body["detail"], "Not found.");
    }
    // A non-member gets the organization routes' 403.
    let r = w.app.call("GET", &roles(&w), Some(&w.outsider), None).await;
    denied(&r, "You do not have permission to perform this action.");
}

#[tokio::test]
async fn only_admins_and_owners_write_and_members_are_refused_before_the_body() {
    let w = World::new().await;
    let id = role(&w, "Ops").await;
    let r = create(&w, &w.member, "Nope").await;
    denied(&r, INSUFFICIENT);
    // An invalid body still meets the level check first.
    let r = w
        .app
        .call(
            "POST",
            &roles(&w),
            Some(&w.member),
            Some(json!({"name": ""})),
        )
        .await;
    denied(&r, INSUFFICIENT);
    for method in ["PATCH", "PUT"] {
        let r = w
            .app
            .call(
                method,
                &role_path(&w, &id),
                Some(&w.member),
                Some(json!({"name": 5})),
            )
            .await;
        denied(&r, INSUFFICIENT);
    }
    let r = w
        .app
        .call("DELETE", &role_path(&w, &id), Some(&w.member), None)
        .await;
    denied(&r, INSUFFICIENT);
    let member = uuid_of(&w, "member@example.com").await;
    let r = add(&w, &w.member, &id, json!(member)).await;
    denied(&r, INSUFFICIENT);
    let r = add(&w, &w.member, &id, json!("not a uuid")).await;
    denied(&r, INSUFFICIENT);
    let held = add(&w, &w.admin, &id, json!(member)).await;
    assert_eq!(held.status, StatusCode::CREATED, "{}", held.body);
    let path = format!("{}{}/", holders(&w, &id), held.body["id"].as_str().unwrap());
    let r = w.app.call("DELETE", &path, Some(&w.member), None).await;
    denied(&r, INSUFFICIENT);
    // Admins rename; the answer is the whole role.
    let r = w
        .app
        .call(
            "PATCH",
            &role_path(&w, &id),
            Some(&w.admin),
            Some(json!({"name": "Operations"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["name"], "Operations");
    assert_eq!(r.body["members"][0]["id"], held.body["id"]);
    assert_eq!(count(&w, R::Table, R::Id).await, 1);
}

#[tokio::test]
async fn names_are_unique_per_organization_whatever_their_case() {
    let w = World::new().await;
    let id = role(&w, "Marketing").await;
    let dup = json!({"type": "validation_error", "code": "unique", "detail": "There is already a role with this name.", "attr": "name"});
    for name in ["marketing", " MARKETING ", "Marketing"] {
        let r = create(&w, &w.owner, name).await;
        assert_eq!(
            (r.status, &r.body),
            (StatusCode::BAD_REQUEST, &dup),
            "{name}"
        );
    }
    let other = role(&w, "Sales").await;
    let r = w
        .app
        .call(
            "PATCH",
            &role_path(&w, &other),
            Some(&w.owner),
            Some(json!({"name": "MARKETING"})),
        )
        .await;
    assert_eq!((r.status, &r.body), (StatusCode::BAD_REQUEST, &dup));
    // Keeping its own name, or changing only its case, is fine.
    for name in ["Marketing", "marketing"] {
        let r = w
            .app
            .call(
                "PUT",
                &role_path(&w, &id),
                Some(&w.owner),
                Some(json!({ "name": name })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{name}: {}", r.body);
        assert_eq!(r.body["name"], name);
    }
    // PUT is a full update: `name` is required; PATCH may leave it out.
    let r = w
        .app
        .call("PUT", &role_path(&w, &id), Some(&w.owner), Some(json!({})))
        .await;
    assert_eq!(
        r.error(),
        (400, "required", "This field is required.", json!("name"))
    );
    let r = w
        .app
        .call(
            "PATCH",
            &role_path(&w, &id),
            Some(&w.owner),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        (r.status, &r.body["name"]),
        (StatusCode::OK, &json!("marketing"))
    );
    // The field's own rules come before uniqueness.
    for (body, code) in [
        (json!({}), "required"),
        (json!({"name": null}), "null"),
        (json!({"name": "  "}), "blank"),
        (json!({"name": "x".repeat(201)}), "max_length"),
        (json!({"name": ["x"]}), "invalid_input"),
        (json!({"name": "a\u{0}"}), "null_characters_not_allowed"),
    ] {
        let r = w
            .app
            .call("POST", &roles(&w), Some(&w.owner), Some(body.clone()))
            .await;
        assert_eq!(
            (
                r.status.as_u16(),
                r.body["code"].as_str(),
                r.body["attr"].as_str()
            ),
            (400, Some(code), Some("name")),
            "{body}"
        );
    }
    let r = create(&w, &w.owner, "5").await;
    assert_eq!(r.status, StatusCode::CREATED);
    // Unknown and malformed roles are 404 on every write.
    for bad in ["0190c0de-0000-7000-8000-000000000000", "nope"] {
        for method in ["PATCH", "PUT", "DELETE"] {
            let body = (method != "DELETE").then(|| json!({"name": "x"}));
            let r = w
                .app
                .call(method, &role_path(&w, bad), Some(&w.owner), body)
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{method} {bad}");
        }
    }
    assert_eq!(count(&w, R::Table, R::Id).await, 3);
}

#[tokio::test]
async fn members_are_added_listed_and_removed() {
    let w = World::new().await;
    let eng = role(&w, "Engineering").await;
    let design = role(&w, "Design").await;
    let member = uuid_of(&w, "member@example.com").await;
    let admin = uuid_of(&w, "admin@example.com").await;
    let r = add(&w, &w.owner, &eng, json!(member.to_uppercase())).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let held = r.body.clone();
    assert_eq!(
        keys(&held),
        [
            "id",
            "role_id",
            "organization_member",
            "user",
            "joined_at",
            "updated_at"
        ]
    );
    assert_eq!(held["role_id"], eng.as_str());
    assert_eq!(held["user"]["uuid"], member.as_str());
    // The member exactly as /members/ shows them.
    let listed = w
        .app
        .call(
            "GET",
            &format!(
                "/api/organizations/{}/members/?email=member@example.com",
                w.org
            ),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(held["organization_member"], listed.body["results"][0]);
    assert_eq!(held["organization_member"]["user"], held["user"]);
    // A user may hold several roles.
    let r = add(&w, &w.admin, &design, json!(member)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let r = add(&w, &w.admin, &eng, json!(admin)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let second = r.body.clone();
    let page = w
        .app
        .call("GET", &holders(&w, &eng), Some(&w.member), None)
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.body);
    assert_eq!(page.body["count"], 2);
    assert_eq!(page.body["results"], json!([held, second]));
    let shown = w
        .app
        .call("GET", &role_path(&w, &eng), Some(&w.member), None)
        .await;
    assert_eq!(shown.body["members"], json!([held, second]));
    let one_path = format!("{}{}/", holders(&w, &eng), held["id"].as_str().unwrap());
    let one = w.app.call("GET", &one_path, Some(&w.member), None).await;
    assert_eq!((one.status, &one.body), (StatusCode::OK, &held));
    // Under another role, or malformed: 404.
    let wrong = format!("{}{}/", holders(&w, &design), held["id"].as_str().unwrap());
    for path in [
        wrong.clone(),
        format!("{}nope/", holders(&w, &eng)),
        format!("/api/organizations/{}/roles/nope/role_memberships/", w.org),
    ] {
        let r = w.app.call("GET", &path, Some(&w.member), None).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{path}");
    }
    let r = w.app.call("DELETE", &wrong, Some(&w.owner), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // No update of a role membership: PATCH is answered as an unmapped method.
    let r = w
        .app
        .call("PATCH", &one_path, Some(&w.owner), Some(json!({})))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
    assert_eq!(
        r.body["detail"],
        "This action does not support personal API key access"
    );
    let r = w.app.call("DELETE", &one_path, Some(&w.admin), None).await;
    assert_eq!((r.status, &r.body), (StatusCode::NO_CONTENT, &Value::Null));
    let r = w.app.call("GET", &one_path, Some(&w.member), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let page = w
        .app
        .call("GET", &holders(&w, &eng), Some(&w.member), None)
        .await;
    assert_eq!(page.body["results"], json!([second]));
    assert_eq!(count(&w, RM::Table, RM::Id).await, 2);
}

#[tokio::test]
async fn who_may_hold_a_role() {
    let w = World::new().await;
    let eng = role(&w, "Engineering").await;
    let member = uuid_of(&w, "member@example.com").await;
    assert_eq!(
        add(&w, &w.owner, &eng, json!(member)).await.status,
        StatusCode::CREATED
    );
    // Already in the role.
    invalid(
        &add(&w, &w.owner, &eng, json!(member)).await,
        "User is already part of the role.",
    );
    // Nobody, an inactive member, a user of another organization only.
    w.app.add_member(&w.org, "gone@example.com", 1).await;
    let gone = uuid_of(&w, "gone@example.com").await;
    let stmt = Query::update()
        .table(U::Table)
        .value(U::IsActive, false)
        .and_where(Expr::col(U::Email).eq("gone@example.com"))
        .to_owned();
    let mut tx = w.app.db.write().await.unwrap();
    tx.execute(&stmt).await.unwrap();
    tx.commit().await.unwrap();
    let outsider = w.app.user("stranger@example.com").await["uuid"].clone();
    let their_owner = {
        let path = format!("/api/organizations/{}/members/", w.other_org);
        w.app.call("GET", &path, Some(&w.outsider), None).await.body["results"][0]["user"]["uuid"]
            .clone()
    };
    for who in [
        json!("0190c0de-0000-7000-8000-000000000000"),
        json!(gone),
        outsider,
        their_owner,
        json!(1),
    ] {
        invalid(
            &add(&w, &w.owner, &eng, who.clone()).await,
            "User does not exist.",
        );
    }
    // A role of another organization, or of none (a malformed one is 404).
    let theirs = w
        .app
        .call(
            "POST",
            &format!("/api/organizations/{}/roles/", w.other_org),
            Some(&w.outsider),
            Some(json!({"name": "Theirs"})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    for other in [theirs.as_str(), "0190c0de-0000-7000-8000-000000000000"] {
        invalid(
            &add(&w, &w.owner, other, json!(member)).await,
            "Role does not exist.",
        );
        // Listing it is an empty page, not a 404.
        let r = w
            .app
            .call("GET", &holders(&w, other), Some(&w.member), None)
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            (r.body["count"].clone(), r.body["results"].clone()),
            (json!(0), json!([]))
        );
    }
    let r = add(&w, &w.owner, "nope", json!(member)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    // The field comes first.
    for (value, code) in [
        (json!("nope"), "invalid_input"),
        (json!(""), "invalid_input"),
        (json!(1.5), "invalid_input"),
        (json!([member]), "invalid_input"),
        (Value::Null, "null"),
    ] {
        let r = add(&w, &w.owner, &theirs, value.clone()).await;
        assert_eq!(
            (
                r.status.as_u16(),
                r.body["code"].as_str(),
                r.body["attr"].as_str()
            ),
            (400, Some(code), Some("user_uuid")),
            "{value}"
        );
    }
    let r = w
        .app
        .call("POST", &holders(&w, &eng), Some(&w.owner), Some(json!({})))
        .await;
    assert_eq!(
        r.error(),
        (
            400,
            "required",
            "This field is required.",
            json!("user_uuid")
        )
    );
    assert_eq!(count(&w, RM::Table, RM::Id).await, 1);
}

#[tokio::test]
async fn deleting_a_role_takes_its_memberships_rules_and_default_with_it() {
    let w = World::new().await;
    let eng = role(&w, "Engineering").await;
    let kept = role(&w, "Kept").await;
    let member = uuid_of(&w, "member@example.com").await;
    for r in [&eng, &kept] {
        assert_eq!(
            add(&w, &w.owner, r, json!(member)).await.status,
            StatusCode::CREATED
        );
    }
    let project = w.create_project("Private").await["id"].as_i64().unwrap();
    let now = prickle::time::now_micros();
    let mut tx = w.app.db.write().await.unwrap();
    for r in [&eng, &kept] {
        let rule = NewRule {
            organization_id: &w.org,
            project_id: project,
            membership_id: None,
            role_id: Some(r),
            level: RuleLevel::Admin,
            by: None,
        };
        upsert(&mut tx, &rule, now).await.unwrap();
    }
    tx.commit().await.unwrap();
    // The organization's default role is one of its own roles, or none.
    let org_path = format!("/api/organizations/{}/", w.org);
    let r = w
        .app
        .call(
            "PATCH",
            &org_path,
            Some(&w.owner),
            Some(json!({"default_role_id": eng.to_uppercase()})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["default_role_id"], eng.as_str());
    let shown = w
        .app
        .call("GET", &role_path(&w, &eng), Some(&w.member), None)
        .await;
    assert_eq!(shown.body["is_default"], true);
    let theirs = w
        .app
        .call(
            "POST",
            &format!("/api/organizations/{}/roles/", w.other_org),
            Some(&w.outsider),
            Some(json!({"name": "Theirs"})),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    for bad in [
        json!(theirs),
        json!("0190c0de-0000-7000-8000-000000000000"),
        json!("x"),
        json!(3),
    ] {
        let r = w
            .app
            .call(
                "PATCH",
                &org_path,
                Some(&w.owner),
                Some(json!({"default_role_id": bad.clone()})),
            )
            .await;
        let text = bad.as_str().map(str::to_string).unwrap_or(bad.to_string());
        assert_eq!(
            r.error(),
            (
                400,
                "does_not_exist",
                format!("Object with id={text} does not exist.").as_str(),
                json!("default_role_id")
            ),
        );
    }
    assert_eq!(
        (
            count(&w, RM::Table, RM::Id).await,
            count(&w, AC::Table, AC::Id).await
        ),
        (2, 2)
    );
    let r = w
        .app
        .call("DELETE", &role_path(&w, &eng), Some(&w.admin), None)
        .await;
    assert_eq!((r.status, &r.body), (StatusCode::NO_CONTENT, &Value::Null));
    let r = w
        .app
        .call("GET", &role_path(&w, &eng), Some(&w.member), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        (
            count(&w, RM::Table, RM::Id).await,
            count(&w, AC::Table, AC::Id).await
        ),
        (1, 1)
    );
    let org = w.app.call("GET", &org_path, Some(&w.owner), None).await;
    assert_eq!(org.body["default_role_id"], Value::Null);
    // The other role keeps its holder and its rule.
    let page = w
        .app
        .call("GET", &holders(&w, &kept), Some(&w.member), None)
        .await;
    assert_eq!(page.body["count"], 1);
    let r = w
        .app
        .call(
            "PATCH",
            &org_path,
            Some(&w.owner),
            Some(json!({"default_role_id": null})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn a_removed_member_loses_their_roles_and_comes_back_with_none() {
    let w = World::new().await;
    let eng = role(&w, "Engineering").await;
    let member = uuid_of(&w, "member@example.com").await;
    assert_eq!(
        add(&w, &w.owner, &eng, json!(member)).await.status,
        StatusCode::CREATED
    );
    let path = format!("/api/organizations/{}/members/{member}/", w.org);
    let r = w.app.call("DELETE", &path, Some(&w.owner), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.body);
    assert_eq!(count(&w, RM::Table, RM::Id).await, 0);
    let shown = w
        .app
        .call("GET", &role_path(&w, &eng), Some(&w.owner), None)
        .await;
    assert_eq!(shown.body["members"], json!([]));
    prickle::admin::add_member(&w.app.db, &w.org, "member@example.com", 1)
        .await
        .unwrap();
    let page = w
        .app
        .call("GET", &holders(&w, &eng), Some(&w.owner), None)
        .await;
    assert_eq!(page.body["count"], 0);
    // They can be added again, through their new membership.
    let r = add(&w, &w.owner, &eng, json!(member)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

async fn user_id(w: &World, email: &str) -> Option<i64> {
    let stmt = Query::select()
        .column(U::Id)
        .from(U::Table)
        .and_where(Expr::col(U::Email).eq(email))
        .to_owned();
    let mut tx = w.app.db.read().await.unwrap();
    let id = tx.query_opt(&stmt, |r| r.i64(0)).await.unwrap();
    tx.commit().await.unwrap();
    id
}

#[tokio::test]
async fn every_role_change_is_logged_with_who_made_it() {
    let w = World::new().await;
    let eng = role(&w, "Engineering").await;
    let member = uuid_of(&w, "member@example.com").await;
    let held = add(&w, &w.admin, &eng, json!(member)).await.body;
    // No-ops and refusals write nothing.
    let path = role_path(&w, &eng);
    w.app
        .call(
            "PATCH",
            &path,
            Some(&w.owner),
            Some(json!({"name": "Engineering"})),
        )
        .await;
    w.app
        .call("PATCH", &path, Some(&w.owner), Some(json!({})))
        .await;
    create(&w, &w.owner, "engineering").await;
    add(&w, &w.owner, &eng, json!(member)).await;
    let r = w
        .app
        .call("PATCH", &path, Some(&w.owner), Some(json!({"name": "Eng"})))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let one = format!("{}{}/", holders(&w, &eng), held["id"].as_str().unwrap());
    assert_eq!(
        w.app
            .call("DELETE", &one, Some(&w.owner), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        w.app
            .call("DELETE", &path, Some(&w.admin), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let (owner, admin) = (
        user_id(&w, "owner@example.com").await,
        user_id(&w, "admin@example.com").await,
    );
    let m = json!({"user_uuid": member, "email": "member@example.com"});
    let change = |action: &str, field: &str, before: Value, after: Value| json!([{"type": "Role", "action": action, "field": field, "before": before, "after": after}]);
    let detail = |name: &str, changes: Value| json!({"changes": changes, "trigger": null, "name": name, "short_id": null, "type": null});
    let expected = vec![
        (
            owner,
            "created".to_string(),
            eng.clone(),
            detail("Engineering", Value::Null),
        ),
        (
            admin,
            "updated".into(),
            eng.clone(),
            detail(
                "Engineering",
                change("created", "members", Value::Null, m.clone()),
            ),
        ),
        (
            owner,
            "updated".into(),
            eng.clone(),
            detail(
                "Eng",
                change("changed", "name", json!("Engineering"), json!("Eng")),
            ),
        ),
        (
            owner,
            "updated".into(),
            eng.clone(),
            detail("Eng", change("deleted", "members", m, Value::Null)),
        ),
        (
            admin,
            "deleted".into(),
            eng.clone(),
            detail("Eng", Value::Null),
        ),
    ];
    assert_eq!(role_entries(&w).await, expected);
}

/// Two creates of one name at once leave one role (the other is the 400);
/// two adds of one user at once leave one membership.
#[tokio::test]
async fn concurrent_writers_leave_one_role_and_one_membership() {
    let w = World::new().await;
    for round in 0..5 {
        let name = format!("Race {round}");
        let lower = name.to_lowercase();
        let (a, b) = tokio::join!(create(&w, &w.owner, &name), create(&w, &w.admin, &lower));
        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(statuses, [201, 400], "{} {}", a.body, b.body);
        let refused = if a.status == StatusCode::BAD_REQUEST {
            &a
        } else {
            &b
        };
        assert_eq!(refused.body["code"], "unique");
    }
    assert_eq!(count(&w, R::Table, R::Id).await, 5);
    let eng = role(&w, "Engineering").await;
    let member = uuid_of(&w, "member@example.com").await;
    let (a, b) = tokio::join!(
        add(&w, &w.owner, &eng, json!(member)),
        add(&w, &w.admin, &eng, json!(member))
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort_unstable();
    assert_eq!(statuses, [201, 400], "{} {}", a.body, b.body);
    let refused = if a.status == StatusCode::BAD_REQUEST {
        &a
    } else {
        &b
    };
    invalid(refused, "User is already part of the role.");
    assert_eq!(count(&w, RM::Table, RM::Id).await, 1);
}
