//! Rendered pages of the unfiltered member list, a few per thread, while
//! nothing is committed to the database: the same page is the same text for
//! every caller of the organization until then. Each is tagged with the read
//! connection's number and SQLite's `data_version`; any commit by anyone
//! (this process's writer or another process) changes the version, and the
//! next request renders again. PostgreSQL has no such token and always
//! queries.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

type Token = (u64, i64);

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
