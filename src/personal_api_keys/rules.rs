//! What a personal API key may do here: read itself, nothing else; and what
//! the operator may create (`prickle admin create-personal-api-key`).

use crate::error::{ApiError, ApiResult};

/// PostHog's cap on a user's keys.
pub const MAX_KEYS_PER_USER: i64 = 10;

/// PostHog's PersonalApiKeySelfAccessPermission (its capitalisation).
pub fn key_refused() -> ApiError {
    ApiError::permission_denied("This action does not support Personal API Key access")
}

/// A key reads only itself: another key of the same user is refused.
pub fn may_read(key_id: &str, caller_key_id: &str) -> ApiResult<()> {
    if key_id == caller_key_id {
        Ok(())
    } else {
        Err(key_refused())
    }
}

/// A key may be restricted only to organizations its user belongs to.
pub fn may_scope_to_organization(is_member: bool) -> Result<(), String> {
    if !is_member {
        return Err(
            "You must be a member of all organizations that you are scoping the key to.".into(),
        );
    }
    Ok(())
}

/// A key may be restricted only to projects of its user's organizations.
pub fn may_scope_to_project(is_member: bool) -> Result<(), String> {
    if !is_member {
        return Err("You must be a member of all teams that you are scoping the key to.".into());
    }
    Ok(())
}

/// A user with `existing` keys may have one more.
pub fn may_add_key(existing: i64) -> Result<(), String> {
    if existing >= MAX_KEYS_PER_USER {
        return Err("You can only have 10 personal API keys. Remove an existing key before creating a new one.".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_reads_only_itself() {
        assert!(may_read("a", "a").is_ok());
        let e = may_read("b", "a").unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.detail.as_ref()),
            (403, "This action does not support Personal API Key access")
        );
    }

    #[test]
    fn restrictions_only_to_the_users_own() {
        assert!(may_scope_to_organization(true).is_ok());
        assert!(may_scope_to_organization(false).is_err());
        assert!(may_scope_to_project(true).is_ok());
        assert!(may_scope_to_project(false).is_err());
    }

    #[test]
    fn at_most_ten_keys() {
        assert!(may_add_key(0).is_ok());
        assert!(may_add_key(MAX_KEYS_PER_USER - 1).is_ok());
        assert!(may_add_key(MAX_KEYS_PER_USER).is_err());
    }
}
