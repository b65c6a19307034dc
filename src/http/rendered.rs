//! Rendered answers kept until the next commit to the database,
//! shared by every thread of the process and bounded by bytes: a list's
//! page (the same text for every caller it is keyed for) and a project's
//! body (`projects::bodies`). Each entry is tagged with the commit
//! generation it was read at (`Tx::commit_generation`: on SQLite
//! `storage::generation`, on PostgreSQL the WAL position of
//! `storage::pg_generation`'s shared rounds); a commit by anyone (this
//! process or another) moves the generation, and the next request renders
//! again.
//!
//! One budget, `PRICKLE_RENDER_CACHE_BYTES`, split between the stores
//! ([`Caches`]): one process keeps at most that much, however many threads
//! serve (a per-thread bound multiplied with the threads: measured 101.7 MB
//! peak RSS under the benchmark).

use std::collections::HashMap;
use std::hash::{BuildHasher, Hash, RandomState};
use std::sync::{Arc, Mutex};

use crate::error::ApiResult;
use crate::storage::Tx;

/// A page as rendered: the total and the `results` array's JSON text.
pub type Page = Arc<(i64, String)>;

/// The process's stores, sharing one budget.
pub struct Caches {
    pub(crate) project_bodies: crate::projects::bodies::Bodies,
    pub(crate) project_pages: Store<crate::projects::PageKey, Page>,
    pub(crate) member_pages: Store<crate::members::PageKey, Page>,
}

/// `PRICKLE_RENDER_CACHE_BYTES`'s default.
pub const DEFAULT_BYTES: usize = 16 << 20;

impl Caches {
    /// Half of `bytes` for project bodies (the hottest read), a quarter
    /// for each list's pages.
    pub fn new(bytes: usize) -> Caches {
        Caches {
            project_bodies: Store::new(bytes / 2),
            project_pages: Store::new(bytes / 4),
            member_pages: Store::new(bytes / 4),
        }
    }
}

/// Shards per store: the workers rarely wait on one another's lookups.
const SHARDS: usize = 8;

/// Entries keyed by `K`, all read at one generation per shard, at most
/// `max_bytes` in all (each shard a share of it).
pub struct Store<K, V> {
    shards: Box<[Mutex<Shard<K, V>>]>,
    hasher: RandomState,
    shard_bytes: usize,
}

struct Shard<K, V> {
    generation: u64,
    bytes: usize,
    kept: HashMap<K, (V, usize)>,
}

impl<K: Hash + Eq + Clone, V> Store<K, V> {
    pub fn new(max_bytes: usize) -> Store<K, V> {
        Store {
            shards: (0..SHARDS)
                .map(|_| {
                    Mutex::new(Shard {
                        generation: 0,
                        bytes: 0,
                        kept: HashMap::new(),
                    })
                })
                .collect(),
            hasher: RandomState::new(),
            shard_bytes: max_bytes / SHARDS,
        }
    }

    fn shard(&self, key: &K) -> &Mutex<Shard<K, V>> {
        let i = self.hasher.hash_one(key) as usize % SHARDS;
        &self.shards[i]
    }

    /// What `read` makes of the entry kept for `key` at `generation`.
    pub fn get<R>(
        &self,
        key: &K,
        generation: u64,
        read: impl FnOnce(&V) -> Option<R>,
    ) -> Option<R> {
        let shard = self.shard(key).lock().ok()?;
        if shard.generation != generation {
            return None;
        }
        shard.kept.get(key).and_then(|(v, _)| read(v))
    }

    /// Keeps `value` (`bytes` long) for `key`, read at `generation`; an
    /// older generation's entries go, a newer one's stay (then this one is
    /// not kept). Past the bound, entries go in the map's order: any order
    /// suits entries of one age.
    pub fn put(&self, key: K, generation: u64, value: V, bytes: usize) {
        if bytes > self.shard_bytes {
            return;
        }
        let Ok(mut shard) = self.shard(&key).lock() else {
            return;
        };
        if shard.generation > generation {
            return;
        }
        if shard.generation < generation {
            shard.kept.clear();
            shard.bytes = 0;
            shard.generation = generation;
        }
        if let Some((_, old)) = shard.kept.remove(&key) {
            shard.bytes -= old;
        }
        while shard.bytes + bytes > self.shard_bytes {
            let Some(evicted) = shard.kept.keys().next().cloned() else {
                break;
            };
            if let Some((_, old)) = shard.kept.remove(&evicted) {
                shard.bytes -= old;
            }
        }
        shard.bytes += bytes;
        shard.kept.insert(key, (value, bytes));
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap().bytes).sum()
    }
}

impl<K: Hash + Eq + Clone> Store<K, Page> {
    /// The page for `key` as of now: kept, or rendered by `render` (and
    /// kept when the generation allows).
    pub async fn page(
        &self,
        tx: &mut Tx,
        key: impl FnOnce() -> K,
        render: impl AsyncFnOnce(&mut Tx) -> ApiResult<Page>,
    ) -> ApiResult<Page> {
        let generation = tx.commit_generation().await?;
        let key = generation.map(|g| (key(), g));
        if let Some((key, g)) = &key {
            if let Some(hit) = self.get(key, *g, |p| Some(p.clone())) {
                return Ok(hit);
            }
        }
        let page = render(tx).await?;
        if let Some((key, g)) = key {
            let bytes = page.1.len();
            self.put(key, g, page.clone(), bytes);
        }
        Ok(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_last_for_their_generation_and_are_bounded() {
        let store: Store<u32, u32> = Store::new(SHARDS * 1000);
        store.put(1, 7, 10, 100);
        assert_eq!(store.get(&1, 7, |v| Some(*v)), Some(10));
        assert_eq!(store.get(&1, 8, |v| Some(*v)), None, "a commit since");
        assert_eq!(store.get(&2, 7, |v| Some(*v)), None);
        // An answer read at an older generation is not kept over a newer one.
        store.put(1, 8, 11, 100);
        store.put(1, 7, 10, 100);
        assert_eq!(store.get(&1, 8, |v| Some(*v)), Some(11));
        // Bounded: each shard holds at most its share.
        for k in 0..10_000 {
            store.put(k, 9, k, 300);
            assert!(store.bytes() <= SHARDS * 1000);
        }
        assert!(store.get(&9_999, 9, |v| Some(*v)).is_some());
        // Larger than a shard's share: not kept.
        store.put(20_000, 9, 0, 1001);
        assert!(store.get(&20_000, 9, |v| Some(*v)).is_none());
    }
}
