//! Account passwords: one scheme. New passwords are argon2id, stored in
//! Django's `argon2$argon2id$...` form so a PostHog database could read
//! them, and checked with Django's rules for new passwords. Django's
//! `pbkdf2_sha256$...` hashes (what `prickle admin create-user` stored
//! before it used this module) still verify.

use std::sync::Arc;
use std::time::Duration;

use argon2::password_hash::rand_core::{OsRng, RngCore};
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

impl HashSlots {
    /// Checks a password against a stored hash on a blocking thread,
    /// holding a slot as [`HashSlots::hash`] does. `None` (no account, or
    /// one without a password) is checked against a hash of a random
    /// password, so the work is the same whether or not the account exists
    /// and nothing matches.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, ApiError> {
        let slot = tokio::time::timeout(self.wait, self.slots.clone().acquire_owned())
            .await
            .map_err(|_| ApiError::busy("every password hash slot is taken"))?
            .map_err(ApiError::internal)?;
        tokio::task::spawn_blocking(move || {
            let matched = match &stored {
                Some(stored) => verify(&password, stored),
                None => {
                    let _ = verify(&password, dummy_hash());
                    false
                }
            };
            drop(slot);
            matched
        })
        .await
        .map_err(ApiError::internal)
    }
}

/// What an unknown account's password is checked against: a stored form
/// with argon2's parameters of a new hash, a random salt and a random
/// output, made once per process. Checking it costs what checking a real
/// hash costs, and nothing matches it; making it costs nothing (hashing a
/// random password instead held ~19 MiB at start-up, the largest part of
/// an idle server's peak memory).
fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| {
        let params = argon2::Params::default();
        let salt = SaltString::generate(&mut OsRng);
        let mut output = [0u8; argon2::Params::DEFAULT_OUTPUT_LEN];
        OsRng.fill_bytes(&mut output);
        let output = argon2::password_hash::Output::new(&output)
            .map(|o| o.to_string())
            .unwrap_or_default();
        format!(
            "argon2$argon2id$v=19$m={},t={},p={}${}${output}",
            params.m_cost(),
            params.t_cost(),
            params.p_cost(),
            salt.as_str(),
        )
    })
}

/// The stored form of a new password. Blocks for the length of one argon2
/// hash: the server goes through [`HashSlots::hash`]; the admin command,
/// which has nothing else to serve, calls this directly.
pub fn hash_now(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    let phc = Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| e.to_string())?
        .to_string();
    Ok(format!("argon2{phc}"))
}

/// Does `password` match a stored hash: `argon2$...`, or Django's
/// `pbkdf2_sha256$<iterations>$<salt>$<base64>`? Anything else never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    if let Some(rest) = stored.strip_prefix("pbkdf2_sha256$") {
        return verify_pbkdf2_sha256(password, rest);
    }
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

/// Far above any iteration count Django has used (1,000,000 in 5.x): a
/// damaged row must not hold a thread for minutes.
const MAX_PBKDF2_ITERATIONS: u32 = 10_000_000;

/// Django's `PBKDF2PasswordHasher.verify`: `<iterations>$<salt>$<hash>`
/// (the salt never holds `$`), PBKDF2-HMAC-SHA256 over the salt's UTF-8
/// bytes with a 32-byte key, its standard base64 compared in constant time.
fn verify_pbkdf2_sha256(password: &str, rest: &str) -> bool {
    use base64::Engine;
    use subtle::ConstantTimeEq;
    let mut parts = rest.splitn(3, '$');
    let (Some(iterations), Some(salt), Some(expected)) = (parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    let Ok(iterations) = iterations.parse::<u32>() else {
        return false;
    };
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS || salt.is_empty() {
        return false;
    }
    let mut key = [0u8; 32];
    pbkdf2::pbkdf2_hmac::<sha2::Sha256>(password.as_bytes(), salt.as_bytes(), iterations, &mut key);
    let computed = base64::engine::general_purpose::STANDARD.encode(key);
    computed.as_bytes().ct_eq(expected.as_bytes()).into()
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

    /// Hashes in the form `prickle admin create-user` stored before it
    /// used argon2id (600,000 iterations, a 22-character salt); the
    /// expected values come from Python's `hashlib.pbkdf2_hmac`, which
    /// Django's hasher calls.
    #[test]
    fn django_pbkdf2_sha256_still_verifies() {
        let old = "pbkdf2_sha256$600000$Q5jRk2bN8xWm3pLz7vYt0A$GE82+5DQLxCerzPWTfP2gAFdcY3YL7MRd9uggf34Mnk=";
        assert!(verify("correct horse battery", old));
        assert!(!verify("correct horse batterY", old));
        assert!(!verify("", old));
        let short = "pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=";
        assert!(verify("lètmein", short));
        assert!(!verify("letmein", short));
        for damaged in [
            "pbkdf2_sha256$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4B=",
            "pbkdf2_sha256$1001$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",
            "pbkdf2_sha256$1000$seasal$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",
            "pbkdf2_sha256$1000$seasalt$",
            "pbkdf2_sha256$0$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",
            "pbkdf2_sha256$4294967295$s$x",
            "pbkdf2_sha256$x$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",
            "pbkdf2_sha256$1000$seasalt",
            "pbkdf2_sha1$1000$seasalt$JgZryXe2Ga8ysg6XbzkLpTdyPQrHqsinbL9BnnhgX4A=",
            "",
        ] {
            assert!(!verify("lètmein", damaged), "{damaged}");
        }
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

    #[tokio::test]
    async fn verify_runs_the_same_work_for_an_unknown_account() {
        let slots = HashSlots::new(1, Duration::from_secs(5));
        let h = hash_now("correct horse").unwrap();
        assert!(slots
            .verify("correct horse".into(), Some(h.clone()))
            .await
            .unwrap());
        assert!(!slots.verify("wrong horse".into(), Some(h)).await.unwrap());
        assert!(!slots.verify("correct horse".into(), None).await.unwrap());
        // The dummy has the form and the parameters of a real hash.
        let real = hash_now("x").unwrap();
        let params = |h: &str| h.split('$').take(4).collect::<Vec<_>>().join("$");
        assert_eq!(params(dummy_hash()), params(&real));
        let phc = dummy_hash().strip_prefix("argon2").unwrap();
        let parsed = PasswordHash::new(phc).expect("a PHC string");
        assert_eq!(parsed.hash.map(|h| h.len()), Some(32));
        assert_eq!(parsed.salt.map(|s| s.len()), Some(22));
    }

    #[test]
    fn short_passwords_are_refused() {
        let e = check_new("1234567", "password").unwrap_err();
        assert_eq!(e.code, "password_too_short");
        assert_eq!(e.attr.as_deref(), Some("password"));
        assert!(check_new("12345678", "password").is_ok());
    }
}
