//! The sign-up token: proof that whoever accepts an invite received its
//! link. Every member can list invite ids, so the id alone must not open an
//! invite. The token is as long as a personal API key's secret and stored
//! only as its SHA-256 digest (a fast digest is enough for 256 random bits),
//! so neither the API nor the database can show it again: the inviter sees
//! the link once, in the create response, and the invitee gets it by email.

use crate::auth::keys;

/// ≈256 bits, in base62.
const LENGTH: usize = 43;

/// A fresh token and the digest that is all the database keeps.
pub fn new() -> (String, String) {
    let token = keys::random_token(LENGTH);
    let digest = keys::secure_value(&token);
    (token, digest)
}

/// `SITE_URL/signup/<invite id>?token=<token>`: the page the emailed link
/// opens; it calls `/api/signup/<invite id>/` with the same token. The token
/// is base62, so it needs no escaping.
pub fn signup_url(site_url: &str, invite_id: &str, token: &str) -> String {
    format!(
        "{}/signup/{invite_id}?token={token}",
        site_url.trim_end_matches('/')
    )
}

/// Does the presented token open the invite? An invite without a digest
/// (made before tokens existed) opens to none; a missing token opens
/// nothing. Compared in constant time.
pub fn opens(stored_digest: Option<&str>, presented: Option<&str>) -> bool {
    match (stored_digest, presented) {
        (Some(stored), Some(token)) if !token.is_empty() => {
            keys::digests_match(stored, &keys::secure_value(token))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_issued_token_opens_the_invite() {
        let (token, digest) = new();
        assert_eq!(token.len(), LENGTH);
        assert!(opens(Some(&digest), Some(&token)));
        assert!(!opens(Some(&digest), Some(&token[1..])));
        assert!(!opens(Some(&digest), Some("")));
        assert!(!opens(Some(&digest), None));
        // Invites from before tokens: no token opens them.
        assert!(!opens(None, Some(&token)));
        assert!(!opens(None, None));
        // The digest itself is not a token.
        assert!(!opens(Some(&digest), Some(&digest)));
        assert_ne!(new().0, token);
    }

    #[test]
    fn links_carry_the_token() {
        assert_eq!(
            signup_url("https://app.example.com/", "abc", "T0k"),
            "https://app.example.com/signup/abc?token=T0k"
        );
    }
}
