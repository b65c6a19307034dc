//! What the session routes answer.

use serde::Serialize;
use utoipa::ToSchema;

/// PostHog's login answer (`LoginSerializer.to_representation`).
#[derive(Serialize, ToSchema)]
#[schema(as = LoginSuccess)]
pub struct LoginSuccess {
    /// Always true: a failed login is an error.
    pub success: bool,
}
