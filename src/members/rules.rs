//! Who may change or remove whom: PostHog's permission matrix for members
//! (`OrganizationMembership.validate_update` and the destroy rule), as one
//! pure function of the two levels, the action and whether the target is
//! the caller.

use crate::error::{ApiError, ApiResult};
use crate::organizations::Level;

/// What the caller does to a membership.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    /// PATCH/PUT: `None` when the body carries no `level` (PostHog still
    /// checks that the caller may edit the target at all).
    Update(Option<Level>),
    /// DELETE: removing someone, or leaving when the target is oneself.
    Remove,
}

pub const ADMIN_TO_EDIT_OTHERS: &str = "You can only edit others if you are an admin.";
pub const LOWER_OR_EQUAL_TARGET: &str =
    "You can only edit others with level lower or equal to you.";
pub const OWN_LEVEL: &str = "You can't change your own access level.";
pub const ONLY_OWNERS_MAKE_OWNERS: &str =
    "You can only make another member owner if you're this organization's owner.";
pub const LOWER_OR_EQUAL_NEW_LEVEL: &str =
    "You can only change access level of others to lower or equal to your current one.";
pub const OWNER_CANNOT_LEAVE: &str = "Cannot leave the organization as its owner!";

/// May a caller at `actor` do `action` to a membership at `target`?
/// `is_self`: the target is the caller's own membership (then the levels
/// are equal). Errors are PostHog's: 403 for the permission rules, 400 for
/// an owner leaving or being removed (owners must be demoted first, which
/// is why an organization always keeps an owner).
pub fn check(actor: Level, target: Level, action: Action, is_self: bool) -> ApiResult<()> {
    if !is_self {
        if !actor.is_admin() {
            return Err(ApiError::permission_denied(ADMIN_TO_EDIT_OTHERS));
        }
        if target > actor {
            return Err(ApiError::permission_denied(LOWER_OR_EQUAL_TARGET));
        }
    }
    match action {
        Action::Update(None) => Ok(()),
        Action::Update(Some(_)) if is_self => Err(ApiError::permission_denied(OWN_LEVEL)),
        Action::Update(Some(Level::Owner)) if actor != Level::Owner => {
            Err(ApiError::permission_denied(ONLY_OWNERS_MAKE_OWNERS))
        }
        Action::Update(Some(new)) if new > actor => {
            Err(ApiError::permission_denied(LOWER_OR_EQUAL_NEW_LEVEL))
        }
        Action::Update(Some(_)) => Ok(()),
        Action::Remove if target == Level::Owner => {
            Err(ApiError::invalid_input(OWNER_CANNOT_LEAVE))
        }
        Action::Remove => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Level::{Admin as A, Member as M, Owner as O};

    /// The outcome as (status, detail), "" for allowed.
    fn outcome(actor: Level, target: Level, action: Action, is_self: bool) -> (u16, &'static str) {
        match check(actor, target, action, is_self) {
            Ok(()) => (200, ""),
            Err(e) => {
                let detail: &'static str = [
                    ADMIN_TO_EDIT_OTHERS,
                    LOWER_OR_EQUAL_TARGET,
                    OWN_LEVEL,
                    ONLY_OWNERS_MAKE_OWNERS,
                    LOWER_OR_EQUAL_NEW_LEVEL,
                    OWNER_CANNOT_LEAVE,
                ]
                .into_iter()
                .find(|d| *d == e.detail)
                .expect("a known detail");
                (e.status.as_u16(), detail)
            }
        }
    }

    const OK: (u16, &str) = (200, "");
    const NOT_ADMIN: (u16, &str) = (403, ADMIN_TO_EDIT_OTHERS);
    const HIGHER: (u16, &str) = (403, LOWER_OR_EQUAL_TARGET);
    const OWN: (u16, &str) = (403, OWN_LEVEL);
    const OWNERS: (u16, &str) = (403, ONLY_OWNERS_MAKE_OWNERS);
    const LEAVE: (u16, &str) = (400, OWNER_CANNOT_LEAVE);

    /// Outcomes of: no level, →member, →admin, →owner, remove.
    type Outcomes = [(u16, &'static str); 5];

    /// Every (actor, target, is_self) with every action.
    #[test]
    fn the_whole_matrix() {
        #[rustfmt::skip]
        let table: [(Level, Level, bool, Outcomes); 12] = [
            // Others.
            (M, M, false, [NOT_ADMIN, NOT_ADMIN, NOT_ADMIN, NOT_ADMIN, NOT_ADMIN]),
            (M, A, false, [NOT_ADMIN, NOT_ADMIN, NOT_ADMIN, NOT_ADMIN, NOT_ADMIN]),
            (M, O, false, [NOT_ADMIN, NOT_ADMIN, NOT_ADMIN, NOT_ADMIN, NOT_ADMIN]),
            (A, M, false, [OK, OK, OK, OWNERS, OK]),
            (A, A, false, [OK, OK, OK, OWNERS, OK]),
            (A, O, false, [HIGHER, HIGHER, HIGHER, HIGHER, HIGHER]),
            (O, M, false, [OK, OK, OK, OK, OK]),
            (O, A, false, [OK, OK, OK, OK, OK]),
            (O, O, false, [OK, OK, OK, OK, LEAVE]),
            // Oneself: any body with `level` is refused; owners cannot leave.
            (M, M, true, [OK, OWN, OWN, OWN, OK]),
            (A, A, true, [OK, OWN, OWN, OWN, OK]),
            (O, O, true, [OK, OWN, OWN, OWN, LEAVE]),
        ];
        let actions = [
            Action::Update(None),
            Action::Update(Some(M)),
            Action::Update(Some(A)),
            Action::Update(Some(O)),
            Action::Remove,
        ];
        for (actor, target, is_self, expected) in table {
            for (action, want) in actions.iter().zip(expected) {
                assert_eq!(
                    outcome(actor, target, *action, is_self),
                    want,
                    "{actor:?} → {target:?} (self: {is_self}) {action:?}"
                );
            }
        }
        // The owner-only rule comes before the (unreachable) level-cap rule,
        // and the cap is the last line of defence if levels ever grow.
        assert_eq!(outcome(A, M, Action::Update(Some(O)), false), OWNERS);
    }

    #[test]
    fn errors_have_posthog_types() {
        let e = check(M, A, Action::Remove, false).unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_ref()),
            ("authentication_error", "permission_denied")
        );
        let e = check(O, O, Action::Remove, true).unwrap_err();
        assert_eq!(
            (e.kind, e.code.as_ref()),
            ("validation_error", "invalid_input")
        );
        assert_eq!(e.attr, None);
    }
}

/// Can a key with these stored restrictions reach the organization?
/// PostHog's `get_scoped_api_keys`: scoped to it, scoped to one of its
/// projects, or not scoped at all (null or empty lists). Restrictions that
/// cannot be read refuse the key everywhere (`auth`), so they reach nothing.
pub fn key_reaches(
    scoped_organizations: Option<&str>,
    scoped_teams: Option<&str>,
    org_id: &str,
    project_ids: &[i64],
) -> bool {
    fn list<T: serde::de::DeserializeOwned>(v: Option<&str>) -> Option<Vec<T>> {
        match v {
            None => Some(Vec::new()),
            Some(s) => serde_json::from_str::<Option<Vec<T>>>(s)
                .ok()
                .map(Option::unwrap_or_default),
        }
    }
    let (Some(orgs), Some(teams)) = (
        list::<String>(scoped_organizations),
        list::<i64>(scoped_teams),
    ) else {
        return false;
    };
    (orgs.is_empty() && teams.is_empty())
        || orgs.iter().any(|o| o == org_id)
        || teams.iter().any(|t| project_ids.contains(t))
}

#[cfg(test)]
mod key_tests {
    use super::key_reaches;

    #[test]
    fn scoped_keys_reach_their_organization() {
        let org = "o1";
        let projects = [3, 4];
        for (orgs, teams, reaches) in [
            (None, None, true),
            (Some("[]"), Some("[]"), true),
            (Some("null"), None, true),
            (Some(r#"["o1"]"#), None, true),
            (Some(r#"["o2","o1"]"#), Some("[]"), true),
            (None, Some("[4]"), true),
            (Some(r#"["o2"]"#), None, false),
            (None, Some("[9]"), false),
            (Some(r#"["o2"]"#), Some("[3]"), true),
            (Some("not json"), None, false),
            (None, Some(r#"["x"]"#), false),
        ] {
            assert_eq!(
                key_reaches(orgs, teams, org, &projects),
                reaches,
                "{orgs:?} {teams:?}"
            );
        }
    }
}
