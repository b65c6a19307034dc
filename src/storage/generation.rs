//! A process-wide number that moves after every commit to a SQLite
//! database, as this process's read connections see them: what lets one
//! cache shared by every thread (`projects::bodies`, `http::rendered`) keep
//! rendered answers until the next commit by anyone.
//!
//! SQLite's `PRAGMA data_version` tells a connection whether another
//! connection (this process's writer, or another process) committed since
//! that connection last asked, but its values belong to that connection:
//! threads cannot compare them. So each thread remembers the last
//! `(connection, data_version)` it saw; when it sees another one it bumps
//! the shared number, and it may use a shared entry only when its own
//! version did not move.
//!
//! Why an entry tagged `g` is never older than a commit `C` its reader
//! should see: the writer of the entry loaded `g` before reading its
//! connection's version, so before reading the data. A reader that loads
//! `g` later and finds its version unchanged saw that same version on every
//! call since it first saw it, and that first call came after `C` (no
//! commit falls between calls that see one version). That first call
//! bumped the number after `C`, so after the entry's writer loaded `g`:
//! the reader, coming later on the same thread, loads more than `g`.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

use super::DbResult;

/// `(read connection's number, its data_version)`: `Tx::read_version`.
pub type Version = (u64, i64);

static GENERATION: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static SEEN: Cell<Option<Version>> = const { Cell::new(None) };
}

/// The generation a cached answer may be looked up and kept at, with
/// `read_version` reading the request's connection version. `None` when
/// there is no version (the writer, PostgreSQL) or it moved since this
/// thread last looked: something was committed, so nothing kept before
/// may be shown, and this answer is not kept either (the next request
/// keeps its own).
pub fn current(read_version: impl FnOnce() -> DbResult<Option<Version>>) -> DbResult<Option<u64>> {
    // Loaded before the version: see the module's comment.
    let generation = GENERATION.load(Ordering::SeqCst);
    let Some(version) = read_version()? else {
        return Ok(None);
    };
    if SEEN.replace(Some(version)) == Some(version) {
        return Ok(Some(generation));
    }
    GENERATION.fetch_add(1, Ordering::SeqCst);
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_version_seen_again_keeps_the_generation_a_new_one_moves_it() {
        std::thread::spawn(|| {
            assert_eq!(current(|| Ok(None)).unwrap(), None);
            assert_eq!(current(|| Ok(Some((1, 5)))).unwrap(), None, "first sight");
            let g = current(|| Ok(Some((1, 5)))).unwrap().expect("unchanged");
            // (Other tests' threads may move it meanwhile: never back.)
            let again = current(|| Ok(Some((1, 5)))).unwrap().expect("unchanged");
            assert!(again >= g);
            // A commit since (or another connection): nothing kept is shown,
            // and every thread's next look is at a newer generation.
            assert_eq!(current(|| Ok(Some((1, 6)))).unwrap(), None);
            let later = current(|| Ok(Some((1, 6)))).unwrap().expect("unchanged");
            assert!(later > g);
            assert_eq!(current(|| Ok(Some((2, 6)))).unwrap(), None);
            let other = std::thread::spawn(|| {
                assert_eq!(current(|| Ok(Some((3, 1)))).unwrap(), None);
                current(|| Ok(Some((3, 1)))).unwrap().expect("unchanged")
            })
            .join()
            .unwrap();
            assert!(other > later, "the other thread's first sight moved it");
        })
        .join()
        .unwrap();
    }
}
