//! The legal documents' request bodies, declared as PostHog's early
//! legal-documents serializer declares them (the create body,
//! `CreateLegalDocument`) and as the signing service posts back (the
//! webhook's body): fields in order, the first failure reported, then the
//! cross-field rules as plain functions.

use serde_json::Value;

use super::openapi::DOCUMENT_TYPE;
use crate::drf;
use crate::error::{ApiError, ApiResult};
use crate::payload::{Body, Choices, Data, Field, Kind, Text};

pub const DOCUMENT_TYPES: &[&str] = &["BAA", "DPA"];
/// `fairytale` and `tswift` exist only as previews on posthog.com.
pub const SUBMITTABLE_DPA_MODES: &[&str] = &["pretty", "lawyer"];

/// The create body, in the reference page's order (which also lists its
/// required fields in that order).
pub static CREATE: Body = Body::new(&[
    Field::new(
        "document_type",
        Kind::Choice(Choices::Strings(DOCUMENT_TYPES)),
    )
    .required()
    .component(DOCUMENT_TYPE)
    .describe("Either 'BAA' or 'DPA'."),
    Field::new("company_name", Kind::Text(Text::max(255))).required(),
    Field::new("company_address", Kind::Text(Text::max(512)))
        .blank()
        .default(r#""""#)
        .describe("Required (non-empty) for a DPA; blanked for a BAA."),
    Field::new("representative_name", Kind::Text(Text::max(255))).required(),
    Field::new("representative_title", Kind::Text(Text::max(255))).required(),
    Field::new("representative_email", Kind::Email(Text::max(254))).required(),
    Field::new("dpa_mode", Kind::Text(Text::max(16)))
        .blank()
        .default(r#""""#)
        .describe(
            "For a DPA: 'pretty' or 'lawyer' ('fairytale' and 'tswift' are \
             preview-only and refused). Blanked for a BAA.",
        ),
])
.required_in_field_order();

/// The signing webhook's body: DRF's `URLField` for the link (Django's
/// `URLValidator`, which also takes ftp and ftps), then PostHog's own rule
/// on top: the link must be http(s).
pub static SIGNED: Body = Body::new(&[
    Field::new("secret", Kind::Text(Text::max(128))).required(),
    Field::new("signed_document_url", Kind::Url(Text::max(2048))).required(),
]);

/// A request that passed every field rule.
#[derive(Debug, PartialEq)]
pub struct NewDocument {
    pub document_type: String,
    pub company_name: String,
    pub company_address: String,
    pub representative_name: String,
    pub representative_title: String,
    pub representative_email: String,
    pub dpa_mode: String,
}

/// The create body's fields, then its cross-field rules.
pub fn validate_create(data: &Data) -> ApiResult<NewDocument> {
    let valid = CREATE.check(data, false)?.finish()?;
    let text = |name| valid.text(name).flatten().unwrap_or_default();
    let mut doc = NewDocument {
        document_type: text("document_type"),
        company_name: text("company_name"),
        company_address: text("company_address"),
        representative_name: text("representative_name"),
        representative_title: text("representative_title"),
        representative_email: text("representative_email"),
        dpa_mode: text("dpa_mode"),
    };
    if doc.document_type == "BAA" {
        // No billing here, so no add-on check (decisions.md); a BAA keeps
        // neither an address nor a mode.
        doc.company_address.clear();
        doc.dpa_mode.clear();
    } else {
        if doc.company_address.is_empty() {
            return Err(
                ApiError::invalid_input("Company address is required for a DPA.")
                    .at("company_address"),
            );
        }
        if !SUBMITTABLE_DPA_MODES.contains(&doc.dpa_mode.as_str()) {
            return Err(ApiError::invalid_input(
                "Pick 'pretty' or 'lawyer' to submit. 'fairytale' and 'tswift' are preview-only.",
            )
            .at("dpa_mode"));
        }
    }
    Ok(doc)
}

/// What the signing service sends back.
#[derive(Debug, PartialEq)]
pub struct Signed {
    pub secret: String,
    pub signed_document_url: String,
}

pub fn validate_signed(data: &Data) -> ApiResult<Signed> {
    let mut checked = SIGNED.check(data, false)?;
    checked.refine("signed_document_url", http_only);
    let valid = checked.finish()?;
    let text = |name| valid.text(name).flatten().unwrap_or_default();
    Ok(Signed {
        secret: text("secret"),
        signed_document_url: text("signed_document_url"),
    })
}

/// PostHog's rule on a URL Django's validator took: http(s) only.
fn http_only(url: &Value) -> ApiResult<Value> {
    let scheme = url
        .as_str()
        .and_then(|u| drf::valid_url(u, drf::URL_FIELD_SCHEMES))
        .map(|v| v.scheme);
    match scheme.as_deref() {
        Some("http" | "https") => Ok(url.clone()),
        _ => Err(ApiError::invalid_input("Must be an absolute URL.")),
    }
}

/// The organization already has a document of this type (one of each per
/// organization, also a unique index).
pub fn duplicate(document_type: &str) -> crate::error::ApiError {
    crate::error::ApiError::invalid_input(format!(
        "Your organization already has a {document_type}. Contact support if you need a new one."
    ))
    .at("document_type")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Data {
        Data::Json(v)
    }

    /// The webhook's answer to a URL.
    fn signed_document_url(url: &str) -> ApiResult<Signed> {
        validate_signed(&obj(json!({"secret": "s", "signed_document_url": url})))
    }

    fn dpa() -> Value {
        json!({
            "document_type": "DPA",
            "company_name": "Acme, Inc.",
            "company_address": "1 Main St",
            "representative_name": "Ada Lovelace",
            "representative_title": "CEO",
            "representative_email": "ada@acme.example",
            "dpa_mode": "pretty",
        })
    }

    fn error_of(body: Value) -> (String, String, Option<String>) {
        let e = validate_create(&obj(body)).unwrap_err();
        (
            e.code.to_string(),
            e.detail.to_string(),
            e.attr.map(|a| a.to_string()),
        )
    }

    #[test]
    fn a_baa_drops_address_and_mode() {
        let mut b = dpa();
        b["document_type"] = json!("BAA");
        b["dpa_mode"] = json!("tswift");
        let doc = validate_create(&obj(b)).unwrap();
        assert_eq!(
            (doc.company_address.as_str(), doc.dpa_mode.as_str()),
            ("", "")
        );
    }

    #[test]
    fn a_dpa_needs_an_address_and_a_submittable_mode() {
        let mut b = dpa();
        b["company_address"] = json!("  ");
        assert_eq!(error_of(b).2.as_deref(), Some("company_address"));
        for mode in [json!("fairytale"), json!("tswift"), json!("")] {
            let mut b = dpa();
            b["dpa_mode"] = mode;
            let (code, detail, attr) = error_of(b);
            assert_eq!(code, "invalid_input");
            assert!(detail.contains("preview-only"));
            assert_eq!(attr.as_deref(), Some("dpa_mode"));
        }
        let mut b = dpa();
        b.as_object_mut().unwrap().remove("dpa_mode");
        assert_eq!(error_of(b).2.as_deref(), Some("dpa_mode"));
        let mut b = dpa();
        b["dpa_mode"] = json!("lawyer");
        assert_eq!(validate_create(&obj(b)).unwrap().dpa_mode, "lawyer");
    }

    #[test]
    fn field_errors_come_first_in_field_order() {
        let table: Vec<(Value, &str, &str)> = vec![
            (json!({}), "required", "document_type"),
            (
                json!({"document_type": "NDA"}),
                "invalid_choice",
                "document_type",
            ),
            (json!({"document_type": null}), "null", "document_type"),
            (json!({"document_type": "DPA"}), "required", "company_name"),
            (
                json!({"document_type": "DPA", "company_name": " "}),
                "blank",
                "company_name",
            ),
            (
                json!({"document_type": "DPA", "company_name": "x".repeat(256)}),
                "max_length",
                "company_name",
            ),
            (
                json!({"document_type": "DPA", "company_name": "A", "company_address": 7.5,
                       "representative_name": "R", "representative_title": "T",
                       "representative_email": "nope"}),
                "invalid_input",
                "representative_email",
            ),
            (
                json!({"document_type": "BAA", "company_name": "A", "representative_name": "R",
                       "representative_title": ["T"], "representative_email": "r@x.io"}),
                "invalid_input",
                "representative_title",
            ),
            (
                json!({"document_type": "DPA", "company_name": "A", "representative_name": "R",
                       "representative_title": "T", "representative_email": "r@x.io",
                       "dpa_mode": "x".repeat(17)}),
                "max_length",
                "dpa_mode",
            ),
        ];
        for (body, code, attr) in table {
            let (c, _, a) = error_of(body.clone());
            assert_eq!((c.as_str(), a.as_deref()), (code, Some(attr)), "{body}");
        }
    }

    #[test]
    fn signed_bodies() {
        let ok = validate_signed(&obj(json!({
            "secret": "s3cret",
            "signed_document_url": "https://app.pandadoc.com/s/signed.pdf"
        })))
        .unwrap();
        assert_eq!(
            ok.signed_document_url,
            "https://app.pandadoc.com/s/signed.pdf"
        );
        let attr = |v: Value| {
            validate_signed(&obj(v))
                .unwrap_err()
                .attr
                .unwrap()
                .to_string()
        };
        assert_eq!(
            attr(json!({"signed_document_url": "https://a.io"})),
            "secret"
        );
        assert_eq!(attr(json!({"secret": "s"})), "signed_document_url");
        assert_eq!(
            attr(json!({"secret": "x".repeat(129), "signed_document_url": "https://a.io"})),
            "secret"
        );
        let absolute = validate_signed(&obj(
            json!({"secret": "s", "signed_document_url": "ftp://files.example.com/a.pdf"}),
        ))
        .unwrap_err();
        assert_eq!(absolute.detail, "Must be an absolute URL.");
    }

    #[test]
    fn signed_document_urls() {
        assert!(signed_document_url("https://app.pandadoc.com/s/signed.pdf").is_ok());
        assert!(signed_document_url("HTTP://localhost:8000/x").is_ok());
        let detail = |u: &str| signed_document_url(u).unwrap_err().detail.to_string();
        assert_eq!(
            detail("ftp://files.example.com/a.pdf"),
            "Must be an absolute URL."
        );
        for bad in [
            "ftp://bad",
            "/relative.pdf",
            "https://example",
            "javascript://example.com",
        ] {
            assert_eq!(detail(bad), "Enter a valid URL.", "{bad}");
        }
    }
}
