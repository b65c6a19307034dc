//! Which user a key may address: without staff users, only `@me`.

use crate::error::{ApiError, ApiResult};

/// PostHog's non-staff answer for any user but the caller (`uuid`: the
/// path's `:uuid`).
pub fn only_me(uuid: Option<&str>) -> ApiResult<()> {
    if uuid == Some("@me") {
        Ok(())
    } else {
        Err(ApiError::permission_denied(
            "As a non-staff user you're only allowed to access the `@me` user instance.",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_me_is_addressable() {
        assert!(only_me(Some("@me")).is_ok());
        for other in [
            None,
            Some("@ME"),
            Some("0190b7d2-0000-7000-8000-000000000000"),
        ] {
            let e = only_me(other).unwrap_err();
            assert_eq!(e.status.as_u16(), 403, "{other:?}");
        }
    }
}
