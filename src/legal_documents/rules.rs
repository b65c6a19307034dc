//! Who may act on legal documents: admins and owners only, on every route
//! of the organization (`organizations::require_admin`); and nobody changes
//! a document once it is signed.

/// Signed documents are final: the first signature wins and a later call
/// with the secret changes nothing (PostHog's newer webhook treats a signed
/// status or a stored URL alike as already signed).
pub fn is_signed(status: &str, signed_document_url: &str) -> bool {
    status == super::model::SIGNED || !signed_document_url.is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::legal_documents::model::{SIGNED, SUBMITTED};

    #[test]
    fn a_status_or_a_url_means_signed() {
        for (status, url, signed) in [
            (SUBMITTED, "", false),
            (SIGNED, "", true),
            (SUBMITTED, "https://a.io/s.pdf", true),
            (SIGNED, "https://a.io/s.pdf", true),
        ] {
            assert_eq!(is_signed(status, url), signed, "{status} {url:?}");
        }
    }
}
