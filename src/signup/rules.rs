//! Who may join through an invite: PostHog's `OrganizationInvite.validate`
//! checks, in its order, as a plain function of what the database says.

use crate::error::{ApiError, ApiResult};
use crate::invites::model::Invite;
use crate::users;

/// The answer to an invite that cannot be opened (unknown, malformed,
/// tokenless or wrongly tokened alike).
pub fn not_valid() -> ApiError {
    ApiError::invalid_input("The provided invite ID is not valid.")
}

/// A new account for an email that already has one.
pub fn account_taken(email: &str) -> ApiError {
    ApiError::invalid_input(format!(
        "There already exists an account with email address {email}. Please log in instead."
    ))
}

/// What an invite is checked against, read from the database.
pub struct Facts<'a> {
    pub now: i64,
    /// The caller's email when authenticated.
    pub user_email: Option<&'a str>,
    /// Anonymous preview only: an account with the invite's email exists.
    pub account_exists: bool,
    pub user_is_member: bool,
    pub email_is_member: bool,
}

/// PostHog's `OrganizationInvite.validate`, in its order.
pub fn validate(invite: &Invite, f: &Facts) -> ApiResult<()> {
    if let Some(email) = f.user_email {
        if users::email_key(email) != users::email_key(&invite.target_email) {
            return Err(ApiError::validation(
                "invalid_recipient",
                "This invite is intended for another email address.",
            ));
        }
    }
    if invite.is_expired(f.now) {
        return Err(ApiError::validation(
            "expired",
            "This invite has expired. Please ask your admin for a new one.",
        ));
    }
    if f.account_exists {
        return Err(ApiError::validation(
            "account_exists",
            format!("/login?next=/signup/{}", invite.id),
        ));
    }
    if f.user_is_member {
        return Err(ApiError::validation(
            "user_already_member",
            "You already are a member of this organization.",
        ));
    }
    if f.email_is_member {
        return Err(ApiError::validation(
            "existing_email_address",
            "Another user with this email address already belongs to this organization.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invites::model::VALIDITY_DAYS;
    use crate::organizations::Level;
    use crate::time;

    fn invite(created_at: i64) -> Invite {
        Invite {
            id: "abc".into(),
            organization_id: "o".into(),
            target_email: "x@x.com".into(),
            first_name: String::new(),
            created_by: None,
            emailing_attempt_made: false,
            level: Level::Member,
            message: None,
            private_project_access: None,
            created_at,
            updated_at: created_at,
            signup_url: None,
        }
    }

    fn code(r: ApiResult<()>) -> String {
        r.err()
            .map(|e| e.code.into_owned())
            .unwrap_or_else(|| "ok".into())
    }

    #[test]
    fn invite_checks_in_posthog_order() {
        let now = 100 * VALIDITY_DAYS * 24 * time::HOUR_MICROS;
        let fresh = invite(now);
        let old = invite(0);
        let facts = |email: Option<&'static str>, exists, member, email_member| Facts {
            now,
            user_email: email,
            account_exists: exists,
            user_is_member: member,
            email_is_member: email_member,
        };
        assert_eq!(
            code(validate(&fresh, &facts(None, false, false, false))),
            "ok"
        );
        assert_eq!(
            code(validate(
                &fresh,
                &facts(Some("X@X.COM"), false, false, false)
            )),
            "ok"
        );
        assert_eq!(
            code(validate(&old, &facts(Some("y@x.com"), false, false, false))),
            "invalid_recipient"
        );
        assert_eq!(
            code(validate(&old, &facts(None, true, false, false))),
            "expired"
        );
        assert_eq!(
            code(validate(&fresh, &facts(None, true, false, true))),
            "account_exists"
        );
        assert_eq!(
            code(validate(&fresh, &facts(Some("x@x.com"), false, true, true))),
            "user_already_member"
        );
        assert_eq!(
            code(validate(&fresh, &facts(None, false, false, true))),
            "existing_email_address"
        );
    }
}
