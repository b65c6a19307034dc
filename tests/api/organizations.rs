//! `/api/organizations/`: the caller's organizations, creating one, its
//! settings, and deleting it with everything it holds.

use serde_json::{json, Value};

use crate::support::World;

fn detail(org: &str) -> String {
    format!("/api/organizations/{org}/")
}

#[tokio::test]
async fn list_shows_the_callers_organizations_narrowed_by_the_key() {
    let w = World::new().await;
    let r = w
        .app
        .call("GET", "/api/organizations/", Some(&w.owner), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"][0]["id"], w.org.as_str());
    assert_eq!(r.body["results"][0]["membership_level"], 15);
    assert!(r.body.get("next").is_some() && r.body.get("previous").is_some());

    prickle::admin::add_member(&w.app.db, &w.other_org, "owner@example.com", 8)
        .await
        .unwrap();
    let r = w
        .app
        .call("GET", "/api/organizations/", Some(&w.owner), None)
        .await;
    assert_eq!(r.body["count"], 2);
    let levels: Vec<&Value> = r.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| &o["membership_level"])
        .collect();
    assert_eq!(levels, [&json!(15), &json!(8)]);

    let scoped = w
        .app
        .key_with(
            "owner@example.com",
            &["organization:read"],
            Some(vec![w.other_org.clone()]),
            None,
        )
        .await;
    let r = w
        .app
        .call("GET", "/api/organizations/", Some(&scoped), None)
        .await;
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"][0]["id"], w.other_org.as_str());
    let r = w
        .app
        .call("GET", &detail(&w.org), Some(&scoped), None)
        .await;
    // Looked up among the key's organizations, as PostHog's newest does.
    assert_eq!(r.status, 404);

    let r = w
        .app
        .call("GET", "/api/organizations/?limit=1", Some(&w.owner), None)
        .await;
    assert_eq!(r.body["results"].as_array().unwrap().len(), 1);
    assert_eq!(
        r.body["next"],
        "http://testserver/api/organizations/?limit=1&offset=1"
    );

    // The outsider never sees this organization.
    let r = w
        .app
        .call("GET", "/api/organizations/", Some(&w.outsider), None)
        .await;
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"][0]["id"], w.other_org.as_str());

    let project = w.create_project("P").await["id"].as_i64().unwrap();
    let project_key = w
        .app
        .key_with("owner@example.com", &["*"], None, Some(vec![project]))
        .await;
    for path in ["/api/organizations/".to_string(), detail(&w.org)] {
        let r = w.app.call("GET", &path, Some(&project_key), None).await;
        assert_eq!(
            r.error().2,
            "API keys with scoped projects are only supported on project-based endpoints.",
            "{path}"
        );
    }
}

#[tokio::test]
async fn retrieve_has_posthogs_shape() {
    let w = World::new().await;
    let p = w.create_project("Spines").await;
    let r = w
        .app
        .call("GET", &detail(&w.org), Some(&w.member), None)
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
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
            "name",
            "slug",
            "logo_media_id",
            "created_at",
            "updated_at",
            "membership_level",
            "plugins_access_level",
            "teams",
            "projects",
            "available_product_features",
            "is_member_join_email_enabled",
            "metadata",
            "customer_id",
            "enforce_2fa",
            "members_can_invite",
            "members_can_create_projects",
            "members_can_use_personal_api_keys",
            "allow_publicly_shared_resources",
            "member_count",
            "is_ai_data_processing_approved",
            "default_experiment_stats_method",
            "default_anonymize_ips",
            "default_role_id",
            "is_ai_training_locked",
            "is_hipaa",
            "is_active",
            "is_not_active_reason",
            "is_pending_deletion",
        ]
    );
    let b = &r.body;
    assert_eq!(b["name"], "Hedgehogs");
    assert_eq!(b["slug"], "hedgehogs");
    assert_eq!(b["membership_level"], 1);
    assert_eq!(b["member_count"], 3);
    assert_eq!(b["members_can_invite"], true);
    assert_eq!(b["members_can_create_projects"], false);
    assert_eq!(b["allow_publicly_shared_resources"], true);
    assert_eq!(b["metadata"], json!({"instance_tag": "none"}));
    assert_eq!(b["teams"][0]["id"], p["id"]);
    assert_eq!(
        b["projects"],
        json!([{"id": p["id"], "organization_id": w.org, "name": "Spines"}])
    );

    let current = w
        .app
        .call("GET", "/api/organizations/@current/", Some(&w.admin), None)
        .await;
    assert_eq!(current.body["id"], w.org.as_str());
    assert_eq!(current.body["membership_level"], 8);
    // Another organization: not found among the caller's.
    let r = w
        .app
        .call("GET", &detail(&w.org), Some(&w.outsider), None)
        .await;
    assert_eq!(r.error(), (404, "not_found", "Not found.", Value::Null));
    let missing = uuid::Uuid::new_v4().to_string();
    for org in [missing.as_str(), "nope", "1"] {
        let r = w.app.call("GET", &detail(org), Some(&w.owner), None).await;
        assert_eq!(r.status, 404, "{org}");
    }
    let r = w
        .app
        .call(
            "GET",
            &detail(&w.org),
            Some(&w.app.key("member@example.com", &["project:read"]).await),
            None,
        )
        .await;
    assert_eq!(
        r.error().2,
        "API key missing required scope 'organization:read'"
    );
}

#[tokio::test]
async fn create_makes_the_caller_owner_with_a_first_project() {
    let w = World::new().await;
    let r = w
        .app
        .call(
            "POST",
            "/api/organizations/",
            Some(&w.member),
            Some(json!({"name": "Hedgehogs", "enforce_2fa": true})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert_ne!(id, w.org);
    assert_eq!(r.body["membership_level"], 15);
    assert_eq!(r.body["enforce_2fa"], true);
    // The slug is unique: the first "Hedgehogs" has it.
    let slug = r.body["slug"].as_str().unwrap();
    assert!(
        slug.starts_with("hedgehogs-") && slug.len() == "hedgehogs-".len() + 4,
        "{slug}"
    );
    assert_eq!(r.body["projects"].as_array().unwrap().len(), 1);
    assert_eq!(r.body["projects"][0]["name"], "Default project");
    let me = w
        .app
        .call("GET", "/api/users/@me/", Some(&w.member), None)
        .await
        .body;
    assert_eq!(me["organization"]["id"], id.as_str());
    assert_eq!(me["team"]["id"], r.body["projects"][0]["id"]);
    assert_eq!(me["organizations"].as_array().unwrap().len(), 2);
    // Any number of organizations (decisions.md: no plan limit).
    for n in 0..3 {
        let r = w
            .app
            .call(
                "POST",
                "/api/organizations/",
                Some(&w.member),
                Some(json!({"name": format!("More {n}")})),
            )
            .await;
        assert_eq!(r.status, 201);
    }
    let list = w
        .app
        .call("GET", "/api/organizations/", Some(&w.member), None)
        .await;
    assert_eq!(list.body["count"], 5);
    let read = w
        .app
        .key("member@example.com", &["organization:read"])
        .await;
    let r = w
        .app
        .call(
            "POST",
            "/api/organizations/",
            Some(&read),
            Some(json!({"name": "No"})),
        )
        .await;
    assert_eq!(
        r.error().2,
        "API key missing required scope 'organization:write'"
    );
}

#[tokio::test]
async fn admins_change_settings_members_do_not() {
    let w = World::new().await;
    let r = w
        .app
        .call(
            "PATCH",
            &detail(&w.org),
            Some(&w.member),
            Some(json!({"name": "Mine"})),
        )
        .await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "Your organization access level is insufficient.",
            Value::Null
        )
    );
    let r = w
        .app
        .call(
            "PATCH",
            &detail(&w.org),
            Some(&w.admin),
            Some(json!({
                "name": " Prickly ",
                "members_can_create_projects": true,
                "members_can_invite": null,
                "enforce_2fa": true,
                "allow_publicly_shared_resources": false,
                "is_ai_data_processing_approved": true,
                "default_experiment_stats_method": "frequentist",
                "default_anonymize_ips": true,
                "is_member_join_email_enabled": false,
                "logo_media_id": null,
                "default_role_id": null,
                "slug": "ignored-read-only",
                "membership_level": 1,
            })),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    let b = w
        .app
        .call("GET", &detail(&w.org), Some(&w.member), None)
        .await
        .body;
    assert_eq!(b["name"], "Prickly");
    assert_eq!(b["slug"], "hedgehogs");
    assert_eq!(b["membership_level"], 1);
    assert_eq!(b["members_can_create_projects"], true);
    assert_eq!(b["members_can_invite"], Value::Null);
    assert_eq!(b["enforce_2fa"], true);
    assert_eq!(b["allow_publicly_shared_resources"], false);
    assert_eq!(b["is_ai_data_processing_approved"], true);
    assert_eq!(b["default_experiment_stats_method"], "frequentist");
    assert_eq!(b["default_anonymize_ips"], true);
    assert_eq!(b["is_member_join_email_enabled"], false);
    // The rule it changed is enforced: members may now create projects.
    let r = w
        .app
        .call(
            "POST",
            &w.projects(),
            Some(&w.member),
            Some(json!({"name": "By a member"})),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);

    // PUT behaves as PATCH.
    let r = w
        .app
        .call(
            "PUT",
            "/api/organizations/@current/",
            Some(&w.owner),
            Some(json!({"enforce_2fa": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["name"], "Prickly");
    assert_eq!(r.body["enforce_2fa"], false);
    let r = w
        .app
        .call(
            "PATCH",
            &detail(&w.org),
            Some(&w.outsider),
            Some(json!({"name": "Theirs"})),
        )
        .await;
    assert_eq!(r.status, 404);
}

#[tokio::test]
async fn only_owners_delete_and_deletion_leaves_nothing_behind() {
    use prickle::storage::schema::{
        ActivityLog as A, LegalDocuments as L, OauthApplications as O, OrganizationInvites as I,
        OrganizationMemberships as M, PersonalApiKeys as K, Projects as P, Users as U,
    };
    use sea_query::{Expr, ExprTrait, Query};
    let w = World::new().await;
    let p1 = w.create_project("One").await["id"].as_i64().unwrap();
    let p2 = w.create_project("Two").await["id"].as_i64().unwrap();
    let kept = w.create_other_project("Kept").await["id"].as_i64().unwrap();
    prickle::admin::add_member(&w.app.db, &w.other_org, "member@example.com", 1)
        .await
        .unwrap();
    let only_here = w
        .app
        .key_with(
            "member@example.com",
            &["*"],
            Some(vec![w.org.clone()]),
            None,
        )
        .await;
    let both = w
        .app
        .key_with(
            "member@example.com",
            &["*"],
            Some(vec![w.org.clone(), w.other_org.clone()]),
            None,
        )
        .await;
    let project_here = w
        .app
        .key_with("member@example.com", &["*"], None, Some(vec![p1]))
        .await;
    let projects_both = w
        .app
        .key_with("member@example.com", &["*"], None, Some(vec![p2, kept]))
        .await;
    let doc = w
        .app
        .call(
            "POST",
            &format!("/api/organizations/{}/legal_documents/", w.org),
            Some(&w.owner),
            Some(json!({
                "document_type": "BAA",
                "company_name": "Acme",
                "representative_name": "Ada",
                "representative_title": "CEO",
                "representative_email": "ada@acme.example",
            })),
        )
        .await;
    assert_eq!(doc.status, 201, "{}", doc.body);
    let invite = w
        .app
        .call(
            "POST",
            &format!("/api/organizations/{}/invites/", w.org),
            Some(&w.owner),
            Some(json!({"target_email": "newcomer@example.com", "private_project_access": [{"id": p1, "level": "member"}]})),
        )
        .await;
    assert_eq!(invite.status, 201, "{}", invite.body);
    prickle::admin::create_oauth_application(
        &w.app.db,
        &w.org,
        "App",
        &["https://a.example/cb".to_string()],
        false,
    )
    .await
    .unwrap();
    // The member's current project is here.
    w.app
        .call(
            "PATCH",
            "/api/users/@me/",
            Some(&w.member),
            Some(json!({"set_current_team": p1})),
        )
        .await;

    for key in [&w.admin, &w.member] {
        let r = w.app.call("DELETE", &detail(&w.org), Some(key), None).await;
        assert_eq!(
            r.error().2,
            "Your organization access level is insufficient."
        );
    }
    assert_eq!(
        w.app
            .call("DELETE", &detail(&w.org), Some(&w.outsider), None)
            .await
            .status,
        404
    );
    let r = w
        .app
        .call("DELETE", &detail(&w.org), Some(&w.owner), None)
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        w.app
            .call("GET", &detail(&w.org), Some(&w.owner), None)
            .await
            .status,
        404
    );
    assert_eq!(
        w.app
            .call("GET", &w.project(p1), Some(&w.owner), None)
            .await
            .status,
        404
    );

    let count = |stmt: sea_query::SelectStatement| {
        let db = w.app.db.clone();
        async move {
            let mut tx = db.read().await.unwrap();
            tx.query_opt(&stmt, |r| r.i64(0)).await.unwrap().unwrap()
        }
    };
    let org = w.org.as_str();
    let n = |t: sea_query::DynIden, col: sea_query::DynIden| {
        Query::select()
            .expr(Expr::cust("COUNT(*)"))
            .from(t)
            .and_where(Expr::col(col).eq(org))
            .to_owned()
    };
    use sea_query::IntoIden;
    assert_eq!(
        count(n(M::Table.into_iden(), M::OrganizationId.into_iden())).await,
        0
    );
    assert_eq!(
        count(n(P::Table.into_iden(), P::OrganizationId.into_iden())).await,
        0
    );
    assert_eq!(
        count(n(A::Table.into_iden(), A::OrganizationId.into_iden())).await,
        0
    );
    assert_eq!(
        count(n(L::Table.into_iden(), L::OrganizationId.into_iden())).await,
        0
    );
    assert_eq!(
        count(n(I::Table.into_iden(), I::OrganizationId.into_iden())).await,
        0
    );
    // Not merely unlinked (PostHog's SET NULL): no application is left at all.
    let apps = Query::select()
        .expr(Expr::cust("COUNT(*)"))
        .from(O::Table)
        .to_owned();
    assert_eq!(count(apps).await, 0);
    assert_eq!(
        count(n(
            U::Table.into_iden(),
            U::CurrentOrganizationId.into_iden()
        ))
        .await,
        0
    );
    let pointing = Query::select()
        .expr(Expr::cust("COUNT(*)"))
        .from(U::Table)
        .and_where(Expr::col(U::CurrentTeamId).is_in([p1, p2]))
        .to_owned();
    assert_eq!(count(pointing).await, 0);
    let naming = Query::select()
        .expr(Expr::cust("COUNT(*)"))
        .from(K::Table)
        .and_where(Expr::col(K::ScopedOrganizations).like(format!("%{org}%")))
        .to_owned();
    assert_eq!(count(naming).await, 0);

    // Restrictions never widen: a key limited to the deleted organization or
    // its projects only is gone; others keep what remains.
    for key in [&only_here, &project_here] {
        let r = w.app.call("GET", "/api/projects/", Some(key), None).await;
        assert_eq!(r.status, 401, "{}", r.body);
    }
    let r = w
        .app
        .call("GET", "/api/personal_api_keys/@current/", Some(&both), None)
        .await;
    assert_eq!(r.body["scoped_organizations"], json!([w.other_org]));
    let r = w
        .app
        .call(
            "GET",
            "/api/personal_api_keys/@current/",
            Some(&projects_both),
            None,
        )
        .await;
    assert_eq!(r.body["scoped_teams"], json!([kept]));
    let r = w
        .app
        .call(
            "GET",
            &format!("/api/projects/{kept}/"),
            Some(&projects_both),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);

    // The other organization is untouched; the member's @me falls back to it.
    let r = w
        .app
        .call(
            "GET",
            &format!("/api/organizations/{}/projects/", w.other_org),
            Some(&w.outsider),
            None,
        )
        .await;
    assert_eq!(r.body["count"], 1);
    let me = w
        .app
        .call("GET", "/api/users/@me/", Some(&w.member), None)
        .await
        .body;
    assert_eq!(me["organization"]["id"], w.other_org.as_str());
    assert_eq!(me["team"]["id"], kept);
    let me = w
        .app
        .call("GET", "/api/users/@me/", Some(&w.owner), None)
        .await
        .body;
    assert_eq!(me["organization"], Value::Null);
    assert_eq!(me["organizations"], json!([]));
    let r = w
        .app
        .call("GET", "/api/organizations/@current/", Some(&w.owner), None)
        .await;
    assert_eq!(
        r.error(),
        (
            404,
            "not_found",
            "Current organization not found.",
            Value::Null
        )
    );
    // Nested routes answer as for any organization that is not there.
    let r = w
        .app
        .call(
            "GET",
            "/api/organizations/@current/projects/",
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(
        r.error(),
        (404, "not_found", "Organization not found.", Value::Null)
    );
    let r = w
        .app
        .call(
            "POST",
            "/api/projects/",
            Some(&w.owner),
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
}
