//! `/api/users/@me/`: the caller, their current organization and project,
//! and the profile fields a key may change.

use serde_json::{json, Value};

use crate::support::{TestApp, World};

const ME: &str = "/api/users/@me/";

async fn me(w: &World, key: &str) -> Value {
    let r = w.app.call("GET", ME, Some(key), None).await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

async fn patch(w: &World, key: &str, body: Value) -> crate::support::Response {
    w.app.call("PATCH", ME, Some(key), Some(body)).await
}

#[tokio::test]
async fn me_shows_the_caller_their_organizations_and_current_project() {
    let w = World::new().await;
    let body = me(&w, &w.owner).await;
    for field in [
        "id",
        "uuid",
        "distinct_id",
        "first_name",
        "last_name",
        "email",
        "pending_email",
        "is_email_verified",
        "date_joined",
        "is_staff",
        "has_password",
        "is_2fa_enabled",
        "has_social_auth",
        "role_at_organization",
        "notification_settings",
        "anonymize_data",
        "toolbar_mode",
        "theme_mode",
        "is_organization_first_user",
        "pending_invites",
        "team",
        "organization",
        "organizations",
    ] {
        assert!(body.get(field).is_some(), "no {field}: {body}");
    }
    assert_eq!(body["email"], "owner@example.com");
    assert!(body["id"].is_i64());
    assert_eq!(body["is_staff"], false);
    assert_eq!(body["anonymize_data"], false);
    assert_eq!(body["toolbar_mode"], "toolbar");
    assert_eq!(body["notification_settings"]["plugin_disabled"], true);
    assert_eq!(body["is_organization_first_user"], true);
    assert_eq!(body["organization"]["id"], w.org.as_str());
    assert_eq!(body["organization"]["membership_level"], 15);
    // No project yet.
    assert_eq!(body["team"], Value::Null);
    assert_eq!(
        body["organizations"],
        json!([{
            "id": w.org, "name": "Hedgehogs", "slug": "hedgehogs", "logo_media_id": null,
            "membership_level": 15, "members_can_use_personal_api_keys": true,
            "is_active": true, "is_not_active_reason": null, "is_pending_deletion": false,
        }])
    );

    let project = w.create_project("Spines").await;
    let body = me(&w, &w.owner).await;
    let team = &body["team"];
    assert_eq!(team["id"], project["id"]);
    assert_eq!(team["project_id"], project["id"]);
    assert_eq!(team["organization"], w.org.as_str());
    assert_eq!(team["api_token"], project["api_token"]);
    let keys: Vec<&str> = team
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "uuid",
            "organization",
            "project_id",
            "api_token",
            "name",
            "completed_snippet_onboarding",
            "has_completed_onboarding_for",
            "ingested_event",
            "is_demo",
            "timezone",
            "access_control"
        ]
    );
    assert_eq!(body["organization"]["teams"][0]["id"], project["id"]);
    assert_eq!(
        body["organization"]["projects"],
        json!([{"id": project["id"], "organization_id": w.org, "name": "Spines"}])
    );

    // The member's view: their own level, not the first user.
    let body = me(&w, &w.member).await;
    assert_eq!(body["organization"]["membership_level"], 1);
    assert_eq!(body["is_organization_first_user"], false);
    assert_eq!(body["team"]["id"], project["id"]);
}

#[tokio::test]
async fn with_nothing_current_the_first_organization_and_project_are_chosen_and_saved() {
    use prickle::storage::schema::Users as U;
    use sea_query::{Expr, ExprTrait, Query};
    let app = TestApp::new().await;
    app.user("lonely@example.com").await;
    let key = app.key("lonely@example.com", &["user:read"]).await;
    let r = app.call("GET", ME, Some(&key), None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["organization"], Value::Null);
    assert_eq!(r.body["team"], Value::Null);
    assert_eq!(r.body["organizations"], json!([]));

    let w = World::new().await;
    let first = w.create_project("First").await["id"].as_i64().unwrap();
    w.create_project("Second").await;
    let mut tx = w.app.db.write().await.unwrap();
    tx.execute(
        Query::update()
            .table(U::Table)
            .value(U::CurrentOrganizationId, Option::<String>::None)
            .value(U::CurrentTeamId, Option::<i64>::None)
            .and_where(Expr::col(U::Email).eq("admin@example.com")),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let body = me(&w, &w.admin).await;
    assert_eq!(body["organization"]["id"], w.org.as_str());
    assert_eq!(body["team"]["id"], first);
    // Saved: the current organization and project are set now.
    let mut tx = w.app.db.read().await.unwrap();
    let saved = tx
        .query_opt(
            Query::select()
                .columns([U::CurrentOrganizationId])
                .column(U::CurrentTeamId)
                .from(U::Table)
                .and_where(Expr::col(U::Email).eq("admin@example.com")),
            |r| Ok((r.opt_string(0)?, r.opt_i64(1)?)),
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(saved, (Some(w.org.clone()), Some(first)));
}

#[tokio::test]
async fn only_at_me_is_addressable_and_scopes_are_the_user_ones() {
    let w = World::new().await;
    let own_uuid = me(&w, &w.owner).await["uuid"].as_str().unwrap().to_string();
    let other_uuid = me(&w, &w.member).await["uuid"]
        .as_str()
        .unwrap()
        .to_string();
    for uuid in [own_uuid.as_str(), other_uuid.as_str(), "nope"] {
        for method in ["GET", "PATCH"] {
            let r = w
                .app
                .call(
                    method,
                    &format!("/api/users/{uuid}/"),
                    Some(&w.owner),
                    Some(json!({})),
                )
                .await;
            assert_eq!(
                r.error(),
                (
                    403,
                    "permission_denied",
                    "As a non-staff user you're only allowed to access the `@me` user instance.",
                    Value::Null
                ),
                "{method} {uuid}"
            );
        }
    }
    let read = w.app.key("member@example.com", &["user:read"]).await;
    assert_eq!(w.app.call("GET", ME, Some(&read), None).await.status, 200);
    let r = patch(&w, &read, json!({"first_name": "X"})).await;
    assert_eq!(r.error().2, "API key missing required scope 'user:write'");
    let other = w.app.key("member@example.com", &["project:write"]).await;
    let r = w.app.call("GET", ME, Some(&other), None).await;
    assert_eq!(r.error().2, "API key missing required scope 'user:read'");
    // Key restrictions do not apply to the caller's own account.
    let project = w.create_project("P").await["id"].as_i64().unwrap();
    let restricted = w
        .app
        .key_with(
            "member@example.com",
            &["user:write"],
            None,
            Some(vec![project]),
        )
        .await;
    let r = patch(&w, &restricted, json!({"last_name": "Scoped"})).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["last_name"], "Scoped");
    let r = w.app.call("GET", ME, None, None).await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn patch_changes_the_profile() {
    let w = World::new().await;
    let r = patch(
        &w,
        &w.member,
        json!({
            "first_name": "  Ada ",
            "last_name": "Lovelace",
            "role_at_organization": "engineering",
            "theme_mode": "dark",
            "toolbar_mode": "disabled",
            "anonymize_data": true,
            "notification_settings": {"plugin_disabled": false, "project_weekly_digest_disabled": {"3": true}},
            "hedgehog_config": {"use_as_profile": true},
            "set_current_project": 12345,
            "uuid": "ignored",
        }),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let body = me(&w, &w.member).await;
    assert_eq!(body["first_name"], "Ada");
    assert_eq!(body["last_name"], "Lovelace");
    assert_eq!(body["role_at_organization"], "engineering");
    assert_eq!(body["theme_mode"], "dark");
    assert_eq!(body["toolbar_mode"], "disabled");
    assert_eq!(body["anonymize_data"], true);
    assert_eq!(body["hedgehog_config"], json!({"use_as_profile": true}));
    assert_eq!(body["notification_settings"]["plugin_disabled"], false);
    assert_eq!(body["notification_settings"]["discussions_mentioned"], true);
    // Per-project settings merge into what was there.
    patch(
        &w,
        &w.member,
        json!({"notification_settings": {"project_weekly_digest_disabled": {"4": false}}}),
    )
    .await;
    let body = me(&w, &w.member).await;
    assert_eq!(
        body["notification_settings"]["project_weekly_digest_disabled"],
        json!({"3": true, "4": false})
    );
    assert_ne!(body["uuid"], "ignored");
    assert_eq!(body["organization"]["id"], w.org.as_str());

    // The same email is no change.
    let r = patch(&w, &w.member, json!({"email": "MEMBER@example.com"})).await;
    assert_eq!(r.status, 200);
    for body in [
        json!({"email": "new@example.com"}),
        json!({"password": "correct horse battery"}),
    ] {
        let r = patch(&w, &w.member, body.clone()).await;
        assert_eq!(
            r.error(),
            (
                403,
                "permission_denied",
                "You can only change your email or password from the PostHog app, not with an API key or token.",
                Value::Null
            ),
            "{body}"
        );
    }
    let r = patch(&w, &w.member, json!({"is_staff": true})).await;
    assert_eq!(
        r.error().2,
        "You are not a staff user, contact your instance admin."
    );
    assert_eq!(me(&w, &w.member).await["email"], "member@example.com");
}

#[tokio::test]
async fn switching_the_current_organization_and_project() {
    let w = World::new().await;
    let here = w.create_project("Here").await["id"].as_i64().unwrap();
    let there = w.create_other_project("There").await["id"]
        .as_i64()
        .unwrap();
    let there_too = w.create_other_project("There too").await["id"]
        .as_i64()
        .unwrap();
    prickle::admin::add_member(&w.app.db, &w.other_org, "member@example.com", 1)
        .await
        .unwrap();

    let r = patch(
        &w,
        &w.member,
        json!({"set_current_organization": w.other_org}),
    )
    .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["organization"]["id"], w.other_org.as_str());
    assert_eq!(
        r.body["team"]["id"], there,
        "the organization's first project"
    );

    let r = patch(&w, &w.member, json!({"set_current_team": here})).await;
    assert_eq!(r.body["organization"]["id"], w.org.as_str());
    assert_eq!(r.body["team"]["id"], here);

    let r = patch(
        &w,
        &w.member,
        json!({"set_current_organization": w.other_org, "set_current_team": there_too.to_string()}),
    )
    .await;
    assert_eq!(r.body["team"]["id"], there_too);
    // The root mount's @current follows.
    let r = w
        .app
        .call("GET", "/api/projects/@current/", Some(&w.member), None)
        .await;
    assert_eq!(r.body["id"], there_too);

    let r = patch(
        &w,
        &w.member,
        json!({"set_current_organization": w.org, "set_current_team": there}),
    )
    .await;
    assert_eq!(
        r.error(),
        (
            400,
            "invalid_input",
            "Team must belong to the same organization in set_current_organization.",
            json!("set_current_team")
        )
    );
    // Not the caller's: the outsider's organization and project, unknown ids.
    let missing = uuid::Uuid::new_v4().to_string();
    for (body, attr, shown) in [
        (
            json!({"set_current_organization": missing}),
            "set_current_organization",
            missing.clone(),
        ),
        (
            json!({"set_current_organization": "nope"}),
            "set_current_organization",
            "nope".into(),
        ),
        (
            json!({"set_current_team": 999999}),
            "set_current_team",
            "999999".into(),
        ),
        (
            json!({"set_current_team": "x"}),
            "set_current_team",
            "x".into(),
        ),
    ] {
        let r = patch(&w, &w.admin, body.clone()).await;
        assert_eq!(
            r.error(),
            (
                400,
                "does_not_exist",
                format!("Object with id={shown} does not exist.").as_str(),
                json!(attr)
            ),
            "{body}"
        );
    }
    let r = patch(
        &w,
        &w.admin,
        json!({"set_current_organization": w.other_org}),
    )
    .await;
    assert_eq!(r.error().3, json!("set_current_organization"));
    let r = patch(&w, &w.admin, json!({"set_current_team": there})).await;
    assert_eq!(r.error().3, json!("set_current_team"));
    // Nothing changed for the admin.
    assert_eq!(me(&w, &w.admin).await["organization"]["id"], w.org.as_str());
}

/// `pending_invites`: valid invites to the caller's email, for organizations
/// they are not in, newest first.
#[tokio::test]
async fn pending_invites_are_those_waiting_for_the_caller() {
    let w = World::new().await;
    let invite = |org: String, key: String, email: &'static str| {
        let app = &w.app;
        async move {
            let r = app
                .call(
                    "POST",
                    &format!("/api/organizations/{org}/invites/"),
                    Some(&key),
                    Some(json!({ "target_email": email })),
                )
                .await;
            assert_eq!(r.status, 201, "{}", r.body);
            r.body["id"].as_str().unwrap().to_string()
        }
    };
    // To the outsider, in our organization; and one to somebody else.
    let id = invite(w.org.clone(), w.owner.clone(), "Outsider@Example.com").await;
    invite(w.org.clone(), w.owner.clone(), "nobody@example.com").await;
    let me = w
        .app
        .call("GET", "/api/users/@me/", Some(&w.outsider), None)
        .await;
    assert_eq!(me.status, 200);
    let pending = me.body["pending_invites"].as_array().unwrap().clone();
    assert_eq!(pending.len(), 1, "{pending:?}");
    assert_eq!(pending[0]["id"], id.as_str());
    assert_eq!(pending[0]["target_email"], "outsider@example.com");
    assert_eq!(pending[0]["organization_id"], w.org.as_str());
    assert_eq!(pending[0]["organization_name"], "Hedgehogs");
    assert!(pending[0]["created_at"].is_string());
    // Once the caller belongs to the organization, its invite is not pending.
    prickle::admin::add_member(&w.app.db, &w.org, "outsider@example.com", 1)
        .await
        .unwrap();
    let me = w
        .app
        .call("GET", "/api/users/@me/", Some(&w.outsider), None)
        .await;
    assert_eq!(me.body["pending_invites"], json!([]));
}

/// `prickle admin create-user --password` stores the sign-up scheme
/// (argon2id in Django's form), which `passwords::verify` accepts.
#[tokio::test]
async fn admin_created_passwords_are_argon2id() {
    use prickle::storage::schema::Users as U;
    use prickle::storage::RowRead;
    use sea_query::{Expr, ExprTrait, Query};

    let app = TestApp::new().await;
    let user = prickle::admin::create_user(
        &app.db,
        "grace@example.com",
        "Grace",
        "Hopper",
        Some("correct horse battery"),
    )
    .await
    .unwrap();
    let stmt = Query::select()
        .column(U::Password)
        .from(U::Table)
        .and_where(Expr::col(U::Id).eq(user["id"].as_i64().unwrap()))
        .to_owned();
    let mut tx = app.db.read().await.unwrap();
    let stored = tx
        .query_opt(&stmt, |r: &dyn RowRead| r.string(0))
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert!(stored.starts_with("argon2$argon2id$"), "{stored}");
    assert!(prickle::passwords::verify("correct horse battery", &stored));
    assert!(!prickle::passwords::verify(
        "correct horse batterY",
        &stored
    ));
    let short = prickle::admin::create_user(&app.db, "g2@example.com", "", "", Some("1234567"));
    assert_eq!(
        short.await.unwrap_err(),
        "password must have at least 8 characters"
    );
}
