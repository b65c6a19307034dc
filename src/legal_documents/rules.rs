//! Who may see and request legal documents, and what the stored ones allow:
//! one document of each type per organization, and a signed one is final.
//! (What a request must hold is in `payload.rs`.)

use crate::error::ApiError;

/// The organization already has a document of this type.
pub fn duplicate(document_type: &str) -> ApiError {
    ApiError::invalid_input(format!(
        "Your organization already has a {document_type}. Contact support if you need a new one."
    ))
    .at("document_type")
}

/// Signed documents are final: the first signature wins and a later call
/// with the secret changes nothing (PostHog's newer webhook treats a signed
/// status or a stored URL alike as already signed).
pub fn is_signed(status: &str, signed_document_url: &str) -> bool {
    status == super::model::SIGNED || !signed_document_url.is_empty()
}
