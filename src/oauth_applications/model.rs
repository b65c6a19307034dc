//! An OAuth application as stored, and as the organization's list shows it
//! (exactly seven keys: never a secret, the raw URIs or the grant settings).

use serde_json::{json, Value};

use crate::time;

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
    pub fn to_json(&self) -> Value {
        let uris: Vec<&str> = self.redirect_uris.split_whitespace().collect();
        json!({
            "id": self.id,
            "name": self.name,
            "client_id": self.client_id,
            "redirect_uris_list": uris,
            "is_verified": self.is_verified,
            "created": time::format(self.created),
            "updated": time::format(self.updated),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let v = app.to_json();
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
        assert_eq!(none.to_json()["redirect_uris_list"], json!([]));
    }
}
