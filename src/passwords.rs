//! Account passwords: argon2id, stored in Django's `argon2$argon2id$...`
//! form so a PostHog database could read them, and checked with Django's
//! rules for new passwords.

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;

use crate::error::ApiError;

/// Django's `MinimumLengthValidator` default.
pub const MIN_LENGTH: usize = 8;

/// Django's validator message and code for a short password.
pub fn check_new(password: &str, attr: &'static str) -> Result<(), ApiError> {
    if password.chars().count() < MIN_LENGTH {
        return Err(ApiError::validation(
            "password_too_short",
            format!(
                "This password is too short. It must contain at least {MIN_LENGTH} characters."
            ),
        )
        .at(attr));
    }
    Ok(())
}

/// Hashes on a blocking thread: argon2 is deliberately slow, and the
/// request's runtime thread has other requests to serve.
pub async fn hash(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || hash_now(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

fn hash_now(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let phc = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| e.to_string())?
        .to_string();
    Ok(format!("argon2{phc}"))
}

/// Does `password` match a stored `argon2$...` hash?
pub fn verify(password: &str, stored: &str) -> bool {
    let Some(phc) = stored.strip_prefix("argon2") else {
        return false;
    };
    PasswordHash::new(phc)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn argon2id_in_django_form() {
        let h = hash_now("correct horse battery").unwrap();
        assert!(h.starts_with("argon2$argon2id$v=19$"), "{h}");
        assert!(verify("correct horse battery", &h));
        assert!(!verify("wrong", &h));
        assert!(!verify("x", "pbkdf2_sha256$1$a$b"));
        assert_ne!(h, hash_now("correct horse battery").unwrap(), "salted");
    }

    #[test]
    fn short_passwords_are_refused() {
        let e = check_new("1234567", "password").unwrap_err();
        assert_eq!(e.code, "password_too_short");
        assert_eq!(e.attr.as_deref(), Some("password"));
        assert!(check_new("12345678", "password").is_ok());
    }
}
