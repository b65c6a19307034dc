//! The authorization cache: what keys may reach, kept per process so that
//! a warm request authorizes without a query.
//!
//! It holds the answers of the route checks' lookups: a key (by digest)
//! with its user and grant; an organization with the user's membership of
//! it; the rules that apply to a membership on a project; a project found
//! from `/api/projects/` with its organization, the user's membership and
//! rules. Every entry was read at one grants epoch (`storage::grants`),
//! which every change to any of that bumps in its own transaction; the
//! cache holds the entries of one epoch only and is emptied when a newer
//! one is seen. How a request knows the epoch is current is its [`View`].
//!
//! Bounded: two generations of at most half the capacity each; a hit in
//! the older one moves the entry to the newer, and when the newer is full
//! the older is dropped (an approximate LRU without a list to maintain).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::access::rules::Rules;
use crate::access::store::ProjectAccess;
use crate::organizations::{MembershipLevel, Organization};
use crate::storage::{grants, Db, DbResult, Tx};

use super::Caller;

/// The entries kept when nothing else is configured
/// (`PRICKLE_AUTH_CACHE_ENTRIES`): a few KB each at most.
pub const DEFAULT_ENTRIES: usize = 10_000;

/// How one request may use the cache, decided when it authenticates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Not at all: caching is off, the PostgreSQL listener is down, or the
    /// request is answered again after its grants moved.
    Off,
    /// SQLite: the epoch now, vouched for by `data_version`.
    Current(i64),
    /// PostgreSQL: the listener is up; an entry used is checked by the
    /// request's first statement (`grants::expect`).
    Watched,
}

/// A key as the lookup found it.
#[derive(Clone, Debug)]
pub struct KeyEntry {
    pub stored_digest: String,
    pub last_used_at: Option<i64>,
    pub caller: Caller,
}

pub type OrgEntry = Option<(Organization, Option<MembershipLevel>)>;

#[derive(Clone, PartialEq, Eq, Hash)]
enum Key {
    Digest(String),
    Organization(String, i64),
    ProjectRules(String, i64, String),
    RootProject(i64, i64),
}

#[derive(Clone)]
enum Entry {
    ApiKey(Arc<KeyEntry>),
    Organization(Arc<OrgEntry>),
    ProjectRules(Option<Rules>),
    RootProject(Option<Arc<ProjectAccess>>),
}

struct Inner {
    /// The epoch every entry was read at; `None` while empty.
    epoch: Option<i64>,
    /// `Db::grants_watch` when the entries were read (PostgreSQL: any
    /// notification changes it).
    watch: u64,
    newer: HashMap<Key, Entry>,
    older: HashMap<Key, Entry>,
}

impl Inner {
    fn clear(&mut self) {
        self.epoch = None;
        self.newer.clear();
        self.older.clear();
    }
}

pub struct AuthCache {
    /// Entries at most, in both generations; 0: off.
    capacity: usize,
    inner: Mutex<Inner>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl AuthCache {
    pub fn new(capacity: usize) -> AuthCache {
        AuthCache {
            capacity,
            inner: Mutex::new(Inner {
                epoch: None,
                watch: 0,
                newer: HashMap::new(),
                older: HashMap::new(),
            }),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding it leaves maps that are still maps.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Forgets everything (PostgreSQL: the epoch moved before its
    /// notification arrived; whatever is kept is older).
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Hits, misses and entries now (`/metrics`).
    pub fn counts(&self) -> (u64, u64, usize) {
        let entries = {
            let inner = self.lock();
            inner.newer.len() + inner.older.len()
        };
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
            entries,
        )
    }

    /// How this request may use the cache; `tx` is the request's read
    /// transaction (SQLite reads the epoch through it when something was
    /// committed since this thread last looked).
    pub async fn view(&self, db: &Db, tx: &mut Tx) -> DbResult<View> {
        if self.capacity == 0 || !grants::cache_allowed() {
            return Ok(View::Off);
        }
        let Some(watch) = db.grants_watch() else {
            self.lock().clear();
            return Ok(View::Off);
        };
        let current = tx.grants_epoch().await?;
        let mut inner = self.lock();
        if inner.watch != watch {
            inner.clear();
            inner.watch = watch;
        }
        Ok(match current {
            Some(epoch) => {
                if inner.epoch != Some(epoch) {
                    inner.clear();
                    inner.epoch = Some(epoch);
                }
                View::Current(epoch)
            }
            None => View::Watched,
        })
    }

    /// The epoch to tag what `tx` reads next with (read now on PostgreSQL,
    /// before those statements); `None`: nothing is kept.
    pub async fn load_epoch(&self, view: View, tx: &mut Tx) -> DbResult<Option<i64>> {
        Ok(match view {
            View::Off => None,
            View::Current(epoch) => Some(epoch),
            View::Watched => Some(tx.read_grants_epoch().await?),
        })
    }

    fn get(&self, view: View, key: &Key) -> Option<Entry> {
        if view == View::Off {
            return None;
        }
        let mut inner = self.lock();
        let epoch = match (view, inner.epoch) {
            (View::Current(e), Some(kept)) if e == kept => kept,
            (View::Watched, Some(kept)) => kept,
            _ => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                return None;
            }
        };
        let found = match inner.newer.get(key) {
            Some(e) => Some(e.clone()),
            None => match inner.older.remove(key) {
                Some(e) => {
                    self.put_newer(&mut inner, key.clone(), e.clone());
                    Some(e)
                }
                None => None,
            },
        };
        drop(inner);
        // PostgreSQL: the request's first statement checks the epoch; where
        // it cannot (no retry around it) the entry is not used.
        let found = found.filter(|_| view != View::Watched || grants::expect(epoch));
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.fetch_add(1, Ordering::Relaxed);
        found
    }

    fn put(&self, epoch: Option<i64>, key: Key, entry: Entry) {
        let Some(epoch) = epoch else { return };
        let mut inner = self.lock();
        match inner.epoch {
            Some(kept) if kept > epoch => return,
            Some(kept) if kept == epoch => {}
            _ => {
                inner.clear();
                inner.epoch = Some(epoch);
            }
        }
        self.put_newer(&mut inner, key, entry);
    }

    fn put_newer(&self, inner: &mut Inner, key: Key, entry: Entry) {
        if inner.newer.len() >= self.capacity.div_ceil(2) {
            inner.older = std::mem::take(&mut inner.newer);
        }
        inner.newer.insert(key, entry);
    }

    pub fn key(&self, view: View, digest: &str) -> Option<Arc<KeyEntry>> {
        match self.get(view, &Key::Digest(digest.to_string()))? {
            Entry::ApiKey(k) => Some(k),
            _ => None,
        }
    }

    pub fn put_key(&self, epoch: Option<i64>, digest: &str, entry: KeyEntry) {
        let key = Key::Digest(digest.to_string());
        self.put(epoch, key, Entry::ApiKey(Arc::new(entry)));
    }

    /// A key's `last_used_at` moved (this process bumped it): the bump is
    /// not a grant change, so it is applied to the kept entry only.
    pub fn touched(&self, digest: &str, at: i64) {
        let mut inner = self.lock();
        let key = Key::Digest(digest.to_string());
        if let Some(Entry::ApiKey(k)) = inner.newer.get_mut(&key) {
            let mut entry = KeyEntry::clone(k);
            entry.last_used_at = Some(at);
            *k = Arc::new(entry);
        }
        inner.older.remove(&key);
    }

    pub fn organization(&self, view: View, org: &str, user: i64) -> Option<Arc<OrgEntry>> {
        match self.get(view, &Key::Organization(org.to_string(), user))? {
            Entry::Organization(o) => Some(o),
            _ => None,
        }
    }

    pub fn put_organization(&self, epoch: Option<i64>, org: &str, user: i64, entry: OrgEntry) {
        let key = Key::Organization(org.to_string(), user);
        self.put(epoch, key, Entry::Organization(Arc::new(entry)));
    }

    pub fn project_rules(
        &self,
        view: View,
        org: &str,
        project: i64,
        membership: &str,
    ) -> Option<Option<Rules>> {
        let key = Key::ProjectRules(org.to_string(), project, membership.to_string());
        match self.get(view, &key)? {
            Entry::ProjectRules(r) => Some(r),
            _ => None,
        }
    }

    pub fn put_project_rules(
        &self,
        epoch: Option<i64>,
        org: &str,
        project: i64,
        membership: &str,
        rules: Option<Rules>,
    ) {
        let key = Key::ProjectRules(org.to_string(), project, membership.to_string());
        self.put(epoch, key, Entry::ProjectRules(rules));
    }

    pub fn root_project(
        &self,
        view: View,
        project: i64,
        user: i64,
    ) -> Option<Option<Arc<ProjectAccess>>> {
        match self.get(view, &Key::RootProject(project, user))? {
            Entry::RootProject(a) => Some(a),
            _ => None,
        }
    }

    pub fn put_root_project(
        &self,
        epoch: Option<i64>,
        project: i64,
        user: i64,
        access: Option<Arc<ProjectAccess>>,
    ) {
        self.put(
            epoch,
            Key::RootProject(project, user),
            Entry::RootProject(access),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(n: i64) -> Option<Rules> {
        Some(Rules {
            member: Some(crate::access::rules::RuleLevel::from_i64(n)),
            ..Rules::NONE
        })
    }

    #[test]
    fn entries_of_one_epoch_only() {
        let cache = AuthCache::new(100);
        let now = View::Current(3);
        assert_eq!(cache.project_rules(now, "o", 1, "m"), None);
        cache.put_project_rules(Some(3), "o", 1, "m", rules(1));
        assert_eq!(cache.project_rules(now, "o", 1, "m"), Some(rules(1)));
        // An older read is not kept over newer entries.
        cache.put_project_rules(Some(2), "o", 2, "m", rules(8));
        assert_eq!(cache.project_rules(now, "o", 2, "m"), None);
        // A newer epoch empties the cache.
        assert_eq!(cache.project_rules(View::Current(4), "o", 1, "m"), None);
        cache.put_project_rules(Some(4), "o", 2, "m", rules(8));
        assert_eq!(cache.project_rules(now, "o", 2, "m"), None);
        assert_eq!(
            cache.project_rules(View::Current(4), "o", 2, "m"),
            Some(rules(8))
        );
        assert_eq!(cache.project_rules(View::Off, "o", 2, "m"), None);
        cache.put_project_rules(None, "o", 3, "m", rules(1));
        assert_eq!(cache.project_rules(View::Current(4), "o", 3, "m"), None);
    }

    #[test]
    fn bounded_by_its_capacity() {
        let cache = AuthCache::new(10);
        let now = View::Current(1);
        for p in 0..1000 {
            cache.put_project_rules(Some(1), "o", p, "m", rules(1));
            let (_, _, entries) = cache.counts();
            assert!(entries <= 10, "{entries} entries");
        }
        // The most recent are kept, and so is one read as often.
        cache.put_project_rules(Some(1), "o", 0, "m", rules(1));
        for p in 1000..2000 {
            cache.put_project_rules(Some(1), "o", p, "m", rules(1));
            assert!(cache.project_rules(now, "o", 0, "m").is_some(), "{p}");
        }
        assert_eq!(cache.project_rules(now, "o", 1999, "m"), Some(rules(1)));
        assert_eq!(cache.project_rules(now, "o", 1500, "m"), None);
    }

    #[test]
    fn capacity_zero_keeps_nothing_useful() {
        let cache = AuthCache::new(0);
        let (_, _, entries) = cache.counts();
        assert_eq!(entries, 0);
    }
}
