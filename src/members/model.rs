//! A membership as PostHog's API renders it (`OrganizationMember`), written
//! straight into the response text: the list is a hot path.

use std::fmt::Write as _;

use serde_json::Value;

use crate::organizations::Membership;
use crate::time;

/// How a row matched `search` (PostHog adds the field only when searching).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MatchType {
    Exact,
    Similar,
}

impl MatchType {
    fn as_str(self) -> &'static str {
        match self {
            MatchType::Exact => "exact",
            MatchType::Similar => "similar",
        }
    }
}

/// One member object: `id`, `user` (UserBasic), `level`, `joined_at`,
/// `updated_at`, `is_2fa_enabled`, `has_social_auth`, `last_login`.
/// prickle has no 2FA devices and no social logins, so both are false.
pub fn write_member(m: &Membership, search: Option<MatchType>, out: &mut String) {
    out.push_str("{\"id\":");
    push_str(out, &m.id);
    out.push_str(",\"user\":");
    write_user(m, out);
    let _ = write!(out, ",\"level\":{}", m.level.as_i64());
    out.push_str(",\"joined_at\":");
    push_str(out, &time::format(m.joined_at));
    out.push_str(",\"updated_at\":");
    push_str(out, &time::format(m.updated_at));
    out.push_str(",\"is_2fa_enabled\":false,\"has_social_auth\":false,\"last_login\":");
    match m.user.last_login {
        Some(t) => push_str(out, &time::format(t)),
        None => out.push_str("null"),
    }
    if let Some(kind) = search {
        out.push_str(",\"search_match_type\":");
        push_str(out, kind.as_str());
    }
    out.push('}');
}

/// The member as a JSON value (the admin CLI prints exactly this).
pub fn member_json(m: &Membership) -> Value {
    let mut out = String::with_capacity(512);
    write_member(m, None, &mut out);
    serde_json::from_str(&out).unwrap_or(Value::Null)
}

/// PostHog's `UserBasic`, the same fields as `User::basic_json`.
fn write_user(m: &Membership, out: &mut String) {
    let u = &m.user;
    let _ = write!(out, "{{\"id\":{}", u.id);
    out.push_str(",\"uuid\":");
    push_str(out, &u.uuid);
    out.push_str(",\"distinct_id\":");
    push_opt_str(out, u.distinct_id.as_deref());
    out.push_str(",\"first_name\":");
    push_str(out, &u.first_name);
    out.push_str(",\"last_name\":");
    push_str(out, &u.last_name);
    out.push_str(",\"email\":");
    push_str(out, &u.email);
    out.push_str(",\"is_email_verified\":");
    out.push_str(match u.is_email_verified {
        Some(true) => "true",
        Some(false) => "false",
        None => "null",
    });
    out.push_str(",\"hedgehog_config\":");
    if u.hedgehog_config.is_null() {
        out.push_str("null");
    } else {
        // Rare: the reduced profile, as the user's own rendering builds it.
        out.push_str(&u.basic_json()["hedgehog_config"].to_string());
    }
    out.push_str(",\"role_at_organization\":");
    push_opt_str(out, u.role_at_organization.as_deref());
    out.push('}');
}

fn push_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.push_str("null"),
    }
}

/// A JSON string literal (serde_json's escaping rules).
fn push_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape: Option<&str> = match c {
            '"' => Some("\\\""),
            '\\' => Some("\\\\"),
            '\n' => Some("\\n"),
            '\r' => Some("\\r"),
            '\t' => Some("\\t"),
            '\u{8}' => Some("\\b"),
            '\u{c}' => Some("\\f"),
            c if (c as u32) < 0x20 => None,
            _ => continue,
        };
        out.push_str(&s[start..i]);
        match escape {
            Some(e) => out.push_str(e),
            None => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::organizations::Level;
    use crate::users::User;
    use serde_json::json;

    fn membership(first_name: &str, hedgehog: Value) -> Membership {
        Membership {
            id: "0190c0de-0000-7000-8000-000000000001".into(),
            user: User {
                id: 7,
                uuid: "0190c0de-0000-7000-8000-000000000002".into(),
                distinct_id: Some("d".into()),
                first_name: first_name.into(),
                last_name: String::new(),
                email: "a@example.com".into(),
                is_email_verified: None,
                hedgehog_config: hedgehog,
                role_at_organization: None,
                is_active: true,
                current_organization_id: None,
                current_team_id: None,
                last_login: None,
            },
            level: Level::Admin,
            joined_at: 1_714_557_600_123_456,
            updated_at: 1_704_844_800_000_000,
        }
    }

    #[test]
    fn renders_posthog_member_shape() {
        let m = membership("Ada \"\u{1}\n🦔", Value::Null);
        let v = member_json(&m);
        assert_eq!(
            v,
            json!({
                "id": m.id,
                "user": m.user.basic_json(),
                "level": 8,
                "joined_at": "2024-05-01T10:00:00.123456Z",
                "updated_at": "2024-01-10T00:00:00Z",
                "is_2fa_enabled": false,
                "has_social_auth": false,
                "last_login": null,
            })
        );
        let with_config = membership("B", json!({"use_as_profile": true, "color": "red"}));
        assert_eq!(
            member_json(&with_config)["user"],
            with_config.user.basic_json()
        );
        let mut out = String::new();
        write_member(&m, Some(MatchType::Similar), &mut out);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["search_match_type"], "similar");
    }
}
