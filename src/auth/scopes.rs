//! Personal API key scopes: the one place that decides whether a key may make
//! a request, before the person behind it is considered.

use std::fmt;

use crate::error::ApiError;
use crate::organizations::{Level, Organization};

/// Every scope object PostHog publishes (`posthog/scopes.py`, internal-only
/// objects excluded). Keys may carry any of them; prickle checks a few.
pub const SCOPE_OBJECTS: &[&str] = &[
    "action",
    "access_control",
    "account",
    "activity_log",
    "alert",
    "annotation",
    "approvals",
    "batch_export",
    "batch_import",
    "batch_import_support",
    "billing",
    "business_knowledge",
    "canvas",
    "cohort",
    "comment",
    "conversation",
    "customer_analytics",
    "customer_task",
    "customer_journey",
    "customer_profile_config",
    "data_catalog",
    "data_catalog_approval",
    "dashboard",
    "event_filter",
    "dashboard_template",
    "dataset",
    "early_access_feature",
    "endpoint",
    "engineering_analytics",
    "error_tracking",
    "evaluation",
    "element",
    "event_definition",
    "experiment",
    "experiment_holdout",
    "experiment_saved_metric",
    "export",
    "external_data_schema",
    "external_data_source",
    "feature_flag",
    "file_system",
    "file_system_shortcut",
    "group",
    "health_issue",
    "heatmap",
    "hog_flow",
    "hog_function",
    "ingestion_warning",
    "insight",
    "insight_variable",
    "integration",
    "legal_document",
    "link",
    "live_debugger",
    "llm_analytics",
    "ai_observability_clusters",
    "llm_gateway",
    "llm_playground",
    "llm_prompt",
    "llm_provider_key",
    "llm_skill",
    "logs",
    "loop",
    "marketing_analytics",
    "mcp_analytics",
    "metrics",
    "notebook",
    "organization",
    "organization_integration",
    "organization_member",
    "person",
    "plugin",
    "product_enablement",
    "product_tour",
    "project",
    "property_definition",
    "query",
    "query_performance",
    "replay_scanner",
    "review_hog",
    "revenue_analytics",
    "session_recording",
    "session_recording_playlist",
    "sharing_configuration",
    "signal_scout",
    "stamphog",
    "streamlit_app",
    "subscription",
    "survey",
    "tagger",
    "ticket",
    "task",
    "toolbar",
    "tracing",
    "field_note",
    "uploaded_media",
    "usage_metric",
    "user",
    "user_interview",
    "vision_action",
    "vision_alert",
    "visual_review",
    "warehouse_objects",
    "warehouse_table",
    "warehouse_view",
    "web_analytics",
    "webhook",
    "wizard_session",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

/// A scope an endpoint requires, e.g. `project:write`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Scope {
    pub object: &'static str,
    pub access: Access,
}

impl Scope {
    pub const fn read(object: &'static str) -> Scope {
        Scope {
            object,
            access: Access::Read,
        }
    }
    pub const fn write(object: &'static str) -> Scope {
        Scope {
            object,
            access: Access::Write,
        }
    }

    /// Does a key scope string grant this? `write` implies `read`.
    fn granted_by(&self, key_scope: &str) -> bool {
        let Some((object, action)) = key_scope.split_once(':') else {
            return false;
        };
        object == self.object
            && match self.access {
                Access::Read => action == "read" || action == "write",
                Access::Write => action == "write",
            }
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = match self.access {
            Access::Read => "read",
            Access::Write => "write",
        };
        write!(f, "{}:{}", self.object, action)
    }
}

/// Is `s` a scope a key may be created with (`*` or `<object>:read|write`)?
pub fn is_valid_scope(s: &str) -> bool {
    if s == "*" {
        return true;
    }
    match s.split_once(':') {
        Some((object, "read" | "write")) => SCOPE_OBJECTS.contains(&object),
        _ => false,
    }
}

/// What a route acts on: the organization, or one of its projects (where a
/// project-scoped key is checked against the project).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// A route of the organization in the path (its projects, members, ...).
    Organization,
    /// The organization's own object, named by its id: PostHog looks it up
    /// among the organizations the key may reach, so one the key's
    /// restriction leaves out is 404, not the restriction's 403.
    OrganizationObject,
    Project,
}

/// The organization a request names, as the key checks need it.
#[derive(Clone, Copy, Debug)]
pub struct Named<'a> {
    pub id: &'a str,
    /// The organization and the caller's level in it; `None` when there is
    /// no such organization or the caller is not a member.
    pub membership: Option<(&'a Organization, Level)>,
}

/// What a key was granted: its scopes and the organizations / projects it is limited to.
#[derive(Clone, Debug, Default)]
pub struct KeyGrant {
    pub scopes: Vec<String>,
    /// `None` or empty: no organization restriction.
    pub scoped_organizations: Option<Vec<String>>,
    /// `None` or empty: no project restriction.
    pub scoped_teams: Option<Vec<i64>>,
    /// The stored restrictions could not be read: the key is refused
    /// everywhere rather than run unrestricted.
    pub restrictions_unreadable: bool,
    /// Not a key: a browser signed in with a session. PostHog's scope
    /// permission applies to keys (and OAuth tokens) only, so a session
    /// passes every check here; the person's own rules still apply.
    pub session: bool,
}

const UNREADABLE: &str = "This API key's restrictions could not be read. Roll or recreate the key.";

impl KeyGrant {
    /// PostHog's APIScopePermission for organization and project endpoints,
    /// in its order: empty scopes, an action that declares no scope, the
    /// organization's personal-API-key switch, the key's project and
    /// organization restrictions, then the scope itself.
    /// `required` lists the scopes that each suffice (empty: the action declares none).
    pub fn check(
        &self,
        required: &[Scope],
        org: Named<'_>,
        target: Target,
    ) -> Result<(), ApiError> {
        if self.session {
            return Ok(());
        }
        self.precheck(required)?;
        let organization_id = org.id;
        if target == Target::OrganizationObject && !self.allows_organization(organization_id) {
            return Err(ApiError::not_found());
        }
        if let Some((org, level)) = org.membership {
            personal_keys_allowed(org, level)?;
        }
        if target != Target::Project {
            self.refuse_project_restriction()?;
        }
        if !self.allows_organization(organization_id) {
            return Err(ApiError::permission_denied(format!(
                "API key does not have access to the requested organization: ID {organization_id}."
            )));
        }
        self.check_scopes(required)
    }

    /// The scope check alone (after [`KeyGrant::precheck`]), for routes with
    /// no organization in the path.
    pub fn check_scopes(&self, required: &[Scope]) -> Result<(), ApiError> {
        if self.session {
            return Ok(());
        }
        self.precheck(required)?;
        let granted = |r: &Scope| self.scopes.iter().any(|s| r.granted_by(s));
        if self.scopes.iter().any(|s| s == "*") || required.iter().any(granted) {
            return Ok(());
        }
        Err(ApiError::permission_denied(format!(
            "API key missing required scope '{}'",
            required[0]
        )))
    }

    /// Organization-level endpoints have no project to match a
    /// project-restricted key against.
    pub fn refuse_project_restriction(&self) -> Result<(), ApiError> {
        if self.session {
            return Ok(());
        }
        if self.scoped_teams.as_ref().is_some_and(|t| !t.is_empty()) {
            return Err(ApiError::permission_denied(
                "API keys with scoped projects are only supported on project-based endpoints.",
            ));
        }
        Ok(())
    }

    /// The checks that need no organization: a key with no scopes, or an
    /// action that declares none, is refused whatever the path names.
    pub fn precheck(&self, required: &[Scope]) -> Result<(), ApiError> {
        if self.session {
            return Ok(());
        }
        if self.restrictions_unreadable {
            return Err(ApiError::permission_denied(UNREADABLE));
        }
        if self.scopes.is_empty() || required.is_empty() {
            return Err(ApiError::permission_denied(
                "This action does not support personal API key access",
            ));
        }
        Ok(())
    }

    /// On a project's own routes, a key limited to some projects must name this
    /// one (checked once the project is known to exist, as PostHog does).
    pub fn check_project(&self, project_id: i64) -> Result<(), ApiError> {
        if self.session {
            return Ok(());
        }
        if self.restrictions_unreadable {
            return Err(ApiError::permission_denied(UNREADABLE));
        }
        match self.scoped_teams.as_ref().filter(|t| !t.is_empty()) {
            Some(teams) if !teams.contains(&project_id) => Err(ApiError::permission_denied(
                format!("API key does not have access to the requested project: ID {project_id}."),
            )),
            _ => Ok(()),
        }
    }

    /// May this key see this organization at all (used to filter lists)?
    pub fn allows_organization(&self, organization_id: &str) -> bool {
        if self.session {
            return true;
        }
        if self.restrictions_unreadable {
            return false;
        }
        match self.scoped_organizations.as_ref().filter(|o| !o.is_empty()) {
            Some(orgs) => orgs.iter().any(|o| o == organization_id),
            None => true,
        }
    }
}

/// PostHog's `members_can_use_personal_api_keys`: an organization that
/// turns it off refuses the personal API keys of members below admin on its
/// routes. PostHog applies it only on plans with its security settings;
/// prickle always does.
pub fn personal_keys_allowed(org: &Organization, level: Level) -> Result<(), ApiError> {
    if org.members_can_use_personal_api_keys || level.is_admin() {
        return Ok(());
    }
    Err(ApiError::permission_denied(format!(
        "Organization '{}' does not allow using personal API keys. Contact an admin to enable personal API keys for this organization.",
        org.name
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ORG: &str = "0190c0de-0000-7000-8000-000000000001";
    const OTHER: &str = "0190c0de-0000-7000-8000-000000000002";

    fn grant(scopes: &[&str]) -> KeyGrant {
        KeyGrant {
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
            ..Default::default()
        }
    }

    fn named(id: &str) -> Named<'_> {
        Named {
            id,
            membership: None,
        }
    }

    fn detail(r: Result<(), ApiError>) -> String {
        r.err()
            .map(|e| e.detail.into_owned())
            .unwrap_or_else(|| "ok".into())
    }

    #[test]
    fn scope_matrix() {
        let read: &[Scope] = &[Scope::read("project")];
        let write: &[Scope] = &[Scope::write("project")];
        let activity: &[Scope] = &[Scope::read("project"), Scope::read("activity_log")];
        let cases: &[(&[&str], &[Scope], &str)] = &[
            (&["*"], read, "ok"),
            (&["*"], write, "ok"),
            (&["project:read"], read, "ok"),
            (&["project:write"], read, "ok"),
            (
                &["project:read"],
                write,
                "API key missing required scope 'project:write'",
            ),
            (
                &["organization:write"],
                read,
                "API key missing required scope 'project:read'",
            ),
            (
                &["project:readx"],
                read,
                "API key missing required scope 'project:read'",
            ),
            (
                &[],
                read,
                "This action does not support personal API key access",
            ),
            (
                &["*"],
                &[],
                "This action does not support personal API key access",
            ),
            (&["activity_log:read"], activity, "ok"),
            (&["project:read"], activity, "ok"),
            (
                &["user:read"],
                activity,
                "API key missing required scope 'project:read'",
            ),
        ];
        for (scopes, required, want) in cases {
            assert_eq!(
                detail(grant(scopes).check(required, named(ORG), Target::Organization)),
                *want,
                "{scopes:?} {required:?}"
            );
        }
    }

    #[test]
    fn organization_and_project_restrictions_apply_to_star_keys() {
        let mut g = grant(&["*"]);
        g.scoped_organizations = Some(vec![OTHER.into()]);
        assert_eq!(
            detail(g.check(&[Scope::read("project")], named(ORG), Target::Organization)),
            format!("API key does not have access to the requested organization: ID {ORG}.")
        );
        assert_eq!(
            detail(g.check(
                &[Scope::read("project")],
                named(OTHER),
                Target::Organization
            )),
            "ok"
        );
        assert!(!g.allows_organization(ORG));
        g.scoped_organizations = Some(vec![]);
        assert_eq!(
            detail(g.check(&[Scope::read("project")], named(ORG), Target::Organization)),
            "ok"
        );
        g.scoped_teams = Some(vec![7]);
        assert_eq!(
            detail(g.check(&[Scope::read("project")], named(ORG), Target::Organization)),
            "API keys with scoped projects are only supported on project-based endpoints."
        );
        // On a project's own routes the key passes here and is checked against the project.
        assert_eq!(
            detail(g.check(&[Scope::read("project")], named(ORG), Target::Project)),
            "ok"
        );
        assert!(g.check_project(7).is_ok());
        assert_eq!(
            g.check_project(8).unwrap_err().detail,
            "API key does not have access to the requested project: ID 8."
        );
        assert!(grant(&["*"]).check_project(8).is_ok());
    }

    #[test]
    fn a_session_passes_every_key_check() {
        let s = KeyGrant {
            session: true,
            ..Default::default()
        };
        let o = org(false);
        let member = Named {
            id: ORG,
            membership: Some((&o, Level::Member)),
        };
        for target in [
            Target::Organization,
            Target::OrganizationObject,
            Target::Project,
        ] {
            assert!(s.check(&[], member, target).is_ok());
            assert!(s
                .check(&[Scope::write("project")], named(OTHER), target)
                .is_ok());
        }
        assert!(s.check_scopes(&[]).is_ok());
        assert!(s.check_project(8).is_ok());
        assert!(s.allows_organization(OTHER));
    }

    #[test]
    fn valid_scopes() {
        for ok in [
            "*",
            "project:read",
            "organization_member:write",
            "legal_document:read",
        ] {
            assert!(is_valid_scope(ok), "{ok}");
        }
        for bad in [
            "",
            "project",
            "project:admin",
            "nope:read",
            "*:read",
            "project:read ",
        ] {
            assert!(!is_valid_scope(bad), "{bad}");
        }
    }

    fn org(members_can_use_personal_api_keys: bool) -> Organization {
        Organization {
            id: ORG.into(),
            name: "Hedgehogs".into(),
            members_can_invite: Some(true),
            members_can_create_projects: false,
            members_can_use_personal_api_keys,
            is_member_join_email_enabled: true,
            default_anonymize_ips: false,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn the_personal_key_switch_refuses_members_below_admin() {
        const REFUSED: &str = "Organization 'Hedgehogs' does not allow using personal API keys. Contact an admin to enable personal API keys for this organization.";
        let read: &[Scope] = &[Scope::read("project")];
        let g = grant(&["*"]);
        for (allowed, level, want) in [
            (false, Level::Member, REFUSED),
            (false, Level::Admin, "ok"),
            (false, Level::Owner, "ok"),
            (true, Level::Member, "ok"),
        ] {
            let o = org(allowed);
            let named = Named {
                id: ORG,
                membership: Some((&o, level)),
            };
            for target in [
                Target::Organization,
                Target::OrganizationObject,
                Target::Project,
            ] {
                assert_eq!(
                    detail(g.check(read, named, target)),
                    want,
                    "{allowed} {level:?}"
                );
            }
        }
        let o = org(false);
        let member = Named {
            id: ORG,
            membership: Some((&o, Level::Member)),
        };
        // PostHog's order: a key that may not act at all is told so first,
        // and the switch comes before the key's own restrictions and scopes.
        assert_eq!(
            detail(g.check(&[], member, Target::Organization)),
            "This action does not support personal API key access"
        );
        let mut restricted = grant(&["user:read"]);
        restricted.scoped_organizations = Some(vec![OTHER.into()]);
        assert_eq!(
            detail(restricted.check(read, member, Target::Organization)),
            REFUSED
        );
        let e = g.check(read, member, Target::Project).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.kind, e.code.as_ref()),
            (403, "authentication_error", "permission_denied")
        );
    }

    #[test]
    fn the_organization_object_is_not_found_outside_the_key_restriction() {
        let mut g = grant(&["organization:read"]);
        g.scoped_organizations = Some(vec![OTHER.into()]);
        let read: &[Scope] = &[Scope::read("organization")];
        let e = g
            .check(read, named(ORG), Target::OrganizationObject)
            .unwrap_err();
        assert_eq!((e.status.as_u16(), e.detail.as_ref()), (404, "Not found."));
        assert_eq!(
            detail(g.check(read, named(OTHER), Target::OrganizationObject)),
            "ok"
        );
        // Its routes keep the restriction's 403.
        assert_eq!(
            detail(g.check(read, named(ORG), Target::Organization)),
            format!("API key does not have access to the requested organization: ID {ORG}.")
        );
    }
}
