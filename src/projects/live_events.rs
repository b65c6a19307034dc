//! PostHog's livestream token, a project detail's `live_events_token`: a
//! JWT (HS256, audience `posthog:livestream`) naming the project, its token,
//! the viewer and the organization, valid for 7 days from signing.
//!
//! Signing one was a quarter of a GET project's instructions (callgrind),
//! and a token stays good all week: each thread keeps the tokens it signed
//! and shows one again while more than 6 days of it are left, so a client
//! always gets a token good for at least 6 days. A kept token is shown only
//! for the same project, token, viewer, organization and signing key.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::model::Project;

/// How long a token is valid, in seconds (PostHog's).
const VALID_FOR: i64 = 7 * 24 * 3600;

/// A kept token is shown again only while more than this is left of it.
const REUSE_WHILE_LEFT: i64 = 6 * 24 * 3600;

/// Tokens kept per thread (a few hundred bytes each); a thread that has
/// this many drops them all and starts again.
const MAX_KEPT: usize = 4096;

/// A token as shown.
pub struct Signed {
    pub text: Rc<str>,
    /// Until when (Unix seconds) the same token may be shown again.
    pub reusable_until: i64,
}

struct Kept {
    api_token: String,
    organization_id: String,
    signing_key: Box<[u8]>,
    exp: i64,
    text: Rc<str>,
}

impl Kept {
    fn signed(&self) -> Signed {
        Signed {
            text: self.text.clone(),
            reusable_until: self.exp - REUSE_WHILE_LEFT,
        }
    }
}

thread_local! {
    /// By (project id, user id).
    static KEPT: RefCell<HashMap<(i64, i64), Kept>> = RefCell::new(HashMap::new());
}

/// The token of `project` for the user `user_id`, signed with `signing_key`,
/// as of `now` (Unix seconds): a kept one while it is good enough.
pub fn token(project: &Project, user_id: i64, signing_key: &[u8], now: i64) -> Signed {
    let key = (project.id, user_id);
    let kept = KEPT.try_with(|kept| {
        let kept = kept.borrow();
        let k = kept.get(&key)?;
        let same = k.api_token == project.api_token
            && k.organization_id == project.organization_id
            && *k.signing_key == *signing_key;
        (same && k.exp - now > REUSE_WHILE_LEFT).then(|| k.signed())
    });
    if let Ok(Some(signed)) = kept {
        return signed;
    }
    let exp = now + VALID_FOR;
    let kept = Kept {
        api_token: project.api_token.clone(),
        organization_id: project.organization_id.clone(),
        signing_key: signing_key.into(),
        exp,
        text: sign(project, user_id, signing_key, exp).into(),
    };
    let signed = kept.signed();
    let _ = KEPT.try_with(|k| {
        let mut k = k.borrow_mut();
        if k.len() >= MAX_KEPT {
            k.clear();
        }
        k.insert(key, kept);
    });
    signed
}

fn sign(project: &Project, user_id: i64, signing_key: &[u8], exp: i64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = json!({
        "team_id": project.id,
        "api_token": project.api_token,
        "user_id": user_id,
        "organization_id": project.organization_id,
        "exp": exp,
        "aud": "posthog:livestream",
    });
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let signing_input = format!("{header}.{payload}");
    let mut mac = Hmac::<Sha256>::new_from_slice(signing_key).expect("HMAC accepts any key length");
    mac.update(signing_input.as_bytes());
    format!(
        "{signing_input}.{}",
        URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn project(id: i64, api_token: &str) -> Project {
        Project {
            id,
            uuid: "u".into(),
            organization_id: "o".into(),
            name: "N".into(),
            product_description: None,
            is_demo: false,
            api_token: api_token.into(),
            secret_api_token: None,
            secret_api_token_backup: None,
            ingested_event: false,
            settings_json: "{}".into(),
            created_at: 0,
            updated_at: 0,
        }
    }

    /// The claims, after checking the signature.
    fn claims(token: &str, key: &[u8]) -> Value {
        let (input, signature) = token.rsplit_once('.').unwrap();
        let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap();
        mac.update(input.as_bytes());
        mac.verify_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap())
            .expect("signed with the key");
        let payload = input.split('.').nth(1).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
    }

    #[test]
    fn a_token_is_shown_again_while_more_than_six_days_are_left() {
        let p = project(9_001, "phc_a");
        let now = 1_700_000_000;
        let first = token(&p, 3, b"k", now);
        let c = claims(&first.text, b"k");
        assert_eq!(c["exp"], now + VALID_FOR);
        assert_eq!(c["team_id"], 9_001);
        assert_eq!(c["user_id"], 3);
        assert_eq!(c["api_token"], "phc_a");
        assert_eq!(c["organization_id"], "o");
        assert_eq!(c["aud"], "posthog:livestream");
        assert_eq!(first.reusable_until, now + 24 * 3600);
        // Within the day: the same token.
        let later = token(&p, 3, b"k", now + 24 * 3600 - 1);
        assert!(Rc::ptr_eq(&first.text, &later.text));
        // A day on, six days are left: signed again, for seven.
        let next = token(&p, 3, b"k", now + 24 * 3600);
        assert_ne!(next.text, first.text);
        assert_eq!(claims(&next.text, b"k")["exp"], now + 24 * 3600 + VALID_FOR);
    }

    #[test]
    fn a_token_is_shown_only_for_what_it_names() {
        let now = 1_700_000_000;
        let p = project(9_002, "phc_a");
        let first = token(&p, 3, b"k", now);
        for (other, user, key) in [
            (project(9_002, "phc_rolled"), 3, &b"k"[..]),
            (project(9_003, "phc_a"), 3, b"k"),
            (p.clone(), 4, b"k"),
            (p.clone(), 3, b"another key"),
        ] {
            let t = token(&other, user, key, now);
            assert_ne!(t.text, first.text);
            let c = claims(&t.text, key);
            assert_eq!(c["api_token"], other.api_token.as_str());
            assert_eq!(c["team_id"], other.id);
            assert_eq!(c["user_id"], user);
        }
        let mut moved = p.clone();
        moved.organization_id = "o2".into();
        let t = token(&moved, 3, b"k", now);
        assert_eq!(claims(&t.text, b"k")["organization_id"], "o2");
    }

    #[test]
    fn the_kept_tokens_are_bounded() {
        for id in 0..(MAX_KEPT as i64 + 10) {
            token(&project(id, "phc_a"), 1, b"k", 1_700_000_000);
            assert!(KEPT.with(|k| k.borrow().len()) <= MAX_KEPT);
        }
    }
}
