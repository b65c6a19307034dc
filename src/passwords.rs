//! Account passwords: argon2id, stored in Django's `argon2$argon2id$...`
//! form so a PostHog database could read them, and checked with Django's
//! rules for new passwords.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use tokio::sync::Semaphore;

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

/// The hashes that may run at once. Each argon2 hash holds ~19 MiB for its
/// whole run, so unbounded concurrent sign-ups are unbounded memory: beyond
/// the bound a request waits a little for a slot, then gets 503 with
/// `Retry-After` and the server's memory stays where it was.
pub struct HashSlots {
    slots: Arc<Semaphore>,
    wait: Duration,
}

impl HashSlots {
    pub fn new(slots: usize, wait: Duration) -> HashSlots {
        HashSlots {
            slots: Arc::new(Semaphore::new(slots)),
            wait,
        }
    }

    /// Hashes on a blocking thread (argon2 is deliberately slow, and the
    /// runtime's threads have other requests to serve), holding a slot.
    pub async fn hash(&self, password: String) -> Result<String, ApiError> {
        let slot = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::busy("every password hash slot is taken"))?
            .map_err(ApiError::internal)?;
        // The slot moves into the blocking task: a client that hangs up does
        // not free it while its hash still runs.
        tokio::task::spawn_blocking(move || {
            let hashed = hash_now(&password);
            drop(slot);
            hashed
        })
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
    }
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

    #[tokio::test]
    async fn hashes_beyond_the_slots_are_refused_after_the_wait() {
        let none = HashSlots::new(0, Duration::from_millis(10));
        let e = none.hash("correct horse".into()).await.unwrap_err();
        assert_eq!(e.status.as_u16(), 503);
        assert_eq!(e.code, "service_unavailable");
        let one = HashSlots::new(1, Duration::ZERO);
        let h = one.hash("correct horse".into()).await.unwrap();
        assert!(verify("correct horse", &h));
        // The slot came back after the hash.
        assert!(one.hash("correct horse".into()).await.is_ok());
    }

    #[test]
    fn short_passwords_are_refused() {
        let e = check_new("1234567", "password").unwrap_err();
        assert_eq!(e.code, "password_too_short");
        assert_eq!(e.attr.as_deref(), Some("password"));
        assert!(check_new("12345678", "password").is_ok());
    }
}
