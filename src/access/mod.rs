//! Project access control: who may see and run each project.
//!
//! A project carries rules (a default rule, member rules and role rules);
//! `rules::resolve` turns them and the caller's organization level into the
//! caller's level on the project. `store` reads and writes the rules; every
//! route that reaches a project resolves through it (`http::routes`).

pub mod rules;
pub mod store;

pub use rules::{resolve, Granted, ProjectLevel, Resolved, RuleLevel, Rules, Source, Visibility};
