//! Secrets: generating keys and tokens, and how keys are stored.
//!
//! Personal API keys are long random secrets, so a fast unsalted SHA-256 is
//! as strong as a slow hash here, and costs nothing per request. Only the
//! digest and a mask are stored.

use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

const BASE62: &[u8] = b"0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// `len` characters drawn uniformly from base62 (43 characters ≈ 256 bits).
pub fn random_token(len: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..len)
        .map(|_| BASE62[rng.gen_range(0..BASE62.len())] as char)
        .collect()
}

/// A new personal API key value.
pub fn new_personal_api_key() -> String {
    format!("phx_{}", random_token(47))
}

/// A new project (client-side, public) token.
pub fn new_project_token() -> String {
    format!("phc_{}", random_token(43))
}

/// PostHog's current stored form: `sha256$<hex digest>`.
pub fn secure_value(key: &str) -> String {
    format!("sha256${}", hex::encode(Sha256::digest(key.as_bytes())))
}

/// Compares a stored digest with a computed one without leaking, through
/// timing, how many leading characters matched.
pub fn digests_match(stored: &str, computed: &str) -> bool {
    stored.len() == computed.len() && bool::from(stored.as_bytes().ct_eq(computed.as_bytes()))
}

/// `phx_...abcd`; short values are fully hidden.
pub fn mask(value: &str) -> String {
    let chars: Vec<char> = value.chars().collect();
    if chars.len() < 16 {
        return "********".into();
    }
    let head: String = chars[..4].iter().collect();
    let tail: String = chars[chars.len() - 4..].iter().collect();
    format!("{head}...{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_matches_posthog() {
        // PostHog's test_hash_key_values.
        assert_eq!(
            secure_value("test_key_12345"),
            "sha256$45af89b510a3279a817f851de5d3f95b73485d58ec2672a39e52d8aeeb014059"
        );
    }

    #[test]
    fn generated_values_have_their_prefixes_and_differ() {
        let a = new_personal_api_key();
        assert!(a.starts_with("phx_") && a.len() == 51);
        assert_ne!(a, new_personal_api_key());
        assert!(new_project_token().starts_with("phc_"));
    }

    #[test]
    fn masks() {
        assert_eq!(mask("phx_0123456789abcdefWXYZ"), "phx_...WXYZ");
        assert_eq!(mask("short"), "********");
    }

    #[test]
    fn constant_time_compare() {
        let d = secure_value("k");
        assert!(digests_match(&d, &secure_value("k")));
        assert!(!digests_match(&d, &secure_value("j")));
        assert!(!digests_match(&d, "sha256$"));
    }
}
