//! Rendered GET project bodies, per thread, while nothing is committed to
//! the database (SQLite): a hit skips the project's query and its render.
//!
//! Each body is tagged, as `members::cache`'s pages are, with the read
//! connection's number and SQLite's `data_version` (`Tx::read_version`),
//! read before the project: any commit by anyone (this process's writer or
//! another process) changes the token, and the next request renders again.
//! A body is kept for everything it depends on: the project, the viewer
//! (user id and level on the project: `effective_membership_level`,
//! `user_access_level`) and, through its livestream token, the
//! organization, the signing key and the time (`live_events`: shown again
//! only while its token would be). PostgreSQL has no such token and always
//! queries.
//!
//! Bounded by bytes per thread: past [`MAX_BYTES`] the thread drops bodies
//! in the map's order (any order suits a cache whose bodies are all the
//! same age: one token) until the new one fits.

use std::cell::RefCell;
use std::collections::HashMap;

use bytes::Bytes;

type Token = (u64, i64);

/// Body bytes kept per thread.
pub const MAX_BYTES: usize = 8 << 20;

/// Who sees which project.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub project_id: i64,
    pub user_id: i64,
    /// The viewer's level on the project (`ProjectLevel::as_i64`).
    pub level: i64,
}

/// What a body was rendered with, besides its key: checked on each use.
pub struct Rendered<'a> {
    pub organization_id: &'a str,
    pub signing_key: &'a [u8],
}

struct Kept {
    organization_id: String,
    signing_key: Box<[u8]>,
    /// Unix seconds: shown again only before this.
    reusable_until: i64,
    body: Bytes,
}

#[derive(Default)]
struct Bodies {
    /// The token every kept body was read at.
    token: Option<Token>,
    bytes: usize,
    kept: HashMap<Key, Kept>,
}

thread_local! {
    static BODIES: RefCell<Bodies> = RefCell::new(Bodies::default());
}

/// The body kept for `key` if nothing was committed since it was rendered
/// (`token` is the request's, read now), it was rendered with `with`, and
/// it is still good at `now`.
pub fn get(key: &Key, token: Token, with: &Rendered<'_>, now: i64) -> Option<Bytes> {
    BODIES
        .try_with(|b| {
            let b = b.borrow();
            if b.token != Some(token) {
                return None;
            }
            let k = b.kept.get(key)?;
            let same = k.organization_id == with.organization_id
                && *k.signing_key == *with.signing_key
                && now < k.reusable_until;
            same.then(|| k.body.clone())
        })
        .ok()
        .flatten()
}

/// Keeps `body`, rendered for `key` from what was read after `token`.
pub fn put(key: Key, token: Token, with: &Rendered<'_>, reusable_until: i64, body: Bytes) {
    let size = body.len() + with.organization_id.len() + with.signing_key.len();
    if size > MAX_BYTES {
        return;
    }
    let _ = BODIES.try_with(|b| {
        let mut b = b.borrow_mut();
        if b.token != Some(token) {
            b.kept.clear();
            b.bytes = 0;
            b.token = Some(token);
        }
        if let Some(old) = b.kept.remove(&key) {
            b.bytes -= weight(&old);
        }
        while b.bytes + size > MAX_BYTES {
            let Some(evicted) = b.kept.keys().next().copied() else {
                break;
            };
            if let Some(old) = b.kept.remove(&evicted) {
                b.bytes -= weight(&old);
            }
        }
        b.bytes += size;
        b.kept.insert(
            key,
            Kept {
                organization_id: with.organization_id.to_string(),
                signing_key: with.signing_key.into(),
                reusable_until,
                body,
            },
        );
    });
}

fn weight(k: &Kept) -> usize {
    k.body.len() + k.organization_id.len() + k.signing_key.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    const WITH: Rendered<'static> = Rendered {
        organization_id: "o",
        signing_key: b"k",
    };

    fn key(project_id: i64, user_id: i64, level: i64) -> Key {
        Key {
            project_id,
            user_id,
            level,
        }
    }

    #[test]
    fn a_body_is_shown_only_as_it_was_rendered() {
        let t = (1, 5);
        put(key(1, 2, 1), t, &WITH, 100, Bytes::from_static(b"{}"));
        assert_eq!(
            get(&key(1, 2, 1), t, &WITH, 99).as_deref(),
            Some(&b"{}"[..])
        );
        // Another viewer, level, project; a commit since; the token's age.
        assert!(get(&key(1, 3, 1), t, &WITH, 99).is_none());
        assert!(get(&key(1, 2, 8), t, &WITH, 99).is_none());
        assert!(get(&key(2, 2, 1), t, &WITH, 99).is_none());
        assert!(get(&key(1, 2, 1), (1, 6), &WITH, 99).is_none());
        assert!(get(&key(1, 2, 1), (2, 5), &WITH, 99).is_none());
        assert!(get(&key(1, 2, 1), t, &WITH, 100).is_none());
        for other in [
            Rendered {
                organization_id: "p",
                signing_key: b"k",
            },
            Rendered {
                organization_id: "o",
                signing_key: b"j",
            },
        ] {
            assert!(get(&key(1, 2, 1), t, &other, 99).is_none());
        }
        // A body read at a newer token replaces every older one.
        put(key(3, 2, 1), (1, 6), &WITH, 100, Bytes::from_static(b"[]"));
        assert!(get(&key(1, 2, 1), t, &WITH, 99).is_none());
        assert!(get(&key(3, 2, 1), (1, 6), &WITH, 99).is_some());
    }

    #[test]
    fn the_bodies_kept_are_bounded_by_bytes() {
        let body = Bytes::from(vec![b' '; 100_000]);
        for p in 0..500 {
            put(key(p, 1, 1), (7, 7), &WITH, 100, body.clone());
            let bytes = BODIES.with(|b| b.borrow().bytes);
            assert!(bytes <= MAX_BYTES, "{bytes}");
        }
        let (bytes, n) = BODIES.with(|b| (b.borrow().bytes, b.borrow().kept.len()));
        assert_eq!(bytes, n * (100_000 + 2));
        assert!(n >= MAX_BYTES / 100_002 - 1, "{n}");
        assert!(get(&key(499, 1, 1), (7, 7), &WITH, 99).is_some());
        // A body larger than the bound is not kept.
        put(
            key(1_000, 1, 1),
            (7, 7),
            &WITH,
            100,
            Bytes::from(vec![b' '; MAX_BYTES]),
        );
        assert!(get(&key(1_000, 1, 1), (7, 7), &WITH, 99).is_none());
    }
}
