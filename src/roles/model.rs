//! Roles and who holds them, as PostHog's `RoleSerializer` and
//! `RoleMembershipSerializer` show them. A holder's `organization_member`
//! is the member exactly as `/members/` renders it
//! (`members::model::OrganizationMember`), and `user` its `UserBasic`.

use serde::Serialize;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use crate::members::model::OrganizationMember;
use crate::openapi::schema as s;
use crate::organizations::Membership;
use crate::time::Timestamp;
use crate::users::model::UserBasic;
use crate::users::User;

/// A role as stored, with its creator (None: unknown, or gone).
#[derive(Clone, Debug)]
pub struct Role {
    pub id: String,
    pub organization_id: String,
    pub name: String,
    pub created_at: i64,
    pub created_by: Option<User>,
}

/// One user holding a role, through their membership of its organization.
pub struct Holder {
    pub id: String,
    pub role_id: String,
    pub member: Membership,
    pub joined_at: i64,
    pub updated_at: i64,
}

/// The key that makes names unique in an organization: PostHog compares
/// them case-insensitively (`name__iexact`) after DRF's trim.
pub fn name_key(name: &str) -> String {
    crate::drf::py_strip(name).to_lowercase()
}

// PostHog's `RoleMembership`; the create body adds its write-only
// `user_uuid` (`openapi::role_membership_schema`).
#[derive(Serialize, ToSchema)]
#[schema(as = RoleMembership)]
pub struct ShownHolder<'a> {
    #[schema(read_only, format = "uuid")]
    pub id: &'a str,
    #[schema(read_only, format = "uuid")]
    pub role_id: &'a str,
    pub organization_member: OrganizationMember<'a>,
    pub user: UserBasic<'a>,
    #[schema(read_only, value_type = String, format = DateTime)]
    pub joined_at: Timestamp,
    #[schema(read_only, value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

impl<'a> ShownHolder<'a> {
    pub fn of(h: &'a Holder) -> ShownHolder<'a> {
        ShownHolder {
            id: &h.id,
            role_id: &h.role_id,
            organization_member: OrganizationMember::of(&h.member, None),
            user: UserBasic::of(&h.member.user),
            joined_at: Timestamp(h.joined_at),
            updated_at: Timestamp(h.updated_at),
        }
    }
}

// PostHog's `Role`. `created_by` is the caller who made it (PostHog's API
// leaves it null; decision 11 of the access-control spec).
#[derive(Serialize, ToSchema)]
#[schema(as = Role)]
pub struct ShownRole<'a> {
    #[schema(read_only, format = "uuid")]
    pub id: &'a str,
    #[schema(max_length = 200)]
    pub name: &'a str,
    #[schema(read_only, value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(schema_with = s::nullable_ref::<UserBasic>, required = true)]
    pub created_by: Option<UserBasic<'a>>,
    #[schema(schema_with = members_schema)]
    pub members: Vec<ShownHolder<'a>>,
    #[schema(read_only)]
    pub is_default: bool,
}

/// A role's holders: read-only, each a `RoleMembership`.
pub fn members_schema() -> RefOr<Schema> {
    s::read_only_array(s::array(s::component(&ShownHolder::name())))
}

impl<'a> ShownRole<'a> {
    /// The role with its holders (already in their order), as an
    /// organization whose default role is `default_role` shows it.
    pub fn of(role: &'a Role, holders: &'a [Holder], default_role: Option<&str>) -> ShownRole<'a> {
        ShownRole {
            id: &role.id,
            name: &role.name,
            created_at: Timestamp(role.created_at),
            created_by: role.created_by.as_ref().map(UserBasic::of),
            members: holders
                .iter()
                .filter(|h| h.role_id == role.id)
                .map(ShownHolder::of)
                .collect(),
            is_default: default_role == Some(role.id.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::organizations::Level;

    fn user(id: i64) -> User {
        User {
            id,
            uuid: format!("0190c0de-0000-7000-8000-00000000000{id}"),
            distinct_id: Some("d".into()),
            first_name: "Ada".into(),
            last_name: String::new(),
            email: format!("u{id}@example.com"),
            is_email_verified: None,
            hedgehog_config: serde_json::Value::Null,
            role_at_organization: None,
            is_active: true,
            current_organization_id: None,
            current_team_id: None,
            last_login: None,
        }
    }

    #[test]
    fn renders_posthogs_role_shape_in_order() {
        let role = Role {
            id: "0190c0de-0000-7000-8000-0000000000aa".into(),
            organization_id: "o".into(),
            name: "Engineering".into(),
            created_at: 1_704_844_800_000_000,
            created_by: Some(user(1)),
        };
        let holder = |role_id: &str| Holder {
            id: "0190c0de-0000-7000-8000-0000000000bb".into(),
            role_id: role_id.into(),
            member: Membership {
                id: "0190c0de-0000-7000-8000-0000000000cc".into(),
                user: user(2),
                level: Level::Member,
                joined_at: 1,
                updated_at: 2,
            },
            joined_at: 1_704_844_800_000_001,
            updated_at: 1_704_844_800_000_002,
        };
        let holders = [holder(&role.id), holder("another")];
        let shown = serde_json::to_value(ShownRole::of(&role, &holders, Some(&role.id))).unwrap();
        let keys: Vec<&str> = shown
            .as_object()
            .unwrap()
            .keys()
            .map(|k| k.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "id",
                "name",
                "created_at",
                "created_by",
                "members",
                "is_default"
            ]
        );
        assert_eq!(shown["is_default"], true);
        assert_eq!(shown["created_by"]["id"], 1);
        assert_eq!(shown["members"].as_array().unwrap().len(), 1);
        let m = &shown["members"][0];
        let keys: Vec<&str> = m.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        assert_eq!(
            keys,
            [
                "id",
                "role_id",
                "organization_member",
                "user",
                "joined_at",
                "updated_at"
            ]
        );
        assert_eq!(
            m["organization_member"],
            crate::members::model::member_json(&holders[0].member)
        );
        assert_eq!(m["user"]["id"], 2);
        assert_eq!(m["joined_at"], "2024-01-10T00:00:00.000001Z");
        let nobody = Role {
            created_by: None,
            ..role.clone()
        };
        let shown = serde_json::to_value(ShownRole::of(&nobody, &[], None)).unwrap();
        assert_eq!(shown["created_by"], serde_json::Value::Null);
        assert_eq!(shown["is_default"], false);
        assert_eq!(name_key("  Marketing "), "marketing");
    }
}
