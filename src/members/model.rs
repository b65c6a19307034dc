//! A membership as PostHog's API shows it (`OrganizationMember`, with its
//! user as `users::model::UserBasic`), the level
//! (`OrganizationMembershipLevel`) and a member's keys (`scoped_api_keys`).
//! Each shape is one type: the response bytes and the API document's
//! component both come from it. The list is a hot path: a member borrows
//! every field from its `Membership` row.

use std::borrow::Cow;

use serde::{Serialize, Serializer};
use serde_json::Value;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use crate::openapi::schema::{self as s, Kind};
use crate::organizations::{Level, Membership};
use crate::time::Timestamp;
use crate::users::model::UserBasic;

/// How the member matched `search`; present only in a list searched with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum MatchType {
    Exact,
    Similar,
}

// PostHog's `OrganizationMember`: prickle has no 2FA devices and no social
// logins, so both flags are false. `level` is the one writable field, not
// required: the component is also the PUT body.
#[derive(Serialize, ToSchema)]
#[schema(as = OrganizationMember)]
pub struct OrganizationMember<'a> {
    #[schema(read_only, format = "uuid")]
    pub id: &'a str,
    pub user: UserBasic<'a>,
    #[schema(required = false)]
    pub level: Level,
    #[schema(read_only, value_type = String, format = DateTime)]
    pub joined_at: Timestamp,
    #[schema(read_only, value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
    #[schema(read_only)]
    pub is_2fa_enabled: bool,
    #[schema(read_only)]
    pub has_social_auth: bool,
    // Null until the user first logs in (PostHog's schema omits the null).
    #[schema(read_only, value_type = Option<String>, format = DateTime, required = true)]
    pub last_login: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(schema_with = s::read_only::<MatchType>)]
    pub search_match_type: Option<MatchType>,
}

impl<'a> OrganizationMember<'a> {
    pub fn of(m: &'a Membership, search: Option<MatchType>) -> OrganizationMember<'a> {
        OrganizationMember {
            id: &m.id,
            user: UserBasic::of(&m.user),
            level: m.level,
            joined_at: Timestamp(m.joined_at),
            updated_at: Timestamp(m.updated_at),
            is_2fa_enabled: false,
            has_social_auth: false,
            last_login: m.user.last_login.map(Timestamp),
            search_match_type: search,
        }
    }
}

/// A page of the list, each row shown as it is written out: no list of
/// shown members is built in between.
pub struct Listed<'a>(pub &'a [(Membership, Option<MatchType>)]);

impl Serialize for Listed<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            self.0
                .iter()
                .map(|(m, search)| OrganizationMember::of(m, *search)),
        )
    }
}

/// The member as a JSON value (the admin CLI prints exactly what the API shows).
pub fn member_json(m: &Membership) -> Value {
    serde_json::to_value(OrganizationMember::of(m, None)).unwrap_or(Value::Null)
}

/// The levels with PostHog's labels, in order.
const LEVELS: [(Level, &str); 3] = [
    (Level::Member, "member"),
    (Level::Admin, "administrator"),
    (Level::Owner, "owner"),
];

/// A level is its number in every response.
impl Serialize for Level {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i64(self.as_i64())
    }
}

/// PostHog's `OrganizationMembershipLevel`: the numbers, each described as
/// drf-spectacular describes a choice.
impl utoipa::PartialSchema for Level {
    fn schema() -> RefOr<Schema> {
        let described: Vec<String> = LEVELS
            .iter()
            .map(|(level, label)| format!("* `{}` - {label}", level.as_i64()))
            .collect();
        s::choice(Kind::Integer, LEVELS.map(|(level, _)| level.as_i64()))
            .description(Some(described.join("\n")))
            .into()
    }
}

impl ToSchema for Level {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(super::openapi::LEVEL)
    }
}

// The keys of a member that can reach the organization: labels and last
// use, never values (PostHog's schema names the member here; this is what
// it answers).
#[derive(Serialize, ToSchema)]
#[schema(as = OrganizationMemberScopedApiKeys)]
pub struct ScopedApiKeys<'a> {
    pub has_keys: bool,
    pub has_keys_active_last_week: bool,
    #[schema(inline)]
    pub keys: Vec<ScopedApiKey<'a>>,
}

#[derive(Serialize, ToSchema)]
pub struct ScopedApiKey<'a> {
    pub name: &'a str,
    #[schema(value_type = Option<String>, format = DateTime, required = true)]
    pub last_used_at: Option<Timestamp>,
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
        let text = serde_json::to_string(&OrganizationMember::of(&m, None)).unwrap();
        assert_eq!(
            text,
            concat!(
                r#"{"id":"0190c0de-0000-7000-8000-000000000001","user":{"id":7,"#,
                r#""uuid":"0190c0de-0000-7000-8000-000000000002","distinct_id":"d","#,
                r#""first_name":"Ada \"\u0001\n🦔","last_name":"","email":"a@example.com","#,
                r#""is_email_verified":null,"hedgehog_config":null,"role_at_organization":null},"#,
                r#""level":8,"joined_at":"2024-05-01T10:00:00.123456Z","#,
                r#""updated_at":"2024-01-10T00:00:00Z","is_2fa_enabled":false,"#,
                r#""has_social_auth":false,"last_login":null}"#
            )
        );
        let with_config = membership(
            "B",
            json!({"use_as_profile": true, "actor_options": {"color": "red"}, "x": 1}),
        );
        assert_eq!(
            member_json(&with_config)["user"]["hedgehog_config"],
            json!({"use_as_profile": true, "color": "red", "accessories": null, "skin": null})
        );
        let searched = OrganizationMember::of(&m, Some(MatchType::Similar));
        let v = serde_json::to_value(searched).unwrap();
        assert_eq!(v["search_match_type"], "similar");
        let page = [(m, None), (with_config, Some(MatchType::Exact))];
        let listed = serde_json::to_string(&Listed(&page)).unwrap();
        let one_by_one: Vec<String> = page
            .iter()
            .map(|(m, search)| serde_json::to_string(&OrganizationMember::of(m, *search)).unwrap())
            .collect();
        assert_eq!(listed, format!("[{}]", one_by_one.join(",")));
    }

    #[test]
    fn levels_are_numbers() {
        assert_eq!(
            serde_json::to_string(&[Level::Member, Level::Admin, Level::Owner]).unwrap(),
            "[1,8,15]"
        );
    }
}
