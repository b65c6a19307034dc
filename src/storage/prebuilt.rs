//! Statements whose SQL text never depends on their values, rendered once
//! per database kind instead of on every call.
//!
//! sea-query builds a statement's tree and renders its text on every call;
//! for the statement that runs on every project request that was a sixth
//! of a GET project's instructions (callgrind). A [`Prebuilt`] keeps the
//! rendered text and takes the values from a function of the same
//! arguments; `check` (run by each statement's test) builds the statement
//! with real arguments and compares text and values, so the two cannot
//! drift apart.

use std::sync::OnceLock;

use sea_query::{
    PostgresQueryBuilder, QueryStatementWriter, SelectStatement, SqliteQueryBuilder, Value, Values,
};

/// A statement (a SELECT unless `S` says otherwise) rendered once.
pub struct Prebuilt<A, S = SelectStatement> {
    /// The statement for `args`, as sea-query builds it.
    pub statement: fn(&A) -> S,
    /// The values `statement(args)` binds, in the order its text binds them.
    pub values: fn(&A) -> Vec<Value>,
    sqlite: OnceLock<String>,
    postgres: OnceLock<String>,
}

impl<A, S> Prebuilt<A, S> {
    pub const fn new(statement: fn(&A) -> S, values: fn(&A) -> Vec<Value>) -> Prebuilt<A, S> {
        Prebuilt {
            statement,
            values,
            sqlite: OnceLock::new(),
            postgres: OnceLock::new(),
        }
    }
}

impl<A, S: QueryStatementWriter> Prebuilt<A, S> {
    /// The text for one database kind and the values for `args`.
    pub(super) fn build(&self, postgres: bool, args: &A) -> (&str, Values) {
        let text = if postgres {
            self.postgres
                .get_or_init(|| (self.statement)(args).build(PostgresQueryBuilder).0)
        } else {
            self.sqlite
                .get_or_init(|| (self.statement)(args).build(SqliteQueryBuilder).0)
        };
        (text, Values((self.values)(args)))
    }

    /// Panics unless building the statement for `args` gives the kept text
    /// and the values `values` gives, on both databases.
    pub fn check(&self, args: &A) {
        for postgres in [false, true] {
            let (sql, values) = if postgres {
                (self.statement)(args).build(PostgresQueryBuilder)
            } else {
                (self.statement)(args).build(SqliteQueryBuilder)
            };
            let (kept, given) = self.build(postgres, args);
            assert_eq!(kept, sql, "the text depends on the values");
            assert_eq!(given, values, "the values are not the statement's");
        }
    }
}
