//! Rendered pages of a list, a few per thread, while nothing is committed
//! to the database: the same page is the same text for every caller it is
//! keyed for until then. Each is tagged with the read connection's number
//! and SQLite's `data_version` (`Tx::read_version`); any commit by anyone
//! (this process's writer or another process) changes it, and the next
//! request renders again. PostgreSQL has no such token and always queries.

use std::cell::RefCell;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

/// `Tx::read_version`'s token.
pub type Token = (u64, i64);

/// A page as rendered: the total and the `results` array's JSON text.
pub type Page = Arc<(i64, String)>;

/// One list's pages on one thread (declare it in a `thread_local!`).
pub struct Rendered<K> {
    max: usize,
    pages: RefCell<HashMap<K, (Token, Page)>>,
}

impl<K: Hash + Eq + Clone> Rendered<K> {
    pub fn new(max: usize) -> Rendered<K> {
        Rendered {
            max,
            pages: RefCell::new(HashMap::new()),
        }
    }

    /// The rendered page, if nothing was committed since it was rendered.
    pub fn get(&self, key: &K, token: Token) -> Option<Page> {
        self.pages
            .borrow()
            .get(key)
            .filter(|(t, _)| *t == token)
            .map(|(_, p)| p.clone())
    }

    pub fn put(&self, key: K, token: Token, page: Page) {
        let mut pages = self.pages.borrow_mut();
        pages.retain(|_, (t, _)| *t == token);
        if pages.len() >= self.max {
            if let Some(k) = pages.keys().next().cloned() {
                pages.remove(&k);
            }
        }
        pages.insert(key, (token, page));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_last_until_the_next_commit_and_are_bounded() {
        let cache: Rendered<u32> = Rendered::new(2);
        let page: Page = Arc::new((1, "[]".into()));
        cache.put(1, (7, 1), page.clone());
        assert!(cache.get(&1, (7, 1)).is_some());
        assert!(cache.get(&1, (7, 2)).is_none(), "a commit since");
        assert!(cache.get(&1, (8, 1)).is_none(), "another connection");
        cache.put(2, (7, 1), page.clone());
        cache.put(3, (7, 1), page.clone());
        assert_eq!(cache.pages.borrow().len(), 2);
        cache.put(4, (7, 2), page);
        assert_eq!(cache.pages.borrow().len(), 1, "older versions dropped");
    }
}
