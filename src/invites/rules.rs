//! Who may invite, delete and grant what: plain functions of levels.

use crate::error::{ApiError, ApiResult};
use crate::organizations::{Level, Organization};

use super::model::ProjectAccess;

/// Admins and owners always may; members only while the organization lets
/// them (prickle treats every organization as having PostHog's invite
/// settings, so an unset flag blocks members too). Checked on the
/// organization in the path, as PostHog's newest code does.
pub fn may_invite(level: Level, org: &Organization) -> ApiResult<()> {
    if level.is_admin() || org.members_can_invite == Some(true) {
        Ok(())
    } else {
        Err(ApiError::forbidden())
    }
}

/// Nobody invites above their own level.
pub fn may_grant(requested: Level, own: Level) -> ApiResult<()> {
    if requested > own {
        Err(ApiError::permission_denied(
            "You cannot invite a user with a higher permission level than your own.",
        ))
    } else {
        Ok(())
    }
}

/// `combine_pending_invites`: the highest level among the pending invites
/// and the new one; the new project access first, then each pending
/// invite's (newest first) adds projects not listed yet or raises a listed
/// one. Levels compare by rank (decisions.md), not alphabetically as PostHog does.
pub fn combine(
    pending: &[(Level, Option<Vec<ProjectAccess>>)],
    level: Level,
    access: &[ProjectAccess],
) -> (Level, Vec<ProjectAccess>) {
    let level = pending.iter().map(|(l, _)| *l).fold(level, Level::max);
    let mut combined: Vec<ProjectAccess> = Vec::new();
    let mut put =
        |a: ProjectAccess, raise_only: bool| match combined.iter_mut().find(|c| c.id == a.id) {
            Some(c) if !raise_only || a.level > c.level => c.level = a.level,
            Some(_) => {}
            None => combined.push(a),
        };
    for a in access {
        put(*a, false);
    }
    for (_, list) in pending {
        for a in list.iter().flatten() {
            put(*a, true);
        }
    }
    (level, combined)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invites::model::AccessLevel::{Admin, Member};

    fn org(members_can_invite: Option<bool>) -> Organization {
        Organization {
            id: "o".into(),
            name: "O".into(),
            members_can_invite,
            members_can_create_projects: false,
            members_can_use_personal_api_keys: true,
            is_member_join_email_enabled: true,
            default_anonymize_ips: false,
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn who_may_invite() {
        let cases = [
            (Level::Member, Some(true), true),
            (Level::Member, Some(false), false),
            (Level::Member, None, false),
            (Level::Admin, Some(false), true),
            (Level::Owner, None, true),
        ];
        for (level, flag, ok) in cases {
            assert_eq!(
                may_invite(level, &org(flag)).is_ok(),
                ok,
                "{level:?} {flag:?}"
            );
        }
    }

    #[test]
    fn who_may_delete_and_grant() {
        let table = [
            (Level::Member, Level::Member, true),
            (Level::Admin, Level::Member, false),
            (Level::Admin, Level::Admin, true),
            (Level::Owner, Level::Admin, false),
            (Level::Owner, Level::Owner, true),
            (Level::Member, Level::Owner, true),
        ];
        for (requested, own, ok) in table {
            assert_eq!(
                may_grant(requested, own).is_ok(),
                ok,
                "{requested:?} by {own:?}"
            );
        }
    }

    fn pa(id: i64, level: crate::invites::model::AccessLevel) -> ProjectAccess {
        ProjectAccess { id, level }
    }

    #[test]
    fn combining_keeps_the_highest() {
        // PostHog's test: (member, T1 member) was replaced by (admin, T2 admin);
        // combining (member, T1 admin) gives admin with T1 admin and T2 admin.
        let pending = [(Level::Admin, Some(vec![pa(2, Admin)]))];
        let (level, access) = combine(&pending, Level::Member, &[pa(1, Admin)]);
        assert_eq!(level, Level::Admin);
        assert_eq!(access, vec![pa(1, Admin), pa(2, Admin)]);
        // By rank: a pending member entry does not lower a new admin one.
        let pending = [(Level::Member, Some(vec![pa(1, Member)]))];
        let (_, access) = combine(&pending, Level::Member, &[pa(1, Admin)]);
        assert_eq!(access, vec![pa(1, Admin)]);
        // ...and a pending admin entry raises a new member one.
        let pending = [
            (Level::Member, Some(vec![pa(1, Admin)])),
            (Level::Member, None),
        ];
        let (level, access) = combine(&pending, Level::Member, &[pa(1, Member)]);
        assert_eq!((level, access), (Level::Member, vec![pa(1, Admin)]));
        assert_eq!(combine(&[], Level::Member, &[]), (Level::Member, vec![]));
    }
}
