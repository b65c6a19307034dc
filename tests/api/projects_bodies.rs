//! GET project's rendered bodies, kept by the process while nothing is
//! committed (`projects::bodies`): the next GET after any change, by
//! this server or through another connection to the database, shows it,
//! and every viewer gets their own body. The same tests hold on
//! PostgreSQL, where bodies are kept while the WAL position stands.

use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use prickle::storage::schema::Projects;
use sea_query::{Expr, ExprTrait, Query};
use serde_json::{json, Value};

use crate::access_control::{membership_id, rule};
use crate::support::{TestApp, World};

async fn get(w: &World, key: &str, id: i64) -> Value {
    let r = w.app.call("GET", &w.project(id), Some(key), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    r.body
}

/// The livestream token's claims (its signature is `live_events`' to test).
fn live_events_claims(body: &Value) -> Value {
    let token = body["live_events_token"].as_str().expect("a token");
    let payload = token.split('.').nth(1).expect("a JWT");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("JSON")
}

#[tokio::test]
async fn a_patch_is_seen_on_the_very_next_get() {
    let w = World::new().await;
    let id = w.create_project("Before").await["id"].as_i64().unwrap();
    let first = get(&w, &w.member, id).await;
    // Unchanged: the same body, the token included.
    assert_eq!(get(&w, &w.member, id).await, first);
    let r = w
        .app
        .call(
            "PATCH",
            &w.project(id),
            Some(&w.admin),
            Some(json!({"name": "After", "timezone": "Europe/Berlin"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let after = get(&w, &w.member, id).await;
    assert_eq!(after["name"], "After");
    assert_eq!(after["timezone"], "Europe/Berlin");
    assert_eq!(after["updated_at"], r.body["updated_at"]);
}

/// Another server over the same database (its own connections), and a
/// write outside any server: each change is seen at once.
#[tokio::test]
async fn a_change_through_another_connection_is_seen_on_the_very_next_get() {
    let w = World::new().await;
    let id = w.create_project("Shared").await["id"].as_i64().unwrap();
    assert_eq!(get(&w, &w.owner, id).await["name"], "Shared");
    assert_eq!(get(&w, &w.owner, id).await["name"], "Shared");
    let other = TestApp::at(&w.app.database_url).await;
    let r = other
        .call(
            "PATCH",
            &w.project(id),
            Some(&w.owner),
            Some(json!({"name": "Renamed elsewhere"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(get(&w, &w.owner, id).await["name"], "Renamed elsewhere");

    let mut tx = other.db.write().await.unwrap();
    let stmt = Query::update()
        .table(Projects::Table)
        .value(Projects::ApiToken, "phc_rolled_elsewhere")
        .and_where(Expr::col(Projects::Id).eq(id))
        .to_owned();
    tx.execute(&stmt).await.unwrap();
    tx.commit().await.unwrap();
    let body = get(&w, &w.owner, id).await;
    assert_eq!(body["api_token"], "phc_rolled_elsewhere");
    // The livestream token names the new project token too.
    assert_eq!(
        live_events_claims(&body)["api_token"],
        "phc_rolled_elsewhere"
    );
}

/// Two users, and one user whose level on the project changes: each sees
/// the body of their own level, with a livestream token of their own.
#[tokio::test]
async fn every_viewer_gets_their_own_body() {
    let w = World::new().await;
    let id = w.create_project("Seen").await["id"].as_i64().unwrap();
    for _ in 0..2 {
        let owner = get(&w, &w.owner, id).await;
        let member = get(&w, &w.member, id).await;
        assert_eq!(owner["effective_membership_level"], 8);
        assert_eq!(owner["user_access_level"], "admin");
        assert_eq!(member["effective_membership_level"], 1);
        assert_eq!(member["user_access_level"], "member");
        let (owner, member) = (live_events_claims(&owner), live_events_claims(&member));
        assert_ne!(owner["user_id"], member["user_id"]);
        assert_eq!(owner["team_id"], id);
        assert_eq!(member["team_id"], id);
    }
    let membership = membership_id(&w.app, &w.org, "member@example.com").await;
    rule(&w.app, &w.org, id, Some(&membership), "admin").await;
    let member = get(&w, &w.member, id).await;
    assert_eq!(member["effective_membership_level"], 8);
    assert_eq!(member["user_access_level"], "admin");
    // The same user through the other mount sees the same.
    let r = w
        .app
        .call(
            "GET",
            &format!("/api/projects/{id}/"),
            Some(&w.member),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["effective_membership_level"], 8);
}

/// PostgreSQL: bodies are kept while the WAL position that the shared
/// rounds find stands (`storage::pg_generation`), on a connection of the
/// rounds' own. With that connection terminated by the server, every GET
/// still answers and sees each change made through another connection
/// (reading each time), and the rounds come back.
#[tokio::test]
async fn postgres_rounds_lost_and_back() {
    let Some(server_url) = crate::common::postgres_url() else {
        return;
    };
    let (pg, conn) = tokio_postgres::connect(&server_url, tokio_postgres::NoTls)
        .await
        .expect("connect to PostgreSQL");
    tokio::spawn(conn);
    let rounds = |since: &str| {
        format!(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'prickle-rounds' \
             AND backend_start > {since}"
        )
    };
    let w = World::new().await;
    let id = w.create_project("Rounds").await["id"].as_i64().unwrap();
    assert_eq!(get(&w, &w.owner, id).await["name"], "Rounds");
    let running: i64 = pg
        .query_one(&rounds("'-infinity'"), &[])
        .await
        .unwrap()
        .get(0);
    assert!(running > 0, "no rounds connection");

    let other = TestApp::at(&w.app.database_url).await;
    let rename = |name: &'static str| {
        let other = &other;
        let w = &w;
        async move {
            let r = other
                .call(
                    "PATCH",
                    &w.project(id),
                    Some(&w.owner),
                    Some(json!({ "name": name })),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        }
    };
    let killed_at: String = pg
        .query_one(
            "SELECT now()::text FROM pg_stat_activity WHERE pid = pg_backend_pid() \
             AND (SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                  WHERE application_name = 'prickle-rounds') t) >= 0",
            &[],
        )
        .await
        .expect("terminate the rounds")
        .get(0);
    for name in ["Renamed while down", "Renamed again"] {
        rename(name).await;
        assert_eq!(get(&w, &w.owner, id).await["name"], name);
        assert_eq!(get(&w, &w.owner, id).await["name"], name);
    }

    // Back within a few seconds (the process retries every second).
    let since = format!("'{killed_at}'::timestamptz");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let _ = get(&w, &w.owner, id).await;
        let back: i64 = pg.query_one(&rounds(&since), &[]).await.unwrap().get(0);
        if back > 0 {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the rounds did not come back"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    rename("Renamed once back").await;
    assert_eq!(get(&w, &w.owner, id).await["name"], "Renamed once back");
    assert_eq!(get(&w, &w.owner, id).await["name"], "Renamed once back");
}
