//! The login body: PostHog's `LoginSerializer` (an `EmailField` and a
//! `CharField`, both required).

use crate::payload::{Body, Field, Kind, Text};

/// Longest password a login reads (PostHog has no bound; argon2 reads any
/// length, and one far beyond any password keeps the work bounded).
pub const PASSWORD_MAX: usize = 4096;

pub static LOGIN: Body = Body::new(&[
    Field::new("email", Kind::Email(Text::max(254))).required(),
    Field::new("password", Kind::Text(Text::max(PASSWORD_MAX)))
        .required()
        .write_only(),
]);
