//! An invite as stored and as PostHog renders it.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::organizations::Level;
use crate::time;
use crate::users::User;

/// PostHog's `INVITE_DAYS_VALIDITY`.
pub const VALIDITY_DAYS: i64 = 3;
const DAY_MICROS: i64 = 24 * time::HOUR_MICROS;

/// The oldest `created_at` an invite may have and still be valid at `now`.
pub fn valid_since(now: i64) -> i64 {
    now - VALIDITY_DAYS * DAY_MICROS
}

/// A project access level an invite may grant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
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

/// One `private_project_access` entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProjectAccess {
    pub id: i64,
    pub level: AccessLevel,
}

/// `None` renders as `null` (PostHog stores an explicit `[]` as null).
pub fn access_to_json(access: &Option<Vec<ProjectAccess>>) -> Value {
    match access {
        None => Value::Null,
        Some(list) => Value::Array(
            list.iter()
                .map(|a| json!({"id": a.id, "level": a.level.as_str()}))
                .collect(),
        ),
    }
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

    /// PostHog's invite object, keys in its order, written as JSON text
    /// (lists render many; no intermediate tree). `creator` is the creator's
    /// `UserBasic` JSON when the caller has it already (lists share one
    /// rendering per creator).
    pub fn write_json(&self, out: &mut String, now: i64, creator: Option<&str>) {
        // Serialising a string cannot fail.
        let text = |out: &mut String, s: &str| {
            out.push_str(&serde_json::to_string(s).unwrap_or_default());
        };
        out.push_str("{\"id\":");
        text(out, &self.id);
        out.push_str(",\"target_email\":");
        text(out, &self.target_email);
        out.push_str(",\"first_name\":");
        text(out, &self.first_name);
        out.push_str(",\"emailing_attempt_made\":");
        out.push_str(if self.emailing_attempt_made {
            "true"
        } else {
            "false"
        });
        out.push_str(",\"level\":");
        out.push_str(&self.level.as_i64().to_string());
        out.push_str(",\"is_expired\":");
        out.push_str(if self.is_expired(now) {
            "true"
        } else {
            "false"
        });
        out.push_str(",\"created_by\":");
        match (creator, &self.created_by) {
            (Some(json), _) => out.push_str(json),
            (None, Some(user)) => out.push_str(&user.basic_json().to_string()),
            (None, None) => out.push_str("null"),
        }
        out.push_str(",\"created_at\":");
        text(out, &time::format(self.created_at));
        out.push_str(",\"updated_at\":");
        text(out, &time::format(self.updated_at));
        out.push_str(",\"message\":");
        match &self.message {
            Some(m) => text(out, m),
            None => out.push_str("null"),
        }
        out.push_str(",\"private_project_access\":");
        out.push_str(&access_to_json(&self.private_project_access).to_string());
        if let Some(url) = &self.signup_url {
            out.push_str(",\"signup_url\":");
            text(out, url);
        }
        out.push('}');
    }

    pub fn to_json_string(&self, now: i64) -> String {
        let mut out = String::with_capacity(640);
        self.write_json(&mut out, now, None);
        out
    }
}

/// Invites as a JSON array, each creator rendered once.
pub fn list_json(invites: &[Invite], now: i64) -> String {
    let mut creators: HashMap<i64, String> = HashMap::new();
    let mut out = String::with_capacity(invites.len() * 640 + 2);
    out.push('[');
    for (i, invite) in invites.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let creator = invite.created_by.as_ref().map(|u| {
            creators
                .entry(u.id)
                .or_insert_with(|| u.basic_json().to_string())
                .clone()
        });
        invite.write_json(&mut out, now, creator.as_deref());
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let v: Value = serde_json::from_str(
            &invite(1_704_844_800_000_000).to_json_string(1_704_844_800_000_000),
        )
        .unwrap();
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
        let v: Value = serde_json::from_str(&list_json(&[odd.clone(), odd], 0)).unwrap();
        assert_eq!(v[1]["message"], "quote \" and \\ and \u{1f994}");
        assert!(v[1].get("signup_url").is_none());
        let mut created = invite(0);
        created.signup_url = Some("https://x.io/signup/i?token=t".into());
        let v: Value = serde_json::from_str(&created.to_json_string(0)).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys.last(), Some(&"signup_url"));
        assert_eq!(v["signup_url"], "https://x.io/signup/i?token=t");
    }

    #[test]
    fn access_round_trips() {
        let a = Some(vec![ProjectAccess {
            id: 3,
            level: AccessLevel::Admin,
        }]);
        assert_eq!(access_from_json(&access_to_json(&a)), a);
        assert_eq!(access_to_json(&None), Value::Null);
        assert_eq!(access_from_json(&Value::Null), None);
    }
}
