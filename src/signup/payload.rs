//! The sign-up request: the token that opens the invite (`?token=` or a
//! `token` body field) and the account fields of PostHog's invite sign-up
//! serializer.

use std::borrow::Cow;

use serde_json::{Map, Value};

use crate::drf::{self, CharOpts};
use crate::error::{ApiError, ApiResult};
use crate::http::ApiRequest;
use crate::passwords;

/// The token the caller presents: `?token=`, else a `token` field of the
/// sign-up body. A value that is not a string is no token.
pub fn presented_token(req: &ApiRequest, body: Option<&Map<String, Value>>) -> Option<String> {
    req.query()
        .remove("token")
        .or_else(|| body?.get("token")?.as_str().map(str::to_owned))
}

/// The sign-up body, as PostHog's invite sign-up serializer reads it.
pub struct Body {
    pub first_name: Option<String>,
    pub password: Option<String>,
    pub role_at_organization: String,
}

pub fn parse_body(body: &Map<String, Value>, anonymous: bool) -> ApiResult<Body> {
    let field = |name: &'static str, max: usize, allow_blank: bool| -> ApiResult<Option<String>> {
        match body.get(name) {
            None => Ok(None),
            Some(v) => {
                let opts = CharOpts {
                    allow_null: false,
                    allow_blank,
                    max_length: Some(max),
                };
                drf::char_field(v, &Cow::Borrowed(name), &opts)
            }
        }
    };
    let mut first: Option<ApiError> = None;
    let first_name = field("first_name", 128, false).unwrap_or_else(|e| {
        first.get_or_insert(e);
        None
    });
    let password = match field("password", 72, false) {
        Ok(Some(p)) => match passwords::check_new(&p, "password") {
            Ok(()) => Some(p),
            Err(e) => {
                first.get_or_insert(e);
                None
            }
        },
        Ok(None) => None,
        Err(e) => {
            first.get_or_insert(e);
            None
        }
    };
    let role_at_organization = field("role_at_organization", 128, true).unwrap_or_else(|e| {
        first.get_or_insert(e);
        None
    });
    if let Some(e) = first {
        return Err(e);
    }
    if anonymous {
        if first_name.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::required("first_name"));
        }
        if password.as_deref().is_none_or(str::is_empty) {
            return Err(ApiError::required("password"));
        }
    }
    Ok(Body {
        first_name,
        password,
        role_at_organization: role_at_organization.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn body_rules() {
        let parse = |v: Value, anon| {
            parse_body(v.as_object().unwrap(), anon)
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
        assert_eq!(parse(json!({}), false), None);
        assert_eq!(
            parse(
                json!({"first_name": "x".repeat(129), "password": "12345678"}),
                true
            ),
            Some(("max_length".into(), Some("first_name".into())))
        );
    }
}
