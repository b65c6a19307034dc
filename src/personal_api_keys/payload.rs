//! The key body of PostHog's `PersonalAPIKeySerializer`, declared once
//! ([`KEY`], also the `PersonalAPIKeyRequest` component): the label, the
//! scopes and the optional organization / project restrictions. Rules that
//! need the database (membership of every organization and project named)
//! are applied by the handler with `Checked::refine`.

use serde_json::Value;

use crate::auth::scopes::is_valid_scope;
use crate::error::{ApiError, ApiResult};
use crate::payload::{Body, Field, Kind, Text};

const SCOPE: Field = Field::new("", Kind::Text(Text::max(100)));
const TEAM: Field = Field::new("", Kind::INTEGER);
const ORGANIZATION: Field = Field::new("", Kind::Text(Text::max(100)));

/// Most organizations or projects one key may be restricted to (PostHog
/// has no bound; the stored list must have one).
pub const MAX_RESTRICTIONS: usize = 1000;

pub static KEY: Body = Body::new(&[
    Field::new("label", Kind::Text(Text::max(40))).required(),
    Field::new("scopes", Kind::List(&SCOPE))
        .required()
        .describe("`[\"*\"]` for every scope, or `<object>:read|write` items."),
    Field::new("scoped_teams", Kind::List(&TEAM))
        .nullable()
        .describe("The projects the key is limited to (empty or null: no limit)."),
    Field::new("scoped_organizations", Kind::List(&ORGANIZATION))
        .nullable()
        .describe("The organizations the key is limited to (empty or null: no limit)."),
]);

/// PostHog's `validate_scopes`.
pub fn check_scopes(v: &Value) -> ApiResult<Value> {
    for scope in v.as_array().into_iter().flatten() {
        let s = scope.as_str().unwrap_or_default();
        if !is_valid_scope(s) {
            return Err(ApiError::invalid_input(format!("Invalid scope: {s}")));
        }
    }
    Ok(v.clone())
}

/// A restriction list within its bound.
pub fn bounded(v: &Value) -> ApiResult<()> {
    if v.as_array().is_some_and(|a| a.len() > MAX_RESTRICTIONS) {
        return Err(ApiError::validation(
            "max_length",
            format!("Ensure this field has no more than {MAX_RESTRICTIONS} elements."),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn scopes_as_posthog_checks_them() {
        assert!(check_scopes(&json!(["*", "project:read"])).is_ok());
        let e = check_scopes(&json!(["project:read", "nope:write"])).unwrap_err();
        assert_eq!(e.detail, "Invalid scope: nope:write");
        assert!(bounded(&json!(vec![1; MAX_RESTRICTIONS])).is_ok());
        assert!(bounded(&json!(vec![1; MAX_RESTRICTIONS + 1])).is_err());
    }
}
