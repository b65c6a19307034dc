//! Reading a result row the same way from either database.

use super::{DbError, DbResult};

/// Column accessors by position. Columns are portable types only: BIGINT,
/// TEXT and BOOLEAN (timestamps are BIGINT microseconds, JSON is TEXT).
pub trait RowRead {
    fn opt_i64(&self, idx: usize) -> DbResult<Option<i64>>;
    fn opt_string(&self, idx: usize) -> DbResult<Option<String>>;
    fn opt_bool(&self, idx: usize) -> DbResult<Option<bool>>;

    fn i64(&self, idx: usize) -> DbResult<i64> {
        self.opt_i64(idx)?.ok_or_else(|| null_at(idx))
    }
    fn string(&self, idx: usize) -> DbResult<String> {
        self.opt_string(idx)?.ok_or_else(|| null_at(idx))
    }
    fn bool(&self, idx: usize) -> DbResult<bool> {
        self.opt_bool(idx)?.ok_or_else(|| null_at(idx))
    }
    /// A TEXT column holding JSON.
    fn json(&self, idx: usize) -> DbResult<serde_json::Value> {
        match self.opt_string(idx)? {
            Some(s) => serde_json::from_str(&s)
                .map_err(|e| DbError::Other(format!("column {idx}: bad JSON: {e}"))),
            None => Ok(serde_json::Value::Null),
        }
    }
}

fn null_at(idx: usize) -> DbError {
    DbError::Other(format!("unexpected NULL in column {idx}"))
}

pub(super) struct SqliteRow<'a, 'b>(pub &'a rusqlite::Row<'b>);

fn sqlite_err(idx: usize, e: rusqlite::Error) -> DbError {
    DbError::Other(format!("column {idx}: {e}"))
}

impl RowRead for SqliteRow<'_, '_> {
    fn opt_i64(&self, idx: usize) -> DbResult<Option<i64>> {
        self.0.get(idx).map_err(|e| sqlite_err(idx, e))
    }
    fn opt_string(&self, idx: usize) -> DbResult<Option<String>> {
        self.0.get(idx).map_err(|e| sqlite_err(idx, e))
    }
    fn opt_bool(&self, idx: usize) -> DbResult<Option<bool>> {
        self.0.get(idx).map_err(|e| sqlite_err(idx, e))
    }
}

fn pg_err(idx: usize, e: tokio_postgres::Error) -> DbError {
    DbError::Other(format!("column {idx}: {e}"))
}

impl RowRead for tokio_postgres::Row {
    fn opt_i64(&self, idx: usize) -> DbResult<Option<i64>> {
        self.try_get(idx).map_err(|e| pg_err(idx, e))
    }
    fn opt_string(&self, idx: usize) -> DbResult<Option<String>> {
        self.try_get(idx).map_err(|e| pg_err(idx, e))
    }
    fn opt_bool(&self, idx: usize) -> DbResult<Option<bool>> {
        self.try_get(idx).map_err(|e| pg_err(idx, e))
    }
}
