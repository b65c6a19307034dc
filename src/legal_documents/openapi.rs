//! What the API document says about the legal-documents routes: the
//! reference page's operation ids and shapes (`CreateLegalDocument`,
//! `LegalDocumentDTO`), and the signing webhook as PostHog names it.

use axum::http::Method;
use utoipa::openapi::schema::ObjectBuilder;
use utoipa::{PartialSchema, ToSchema};

use super::model::{Creator, LegalDocumentDto, WebhookAnswer};
use super::payload::DOCUMENT_TYPES;
use super::{DETAIL_PATH, LIST_PATH, SIGNED_PATH};
use crate::openapi::schema::{self as s, Kind};
use crate::openapi::Operation;

const TAGS: &[&str] = &["legal_documents"];

pub const CREATE: &str = "CreateLegalDocument";
pub const PAGE: &str = "PaginatedLegalDocumentDTOList";
pub const DOCUMENT_TYPE: &str = "CreateLegalDocumentDocumentTypeEnum";
pub const SIGNED: &str = "LegalDocumentSignedWebhook";

/// A document as the routes answer it, and the components it refers to.
fn answers_document(op: Operation, status: u16) -> Operation {
    op.returns(status, s::component(&LegalDocumentDto::name()))
        .component_of::<LegalDocumentDto>()
        .component_of::<Creator>()
}

pub fn list() -> Operation {
    let op = Operation::new(Method::GET, LIST_PATH, "legal_documents_list")
        .tags(TAGS)
        .param(crate::openapi::organization_id())
        .limit_offset()
        .returns(200, s::component(PAGE))
        .component(
            PAGE,
            || crate::openapi::paginated(&LegalDocumentDto::name()),
        );
    op.component_of::<LegalDocumentDto>()
        .component_of::<Creator>()
}

pub fn create() -> Operation {
    let op = Operation::new(Method::POST, LIST_PATH, "legal_documents_create")
        .describe("Requests a BAA or DPA for the organization (admins and owners).")
        .tags(TAGS)
        .param(crate::openapi::organization_id())
        .body(s::component(CREATE))
        .component(CREATE, create_schema)
        .component(DOCUMENT_TYPE, || {
            s::choice(Kind::String, DOCUMENT_TYPES.iter().copied())
                .description(Some("* `BAA` - BAA\n* `DPA` - DPA"))
        });
    answers_document(op, 201)
}

pub fn retrieve() -> Operation {
    let op = Operation::new(Method::GET, DETAIL_PATH, "legal_documents_retrieve")
        .tags(TAGS)
        .param(crate::openapi::organization_id())
        .path_param("id", s::string(), None);
    answers_document(op, 200)
}

pub fn signed() -> Operation {
    Operation::new(Method::POST, SIGNED_PATH, "legal_document_signed_webhook")
        .describe(
            "Public webhook for the signing service: the document's secret names it, \
             and it becomes `signed` with the URL given. A secret that names no \
             document is 404.",
        )
        .tags(TAGS)
        .body(s::component(SIGNED))
        .component(SIGNED, signed_schema)
        .returns(200, WebhookAnswer::schema())
        .error(404)
}

/// The request body (`payload::CREATE`): the fields it requires and
/// the two it defaults to blank.
fn create_schema() -> ObjectBuilder {
    super::payload::CREATE.schema(false)
}

/// The webhook's body (`payload::SIGNED`).
fn signed_schema() -> ObjectBuilder {
    super::payload::SIGNED.schema(false)
}
