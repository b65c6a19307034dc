//! See `hostile/mod.rs`. The legal-document signing webhook (issue 13,
//! section 3): whoever holds a document's secret after it was signed must
//! not be able to point `signed_document_url` somewhere else. The first
//! signature wins; later calls get the document's state and change nothing.

use axum::http::StatusCode;
use prickle::storage::schema::ActivityLog as A;
use prickle::storage::RowRead;
use sea_query::{Expr, ExprTrait, Query};
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::legal_documents::{
    created, dpa, list_path, roll_secret, sign, stored, SIGNED, SIGNED_URL,
};
use crate::support::World;

const ELSEWHERE: &str = "https://attacker.example/forged.pdf";

/// The `signed_document_url` of each activity entry recording a signature.
async fn signatures_logged(w: &World) -> Vec<Value> {
    let stmt = Query::select()
        .column(A::Detail)
        .from(A::Table)
        .and_where(Expr::col(A::Scope).eq("LegalDocument"))
        .and_where(Expr::col(A::Activity).eq("updated"))
        .to_owned();
    let mut tx = w.app.db.read().await.unwrap();
    let details = tx.query(&stmt, |r: &dyn RowRead| r.json(0)).await.unwrap();
    tx.commit().await.unwrap();
    details
        .iter()
        .flat_map(|d| d["changes"].as_array().cloned().unwrap_or_default())
        .filter(|c| c["field"] == "signed_document_url")
        .map(|c| c["after"].clone())
        .collect()
}

#[tokio::test]
async fn a_signed_document_keeps_its_first_signature() {
    let w = World::new().await;
    let doc = created(&w, &w.admin, dpa("pretty")).await;
    let id = doc["id"].as_str().unwrap();
    let secret = roll_secret(&w, id).await;
    let r = sign(
        &w,
        json!({"secret": secret, "signed_document_url": SIGNED_URL}),
    )
    .await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"status": "signed"}))
    );
    let after_first = stored(&w, id).await;

    // The secret again, with another URL: the answer is the state as it is.
    let r = sign(
        &w,
        json!({"secret": secret, "signed_document_url": ELSEWHERE}),
    )
    .await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"status": "signed"}))
    );
    assert_eq!(stored(&w, id).await, after_first);
    // A secret rolled after signing opens nothing either.
    let rolled = roll_secret(&w, id).await;
    let r = sign(
        &w,
        json!({"secret": rolled, "signed_document_url": ELSEWHERE}),
    )
    .await;
    assert_eq!(
        (r.status, r.body),
        (StatusCode::OK, json!({"status": "signed"}))
    );
    let (_, _, status, url, ..) = stored(&w, id).await;
    assert_eq!((status.as_str(), url.as_str()), ("signed", SIGNED_URL));
    let shown = w
        .app
        .call(
            "GET",
            &format!("{}{id}/", list_path(&w.org)),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(shown.body["signed_document_url"], SIGNED_URL);
    // One signature recorded, the first.
    assert_eq!(signatures_logged(&w).await, [json!(SIGNED_URL)]);
    // The secret still has to be right: a wrong one is 404 as before.
    let r = sign(
        &w,
        json!({"secret": "wrong", "signed_document_url": ELSEWHERE}),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

/// Several signings with one secret at once: exactly one is applied, and
/// the stored URL is the one the log records.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_signings_apply_exactly_one() {
    let w = World::new().await;
    let doc = created(&w, &w.admin, dpa("pretty")).await;
    let id = doc["id"].as_str().unwrap();
    let secret = roll_secret(&w, id).await;
    let mut tasks = Vec::new();
    for n in 0..8 {
        let router = w.app.router.clone();
        let body = json!({"secret": secret, "signed_document_url": format!("https://sign.example/{n}.pdf")});
        tasks.push(tokio::spawn(async move {
            let req = axum::http::Request::builder()
                .method("POST")
                .uri(SIGNED)
                .header("content-type", "application/json")
                .body(axum::body::Body::from(body.to_string()))
                .unwrap();
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status();
            let bytes = http_body_util::BodyExt::collect(resp.into_body())
                .await
                .unwrap()
                .to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap())
        }));
    }
    for t in tasks {
        let (status, body) = t.await.unwrap();
        assert_eq!(
            (status, body),
            (StatusCode::OK, json!({"status": "signed"}))
        );
    }
    let (_, _, status, url, ..) = stored(&w, id).await;
    assert_eq!(status, "signed");
    assert_eq!(signatures_logged(&w).await, [json!(url)]);
}
