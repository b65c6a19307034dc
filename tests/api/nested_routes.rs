//! A resource nested under a project is declared with nothing but a route
//! declaration: it names its project's path parameter (`{project_id}` here),
//! and `http::Routes` resolves that project with every check a project route
//! gets (non-members 404, key restrictions, `@current`), on both mounts.

use axum::http::Method;
use prickle::auth::Scope;
use prickle::config::Config;
use prickle::error::ApiResult;
use prickle::http::{ok_json, ApiRequest, App, ProjectMember, ProjectNeed, Routes};
use prickle::openapi::Operation;
use serde_json::json;

use crate::support::{World, SITE};

const READ: &[Scope] = &[Scope::read("project")];

async fn things(_: App, _: ApiRequest, p: ProjectMember) -> ApiResult<axum::response::Response> {
    ok_json(json!({"project": p.project_id, "organization": p.org.id}).to_string())
}

fn nested() -> Routes {
    let root = Operation::new(Method::GET, "/api/projects/{project_id}/things", "things");
    let org = Operation::new(
        Method::GET,
        "/api/organizations/{organization_id}/projects/{project_id}/things",
        "things_2",
    );
    Routes::new()
        .root_project(root, "project_id", READ, ProjectNeed::Read, things)
        .project(org, "project_id", READ, ProjectNeed::Read, things)
}

#[tokio::test]
async fn a_route_nested_under_a_project_gets_the_project_checks() {
    let mut w = World::new().await;
    let project = w.create_project("Nested").await["id"].as_i64().unwrap();
    let sibling = w.create_project("Sibling").await["id"].as_i64().unwrap();
    let app = App::new(
        w.app.db.clone(),
        Config::new(SITE, 2000, Some("test-secret")),
    );
    w.app.router = nested().into_router(app);
    let org = w.org.clone();
    let paths = [
        format!("/api/projects/{project}/things/"),
        format!("/api/organizations/{org}/projects/{project}/things/"),
    ];
    for path in &paths {
        let r = w.app.call("GET", path, Some(&w.member), None).await;
        assert_eq!(r.status, 200, "{path}: {:?}", r.body);
        assert_eq!(r.body, json!({"project": project, "organization": org}));
        // An outsider cannot tell the project exists.
        let r = w.app.call("GET", path, Some(&w.outsider), None).await;
        assert_eq!(r.error().0, 404, "{path}");
        let r = w.app.call("GET", path, None, None).await;
        assert_eq!(r.error().0, 401, "{path}");
    }
    // A key restricted to another project is refused this one.
    let restricted = w
        .app
        .key_with("member@example.com", &["*"], None, Some(vec![sibling]))
        .await;
    let r = w.app.call("GET", &paths[0], Some(&restricted), None).await;
    assert_eq!(r.error().0, 403);
    // A key without the scope is refused.
    let narrow = w
        .app
        .key("member@example.com", &["organization:read"])
        .await;
    let r = w.app.call("GET", &paths[1], Some(&narrow), None).await;
    assert_eq!(r.error().0, 403);
}

#[test]
#[should_panic(expected = "no path parameter {project_id} names the project")]
fn a_project_route_must_name_a_parameter_of_its_path() {
    let op = Operation::new(Method::GET, "/api/projects/{id}/things", "things");
    let _ = Routes::new().root_project(op, "project_id", READ, ProjectNeed::Read, things);
}
