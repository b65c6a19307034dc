//! prickle: a fast, self-hostable server for PostHog's organization-management REST API.
//!
//! `main.rs` only parses the command line; everything else lives here so the
//! server, the admin commands, the tests and the benchmark share one code path.

pub mod access;
pub mod activity;
pub mod admin;
pub mod api;
pub mod auth;
pub mod config;
pub mod drf;
pub mod error;
pub mod http;
pub mod invites;
pub mod legal_documents;
pub mod logging;
pub mod members;
pub mod metrics;
pub mod oauth_applications;
pub mod openapi;
pub mod organizations;
pub mod pages;
pub mod passwords;
pub mod payload;
pub mod personal_api_keys;
pub mod projects;
pub mod rate_limit;
pub mod roles;
pub mod server;
pub mod sessions;
pub mod signup;
pub mod storage;
pub mod time;
pub mod users;
