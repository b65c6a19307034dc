//! The HTTP test suite: one binary, run against SQLite by default and against
//! PostgreSQL when `PRICKLE_TEST_DATABASE_URL` is set. Tests that need a
//! service whatever the database (PostgreSQL's TLS, scale-out, Redis) are in
//! `tests/services`, which can report them skipped.

mod common;
mod support;

mod access_control;
mod access_controls;
mod bad_input;
mod bodies;
mod conformance;
mod container;
mod fuzz_regressions;
mod grafana_dashboard;
mod grant_cache;
mod hostile;
mod invites;
mod legal_documents;
mod logs;
mod matrix;
mod members;
mod metrics;
mod nested_routes;
mod oauth_applications;
mod openapi;
mod openapi_companions;
mod openapi_members;
mod organization_deletion;
mod organizations;
mod pages;
mod personal_api_keys;
mod processes;
mod projects;
mod projects_activity;
mod projects_bodies;
mod projects_create;
mod projects_settings;
mod projects_update;
mod readiness;
mod request_ids;
mod roles;
mod root_projects;
mod secret_logs;
mod sessions;
mod signup;
mod slow_clients;
mod smoke;
mod users;
