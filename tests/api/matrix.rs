//! Every route × every kind of caller, with the status and detail PostHog gives.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::support::World;

#[derive(Clone, Copy, Debug)]
enum Actor {
    NoKey,
    InvalidKey,
    /// A key without any project scope.
    NoScope,
    /// `project:read` only.
    ReadOnly,
    /// `*`, limited to the other organization.
    OtherOrgKey,
    /// `*`, limited to one project.
    ProjectKey,
    /// `*`, but not a member of the organization.
    NonMember,
    Member,
    Admin,
    Owner,
}

#[derive(Clone, Copy, Debug)]
enum Route {
    List,
    Create,
    Retrieve,
    Patch,
    Put,
    Delete,
    Activity,
}

impl Route {
    fn method(self) -> &'static str {
        match self {
            Route::List | Route::Retrieve | Route::Activity => "GET",
            Route::Create => "POST",
            Route::Patch => "PATCH",
            Route::Put => "PUT",
            Route::Delete => "DELETE",
        }
    }

    fn write(self) -> bool {
        matches!(
            self,
            Route::Create | Route::Patch | Route::Put | Route::Delete
        )
    }
}

const ALL_ROUTES: [Route; 7] = [
    Route::List,
    Route::Create,
    Route::Retrieve,
    Route::Patch,
    Route::Put,
    Route::Delete,
    Route::Activity,
];

/// What PostHog answers: a status, and for errors the detail.
fn expected(actor: Actor, route: Route, org: &str, project: i64) -> (u16, String) {
    use Actor::*;
    use Route::*;
    let scope = if route.write() {
        "project:write"
    } else {
        "project:read"
    };
    match actor {
        NoKey => (401, "Authentication credentials were not provided.".into()),
        InvalidKey => (
            401,
            "Personal API key found in request Authorization header is invalid.".into(),
        ),
        NoScope => (403, format!("API key missing required scope '{scope}'")),
        ReadOnly if route.write() => (403, "API key missing required scope 'project:write'".into()),
        OtherOrgKey => (
            403,
            format!("API key does not have access to the requested organization: ID {org}."),
        ),
        // Limited to one project: refused on organization-level routes, and on
        // another project's routes; on its own project it acts as its owner.
        ProjectKey => match route {
            List | Create => (
                403,
                "API keys with scoped projects are only supported on project-based endpoints."
                    .into(),
            ),
            Delete => (
                403,
                format!("API key does not have access to the requested project: ID {project}."),
            ),
            _ => (200, String::new()),
        },
        NonMember => match route {
            List => (200, String::new()),
            Create => (404, "Organization not found.".into()),
            _ => (404, "Not found.".into()),
        },
        ReadOnly | Member => match route {
            Create => (
                403,
                "You need to be an organization admin or above to create new projects.".into(),
            ),
            Patch | Put => (
                403,
                "Only project admins can modify these settings: timezone".into(),
            ),
            Delete => (
                403,
                "You don't have sufficient permissions in the project.".into(),
            ),
            _ => (200, String::new()),
        },
        Admin | Owner => match route {
            Create => (201, String::new()),
            Delete => (204, String::new()),
            _ => (200, String::new()),
        },
    }
}

#[tokio::test]
async fn every_route_for_every_caller() {
    let w = World::new().await;
    let app = &w.app;
    let no_scope = app
        .key("member@example.com", &["organization:read", "user:write"])
        .await;
    let read_only = app.key("member@example.com", &["project:read"]).await;
    prickle::admin::add_member(&app.db, &w.other_org, "owner@example.com", 1)
        .await
        .unwrap();
    let other_org = app
        .key_with(
            "owner@example.com",
            &["*"],
            Some(vec![w.other_org.clone()]),
            None,
        )
        .await;
    let keep = w.create_project("Kept").await["id"].as_i64().unwrap();
    let project_key = app
        .key_with("owner@example.com", &["*"], None, Some(vec![keep]))
        .await;

    let actors = [
        Actor::NoKey,
        Actor::InvalidKey,
        Actor::NoScope,
        Actor::ReadOnly,
        Actor::OtherOrgKey,
        Actor::ProjectKey,
        Actor::NonMember,
        Actor::Member,
        Actor::Admin,
        Actor::Owner,
    ];
    let mut checked = 0;
    for actor in actors {
        let key: Option<&str> = match actor {
            Actor::NoKey => None,
            Actor::InvalidKey => Some("phx_not_a_real_key_0123456789abcdefghijklmnop"),
            Actor::NoScope => Some(&no_scope),
            Actor::ReadOnly => Some(&read_only),
            Actor::OtherOrgKey => Some(&other_org),
            Actor::ProjectKey => Some(&project_key),
            Actor::NonMember => Some(&w.outsider),
            Actor::Member => Some(&w.member),
            Actor::Admin => Some(&w.admin),
            Actor::Owner => Some(&w.owner),
        };
        for route in ALL_ROUTES {
            // Deletes consume a project: each row gets its own.
            let id = if matches!(route, Route::Delete) {
                w.create_project(&format!("Doomed {actor:?}")).await["id"]
                    .as_i64()
                    .unwrap()
            } else {
                keep
            };
            let (path, body): (String, Option<Value>) = match route {
                Route::List => (w.projects(), None),
                Route::Create => (
                    w.projects(),
                    Some(json!({"name": format!("New {actor:?}")})),
                ),
                Route::Retrieve | Route::Delete => (w.project(id), None),
                Route::Patch | Route::Put => {
                    (w.project(id), Some(json!({"timezone": "Europe/Lisbon"})))
                }
                Route::Activity => (format!("{}activity/", w.project(id)), None),
            };
            let r = app.call(route.method(), &path, key, body).await;
            let (status, detail) = expected(actor, route, &w.org, id);
            assert_eq!(r.status.as_u16(), status, "{actor:?} {route:?}: {}", r.body);
            if status >= 400 {
                let kind = if status == 404 {
                    "invalid_request"
                } else {
                    "authentication_error"
                };
                assert_eq!(r.body["type"], kind, "{actor:?} {route:?}");
                assert_eq!(r.body["detail"], detail.as_str(), "{actor:?} {route:?}");
                assert_eq!(r.body["attr"], Value::Null, "{actor:?} {route:?}");
            }
            if matches!((actor, route), (Actor::NonMember, Route::List)) {
                assert_eq!(r.body["count"], 0, "a non-member sees an empty page");
            }
            checked += 1;
        }
    }
    assert_eq!(checked, actors.len() * ALL_ROUTES.len());
}

#[tokio::test]
async fn credentials_are_read_from_header_then_body_then_query() {
    let w = World::new().await;
    let path = w.projects();
    let by_query = w
        .app
        .call(
            "GET",
            &format!("{path}?personal_api_key={}", w.member),
            None,
            None,
        )
        .await;
    assert_eq!(by_query.status, StatusCode::OK);
    let by_body = w
        .app
        .call(
            "POST",
            &path,
            None,
            Some(json!({"personal_api_key": w.owner, "name": "From body"})),
        )
        .await;
    assert_eq!(by_body.status, StatusCode::CREATED, "{}", by_body.body);
    assert_eq!(by_body.body["name"], "From body");
    let bad_query = w
        .app
        .call(
            "GET",
            &format!("{path}?personal_api_key=phx_nope"),
            None,
            None,
        )
        .await;
    assert_eq!(
        bad_query.error(),
        (
            401,
            "authentication_failed",
            "Personal API key found in request query string is invalid.",
            Value::Null
        )
    );
    let bad_body = w
        .app
        .call(
            "POST",
            &path,
            None,
            Some(json!({"personal_api_key": "phx_nope"})),
        )
        .await;
    assert_eq!(
        bad_body.error().2,
        "Personal API key found in request body is invalid."
    );
    // Extra spaces around the key are tolerated.
    let spaced = w
        .app
        .call("GET", &path, Some(&format!("  {}  ", w.member)), None)
        .await;
    assert_eq!(spaced.status, StatusCode::OK);
    // The header wins: a bad header key is not rescued by a good query key.
    let both = w
        .app
        .call(
            "GET",
            &format!("{path}?personal_api_key={}", w.member),
            Some("phx_nope"),
            None,
        )
        .await;
    assert_eq!(both.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn no_credentials_carry_the_oauth_challenge() {
    let w = World::new().await;
    let req = axum::http::Request::builder()
        .uri(w.projects())
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = tower::ServiceExt::oneshot(w.app.router.clone(), req)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer resource_metadata=\"http://testserver/.well-known/oauth-protected-resource\""
    );
}

/// Runs one UPDATE against the test database.
async fn update(w: &World, stmt: &mut sea_query::UpdateStatement) {
    let mut tx = w.app.db.write().await.unwrap();
    tx.execute(stmt).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn keys_with_no_scopes_or_of_inactive_users_are_refused() {
    use prickle::storage::schema::{PersonalApiKeys as K, Users as U};
    use sea_query::{Expr, ExprTrait, Query};
    let w = World::new().await;
    // PostHog's newest rule: a key whose scope list is empty grants nothing.
    let empty = w.app.key("admin@example.com", &["*"]).await;
    let digest = prickle::auth::keys::secure_value(&empty);
    update(
        &w,
        Query::update()
            .table(K::Table)
            .value(K::Scopes, "[]")
            .and_where(Expr::col(K::SecureValue).eq(digest)),
    )
    .await;
    let r = w.app.call("GET", &w.projects(), Some(&empty), None).await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "This action does not support personal API key access",
            Value::Null
        )
    );

    let before = w
        .app
        .call("GET", &w.projects(), Some(&w.member), None)
        .await;
    assert_eq!(before.status, StatusCode::OK);
    update(
        &w,
        Query::update()
            .table(U::Table)
            .value(U::IsActive, false)
            .and_where(Expr::col(U::Email).eq("member@example.com")),
    )
    .await;
    let after = w
        .app
        .call("GET", &w.projects(), Some(&w.member), None)
        .await;
    assert_eq!(
        after.error(),
        (
            401,
            "authentication_failed",
            "Personal API key found in request Authorization header is invalid.",
            Value::Null
        )
    );
}

#[tokio::test]
async fn last_used_at_is_set_on_first_use() {
    use prickle::storage::schema::PersonalApiKeys as K;
    use sea_query::{Expr, ExprTrait, Query};
    let w = World::new().await;
    let key = w.app.key("member@example.com", &["project:read"]).await;
    let digest = prickle::auth::keys::secure_value(&key);
    let read = |digest: String| {
        let db = w.app.db.clone();
        async move {
            let mut tx = db.read().await.unwrap();
            let q = Query::select()
                .column(K::LastUsedAt)
                .from(K::Table)
                .and_where(Expr::col(K::SecureValue).eq(digest))
                .to_owned();
            tx.query_opt(&q, |r| r.opt_i64(0)).await.unwrap().unwrap()
        }
    };
    assert_eq!(read(digest.clone()).await, None);
    let r = w.app.call("GET", &w.projects(), Some(&key), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let first = read(digest.clone()).await.expect("set on first use");
    w.app.call("GET", &w.projects(), Some(&key), None).await;
    assert_eq!(
        read(digest).await,
        Some(first),
        "bumped at most once an hour"
    );
}

#[tokio::test]
async fn current_alias_and_trailing_slashes() {
    let w = World::new().await;
    let id = w.create_project("Aliased").await["id"].as_i64().unwrap();
    for path in [
        "/api/organizations/@current/projects/".to_string(),
        "/api/organizations/@current/projects".to_string(),
        format!("/api/organizations/@current/projects/{id}"),
        format!("/api/organizations/@current/projects/{id}/activity"),
        format!("/api/organizations/{}/projects/@current/", w.org),
    ] {
        let r = w.app.call("GET", &path, Some(&w.owner), None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    }
    // The outsider's @current is their own organization, never this one.
    let theirs = w
        .app
        .call(
            "GET",
            "/api/organizations/@current/projects/",
            Some(&w.outsider),
            None,
        )
        .await;
    assert_eq!(theirs.body["count"], 0);
    let cross = w
        .app
        .call(
            "GET",
            &format!("/api/organizations/@current/projects/{id}/"),
            Some(&w.outsider),
            None,
        )
        .await;
    assert_eq!(cross.error(), (404, "not_found", "Not found.", Value::Null));
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let w = World::new().await;
    let id = w.create_project("Methods").await["id"].as_i64().unwrap();
    let r = w.app.call("GET", "/api/nope/", Some(&w.owner), None).await;
    assert_eq!(r.error(), (404, "not_found", "Not found.", Value::Null));
    assert_eq!(r.body["type"], "invalid_request");
    // A method a route does not map declares no scope: PostHog refuses keys for it.
    for (method, path) in [
        ("PUT", w.projects()),
        ("DELETE", w.projects()),
        ("POST", w.project(id)),
    ] {
        let r = w.app.call(method, &path, Some(&w.owner), None).await;
        assert_eq!(
            r.error(),
            (
                403,
                "permission_denied",
                "This action does not support personal API key access",
                Value::Null
            ),
            "{method} {path}"
        );
    }
    // PATCH on the list route is a write in PostHog's eyes: scope first, then 405.
    let r = w
        .app
        .call("PATCH", &w.projects(), Some(&w.owner), Some(json!({})))
        .await;
    assert_eq!(
        r.error(),
        (
            405,
            "method_not_allowed",
            "Method \"PATCH\" not allowed.",
            Value::Null
        )
    );
    let read_only = w.app.key("owner@example.com", &["project:read"]).await;
    let r = w
        .app
        .call("PATCH", &w.projects(), Some(&read_only), Some(json!({})))
        .await;
    assert_eq!(
        r.error().2,
        "API key missing required scope 'project:write'"
    );
    // Unauthenticated: 401 before anything else.
    let r = w.app.call("DELETE", &w.projects(), None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = w.app.call("POST", "/_health", None, None).await;
    assert_eq!(
        r.error(),
        (
            405,
            "method_not_allowed",
            "Method \"POST\" not allowed.",
            Value::Null
        )
    );
}

#[tokio::test]
async fn organizations_that_do_not_exist_or_are_malformed() {
    let w = World::new().await;
    for org in ["0190c0de-0000-7000-8000-000000000099", "not-a-uuid", "1234"] {
        let r = w
            .app
            .call(
                "GET",
                &format!("/api/organizations/{org}/projects/"),
                Some(&w.owner),
                None,
            )
            .await;
        assert_eq!(
            r.error(),
            (404, "not_found", "Organization not found.", Value::Null),
            "{org}"
        );
    }
}
