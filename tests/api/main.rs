//! The HTTP test suite: one binary, run against SQLite by default and against
//! PostgreSQL when `PRICKLE_TEST_DATABASE_URL` is set.

mod support;

mod bad_input;
mod conformance;
mod fuzz_regressions;
mod matrix;
mod openapi;
mod processes;
mod projects;
mod projects_activity;
mod projects_create;
mod projects_settings;
mod projects_update;
mod smoke;
