//! Invites: PostHog's invite behaviours (§6 of the members/invites summary,
//! items 1-53), on the real router and database.

use axum::http::StatusCode;
use prickle::storage::schema::{OrganizationInvites as I, Users as U};
use sea_query::{Expr, ExprTrait, Query};
use serde_json::{json, Value};

use crate::support::{Response, World, SITE};

const GENERIC: &str = "You do not have permission to perform this action.";
const HIGHER: &str = "You cannot invite a user with a higher permission level than your own.";
const TEAM_ERROR: &str =
    "Project does not exist on this organization, or it is private and you do not have access to it.";
const DAY: i64 = 24 * 3_600_000_000;

pub fn invites_path(org: &str) -> String {
    format!("/api/organizations/{org}/invites/")
}

async fn post(w: &World, key: &str, body: Value) -> Response {
    w.app
        .call("POST", &invites_path(&w.org), Some(key), Some(body))
        .await
}

async fn bulk(w: &World, key: &str, body: Value) -> Response {
    let path = format!("{}bulk/", invites_path(&w.org));
    w.app.call("POST", &path, Some(key), Some(body)).await
}

/// Every stored invite of the organization, read straight from the database.
pub async fn stored(w: &World) -> Vec<(String, String, i64, Option<String>)> {
    let mut tx = w.app.db.read().await.unwrap();
    let q = Query::select()
        .columns([I::Id, I::TargetEmail, I::Level, I::PrivateProjectAccess])
        .from(I::Table)
        .and_where(Expr::col(I::OrganizationId).eq(w.org.as_str()))
        .to_owned();
    tx.query(&q, |r| {
        Ok((r.string(0)?, r.string(1)?, r.i64(2)?, r.opt_string(3)?))
    })
    .await
    .unwrap()
}

/// Moves an invite's creation back in time.
pub async fn age(w: &World, id: &str, micros: i64) {
    let mut tx = w.app.db.write().await.unwrap();
    let q = Query::update()
        .table(I::Table)
        .value(I::CreatedAt, micros)
        .and_where(Expr::col(I::Id).eq(id))
        .to_owned();
    tx.execute(&q).await.unwrap();
    tx.commit().await.unwrap();
}

async fn set_members_can_invite(w: &World, org: &str, v: bool) {
    prickle::admin::update_organization(&w.app.db, org, None, Some(v))
        .await
        .unwrap();
}

fn forbidden(r: &Response, detail: &str) {
    assert_eq!(
        r.error(),
        (403, "permission_denied", detail, Value::Null),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn create_returns_posthog_invite_object() {
    let w = World::new().await;
    let r = post(&w, &w.member, json!({"target_email": "x@x.com"})).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let keys: Vec<&str> = r
        .body
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "target_email",
            "first_name",
            "emailing_attempt_made",
            "level",
            "is_expired",
            "created_by",
            "created_at",
            "updated_at",
            "message",
            "private_project_access",
            // prickle's addition, on create only (the sign-up link with its token).
            "signup_url"
        ]
    );
    let id = r.body["id"].as_str().unwrap();
    let link = r.body["signup_url"].as_str().unwrap();
    let token = link
        .strip_prefix(&format!("{SITE}/signup/{id}?token="))
        .unwrap_or_else(|| panic!("{link}"));
    assert_eq!(token.len(), 43, "{link}");
    assert_eq!(r.body["target_email"], "x@x.com");
    assert_eq!(r.body["first_name"], "");
    assert_eq!(r.body["level"], 1);
    assert_eq!(r.body["is_expired"], false);
    // Email is not configured in this app: no attempt (item 7).
    assert_eq!(r.body["emailing_attempt_made"], false);
    assert_eq!(r.body["message"], Value::Null);
    assert_eq!(r.body["private_project_access"], json!([]));
    let by = &r.body["created_by"];
    assert_eq!(by["email"], "member@example.com");
    assert_eq!(by["hedgehog_config"], Value::Null);
    assert_eq!(by["role_at_organization"], Value::Null);
    assert!(by["uuid"].is_string() && by["id"].is_i64());
    assert!(uuid::Uuid::parse_str(r.body["id"].as_str().unwrap()).is_ok());
    // Read-only fields sent are ignored.
    let r = post(
        &w,
        &w.member,
        json!({"target_email": "y@x.com", "id": "nope", "emailing_attempt_made": true, "is_expired": true, "message": "Hi!", "first_name": "Yan"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_ne!(r.body["id"], "nope");
    assert_eq!(r.body["emailing_attempt_made"], false);
    assert_eq!(r.body["is_expired"], false);
    assert_eq!(r.body["message"], "Hi!");
    assert_eq!(r.body["first_name"], "Yan");
}

#[tokio::test]
async fn list_is_for_members_newest_first_with_expired_flagged() {
    let w = World::new().await;
    let first = post(&w, &w.owner, json!({"target_email": "a@x.com"})).await;
    let second = post(&w, &w.owner, json!({"target_email": "b@x.com"})).await;
    age(
        &w,
        first.body["id"].as_str().unwrap(),
        1_700_000_000_000_000,
    )
    .await;
    let r = w
        .app
        .call("GET", &invites_path(&w.org), Some(&w.member), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["count"], 2);
    assert_eq!(r.body["next"], Value::Null);
    assert_eq!(r.body["results"][0]["id"], second.body["id"]);
    assert_eq!(r.body["results"][0]["is_expired"], false);
    assert_eq!(r.body["results"][1]["id"], first.body["id"]);
    assert_eq!(r.body["results"][1]["is_expired"], true);
    assert_eq!(
        r.body["results"][1]["created_by"]["email"],
        "owner@example.com"
    );
    // Paginated like every PostHog list.
    let page = w
        .app
        .call(
            "GET",
            &format!("{}?limit=1", invites_path(&w.org)),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(page.body["results"].as_array().unwrap().len(), 1);
    assert_eq!(
        page.body["next"],
        format!("http://testserver{}?limit=1&offset=1", invites_path(&w.org))
    );
    // Items 1-2: not for outsiders, and a key cannot reach the detail path.
    let r = w
        .app
        .call("GET", &invites_path(&w.org), Some(&w.outsider), None)
        .await;
    forbidden(&r, GENERIC);
    let detail = format!(
        "{}{}/",
        invites_path(&w.org),
        second.body["id"].as_str().unwrap()
    );
    let r = w.app.call("GET", &detail, Some(&w.outsider), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Item 52: no retrieve or update; a personal API key is refused before the 405.
    for method in ["GET", "PATCH", "PUT"] {
        let r = w
            .app
            .call(method, &detail, Some(&w.member), Some(json!({})))
            .await;
        forbidden(&r, "This action does not support personal API key access");
    }
}

#[tokio::test]
async fn creator_deleted_leaves_created_by_null() {
    let w = World::new().await;
    w.app.user("leaver@example.com").await;
    prickle::admin::add_member(&w.app.db, &w.org, "leaver@example.com", 8)
        .await
        .unwrap();
    let key = w.app.key("leaver@example.com", &["*"]).await;
    let r = post(&w, &key, json!({"target_email": "x@x.com"})).await;
    assert_eq!(r.status, StatusCode::CREATED);
    let mut tx = w.app.db.write().await.unwrap();
    tx.execute(
        &Query::delete()
            .from_table(U::Table)
            .and_where(Expr::col(U::Email).eq("leaver@example.com"))
            .to_owned(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let r = w
        .app
        .call("GET", &invites_path(&w.org), Some(&w.owner), None)
        .await;
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"][0]["created_by"], Value::Null);
}

#[tokio::test]
async fn validation_errors() {
    let w = World::new().await;
    // Item 3.
    let r = post(&w, &w.member, json!({})).await;
    assert_eq!(
        r.body,
        json!({"type": "validation_error", "code": "required", "detail": "This field is required.", "attr": "target_email"})
    );
    let r = post(&w, &w.member, json!({"target_email": "not-an-email"})).await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_input",
            "Enter a valid email address.",
            json!("target_email")
        )
    );
    let r = post(&w, &w.member, json!({"target_email": "a@b.co", "level": 3})).await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_choice",
            "\"3\" is not a valid choice.",
            json!("level")
        )
    );
    let r = post(
        &w,
        &w.member,
        json!({"target_email": "a@b.co", "first_name": "x".repeat(31)}),
    )
    .await;
    assert_eq!(r.error().1, "max_length");
    assert_eq!(r.error().3, json!("first_name"));
    // The level 403 beats an earlier field's 400.
    let r = post(&w, &w.member, json!({"target_email": "bad", "level": 8})).await;
    forbidden(&r, HIGHER);
    // Strings of digits are accepted for the level.
    let r = post(
        &w,
        &w.admin,
        json!({"target_email": "a@b.co", "level": "8"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.body["level"], 8);
    assert_eq!(stored(&w).await.len(), 1);
}

#[tokio::test]
async fn earlier_invites_for_the_email_are_replaced() {
    let w = World::new().await;
    // Item 8, and items 42-43: one live invite per email, whatever its case.
    let mut ids = Vec::new();
    for email in ["user@example.com", "User@Example.COM", " USER@example.com "] {
        let r = post(&w, &w.member, json!({"target_email": email})).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(r.body["target_email"], "user@example.com");
        assert_eq!(r.body["created_by"]["email"], "member@example.com");
        ids.push(r.body["id"].as_str().unwrap().to_string());
    }
    let rows = stored(&w).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].0, ids[2]);
    let r = post(
        &w,
        &w.member,
        json!({"target_email": "Test.User@Example.COM"}),
    )
    .await;
    assert_eq!(r.body["target_email"], "test.user@example.com");
}

#[tokio::test]
async fn members_cannot_be_invited_again() {
    let w = World::new().await;
    // Item 44: case-insensitive.
    w.app
        .add_member(&w.org, "Existing.User@Example.COM", 1)
        .await;
    let r = post(
        &w,
        &w.admin,
        json!({"target_email": "existing.user@example.com"}),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_input",
            "A user with this email address already belongs to the organization.",
            Value::Null
        )
    );
    let r = post(&w, &w.admin, json!({"target_email": "member@example.com"})).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert!(stored(&w).await.is_empty());
}

#[tokio::test]
async fn cannot_invite_to_another_organization() {
    let w = World::new().await;
    // Items 15, 19.
    let path = invites_path(&w.other_org);
    let r = w
        .app
        .call(
            "POST",
            &path,
            Some(&w.member),
            Some(json!({"target_email": "x@x.com"})),
        )
        .await;
    forbidden(&r, GENERIC);
    let r = w
        .app
        .call(
            "POST",
            &format!("{path}bulk/"),
            Some(&w.member),
            Some(json!([{"target_email": "x@x.com"}])),
        )
        .await;
    forbidden(&r, GENERIC);
    // A non-member is refused before the key's scope is looked at.
    let read_only = w
        .app
        .key("member@example.com", &["organization_member:read"])
        .await;
    let r = w
        .app
        .call(
            "POST",
            &path,
            Some(&read_only),
            Some(json!({"target_email": "x@x.com"})),
        )
        .await;
    forbidden(&r, GENERIC);
    let mut tx = w.app.db.read().await.unwrap();
    let all = tx
        .query(
            &Query::select().column(I::Id).from(I::Table).to_owned(),
            |r| r.string(0),
        )
        .await
        .unwrap();
    assert!(all.is_empty());
}

#[tokio::test]
async fn nobody_invites_above_their_own_level() {
    let w = World::new().await;
    // Items 27-32.
    forbidden(
        &post(
            &w,
            &w.member,
            json!({"target_email": "a@x.com", "level": 8}),
        )
        .await,
        HIGHER,
    );
    forbidden(
        &post(
            &w,
            &w.admin,
            json!({"target_email": "a@x.com", "level": 15}),
        )
        .await,
        HIGHER,
    );
    assert!(stored(&w).await.is_empty());
    let r = post(
        &w,
        &w.member,
        json!({"target_email": "a@x.com", "level": 1}),
    )
    .await;
    assert_eq!(r.body["level"], 1);
    let r = post(&w, &w.admin, json!({"target_email": "b@x.com", "level": 8})).await;
    assert_eq!(r.body["level"], 8);
    let r = post(
        &w,
        &w.owner,
        json!({"target_email": "c@x.com", "level": 15}),
    )
    .await;
    assert_eq!(r.body["level"], 15);
    let r = bulk(
        &w,
        &w.member,
        json!([{"target_email": "d@x.com", "level": 1}, {"target_email": "e@x.com", "level": 8}, {"target_email": "f@x.com"}]),
    )
    .await;
    forbidden(&r, HIGHER);
    assert_eq!(stored(&w).await.len(), 3);
    let r = bulk(
        &w,
        &w.member,
        json!([{"target_email": "d@x.com", "level": 1}, {"target_email": "e@x.com", "level": 1}]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(stored(&w).await.len(), 5);
    // In bulk, a 403 in a later element beats a 400 in an earlier one.
    let r = bulk(
        &w,
        &w.member,
        json!([{"target_email": "nope"}, {"target_email": "g@x.com", "level": 15}]),
    )
    .await;
    forbidden(&r, HIGHER);
}

#[tokio::test]
async fn members_can_invite_setting() {
    let w = World::new().await;
    // Items 33-37: prickle treats every organization as having the setting.
    set_members_can_invite(&w, &w.org, false).await;
    forbidden(
        &post(&w, &w.member, json!({"target_email": "a@x.com"})).await,
        GENERIC,
    );
    forbidden(
        &bulk(&w, &w.member, json!([{"target_email": "a@x.com"}])).await,
        GENERIC,
    );
    assert!(stored(&w).await.is_empty());
    assert_eq!(
        post(&w, &w.admin, json!({"target_email": "a@x.com"}))
            .await
            .status,
        201
    );
    assert_eq!(
        bulk(&w, &w.owner, json!([{"target_email": "b@x.com"}]))
            .await
            .status,
        201
    );
    let id = stored(&w).await[0].0.clone();
    let r = w
        .app
        .call(
            "DELETE",
            &format!("{}{id}/", invites_path(&w.org)),
            Some(&w.member),
            None,
        )
        .await;
    forbidden(&r, "Your organization access level is insufficient.");
    set_members_can_invite(&w, &w.org, true).await;
    assert_eq!(
        post(&w, &w.member, json!({"target_email": "c@x.com"}))
            .await
            .status,
        201
    );
    assert_eq!(
        bulk(&w, &w.member, json!([{"target_email": "d@x.com"}]))
            .await
            .status,
        201
    );
}

#[tokio::test]
async fn the_organization_in_the_path_decides_who_may_invite() {
    let w = World::new().await;
    // Item 50: member of both, current organization allows, the path's does not.
    prickle::admin::add_member(&w.app.db, &w.other_org, "member@example.com", 1)
        .await
        .unwrap();
    set_members_can_invite(&w, &w.other_org, false).await;
    let r = w
        .app
        .call(
            "POST",
            &invites_path(&w.other_org),
            Some(&w.member),
            Some(json!({"target_email": "x@x.com"})),
        )
        .await;
    forbidden(&r, GENERIC);
    let r = w
        .app
        .call(
            "POST",
            "/api/organizations/@current/invites/",
            Some(&w.member),
            Some(json!({"target_email": "x@x.com"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn bulk_creates_in_order_all_or_nothing() {
    let w = World::new().await;
    // Item 16.
    let payload: Vec<Value> = (0..7)
        .map(|i| json!({"target_email": format!("u{i}@x.com"), "first_name": format!("U{i}"), "message": "hi"}))
        .collect();
    let r = bulk(&w, &w.admin, Value::Array(payload)).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    let out = r.body.as_array().unwrap();
    assert_eq!(out.len(), 7);
    for (i, inv) in out.iter().enumerate() {
        assert_eq!(inv["target_email"], format!("u{i}@x.com"));
        assert_eq!(inv["first_name"], format!("U{i}"));
        assert_eq!(inv["message"], "hi");
    }
    assert_eq!(stored(&w).await.len(), 7);
    // Item 17.
    let many: Vec<Value> = (0..21)
        .map(|i| json!({"target_email": format!("m{i}@x.com")}))
        .collect();
    let r = bulk(&w, &w.admin, Value::Array(many)).await;
    assert_eq!(
        r.body,
        json!({"type": "validation_error", "code": "max_length", "detail": "A maximum of 20 invites can be sent in a single request.", "attr": null})
    );
    // Item 18.
    let mut five: Vec<Value> = (0..4)
        .map(|i| json!({"target_email": format!("n{i}@x.com")}))
        .collect();
    five.push(json!({"target_email": null}));
    let r = bulk(&w, &w.admin, Value::Array(five)).await;
    assert_eq!(
        r.error(),
        (
            400,
            "null",
            "This field may not be null.",
            json!("__4__target_email")
        )
    );
    // decisions.md: one email of a member and nothing is written.
    let r = bulk(
        &w,
        &w.admin,
        json!([{"target_email": "o1@x.com"}, {"target_email": "MEMBER@example.com"}]),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_input",
            "A user with this email address already belongs to the organization.",
            Value::Null
        )
    );
    assert_eq!(stored(&w).await.len(), 7);
    // Item 51, and an empty array.
    let r = bulk(&w, &w.admin, json!({"target_email": "x@x.com"})).await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_input",
            "This endpoint needs an array of data for bulk invite creation.",
            Value::Null
        )
    );
    let r = bulk(&w, &w.admin, json!([])).await;
    assert_eq!((r.status, r.body.clone()), (StatusCode::CREATED, json!([])));
    let r = bulk(&w, &w.admin, json!([{"target_email": "p@x.com"}, 5])).await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_input",
            "Invalid data. Expected a dictionary, but got int.",
            json!("__1__non_field_errors")
        )
    );
    // Duplicates inside one payload leave the last one alive.
    let r = bulk(
        &w,
        &w.admin,
        json!([{"target_email": "dup@x.com", "level": 1}, {"target_email": "Dup@x.com", "level": 8}]),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let dups: Vec<_> = stored(&w)
        .await
        .into_iter()
        .filter(|r| r.1 == "dup@x.com")
        .collect();
    assert_eq!(dups.len(), 1);
    assert_eq!(dups[0].2, 8);
}

#[tokio::test]
async fn delete_is_for_admins_and_owners() {
    let w = World::new().await;
    let mut ids = Vec::new();
    for e in ["a@x.com", "b@x.com"] {
        ids.push(
            post(&w, &w.member, json!({"target_email": e})).await.body["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let path = |id: &str| format!("{}{id}/", invites_path(&w.org));
    // Item 20.
    let r = w
        .app
        .call("DELETE", &path(&ids[0]), Some(&w.member), None)
        .await;
    forbidden(&r, "Your organization access level is insufficient.");
    assert_eq!(stored(&w).await.len(), 2);
    // Items 21-22.
    let r = w
        .app
        .call("DELETE", &path(&ids[0]), Some(&w.admin), None)
        .await;
    assert_eq!(
        (r.status, r.body.clone()),
        (StatusCode::NO_CONTENT, Value::Null)
    );
    let r = w
        .app
        .call("DELETE", &path(&ids[1]), Some(&w.owner), None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
    assert!(stored(&w).await.is_empty());
    // Item 53: unknown, already gone, malformed, or another organization's.
    let theirs = w
        .app
        .call(
            "POST",
            &invites_path(&w.other_org),
            Some(&w.outsider),
            Some(json!({"target_email": "z@x.com"})),
        )
        .await;
    let theirs = theirs.body["id"].as_str().unwrap().to_string();
    for id in [
        uuid::Uuid::new_v4().to_string(),
        ids[0].clone(),
        "abc".into(),
        theirs,
    ] {
        let r = w.app.call("DELETE", &path(&id), Some(&w.admin), None).await;
        assert_eq!(
            r.error(),
            (404, "not_found", "Not found.", Value::Null),
            "{id}"
        );
    }
    // The member is refused before the lookup, even for an unknown id.
    let r = w
        .app
        .call(
            "DELETE",
            &path(&uuid::Uuid::new_v4().to_string()),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn key_scopes() {
    let w = World::new().await;
    // Items 45-49.
    let read = w
        .app
        .key("admin@example.com", &["organization_member:read"])
        .await;
    let write = w
        .app
        .key("admin@example.com", &["organization_member:write"])
        .await;
    let r = w
        .app
        .call("GET", &invites_path(&w.org), Some(&read), None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let missing = "API key missing required scope 'organization_member:write'";
    forbidden(
        &post(&w, &read, json!({"target_email": "a@x.com"})).await,
        missing,
    );
    assert_eq!(
        post(&w, &write, json!({"target_email": "a@x.com"}))
            .await
            .status,
        201
    );
    forbidden(
        &bulk(&w, &read, json!([{"target_email": "b@x.com"}])).await,
        missing,
    );
    let id = stored(&w).await[0].0.clone();
    let r = w
        .app
        .call(
            "DELETE",
            &format!("{}{id}/", invites_path(&w.org)),
            Some(&read),
            None,
        )
        .await;
    forbidden(&r, missing);
    let other = w.app.key("admin@example.com", &["project:read"]).await;
    let r = w
        .app
        .call("GET", &invites_path(&w.org), Some(&other), None)
        .await;
    forbidden(
        &r,
        "API key missing required scope 'organization_member:read'",
    );
}

#[tokio::test]
async fn project_access() {
    let w = World::new().await;
    let mine = w.create_project("Mine").await["id"].as_i64().unwrap();
    let theirs = w.create_other_project("Theirs").await["id"]
        .as_i64()
        .unwrap();
    // Items 9-10, 38-39, 41: a project without rules is open to every
    // member, up to their own level on it (a plain member is `member` there:
    // design Q1, so they cannot make project admins).
    for (key, email, level) in [
        (&w.admin, "a@x.com", "admin"),
        (&w.member, "b@x.com", "member"),
    ] {
        let r = post(
            &w,
            key,
            json!({"target_email": email, "private_project_access": [{"id": mine, "level": level}]}),
        )
        .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        assert_eq!(
            r.body["private_project_access"],
            json!([{"id": mine, "level": level}])
        );
    }
    let r = post(
        &w,
        &w.member,
        json!({"target_email": "e@x.com", "private_project_access": [{"id": mine, "level": "admin"}]}),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_input",
            "You cannot invite to a private project with a higher level than your own.",
            json!("private_project_access")
        )
    );
    // Items 11-12, 40.
    for bad in [
        json!([{"id": theirs, "level": "member"}]),
        json!([{"id": 987654, "level": "member"}]),
    ] {
        let r = post(
            &w,
            &w.admin,
            json!({"target_email": "c@x.com", "private_project_access": bad}),
        )
        .await;
        assert_eq!(
            r.error(),
            (
                400,
                "invalid_input",
                TEAM_ERROR,
                json!("private_project_access")
            )
        );
    }
    let r = post(
        &w,
        &w.admin,
        json!({"target_email": "c@x.com", "private_project_access": [{"id": mine, "level": "none"}]}),
    )
    .await;
    assert_eq!(
        r.error().2,
        "The \"level\" field must be a valid access level."
    );
    // An explicit empty list or null is stored as null; omitted is [].
    for v in [json!([]), Value::Null] {
        let r = post(
            &w,
            &w.admin,
            json!({"target_email": "d@x.com", "private_project_access": v}),
        )
        .await;
        assert_eq!(r.body["private_project_access"], Value::Null);
    }
    assert_eq!(stored(&w).await.len(), 3);
}

#[tokio::test]
async fn combine_pending_invites() {
    let w = World::new().await;
    let t1 = w.create_project("T1").await["id"].as_i64().unwrap();
    let t2 = w.create_project("T2").await["id"].as_i64().unwrap();
    // Item 23.
    let a = post(
        &w,
        &w.admin,
        json!({"target_email": "c@x.com", "level": 1, "private_project_access": [{"id": t1, "level": "member"}]}),
    )
    .await;
    let b = post(
        &w,
        &w.admin,
        json!({"target_email": "c@x.com", "level": 8, "private_project_access": [{"id": t2, "level": "admin"}]}),
    )
    .await;
    let c = post(
        &w,
        &w.admin,
        json!({"target_email": "c@x.com", "level": 1, "private_project_access": [{"id": t1, "level": "admin"}], "combine_pending_invites": true}),
    )
    .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.body);
    assert_eq!(c.body["level"], 8);
    let mut access = c.body["private_project_access"].as_array().unwrap().clone();
    access.sort_by_key(|a| a["id"].as_i64());
    assert_eq!(
        access,
        vec![
            json!({"id": t1, "level": "admin"}),
            json!({"id": t2, "level": "admin"})
        ]
    );
    let rows = stored(&w).await;
    assert_eq!(rows.len(), 1);
    assert!(rows[0].0 != a.body["id"] && rows[0].0 != b.body["id"]);
    // Item 24.
    let r = post(
        &w,
        &w.admin,
        json!({"target_email": "n@x.com", "combine_pending_invites": true}),
    )
    .await;
    assert_eq!(
        (
            r.body["level"].clone(),
            r.body["private_project_access"].clone()
        ),
        (json!(1), json!([]))
    );
    // Item 25: expired invites are not combined (but are replaced).
    let old = post(&w, &w.admin, json!({"target_email": "e@x.com", "level": 8})).await;
    age(&w, old.body["id"].as_str().unwrap(), 1_672_876_800_000_000).await;
    let r = post(
        &w,
        &w.admin,
        json!({"target_email": "e@x.com", "combine_pending_invites": true}),
    )
    .await;
    assert_eq!(r.body["level"], 1);
    // Item 26.
    let r = post(&w, &w.admin, json!({"target_email": "c@x.com"})).await;
    assert_eq!(r.body["level"], 1);
    assert_eq!(
        stored(&w).await.iter().filter(|r| r.1 == "c@x.com").count(),
        1
    );
    // PostHog's 500 on an explicit [] while combining: prickle treats it as absent.
    let r = post(
        &w,
        &w.admin,
        json!({"target_email": "c@x.com", "level": 8, "private_project_access": [], "combine_pending_invites": true}),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["private_project_access"], json!([]));
}

#[tokio::test]
async fn expiry_is_three_days() {
    let w = World::new().await;
    let r = post(&w, &w.admin, json!({"target_email": "t@x.com"})).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let now = prickle::time::now_micros();
    age(&w, &id, now - 3 * DAY + 60_000_000).await;
    let list = w
        .app
        .call("GET", &invites_path(&w.org), Some(&w.admin), None)
        .await;
    assert_eq!(list.body["results"][0]["is_expired"], false);
    age(&w, &id, now - 3 * DAY - 1).await;
    let list = w
        .app
        .call("GET", &invites_path(&w.org), Some(&w.admin), None)
        .await;
    assert_eq!(list.body["results"][0]["is_expired"], true);
}

/// Twenty simultaneous invites for one email leave exactly one invite.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn simultaneous_invites_for_one_email_leave_one() {
    let w = World::new().await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let router = w.app.router.clone();
        let path = invites_path(&w.org);
        let key = w.admin.clone();
        tasks.push(tokio::spawn(async move {
            let email = if i % 2 == 0 {
                "race@x.com"
            } else {
                "RACE@x.com"
            };
            let req = axum::http::Request::builder()
                .method("POST")
                .uri(path)
                .header("authorization", format!("Bearer {key}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    json!({"target_email": email, "level": 1 + (i % 2) * 7}).to_string(),
                ))
                .unwrap();
            let resp = tower::ServiceExt::oneshot(router, req).await.unwrap();
            resp.status()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), StatusCode::CREATED);
    }
    let rows = stored(&w).await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].1, "race@x.com");
}
