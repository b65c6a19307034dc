//! Who may do what to projects: plain functions of levels and counts, so the
//! rules can be read (and tested) as a table.

use crate::access::ProjectLevel;
use crate::error::{ApiError, ApiResult};
use crate::organizations::{Level, Organization};

const PLAN_LIMIT: &str =
    "You have reached the maximum limit of allowed projects for your current plan. \
Upgrade your plan to be able to create and manage more projects.";

/// PostHog's PremiumMultiProjectPermission, self-hosted: no plan, one hard
/// cap. Demo projects don't count toward it, but an organization gets one.
pub fn within_project_limit(
    non_demo_count: i64,
    max: i64,
    is_demo: bool,
    org_has_demo: bool,
) -> ApiResult<()> {
    if is_demo {
        return if org_has_demo {
            Err(ApiError::permission_denied(PLAN_LIMIT))
        } else {
            Ok(())
        };
    }
    if non_demo_count >= max {
        return Err(ApiError::permission_denied(format!(
            "You have reached the maximum limit of {max} projects per organization. \
Contact support if you'd like access to more projects."
        )));
    }
    Ok(())
}

/// Who may create a project: anyone in the organization for a demo, admins
/// otherwise, members too when the organization allows it.
pub fn may_create(level: Level, is_demo: bool, org: &Organization) -> ApiResult<()> {
    match level {
        _ if is_demo => Ok(()),
        l if l.is_admin() => Ok(()),
        _ if org.members_can_create_projects => Ok(()),
        _ => Err(ApiError::permission_denied(
            "You need to be an organization admin or above to create new projects.",
        )),
    }
}

/// Deleting a project takes admin on it (an organization admin, or a
/// member the project's rules make its admin).
pub fn may_delete(level: ProjectLevel) -> ApiResult<()> {
    if level == ProjectLevel::Admin {
        Ok(())
    } else {
        Err(ApiError::permission_denied(
            "You don't have sufficient permissions in the project.",
        ))
    }
}

/// The newest admin gate on updates: below admin on the project, only
/// member-safe fields may change.
pub fn may_update_fields(level: ProjectLevel, admin_fields: &[&str]) -> ApiResult<()> {
    if level == ProjectLevel::Admin || admin_fields.is_empty() {
        return Ok(());
    }
    let mut fields = admin_fields.to_vec();
    fields.sort_unstable();
    Err(ApiError::permission_denied(format!(
        "Only project admins can modify these settings: {}",
        fields.join(", ")
    )))
}

/// The same gate at creation, for members allowed to create.
pub fn may_create_with_fields(level: Level, admin_fields: &[&str]) -> ApiResult<()> {
    let mut fields: Vec<&str> = admin_fields
        .iter()
        .copied()
        .filter(|f| *f != "name" && *f != "is_demo")
        .collect();
    if level.is_admin() || fields.is_empty() {
        return Ok(());
    }
    fields.sort_unstable();
    Err(ApiError::permission_denied(format!(
        "Only organization admins can set these settings on project creation: {}",
        fields.join(", ")
    )))
}

/// Only organization admins may opt a project into organization-wide activity.
pub fn may_set_org_level_activity(level: Level) -> ApiResult<()> {
    if level.is_admin() {
        Ok(())
    } else {
        Err(ApiError::permission_denied(
            "Only organization owners and admins can modify the receive_org_level_activity_logs setting.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org(members_can_create_projects: bool) -> Organization {
        Organization {
            id: "o".into(),
            name: "O".into(),
            members_can_invite: Some(true),
            members_can_create_projects,
            members_can_use_personal_api_keys: true,
            is_member_join_email_enabled: true,
            default_anonymize_ips: false,
            created_at: 0,
            updated_at: 0,
        }
    }

    fn outcome(r: ApiResult<()>) -> String {
        match r {
            Ok(()) => "ok".into(),
            Err(e) => format!("{} {}", e.status.as_u16(), e.detail),
        }
    }

    #[test]
    fn who_may_create() {
        use Level::*;
        let denied = "403 You need to be an organization admin or above to create new projects.";
        let cases: &[(Level, bool, bool, &str)] = &[
            (Owner, false, false, "ok"),
            (Admin, false, false, "ok"),
            (Member, false, false, denied),
            (Member, false, true, "ok"),
            (Member, true, false, "ok"),
        ];
        for (level, demo, toggle, want) in cases {
            assert_eq!(
                outcome(may_create(*level, *demo, &org(*toggle))),
                *want,
                "{level:?} demo={demo}"
            );
        }
    }

    #[test]
    fn project_limit() {
        assert_eq!(
            outcome(within_project_limit(1999, 2000, false, false)),
            "ok"
        );
        assert!(outcome(within_project_limit(2000, 2000, false, false))
            .contains("maximum limit of 2000 projects"));
        // Demo projects don't count, even at the cap; only one per organization.
        assert_eq!(outcome(within_project_limit(2000, 2000, true, false)), "ok");
        assert!(outcome(within_project_limit(0, 2000, true, true)).contains("current plan"));
    }

    #[test]
    fn admin_gates() {
        assert_eq!(
            outcome(may_update_fields(ProjectLevel::Admin, &["timezone"])),
            "ok"
        );
        assert_eq!(outcome(may_update_fields(ProjectLevel::Member, &[])), "ok");
        assert_eq!(
            outcome(may_update_fields(
                ProjectLevel::Member,
                &["timezone", "anonymize_ips"]
            )),
            "403 Only project admins can modify these settings: anonymize_ips, timezone"
        );
        assert_eq!(
            outcome(may_create_with_fields(Level::Member, &["name", "is_demo"])),
            "ok"
        );
        assert_eq!(
            outcome(may_create_with_fields(Level::Member, &["receive_org_level_activity_logs", "name"])),
            "403 Only organization admins can set these settings on project creation: receive_org_level_activity_logs"
        );
        assert_eq!(
            outcome(may_delete(ProjectLevel::Member)),
            "403 You don't have sufficient permissions in the project."
        );
        assert_eq!(outcome(may_delete(ProjectLevel::Admin)), "ok");
    }
}
