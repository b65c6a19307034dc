//! Every route × every kind of caller, with the status and detail PostHog
//! gives. The table has one row per declared route, and a test holds the
//! table to the routes the router serves: a route added without a row fails.

use std::collections::{BTreeMap, BTreeSet};

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::support::World;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    NoKey,
    InvalidKey,
    /// A key without the route's scope.
    NoScope,
    /// Only the read scope of the route's object.
    ReadOnly,
    /// `*`, limited to the other organization.
    OtherOrgKey,
    /// `*`, limited to one project (`{project}`).
    ProjectKey,
    /// `*`, but not a member of the organization.
    NonMember,
    Member,
    /// A member with a `none` member rule on `{project}` and on each
    /// `{fresh_project}`: those projects are hidden from them. Off project
    /// routes it and `ProjectAdmin` are plain members: every row that names
    /// `Member` names them too.
    HiddenMember,
    /// A member with an `admin` member rule on `{project}` and on each
    /// `{fresh_project}`.
    ProjectAdmin,
    Admin,
    Owner,
}

const ACTORS: [Actor; 12] = [
    Actor::NoKey,
    Actor::InvalidKey,
    Actor::NoScope,
    Actor::ReadOnly,
    Actor::OtherOrgKey,
    Actor::ProjectKey,
    Actor::NonMember,
    Actor::Member,
    Actor::HiddenMember,
    Actor::ProjectAdmin,
    Actor::Admin,
    Actor::Owner,
];

/// One declared route: how to call it and what each caller gets.
///
/// `path`, `body` and the expected details may use placeholders: `{org}`,
/// `{other_org}`, `{project}` (a project that stays), `{fresh_project}` (a
/// project made for this one call), `{fresh_invite}` (an invite made for this one call),
/// `{member_uuid}` (the member actor's user), `{fresh_member}` (a level-1 member made for
/// this one call), `{role}` (a role that stays, held by the member actor) and
/// `{role_membership}` (the member actor's holding of it), `{fresh_role}` (an empty role
/// made for this one call), `{fresh_role_membership}` (a fresh member added to `{role}`
/// for this one call).
pub struct Row {
    pub method: &'static str,
    /// The pattern as declared (without the trailing slash).
    pub pattern: &'static str,
    pub path: &'static str,
    pub body: Option<fn() -> Value>,
    /// The scope a key without it is told it lacks (`project:write`).
    pub scope: &'static str,
    /// Status and detail (empty for successes) for every actor past the
    /// credential checks (NoKey, InvalidKey and NoScope are the same for every
    /// authenticated route).
    pub expect: fn(Actor) -> (u16, &'static str),
}

const NOT_FOUND: (u16, &str) = (404, "Not found.");
const ORG_KEY: (u16, &str) = (
    403,
    "API key does not have access to the requested organization: ID {org}.",
);
const PROJECT_KEY_ON_ORG_ROUTE: (u16, &str) = (
    403,
    "API keys with scoped projects are only supported on project-based endpoints.",
);
const WRITE_SCOPE_PROJECT: (u16, &str) = (403, "API key missing required scope 'project:write'");
const WRITE_SCOPE_ORGANIZATION: (u16, &str) =
    (403, "API key missing required scope 'organization:write'");
const TIMEZONE_GATE: (u16, &str) = (
    403,
    "Only project admins can modify these settings: timezone",
);
const OK: (u16, &str) = (200, "");
const INSUFFICIENT: (u16, &str) = (403, "Your organization access level is insufficient.");
const KEY_REFUSED: (u16, &str) = (403, "This action does not support Personal API Key access");
const GENERIC_403: (u16, &str) = (403, "You do not have permission to perform this action.");
const WRITE_SCOPE_MEMBER: (u16, &str) = (
    403,
    "API key missing required scope 'organization_member:write'",
);
const MEMBER_EDITS_OTHERS: (u16, &str) = (403, "You can only edit others if you are an admin.");

/// The table. Each resource adds its rows here.
pub fn rows() -> Vec<Row> {
    use Actor::*;
    let timezone = || json!({"timezone": "Europe/Lisbon"});
    vec![
        Row {
            method: "GET",
            pattern: "/api/organizations/{organization_id}/projects",
            path: "/api/organizations/{org}/projects/",
            body: None,
            scope: "project:read",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                // PostHog filters the list: an empty page, not an error.
                _ => OK,
            },
        },
        Row {
            method: "POST",
            pattern: "/api/organizations/{organization_id}/projects",
            path: "/api/organizations/{org}/projects/",
            body: Some(|| json!({"name": format!("New {}", uuid::Uuid::new_v4())})),
            scope: "project:write",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                ReadOnly => WRITE_SCOPE_PROJECT,
                NonMember => (404, "Organization not found."),
                Member | HiddenMember | ProjectAdmin => (
                    403,
                    "You need to be an organization admin or above to create new projects.",
                ),
                _ => (201, ""),
            },
        },
        Row {
            method: "GET",
            pattern: "/api/organizations/{organization_id}/projects/{id}",
            path: "/api/organizations/{org}/projects/{project}/",
            body: None,
            scope: "project:read",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                NonMember => NOT_FOUND,
                HiddenMember => NOT_FOUND,
                _ => OK,
            },
        },
        Row {
            method: "PATCH",
            pattern: "/api/organizations/{organization_id}/projects/{id}",
            path: "/api/organizations/{org}/projects/{project}/",
            body: Some(timezone),
            scope: "project:write",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ReadOnly => WRITE_SCOPE_PROJECT,
                NonMember => NOT_FOUND,
                HiddenMember => NOT_FOUND,
                Member => TIMEZONE_GATE,
                // Admin on the project by its rules: admin-only settings pass.
                _ => OK,
            },
        },
        Row {
            method: "PUT",
            pattern: "/api/organizations/{organization_id}/projects/{id}",
            path: "/api/organizations/{org}/projects/{project}/",
            body: Some(timezone),
            scope: "project:write",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ReadOnly => WRITE_SCOPE_PROJECT,
                NonMember => NOT_FOUND,
                HiddenMember => NOT_FOUND,
                Member => TIMEZONE_GATE,
                // Admin on the project by its rules: admin-only settings pass.
                _ => OK,
            },
        },
        Row {
            method: "DELETE",
            pattern: "/api/organizations/{organization_id}/projects/{id}",
            path: "/api/organizations/{org}/projects/{fresh_project}/",
            body: None,
            scope: "project:write",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ReadOnly => WRITE_SCOPE_PROJECT,
                // Limited to `{project}`: another project of the organization is refused.
                ProjectKey => (
                    403,
                    "API key does not have access to the requested project: ID {fresh_project}.",
                ),
                NonMember => NOT_FOUND,
                HiddenMember => NOT_FOUND,
                Member => (403, "You don't have sufficient permissions in the project."),
                // Admin on the project by its rules: may delete it.
                _ => (204, ""),
            },
        },
        Row {
            method: "GET",
            pattern: "/api/organizations/{organization_id}/projects/{id}/activity",
            path: "/api/organizations/{org}/projects/{project}/activity/",
            body: None,
            scope: "project:read",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                NonMember => NOT_FOUND,
                HiddenMember => NOT_FOUND,
                _ => OK,
            },
        },
        Row {
            method: "GET",
            pattern: "/api/organizations/{organization_id}/projects/{id}/access_controls",
            path: "/api/organizations/{org}/projects/{project}/access_controls/",
            body: None,
            scope: "access_control:read",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                NonMember => NOT_FOUND,
                HiddenMember => NOT_FOUND,
                _ => OK,
            },
        },
        Row {
            method: "PUT",
            pattern: "/api/organizations/{organization_id}/projects/{id}/access_controls",
            path: "/api/organizations/{org}/projects/{project}/access_controls/",
            // The default rule at `member`: what a project without rules gives.
            body: Some(|| json!({"access_level": "member"})),
            scope: "access_control:write",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ReadOnly => (403, "API key missing required scope 'access_control:write'"),
                NonMember => NOT_FOUND,
                HiddenMember => NOT_FOUND,
                Member => (403, "Must be admin to modify project permissions."),
                _ => OK,
            },
        },
        Row {
            method: "GET",
            pattern: "/api/organizations/{organization_id}/projects/{id}/users_with_access",
            path: "/api/organizations/{org}/projects/{project}/users_with_access/",
            body: None,
            scope: "access_control:read",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                NonMember => NOT_FOUND,
                HiddenMember => NOT_FOUND,
                _ => OK,
            },
        },
        Row {
            method: "GET",
            pattern: "/api/organizations/{organization_id}/legal_documents",
            path: "/api/organizations/{org}/legal_documents/",
            body: None,
            scope: "legal_document:read",
            expect: legal_documents,
        },
        Row {
            method: "POST",
            pattern: "/api/organizations/{organization_id}/legal_documents",
            path: "/api/organizations/{org}/legal_documents/",
            body: Some(next_legal_document),
            scope: "legal_document:write",
            expect: |a| match a {
                ReadOnly => (403, "API key missing required scope 'legal_document:write'"),
                Admin | Owner => (201, ""),
                a => legal_documents(a),
            },
        },
        // After the POST row: `{legal_document}` is one the admin or owner made.
        Row {
            method: "GET",
            pattern: "/api/organizations/{organization_id}/legal_documents/{id}",
            path: "/api/organizations/{org}/legal_documents/{legal_document}/",
            body: None,
            scope: "legal_document:read",
            expect: legal_documents,
        },
        Row {
            method: "GET",
            pattern: "/api/organizations/{organization_id}/oauth_applications",
            path: "/api/organizations/{org}/oauth_applications/",
            body: None,
            scope: "organization:read",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                NonMember => GENERIC_403,
                _ => OK,
            },
        },
        Row {
            method: "GET",
            pattern: "/api/projects",
            path: "/api/projects/",
            body: None,
            scope: "project:read",
            expect: |a| match a {
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                // Narrowed to the key's organizations, or the caller's own.
                _ => OK,
            },
        },
        Row {
            method: "POST",
            pattern: "/api/projects",
            path: "/api/projects/",
            body: Some(|| json!({"name": format!("Root {}", uuid::Uuid::new_v4())})),
            scope: "project:write",
            expect: |a| match a {
                // Into the caller's current organization: `{org}` for its members.
                OtherOrgKey => ORG_KEY,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                ReadOnly => WRITE_SCOPE_PROJECT,
                Member | HiddenMember | ProjectAdmin => (
                    403,
                    "You need to be an organization admin or above to create new projects.",
                ),
                // The outsider creates in their own organization.
                _ => (201, ""),
            },
        },
        Row {
            method: "GET",
            pattern: "/api/projects/{id}",
            path: "/api/projects/{project}/",
            body: None,
            scope: "project:read",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                NonMember => NOT_FOUND,
                HiddenMember => NOT_FOUND,
                _ => OK,
            },
        },
        Row {
            method: "PATCH",
            pattern: "/api/projects/{id}",
            path: "/api/projects/{project}/",
            body: Some(timezone),
            scope: "project:write",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ReadOnly => WRITE_SCOPE_PROJECT,
                NonMember => NOT_FOUND,
                HiddenMember => NOT_FOUND,
                Member => TIMEZONE_GATE,
                // Admin on the project by its rules: admin-only settings pass.
                _ => OK,
            },
        },
        Row {
            method: "PUT",
            pattern: "/api/projects/{id}",
            path: "/api/projects/{project}/",
            body: Some(timezone),
            scope: "project:write",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ReadOnly => WRITE_SCOPE_PROJECT,
                NonMember => NOT_FOUND,
                HiddenMember => NOT_FOUND,
                Member => TIMEZONE_GATE,
                // Admin on the project by its rules: admin-only settings pass.
                _ => OK,
            },
        },
        Row {
            method: "DELETE",
            pattern: "/api/projects/{id}",
            path: "/api/projects/{fresh_project}/",
            body: None,
            scope: "project:write",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ReadOnly => WRITE_SCOPE_PROJECT,
                ProjectKey => (
                    403,
                    "API key does not have access to the requested project: ID {fresh_project}.",
                ),
                NonMember => NOT_FOUND,
                HiddenMember => NOT_FOUND,
                Member => (403, "You don't have sufficient permissions in the project."),
                // Admin on the project by its rules: may delete it.
                _ => (204, ""),
            },
        },
        Row {
            method: "GET",
            pattern: "/api/projects/{id}/activity",
            path: "/api/projects/{project}/activity/",
            body: None,
            scope: "project:read",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                NonMember => NOT_FOUND,
                HiddenMember => NOT_FOUND,
                _ => OK,
            },
        },
        Row {
            method: "GET",
            pattern: "/api/projects/{id}/access_controls",
            path: "/api/projects/{project}/access_controls/",
            body: None,
            scope: "access_control:read",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                NonMember => NOT_FOUND,
                HiddenMember => NOT_FOUND,
                _ => OK,
            },
        },
        Row {
            method: "PUT",
            pattern: "/api/projects/{id}/access_controls",
            path: "/api/projects/{project}/access_controls/",
            // The default rule at `member`: what a project without rules gives.
            body: Some(|| json!({"access_level": "member"})),
            scope: "access_control:write",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ReadOnly => (403, "API key missing required scope 'access_control:write'"),
                NonMember => NOT_FOUND,
                HiddenMember => NOT_FOUND,
                Member => (403, "Must be admin to modify project permissions."),
                _ => OK,
            },
        },
        Row {
            method: "GET",
            pattern: "/api/projects/{id}/users_with_access",
            path: "/api/projects/{project}/users_with_access/",
            body: None,
            scope: "access_control:read",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                NonMember => NOT_FOUND,
                HiddenMember => NOT_FOUND,
                _ => OK,
            },
        },
        Row {
            method: "GET",
            pattern: "/api/users/{uuid}",
            path: "/api/users/@me/",
            body: None,
            scope: "user:read",
            // The caller's own account: key restrictions do not apply.
            expect: |_| OK,
        },
        Row {
            method: "PATCH",
            pattern: "/api/users/{uuid}",
            path: "/api/users/@me/",
            body: Some(|| json!({"first_name": "Matrix"})),
            scope: "user:write",
            expect: |a| match a {
                ReadOnly => (403, "API key missing required scope 'user:write'"),
                _ => OK,
            },
        },
        Row {
            method: "PUT",
            pattern: "/api/users/{uuid}",
            path: "/api/users/@me/",
            body: Some(|| json!({"last_name": "Matrix"})),
            scope: "user:write",
            expect: |a| match a {
                ReadOnly => (403, "API key missing required scope 'user:write'"),
                _ => OK,
            },
        },
        Row {
            method: "GET",
            pattern: "/api/personal_api_keys/{id}",
            path: "/api/personal_api_keys/@current/",
            body: None,
            scope: "",
            // A key may always read itself.
            expect: |_| OK,
        },
        Row {
            method: "GET",
            pattern: "/api/personal_api_keys",
            path: "/api/personal_api_keys/",
            body: None,
            scope: "",
            expect: |_| KEY_REFUSED,
        },
        Row {
            method: "POST",
            pattern: "/api/personal_api_keys",
            path: "/api/personal_api_keys/",
            body: Some(|| json!({"label": "x", "scopes": ["*"]})),
            scope: "",
            expect: |_| KEY_REFUSED,
        },
        Row {
            method: "PATCH",
            pattern: "/api/personal_api_keys/{id}",
            path: "/api/personal_api_keys/@current/",
            body: Some(|| json!({"label": "x"})),
            scope: "",
            expect: |_| KEY_REFUSED,
        },
        Row {
            method: "PUT",
            pattern: "/api/personal_api_keys/{id}",
            path: "/api/personal_api_keys/@current/",
            body: Some(|| json!({"label": "x"})),
            scope: "",
            expect: |_| KEY_REFUSED,
        },
        Row {
            method: "DELETE",
            pattern: "/api/personal_api_keys/{id}",
            path: "/api/personal_api_keys/@current/",
            body: None,
            scope: "",
            expect: |_| KEY_REFUSED,
        },
        Row {
            method: "POST",
            pattern: "/api/personal_api_keys/{id}/roll",
            path: "/api/personal_api_keys/@current/roll/",
            body: None,
            scope: "",
            expect: |_| KEY_REFUSED,
        },
        Row {
            method: "GET",
            pattern: "/api/organizations",
            path: "/api/organizations/",
            body: None,
            scope: "organization:read",
            expect: |a| match a {
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                _ => OK,
            },
        },
        Row {
            method: "GET",
            pattern: "/api/organizations/{organization_id}",
            path: "/api/organizations/{org}/",
            body: None,
            scope: "organization:read",
            expect: |a| match a {
                // Looked up among the key's organizations (PostHog's newest).
                OtherOrgKey => NOT_FOUND,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                NonMember => NOT_FOUND,
                _ => OK,
            },
        },
        Row {
            method: "PATCH",
            pattern: "/api/organizations/{organization_id}",
            path: "/api/organizations/{org}/",
            body: Some(|| json!({"enforce_2fa": false})),
            scope: "organization:write",
            expect: |a| match a {
                OtherOrgKey => NOT_FOUND,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                ReadOnly => WRITE_SCOPE_ORGANIZATION,
                NonMember => NOT_FOUND,
                Member | HiddenMember | ProjectAdmin => INSUFFICIENT,
                _ => OK,
            },
        },
        Row {
            method: "PUT",
            pattern: "/api/organizations/{organization_id}",
            path: "/api/organizations/{org}/",
            body: Some(|| json!({"members_can_invite": true})),
            scope: "organization:write",
            expect: |a| match a {
                OtherOrgKey => NOT_FOUND,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                ReadOnly => WRITE_SCOPE_ORGANIZATION,
                NonMember => NOT_FOUND,
                Member | HiddenMember | ProjectAdmin => INSUFFICIENT,
                _ => OK,
            },
        },
        Row {
            method: "DELETE",
            pattern: "/api/organizations/{organization_id}",
            path: "/api/organizations/{fresh_org}/",
            body: None,
            scope: "organization:write",
            expect: |a| match a {
                OtherOrgKey => NOT_FOUND,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                ReadOnly => WRITE_SCOPE_ORGANIZATION,
                NonMember => NOT_FOUND,
                Member | HiddenMember | ProjectAdmin | Admin => INSUFFICIENT,
                _ => (204, ""),
            },
        },
        // Last: a new organization becomes its creator's current one.
        Row {
            method: "POST",
            pattern: "/api/organizations",
            path: "/api/organizations/",
            body: Some(|| json!({"name": "Matrix"})),
            scope: "organization:write",
            expect: |a| match a {
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                ReadOnly => WRITE_SCOPE_ORGANIZATION,
                _ => (201, ""),
            },
        },
        Row {
            method: "GET",
            pattern: "/api/organizations/{organization_id}/invites",
            path: "/api/organizations/{org}/invites/",
            body: None,
            scope: "organization_member:read",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                NonMember => GENERIC_403,
                _ => OK,
            },
        },
        Row {
            method: "POST",
            pattern: "/api/organizations/{organization_id}/invites",
            path: "/api/organizations/{org}/invites/",
            body: Some(|| json!({"target_email": format!("{}@example.com", uuid::Uuid::new_v4())})),
            scope: "organization_member:write",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                ReadOnly => WRITE_SCOPE_MEMBERS,
                NonMember => GENERIC_403,
                _ => (201, ""),
            },
        },
        Row {
            method: "POST",
            pattern: "/api/organizations/{organization_id}/invites/bulk",
            path: "/api/organizations/{org}/invites/bulk/",
            body: Some(
                || json!([{"target_email": format!("{}@example.com", uuid::Uuid::new_v4())}]),
            ),
            scope: "organization_member:write",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                ReadOnly => WRITE_SCOPE_MEMBERS,
                NonMember => GENERIC_403,
                _ => (201, ""),
            },
        },
        Row {
            method: "DELETE",
            pattern: "/api/organizations/{organization_id}/invites/{id}",
            path: "/api/organizations/{org}/invites/{fresh_invite}/",
            body: None,
            scope: "organization_member:write",
            // PostHog judges the person before the key here: a member's
            // read-only key meets the level check first.
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                ReadOnly | Member | HiddenMember | ProjectAdmin => INVITE_DELETE_LEVEL,
                NonMember => GENERIC_403,
                _ => (204, ""),
            },
        },
        Row {
            method: "GET",
            pattern: "/api/organizations/{organization_id}/members",
            path: "/api/organizations/{org}/members/",
            body: None,
            scope: "organization_member:read",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                NonMember => GENERIC_403,
                _ => OK,
            },
        },
        Row {
            method: "PATCH",
            pattern: "/api/organizations/{organization_id}/members/{user__uuid}",
            path: "/api/organizations/{org}/members/{fresh_member}/",
            body: Some(|| json!({"level": 8})),
            scope: "organization_member:write",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                ReadOnly => WRITE_SCOPE_MEMBER,
                NonMember => GENERIC_403,
                Member | HiddenMember | ProjectAdmin => MEMBER_EDITS_OTHERS,
                _ => OK,
            },
        },
        Row {
            method: "PUT",
            pattern: "/api/organizations/{organization_id}/members/{user__uuid}",
            path: "/api/organizations/{org}/members/{fresh_member}/",
            body: Some(|| json!({"level": 8})),
            scope: "organization_member:write",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                ReadOnly => WRITE_SCOPE_MEMBER,
                NonMember => GENERIC_403,
                Member | HiddenMember | ProjectAdmin => MEMBER_EDITS_OTHERS,
                _ => OK,
            },
        },
        Row {
            method: "DELETE",
            pattern: "/api/organizations/{organization_id}/members/{user__uuid}",
            path: "/api/organizations/{org}/members/{fresh_member}/",
            body: None,
            scope: "organization_member:write",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                ReadOnly => WRITE_SCOPE_MEMBER,
                NonMember => GENERIC_403,
                Member | HiddenMember | ProjectAdmin => MEMBER_EDITS_OTHERS,
                _ => (204, ""),
            },
        },
        Row {
            method: "GET",
            pattern: "/api/organizations/{organization_id}/members/{user__uuid}/scoped_api_keys",
            path: "/api/organizations/{org}/members/{member_uuid}/scoped_api_keys/",
            body: None,
            // PostHog refuses keys here; prickle serves them (decisions.md).
            scope: "organization_member:read",
            expect: |a| match a {
                OtherOrgKey => ORG_KEY,
                ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
                NonMember => GENERIC_403,
                _ => OK,
            },
        },
        Row {
            method: "GET",
            pattern: "/api/organizations/{organization_id}/roles",
            path: "/api/organizations/{org}/roles/",
            body: None,
            scope: "organization:read",
            expect: role_read,
        },
        Row {
            method: "POST",
            pattern: "/api/organizations/{organization_id}/roles",
            path: "/api/organizations/{org}/roles/",
            body: Some(|| json!({"name": format!("Role {}", uuid::Uuid::new_v4())})),
            scope: "organization:write",
            expect: |a| role_write(a, (201, "")),
        },
        Row {
            method: "GET",
            pattern: "/api/organizations/{organization_id}/roles/{id}",
            path: "/api/organizations/{org}/roles/{role}/",
            body: None,
            scope: "organization:read",
            expect: role_read,
        },
        Row {
            method: "PATCH",
            pattern: "/api/organizations/{organization_id}/roles/{id}",
            path: "/api/organizations/{org}/roles/{fresh_role}/",
            body: Some(|| json!({"name": format!("Renamed {}", uuid::Uuid::new_v4())})),
            scope: "organization:write",
            expect: |a| role_write(a, OK),
        },
        Row {
            method: "PUT",
            pattern: "/api/organizations/{organization_id}/roles/{id}",
            path: "/api/organizations/{org}/roles/{fresh_role}/",
            body: Some(|| json!({"name": format!("Renamed {}", uuid::Uuid::new_v4())})),
            scope: "organization:write",
            expect: |a| role_write(a, OK),
        },
        Row {
            method: "DELETE",
            pattern: "/api/organizations/{organization_id}/roles/{id}",
            path: "/api/organizations/{org}/roles/{fresh_role}/",
            body: None,
            scope: "organization:write",
            expect: |a| role_write(a, (204, "")),
        },
        Row {
            method: "GET",
            pattern: "/api/organizations/{organization_id}/roles/{role_id}/role_memberships",
            path: "/api/organizations/{org}/roles/{role}/role_memberships/",
            body: None,
            scope: "organization:read",
            expect: role_read,
        },
        Row {
            method: "POST",
            pattern: "/api/organizations/{organization_id}/roles/{role_id}/role_memberships",
            path: "/api/organizations/{org}/roles/{fresh_role}/role_memberships/",
            // Placeholders in a body's strings are filled as the path's.
            body: Some(|| json!({"user_uuid": "{member_uuid}"})),
            scope: "organization:write",
            expect: |a| role_write(a, (201, "")),
        },
        Row {
            method: "GET",
            pattern: "/api/organizations/{organization_id}/roles/{role_id}/role_memberships/{id}",
            path: "/api/organizations/{org}/roles/{role}/role_memberships/{role_membership}/",
            body: None,
            scope: "organization:read",
            expect: role_read,
        },
        Row {
            method: "DELETE",
            pattern: "/api/organizations/{organization_id}/roles/{role_id}/role_memberships/{id}",
            path: "/api/organizations/{org}/roles/{role}/role_memberships/{fresh_role_membership}/",
            body: None,
            scope: "organization:write",
            expect: |a| role_write(a, (204, "")),
        },
    ]
}

/// Roles: any member reads (PostHog's organization routes refuse others).
fn role_read(a: Actor) -> (u16, &'static str) {
    match a {
        Actor::OtherOrgKey => ORG_KEY,
        Actor::ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
        Actor::NonMember => GENERIC_403,
        _ => OK,
    }
}

/// Roles: admins and owners write; the member is refused before the body.
fn role_write(a: Actor, done: (u16, &'static str)) -> (u16, &'static str) {
    match a {
        Actor::ReadOnly => WRITE_SCOPE_ORGANIZATION,
        Actor::Member | Actor::HiddenMember | Actor::ProjectAdmin => INSUFFICIENT,
        _ => match role_read(a) {
            OK => done,
            refused => refused,
        },
    }
}

/// Legal documents are for admins and owners only, reads included.
fn legal_documents(a: Actor) -> (u16, &'static str) {
    match a {
        Actor::OtherOrgKey => ORG_KEY,
        Actor::ProjectKey => PROJECT_KEY_ON_ORG_ROUTE,
        Actor::NonMember => GENERIC_403,
        // The read-only key is a member's.
        Actor::Member | Actor::HiddenMember | Actor::ProjectAdmin | Actor::ReadOnly => {
            (403, "Your organization access level is insufficient.")
        }
        _ => OK,
    }
}

/// An organization holds one document of each type, and two callers (admin,
/// then owner) reach the create: consecutive calls alternate the type.
fn next_legal_document() -> Value {
    use std::sync::atomic::{AtomicUsize, Ordering};
    static CALLS: AtomicUsize = AtomicUsize::new(0);
    let document_type = ["DPA", "BAA"][CALLS.fetch_add(1, Ordering::Relaxed) % 2];
    json!({
        "document_type": document_type,
        "company_name": "Acme, Inc.",
        "company_address": "1 Main St",
        "representative_name": "Ada Lovelace",
        "representative_title": "CEO",
        "representative_email": "ada@acme.example",
        "dpa_mode": "pretty",
    })
}

const WRITE_SCOPE_MEMBERS: (u16, &str) = (
    403,
    "API key missing required scope 'organization_member:write'",
);
const INVITE_DELETE_LEVEL: (u16, &str) = (403, "Your organization access level is insufficient.");

/// Routes where PostHog checks the person before the key, so the member's
/// key without the route's scope (the `NoScope` actor) meets the person's
/// refusal first: (method, pattern, status, detail).
const PERSON_BEFORE_KEY: &[(&str, &str, u16, &str)] = &[(
    "DELETE",
    "/api/organizations/{organization_id}/invites/{id}",
    INVITE_DELETE_LEVEL.0,
    INVITE_DELETE_LEVEL.1,
)];

/// Routes that need no credentials, and what they answer.
const PUBLIC: &[(&str, &str)] = &[
    ("GET", "/_health"),
    // Readiness, for load balancers and orchestrators (tests/api/readiness.rs).
    ("GET", "/_ready"),
    // Prometheus metrics, for operators (tests/api/metrics.rs); not in the
    // API document.
    ("GET", "/metrics"),
    // The signing service's webhook: the document's secret is the credential
    // (tests/api/legal_documents.rs).
    ("POST", "/api/legal_documents/signed"),
    // Invite previews and sign-ups: the invite id with its sign-up token is the
    // credential (tests/api/hostile/signup.rs).
    ("GET", "/api/signup/{invite_id}"),
    ("POST", "/api/signup/{invite_id}"),
    // Logging in and out: the email and password, or the session, are the
    // credential (tests/api/sessions.rs).
    ("POST", "/api/login"),
    ("POST", "/api/logout"),
    ("GET", "/logout"),
    // The API schema and its documentation pages.
    ("GET", "/api/schema"),
    ("GET", "/api/schema/swagger-ui"),
    ("GET", "/api/schema/swagger-ui/{file}"),
    ("GET", "/api/schema/redoc"),
    ("GET", "/api/schema/redoc/{file}"),
];

#[test]
fn every_served_route_has_a_row() {
    let served: BTreeSet<(String, String)> = prickle::api::endpoints()
        .iter()
        .map(|e| (e.method.to_string(), e.path.to_string()))
        .collect();
    let mut table: BTreeSet<(String, String)> = BTreeSet::new();
    for row in rows() {
        let new = table.insert((row.method.to_string(), row.pattern.to_string()));
        assert!(new, "two rows for {} {}", row.method, row.pattern);
    }
    for (m, p) in PUBLIC {
        table.insert((m.to_string(), p.to_string()));
    }
    let unlisted: Vec<_> = served.difference(&table).collect();
    let unserved: Vec<_> = table.difference(&served).collect();
    assert!(unlisted.is_empty(), "served without a row: {unlisted:?}");
    assert!(
        unserved.is_empty(),
        "rows for routes not served: {unserved:?}"
    );
    // Public means public on purpose: every other route requires a key.
    for e in prickle::api::endpoints() {
        let public = matches!(e.access, prickle::http::Access::Public);
        let listed = PUBLIC.contains(&(e.method.as_str(), e.path));
        assert_eq!(public, listed, "{} {}", e.method, e.path);
    }
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// Routes reach the router only through `http::Routes`: no other file
/// builds an axum router or adds a route to one.
#[test]
fn routes_are_only_served_through_declarations() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = Vec::new();
    rust_files(&root.join("src"), &mut files);
    assert!(files.len() > 10);
    let allowed = root.join("src/http/routes.rs");
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        if file == allowed {
            continue;
        }
        for needle in [
            "Router::new",
            ".route(",
            ".route_service(",
            ".nest(",
            ".nest_service(",
        ] {
            assert!(
                !text.contains(needle),
                "{} uses `{needle}`: declare routes through http::Routes",
                file.display()
            );
        }
    }
}

/// Every statement lives in a store (`<resource>/store.rs`, or `store/`
/// beneath it) or in `storage/` itself: handlers, rules, payloads and the
/// admin commands call stores, never SQL of their own.
#[test]
fn statements_are_only_built_in_stores() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    for file in files {
        let rel = file
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .replace('\\', "/");
        let in_store =
            rel.ends_with("/store.rs") || rel.contains("/store/") || rel.starts_with("storage/");
        if in_store {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        for needle in [
            "Query::select",
            "Query::insert",
            "Query::update",
            "Query::delete",
            "tx.execute(",
            "tx.query(",
        ] {
            assert!(
                !text.contains(needle),
                "src/{rel} builds or runs SQL (`{needle}`): it belongs in a store.rs"
            );
        }
    }
}

/// The actors' keys and the fixtures the placeholders name.
struct Fixture {
    w: World,
    keep: i64,
    /// The member actor's user uuid.
    member_uuid: String,
    other_org_key: String,
    hidden_member: String,
    project_admin: String,
    project_key: String,
    /// Keys by scope string, made once.
    scoped: BTreeMap<String, String>,
}

impl Fixture {
    async fn new() -> Fixture {
        let w = World::new().await;
        prickle::admin::add_member(&w.app.db, &w.other_org, "owner@example.com", 1)
            .await
            .unwrap();
        let other_org_key = w
            .app
            .key_with(
                "owner@example.com",
                &["*"],
                Some(vec![w.other_org.clone()]),
                None,
            )
            .await;
        let keep = w.create_project("Kept").await["id"].as_i64().unwrap();
        let project_key = w
            .app
            .key_with("owner@example.com", &["*"], None, Some(vec![keep]))
            .await;
        let mut hidden = None;
        let mut project_admin = None;
        for (email, level, key) in [
            ("hidden@example.com", "none", &mut hidden),
            ("padmin@example.com", "admin", &mut project_admin),
        ] {
            w.app.add_member(&w.org, email, 1).await;
            *key = Some(w.app.key(email, &["*"]).await);
            let m = crate::access_control::membership_id(&w.app, &w.org, email).await;
            crate::access_control::rule(&w.app, &w.org, keep, Some(&m), level).await;
        }
        let member_uuid = w
            .app
            .call(
                "GET",
                &format!(
                    "/api/organizations/{}/members/?email=member@example.com",
                    w.org
                ),
                Some(&w.owner),
                None,
            )
            .await
            .body["results"][0]["user"]["uuid"]
            .as_str()
            .expect("the member's uuid")
            .to_string();
        Fixture {
            w,
            keep,
            member_uuid,
            other_org_key,
            hidden_member: hidden.unwrap(),
            project_admin: project_admin.unwrap(),
            project_key,
            scoped: BTreeMap::new(),
        }
    }

    /// A member's key carrying exactly `scopes`.
    async fn member_key(&mut self, scopes: &[&str]) -> String {
        let name = scopes.join(",");
        if let Some(k) = self.scoped.get(&name) {
            return k.clone();
        }
        let k = self.w.app.key("member@example.com", scopes).await;
        self.scoped.insert(name, k.clone());
        k
    }

    /// A legal document of the organization: the first listed, else a new DPA.
    async fn legal_document(&self) -> String {
        let path = format!("/api/organizations/{}/legal_documents/", self.w.org);
        let listed = self
            .w
            .app
            .call("GET", &path, Some(&self.w.owner), None)
            .await;
        if let Some(id) = listed.body["results"][0]["id"].as_str() {
            return id.to_string();
        }
        let made = self
            .w
            .app
            .call(
                "POST",
                &path,
                Some(&self.w.owner),
                Some(next_legal_document()),
            )
            .await;
        made.body["id"]
            .as_str()
            .expect("a legal document")
            .to_string()
    }

    /// The role that stays (`{role}`), made on first use with the member
    /// actor in it: its id and the member's role membership id.
    async fn role(&self) -> (String, String) {
        let path = format!("/api/organizations/{}/roles/", self.w.org);
        let owner = Some(self.w.owner.as_str());
        let listed = self.w.app.call("GET", &path, owner, None).await;
        let kept = listed.body["results"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == "Kept role")
            .cloned();
        let role = match kept {
            Some(role) => role,
            None => {
                let mut made = self
                    .w
                    .app
                    .call("POST", &path, owner, Some(json!({"name": "Kept role"})))
                    .await;
                assert_eq!(made.status, StatusCode::CREATED, "{}", made.body);
                let id = made.body["id"].as_str().unwrap();
                let added = self
                    .w
                    .app
                    .call(
                        "POST",
                        &format!("{path}{id}/role_memberships/"),
                        owner,
                        Some(json!({"user_uuid": self.member_uuid})),
                    )
                    .await;
                assert_eq!(added.status, StatusCode::CREATED, "{}", added.body);
                made.body["members"] = json!([added.body]);
                made.body
            }
        };
        let holder = role["members"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["user"]["uuid"] == self.member_uuid.as_str())
            .expect("the member holds the kept role");
        (
            role["id"].as_str().unwrap().to_string(),
            holder["id"].as_str().unwrap().to_string(),
        )
    }

    /// The `HiddenMember` and `ProjectAdmin` actors' rules on a project.
    async fn project_rules(&self, project: i64) {
        let app = &self.w.app;
        for (email, level) in [
            ("hidden@example.com", "none"),
            ("padmin@example.com", "admin"),
        ] {
            let m = crate::access_control::membership_id(app, &self.w.org, email).await;
            crate::access_control::rule(app, &self.w.org, project, Some(&m), level).await;
        }
    }

    /// Fills the placeholders, making fresh fixtures as needed.
    async fn fill(&self, template: &str, vars: &mut BTreeMap<&'static str, String>) -> String {
        if template.contains("{fresh_project}") && !vars.contains_key("fresh_project") {
            let id = self
                .w
                .create_project(&format!("Doomed {}", uuid::Uuid::new_v4()))
                .await["id"]
                .as_i64()
                .unwrap();
            self.project_rules(id).await;
            vars.insert("fresh_project", id.to_string());
        }
        if template.contains("{legal_document}") && !vars.contains_key("legal_document") {
            vars.insert("legal_document", self.legal_document().await);
        }
        if template.contains("{fresh_org}") && !vars.contains_key("fresh_org") {
            let db = &self.w.app.db;
            let org = prickle::admin::create_organization(db, "Doomed", "owner@example.com")
                .await
                .unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string();
            for (email, level) in [
                ("admin@example.com", 8),
                ("member@example.com", 1),
                ("hidden@example.com", 1),
                ("padmin@example.com", 1),
            ] {
                prickle::admin::add_member(db, &org, email, level)
                    .await
                    .unwrap();
            }
            vars.insert("fresh_org", org);
        }
        if template.contains("{fresh_invite}") && !vars.contains_key("fresh_invite") {
            let r = self
                .w
                .app
                .call(
                    "POST",
                    &format!("/api/organizations/{}/invites/", self.w.org),
                    Some(&self.w.owner),
                    Some(json!({"target_email": format!("{}@example.com", uuid::Uuid::new_v4())})),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            vars.insert("fresh_invite", r.body["id"].as_str().unwrap().to_string());
        }
        if template.contains("{fresh_member}") && !vars.contains_key("fresh_member") {
            let email = format!("fresh-{}@example.com", uuid::Uuid::new_v4());
            let user = prickle::admin::create_user(&self.w.app.db, &email, "Fresh", "", None)
                .await
                .unwrap();
            prickle::admin::add_member(&self.w.app.db, &self.w.org, &email, 1)
                .await
                .unwrap();
            vars.insert("fresh_member", user["uuid"].as_str().unwrap().to_string());
        }
        let wants_role = ["{role}", "{role_membership}", "{fresh_role_membership}"]
            .iter()
            .any(|p| template.contains(p));
        if wants_role && !vars.contains_key("role") {
            let (role, holder) = self.role().await;
            vars.insert("role", role);
            vars.insert("role_membership", holder);
        }
        if template.contains("{fresh_role}") && !vars.contains_key("fresh_role") {
            let r = self
                .w
                .app
                .call(
                    "POST",
                    &format!("/api/organizations/{}/roles/", self.w.org),
                    Some(&self.w.owner),
                    Some(json!({"name": format!("Doomed {}", uuid::Uuid::new_v4())})),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            vars.insert("fresh_role", r.body["id"].as_str().unwrap().to_string());
        }
        if template.contains("{fresh_role_membership}")
            && !vars.contains_key("fresh_role_membership")
        {
            let email = format!("held-{}@example.com", uuid::Uuid::new_v4());
            let user = prickle::admin::create_user(&self.w.app.db, &email, "Held", "", None)
                .await
                .unwrap();
            prickle::admin::add_member(&self.w.app.db, &self.w.org, &email, 1)
                .await
                .unwrap();
            let r = self
                .w
                .app
                .call(
                    "POST",
                    &format!(
                        "/api/organizations/{}/roles/{}/role_memberships/",
                        self.w.org, vars["role"]
                    ),
                    Some(&self.w.owner),
                    Some(json!({"user_uuid": user["uuid"]})),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
            vars.insert(
                "fresh_role_membership",
                r.body["id"].as_str().unwrap().to_string(),
            );
        }
        let mut out = template
            .replace("{org}", &self.w.org)
            .replace("{member_uuid}", &self.member_uuid)
            .replace("{other_org}", &self.w.other_org)
            .replace("{project}", &self.keep.to_string());
        for (k, v) in vars.iter() {
            out = out.replace(&format!("{{{k}}}"), v);
        }
        out
    }
}

#[tokio::test]
async fn every_route_for_every_caller() {
    let mut f = Fixture::new().await;
    let mut checked = 0;
    for row in rows() {
        let object = row.scope.split(':').next().unwrap();
        let no_scope = match object {
            "organization" => f.member_key(&["user:read"]).await,
            "user" => f.member_key(&["organization:read"]).await,
            _ => f.member_key(&["organization:read", "user:write"]).await,
        };
        // Routes any key may call (no scope declared) get keys of both kinds too.
        let read_only = match object {
            "" => f.member_key(&["user:read"]).await,
            _ => f.member_key(&[&format!("{object}:read")]).await,
        };
        for actor in ACTORS {
            let key: Option<String> = match actor {
                Actor::NoKey => None,
                Actor::InvalidKey => Some("phx_not_a_real_key_0123456789abcdefghijklmnop".into()),
                Actor::NoScope => Some(no_scope.clone()),
                Actor::ReadOnly => Some(read_only.clone()),
                Actor::OtherOrgKey => Some(f.other_org_key.clone()),
                Actor::ProjectKey => Some(f.project_key.clone()),
                Actor::NonMember => Some(f.w.outsider.clone()),
                Actor::Member => Some(f.w.member.clone()),
                Actor::HiddenMember => Some(f.hidden_member.clone()),
                Actor::ProjectAdmin => Some(f.project_admin.clone()),
                Actor::Admin => Some(f.w.admin.clone()),
                Actor::Owner => Some(f.w.owner.clone()),
            };
            let (status, detail): (u16, String) = match actor {
                Actor::NoKey => (401, "Authentication credentials were not provided.".into()),
                Actor::InvalidKey => (
                    401,
                    "Personal API key found in request Authorization header is invalid.".into(),
                ),
                Actor::NoScope if !row.scope.is_empty() => match PERSON_BEFORE_KEY
                    .iter()
                    .find(|(m, p, _, _)| *m == row.method && *p == row.pattern)
                {
                    Some((_, _, status, detail)) => (*status, detail.to_string()),
                    None => (
                        403,
                        format!("API key missing required scope '{}'", row.scope),
                    ),
                },
                _ => {
                    let (s, d) = (row.expect)(actor);
                    (s, d.to_string())
                }
            };
            let mut vars = BTreeMap::new();
            let path = f.fill(row.path, &mut vars).await;
            let detail = f.fill(&detail, &mut vars).await;
            let body = match row.body {
                Some(b) => {
                    let text = f.fill(&b().to_string(), &mut vars).await;
                    Some(serde_json::from_str::<Value>(&text).unwrap())
                }
                None => None,
            };
            let r = f.w.app.call(row.method, &path, key.as_deref(), body).await;
            let what = format!("{actor:?} {} {}", row.method, row.pattern);
            assert_eq!(r.status.as_u16(), status, "{what}: {}", r.body);
            if status >= 400 {
                let kind = if status == 404 {
                    "invalid_request"
                } else {
                    "authentication_error"
                };
                assert_eq!(r.body["type"], kind, "{what}");
                assert_eq!(r.body["detail"], detail.as_str(), "{what}");
                assert_eq!(r.body["attr"], Value::Null, "{what}");
            }
            let listed = r.body.get("count").is_some();
            let in_org = row.pattern.contains("{organization_id}");
            if actor == Actor::NonMember && status == 200 && listed && in_org {
                assert_eq!(
                    r.body["count"], 0,
                    "{what}: a non-member sees an empty page"
                );
            }
            // The hidden project is left out of every project list.
            if actor == Actor::HiddenMember && status == 200 {
                let kept = f.keep;
                for list in [&r.body["results"], &r.body["teams"], &r.body["projects"]] {
                    if let Some(items) = list.as_array() {
                        assert!(
                            items.iter().all(|p| p["id"] != kept),
                            "{what}: lists the hidden project"
                        );
                    }
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, rows().len() * ACTORS.len());
}

#[tokio::test]
async fn credentials_are_read_from_header_then_body_then_query() {
    let w = World::new().await;
    let path = w.projects();
    let by_query = w
        .app
        .call(
            "GET",
            &format!("{path}?personal_api_key={}", w.member),
            None,
            None,
        )
        .await;
    assert_eq!(by_query.status, StatusCode::OK);
    let by_body = w
        .app
        .call(
            "POST",
            &path,
            None,
            Some(json!({"personal_api_key": w.owner, "name": "From body"})),
        )
        .await;
    assert_eq!(by_body.status, StatusCode::CREATED, "{}", by_body.body);
    assert_eq!(by_body.body["name"], "From body");
    let bad_query = w
        .app
        .call(
            "GET",
            &format!("{path}?personal_api_key=phx_nope"),
            None,
            None,
        )
        .await;
    assert_eq!(
        bad_query.error(),
        (
            401,
            "authentication_failed",
            "Personal API key found in request query string is invalid.",
            Value::Null
        )
    );
    let bad_body = w
        .app
        .call(
            "POST",
            &path,
            None,
            Some(json!({"personal_api_key": "phx_nope"})),
        )
        .await;
    assert_eq!(
        bad_body.error().2,
        "Personal API key found in request body is invalid."
    );
    // Extra spaces around the key are tolerated.
    let spaced = w
        .app
        .call("GET", &path, Some(&format!("  {}  ", w.member)), None)
        .await;
    assert_eq!(spaced.status, StatusCode::OK);
    // The header wins: a bad header key is not rescued by a good query key.
    let both = w
        .app
        .call(
            "GET",
            &format!("{path}?personal_api_key={}", w.member),
            Some("phx_nope"),
            None,
        )
        .await;
    assert_eq!(both.status, StatusCode::UNAUTHORIZED);
    // An Authorization header of another scheme decides nothing: the body's key is used.
    let req = axum::http::Request::builder()
        .method("POST")
        .uri(&path)
        .header("authorization", "Basic dXNlcjpwYXNz")
        .header("content-type", "application/json")
        .body(axum::body::Body::from(
            json!({"personal_api_key": w.owner, "name": "Basic and body"}).to_string(),
        ))
        .unwrap();
    let r = w.app.send(req).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
}

#[tokio::test]
async fn no_credentials_carry_the_oauth_challenge() {
    let w = World::new().await;
    let req = axum::http::Request::builder()
        .uri(w.projects())
        .body(axum::body::Body::empty())
        .unwrap();
    let resp = tower::ServiceExt::oneshot(w.app.router.clone(), req)
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        resp.headers()["www-authenticate"],
        "Bearer resource_metadata=\"http://testserver/.well-known/oauth-protected-resource\""
    );
}

/// Runs one UPDATE against the test database.
async fn update(w: &World, stmt: &mut sea_query::UpdateStatement) {
    let mut tx = w.app.db.write().await.unwrap();
    tx.execute(stmt).await.unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn keys_with_no_scopes_or_of_inactive_users_are_refused() {
    use prickle::storage::schema::{PersonalApiKeys as K, Users as U};
    use sea_query::{Expr, ExprTrait, Query};
    let w = World::new().await;
    // PostHog's newest rule: a key whose scope list is empty grants nothing.
    let empty = w.app.key("admin@example.com", &["*"]).await;
    let digest = prickle::auth::keys::secure_value(&empty);
    update(
        &w,
        Query::update()
            .table(K::Table)
            .value(K::Scopes, "[]")
            .and_where(Expr::col(K::SecureValue).eq(digest)),
    )
    .await;
    let r = w.app.call("GET", &w.projects(), Some(&empty), None).await;
    assert_eq!(
        r.error(),
        (
            403,
            "permission_denied",
            "This action does not support personal API key access",
            Value::Null
        )
    );

    let before = w
        .app
        .call("GET", &w.projects(), Some(&w.member), None)
        .await;
    assert_eq!(before.status, StatusCode::OK);
    update(
        &w,
        Query::update()
            .table(U::Table)
            .value(U::IsActive, false)
            .and_where(Expr::col(U::Email).eq("member@example.com")),
    )
    .await;
    let after = w
        .app
        .call("GET", &w.projects(), Some(&w.member), None)
        .await;
    assert_eq!(
        after.error(),
        (
            401,
            "authentication_failed",
            "Personal API key found in request Authorization header is invalid.",
            Value::Null
        )
    );
}

#[tokio::test]
async fn last_used_at_is_set_on_first_use() {
    use prickle::storage::schema::PersonalApiKeys as K;
    use sea_query::{Expr, ExprTrait, Query};
    let w = World::new().await;
    let key = w.app.key("member@example.com", &["project:read"]).await;
    let digest = prickle::auth::keys::secure_value(&key);
    let read = |digest: String| {
        let db = w.app.db.clone();
        async move {
            let mut tx = db.read().await.unwrap();
            let q = Query::select()
                .column(K::LastUsedAt)
                .from(K::Table)
                .and_where(Expr::col(K::SecureValue).eq(digest))
                .to_owned();
            tx.query_opt(&q, |r| r.opt_i64(0)).await.unwrap().unwrap()
        }
    };
    assert_eq!(read(digest.clone()).await, None);
    let r = w.app.call("GET", &w.projects(), Some(&key), None).await;
    assert_eq!(r.status, StatusCode::OK);
    let first = read(digest.clone()).await.expect("set on first use");
    w.app.call("GET", &w.projects(), Some(&key), None).await;
    assert_eq!(
        read(digest).await,
        Some(first),
        "bumped at most once an hour"
    );
}

#[tokio::test]
async fn current_alias_and_trailing_slashes() {
    let w = World::new().await;
    let id = w.create_project("Aliased").await["id"].as_i64().unwrap();
    for path in [
        "/api/organizations/@current/projects/".to_string(),
        "/api/organizations/@current/projects".to_string(),
        format!("/api/organizations/@current/projects/{id}"),
        format!("/api/organizations/@current/projects/{id}/activity"),
        format!("/api/organizations/{}/projects/@current/", w.org),
    ] {
        let r = w.app.call("GET", &path, Some(&w.owner), None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    }
    // The outsider's @current is their own organization, never this one.
    let theirs = w
        .app
        .call(
            "GET",
            "/api/organizations/@current/projects/",
            Some(&w.outsider),
            None,
        )
        .await;
    assert_eq!(theirs.body["count"], 0);
    let cross = w
        .app
        .call(
            "GET",
            &format!("/api/organizations/@current/projects/{id}/"),
            Some(&w.outsider),
            None,
        )
        .await;
    assert_eq!(cross.error(), (404, "not_found", "Not found.", Value::Null));
}

#[tokio::test]
async fn unknown_routes_and_methods() {
    let w = World::new().await;
    let id = w.create_project("Methods").await["id"].as_i64().unwrap();
    let r = w.app.call("GET", "/api/nope/", Some(&w.owner), None).await;
    assert_eq!(r.error(), (404, "not_found", "Not found.", Value::Null));
    assert_eq!(r.body["type"], "invalid_request");
    // A method a route does not map declares no scope: PostHog refuses keys for it.
    for (method, path) in [
        ("PUT", w.projects()),
        ("DELETE", w.projects()),
        ("POST", w.project(id)),
    ] {
        let r = w.app.call(method, &path, Some(&w.owner), None).await;
        assert_eq!(
            r.error(),
            (
                403,
                "permission_denied",
                "This action does not support personal API key access",
                Value::Null
            ),
            "{method} {path}"
        );
    }
    // PATCH on the list route is a write in PostHog's eyes: scope first, then 405.
    let r = w
        .app
        .call("PATCH", &w.projects(), Some(&w.owner), Some(json!({})))
        .await;
    assert_eq!(
        r.error(),
        (
            405,
            "method_not_allowed",
            "Method \"PATCH\" not allowed.",
            Value::Null
        )
    );
    let read_only = w.app.key("owner@example.com", &["project:read"]).await;
    let r = w
        .app
        .call("PATCH", &w.projects(), Some(&read_only), Some(json!({})))
        .await;
    assert_eq!(
        r.error().2,
        "API key missing required scope 'project:write'"
    );
    // Unauthenticated: 401 before anything else.
    let r = w.app.call("DELETE", &w.projects(), None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let r = w.app.call("POST", "/_health", None, None).await;
    assert_eq!(
        r.error(),
        (
            405,
            "method_not_allowed",
            "Method \"POST\" not allowed.",
            Value::Null
        )
    );
}

#[tokio::test]
async fn organizations_that_do_not_exist_or_are_malformed() {
    let w = World::new().await;
    for org in ["0190c0de-0000-7000-8000-000000000099", "not-a-uuid", "1234"] {
        let r = w
            .app
            .call(
                "GET",
                &format!("/api/organizations/{org}/projects/"),
                Some(&w.owner),
                None,
            )
            .await;
        assert_eq!(
            r.error(),
            (404, "not_found", "Organization not found.", Value::Null),
            "{org}"
        );
    }
}

/// A key whose stored restrictions cannot be read is refused, never run
/// unrestricted.
#[tokio::test]
async fn unreadable_key_restrictions_fail_closed() {
    use prickle::storage::schema::PersonalApiKeys as K;
    use sea_query::{Expr, ExprTrait, Query};
    let w = World::new().await;
    let id = w.create_project("Guarded").await["id"].as_i64().unwrap();
    for column in [K::ScopedOrganizations, K::ScopedTeams] {
        let key = w.app.key("owner@example.com", &["*"]).await;
        let digest = prickle::auth::keys::secure_value(&key);
        update(
            &w,
            Query::update()
                .table(K::Table)
                .value(column, "{not a list")
                .and_where(Expr::col(K::SecureValue).eq(digest)),
        )
        .await;
        for path in [w.projects(), w.project(id)] {
            let r = w.app.call("GET", &path, Some(&key), None).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{path}: {}", r.body);
            assert_eq!(
                r.body["detail"],
                "This API key's restrictions could not be read. Roll or recreate the key."
            );
        }
    }
}
