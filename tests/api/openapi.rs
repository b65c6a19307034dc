//! The API document (`/api/schema/`): it describes exactly the routes the
//! router serves, with the scopes the code enforces and PostHog's operation
//! ids; it is valid OpenAPI 3.1; it negotiates YAML and JSON as
//! drf-spectacular does; the docs pages come from the binary; and responses
//! conform to it (`conformance` checks every response the suite receives).

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::conformance;
use crate::support::{TestApp, World};

/// The document as served, in JSON.
async fn served_document(app: &TestApp) -> Value {
    let r = app
        .call("GET", "/api/schema/?format=json", None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["openapi"], "3.1.0");
    r.body
}

fn described() -> Vec<prickle::http::Endpoint> {
    prickle::openapi::described(&prickle::api::endpoints())
        .cloned()
        .collect()
}

#[tokio::test]
async fn the_document_lists_exactly_the_served_routes() {
    let app = TestApp::new().await;
    let doc = served_document(&app).await;
    let mut listed = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            listed.insert((method.to_uppercase(), path.clone()));
        }
    }
    let served: BTreeSet<(String, String)> = described()
        .iter()
        .map(|e| {
            (
                e.method.to_string(),
                prickle::openapi::document_path(e.path),
            )
        })
        .collect();
    assert_eq!(listed, served);
    // The document's own routes are served but not described.
    let own: Vec<_> = prickle::api::endpoints()
        .into_iter()
        .filter(|e| prickle::openapi::is_documentation(e.path))
        .map(|e| e.path)
        .collect();
    assert_eq!(own.len(), 5, "{own:?}");
    assert!(!doc["paths"]
        .as_object()
        .unwrap()
        .keys()
        .any(|p| p.starts_with("/api/schema")));
}

/// Every operation has its own id, and every `{name}` of its path a
/// declared path parameter (a route and its doc are one declaration, so
/// none can exist without the other).
#[test]
fn every_operation_is_named_once_with_its_parameters() {
    let endpoints = prickle::api::endpoints();
    let mut ids = BTreeSet::new();
    for e in prickle::openapi::described(&endpoints) {
        let op = &e.doc;
        assert_eq!((&op.method, op.path), (&e.method, e.path));
        assert!(ids.insert(op.id), "operation id {} used twice", op.id);
        for name in prickle::openapi::path_names(op.path) {
            assert!(
                op.parameters.iter().any(|p| p.name == name),
                "{} {}: no parameter {name}",
                op.method,
                op.path
            );
        }
    }
}

#[tokio::test]
async fn each_operation_requires_the_scopes_the_code_enforces() {
    let app = TestApp::new().await;
    let doc = served_document(&app).await;
    assert_eq!(
        doc["components"]["securitySchemes"]["PersonalAPIKeyAuth"],
        json!({"type": "http", "scheme": "bearer"})
    );
    for e in described() {
        let op = &doc["paths"][prickle::openapi::document_path(e.path)]
            [e.method.as_str().to_lowercase()];
        let expected: Value = match e.access {
            prickle::http::Access::Public => Value::Null,
            prickle::http::Access::AnyKey => json!([{"PersonalAPIKeyAuth": []}]),
            prickle::http::Access::Session => json!([{"cookieAuth": []}]),
            access => Value::Array(
                access
                    .scopes()
                    .iter()
                    .map(|s| json!({"PersonalAPIKeyAuth": [s.to_string()]}))
                    .collect(),
            ),
        };
        assert_eq!(op["security"], expected, "{} {}", e.method, e.path);
        if !matches!(e.access, prickle::http::Access::Public) {
            assert_eq!(
                op["responses"]["401"]["content"]["application/json"]["schema"]["$ref"],
                "#/components/schemas/ErrorResponse"
            );
        }
    }
}

/// Operation ids and scopes as PostHog's schema has them (the activity
/// route is documented for keys, decisions.md).
#[tokio::test]
async fn operations_are_named_as_posthog_names_them() {
    let app = TestApp::new().await;
    let doc = served_document(&app).await;
    let projects = "/api/organizations/{organization_id}/projects/";
    let project = "/api/organizations/{organization_id}/projects/{id}/";
    let rows: &[(&str, &str, &str, &[&str])] = &[
        ("get", projects, "list_2", &["project:read"]),
        ("post", projects, "create_2", &["project:write"]),
        ("get", project, "retrieve_2", &["project:read"]),
        ("put", project, "update_2", &["project:write"]),
        ("patch", project, "partial_update_2", &["project:write"]),
        ("delete", project, "destroy_2", &["project:write"]),
        (
            "get",
            "/api/organizations/{organization_id}/projects/{id}/activity/",
            "activity_retrieve",
            &["project:read", "activity_log:read"],
        ),
    ];
    for (method, path, id, scopes) in rows {
        let op = &doc["paths"][path][method];
        assert_eq!(op["operationId"], *id, "{method} {path}");
        let security: Vec<Value> = scopes
            .iter()
            .map(|s| json!({"PersonalAPIKeyAuth": [s]}))
            .collect();
        assert_eq!(op["security"], Value::Array(security), "{method} {path}");
    }
    let list = &doc["paths"][projects]["get"];
    let names: Vec<&str> = list["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["organization_id", "limit", "offset", "search"]);
    assert_eq!(
        doc["paths"][project]["patch"]["requestBody"]["content"]["application/json"]["schema"]
            ["$ref"],
        "#/components/schemas/PatchedProjectBackwardCompat"
    );
    // The detail lists every field the server renders, in PostHog's order.
    let detail = &doc["components"]["schemas"]["ProjectBackwardCompat"]["properties"];
    let fields: Vec<&str> = detail
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    let declared: Vec<&str> = prickle::projects::model::detail_fields().collect();
    assert_eq!(fields, declared);
    // Required as in PostHog's schema: the read-only fields, which bodies never carry.
    let schemas = &doc["components"]["schemas"];
    let mut required: Vec<&str> = schemas["ProjectBackwardCompat"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    // PostHog's list (the project model declares each field's read-only-ness).
    let posthog = [
        "api_token",
        "available_setup_task_ids",
        "created_at",
        "default_modifiers",
        "effective_membership_level",
        "group_types",
        "has_group_types",
        "id",
        "ingested_event",
        "live_events_token",
        "organization",
        "person_on_events_querying_enabled",
        "product_intents",
        "secret_api_token",
        "secret_api_token_backup",
        "updated_at",
        "user_access_level",
        "uuid",
    ];
    assert_eq!(required, posthog);
    for name in required {
        assert_eq!(detail[name]["readOnly"], true, "{name}");
    }
    assert!(schemas["PatchedProjectBackwardCompat"]
        .get("required")
        .is_none());
    assert_eq!(
        doc["components"]["schemas"]["ErrorResponse"]["required"],
        json!(["type", "code", "detail", "attr"])
    );
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let app = TestApp::new().await;
    let doc = served_document(&app).await;
    let spec = oas3::from_json(doc.to_string()).expect("an OpenAPI 3.1 document");
    assert_eq!(spec.openapi, "3.1.0");
    // Every `$ref` resolves to a component.
    let text = doc.to_string();
    for part in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = part.split('"').next().unwrap();
        assert!(
            doc["components"]["schemas"].get(name).is_some(),
            "dangling $ref {name}"
        );
    }
}

async fn get(app: &TestApp, uri: &str, accept: Option<&str>) -> (StatusCode, String, String) {
    let mut b = Request::builder().uri(uri);
    if let Some(a) = accept {
        b = b.header(header::ACCEPT, a);
    }
    let resp = app
        .router
        .clone()
        .oneshot(b.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let ct = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, ct, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn yaml_by_default_json_by_format_or_accept() {
    let app = TestApp::new().await;
    let (status, ct, body) = get(&app, "/api/schema/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(ct, "application/vnd.oai.openapi; charset=utf-8");
    assert!(body.starts_with("openapi: 3.1.0"), "{}", &body[..40]);
    let cases = [
        (
            "/api/schema/?format=json",
            None,
            "application/vnd.oai.openapi+json",
        ),
        ("/api/schema", Some("application/json"), "application/json"),
        (
            "/api/schema/",
            Some("application/vnd.oai.openapi+json"),
            "application/vnd.oai.openapi+json",
        ),
        (
            "/api/schema/",
            Some("application/vnd.oai.openapi"),
            "application/vnd.oai.openapi; charset=utf-8",
        ),
        (
            "/api/schema/?format=yaml",
            Some("application/json"),
            "application/vnd.oai.openapi; charset=utf-8",
        ),
    ];
    for (uri, accept, want) in cases {
        let (status, ct, body) = get(&app, uri, accept).await;
        assert_eq!(
            (status, ct.as_str()),
            (StatusCode::OK, want),
            "{uri} {accept:?}"
        );
        if want.contains("json") {
            let doc: Value = serde_json::from_str(&body).unwrap();
            assert_eq!(doc["info"]["title"], "prickle");
        } else {
            assert!(body.starts_with("openapi: 3.1.0"));
        }
    }
    let (status, _, _) = get(&app, "/api/schema/?format=xml", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, body) = get(&app, "/api/schema/", Some("text/html")).await;
    assert_eq!(status, StatusCode::NOT_ACCEPTABLE, "{body}");
}

#[tokio::test]
async fn the_docs_pages_are_served_from_the_binary() {
    let app = TestApp::new().await;
    for page in ["/api/schema/swagger-ui", "/api/schema/redoc"] {
        let (status, _, _) = get(&app, page, None).await;
        assert_eq!(status, StatusCode::PERMANENT_REDIRECT, "{page}");
        let (status, ct, html) = get(&app, &format!("{page}/"), None).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(ct.starts_with("text/html"), "{ct}");
        // Nothing is loaded from elsewhere.
        assert!(
            !html.contains("https://") && !html.contains("http://"),
            "{html}"
        );
    }
    let (_, _, swagger) = get(&app, "/api/schema/swagger-ui/", None).await;
    assert!(swagger.contains("swagger-ui-bundle.js"));
    let (status, ct, init) = get(&app, "/api/schema/swagger-ui/swagger-initializer.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.contains("javascript"), "{ct}");
    assert!(init.contains("/api/schema/?format=json"), "{init}");
    let (status, ct, bundle) = get(&app, "/api/schema/swagger-ui/swagger-ui-bundle.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(ct.contains("javascript") && bundle.len() > 100_000, "{ct}");
    let (_, _, redoc) = get(&app, "/api/schema/redoc/", None).await;
    assert!(redoc.contains("redoc.standalone.js") && redoc.contains("/api/schema/?format=json"));
    let (status, _, js) = get(&app, "/api/schema/redoc/redoc.standalone.js", None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(js.len() > 500_000);
    let (status, _, _) = get(&app, "/api/schema/redoc/nothing.js", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Method, path, key, body and the status expected.
type Call<'a> = (&'a str, String, Option<&'a str>, Option<Value>, u16);

/// Calls every projects operation, successes and failures, and checks each
/// response against the document for its route and status.
#[tokio::test]
async fn projects_responses_conform_to_the_document() {
    let w = World::new().await;
    let created = w.create_project("Conforming").await;
    let id = created["id"].as_i64().unwrap();
    let detail = w.project(id);
    let activity = format!("{detail}activity/");
    let calls: Vec<Call> = vec![
        ("GET", w.projects(), Some(&w.owner), None, 200),
        (
            "GET",
            format!("{}?limit=1&offset=1&search=C", w.projects()),
            Some(&w.member),
            None,
            200,
        ),
        (
            "POST",
            w.projects(),
            Some(&w.owner),
            Some(json!({"name": "Second", "timezone": "Europe/Lisbon"})),
            201,
        ),
        (
            "POST",
            w.projects(),
            Some(&w.owner),
            Some(json!({"name": "Second"})),
            409,
        ),
        (
            "POST",
            w.projects(),
            Some(&w.owner),
            Some(json!({"timezone": "Nowhere"})),
            400,
        ),
        ("GET", detail.clone(), Some(&w.member), None, 200),
        (
            "PATCH",
            detail.clone(),
            Some(&w.admin),
            Some(json!({
                "session_recording_sample_rate": 0.5, "week_start_day": 1, "business_model": "",
                "recording_domains": ["https://a.example"], "primary_dashboard": 3,
                "session_recording_minimum_duration_milliseconds": 100
            })),
            200,
        ),
        (
            "PUT",
            detail.clone(),
            Some(&w.owner),
            Some(json!({"name": "Renamed", "business_model": null})),
            200,
        ),
        (
            "PATCH",
            detail.clone(),
            Some(&w.member),
            Some(json!({"anonymize_ips": true})),
            403,
        ),
        ("GET", activity.clone(), Some(&w.owner), None, 200),
        (
            "GET",
            format!("{activity}?page=0"),
            Some(&w.owner),
            None,
            400,
        ),
        ("GET", detail.clone(), None, None, 401),
        ("GET", detail.clone(), Some(&w.outsider), None, 404),
        ("DELETE", detail.clone(), Some(&w.member), None, 403),
        ("DELETE", detail.clone(), Some(&w.owner), None, 204),
        ("GET", detail.clone(), Some(&w.owner), None, 404),
    ];
    for (method, path, key, body, status) in calls {
        let r = w.app.call(method, &path, key, body).await;
        assert_eq!(r.status.as_u16(), status, "{method} {path}: {}", r.body);
        if r.body.get("api_token").is_some() {
            // Every field of the detail, none missing, none extra.
            let keys: Vec<&str> = r
                .body
                .as_object()
                .unwrap()
                .keys()
                .map(|k| k.as_str())
                .collect();
            let declared: Vec<&str> = prickle::projects::model::detail_fields().collect();
            assert_eq!(keys, declared, "{method} {path}");
        }
        // `send` already checked it; this says the document described it.
        assert_eq!(
            conformance::validate(method, &path, status, &r.body),
            Ok(true),
            "{method} {path}"
        );
    }
}

/// The checker itself: a body that breaks the document is caught.
#[tokio::test]
async fn a_nonconforming_body_is_caught() {
    let w = World::new().await;
    let created = w.create_project("Caught").await;
    let path = w.project(created["id"].as_i64().unwrap());
    assert_eq!(conformance::validate("GET", &path, 200, &created), Ok(true));
    let mut broken = created.clone();
    broken.as_object_mut().unwrap().remove("api_token");
    assert!(conformance::validate("GET", &path, 200, &broken).is_err());
    let mut broken = created.clone();
    broken["timezone"] = json!("Mars/Olympus");
    assert!(conformance::validate("GET", &path, 200, &broken).is_err());
    assert!(conformance::validate("GET", &path, 418, &created).is_err());
    assert_eq!(
        conformance::validate("GET", "/nowhere/", 404, &Value::Null),
        Ok(false)
    );
}

/// Swagger UI comes from the crate's vendored copy: without `vendored` (or
/// with default features) its build script downloads the assets.
#[test]
fn swagger_ui_is_built_from_the_vendored_copy() {
    let manifest = include_str!("../../Cargo.toml");
    let line = manifest
        .lines()
        .find(|l| l.starts_with("utoipa-swagger-ui"))
        .expect("utoipa-swagger-ui is a dependency");
    assert!(
        line.contains("default-features = false") && line.contains("\"vendored\""),
        "{line}"
    );
    assert!(!line.contains("reqwest") && !line.contains("url"), "{line}");
}
