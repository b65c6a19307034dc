//! The membership as PostHog's `OrganizationMemberSerializer` declares it:
//! only `level` is writable (PATCH, and PUT as PATCH); everything else in a
//! body is read-only and ignored. Also the `OrganizationMember` component
//! the API document shows for the body and the answer (`model::write_member`).

use super::openapi::{LEVEL, USER_BASIC};
use crate::error::ApiResult;
use crate::organizations::Level;
use crate::payload::{Body, Choices, Data, Field, Kind};

/// The membership levels (1, 8, 15).
pub const LEVELS: Choices = Choices::Integers(&[1, 8, 15]);

/// The member; the fields the server sets are required, as PostHog lists
/// them (the PUT body and every answer), except the search's match type.
pub static MEMBER: Body = Body::new(&[
    Field::new("id", Kind::Uuid).read_only().required(),
    Field::new("user", Kind::Object(&[]))
        .component(USER_BASIC)
        .read_only()
        .required(),
    Field::new("level", Kind::Choice(LEVELS)).component(LEVEL),
    Field::new("joined_at", Kind::DateTime)
        .read_only()
        .required(),
    Field::new("updated_at", Kind::DateTime)
        .read_only()
        .required(),
    Field::new("is_2fa_enabled", Kind::Boolean)
        .read_only()
        .required(),
    Field::new("has_social_auth", Kind::Boolean)
        .read_only()
        .required(),
    // Null until the user first logs in (PostHog's schema omits the null).
    Field::new("last_login", Kind::DateTime)
        .nullable()
        .read_only()
        .required(),
    Field::new(
        "search_match_type",
        Kind::Choice(Choices::Strings(&["exact", "similar"])),
    )
    .read_only()
    .describe("How the member matched `search`; present only in a list searched with it."),
]);

/// The level a PATCH or PUT asks for, if any.
pub fn requested_level(data: &Data) -> ApiResult<Option<Level>> {
    let valid = MEMBER.check(data, true)?.finish()?;
    Ok(valid.integer("level").flatten().and_then(Level::from_i64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_the_level_is_read() {
        let level = |v| requested_level(&Data::Json(v));
        assert_eq!(level(json!({})).unwrap(), None);
        assert_eq!(
            level(json!({"level": "8", "id": "x"})).unwrap(),
            Some(Level::Admin)
        );
        assert_eq!(level(json!({"level": 15})).unwrap(), Some(Level::Owner));
        let e = level(json!({"level": 3})).unwrap_err();
        assert_eq!(
            (e.code.as_ref(), e.detail.as_ref(), e.attr.as_deref()),
            (
                "invalid_choice",
                "\"3\" is not a valid choice.",
                Some("level")
            )
        );
        assert_eq!(level(json!({"level": null})).unwrap_err().code, "null");
        assert_eq!(level(json!([1])).unwrap_err().attr, None);
    }
}
