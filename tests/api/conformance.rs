//! Every response a test receives through `TestApp::send` is checked against
//! the API document: when the document describes the route and method, the
//! status must be one it lists, and the body must match that status's schema.
//! Routes the document does not describe (unmapped methods, unknown paths,
//! the document itself) are left to their own tests.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use serde_json::Value;

/// The document, as the server renders it (built from the same code).
pub fn document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let doc = prickle::openapi::document(&prickle::api::endpoints());
        serde_json::from_str(&doc.to_json().expect("document renders")).expect("document is JSON")
    })
}

/// The document path (`/api/.../{id}/`) a request path falls under: the
/// template with the most literal segments that matches.
pub fn route_of(path: &str) -> Option<&'static str> {
    let path = path.split('?').next().unwrap_or("");
    let path = if path.ends_with('/') {
        path.to_string()
    } else {
        format!("{path}/")
    };
    let segments: Vec<&str> = path.split('/').collect();
    let paths = document()["paths"].as_object()?;
    paths
        .keys()
        .filter_map(|template| {
            let parts: Vec<&str> = template.split('/').collect();
            if parts.len() != segments.len() {
                return None;
            }
            let mut literal = 0;
            for (t, s) in parts.iter().zip(&segments) {
                if t.starts_with('{') {
                    if s.is_empty() {
                        return None;
                    }
                } else if t == s {
                    literal += 1;
                } else {
                    return None;
                }
            }
            Some((literal, template.as_str()))
        })
        .max_by_key(|(literal, _)| *literal)
        .map(|(_, t)| t)
}

fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

type Validator = Arc<jsonschema::Validator>;

/// A validator for the schema at `pointer` in the document, with the
/// document's components beside it so its `$ref`s resolve.
fn validator(pointer: &str) -> Validator {
    static CACHE: OnceLock<Mutex<HashMap<String, Validator>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(v) = cache.lock().unwrap().get(pointer) {
        return v.clone();
    }
    let mut root = document()
        .pointer(pointer)
        .unwrap_or_else(|| panic!("no schema at {pointer}"))
        .clone();
    if let Value::Object(map) = &mut root {
        map.insert("components".into(), document()["components"].clone());
    }
    let v = Arc::new(
        jsonschema::draft202012::options()
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("schema at {pointer} compiles: {e}")),
    );
    cache.lock().unwrap().insert(pointer.to_string(), v.clone());
    v
}

/// Checks a response against the document: `Ok(false)` when the document
/// does not describe the route and method, `Err` with the reasons when the
/// response does not conform.
pub fn validate(method: &str, path: &str, status: u16, body: &Value) -> Result<bool, String> {
    let Some(route) = route_of(path) else {
        return Ok(false);
    };
    let method = method.to_ascii_lowercase();
    let operation = &document()["paths"][route][&method];
    if operation.is_null() {
        return Ok(false);
    }
    let Some(response) = operation["responses"].get(status.to_string()) else {
        return Err(format!(
            "{method} {route}: status {status} is not documented (body {body})"
        ));
    };
    let Some(content) = response["content"].as_object() else {
        return if body.is_null() {
            Ok(true)
        } else {
            Err(format!(
                "{method} {route} {status}: documented without a body, got {body}"
            ))
        };
    };
    let content_type = content.keys().next().expect("a content type");
    let pointer = format!(
        "/paths/{}/{method}/responses/{status}/content/{}/schema",
        escape(route),
        escape(content_type)
    );
    let errors: Vec<String> = validator(&pointer)
        .iter_errors(body)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    if errors.is_empty() {
        Ok(true)
    } else {
        Err(format!(
            "{method} {route} {status} does not match the document: {}",
            errors.join("; ")
        ))
    }
}

/// `validate`, failing the test on a mismatch.
pub fn check(method: &str, path: &str, status: u16, body: &Value) {
    if let Err(e) = validate(method, path, status, body) {
        panic!("{e}");
    }
}
