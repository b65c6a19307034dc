//! Who may change and delete an organization, and the admin-level check
//! every resource uses: plain functions of levels.

use super::Level;
use crate::error::{ApiError, ApiResult};

/// PostHog's answer to a member where only admins and owners may act.
pub const INSUFFICIENT: &str = "Your organization access level is insufficient.";

/// The admin-level gate of PostHog's `OrganizationAdminWritePermissions` and
/// `OrganizationAdminAnyPermissions` (organization settings, legal
/// documents, deleting invites): admins and owners pass, members get 403.
pub fn require_admin(level: Level) -> ApiResult<()> {
    if level.is_admin() {
        Ok(())
    } else {
        Err(ApiError::permission_denied(INSUFFICIENT))
    }
}

/// Only owners delete an organization.
pub fn may_delete(level: Level) -> ApiResult<()> {
    if level >= Level::Owner {
        Ok(())
    } else {
        Err(ApiError::permission_denied(INSUFFICIENT))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_gate() {
        for (level, passes) in [
            (Level::Member, false),
            (Level::Admin, true),
            (Level::Owner, true),
        ] {
            assert_eq!(level.is_admin(), passes, "{level:?}");
            match require_admin(level) {
                Ok(()) => assert!(passes, "{level:?}"),
                Err(e) => {
                    assert!(!passes, "{level:?}");
                    assert_eq!((e.status.as_u16(), e.detail.as_ref()), (403, INSUFFICIENT));
                }
            }
        }
    }

    #[test]
    fn who_may_change_and_delete() {
        use Level::*;
        for (level, update, delete) in [
            (Member, false, false),
            (Admin, true, false),
            (Owner, true, true),
        ] {
            assert_eq!(require_admin(level).is_ok(), update, "{level:?}");
            assert_eq!(may_delete(level).is_ok(), delete, "{level:?}");
        }
        assert_eq!(may_delete(Admin).unwrap_err().detail, INSUFFICIENT);
    }
}
