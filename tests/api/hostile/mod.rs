//! Hostile clients (issue 13): what a client with no key, or with a plain
//! member's key, must not be able to do to the server or to other
//! organizations. Each file is one line of attack; every test here failed on
//! the main branch before the defence it checks.

/// Tests that load the whole machine (a flood of connections, a crowd of
/// password hashes, a walk of every route with huge values) take turns: the
/// flood measures latency and the crowd measures memory, and each would
/// disturb the other's figure.
pub(crate) static HEAVY: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

mod authorization;
pub(crate) mod bounds;
mod floods;
mod rate_limits;
mod signup;
mod webhook;
