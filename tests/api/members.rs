//! Members: PostHog's behaviours (test_organization_members.py and the
//! rules its code enforces), on both databases.

use std::sync::Arc;

use axum::http::StatusCode;
use prickle::admin;
use prickle::storage::schema::{OrganizationMemberships as M, PersonalApiKeys as K, Users as U};
use sea_query::{Expr, ExprTrait, Query};
use serde_json::{json, Value};

use crate::support::{Response, World};

const GENERIC_403: &str = "You do not have permission to perform this action.";
const NOT_ADMIN: &str = "You can only edit others if you are an admin.";
const HIGHER: &str = "You can only edit others with level lower or equal to you.";
const OWN_LEVEL: &str = "You can't change your own access level.";
const ONLY_OWNERS: &str =
    "You can only make another member owner if you're this organization's owner.";
const OWNER_LEAVE: &str = "Cannot leave the organization as its owner!";

fn members(w: &World) -> String {
    format!("/api/organizations/{}/members/", w.org)
}

fn member(w: &World, uuid: &str) -> String {
    format!("/api/organizations/{}/members/{uuid}/", w.org)
}

fn keys_path(w: &World, uuid: &str) -> String {
    format!(
        "/api/organizations/{}/members/{uuid}/scoped_api_keys/",
        w.org
    )
}

/// The 403 body PostHog gives for a permission rule.
fn denied(r: &Response, detail: &str) {
    assert_eq!(
        r.body,
        json!({"type": "authentication_error", "code": "permission_denied", "detail": detail, "attr": null}),
        "status {}",
        r.status
    );
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

fn owner_cannot_leave(r: &Response) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"type": "validation_error", "code": "invalid_input", "detail": OWNER_LEAVE, "attr": null})
    );
}

async fn get(w: &World, path: &str, key: &str) -> Response {
    w.app.call("GET", path, Some(key), None).await
}

/// Every visible member of the organization, as the owner sees them.
async fn list(w: &World) -> Vec<Value> {
    let r = get(w, &format!("{}?limit=1000", members(w)), &w.owner).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body["results"].as_array().unwrap().clone()
}

/// The member with this email, as the list shows them (None: not listed).
async fn find(w: &World, email: &str) -> Option<Value> {
    list(w)
        .await
        .into_iter()
        .find(|m| m["user"]["email"] == email)
}

async fn uuid_of(w: &World, email: &str) -> String {
    find(w, email).await.expect("a member")["user"]["uuid"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn level_of(w: &World, email: &str) -> Option<i64> {
    find(w, email).await.map(|m| m["level"].as_i64().unwrap())
}

async fn exec(w: &World, stmt: &mut sea_query::UpdateStatement) {
    let mut tx = w.app.db.write().await.unwrap();
    tx.execute(stmt).await.unwrap();
    tx.commit().await.unwrap();
}

async fn deactivate(w: &World, email: &str) {
    exec(
        w,
        Query::update()
            .table(U::Table)
            .value(U::IsActive, false)
            .and_where(Expr::col(U::Email).eq(email)),
    )
    .await;
}

/// Owners of the organization, read from the database (inactive users included).
async fn owner_count(w: &World) -> i64 {
    let mut tx = w.app.db.read().await.unwrap();
    let stmt = Query::select()
        .expr(Expr::col(M::Id).count())
        .from(M::Table)
        .and_where(Expr::col(M::OrganizationId).eq(w.org.as_str()))
        .and_where(Expr::col(M::Level).eq(15))
        .to_owned();
    let n = tx.query_opt(&stmt, |r| r.i64(0)).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    n
}

#[tokio::test]
async fn list_shows_active_members_newest_first_in_posthog_shape() {
    let w = World::new().await;
    w.app.add_member(&w.org, "gone@example.com", 1).await;
    deactivate(&w, "gone@example.com").await;
    w.app.add_member(&w.org, "robot@posthogbot.user", 1).await;
    let r = get(&w, &members(&w), &w.member).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["count"], 3, "inactive users and bots are hidden");
    let results = r.body["results"].as_array().unwrap();
    let emails: Vec<&str> = results
        .iter()
        .map(|m| m["user"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(
        emails,
        [
            "member@example.com",
            "admin@example.com",
            "owner@example.com"
        ]
    );
    let m = &results[0];
    let keys: Vec<&str> = m.as_object().unwrap().keys().map(String::as_str).collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        [
            "has_social_auth",
            "id",
            "is_2fa_enabled",
            "joined_at",
            "last_login",
            "level",
            "updated_at",
            "user"
        ]
    );
    assert_eq!(m["level"], 1);
    assert_eq!(m["is_2fa_enabled"], false);
    assert_eq!(m["has_social_auth"], false);
    assert_eq!(m["last_login"], Value::Null);
    assert!(uuid::Uuid::parse_str(m["id"].as_str().unwrap()).is_ok());
    assert!(m["joined_at"].as_str().unwrap().ends_with('Z'));
    let user = m["user"].as_object().unwrap();
    let mut user_keys: Vec<&str> = user.keys().map(String::as_str).collect();
    user_keys.sort_unstable();
    assert_eq!(
        user_keys,
        [
            "distinct_id",
            "email",
            "first_name",
            "hedgehog_config",
            "id",
            "is_email_verified",
            "last_name",
            "role_at_organization",
            "uuid"
        ]
    );
    assert_eq!(user["first_name"], "Test");
    assert_eq!(user["is_email_verified"], Value::Null);
    assert_eq!(user["hedgehog_config"], Value::Null);
    assert_eq!(user["role_at_organization"], Value::Null);
    // Paging skips hidden members too.
    let last = get(&w, &format!("{}?limit=1&offset=2", members(&w)), &w.member).await;
    assert_eq!(
        last.body["results"][0]["user"]["email"],
        "owner@example.com"
    );
    assert_eq!(last.body["next"], Value::Null);
    let oldest = get(
        &w,
        &format!("{}?limit=2&order=joined_at", members(&w)),
        &w.member,
    )
    .await;
    let first_two: Vec<&str> = oldest.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(first_two, ["owner@example.com", "admin@example.com"]);
    // The alias and the slashless path serve the same page.
    let current = get(&w, "/api/organizations/@current/members", &w.member).await;
    assert_eq!(current.body["results"], r.body["results"]);
}

#[tokio::test]
async fn list_pages_filters_and_orders() {
    let w = World::new().await;
    w.app.add_member(&w.org, "specific@posthog.com", 1).await;
    let base = members(&w);
    let page = get(&w, &format!("{base}?limit=1"), &w.member).await;
    assert_eq!(page.body["count"], 4);
    assert_eq!(
        page.body["next"],
        format!("http://testserver{base}?limit=1&offset=1")
    );
    assert_eq!(page.body["previous"], Value::Null);
    assert_eq!(
        page.body["results"][0]["user"]["email"],
        "specific@posthog.com"
    );
    let last = get(&w, &format!("{base}?limit=1&offset=3"), &w.member).await;
    assert_eq!(last.body["next"], Value::Null);
    assert_eq!(
        last.body["results"][0]["user"]["email"],
        "owner@example.com"
    );
    let beyond = get(&w, &format!("{base}?offset=10"), &w.member).await;
    assert_eq!(beyond.body["results"], json!([]));
    assert_eq!(beyond.body["count"], 4);

    let by_email = get(&w, &format!("{base}?email=specific@posthog.com"), &w.member).await;
    assert_eq!(by_email.body["count"], 1);
    assert_eq!(
        by_email.body["results"][0]["user"]["email"],
        "specific@posthog.com"
    );
    // Exact, case-sensitive match.
    let other_case = get(&w, &format!("{base}?email=Specific@posthog.com"), &w.member).await;
    assert_eq!(other_case.body["count"], 0);

    let emails = |r: &Response| -> Vec<String> {
        r.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["user"]["email"].as_str().unwrap().to_string())
            .collect()
    };
    let newest_first = vec![
        "specific@posthog.com",
        "member@example.com",
        "admin@example.com",
        "owner@example.com",
    ];
    let oldest_first: Vec<&str> = newest_first.iter().rev().copied().collect();
    for (order, expected) in [
        ("", &newest_first),
        ("?order=-joined_at", &newest_first),
        ("?order=user__first_name", &newest_first),
        ("?order=user__password", &newest_first),
        ("?order=level", &newest_first),
        ("?order=joined_at", &oldest_first),
    ] {
        let r = get(&w, &format!("{base}{order}"), &w.member).await;
        assert_eq!(r.status, StatusCode::OK, "{order}");
        assert_eq!(emails(&r), *expected, "{order}");
    }

    // updated_after: strictly after the given time.
    let admin_uuid = uuid_of(&w, "admin@example.com").await;
    // The newest membership's last change: nobody was updated after it yet.
    let before = find(&w, "specific@posthog.com").await.unwrap()["updated_at"]
        .as_str()
        .unwrap()
        .to_string();
    let r = w
        .app
        .call(
            "PATCH",
            &member(&w, &admin_uuid),
            Some(&w.owner),
            Some(json!({"level": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let changed = r.body["updated_at"].as_str().unwrap().to_string();
    let after = get(
        &w,
        &format!("{base}?updated_after={}", urlencode(&before)),
        &w.member,
    )
    .await;
    assert_eq!(emails(&after), ["admin@example.com"], "{}", after.body);
    let none = get(
        &w,
        &format!("{base}?updated_after={}", urlencode(&changed)),
        &w.member,
    )
    .await;
    assert_eq!(none.body["count"], 0);
    let bad = get(&w, &format!("{base}?updated_after=yesterday"), &w.member).await;
    assert_eq!(
        bad.error(),
        (
            400,
            "invalid_input",
            "Enter a valid date/time.",
            json!("updated_after")
        )
    );
}

fn urlencode(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn search_ranks_exact_matches_first() {
    let w = World::new().await;
    for (email, first, last) in [
        ("ada@example.com", "Ada", "Lovelace"),
        ("grace@example.com", "Grace", "Hopper"),
        ("adalbert@example.com", "Adalbert", "Love"),
    ] {
        admin::create_user(&w.app.db, email, first, last, None)
            .await
            .unwrap();
        admin::add_member(&w.app.db, &w.org, email, 1)
            .await
            .unwrap();
    }
    let base = members(&w);
    let r = get(&w, &format!("{base}?search=ada"), &w.member).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let names: Vec<(&str, &str)> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["user"]["first_name"].as_str().unwrap(),
                m["search_match_type"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(names, [("Ada", "exact"), ("Adalbert", "exact")]);
    // Every word matches somewhere, but not the whole term: similar.
    let r = get(&w, &format!("{base}?search=grace%20hopper"), &w.member).await;
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"][0]["search_match_type"], "similar");
    let r = get(&w, &format!("{base}?search=LOVE"), &w.member).await;
    assert_eq!(r.body["count"], 2);
    // Without search, no search_match_type.
    let r = get(&w, &base, &w.member).await;
    assert!(r.body["results"][0].get("search_match_type").is_none());
    // LIKE wildcards are literal.
    let r = get(&w, &format!("{base}?search=%25"), &w.member).await;
    assert_eq!(r.body["count"], 0);
    let long = "x".repeat(201);
    let r = get(&w, &format!("{base}?search={long}"), &w.member).await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_input",
            "Search query must be 200 characters or fewer.",
            json!("search")
        )
    );
    let r = get(&w, &format!("{base}?search={}", "x".repeat(200)), &w.member).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn non_members_are_refused() {
    let w = World::new().await;
    let uuid = uuid_of(&w, "member@example.com").await;
    let r = get(&w, &members(&w), &w.outsider).await;
    denied(&r, GENERIC_403);
    for (method, path) in [
        ("PATCH", member(&w, &uuid)),
        ("PUT", member(&w, &uuid)),
        ("DELETE", member(&w, &uuid)),
        ("GET", keys_path(&w, &uuid)),
    ] {
        let body = (method != "DELETE" && method != "GET").then(|| json!({"level": 1}));
        let r = w.app.call(method, &path, Some(&w.outsider), body).await;
        denied(&r, GENERIC_403);
    }
    // There is no retrieve: refused before any 405 (a key is refused where
    // PostHog maps no action).
    let r = get(&w, &member(&w, &uuid), &w.outsider).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = get(&w, &member(&w, &uuid), &w.member).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    let r = w
        .app
        .call("POST", &members(&w), Some(&w.owner), Some(json!({})))
        .await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "This action does not support personal API key access",
            Value::Null
        )
    );
    assert_eq!(list(&w).await.len(), 3, "nothing changed");
}

#[tokio::test]
async fn change_level_returns_the_member() {
    let w = World::new().await;
    let uuid = uuid_of(&w, "member@example.com").await;
    let before = find(&w, "member@example.com").await.unwrap();
    let r = w
        .app
        .call(
            "PATCH",
            &member(&w, &uuid),
            Some(&w.owner),
            Some(json!({"level": 8})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["level"], 8);
    assert_eq!(r.body["id"], before["id"]);
    assert_eq!(r.body["user"], before["user"]);
    assert_eq!(r.body["joined_at"], before["joined_at"]);
    assert_eq!(r.body["is_2fa_enabled"], false);
    assert_eq!(r.body["has_social_auth"], false);
    assert_eq!(r.body["last_login"], Value::Null);
    assert_ne!(r.body["updated_at"], before["updated_at"]);
    assert_eq!(find(&w, "member@example.com").await.unwrap(), r.body);

    // Read-only fields are ignored; a body without `level` changes nothing
    // but the timestamp; the level may come as a string (DRF's ChoiceField).
    let r = w
        .app
        .call(
            "PATCH",
            &member(&w, &uuid),
            Some(&w.owner),
            Some(
                json!({"id": "x", "joined_at": "2020-01-01T00:00:00Z", "user": {"email": "x@y.z"}}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["level"], 8);
    assert_eq!(r.body["id"], before["id"]);
    assert_eq!(r.body["user"]["email"], "member@example.com");
    let r = w
        .app
        .call(
            "PUT",
            &member(&w, &uuid),
            Some(&w.owner),
            Some(json!({"level": "1"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "PUT behaves as PATCH");
    assert_eq!(r.body["level"], 1);
}

#[tokio::test]
async fn admins_change_levels_up_to_admin() {
    let w = World::new().await;
    let member_uuid = uuid_of(&w, "member@example.com").await;
    let owner_uuid = uuid_of(&w, "owner@example.com").await;
    let path = member(&w, &member_uuid);
    let r = w
        .app
        .call("PATCH", &path, Some(&w.admin), Some(json!({"level": 8})))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["level"], 8);
    // Only owners make owners.
    let r = w
        .app
        .call("PATCH", &path, Some(&w.admin), Some(json!({"level": 15})))
        .await;
    denied(&r, ONLY_OWNERS);
    // Admins cannot touch owners.
    let r = w
        .app
        .call(
            "PATCH",
            &member(&w, &owner_uuid),
            Some(&w.admin),
            Some(json!({"level": 1})),
        )
        .await;
    denied(&r, HIGHER);
    let r = w
        .app
        .call(
            "PATCH",
            &member(&w, &owner_uuid),
            Some(&w.admin),
            Some(json!({})),
        )
        .await;
    denied(&r, HIGHER);
    let r = w
        .app
        .call("DELETE", &member(&w, &owner_uuid), Some(&w.admin), None)
        .await;
    denied(&r, HIGHER);
    assert_eq!(level_of(&w, "member@example.com").await, Some(8));
    assert_eq!(level_of(&w, "owner@example.com").await, Some(15));
}

#[tokio::test]
async fn members_cannot_change_others() {
    let w = World::new().await;
    let admin_uuid = uuid_of(&w, "admin@example.com").await;
    for body in [json!({"level": 1}), json!({}), json!({"level": 3})] {
        let r = w
            .app
            .call(
                "PATCH",
                &member(&w, &admin_uuid),
                Some(&w.member),
                Some(body),
            )
            .await;
        denied(&r, NOT_ADMIN);
    }
    let r = w
        .app
        .call("DELETE", &member(&w, &admin_uuid), Some(&w.member), None)
        .await;
    denied(&r, NOT_ADMIN);
    assert_eq!(level_of(&w, "admin@example.com").await, Some(8));
}

#[tokio::test]
async fn nobody_changes_their_own_level() {
    let w = World::new().await;
    for (key, email) in [
        (&w.member, "member@example.com"),
        (&w.admin, "admin@example.com"),
        (&w.owner, "owner@example.com"),
    ] {
        let uuid = uuid_of(&w, email).await;
        let level = level_of(&w, email).await.unwrap();
        for path in [member(&w, &uuid), member(&w, "@me")] {
            for new in [1, 8, 15] {
                let r = w
                    .app
                    .call("PATCH", &path, Some(key), Some(json!({"level": new})))
                    .await;
                denied(&r, OWN_LEVEL);
            }
            // Without a level the caller may "update" themselves.
            let r = w.app.call("PATCH", &path, Some(key), Some(json!({}))).await;
            assert_eq!(r.status, StatusCode::OK, "{email}");
            assert_eq!(r.body["level"], level);
        }
    }
    // Field validation comes before the self rule.
    let r = w
        .app
        .call(
            "PATCH",
            &member(&w, "@me"),
            Some(&w.admin),
            Some(json!({"level": 3})),
        )
        .await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_choice",
            "\"3\" is not a valid choice.",
            json!("level")
        )
    );
}

#[tokio::test]
async fn owners_add_owners_and_stay_owners() {
    let w = World::new().await;
    let uuid = uuid_of(&w, "member@example.com").await;
    let r = w
        .app
        .call(
            "PATCH",
            &member(&w, &uuid),
            Some(&w.owner),
            Some(json!({"level": 15})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(level_of(&w, "member@example.com").await, Some(15));
    assert_eq!(level_of(&w, "owner@example.com").await, Some(15));
    // An owner may demote another owner, but not remove one.
    let r = w
        .app
        .call("DELETE", &member(&w, &uuid), Some(&w.owner), None)
        .await;
    owner_cannot_leave(&r);
    let r = w
        .app
        .call(
            "PATCH",
            &member(&w, &uuid),
            Some(&w.owner),
            Some(json!({"level": 8})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(level_of(&w, "member@example.com").await, Some(8));
}

#[tokio::test]
async fn removing_members_and_leaving() {
    let w = World::new().await;
    w.app
        .add_member(&w.org, "second-admin@example.com", 8)
        .await;
    w.app.add_member(&w.org, "leaver@example.com", 1).await;
    let leaver = w.app.key("leaver@example.com", &["*"]).await;
    let admin_uuid = uuid_of(&w, "second-admin@example.com").await;
    let member_uuid = uuid_of(&w, "member@example.com").await;
    let leaver_uuid = uuid_of(&w, "leaver@example.com").await;
    let owner_uuid = uuid_of(&w, "owner@example.com").await;

    // Admins remove members and other admins.
    let r = w
        .app
        .call("DELETE", &member(&w, &member_uuid), Some(&w.admin), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(r.body, Value::Null, "empty body");
    assert_eq!(find(&w, "member@example.com").await, None);
    let r = w
        .app
        .call("DELETE", &member(&w, &admin_uuid), Some(&w.admin), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // Gone: a second delete is 404.
    let r = w
        .app
        .call("DELETE", &member(&w, &member_uuid), Some(&w.owner), None)
        .await;
    assert_eq!(r.error(), (404, "not_found", "Not found.", Value::Null));

    // Members may leave, by uuid or @me.
    let r = w
        .app
        .call("DELETE", &member(&w, &leaver_uuid), Some(&leaver), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(find(&w, "leaver@example.com").await, None);
    let r = w
        .app
        .call("DELETE", &member(&w, "@me"), Some(&w.admin), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert_eq!(find(&w, "admin@example.com").await, None);

    // Owners cannot leave.
    for path in [member(&w, &owner_uuid), member(&w, "@me")] {
        let r = w.app.call("DELETE", &path, Some(&w.owner), None).await;
        owner_cannot_leave(&r);
    }
    assert_eq!(list(&w).await.len(), 1);
    assert_eq!(owner_count(&w).await, 1);
}

#[tokio::test]
async fn unknown_malformed_foreign_and_inactive_members_are_404() {
    let w = World::new().await;
    w.app.add_member(&w.org, "gone@example.com", 1).await;
    let gone_uuid = uuid_of(&w, "gone@example.com").await;
    deactivate(&w, "gone@example.com").await;
    let outsider_uuid = {
        let r = get(
            &w,
            &format!("/api/organizations/{}/members/", w.other_org),
            &w.outsider,
        )
        .await;
        r.body["results"][0]["user"]["uuid"]
            .as_str()
            .unwrap()
            .to_string()
    };
    for id in [
        "not-a-uuid".to_string(),
        "1234".to_string(),
        "%F0%9F%A6%94".to_string(),
        "0190c0de-0000-7000-8000-000000000099".to_string(),
        outsider_uuid,
        gone_uuid,
        "@you".to_string(),
    ] {
        for (method, path) in [
            ("PATCH", member(&w, &id)),
            ("PUT", member(&w, &id)),
            ("DELETE", member(&w, &id)),
            ("GET", keys_path(&w, &id)),
        ] {
            let body = matches!(method, "PATCH" | "PUT").then(|| json!({"level": 1}));
            let r = w.app.call(method, &path, Some(&w.owner), body).await;
            assert_eq!(
                r.error(),
                (404, "not_found", "Not found.", Value::Null),
                "{method} {path}"
            );
        }
    }
    // An uppercase uuid names the same user.
    let uuid = uuid_of(&w, "member@example.com").await;
    let r = get(&w, &keys_path(&w, &uuid.to_uppercase()), &w.owner).await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn bad_level_values() {
    let w = World::new().await;
    let uuid = uuid_of(&w, "member@example.com").await;
    let path = member(&w, &uuid);
    for (body, code, detail) in [
        (
            json!({"level": 3}),
            "invalid_choice",
            "\"3\" is not a valid choice.",
        ),
        (
            json!({"level": 0}),
            "invalid_choice",
            "\"0\" is not a valid choice.",
        ),
        (
            json!({"level": 8.0}),
            "invalid_choice",
            "\"8.0\" is not a valid choice.",
        ),
        (
            json!({"level": "owner"}),
            "invalid_choice",
            "\"owner\" is not a valid choice.",
        ),
        (
            json!({"level": ""}),
            "invalid_choice",
            "\"\" is not a valid choice.",
        ),
        (
            json!({"level": true}),
            "invalid_choice",
            "\"True\" is not a valid choice.",
        ),
        (
            json!({"level": [8]}),
            "invalid_choice",
            "\"[8]\" is not a valid choice.",
        ),
        (
            json!({"level": null}),
            "null",
            "This field may not be null.",
        ),
    ] {
        let r = w
            .app
            .call("PATCH", &path, Some(&w.owner), Some(body.clone()))
            .await;
        assert_eq!(r.error(), (400, code, detail, json!("level")), "{body}");
    }
    assert_eq!(level_of(&w, "member@example.com").await, Some(1));
}

/// Sets a key's `last_used_at` to `days` days ago.
async fn used_days_ago(w: &World, value: &str, days: i64) -> i64 {
    let at = prickle::time::now_micros() - days * 24 * prickle::time::HOUR_MICROS;
    exec(
        w,
        Query::update()
            .table(K::Table)
            .value(K::LastUsedAt, at)
            .and_where(Expr::col(K::SecureValue).eq(prickle::auth::keys::secure_value(value))),
    )
    .await;
    at
}

async fn labelled_key(
    w: &World,
    email: &str,
    label: &str,
    orgs: Option<Vec<String>>,
    teams: Option<Vec<i64>>,
) -> String {
    let k = admin::create_personal_api_key(
        &w.app.db,
        admin::NewKey {
            email,
            label,
            scopes: vec!["*".into()],
            scoped_organizations: orgs,
            scoped_teams: teams,
        },
    )
    .await
    .unwrap();
    k["value"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn scoped_api_keys_lists_the_keys_that_reach_the_organization() {
    let w = World::new().await;
    w.app.add_member(&w.org, "keyholder@example.com", 1).await;
    let uuid = uuid_of(&w, "keyholder@example.com").await;
    let path = keys_path(&w, &uuid);
    let r = get(&w, &path, &w.member).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body,
        json!({"has_keys": false, "has_keys_active_last_week": false, "keys": []})
    );

    let old = labelled_key(
        &w,
        "keyholder@example.com",
        "Old Org Key",
        Some(vec![w.org.clone()]),
        None,
    )
    .await;
    let at = used_days_ago(&w, &old, 14).await;
    let r = get(&w, &path, &w.member).await;
    assert_eq!(
        r.body,
        json!({
            "has_keys": true,
            "has_keys_active_last_week": false,
            "keys": [{"name": "Old Org Key", "last_used_at": prickle::time::format(at)}]
        })
    );

    let project = w.create_project("Scoped").await["id"].as_i64().unwrap();
    let team = labelled_key(
        &w,
        "keyholder@example.com",
        "Team Key",
        None,
        Some(vec![project]),
    )
    .await;
    used_days_ago(&w, &team, 2).await;
    labelled_key(
        &w,
        "keyholder@example.com",
        "Empty Scoping",
        Some(vec![]),
        Some(vec![]),
    )
    .await;
    let r = get(&w, &path, &w.member).await;
    assert_eq!(r.body["has_keys_active_last_week"], true);
    let names: Vec<&str> = r.body["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Old Org Key", "Team Key", "Empty Scoping"]);
    assert_eq!(r.body["keys"][2]["last_used_at"], Value::Null);

    labelled_key(&w, "keyholder@example.com", "Unscoped", None, None).await;
    let r = get(&w, &path, &w.member).await;
    assert_eq!(r.body["keys"].as_array().unwrap().len(), 4);
    for k in r.body["keys"].as_array().unwrap() {
        let mut fields: Vec<&String> = k.as_object().unwrap().keys().collect();
        fields.sort();
        assert_eq!(fields, ["last_used_at", "name"], "never a value or digest");
    }

    // Keys scoped elsewhere do not reach this organization.
    w.app.add_member(&w.org, "elsewhere@example.com", 1).await;
    admin::add_member(&w.app.db, &w.other_org, "elsewhere@example.com", 1)
        .await
        .unwrap();
    let other_project = w.create_other_project("Theirs").await["id"]
        .as_i64()
        .unwrap();
    labelled_key(
        &w,
        "elsewhere@example.com",
        "Other Org",
        Some(vec![w.other_org.clone()]),
        None,
    )
    .await;
    labelled_key(
        &w,
        "elsewhere@example.com",
        "Other Team",
        None,
        Some(vec![other_project]),
    )
    .await;
    let elsewhere = uuid_of(&w, "elsewhere@example.com").await;
    let r = get(&w, &keys_path(&w, &elsewhere), &w.member).await;
    assert_eq!(
        r.body,
        json!({"has_keys": false, "has_keys_active_last_week": false, "keys": []})
    );

    // prickle serves personal API keys here with organization_member:read
    // (PostHog declares no scope and refuses them).
    let read = w
        .app
        .key("member@example.com", &["organization_member:read"])
        .await;
    assert_eq!(get(&w, &path, &read).await.status, StatusCode::OK);
    let r = get(&w, &keys_path(&w, "@me"), &w.member).await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["has_keys"], true, "the member's own * key");
    let wrong = w.app.key("member@example.com", &["project:read"]).await;
    assert_eq!(
        get(&w, &path, &wrong).await.error().2,
        "API key missing required scope 'organization_member:read'"
    );
}

#[tokio::test]
async fn scopes_for_members_routes() {
    let w = World::new().await;
    let uuid = uuid_of(&w, "member@example.com").await;
    let read = w
        .app
        .key("owner@example.com", &["organization_member:read"])
        .await;
    let write = w
        .app
        .key("owner@example.com", &["organization_member:write"])
        .await;
    assert_eq!(get(&w, &members(&w), &read).await.status, StatusCode::OK);
    assert_eq!(get(&w, &members(&w), &write).await.status, StatusCode::OK);
    let r = w
        .app
        .call(
            "PATCH",
            &member(&w, &uuid),
            Some(&read),
            Some(json!({"level": 8})),
        )
        .await;
    denied(
        &r,
        "API key missing required scope 'organization_member:write'",
    );
    let r = w
        .app
        .call("DELETE", &member(&w, &uuid), Some(&read), None)
        .await;
    denied(
        &r,
        "API key missing required scope 'organization_member:write'",
    );
    let r = w
        .app
        .call(
            "PATCH",
            &member(&w, &uuid),
            Some(&write),
            Some(json!({"level": 8})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}

#[tokio::test]
async fn a_removed_member_loses_access_at_once() {
    let w = World::new().await;
    let project = w.create_project("Here").await["id"].as_i64().unwrap();
    // The member also belongs to the other organization, joined later, so
    // this organization stays their current one until they are removed.
    admin::add_member(&w.app.db, &w.other_org, "member@example.com", 1)
        .await
        .unwrap();
    exec(
        &w,
        Query::update()
            .table(U::Table)
            .value(U::CurrentTeamId, project)
            .and_where(Expr::col(U::Email).eq("member@example.com")),
    )
    .await;
    let current = get(&w, "/api/organizations/@current/members/", &w.member).await;
    assert_eq!(current.body["count"], 3, "@current is this organization");
    let uuid = uuid_of(&w, "member@example.com").await;
    let r = w
        .app
        .call("DELETE", &member(&w, &uuid), Some(&w.owner), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    // Every route of the organization refuses them from the next request.
    denied(&get(&w, &members(&w), &w.member).await, GENERIC_403);
    let r = get(&w, &w.project(project), &w.member).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = get(&w, &w.projects(), &w.member).await;
    assert_eq!(r.body["count"], 0);
    // @current now means the organization they still belong to.
    let current = get(&w, "/api/organizations/@current/members/", &w.member).await;
    assert_eq!(current.status, StatusCode::OK);
    let emails: Vec<&str> = current.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["user"]["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, ["member@example.com", "outsider@example.com"]);
    let r = get(
        &w,
        "/api/organizations/@current/projects/@current/",
        &w.member,
    )
    .await;
    assert_eq!(
        r.status,
        StatusCode::NOT_FOUND,
        "no project there: {}",
        r.body
    );

    // Leaving the last organization leaves no @current at all.
    let r = w
        .app
        .call(
            "DELETE",
            &format!("/api/organizations/{}/members/@me/", w.other_org),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let r = get(&w, "/api/organizations/@current/members/", &w.member).await;
    assert_eq!(
        r.error(),
        (404, "not_found", "Organization not found.", Value::Null)
    );
}

#[tokio::test]
async fn admin_add_member_prints_the_member_as_the_api_shows_it() {
    let w = World::new().await;
    w.app.user("newcomer@example.com").await;
    let printed = admin::add_member(&w.app.db, &w.org, "newcomer@example.com", 8)
        .await
        .unwrap();
    assert_eq!(Some(printed), find(&w, "newcomer@example.com").await);
    w.app.user("nobody@example.com").await;
    for level in [0, 2, 3, 7, 9, 14, 16, -1, 100] {
        let e = admin::add_member(&w.app.db, &w.org, "nobody@example.com", level)
            .await
            .unwrap_err();
        assert!(e.contains("level"), "{e}");
    }
    assert_eq!(
        find(&w, "nobody@example.com").await,
        None,
        "nothing written"
    );
}

// ---------------------------------------------------------------------------------------------
// Concurrency: conflicting requests at once; every outcome must be one
// PostHog could give, and the organization always keeps an owner.

async fn spawn_call(
    w: &Arc<World>,
    method: &'static str,
    path: String,
    key: String,
    body: Option<Value>,
) -> tokio::task::JoinHandle<Response> {
    let w = w.clone();
    tokio::spawn(async move { w.app.call(method, &path, Some(&key), body).await })
}

fn outcome(r: &Response) -> (u16, String) {
    (
        r.status.as_u16(),
        r.body["detail"].as_str().unwrap_or("").to_string(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_admins_demoting_each_other() {
    let w = Arc::new(World::new().await);
    w.app.add_member(&w.org, "admin2@example.com", 8).await;
    let admin2 = w.app.key("admin2@example.com", &["*"]).await;
    let a = uuid_of(&w, "admin@example.com").await;
    let b = uuid_of(&w, "admin2@example.com").await;
    for round in 0..8 {
        let x = spawn_call(
            &w,
            "PATCH",
            member(&w, &b),
            w.admin.clone(),
            Some(json!({"level": 1})),
        )
        .await;
        let y = spawn_call(
            &w,
            "PATCH",
            member(&w, &a),
            admin2.clone(),
            Some(json!({"level": 1})),
        )
        .await;
        let (x, y) = (x.await.unwrap(), y.await.unwrap());
        let mut got = [outcome(&x), outcome(&y)];
        got.sort();
        assert_eq!(
            got,
            [(200, String::new()), (403, NOT_ADMIN.to_string())],
            "round {round}: {} / {}",
            x.body,
            y.body
        );
        let levels = (
            level_of(&w, "admin@example.com").await.unwrap(),
            level_of(&w, "admin2@example.com").await.unwrap(),
        );
        assert!(
            levels == (8, 1) || levels == (1, 8),
            "round {round}: {levels:?}"
        );
        // Both admins again for the next round.
        let r = w
            .app
            .call(
                "PATCH",
                &member(&w, &a),
                Some(&w.owner),
                Some(json!({"level": 8})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let r = w
            .app
            .call(
                "PATCH",
                &member(&w, &b),
                Some(&w.owner),
                Some(json!({"level": 8})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_last_two_owners_demoting_each_other_leave_one() {
    let w = Arc::new(World::new().await);
    let owner = uuid_of(&w, "owner@example.com").await;
    let other = uuid_of(&w, "admin@example.com").await;
    for round in 0..8 {
        let r = w
            .app
            .call(
                "PATCH",
                &member(&w, &other),
                Some(&w.owner),
                Some(json!({"level": 15})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "round {round}: {}", r.body);
        let x = spawn_call(
            &w,
            "PATCH",
            member(&w, &other),
            w.owner.clone(),
            Some(json!({"level": 8})),
        )
        .await;
        let y = spawn_call(
            &w,
            "PATCH",
            member(&w, &owner),
            w.admin.clone(),
            Some(json!({"level": 8})),
        )
        .await;
        let (x, y) = (x.await.unwrap(), y.await.unwrap());
        let mut got = [outcome(&x), outcome(&y)];
        got.sort();
        assert_eq!(
            got,
            [(200, String::new()), (403, HIGHER.to_string())],
            "round {round}: {} / {}",
            x.body,
            y.body
        );
        assert_eq!(owner_count(&w).await, 1, "round {round}");
        // Put the original owner back on top.
        if level_of(&w, "owner@example.com").await == Some(8) {
            let r = w
                .app
                .call(
                    "PATCH",
                    &member(&w, &owner),
                    Some(&w.admin),
                    Some(json!({"level": 15})),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK);
            let r = w
                .app
                .call(
                    "PATCH",
                    &member(&w, &other),
                    Some(&w.owner),
                    Some(json!({"level": 8})),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK);
        }
        assert_eq!(level_of(&w, "owner@example.com").await, Some(15));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn promoting_and_removing_the_same_person() {
    let w = Arc::new(World::new().await);
    for round in 0..8 {
        let email = format!("target{round}@example.com");
        w.app.add_member(&w.org, &email, 1).await;
        let uuid = uuid_of(&w, &email).await;
        let promote = spawn_call(
            &w,
            "PATCH",
            member(&w, &uuid),
            w.owner.clone(),
            Some(json!({"level": 15})),
        )
        .await;
        let remove = spawn_call(&w, "DELETE", member(&w, &uuid), w.admin.clone(), None).await;
        let (p, d) = (promote.await.unwrap(), remove.await.unwrap());
        let got = (outcome(&p), outcome(&d));
        let promoted_first = ((200, String::new()), (403, HIGHER.to_string()));
        let removed_first = ((404, "Not found.".to_string()), (204, String::new()));
        assert!(
            got == promoted_first || got == removed_first,
            "round {round}: {got:?}"
        );
        let level = level_of(&w, &email).await;
        if got == promoted_first {
            assert_eq!(level, Some(15));
        } else {
            assert_eq!(level, None);
        }
        assert!(owner_count(&w).await >= 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn removing_a_member_while_their_key_is_in_use() {
    let w = Arc::new(World::new().await);
    let uuid = uuid_of(&w, "member@example.com").await;
    let mut readers = Vec::new();
    for _ in 0..16 {
        readers.push(spawn_call(&w, "GET", members(&w), w.member.clone(), None).await);
    }
    let remove = spawn_call(&w, "DELETE", member(&w, &uuid), w.owner.clone(), None).await;
    for _ in 0..16 {
        readers.push(spawn_call(&w, "GET", members(&w), w.member.clone(), None).await);
    }
    // The member also tries to promote... themselves: never allowed.
    let own = spawn_call(
        &w,
        "PATCH",
        member(&w, "@me"),
        w.member.clone(),
        Some(json!({"level": 8})),
    )
    .await;
    assert_eq!(remove.await.unwrap().status, StatusCode::NO_CONTENT);
    let own = own.await.unwrap();
    assert!(
        [(403, OWN_LEVEL.to_string()), (403, GENERIC_403.to_string())].contains(&outcome(&own)),
        "{}",
        own.body
    );
    for r in readers {
        let r = r.await.unwrap();
        match r.status.as_u16() {
            200 => assert!(r.body["count"].as_i64().unwrap() >= 2),
            403 => assert_eq!(r.body["detail"], GENERIC_403),
            other => panic!("unexpected {other}: {}", r.body),
        }
    }
    denied(&get(&w, &members(&w), &w.member).await, GENERIC_403);
    assert_eq!(owner_count(&w).await, 1);
}

/// Adds `count` level-1 members straight to the database, oldest first.
async fn crowd(w: &World, count: usize) {
    let mut tx = w.app.db.write().await.unwrap();
    let start = prickle::time::now_micros() - 10_000_000_000;
    let mut users = Query::insert();
    users.into_table(U::Table).columns([
        U::Uuid,
        U::DistinctId,
        U::FirstName,
        U::LastName,
        U::Email,
        U::EmailKey,
        U::IsActive,
        U::DateJoined,
    ]);
    for n in 0..count {
        let email = format!("crowd{n}@example.com");
        users.values_panic([
            uuid::Uuid::now_v7().to_string().into(),
            format!("d{n}").into(),
            format!("Crowd {n}").into(),
            "".into(),
            email.clone().into(),
            email.into(),
            true.into(),
            start.into(),
        ]);
    }
    users.returning_col(U::Id);
    let ids = tx.query(&users, |r| r.i64(0)).await.unwrap();
    let mut memberships = Query::insert();
    memberships.into_table(M::Table).columns([
        M::Id,
        M::OrganizationId,
        M::UserId,
        M::Level,
        M::JoinedAt,
        M::UpdatedAt,
    ]);
    for (i, id) in ids.iter().enumerate() {
        let joined = start + i as i64 * 1000;
        memberships.values_panic([
            uuid::Uuid::now_v7().to_string().into(),
            w.org.clone().into(),
            (*id).into(),
            1i64.into(),
            joined.into(),
            joined.into(),
        ]);
    }
    tx.execute(&memberships).await.unwrap();
    tx.commit().await.unwrap();
}

/// A big organization's list (pages kept rendered between commits on SQLite)
/// shows every change from the next request on.
#[tokio::test]
async fn big_organizations_list_reflects_every_change_at_once() {
    let w = World::new().await;
    crowd(&w, 1200).await;
    let base = members(&w);
    let page = |q: &'static str| {
        let w = &w;
        let base = base.clone();
        async move { get(w, &format!("{base}{q}"), &w.member).await.body }
    };
    let emails = |v: &Value| -> Vec<String> {
        v["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["user"]["email"].as_str().unwrap().to_string())
            .collect()
    };
    let first = page("?limit=2").await;
    assert_eq!(first["count"], 1203);
    // The crowd is dated in the past: the World's people are the newest.
    assert_eq!(emails(&first), ["member@example.com", "admin@example.com"]);
    let last = page("?limit=2&offset=1201").await;
    assert_eq!(emails(&last), ["crowd1@example.com", "crowd0@example.com"]);
    let oldest = page("?limit=2&order=joined_at").await;
    assert_eq!(
        emails(&oldest),
        ["crowd0@example.com", "crowd1@example.com"]
    );
    let middle = page("?limit=1&offset=603").await;
    assert_eq!(emails(&middle), ["crowd599@example.com"]);

    // A level change.
    let admin_uuid = uuid_of(&w, "admin@example.com").await;
    let r = w
        .app
        .call(
            "PATCH",
            &member(&w, &admin_uuid),
            Some(&w.owner),
            Some(json!({"level": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(page("?limit=2").await["results"][1]["level"], 1);
    // A deactivated user disappears, from the count and the offsets.
    deactivate(&w, "crowd0@example.com").await;
    let last = page("?limit=2&offset=1200").await;
    assert_eq!(last["count"], 1202);
    assert_eq!(emails(&last), ["crowd2@example.com", "crowd1@example.com"]);
    // A removal.
    let member_uuid = uuid_of(&w, "member@example.com").await;
    let r = w
        .app
        .call("DELETE", &member(&w, &member_uuid), Some(&w.owner), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    let first = get(&w, &format!("{base}?limit=1"), &w.admin).await.body;
    assert_eq!(first["count"], 1201);
    assert_eq!(emails(&first), ["admin@example.com"]);
    // A new member, added by another process's kind of write (the admin command).
    w.app.add_member(&w.org, "late@example.com", 8).await;
    let first = get(&w, &format!("{base}?limit=1"), &w.admin).await.body;
    assert_eq!(first["count"], 1202);
    assert_eq!(emails(&first), ["late@example.com"]);
    // A renamed user shows the new name.
    exec(
        &w,
        Query::update()
            .table(U::Table)
            .value(U::FirstName, "Renamed")
            .and_where(Expr::col(U::Email).eq("late@example.com")),
    )
    .await;
    let first = get(&w, &format!("{base}?limit=1"), &w.admin).await.body;
    assert_eq!(first["results"][0]["user"]["first_name"], "Renamed");
}
