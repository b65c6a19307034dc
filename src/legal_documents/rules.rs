//! Who may see and request legal documents, and what a request must hold:
//! the field rules of PostHog's early legal-documents serializer, in its
//! order (each field in turn, then the cross-field rules).

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::drf::{self, Attr, CharOpts};
use crate::error::{ApiError, ApiResult};
use crate::organizations::Level;

pub const DOCUMENT_TYPES: &[&str] = &["BAA", "DPA"];
/// `fairytale` and `tswift` exist only as previews on posthog.com.
pub const SUBMITTABLE_DPA_MODES: &[&str] = &["pretty", "lawyer"];

/// Every method, reads included, is for admins and owners.
pub fn may_access(level: Level) -> ApiResult<()> {
    if level.is_admin() {
        Ok(())
    } else {
        Err(ApiError::permission_denied(
            "Your organization access level is insufficient.",
        ))
    }
}

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
    if crate::admin::is_valid_email(&value) {
        Ok(value)
    } else {
        Err(ApiError::invalid_input("Enter a valid email address.").at(field))
    }
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

/// Signed documents are final: the first signature wins and a later call
/// with the secret changes nothing (PostHog's newer webhook treats a signed
/// status or a stored URL alike as already signed).
pub fn is_signed(status: &str, signed_document_url: &str) -> bool {
    status == super::model::SIGNED || !signed_document_url.is_empty()
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
    let scheme = url_scheme(&url)
        .ok_or_else(|| ApiError::invalid_input("Enter a valid URL.").at("signed_document_url"))?;
    // DRF's URLField also takes ftp(s); PostHog then asks for http(s).
    if scheme != "http" && scheme != "https" {
        return Err(ApiError::invalid_input("Must be an absolute URL.").at("signed_document_url"));
    }
    Ok(Signed {
        secret,
        signed_document_url: url,
    })
}

/// The lower-cased scheme of a URL Django's `URLValidator` would accept
/// (schemes http, https, ftp, ftps; a host that is a domain with a
/// top-level label, `localhost`, an IPv4 or a bracketed IPv6 address; an
/// optional port; no whitespace), or `None`.
fn url_scheme(url: &str) -> Option<String> {
    if url.chars().any(char::is_whitespace) {
        return None;
    }
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    if !["http", "https", "ftp", "ftps"].contains(&scheme.as_str()) {
        return None;
    }
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..end];
    let host_port = match authority.rsplit_once('@') {
        Some((userinfo, hp)) if !userinfo.is_empty() => hp,
        Some(_) => return None,
        None => authority,
    };
    let (host, port) = if let Some(v6) = host_port.strip_prefix('[') {
        let (addr, after) = v6.split_once(']')?;
        addr.parse::<std::net::Ipv6Addr>().ok()?;
        (None, after.strip_prefix(':').map(Some).unwrap_or(Some("")))
    } else {
        match host_port.rsplit_once(':') {
            Some((h, p)) => (Some(h), Some(p)),
            None => (Some(host_port), Some("")),
        }
    };
    match port {
        Some("") => {
            if host_port.ends_with(':') {
                return None;
            }
        }
        Some(p) if p.len() <= 5 && p.chars().all(|c| c.is_ascii_digit()) => {}
        _ => return None,
    }
    if let Some(host) = host {
        if !valid_host(host) {
            return None;
        }
    }
    Some(scheme)
}

fn valid_host(host: &str) -> bool {
    if host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::Ipv4Addr>().is_ok() {
        return true;
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    let labels: Vec<&str> = host.split('.').collect();
    if labels.len() < 2 || host.len() > 253 {
        return false;
    }
    let label_ok = |l: &str| {
        !l.is_empty()
            && l.chars().count() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_alphanumeric() || c == '-')
    };
    let tld = labels[labels.len() - 1];
    let tld_ok = tld.starts_with("xn--")
        || (tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic));
    labels.iter().all(|l| label_ok(l)) && tld_ok
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
    fn levels() {
        assert!(may_access(Level::Member).is_err());
        assert!(may_access(Level::Admin).is_ok());
        assert!(may_access(Level::Owner).is_ok());
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
    fn urls() {
        for ok in [
            "https://app.pandadoc.com/s/signed.pdf",
            "http://localhost:8000/x?y=1#z",
            "HTTPS://Example.COM",
            "https://user:pw@example.com:443/",
            "http://127.0.0.1/",
            "http://[::1]:80/",
            "https://bücher.example/",
        ] {
            assert!(url_scheme(ok).is_some(), "{ok}");
        }
        for bad in [
            "",
            "ftp://bad",
            "/relative/path",
            "example.com/x",
            "https://",
            "https://exa mple.com",
            "https://example",
            "https://-bad.com",
            "https://example.com:99999999/",
            "https://example.com:/",
            "javascript://example.com",
            "https://[nope]/",
        ] {
            assert!(url_scheme(bad).is_none(), "{bad}");
        }
    }
}
