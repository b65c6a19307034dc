//! An OAuth application as stored, and as the organization's list shows it
//! (exactly seven keys: never a secret, the raw URIs or the grant settings),
//! a type borrowing the stored application, from which both the response
//! bytes and the API document's component come.

use serde::Serialize;
use utoipa::ToSchema;

use crate::openapi::schema as s;
use crate::time::Timestamp;

#[derive(Clone, Debug, PartialEq)]
pub struct OAuthApplication {
    pub id: String,
    pub organization_id: Option<String>,
    pub name: String,
    pub client_id: String,
    /// Space-separated.
    pub redirect_uris: String,
    pub is_verified: bool,
    pub created: i64,
    pub updated: i64,
}

impl OAuthApplication {
    pub fn shown(&self) -> OrganizationOAuthApplication<'_> {
        OrganizationOAuthApplication {
            id: &self.id,
            name: &self.name,
            client_id: &self.client_id,
            redirect_uris_list: self.redirect_uris.split_whitespace().collect(),
            is_verified: self.is_verified,
            created: Timestamp(self.created),
            updated: Timestamp(self.updated),
        }
    }
}

// PostHog's `OrganizationOAuthApplication`: every key is always present.
#[derive(Serialize, ToSchema)]
#[schema(as = OrganizationOAuthApplication)]
pub struct OrganizationOAuthApplication<'a> {
    #[schema(read_only, format = "uuid")]
    pub id: &'a str,
    #[schema(max_length = 255)]
    pub name: &'a str,
    #[schema(max_length = 100)]
    pub client_id: &'a str,
    #[schema(schema_with = s::read_only::<Vec<String>>)]
    pub redirect_uris_list: Vec<&'a str>,
    /// True if this application has been verified by PostHog
    pub is_verified: bool,
    #[schema(read_only, value_type = String, format = DateTime)]
    pub created: Timestamp,
    #[schema(read_only, value_type = String, format = DateTime)]
    pub updated: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn list_item_shape() {
        let app = OAuthApplication {
            id: "0190a000-0000-7000-8000-000000000001".into(),
            organization_id: None,
            name: "My App".into(),
            client_id: "abc".into(),
            redirect_uris: "https://a.com/cb  https://b.com/cb".into(),
            is_verified: false,
            created: 1_759_320_000_000_000,
            updated: 1_759_320_000_000_000,
        };
        let v = serde_json::to_value(app.shown()).unwrap();
        assert_eq!(
            v["redirect_uris_list"],
            json!(["https://a.com/cb", "https://b.com/cb"])
        );
        assert_eq!(v.as_object().unwrap().len(), 7);
        assert_eq!(v["created"], "2025-10-01T12:00:00Z");
        let none = OAuthApplication {
            redirect_uris: String::new(),
            ..app
        };
        assert_eq!(
            serde_json::to_value(none.shown()).unwrap()["redirect_uris_list"],
            json!([])
        );
    }
}
