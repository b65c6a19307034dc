//! The member order of big organizations, kept per thread while nothing is
//! committed to the database.
//!
//! SQLite cannot count or skip index entries without stepping through them,
//! so a page of a 10,000-member organization would cost two walks of its
//! index (the count, then the offset). Instead each read connection keeps
//! the organization's memberships in list order, tagged with the
//! connection's number and SQLite's `data_version`; any commit by anyone
//! (this process's writer or another process) changes the version, and the
//! next request rebuilds. PostgreSQL has no such token and always queries.
//!
//! Rendered pages of the unfiltered list are kept the same way (a few per
//! thread): the same members page is the same text for every caller of the
//! organization until something is committed.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

/// A membership's own columns, without its user.
#[derive(Clone, Debug)]
pub struct Entry {
    pub id: String,
    pub user_id: i64,
    pub level: i64,
    pub joined_at: i64,
    pub updated_at: i64,
}

/// Smaller organizations are cheap to read each time.
pub const MIN_MEMBERS: usize = 1000;
/// Organizations kept per thread.
const MAX_ORGANIZATIONS: usize = 8;

type Token = (u64, i64);
/// An organization's list order, and the token it was read under.
type Cached = (Token, Arc<Vec<Entry>>);

thread_local! {
    static ORDER: RefCell<HashMap<String, Cached>> = RefCell::new(HashMap::new());
}

/// The organization's visible memberships, newest first, if still current.
pub fn get(org_id: &str, token: Token) -> Option<Arc<Vec<Entry>>> {
    ORDER.with(|c| {
        c.borrow()
            .get(org_id)
            .filter(|(t, _)| *t == token)
            .map(|(_, e)| e.clone())
    })
}

pub fn put(org_id: &str, token: Token, entries: Arc<Vec<Entry>>) {
    if entries.len() < MIN_MEMBERS {
        return;
    }
    ORDER.with(|c| {
        let mut c = c.borrow_mut();
        // Stale entries go first; then any, to stay bounded.
        c.retain(|_, (t, _)| *t == token);
        if c.len() >= MAX_ORGANIZATIONS {
            if let Some(k) = c.keys().next().cloned() {
                c.remove(&k);
            }
        }
        c.insert(org_id.to_string(), (token, entries));
    });
}

/// Rendered pages kept per thread.
const MAX_PAGES: usize = 8;

/// An unfiltered page of an organization's list: order, limit, offset.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PageKey {
    pub org_id: String,
    pub ascending: bool,
    pub limit: i64,
    pub offset: i64,
}

/// A page as rendered: the total and the `results` array's JSON text.
pub type Page = Arc<(i64, String)>;

thread_local! {
    static PAGES: RefCell<HashMap<PageKey, (Token, Page)>> = RefCell::new(HashMap::new());
}

/// The rendered page, if nothing was committed since it was rendered.
pub fn page(key: &PageKey, token: Token) -> Option<Page> {
    PAGES.with(|c| {
        c.borrow()
            .get(key)
            .filter(|(t, _)| *t == token)
            .map(|(_, p)| p.clone())
    })
}

pub fn put_page(key: PageKey, token: Token, page: Page) {
    PAGES.with(|c| {
        let mut c = c.borrow_mut();
        c.retain(|_, (t, _)| *t == token);
        if c.len() >= MAX_PAGES {
            if let Some(k) = c.keys().next().cloned() {
                c.remove(&k);
            }
        }
        c.insert(key, (token, page));
    });
}
