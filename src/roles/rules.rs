//! Who may act on roles (PostHog's `OrganizationAdminWritePermissions`):
//! any member reads roles and who holds them; only admins and owners
//! create, rename or delete roles and add or remove holders. The gate runs
//! before the body is read, as DRF runs permission classes first.

use crate::error::ApiResult;
use crate::organizations::{require_admin, Level};

/// Creating, renaming, deleting a role; adding or removing a holder.
pub fn may_write(level: Level) -> ApiResult<()> {
    require_admin(level)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::organizations::INSUFFICIENT;

    #[test]
    fn only_admins_and_owners_write() {
        for (level, writes) in [
            (Level::Member, false),
            (Level::Admin, true),
            (Level::Owner, true),
        ] {
            match may_write(level) {
                Ok(()) => assert!(writes, "{level:?}"),
                Err(e) => {
                    assert!(!writes, "{level:?}");
                    assert_eq!((e.status.as_u16(), e.detail.as_ref()), (403, INSUFFICIENT));
                }
            }
        }
    }
}
