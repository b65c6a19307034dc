//! Rendered GET project bodies, kept until the next commit to the database:
//! a hit skips the project's query and its render.
//!
//! Kept in the process's shared store (`http::rendered`, tagged with the
//! commit generation, bounded by bytes) for everything a body depends on:
//! the project, the viewer (user id and level on the project:
//! `effective_membership_level`, `user_access_level`) and, through its
//! livestream token, the organization, the signing key and the time
//! (`live_events`: shown again only while its token would be).

use bytes::Bytes;

use crate::http::rendered::Store;

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

pub struct Kept {
    organization_id: Box<str>,
    signing_key: Box<[u8]>,
    /// Unix seconds: shown again only before this.
    reusable_until: i64,
    body: Bytes,
}

pub type Bodies = Store<Key, Kept>;

/// The body kept for `key` at `generation` if it was rendered `with` these
/// and is still good at `now`.
pub fn get(
    bodies: &Bodies,
    key: &Key,
    generation: u64,
    with: &Rendered<'_>,
    now: i64,
) -> Option<Bytes> {
    bodies.get(key, generation, |k| {
        let same = *k.organization_id == *with.organization_id
            && *k.signing_key == *with.signing_key
            && now < k.reusable_until;
        same.then(|| k.body.clone())
    })
}

/// Keeps `body`, rendered for `key` from what was read at `generation`.
pub fn put(
    bodies: &Bodies,
    key: Key,
    generation: u64,
    with: &Rendered<'_>,
    reusable_until: i64,
    body: Bytes,
) {
    let bytes = body.len() + with.organization_id.len() + with.signing_key.len();
    let kept = Kept {
        organization_id: with.organization_id.into(),
        signing_key: with.signing_key.into(),
        reusable_until,
        body,
    };
    bodies.put(key, generation, kept, bytes);
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
        let b = Bodies::new(1 << 20);
        put(&b, key(1, 2, 1), 5, &WITH, 100, Bytes::from_static(b"{}"));
        assert_eq!(
            get(&b, &key(1, 2, 1), 5, &WITH, 99).as_deref(),
            Some(&b"{}"[..])
        );
        // Another viewer, level, project; a commit since; the token's age.
        assert!(get(&b, &key(1, 3, 1), 5, &WITH, 99).is_none());
        assert!(get(&b, &key(1, 2, 8), 5, &WITH, 99).is_none());
        assert!(get(&b, &key(2, 2, 1), 5, &WITH, 99).is_none());
        assert!(get(&b, &key(1, 2, 1), 6, &WITH, 99).is_none());
        assert!(get(&b, &key(1, 2, 1), 5, &WITH, 100).is_none());
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
            assert!(get(&b, &key(1, 2, 1), 5, &other, 99).is_none());
        }
    }
}
