//! The one body parser, through the router: DRF's media types (JSON, urlencoded
//! and multipart forms; anything else, a body without a Content-Type too, is
//! 415) and forms read as DRF's fields read them, on every declared body.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use serde_json::{json, Value};

use crate::support::{Response, World};

const FORM: &str = "application/x-www-form-urlencoded";

fn invites(w: &World) -> String {
    format!("/api/organizations/{}/invites/", w.org)
}

fn legal_documents(w: &World) -> String {
    format!("/api/organizations/{}/legal_documents/", w.org)
}

/// A request with the owner's key, `body` as given and no Content-Type.
async fn untyped(w: &World, method: &str, path: &str, body: &'static str) -> Response {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {}", w.owner))
        .body(Body::from(body))
        .unwrap();
    w.app.send(req).await
}

fn unsupported(r: &Response, media_type: &str) {
    assert_eq!(
        r.body,
        json!({
            "type": "invalid_request",
            "code": "unsupported_media_type",
            "detail": format!("Unsupported media type \"{media_type}\" in request."),
            "attr": null,
        })
    );
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn a_body_without_a_content_type_is_refused() {
    let w = World::new().await;
    let body = r#"{"target_email": "untyped@example.com"}"#;
    unsupported(&untyped(&w, "POST", &invites(&w), body).await, "");
    let r = untyped(&w, "POST", "/api/legal_documents/signed/", body).await;
    unsupported(&r, "");
    // No body at all is DRF's empty data, whatever the headers.
    let r = untyped(&w, "POST", &invites(&w), "").await;
    assert_eq!(r.error().3, json!("target_email"), "{}", r.body);
    assert_eq!(r.error().1, "required");
    let id = w.create_project("Untyped").await["id"].as_i64().unwrap();
    let r = untyped(&w, "PATCH", &w.project(id), "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}

#[tokio::test]
async fn media_types_are_matched_as_drf_matches_them() {
    let w = World::new().await;
    for (content_type, name) in [
        ("application/json; charset=utf-8", "Charset"),
        ("Application/JSON", "Upper"),
        ("application/*", "Any application"),
        ("*/*", "Anything"),
    ] {
        let body = json!({ "name": name }).to_string().into_bytes();
        let r = w
            .app
            .call_raw("POST", &w.projects(), &w.owner, content_type, body)
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{content_type}: {}", r.body);
        assert_eq!(r.body["name"], name);
    }
    for content_type in ["application/vnd.api+json", "text/plain; charset=UTF-8"] {
        let r = w
            .app
            .call_raw(
                "POST",
                &w.projects(),
                &w.owner,
                content_type,
                b"{}".to_vec(),
            )
            .await;
        unsupported(&r, content_type);
    }
}

#[tokio::test]
async fn json_sent_as_a_form_is_read_as_a_form() {
    let w = World::new().await;
    // `curl -d '{...}'` labels JSON as a form: DRF reads one field named by
    // the whole text, so the body's fields are missing.
    let json = br#"{"target_email": "labelled@example.com"}"#.to_vec();
    let r = w
        .app
        .call_raw("POST", &invites(&w), &w.owner, FORM, json)
        .await;
    assert_eq!(r.error().1, "required", "{}", r.body);
    assert_eq!(r.error().3, json!("target_email"));
    let doc = br#"{"document_type": "BAA"}"#.to_vec();
    let r = w
        .app
        .call_raw("POST", &legal_documents(&w), &w.owner, FORM, doc)
        .await;
    assert_eq!(r.error().3, json!("document_type"), "{}", r.body);
    let project = br#"{"name": "Labelled"}"#.to_vec();
    let r = w
        .app
        .call_raw("POST", &w.projects(), &w.owner, FORM, project)
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_ne!(r.body["name"], "Labelled");
}

#[tokio::test]
async fn forms_are_read_as_drf_fields_read_them() {
    let w = World::new().await;
    let project = w.create_project("Formed").await["id"].as_i64().unwrap();
    // An invite: the last of repeated values, blanks left out (defaults
    // apply) or kept where the field allows them, JSON text for JSON.
    let access = format!("[{{\"id\": {project}, \"level\": \"admin\"}}]");
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("target_email", " Form@Example.COM ")
        .append_pair("level", "1")
        .append_pair("level", "8")
        .append_pair("message", "")
        .append_pair("send_email", "")
        .append_pair("private_project_access", &access)
        .finish();
    let r = w
        .app
        .call_raw("POST", &invites(&w), &w.owner, FORM, body.into_bytes())
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["target_email"], "form@example.com");
    assert_eq!(r.body["level"], 8);
    assert_eq!(r.body["message"], "");
    assert_eq!(
        r.body["private_project_access"],
        json!([{"id": project, "level": "admin"}])
    );
    let r = w
        .app
        .call_raw(
            "POST",
            &invites(&w),
            &w.owner,
            FORM,
            b"target_email=x%40example.com&private_project_access=%5B".to_vec(),
        )
        .await;
    assert_eq!(
        (r.error().2, r.error().3),
        ("Value must be valid JSON.", json!("private_project_access")),
        "{}",
        r.body
    );

    // A project: a list setting takes every value of its name.
    let body = "app_urls=https%3A%2F%2Fa.example.com&app_urls=https%3A%2F%2Fb.example.com\
                &timezone=Europe%2FParis&product_description=";
    let r = w
        .app
        .call_raw(
            "PATCH",
            &w.project(project),
            &w.owner,
            FORM,
            body.as_bytes().to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(
        r.body["app_urls"],
        json!(["https://a.example.com", "https://b.example.com"])
    );
    assert_eq!(r.body["timezone"], "Europe/Paris");
    assert_eq!(r.body["product_description"], "");

    // A member's level.
    let list = format!("/api/organizations/{}/members/", w.org);
    let members = w.app.call("GET", &list, Some(&w.owner), None).await;
    let uuid = members.body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["user"]["email"] == "member@example.com")
        .map(|m| m["user"]["uuid"].as_str().unwrap().to_string())
        .unwrap();
    let r = w
        .app
        .call_raw(
            "PATCH",
            &format!("{list}{uuid}/"),
            &w.owner,
            FORM,
            b"level=8".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["level"], 8);
}

#[tokio::test]
async fn multipart_forms_are_read() {
    let w = World::new().await;
    let fields = [
        ("document_type", "DPA"),
        ("company_name", "Acme, Inc."),
        ("company_address", "1 Main St\r\nSpringfield"),
        ("representative_name", "Ada Lovelace"),
        ("representative_title", "CEO"),
        ("representative_email", "ada@acme.example"),
        ("dpa_mode", "pretty"),
    ];
    let mut body = String::new();
    for (name, value) in fields {
        body.push_str(&format!(
            "--b0und\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
        ));
    }
    body.push_str("--b0und--\r\n");
    let r = w
        .app
        .call_raw(
            "POST",
            &legal_documents(&w),
            &w.owner,
            "multipart/form-data; boundary=b0und",
            body.into_bytes(),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["company_name"], "Acme, Inc.");
    let r = w
        .app
        .call_raw(
            "POST",
            &legal_documents(&w),
            &w.owner,
            "multipart/form-data",
            b"--x\r\n".to_vec(),
        )
        .await;
    assert_eq!(
        r.body,
        json!({
            "type": "invalid_request",
            "code": "parse_error",
            "detail": "Multipart form parse error - Invalid boundary in multipart: None",
            "attr": Value::Null,
        })
    );
}

#[tokio::test]
async fn the_account_bodies_are_forms_too() {
    let w = World::new().await;
    // @me: a blank name is kept, a nullable boolean's blank is null (shown
    // as false), JSON fields take JSON text, a blank switch is left out.
    let body = "first_name=&anonymize_data=&theme_mode=dark\
                &notification_settings=%7B%22plugin_disabled%22%3A+false%7D\
                &set_current_organization=";
    let r = w
        .app
        .call_raw("PATCH", "/api/users/@me/", &w.owner, FORM, body.into())
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["first_name"], "");
    assert_eq!(r.body["anonymize_data"], false);
    assert_eq!(r.body["theme_mode"], "dark");
    assert_eq!(r.body["notification_settings"]["plugin_disabled"], false);
    let r = w
        .app
        .call_raw(
            "PATCH",
            "/api/users/@me/",
            &w.owner,
            FORM,
            b"hedgehog_config=%7B".to_vec(),
        )
        .await;
    assert_eq!(
        (r.error().2, r.error().3),
        ("Value must be valid JSON.", json!("hedgehog_config")),
        "{}",
        r.body
    );

    // The organization: DRF's null strings for nullable booleans.
    let r = w
        .app
        .call_raw(
            "PATCH",
            &format!("/api/organizations/{}/", w.org),
            &w.owner,
            FORM,
            b"name=Formed+org&enforce_2fa=&members_can_invite=null".to_vec(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body["name"], "Formed org");
    assert_eq!(r.body["enforce_2fa"], Value::Null);
    assert_eq!(r.body["members_can_invite"], Value::Null);

    // Sign-up, with the token as a form field.
    let invite = w
        .app
        .call(
            "POST",
            &invites(&w),
            Some(&w.owner),
            Some(json!({"target_email": "formed@example.com"})),
        )
        .await;
    assert_eq!(invite.status, StatusCode::CREATED, "{}", invite.body);
    let link = crate::signup::link(&invite.body);
    let (path, token) = link.split_once("?token=").unwrap();
    let body: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("first_name", "Formed")
        .append_pair("password", "correct horse")
        .append_pair("role_at_organization", "")
        .append_pair("token", token)
        .finish();
    let req = Request::builder()
        .method("POST")
        .uri(path)
        .header("content-type", FORM)
        .body(Body::from(body))
        .unwrap();
    let r = w.app.send(req).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    assert_eq!(r.body["first_name"], "Formed");
    assert_eq!(r.body["role_at_organization"], "");
}
