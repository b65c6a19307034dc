//! What a legal-document request must hold: the field rules of PostHog's
//! early legal-documents serializer, in its order (each field in turn, then
//! the cross-field rules), and the signing webhook's body.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::drf::{self, Attr, CharOpts};
use crate::error::{ApiError, ApiResult};

pub const DOCUMENT_TYPES: &[&str] = &["BAA", "DPA"];
/// `fairytale` and `tswift` exist only as previews on posthog.com.
pub const SUBMITTABLE_DPA_MODES: &[&str] = &["pretty", "lawyer"];

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

fn text(
    body: &Map<String, Value>,
    field: &'static str,
    max: usize,
    required: bool,
) -> ApiResult<String> {
    let attr: Attr = Cow::Borrowed(field);
    match body.get(field) {
        None if required => Err(ApiError::required(field)),
        None => Ok(String::new()),
        Some(v) => {
            let opts = CharOpts {
                allow_null: false,
                allow_blank: !required,
                max_length: Some(max),
            };
            Ok(drf::char_field(v, &attr, &opts)?.unwrap_or_default())
        }
    }
}

/// DRF's `EmailField`: a trimmed string, then Django's address check.
fn email(body: &Map<String, Value>, field: &'static str) -> ApiResult<String> {
    let value = text(body, field, 254, true)?;
    drf::check_email(&value, &Cow::Borrowed(field))?;
    Ok(value)
}

pub fn validate_create(body: &Map<String, Value>) -> ApiResult<NewDocument> {
    let document_type = match body.get("document_type") {
        None => return Err(ApiError::required("document_type")),
        Some(v) => drf::choice_field(
            v,
            &Cow::Borrowed("document_type"),
            DOCUMENT_TYPES,
            false,
            false,
        )?
        .unwrap_or_default(),
    };
    let mut doc = NewDocument {
        document_type,
        company_name: text(body, "company_name", 255, true)?,
        company_address: text(body, "company_address", 512, false)?,
        representative_name: text(body, "representative_name", 255, true)?,
        representative_title: text(body, "representative_title", 255, true)?,
        representative_email: email(body, "representative_email")?,
        dpa_mode: text(body, "dpa_mode", 16, false)?,
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

/// The organization already has a document of this type.
pub fn duplicate(document_type: &str) -> ApiError {
    ApiError::invalid_input(format!(
        "Your organization already has a {document_type}. Contact support if you need a new one."
    ))
    .at("document_type")
}

/// What the signing service sends back.
#[derive(Debug, PartialEq)]
pub struct Signed {
    pub secret: String,
    pub signed_document_url: String,
}

pub fn validate_signed(body: &Map<String, Value>) -> ApiResult<Signed> {
    let secret = text(body, "secret", 128, true)?;
    let url = text(body, "signed_document_url", 2048, true)?;
    signed_document_url(&url)?;
    Ok(Signed {
        secret,
        signed_document_url: url,
    })
}

/// DRF's `URLField` (Django's `URLValidator`, which also takes ftp and
/// ftps), then PostHog's own rule on top: the link must be http(s).
fn signed_document_url(url: &str) -> ApiResult<()> {
    let attr = "signed_document_url";
    let valid = drf::valid_url(url, drf::URL_FIELD_SCHEMES)
        .ok_or_else(|| ApiError::invalid_input(drf::url::INVALID).at(attr))?;
    if valid.scheme == "http" || valid.scheme == "https" {
        Ok(())
    } else {
        Err(ApiError::invalid_input("Must be an absolute URL.").at(attr))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
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
