//! A legal document as stored, and as the API shows it (the reference page's
//! `LegalDocumentDTO`: the address, title, mode and secret are kept but never
//! returned).

use serde_json::{json, Value};

use crate::time;

pub const SUBMITTED: &str = "submitted_for_signature";
pub const SIGNED: &str = "signed";

/// Who asked for the document, while their account exists.
#[derive(Clone, Debug, PartialEq)]
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
    pub fn to_json(&self) -> Value {
        let created_by = self
            .created_by
            .as_ref()
            .map(|c| json!({"first_name": c.first_name, "email": c.email}));
        json!({
            "id": self.id,
            "document_type": self.document_type,
            "company_name": self.company_name,
            "representative_name": self.representative_name,
            "representative_email": self.representative_email,
            "status": self.status,
            "signed_document_url": self.signed_document_url,
            "created_by": created_by,
            "created_at": time::format(self.created_at),
        })
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

#[cfg(test)]
mod tests {
    use super::*;

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
        let v = doc().to_json();
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
            d.to_json()["created_by"],
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
