//! Hostile clients (issue 13): what a client with no key, or with a plain
//! member's key, must not be able to do to the server or to other
//! organizations. Each file is one line of attack; every test here failed on
//! the main branch before the defence it checks.

mod authorization;
pub(crate) mod bounds;
mod floods;
mod rate_limits;
mod signup;
mod webhook;
