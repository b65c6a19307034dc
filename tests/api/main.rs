//! The HTTP test suite: one binary, run against SQLite by default and against
//! PostgreSQL when `PRICKLE_TEST_DATABASE_URL` is set.

mod support;

mod bad_input;
mod matrix;
mod smoke;
