//! The sign-up request: the token that opens the invite (`?token=` or a
//! `token` body field) and the account fields of PostHog's invite sign-up
//! serializer, declared once ([`SIGNUP`], also the `InviteSignup`
//! component).

use serde_json::Value;

use crate::drf::Attr;
use crate::error::{ApiError, ApiResult};
use crate::http::ApiRequest;
use crate::passwords;
use crate::payload::{Body, Data, Field, Kind, Text};

/// The sign-up body. Nothing is required by the declaration: `first_name`
/// and `password` are required only without a key, and only once every
/// field sent has passed ([`check`]).
pub static SIGNUP: Body = Body::new(&[
    Field::new("token", Kind::Text(Text::ANY))
        .write_only()
        .check(as_sent)
        .describe("The sign-up token, when not sent as `?token=` (the query wins)."),
    Field::new("first_name", Kind::Text(Text::max(128))),
    Field::new("password", Kind::Text(Text::max(72))).write_only(),
    Field::new("role_at_organization", Kind::Text(Text::max(128))).blank(),
]);

/// The token as sent: a value that is not a string is no token (never a
/// field error).
fn as_sent(v: &Value, _: &Attr) -> ApiResult<Value> {
    Ok(v.clone())
}

/// The token the caller presents: `?token=`, else the sign-up body's.
pub fn presented_token(req: &ApiRequest, body_token: Option<String>) -> Option<String> {
    req.query().remove("token").or(body_token)
}

/// The sign-up body, as PostHog's invite sign-up serializer reads it.
pub struct SignUp {
    pub first_name: Option<String>,
    pub password: Option<String>,
    pub role_at_organization: String,
    /// The body's `token`, when a string.
    pub token: Option<String>,
}

/// The fields in order (a password sent is held to the password rules),
/// the first failure reported; then, for an `anonymous` caller (a new
/// account), `first_name` and `password` are required.
pub fn check(data: &Data, anonymous: bool) -> ApiResult<SignUp> {
    let mut checked = SIGNUP.check(data, true)?;
    checked.refine("password", |v| {
        passwords::check_new(v.as_str().unwrap_or_default(), "password")?;
        Ok(v.clone())
    });
    let valid = checked.finish()?;
    let text = |name| valid.text(name).flatten();
    let body = SignUp {
        first_name: text("first_name"),
        password: text("password"),
        role_at_organization: text("role_at_organization").unwrap_or_default(),
        token: text("token"),
    };
    if anonymous {
        if body.first_name.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::required("first_name"));
        }
        if body.password.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::required("password"));
        }
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_rules() {
        let parse = |v: Value, anon| {
            check(&Data::Json(v), anon)
                .err()
                .map(|e| (e.code.into_owned(), e.attr.map(|a| a.into_owned())))
        };
        assert_eq!(
            parse(json!({}), true),
            Some(("required".into(), Some("first_name".into())))
        );
        assert_eq!(
            parse(json!({"first_name": "A"}), true),
            Some(("required".into(), Some("password".into())))
        );
        assert_eq!(
            parse(json!({"first_name": "A", "password": "123"}), true),
            Some(("password_too_short".into(), Some("password".into())))
        );
        // A password that is sent is checked even for a signed-in caller.
        assert_eq!(
            parse(json!({"password": "123"}), false),
            Some(("password_too_short".into(), Some("password".into())))
        );
        // A field error comes before a missing field.
        assert_eq!(
            parse(json!({"password": "123"}), true),
            Some(("password_too_short".into(), Some("password".into())))
        );
        assert_eq!(parse(json!({}), false), None);
        assert_eq!(
            parse(
                json!({"first_name": "x".repeat(129), "password": "12345678"}),
                true
            ),
            Some(("max_length".into(), Some("first_name".into())))
        );
        assert_eq!(
            parse(json!({"first_name": " ", "password": "12345678"}), true),
            Some(("blank".into(), Some("first_name".into())))
        );
    }

    #[test]
    fn only_a_string_token_counts() {
        let token = |v: Value| check(&Data::Json(v), false).unwrap().token;
        assert_eq!(token(json!({"token": "abc"})).as_deref(), Some("abc"));
        for none in [json!({}), json!({"token": 5}), json!({"token": null})] {
            assert_eq!(token(none), None);
        }
        let signed_up = check(
            &Data::Json(json!({"role_at_organization": " ", "token": ["x"]})),
            false,
        )
        .unwrap();
        assert_eq!(signed_up.role_at_organization, "");
    }
}
