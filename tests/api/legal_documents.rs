//! Legal documents (PostHog's early version, §6 98-117 of the summary): who
//! may list, create and read them, the field and cross-field rules, one
//! document of each type per organization, and the signing round trip.

use axum::http::StatusCode;
use prickle::storage::schema::{ActivityLog as A, LegalDocuments as L};
use prickle::storage::{DbError, RowRead};
use sea_query::{Expr, ExprTrait, Query};
use serde_json::{json, Value};

use crate::support::{Response, World, SITE};

pub(crate) const SIGNED: &str = "/api/legal_documents/signed";
pub(crate) const SIGNED_URL: &str = "https://app.pandadoc.com/s/signed.pdf";
const NO_KEY_ACCESS: &str = "This action does not support personal API key access";

pub(crate) fn list_path(org: &str) -> String {
    format!("/api/organizations/{org}/legal_documents/")
}

pub(crate) fn dpa(mode: &str) -> Value {
    json!({
        "document_type": "DPA",
        "company_name": "Acme, Inc.",
        "company_address": "1 Main St, Springfield",
        "representative_name": "Ada Lovelace",
        "representative_title": "CEO",
        "representative_email": "ada@acme.example",
        "dpa_mode": mode,
    })
}

fn baa() -> Value {
    json!({
        "document_type": "BAA",
        "company_name": "Acme, Inc.",
        "company_address": "1 Main St, Springfield",
        "representative_name": "Ada Lovelace",
        "representative_title": "CEO",
        "representative_email": "ada@acme.example",
        "dpa_mode": "pretty",
    })
}

async fn create(w: &World, key: &str, body: Value) -> Response {
    w.app
        .call("POST", &list_path(&w.org), Some(key), Some(body))
        .await
}

pub(crate) async fn created(w: &World, key: &str, body: Value) -> Value {
    let r = create(w, key, body).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
    r.body
}

async fn list(w: &World, key: &str) -> Response {
    w.app.call("GET", &list_path(&w.org), Some(key), None).await
}

pub(crate) async fn sign(w: &World, body: Value) -> Response {
    w.app.call("POST", SIGNED, None, Some(body)).await
}

/// What is stored of a document, beyond what the API shows:
/// (company_address, dpa_mode, status, signed_document_url, secret digest, created_by_id).
pub(crate) async fn stored(
    w: &World,
    id: &str,
) -> (String, String, String, String, String, Option<i64>) {
    let stmt = Query::select()
        .columns([
            L::CompanyAddress,
            L::DpaMode,
            L::Status,
            L::SignedDocumentUrl,
            L::SecretDigest,
            L::CreatedById,
        ])
        .from(L::Table)
        .and_where(Expr::col(L::Id).eq(id))
        .to_owned();
    let mut tx = w.app.db.read().await.unwrap();
    let row = tx
        .query_opt(&stmt, |r: &dyn RowRead| {
            Ok((
                r.string(0)?,
                r.string(1)?,
                r.string(2)?,
                r.string(3)?,
                r.string(4)?,
                r.opt_i64(5)?,
            ))
        })
        .await
        .unwrap()
        .expect("stored");
    tx.commit().await.unwrap();
    row
}

async fn stored_count(w: &World) -> i64 {
    let stmt = Query::select()
        .expr(Expr::col(L::Id).count())
        .from(L::Table)
        .to_owned();
    let mut tx = w.app.db.read().await.unwrap();
    let n = tx.query_opt(&stmt, |r| r.i64(0)).await.unwrap().unwrap();
    tx.commit().await.unwrap();
    n
}

/// The document's signing secret, as the operator gets it.
pub(crate) async fn roll_secret(w: &World, id: &str) -> String {
    let out = prickle::admin::roll_legal_document_secret(&w.app.db, &w.org, id)
        .await
        .expect("roll");
    out["secret"].as_str().unwrap().to_string()
}

async fn user_id(w: &World, email: &str) -> i64 {
    let mut tx = w.app.db.read().await.unwrap();
    let u = prickle::users::find_by_email(&mut tx, email)
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    u.id
}

// ------------------------------------------------------------ create

#[tokio::test]
async fn admin_creates_a_baa_without_any_add_on_and_it_keeps_no_address_or_mode() {
    // PostHog asks billing for a Boost/Scale/Enterprise add-on; prickle has no
    // billing, so any admin may (decisions.md).
    let w = World::new().await;
    let doc = created(&w, &w.admin, baa()).await;
    assert_eq!(doc["document_type"], "BAA");
    assert_eq!(
        doc["created_by"],
        json!({"first_name": "Test", "email": "admin@example.com"})
    );
    let (address, mode, _, _, _, by) = stored(&w, doc["id"].as_str().unwrap()).await;
    assert_eq!((address.as_str(), mode.as_str()), ("", ""));
    assert_eq!(by, Some(user_id(&w, "admin@example.com").await));
}

#[tokio::test]
async fn dpa_in_pretty_or_lawyer_mode_is_created_with_its_mode() {
    for mode in ["pretty", "lawyer"] {
        let w = World::new().await;
        let doc = created(&w, &w.admin, dpa(mode)).await;
        let (address, stored_mode, ..) = stored(&w, doc["id"].as_str().unwrap()).await;
        assert_eq!(stored_mode, mode);
        assert_eq!(address, "1 Main St, Springfield");
    }
}

#[tokio::test]
async fn create_returns_the_dto_with_default_status_and_no_secret() {
    let w = World::new().await;
    let doc = created(&w, &w.owner, dpa("pretty")).await;
    let mut keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "company_name",
            "created_at",
            "created_by",
            "document_type",
            "id",
            "representative_email",
            "representative_name",
            "signed_document_url",
            "status"
        ]
    );
    assert_eq!(doc["status"], "submitted_for_signature");
    assert_eq!(doc["signed_document_url"], "");
    assert_eq!(doc["company_name"], "Acme, Inc.");
    assert_eq!(doc["representative_name"], "Ada Lovelace");
    assert_eq!(doc["representative_email"], "ada@acme.example");
    assert!(uuid::Uuid::parse_str(doc["id"].as_str().unwrap()).is_ok());
    assert!(doc["created_at"].as_str().unwrap().ends_with('Z'));
    let (.., digest, _) = stored(&w, doc["id"].as_str().unwrap()).await;
    assert!(
        digest.starts_with("sha256$") && digest.len() >= 32,
        "{digest}"
    );
    // Neither the list nor the detail ever shows a secret.
    let text = format!(
        "{}{}",
        list(&w, &w.owner).await.body,
        w.app
            .call(
                "GET",
                &format!("{}{}/", list_path(&w.org), doc["id"].as_str().unwrap()),
                Some(&w.owner),
                None
            )
            .await
            .body
    );
    assert!(
        !text.contains("secret") && !text.contains("sha256"),
        "{text}"
    );
}

#[tokio::test]
async fn preview_only_and_missing_dpa_modes_are_refused() {
    let w = World::new().await;
    for mode in [
        json!("fairytale"),
        json!("tswift"),
        json!(""),
        json!("Pretty"),
    ] {
        let mut body = dpa("");
        body["dpa_mode"] = mode.clone();
        let r = create(&w, &w.admin, body).await;
        let (status, code, detail, attr) = r.error();
        assert_eq!(
            (status, code, attr),
            (400, "invalid_input", json!("dpa_mode")),
            "{mode}"
        );
        assert!(detail.contains("preview-only"), "{detail}");
    }
    let mut body = dpa("");
    body.as_object_mut().unwrap().remove("dpa_mode");
    let r = create(&w, &w.admin, body).await;
    assert_eq!(r.error().3, json!("dpa_mode"));
    assert_eq!(stored_count(&w).await, 0);
}

#[tokio::test]
async fn a_dpa_without_an_address_is_refused() {
    let w = World::new().await;
    for address in [None, Some(""), Some("   ")] {
        let mut body = dpa("lawyer");
        match address {
            Some(a) => body["company_address"] = json!(a),
            None => {
                body.as_object_mut().unwrap().remove("company_address");
            }
        }
        let r = create(&w, &w.admin, body).await;
        assert_eq!(
            r.error(),
            (
                400,
                "invalid_input",
                "Company address is required for a DPA.",
                json!("company_address")
            ),
            "{address:?}"
        );
    }
    assert_eq!(stored_count(&w).await, 0);
}

#[tokio::test]
async fn field_errors_name_their_field() {
    let w = World::new().await;
    let cases: Vec<(&str, Value, &str)> = vec![
        ("document_type", json!("NDA"), "invalid_choice"),
        ("document_type", json!(null), "null"),
        ("company_name", json!(""), "blank"),
        ("company_name", json!("x".repeat(256)), "max_length"),
        ("company_address", json!("x".repeat(513)), "max_length"),
        ("representative_name", json!(["Ada"]), "invalid_input"),
        ("representative_title", json!(null), "null"),
        (
            "representative_email",
            json!("not an email"),
            "invalid_input",
        ),
        ("dpa_mode", json!({"mode": "pretty"}), "invalid_input"),
    ];
    for (field, value, code) in cases {
        let mut body = dpa("pretty");
        body[field] = value.clone();
        let r = create(&w, &w.admin, body).await;
        assert_eq!(r.status, 400, "{field}={value}: {}", r.body);
        assert_eq!(
            (r.error().1, r.error().3),
            (code, json!(field)),
            "{field}={value}"
        );
    }
    for field in [
        "document_type",
        "company_name",
        "representative_name",
        "representative_title",
        "representative_email",
    ] {
        let mut body = dpa("pretty");
        body.as_object_mut().unwrap().remove(field);
        let r = create(&w, &w.admin, body).await;
        assert_eq!(
            r.error(),
            (400, "required", "This field is required.", json!(field))
        );
    }
    let r = create(&w, &w.admin, json!({"representative_email": "bad"})).await;
    assert_eq!(
        r.error().3,
        json!("document_type"),
        "fields in PostHog's order"
    );
    assert_eq!(
        create(&w, &w.admin, dpa("pretty")).await.error().0,
        201,
        "nothing was written by the refused requests"
    );
}

#[tokio::test]
async fn owner_can_create() {
    let w = World::new().await;
    let doc = created(&w, &w.owner, dpa("pretty")).await;
    assert_eq!(doc["created_by"]["email"], "owner@example.com");
}

#[tokio::test]
async fn only_one_document_of_each_type_per_organization() {
    let w = World::new().await;
    created(&w, &w.admin, dpa("pretty")).await;
    created(&w, &w.owner, baa()).await;
    for (body, kind) in [(dpa("lawyer"), "DPA"), (baa(), "BAA")] {
        let r = create(&w, &w.owner, body).await;
        assert_eq!(
            r.error(),
            (
                400,
                "invalid_input",
                format!(
                    "Your organization already has a {kind}. Contact support if you need a new one."
                )
                .as_str(),
                json!("document_type")
            )
        );
    }
    assert_eq!(stored_count(&w).await, 2);
    assert_eq!(list(&w, &w.owner).await.body["count"], 2);
}

#[tokio::test]
async fn different_organizations_each_have_their_own_dpa() {
    let w = World::new().await;
    created(&w, &w.admin, dpa("pretty")).await;
    let r = w
        .app
        .call(
            "POST",
            &list_path(&w.other_org),
            Some(&w.outsider),
            Some(dpa("pretty")),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn concurrent_creates_make_one_document() {
    let w = World::new().await;
    let (a, b, c, d) = tokio::join!(
        create(&w, &w.admin, dpa("pretty")),
        create(&w, &w.owner, dpa("lawyer")),
        create(&w, &w.admin, dpa("pretty")),
        create(&w, &w.owner, dpa("lawyer")),
    );
    let statuses: Vec<u16> = [&a, &b, &c, &d].iter().map(|r| r.status.as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    for r in [&a, &b, &c, &d] {
        if r.status != 201 {
            assert_eq!(r.error().3, json!("document_type"), "{}", r.body);
        }
    }
    assert_eq!(stored_count(&w).await, 1);
}

#[tokio::test]
async fn the_database_refuses_a_second_document_of_a_type() {
    let w = World::new().await;
    let first = created(&w, &w.admin, dpa("pretty")).await;
    let mut tx = w.app.db.read().await.unwrap();
    let mut doc =
        prickle::legal_documents::store::find(&mut tx, &w.org, first["id"].as_str().unwrap())
            .await
            .unwrap()
            .unwrap();
    tx.commit().await.unwrap();
    doc.id = uuid::Uuid::now_v7().to_string();
    let mut tx = w.app.db.write().await.unwrap();
    let err = prickle::legal_documents::store::insert(&mut tx, &doc, "sha256$other", 1)
        .await
        .unwrap_err();
    assert!(matches!(err, DbError::Unique), "{err:?}");
}

#[tokio::test]
async fn creating_writes_an_activity_entry() {
    let w = World::new().await;
    let doc = created(&w, &w.admin, dpa("pretty")).await;
    let stmt = Query::select()
        .columns([
            A::OrganizationId,
            A::TeamId,
            A::UserId,
            A::Activity,
            A::ItemId,
            A::Detail,
        ])
        .from(A::Table)
        .and_where(Expr::col(A::Scope).eq("LegalDocument"))
        .to_owned();
    let mut tx = w.app.db.read().await.unwrap();
    let rows = tx
        .query(&stmt, |r: &dyn RowRead| {
            Ok((
                r.opt_string(0)?,
                r.opt_i64(1)?,
                r.opt_i64(2)?,
                r.string(3)?,
                r.opt_string(4)?,
                r.json(5)?,
            ))
        })
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(rows.len(), 1);
    let (org, team, user, activity, item, detail) = &rows[0];
    assert_eq!(org.as_deref(), Some(w.org.as_str()));
    assert_eq!(*team, None);
    assert_eq!(*user, Some(user_id(&w, "admin@example.com").await));
    assert_eq!(activity, "created");
    assert_eq!(item.as_deref(), doc["id"].as_str());
    assert_eq!(detail["name"], "DPA generated for Acme, Inc.");
    assert_eq!(detail["context"]["document_type"], "DPA");
    assert_eq!(detail["context"]["company_name"], "Acme, Inc.");
    assert_eq!(detail["context"]["organization_id"], w.org.as_str());
    assert_eq!(detail["context"]["organization_name"], "Hedgehogs");
}

// ------------------------------------------------------------ who

#[tokio::test]
async fn members_may_neither_list_nor_create_nor_read() {
    let w = World::new().await;
    let doc = created(&w, &w.admin, dpa("pretty")).await;
    let insufficient = (
        403,
        "permission_denied",
        "Your organization access level is insufficient.",
        Value::Null,
    );
    assert_eq!(list(&w, &w.member).await.error(), insufficient);
    assert_eq!(create(&w, &w.member, baa()).await.error(), insufficient);
    let detail = format!("{}{}/", list_path(&w.org), doc["id"].as_str().unwrap());
    let r = w.app.call("GET", &detail, Some(&w.member), None).await;
    assert_eq!(r.error(), insufficient);
    assert_eq!(stored_count(&w).await, 1);
}

#[tokio::test]
async fn non_members_and_anonymous_callers_are_refused() {
    let w = World::new().await;
    let doc = created(&w, &w.admin, dpa("pretty")).await;
    let detail = format!("{}{}/", list_path(&w.org), doc["id"].as_str().unwrap());
    for (method, path) in [
        ("GET", list_path(&w.org)),
        ("POST", list_path(&w.org)),
        ("GET", detail),
    ] {
        let body = (method == "POST").then(baa);
        let r = w
            .app
            .call(method, &path, Some(&w.outsider), body.clone())
            .await;
        assert_eq!(
            r.error(),
            (
                403,
                "permission_denied",
                "You do not have permission to perform this action.",
                Value::Null
            ),
            "{method} {path}"
        );
        let r = w.app.call(method, &path, None, body).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{method} {path}");
    }
    assert_eq!(stored_count(&w).await, 1);
}

#[tokio::test]
async fn update_and_delete_are_refused_to_keys() {
    let w = World::new().await;
    let doc = created(&w, &w.owner, dpa("pretty")).await;
    let detail = format!("{}{}/", list_path(&w.org), doc["id"].as_str().unwrap());
    for method in ["PUT", "PATCH", "DELETE"] {
        let r = w
            .app
            .call(
                method,
                &detail,
                Some(&w.owner),
                Some(json!({"company_name": "Changed"})),
            )
            .await;
        assert_eq!(
            r.error(),
            (403, "permission_denied", NO_KEY_ACCESS, Value::Null),
            "{method}"
        );
    }
    for method in ["PUT", "DELETE"] {
        let r = w
            .app
            .call(method, &list_path(&w.org), Some(&w.owner), None)
            .await;
        assert_eq!(r.error().2, NO_KEY_ACCESS, "{method} list");
    }
    let after = w.app.call("GET", &detail, Some(&w.owner), None).await;
    assert_eq!(after.body, doc);
}

#[tokio::test]
async fn keys_need_the_legal_document_scopes() {
    let w = World::new().await;
    let read = w
        .app
        .key("admin@example.com", &["legal_document:read"])
        .await;
    let write = w
        .app
        .key("admin@example.com", &["legal_document:write"])
        .await;
    let other = w
        .app
        .key("admin@example.com", &["organization:write"])
        .await;
    assert_eq!(list(&w, &read).await.status, StatusCode::OK);
    assert_eq!(
        create(&w, &read, baa()).await.error().2,
        "API key missing required scope 'legal_document:write'"
    );
    assert_eq!(
        list(&w, &other).await.error().2,
        "API key missing required scope 'legal_document:read'"
    );
    assert_eq!(create(&w, &write, baa()).await.status, StatusCode::CREATED);
    assert_eq!(
        list(&w, &write).await.body["count"],
        1,
        "write implies read"
    );
}

// ------------------------------------------------------------ read

#[tokio::test]
async fn the_list_is_this_organizations_newest_first_and_paginated() {
    let w = World::new().await;
    let theirs = w
        .app
        .call(
            "POST",
            &list_path(&w.other_org),
            Some(&w.outsider),
            Some(dpa("pretty")),
        )
        .await;
    assert_eq!(theirs.status, StatusCode::CREATED);
    let first = created(&w, &w.admin, dpa("pretty")).await;
    let second = created(&w, &w.admin, baa()).await;
    let r = list(&w, &w.owner).await;
    assert_eq!(r.body["count"], 2);
    assert_eq!(r.body["next"], Value::Null);
    assert_eq!(r.body["previous"], Value::Null);
    assert_eq!(r.body["results"], json!([second, first]));
    let page = w
        .app
        .call(
            "GET",
            &format!("{}?limit=1", list_path(&w.org)),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(page.body["results"], json!([second]));
    assert_eq!(
        page.body["next"],
        format!(
            "{SITE}/api/organizations/{}/legal_documents/?limit=1&offset=1",
            w.org
        )
    );
}

#[tokio::test]
async fn retrieve_one_of_this_organizations_documents() {
    let w = World::new().await;
    let doc = created(&w, &w.admin, dpa("pretty")).await;
    let id = doc["id"].as_str().unwrap();
    for path in [
        format!("{}{id}/", list_path(&w.org)),
        format!("/api/organizations/{}/legal_documents/{id}", w.org),
        format!("/api/organizations/@current/legal_documents/{id}/"),
    ] {
        let r = w.app.call("GET", &path, Some(&w.owner), None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
        assert_eq!(r.body, doc);
    }
    let theirs = w
        .app
        .call(
            "POST",
            &list_path(&w.other_org),
            Some(&w.outsider),
            Some(dpa("pretty")),
        )
        .await
        .body;
    for id in [
        theirs["id"].as_str().unwrap(),
        "not-a-uuid",
        "1",
        "0190c0de-0000-7000-8000-000000000099",
    ] {
        let r = w
            .app
            .call(
                "GET",
                &format!("{}{id}/", list_path(&w.org)),
                Some(&w.owner),
                None,
            )
            .await;
        assert_eq!(
            r.error(),
            (404, "not_found", "Not found.", Value::Null),
            "{id}"
        );
    }
}

#[tokio::test]
async fn created_by_is_null_once_the_creator_is_gone() {
    use prickle::storage::schema::Users as U;
    let w = World::new().await;
    let doc = created(&w, &w.admin, dpa("pretty")).await;
    let mut tx = w.app.db.write().await.unwrap();
    tx.execute(
        Query::delete()
            .from_table(U::Table)
            .and_where(Expr::col(U::Email).eq("admin@example.com")),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let r = list(&w, &w.owner).await;
    assert_eq!(r.body["results"][0]["id"], doc["id"]);
    assert_eq!(r.body["results"][0]["created_by"], Value::Null);
}

// ------------------------------------------------------------ signing

#[tokio::test]
async fn a_valid_secret_marks_the_document_signed() {
    let w = World::new().await;
    let doc = created(&w, &w.admin, dpa("pretty")).await;
    let id = doc["id"].as_str().unwrap();
    let secret = roll_secret(&w, id).await;
    let r = sign(
        &w,
        json!({"secret": secret, "signed_document_url": SIGNED_URL}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.body, json!({"status": "signed"}));
    let (_, _, status, url, ..) = stored(&w, id).await;
    assert_eq!((status.as_str(), url.as_str()), ("signed", SIGNED_URL));
    let got = w
        .app
        .call(
            "GET",
            &format!("{}{id}/", list_path(&w.org)),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(got.body["status"], "signed");
    assert_eq!(got.body["signed_document_url"], SIGNED_URL);
    // Logged as a system update of the two fields.
    let stmt = Query::select()
        .columns([A::UserId, A::IsSystem, A::Detail])
        .from(A::Table)
        .and_where(Expr::col(A::Scope).eq("LegalDocument"))
        .and_where(Expr::col(A::Activity).eq("updated"))
        .to_owned();
    let mut tx = w.app.db.read().await.unwrap();
    let (user, system, detail) = tx
        .query_opt(&stmt, |r: &dyn RowRead| {
            Ok((r.opt_i64(0)?, r.opt_bool(1)?, r.json(2)?))
        })
        .await
        .unwrap()
        .expect("an update entry");
    tx.commit().await.unwrap();
    assert_eq!((user, system), (None, Some(true)));
    assert_eq!(detail["name"], "DPA updated for Acme, Inc.");
    let fields: Vec<&str> = detail["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["status", "signed_document_url"]);
}

#[tokio::test]
async fn wrong_or_unknown_secrets_are_404_and_change_nothing() {
    let w = World::new().await;
    let doc = created(&w, &w.admin, dpa("pretty")).await;
    let id = doc["id"].as_str().unwrap();
    let secret = roll_secret(&w, id).await;
    let before = stored(&w, id).await;
    for wrong in [
        format!("{secret}x"),
        secret[..secret.len() - 1].to_string(),
        "unknown".to_string(),
        prickle::auth::keys::secure_value(&secret),
    ] {
        let r = sign(
            &w,
            json!({"secret": wrong, "signed_document_url": SIGNED_URL}),
        )
        .await;
        assert_eq!(r.error(), (404, "not_found", "Not found.", Value::Null));
    }
    assert_eq!(stored(&w, id).await, before);
}

#[tokio::test]
async fn a_rolled_secret_replaces_the_old_one() {
    let w = World::new().await;
    let doc = created(&w, &w.admin, dpa("pretty")).await;
    let id = doc["id"].as_str().unwrap();
    let old = roll_secret(&w, id).await;
    let new = roll_secret(&w, id).await;
    assert_ne!(old, new);
    let r = sign(
        &w,
        json!({"secret": old, "signed_document_url": SIGNED_URL}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = sign(
        &w,
        json!({"secret": new, "signed_document_url": SIGNED_URL}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK);
    // The operator command refuses a document of another organization.
    let err = prickle::admin::roll_legal_document_secret(&w.app.db, &w.other_org, id)
        .await
        .unwrap_err();
    assert!(err.contains("no legal document"), "{err}");
}

#[tokio::test]
async fn bad_signing_bodies_are_400_and_change_nothing() {
    let w = World::new().await;
    let doc = created(&w, &w.admin, dpa("pretty")).await;
    let id = doc["id"].as_str().unwrap();
    let secret = roll_secret(&w, id).await;
    let before = stored(&w, id).await;
    let cases: Vec<(Value, &str, &str)> = vec![
        (
            json!({"secret": secret}),
            "signed_document_url",
            "This field is required.",
        ),
        (
            json!({"secret": secret, "signed_document_url": "ftp://bad"}),
            "signed_document_url",
            "Enter a valid URL.",
        ),
        (
            json!({"secret": secret, "signed_document_url": "ftp://files.example.com/a.pdf"}),
            "signed_document_url",
            "Must be an absolute URL.",
        ),
        (
            json!({"secret": secret, "signed_document_url": "/relative.pdf"}),
            "signed_document_url",
            "Enter a valid URL.",
        ),
        (
            json!({"secret": secret, "signed_document_url": format!("https://a.io/{}", "x".repeat(2048))}),
            "signed_document_url",
            "Ensure this field has no more than 2048 characters.",
        ),
        (
            json!({"signed_document_url": SIGNED_URL}),
            "secret",
            "This field is required.",
        ),
        (
            json!({"secret": "", "signed_document_url": SIGNED_URL}),
            "secret",
            "This field may not be blank.",
        ),
        (
            json!({"secret": "x".repeat(129), "signed_document_url": SIGNED_URL}),
            "secret",
            "Ensure this field has no more than 128 characters.",
        ),
        (
            json!({"secret": null, "signed_document_url": SIGNED_URL}),
            "secret",
            "This field may not be null.",
        ),
    ];
    for (body, attr, detail) in cases {
        let r = sign(&w, body.clone()).await;
        assert_eq!(r.status, 400, "{body}: {}", r.body);
        assert_eq!((r.error().2, r.error().3), (detail, json!(attr)), "{body}");
        assert_eq!(r.body["type"], "validation_error");
    }
    for raw in [&b"[1]"[..], b"{", b"null"] {
        let req = axum::http::Request::builder()
            .method("POST")
            .uri(SIGNED)
            .header("content-type", "application/json")
            .body(axum::body::Body::from(raw.to_vec()))
            .unwrap();
        let r = w.app.send(req).await;
        assert_eq!(r.status, 400, "{raw:?}: {}", r.body);
    }
    assert_eq!(stored(&w, id).await, before);
}

#[tokio::test]
async fn the_webhook_is_public_and_takes_only_post() {
    let w = World::new().await;
    // A key is neither needed nor looked at.
    let r = w
        .app
        .call(
            "POST",
            "/api/legal_documents/signed/",
            Some("phx_not_a_real_key_0123456789abcdefghijklmnop"),
            Some(json!({"secret": "nope", "signed_document_url": SIGNED_URL})),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    for method in ["GET", "PUT", "DELETE"] {
        let r = w.app.call(method, SIGNED, None, None).await;
        assert_eq!(r.error().0, 405, "{method}");
    }
}
