//! A project's rules as stored, and the shapes the access-control routes
//! answer: PostHog's `AccessControlSerializer` fields, its access-controls
//! payload and `users_with_access`, each one type for the bytes and the
//! API document's component.

use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use super::rules::{ProjectLevel, Resolved, RuleLevel, Source};
use crate::organizations::Level;
use crate::time::Timestamp;

/// One rule of a project, as stored.
#[derive(Clone, Debug, PartialEq)]
pub struct Rule {
    pub project_id: i64,
    pub level: RuleLevel,
    pub membership_id: Option<String>,
    pub role_id: Option<String>,
    pub created_by: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Rule {
    pub fn shown(&self) -> AccessControl<'_> {
        AccessControl {
            access_level: self.level.as_str(),
            resource: "project",
            resource_id: self.project_id.to_string(),
            organization_member: self.membership_id.as_deref(),
            role: self.role_id.as_deref(),
            created_by: self.created_by,
            created_at: Timestamp(self.created_at),
            updated_at: Timestamp(self.updated_at),
        }
    }

    /// The rule as an activity entry's `before`/`after` (design §6.2).
    pub fn activity_json(&self) -> Value {
        json!({
            "access_level": self.level.as_str(),
            "organization_member": self.membership_id,
            "role": self.role_id,
        })
    }
}

// PostHog's `AccessControlSerializer` fields, in its order (no `id`).
#[derive(Serialize, ToSchema)]
#[schema(as = AccessControl)]
pub struct AccessControl<'a> {
    /// `none`, `member` or `admin`.
    #[schema(value_type = String)]
    pub access_level: &'static str,
    /// Always `project`.
    #[schema(value_type = String)]
    pub resource: &'static str,
    /// The project's id, as a string.
    pub resource_id: String,
    /// The membership the rule names (the `id` of a member in
    /// `/api/organizations/{organization_id}/members/`), or null.
    #[schema(value_type = Option<String>, format = "uuid")]
    pub organization_member: Option<&'a str>,
    /// The role the rule names, or null.
    #[schema(value_type = Option<String>, format = "uuid")]
    pub role: Option<&'a str>,
    /// The id of the user who first wrote the rule (null in PostHog).
    pub created_by: Option<i64>,
    #[schema(value_type = String, format = DateTime)]
    pub created_at: Timestamp,
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: Timestamp,
}

// The access-controls payload, in PostHog's key order.
#[derive(Serialize, ToSchema)]
#[schema(as = ProjectAccessControls)]
pub struct AccessControls<'a> {
    /// Every rule of the project (default, member and role rules), oldest first.
    pub access_controls: Vec<AccessControl<'a>>,
    #[schema(value_type = Vec<String>)]
    pub available_access_levels: [&'static str; 3],
    /// What applies to a member when the project has no default rule.
    #[schema(value_type = String)]
    pub default_access_level: &'static str,
    #[schema(value_type = String)]
    pub minimum_access_level: &'static str,
    #[schema(value_type = String)]
    pub maximum_access_level: &'static str,
    /// The caller's level on the project.
    #[schema(value_type = String)]
    pub user_access_level: &'static str,
    /// Whether the caller may write the project's rules.
    pub user_can_edit_access_levels: bool,
    /// Always null: nothing sits above a project.
    #[schema(value_type = Option<Object>)]
    pub inherited_access: Option<()>,
}

impl<'a> AccessControls<'a> {
    pub fn new(rules: &'a [Rule], caller: ProjectLevel, can_edit: bool) -> AccessControls<'a> {
        AccessControls {
            access_controls: rules.iter().map(Rule::shown).collect(),
            available_access_levels: RuleLevel::ALL.map(RuleLevel::as_str),
            default_access_level: ProjectLevel::Member.as_str(),
            minimum_access_level: RuleLevel::None.as_str(),
            maximum_access_level: RuleLevel::Admin.as_str(),
            user_access_level: caller.as_str(),
            user_can_edit_access_levels: can_edit,
            inherited_access: None,
        }
    }
}

/// A member of the organization and what the store read for them on one
/// project.
#[derive(Clone, Debug)]
pub struct MemberAccess {
    pub user_uuid: String,
    pub membership_id: String,
    pub level: Level,
    pub resolved: Resolved,
}

#[derive(Serialize, ToSchema)]
#[schema(as = UserWithAccess)]
pub struct UserWithAccess<'a> {
    #[schema(format = "uuid")]
    pub user_id: &'a str,
    /// `member` or `admin`.
    #[schema(value_type = String)]
    pub access_level: &'static str,
    /// `organization_admin`, `explicit_member`, `explicit_role` or `default`.
    #[schema(value_type = String)]
    pub access_source: &'static str,
    #[schema(format = "uuid")]
    pub organization_membership_id: &'a str,
    /// `member`, `admin` or `owner`.
    #[schema(value_type = String)]
    pub organization_membership_level: &'static str,
}

#[derive(Serialize, ToSchema)]
#[schema(as = UsersWithAccess)]
pub struct UsersWithAccess<'a> {
    pub users: Vec<UserWithAccess<'a>>,
    pub total_count: usize,
}

fn level_name(level: Level) -> &'static str {
    match level {
        Level::Member => "member",
        Level::Admin => "admin",
        Level::Owner => "owner",
    }
}

/// The members who can see the project, highest level first, then by user
/// uuid descending (PostHog sorts the `(level, user_id)` tuples in reverse).
pub fn users_with_access(members: &[MemberAccess]) -> UsersWithAccess<'_> {
    let mut kept: Vec<(ProjectLevel, Source, &MemberAccess)> = members
        .iter()
        .filter_map(|m| Some((m.resolved.level?, m.resolved.source, m)))
        .collect();
    kept.sort_by(|a, b| (b.0, &b.2.user_uuid).cmp(&(a.0, &a.2.user_uuid)));
    let users: Vec<UserWithAccess> = kept
        .into_iter()
        .map(|(level, source, m)| UserWithAccess {
            user_id: &m.user_uuid,
            access_level: level.as_str(),
            access_source: source.as_str(),
            organization_membership_id: &m.membership_id,
            organization_membership_level: level_name(m.level),
        })
        .collect();
    UsersWithAccess {
        total_count: users.len(),
        users,
    }
}
