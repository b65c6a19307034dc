//! An invite as stored, and as PostHog's API shows it (`OrganizationInvite`,
//! a type borrowing the stored invite, from which both the response bytes
//! and the API document's component come).

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use crate::openapi::schema as s;
use crate::organizations::Level;
use crate::time::{self, Timestamp};
use crate::users::model::UserBasic;
use crate::users::User;

/// PostHog's `INVITE_DAYS_VALIDITY`.
pub const VALIDITY_DAYS: i64 = 3;
const DAY_MICROS: i64 = 24 * time::HOUR_MICROS;

/// The oldest `created_at` an invite may have and still be valid at `now`.
pub fn valid_since(now: i64) -> i64 {
    now - VALIDITY_DAYS * DAY_MICROS
}

// A project access level an invite may grant (no doc comment: it would
// become the level's description in the API document).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AccessLevel {
    Member,
    Admin,
}

impl AccessLevel {
    pub fn parse(s: &str) -> Option<AccessLevel> {
        match s {
            "member" => Some(AccessLevel::Member),
            "admin" => Some(AccessLevel::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            AccessLevel::Member => "member",
            AccessLevel::Admin => "admin",
        }
    }
}

// One `private_project_access` entry, as stored and as shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct ProjectAccess {
    // An integer without a `format`, as PostHog documents project ids.
    #[schema(schema_with = s::integer)]
    pub id: i64,
    #[schema(inline)]
    pub level: AccessLevel,
}

/// Reads the stored JSON; entries that cannot be read are dropped (they were
/// validated on the way in).
pub fn access_from_json(v: &Value) -> Option<Vec<ProjectAccess>> {
    let list = v.as_array()?;
    Some(
        list.iter()
            .filter_map(|e| {
                Some(ProjectAccess {
                    id: e.get("id")?.as_i64()?,
                    level: AccessLevel::parse(e.get("level")?.as_str()?)?,
                })
            })
            .collect(),
    )
}

#[derive(Clone, Debug)]
pub struct Invite {
    pub id: String,
    pub organization_id: String,
    pub target_email: String,
    pub first_name: String,
    pub created_by: Option<User>,
    pub emailing_attempt_made: bool,
    pub level: Level,
    pub message: Option<String>,
    pub private_project_access: Option<Vec<ProjectAccess>>,
    pub created_at: i64,
    pub updated_at: i64,
    /// The sign-up link with its token: known only to the request that made
    /// the token (the database keeps a digest), so shown on create only.
    pub signup_url: Option<String>,
}

impl Invite {
    /// Strictly older than the validity window, as PostHog compares.
    pub fn is_expired(&self, now: i64) -> bool {
        self.created_at < valid_since(now)
    }

    /// PostHog's invite object, as of `now` (`is_expired`).
    pub fn shown(&self, now: i64) -> OrganizationInvite<'_> {
        OrganizationInvite {
            id: &self.id,
            target_email: &self.target_email,
            first_name: &self.first_name,
            emailing_attempt_made: self.emailing_attempt_made,
            level: self.level,
            is_expired: self.is_expired(now),
            created_by: self.created_by.as_ref().map(UserBasic::of),
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
            message: self.message.as_deref(),
            private_project_access: self.private_project_access.as_deref(),
            signup_url: self.signup_url.as_deref(),
        }
    }
}

// PostHog's `OrganizationInvite`: the fields the server sets are read-only
// and required, as PostHog lists them. The create body shares the component
// (`openapi::invite_schema` adds the fields only a request carries).
#[derive(Serialize, ToSchema)]
#[schema(as = OrganizationInvite)]
pub struct OrganizationInvite<'a> {
    #[schema(read_only, format = "uuid")]
    pub id: &'a str,
    // No `format`: the server checks addresses by its own rules.
    #[schema(max_length = 254)]
    pub target_email: &'a str,
    #[schema(max_length = 30, required = false)]
    pub first_name: &'a str,
    #[schema(read_only)]
    pub emailing_attempt_made: bool,
    #[schema(required = false)]
    pub level: Level,
    /// Older than the 3 days an invite is valid.
    #[schema(read_only)]
    pub is_expired: bool,
    // Null once the inviter's account is gone.
    #[schema(schema_with = s::nullable_ref::<UserBasic>, required = true)]
    pub created_by: Option<UserBasic<'a>>,
    #[schema(read_only, value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(read_only, value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    // `payload::MESSAGE_MAX`.
    #[schema(max_length = 2000)]
    pub message: Option<&'a str>,
    #[doc = "Projects of the organization and the access the invite grants to each; \
             sent empty or null, it is stored as null."]
    #[schema(inline)]
    pub private_project_access: Option<&'a [ProjectAccess]>,
    // Known only to the request that made the token (the database keeps a
    // digest), so shown by the create responses only.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[doc = "The sign-up link with the invite's token, SITE_URL/signup/<id>?token=<token>. \
             Shown once, in the create response (single and bulk), never in a list; \
             `prickle admin invite-link` makes a new one. Not in PostHog."]
    #[schema(read_only, value_type = String)]
    pub signup_url: Option<&'a str>,
}

/// Invites as PostHog shows them, as of `now`.
pub fn shown(invites: &[Invite], now: i64) -> Vec<OrganizationInvite<'_>> {
    invites.iter().map(|i| i.shown(now)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn invite(created_at: i64) -> Invite {
        Invite {
            id: "i".into(),
            organization_id: "o".into(),
            target_email: "x@x.com".into(),
            first_name: String::new(),
            created_by: None,
            emailing_attempt_made: false,
            level: Level::Member,
            message: None,
            private_project_access: Some(vec![]),
            created_at,
            updated_at: created_at,
            signup_url: None,
        }
    }

    #[test]
    fn expires_strictly_after_three_days() {
        let now = 10 * DAY_MICROS;
        assert!(!invite(now - 3 * DAY_MICROS).is_expired(now));
        assert!(invite(now - 3 * DAY_MICROS - 1).is_expired(now));
        assert!(!invite(now).is_expired(now));
    }

    #[test]
    fn renders_posthog_keys_in_order() {
        let shown = |i: &Invite, now| serde_json::to_value(i.shown(now)).unwrap();
        let v = shown(&invite(1_704_844_800_000_000), 1_704_844_800_000_000);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(
            keys,
            [
                "id",
                "target_email",
                "first_name",
                "emailing_attempt_made",
                "level",
                "is_expired",
                "created_by",
                "created_at",
                "updated_at",
                "message",
                "private_project_access"
            ]
        );
        assert_eq!(v["created_at"], "2024-01-10T00:00:00Z");
        assert_eq!(v["private_project_access"], json!([]));
        assert_eq!(v["created_by"], Value::Null);
        let mut odd = invite(0);
        odd.message = Some("quote \" and \\ and \u{1f994}".into());
        let both = [odd.clone(), odd];
        let v = serde_json::to_value(super::shown(&both, 0)).unwrap();
        assert_eq!(v[1]["message"], "quote \" and \\ and \u{1f994}");
        assert!(v[1].get("signup_url").is_none());
        let mut created = invite(0);
        created.signup_url = Some("https://x.io/signup/i?token=t".into());
        let v = shown(&created, 0);
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.last(), Some(&"signup_url"));
        assert_eq!(v["signup_url"], "https://x.io/signup/i?token=t");
    }

    #[test]
    fn the_documented_message_cap_is_the_payload_s() {
        use utoipa::PartialSchema;
        let schema = serde_json::to_value(OrganizationInvite::schema()).unwrap();
        assert_eq!(
            schema["properties"]["message"]["maxLength"],
            crate::invites::payload::MESSAGE_MAX
        );
    }

    #[test]
    fn access_round_trips() {
        let a = Some(vec![ProjectAccess {
            id: 3,
            level: AccessLevel::Admin,
        }]);
        let stored = serde_json::to_value(&a).unwrap();
        assert_eq!(stored, json!([{"id": 3, "level": "admin"}]));
        assert_eq!(access_from_json(&stored), a);
        assert_eq!(access_from_json(&Value::Null), None);
    }
}
