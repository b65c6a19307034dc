//! An organization's OAuth applications (§6 118-128 of the summary): a
//! read-only list for any member, registered by the operator command, which
//! is also run here through the real binary.

use axum::http::StatusCode;
use prickle::storage::schema::OauthApplications as A;
use sea_query::{Expr, ExprTrait, Query};
use serde_json::{json, Value};

use crate::processes::{admin as run_admin, row_counts, run, suite_database};
use crate::support::{TestApp, World, SITE};

fn list_path(org: &str) -> String {
    format!("/api/organizations/{org}/oauth_applications/")
}

async fn register(w: &World, org: &str, name: &str, uris: &[&str]) -> Value {
    let uris: Vec<String> = uris.iter().map(|u| u.to_string()).collect();
    prickle::admin::create_oauth_application(&w.app.db, org, name, &uris, false)
        .await
        .expect("create application")
}

async fn list(w: &World, key: &str) -> crate::support::Response {
    w.app
        .call(
            "GET",
            "/api/organizations/@current/oauth_applications/",
            Some(key),
            None,
        )
        .await
}

#[tokio::test]
async fn members_list_their_organizations_applications() {
    let w = World::new().await;
    let app = register(&w, &w.org, "My App", &["https://a.com/cb"]).await;
    for key in [&w.member, &w.admin, &w.owner] {
        let r = list(&w, key).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(r.body["count"], 1);
        assert_eq!(r.body["results"][0]["id"], app["id"]);
        assert_eq!(r.body["results"][0]["name"], "My App");
        assert_eq!(
            r.body["results"][0], app,
            "the command prints the list item"
        );
    }
}

#[tokio::test]
async fn other_organizations_applications_are_not_listed() {
    let w = World::new().await;
    let mine = register(&w, &w.org, "Mine", &["https://a.com/cb"]).await;
    register(&w, &w.other_org, "Theirs", &["https://b.com/cb"]).await;
    let r = list(&w, &w.member).await;
    assert_eq!(r.body["count"], 1);
    assert_eq!(r.body["results"], json!([mine]));
}

#[tokio::test]
async fn an_organization_without_applications_has_an_empty_list() {
    let w = World::new().await;
    let r = list(&w, &w.member).await;
    assert_eq!(
        r.body,
        json!({"count": 0, "next": null, "previous": null, "results": []})
    );
}

#[tokio::test]
async fn items_have_exactly_the_seven_public_fields() {
    let w = World::new().await;
    register(&w, &w.org, "My App", &["https://a.com/cb"]).await;
    let item = list(&w, &w.member).await.body["results"][0].clone();
    let mut keys: Vec<&str> = item
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "client_id",
            "created",
            "id",
            "is_verified",
            "name",
            "redirect_uris_list",
            "updated"
        ]
    );
    for hidden in [
        "client_secret",
        "redirect_uris",
        "skip_authorization",
        "algorithm",
        "user",
    ] {
        assert!(item.get(hidden).is_none(), "{hidden}");
    }
    assert_eq!(item["is_verified"], false);
    assert_eq!(item["client_id"].as_str().unwrap().len(), 40);
    assert!(item["created"].as_str().unwrap().ends_with('Z'));
    assert_eq!(item["created"], item["updated"]);
}

#[tokio::test]
async fn redirect_uris_are_listed_one_by_one() {
    let w = World::new().await;
    register(&w, &w.org, "Two", &["https://a.com/cb", "https://b.com/cb"]).await;
    let r = list(&w, &w.member).await;
    assert_eq!(
        r.body["results"][0]["redirect_uris_list"],
        json!(["https://a.com/cb", "https://b.com/cb"])
    );
}

#[tokio::test]
async fn newest_first() {
    let w = World::new().await;
    register(&w, &w.org, "First", &["https://a.com/cb"]).await;
    register(&w, &w.org, "Second", &["https://a.com/cb"]).await;
    let names: Vec<Value> = list(&w, &w.member).await.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].clone())
        .collect();
    assert_eq!(names, [json!("Second"), json!("First")]);
}

#[tokio::test]
async fn pages_stay_stable_when_created_timestamps_tie() {
    let w = World::new().await;
    let mut ids = Vec::new();
    for i in 0..4 {
        let app = register(&w, &w.org, &format!("App {i}"), &["https://a.com/cb"]).await;
        ids.push(app["id"].as_str().unwrap().to_string());
    }
    let mut tx = w.app.db.write().await.unwrap();
    tx.execute(
        Query::update()
            .table(A::Table)
            .value(A::Created, 1_700_000_000_000_000i64)
            .and_where(Expr::col(A::OrganizationId).eq(w.org.as_str())),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let mut seen = Vec::new();
    for offset in [0, 2] {
        let path = format!("{}?limit=2&offset={offset}", list_path(&w.org));
        let r = w.app.call("GET", &path, Some(&w.member), None).await;
        assert_eq!(r.body["count"], 4);
        for a in r.body["results"].as_array().unwrap() {
            seen.push(a["id"].as_str().unwrap().to_string());
        }
        if offset == 0 {
            assert_eq!(
                r.body["next"],
                format!(
                    "{SITE}/api/organizations/{}/oauth_applications/?limit=2&offset=2",
                    w.org
                )
            );
        }
    }
    let mut expected = ids.clone();
    expected.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(seen, expected, "descending ids, no duplicates");
}

#[tokio::test]
async fn anonymous_callers_and_non_members_are_refused() {
    let w = World::new().await;
    register(&w, &w.org, "My App", &["https://a.com/cb"]).await;
    let r = w.app.call("GET", &list_path(&w.org), None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = w
        .app
        .call("GET", &list_path(&w.org), Some(&w.outsider), None)
        .await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "You do not have permission to perform this action.",
            Value::Null
        )
    );
}

#[tokio::test]
async fn the_list_is_read_only() {
    let w = World::new().await;
    let app = register(&w, &w.org, "My App", &["https://a.com/cb"]).await;
    // PostHog answers a session's POST with 405; a personal API key is
    // refused first, because no scope is mapped for the action.
    let r = w
        .app
        .call(
            "POST",
            &list_path(&w.org),
            Some(&w.owner),
            Some(json!({"name": "New App"})),
        )
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
    // No detail route.
    let detail = format!("{}{}/", list_path(&w.org), app["id"].as_str().unwrap());
    let r = w.app.call("GET", &detail, Some(&w.owner), None).await;
    assert_eq!(r.error(), (404, "not_found", "Not found.", Value::Null));
    assert_eq!(list(&w, &w.member).await.body["count"], 1);
}

#[tokio::test]
async fn keys_need_organization_read() {
    let w = World::new().await;
    register(&w, &w.org, "My App", &["https://a.com/cb"]).await;
    let read = w
        .app
        .key("member@example.com", &["organization:read"])
        .await;
    let other = w.app.key("member@example.com", &["project:write"]).await;
    assert_eq!(list(&w, &read).await.body["count"], 1);
    assert_eq!(
        list(&w, &other).await.error().2,
        "API key missing required scope 'organization:read'"
    );
}

/// The key itself, not only the API's deletion, takes the applications
/// along (PostHog's SET NULL would leave them without an organization).
#[tokio::test]
async fn deleting_the_organization_row_deletes_its_applications() {
    use prickle::storage::schema::Organizations as O;
    let w = World::new().await;
    let app = register(&w, &w.other_org, "Orphan", &["https://a.com/cb"]).await;
    let mut tx = w.app.db.write().await.unwrap();
    tx.execute(
        Query::delete()
            .from_table(O::Table)
            .and_where(Expr::col(O::Id).eq(w.other_org.as_str())),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let stmt = Query::select()
        .column(A::OrganizationId)
        .from(A::Table)
        .and_where(Expr::col(A::Id).eq(app["id"].as_str().unwrap()))
        .to_owned();
    let mut tx = w.app.db.read().await.unwrap();
    let org = tx.query_opt(&stmt, |r| r.opt_string(0)).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(org, None, "deleted with its organization");
}

// ------------------------------------------------------------ the operator command

#[tokio::test]
async fn create_oauth_application_through_the_binary() {
    let (database_url, _dir) = suite_database().await;
    run_admin(
        &database_url,
        &["create-user", "--email", "ada@example.com"],
    );
    let org = run_admin(
        &database_url,
        &[
            "create-organization",
            "--name",
            "Engines",
            "--owner-email",
            "ada@example.com",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let app = run_admin(
        &database_url,
        &[
            "create-oauth-application",
            "--organization",
            &org,
            "--name",
            "My App",
            "--redirect-uris",
            "https://a.com/cb,http://localhost:3000/cb",
            "--verified",
        ],
    );
    let mut keys: Vec<&str> = app
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "client_id",
            "created",
            "id",
            "is_verified",
            "name",
            "redirect_uris_list",
            "updated"
        ]
    );
    assert_eq!(app["name"], "My App");
    assert_eq!(app["is_verified"], true);
    assert_eq!(
        app["redirect_uris_list"],
        json!(["https://a.com/cb", "http://localhost:3000/cb"])
    );
    assert_eq!(app["client_id"].as_str().unwrap().len(), 40);
    let unverified = run_admin(
        &database_url,
        &[
            "create-oauth-application",
            "--organization",
            &org,
            "--name",
            "Second",
            "--redirect-uris",
            "https://b.com/cb",
        ],
    );
    assert_eq!(unverified["is_verified"], false);
    assert_ne!(unverified["client_id"], app["client_id"]);

    // The API lists what the command printed.
    let key = run_admin(
        &database_url,
        &["create-personal-api-key", "--email", "ada@example.com"],
    )["value"]
        .as_str()
        .unwrap()
        .to_string();
    let api = TestApp::at(&database_url).await;
    let r = api.call("GET", &list_path(&org), Some(&key), None).await;
    assert_eq!(r.body["results"], json!([unverified, app]));

    let db = prickle::storage::Db::connect(&database_url).await.unwrap();
    let before = row_counts(&db).await;
    let apps_before = r.body["count"].clone();
    let missing_org = uuid::Uuid::new_v4().to_string();
    let bad: Vec<Vec<&str>> = vec![
        vec![
            "--organization",
            &missing_org,
            "--name",
            "X",
            "--redirect-uris",
            "https://a.com/cb",
        ],
        vec![
            "--organization",
            "not-a-uuid",
            "--name",
            "X",
            "--redirect-uris",
            "https://a.com/cb",
        ],
        vec![
            "--organization",
            &org,
            "--name",
            " ",
            "--redirect-uris",
            "https://a.com/cb",
        ],
        vec![
            "--organization",
            &org,
            "--name",
            "X",
            "--redirect-uris",
            "http://example.com/cb",
        ],
        vec![
            "--organization",
            &org,
            "--name",
            "X",
            "--redirect-uris",
            "https://a.com/cb#frag",
        ],
        vec![
            "--organization",
            &org,
            "--name",
            "X",
            "--redirect-uris",
            "javascript:alert(1)",
        ],
        vec!["--organization", &org, "--name", "X", "--redirect-uris", ""],
        vec!["--organization", &org, "--name", "X"],
    ];
    for args in &bad {
        let out = run(
            &database_url,
            &[&["admin", "create-oauth-application"], args.as_slice()].concat(),
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?} succeeded: {stdout}");
        assert!(stdout.is_empty(), "{args:?} printed on stdout: {stdout:?}");
        assert!(!stderr.trim().is_empty(), "{args:?}: empty error");
    }
    assert_eq!(row_counts(&db).await, before, "a refused command wrote");
    let r = api.call("GET", &list_path(&org), Some(&key), None).await;
    assert_eq!(r.body["count"], apps_before);
}

#[tokio::test]
async fn roll_legal_document_secret_through_the_binary() {
    let (database_url, _dir) = suite_database().await;
    run_admin(
        &database_url,
        &["create-user", "--email", "ada@example.com"],
    );
    let org = run_admin(
        &database_url,
        &[
            "create-organization",
            "--name",
            "Engines",
            "--owner-email",
            "ada@example.com",
        ],
    )["id"]
        .as_str()
        .unwrap()
        .to_string();
    let key = run_admin(
        &database_url,
        &["create-personal-api-key", "--email", "ada@example.com"],
    )["value"]
        .as_str()
        .unwrap()
        .to_string();
    let api = TestApp::at(&database_url).await;
    let doc = api
        .call(
            "POST",
            &format!("/api/organizations/{org}/legal_documents/"),
            Some(&key),
            Some(json!({
                "document_type": "BAA",
                "company_name": "Acme",
                "representative_name": "Ada",
                "representative_title": "CEO",
                "representative_email": "ada@acme.example",
            })),
        )
        .await;
    assert_eq!(doc.status, StatusCode::CREATED, "{}", doc.body);
    let id = doc.body["id"].as_str().unwrap();
    let rolled = run_admin(
        &database_url,
        &[
            "roll-legal-document-secret",
            "--organization",
            &org,
            "--id",
            id,
        ],
    );
    assert_eq!(rolled["id"], id);
    assert_eq!(rolled["document_type"], "BAA");
    let secret = rolled["secret"].as_str().unwrap();
    assert!(secret.len() >= 32);
    let r = api
        .call(
            "POST",
            "/api/legal_documents/signed/",
            None,
            Some(
                json!({"secret": secret, "signed_document_url": "https://sign.example.com/a.pdf"}),
            ),
        )
        .await;
    assert_eq!(r.body, json!({"status": "signed"}));
    for args in [
        vec!["--organization", &org, "--id", "not-a-uuid"],
        vec![
            "--organization",
            &org,
            "--id",
            "0190c0de-0000-7000-8000-000000000099",
        ],
        vec![
            "--organization",
            "0190c0de-0000-7000-8000-000000000099",
            "--id",
            id,
        ],
    ] {
        let out = run(
            &database_url,
            &[&["admin", "roll-legal-document-secret"], args.as_slice()].concat(),
        );
        assert!(!out.status.success(), "{args:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
    }
    // The refused commands rolled nothing: the secret still signs.
    let r = api
        .call(
            "POST",
            "/api/legal_documents/signed/",
            None,
            Some(
                json!({"secret": secret, "signed_document_url": "https://sign.example.com/b.pdf"}),
            ),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
}
