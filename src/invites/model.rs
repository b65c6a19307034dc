//! An invite as stored and as PostHog renders it.

use serde_json::{json, Map, Value};

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
}

impl Invite {
    /// Strictly older than the validity window, as PostHog compares.
    pub fn is_expired(&self, now: i64) -> bool {
        self.created_at < valid_since(now)
    }

    /// PostHog's invite object, keys in its order.
    pub fn to_json(&self, now: i64) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), Value::String(self.id.clone()));
        m.insert(
            "target_email".into(),
            Value::String(self.target_email.clone()),
        );
        m.insert("first_name".into(), Value::String(self.first_name.clone()));
        m.insert(
            "emailing_attempt_made".into(),
            Value::Bool(self.emailing_attempt_made),
        );
        m.insert("level".into(), Value::from(self.level.as_i64()));
        m.insert("is_expired".into(), Value::Bool(self.is_expired(now)));
        m.insert(
            "created_by".into(),
            self.created_by
                .as_ref()
                .map(User::basic_json)
                .unwrap_or(Value::Null),
        );
        m.insert(
            "created_at".into(),
            Value::String(time::format(self.created_at)),
        );
        m.insert(
            "updated_at".into(),
            Value::String(time::format(self.updated_at)),
        );
        m.insert(
            "message".into(),
            self.message
                .clone()
                .map(Value::String)
                .unwrap_or(Value::Null),
        );
        m.insert(
            "private_project_access".into(),
            access_to_json(&self.private_project_access),
        );
        Value::Object(m)
    }
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
        let v = invite(1_704_844_800_000_000).to_json(1_704_844_800_000_000);
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
