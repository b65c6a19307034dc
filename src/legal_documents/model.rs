//! A legal document as stored, and as the API shows it (the reference page's
//! `LegalDocumentDTO`: the address, title, mode and secret are kept but never
//! returned), a type borrowing the stored document, from which both the
//! response bytes and the API document's component come.

use serde::Serialize;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::ToSchema;

use crate::openapi::schema::{self as s, Kind};
use crate::time::Timestamp;

pub const SUBMITTED: &str = "submitted_for_signature";
pub const SIGNED: &str = "signed";

// Who asked for the document, while their account exists; shown as it is
// stored (no doc comment: it would become the component's description).
#[derive(Clone, Debug, PartialEq, Serialize, ToSchema)]
#[schema(as = LegalDocumentCreator)]
pub struct Creator {
    pub first_name: String,
    pub email: String,
}

#[derive(Clone, Debug, PartialEq)]
pub struct LegalDocument {
    pub id: String,
    pub organization_id: String,
    pub document_type: String,
    pub company_name: String,
    pub company_address: String,
    pub representative_name: String,
    pub representative_title: String,
    pub representative_email: String,
    pub dpa_mode: String,
    pub status: String,
    pub signed_document_url: String,
    pub created_by: Option<Creator>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl LegalDocument {
    /// The document as the API shows it.
    pub fn shown(&self) -> LegalDocumentDto<'_> {
        LegalDocumentDto {
            id: &self.id,
            document_type: &self.document_type,
            company_name: &self.company_name,
            representative_name: &self.representative_name,
            representative_email: &self.representative_email,
            status: &self.status,
            signed_document_url: &self.signed_document_url,
            created_by: self.created_by.as_ref(),
            created_at: Timestamp(self.created_at),
        }
    }

    /// The activity log's name for this document, as PostHog words it.
    pub fn activity_name(&self, activity: &str) -> String {
        let verb = match activity {
            "created" => "generated",
            "deleted" => "deleted",
            _ => "updated",
        };
        format!("{} {verb} for {}", self.document_type, self.company_name)
    }
}

// The reference page's `LegalDocumentDTO`.
#[derive(Serialize, ToSchema)]
#[schema(as = LegalDocumentDTO)]
pub struct LegalDocumentDto<'a> {
    #[schema(format = "uuid")]
    pub id: &'a str,
    pub document_type: &'a str,
    pub company_name: &'a str,
    pub representative_name: &'a str,
    pub representative_email: &'a str,
    /// 'submitted_for_signature', then 'signed'
    pub status: &'a str,
    /// '' until signed
    pub signed_document_url: &'a str,
    #[schema(schema_with = s::nullable_ref::<Creator>, required = true)]
    pub created_by: Option<&'a Creator>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
}

// The signing webhook's answer: the document's status, `signed` once a
// signature has landed (this call's or an earlier one's). Inline in the
// document, as PostHog's.
#[derive(Serialize, ToSchema)]
pub struct WebhookAnswer<'a> {
    #[schema(schema_with = signed_status)]
    pub status: &'a str,
}

fn signed_status() -> ObjectBuilder {
    s::choice(Kind::String, [SIGNED])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn doc() -> LegalDocument {
        LegalDocument {
            id: "0196a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b".into(),
            organization_id: "org".into(),
            document_type: "DPA".into(),
            company_name: "Acme, Inc.".into(),
            company_address: "1 Main St".into(),
            representative_name: "Ada Lovelace".into(),
            representative_title: "CEO".into(),
            representative_email: "ada@acme.example".into(),
            dpa_mode: "pretty".into(),
            status: SUBMITTED.into(),
            signed_document_url: String::new(),
            created_by: None,
            created_at: 1_776_762_000_000_000,
            updated_at: 1_776_762_000_000_000,
        }
    }

    #[test]
    fn renders_only_the_dto_fields() {
        let v = serde_json::to_value(doc().shown()).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "id",
                "document_type",
                "company_name",
                "representative_name",
                "representative_email",
                "status",
                "signed_document_url",
                "created_by",
                "created_at"
            ]
        );
        assert_eq!(v["created_by"], Value::Null);
        let mut d = doc();
        d.created_by = Some(Creator {
            first_name: "Ada".into(),
            email: "ada@acme.example".into(),
        });
        assert_eq!(
            serde_json::to_value(d.shown()).unwrap()["created_by"],
            json!({"first_name": "Ada", "email": "ada@acme.example"})
        );
    }

    #[test]
    fn activity_names() {
        assert_eq!(
            doc().activity_name("created"),
            "DPA generated for Acme, Inc."
        );
        assert_eq!(doc().activity_name("updated"), "DPA updated for Acme, Inc.");
    }
}
