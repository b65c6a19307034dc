//! The API document (`GET /api/schema/`, OpenAPI 3.1) and the interactive
//! docs beside it, generated from the code: the paths, methods and scopes
//! come from the route declarations (`api::endpoints`), each of which starts
//! with its [`Operation`]: what the route says about itself and the component
//! schemas it refers to. A route cannot be served without one, nor
//! documented without being served.

mod negotiate;
mod operation;
pub mod schema;
mod ui;

use std::collections::BTreeMap;
use std::sync::OnceLock;

use axum::http::{header, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use utoipa::openapi::content::Content;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterIn, Paths};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::response::ResponseBuilder;
use utoipa::openapi::schema::Schema;
use utoipa::openapi::security::{
    ApiKey, ApiKeyValue, Http, HttpAuthScheme, SecurityRequirement, SecurityScheme,
};
use utoipa::openapi::{ComponentsBuilder, InfoBuilder, OpenApi, OpenApiBuilder, RefOr, Required};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::http::{Access, ApiRequest, App, Endpoint, Routes};
pub use negotiate::Format;
pub use operation::{Operation, Reply};

/// Where the document is served; the docs pages live under it.
pub const SCHEMA_PATH: &str = "/api/schema";
/// PostHog's name for the personal API key scheme.
pub const SECURITY_SCHEME: &str = "PersonalAPIKeyAuth";
/// drf-spectacular's name for DRF's SessionAuthentication: the `sessionid`
/// cookie (unsafe methods also send `X-CSRFToken`).
pub const SESSION_SCHEME: &str = "cookieAuth";
/// The request bodies the server parses (`payload::parse`), as PostHog's
/// schema lists them.
pub use crate::payload::BODY_TYPES;

/// The document and its interactive docs: public, as PostHog serves them,
/// and left out of the document (`is_documentation`).
pub fn routes(r: Routes) -> Routes {
    let page = |path, id| Operation::new(Method::GET, path, id);
    r.public(page(SCHEMA_PATH, "schema_retrieve"), serve_schema)
        .public(page(ui::SWAGGER_PATH, "swagger_ui"), ui::swagger_index)
        .public(
            page(ui::SWAGGER_FILE_PATH, "swagger_ui_file"),
            ui::swagger_file,
        )
        .public(page(ui::REDOC_PATH, "redoc"), ui::redoc_index)
        .public(page(ui::REDOC_FILE_PATH, "redoc_file"), ui::redoc_file)
}

/// The routes of the document itself, which it does not describe
/// (drf-spectacular leaves its own views out too).
pub fn is_documentation(path: &str) -> bool {
    path == SCHEMA_PATH || path.starts_with("/api/schema/")
}

/// The path as the document names it: with PostHog's trailing slash.
pub fn document_path(path: &str) -> String {
    format!("{path}/")
}

/// The endpoints the document describes: every served route but its own,
/// the operator's `/metrics` and the browser's `/logout` link, which are
/// not PostHog's API.
pub fn described(endpoints: &[Endpoint]) -> impl Iterator<Item = &Endpoint> {
    endpoints
        .iter()
        .filter(|e| !is_documentation(e.path) && e.path != crate::metrics::PATH)
        // A browser's logout link, as PostHog's Django view: not an API route.
        .filter(|e| e.path != crate::sessions::LOGOUT_PAGE_PATH)
}

/// The whole document.
pub fn document(endpoints: &[Endpoint]) -> OpenApi {
    let mut paths = Paths::new();
    for endpoint in described(endpoints) {
        paths.add_path_operation(
            document_path(endpoint.path),
            vec![http_method(&endpoint.method)],
            operation(endpoint, &endpoint.doc),
        );
    }
    let mut components = ComponentsBuilder::new()
        .security_scheme(
            SECURITY_SCHEME,
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        )
        .security_scheme(
            SESSION_SCHEME,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new(
                crate::sessions::SESSION_COOKIE,
            ))),
        )
        .schema_from::<ErrorBody>();
    for (name, schema) in components_of(endpoints) {
        components = components.schema(name, schema);
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("prickle")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "PostHog's organization-management API, served by prickle. \
                     Authenticate with a personal API key as a bearer token, or with the \
                     session cookie `POST /api/login/` sets (unsafe methods then send the \
                     `csrftoken` cookie's value as `X-CSRFToken`).",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components.build()))
        .build()
}

/// The component schemas the described routes refer to, by name. Routes
/// that share a component must say the same of it.
fn components_of(endpoints: &[Endpoint]) -> BTreeMap<String, RefOr<Schema>> {
    let mut schemas: BTreeMap<String, RefOr<Schema>> = BTreeMap::new();
    for endpoint in described(endpoints) {
        for (name, schema) in endpoint.doc.built_components() {
            if let Some(known) = schemas.get(&name) {
                let same = serde_json::to_value(known).ok() == serde_json::to_value(&schema).ok();
                assert!(same, "component {name} is declared twice, differently");
                continue;
            }
            schemas.insert(name, schema);
        }
    }
    schemas
}

fn http_method(method: &Method) -> HttpMethod {
    match *method {
        Method::GET => HttpMethod::Get,
        Method::POST => HttpMethod::Post,
        Method::PUT => HttpMethod::Put,
        Method::PATCH => HttpMethod::Patch,
        Method::DELETE => HttpMethod::Delete,
        Method::HEAD => HttpMethod::Head,
        Method::OPTIONS => HttpMethod::Options,
        _ => HttpMethod::Trace,
    }
}

/// The security requirements of a route, read from its declaration: any one
/// of its scopes suffices, so each is an alternative.
/// A session may call every authenticated route too; as in PostHog's
/// schema, only the routes that need one say so (`cookieAuth`).
pub fn security(access: &Access) -> Option<Vec<SecurityRequirement>> {
    match access {
        Access::Public => None,
        Access::Session => Some(vec![SecurityRequirement::new::<_, _, String>(
            SESSION_SCHEME,
            [],
        )]),
        Access::AnyKey => Some(vec![SecurityRequirement::new::<_, _, String>(
            SECURITY_SCHEME,
            [],
        )]),
        _ => Some(
            access
                .scopes()
                .iter()
                .map(|s| SecurityRequirement::new(SECURITY_SCHEME, [s.to_string()]))
                .collect(),
        ),
    }
}

/// The error statuses a route of this kind may answer.
fn error_statuses(endpoint: &Endpoint, op: &Operation) -> Vec<u16> {
    let authenticated = !matches!(endpoint.access, Access::Public);
    // Any route may answer 400: a query parameter over the bound every
    // request is read with (`http::request::MAX_QUERY_CHARS`), documented or
    // not; and 413: every request's body is read, within `MAX_BODY_BYTES`,
    // whether the route takes one or not.
    let mut statuses = vec![400, 413];
    if authenticated {
        statuses.extend([401, 403]);
    }
    if endpoint.path.contains('{') {
        statuses.push(404);
    }
    if op.body.is_some() {
        statuses.push(415);
    }
    if authenticated {
        statuses.push(503);
    }
    statuses.extend(op.errors.iter().copied());
    statuses.sort_unstable();
    statuses.dedup();
    statuses
}

fn error_response(status: u16) -> utoipa::openapi::Response {
    let description = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
        .unwrap_or("Error");
    ResponseBuilder::new()
        .description(description)
        .content(
            "application/json",
            Content::new(Some(schema::component(&ErrorBody::name()))),
        )
        .build()
}

fn operation(endpoint: &Endpoint, op: &Operation) -> utoipa::openapi::path::Operation {
    let mut b = OperationBuilder::new()
        .operation_id(Some(op.id))
        .description(op.description)
        .tags(Some(op.tags.iter().copied()));
    let mut parameters = op.parameters.clone();
    // Every `{name}` of the path is a required path parameter, documented or not.
    for name in path_names(endpoint.path) {
        let declared = parameters
            .iter()
            .any(|p| p.name == name && matches!(p.parameter_in, ParameterIn::Path));
        if !declared {
            parameters.push(
                utoipa::openapi::path::ParameterBuilder::new()
                    .name(name)
                    .parameter_in(ParameterIn::Path)
                    .required(Required::True)
                    .schema(Some(schema::string()))
                    .build(),
            );
        }
    }
    for p in parameters {
        b = b.parameter(p);
    }
    if let Some(body) = &op.body {
        let mut rb = RequestBodyBuilder::new();
        for content_type in BODY_TYPES {
            rb = rb.content(content_type, Content::new(Some(body.clone())));
        }
        b = b.request_body(Some(rb.build()));
    }
    for reply in &op.responses {
        let mut rb = ResponseBuilder::new().description(reply.description);
        if let Some((content_type, schema)) = &reply.content {
            rb = rb.content(*content_type, Content::new(Some(schema.clone())));
        }
        b = b.response(reply.status.to_string(), rb.build());
    }
    for status in error_statuses(endpoint, op) {
        b = b.response(status.to_string(), error_response(status));
    }
    if let Some(requirements) = security(&endpoint.access) {
        for r in requirements {
            b = b.security(r);
        }
    }
    let acts_on = match endpoint.access {
        Access::Public => "nothing (public)",
        Access::AnyKey => "the key itself",
        Access::Session => "the signed-in user's account (sessions only)",
        Access::User(_) => "the caller's account",
        Access::Organizations(_) => "the caller's organizations",
        Access::Organization(..) => "the organization in the path",
        Access::Project(..) => "one project of the organization in the path",
        Access::RootProject(..) => "one project, in its organization",
    };
    b = b.extensions(Some(
        utoipa::openapi::extensions::ExtensionsBuilder::new()
            .add("x-acts-on", acts_on)
            .build(),
    ));
    b.build()
}

/// The `{name}` parameters of an axum path pattern.
pub fn path_names(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{')?.strip_suffix('}'))
        .map(|name| name.trim_start_matches('*'))
        .collect()
}

/// The document of the whole API, rendered once.
struct Rendered {
    json: String,
    yaml: String,
}

fn rendered() -> ApiResult<&'static Rendered> {
    static DOC: OnceLock<Result<Rendered, String>> = OnceLock::new();
    DOC.get_or_init(|| {
        let doc = document(&crate::api::endpoints());
        Ok(Rendered {
            json: doc.to_json().map_err(|e| e.to_string())?,
            yaml: doc.to_yaml().map_err(|e| e.to_string())?,
        })
    })
    .as_ref()
    .map_err(ApiError::internal)
}

/// `GET /api/schema/`: YAML unless `?format=json` or an `Accept` that
/// prefers JSON, as drf-spectacular's view negotiates.
async fn serve_schema(_: App, req: ApiRequest) -> ApiResult<Response> {
    let format_param = req
        .query_pairs()
        .into_iter()
        .rev()
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v);
    let format = negotiate::choose(format_param.as_deref(), req.header(header::ACCEPT))?;
    let doc = rendered()?;
    let body = match format {
        Format::Yaml | Format::YamlPlain => doc.yaml.clone(),
        Format::OpenApiJson | Format::Json => doc.json.clone(),
    };
    Ok(([(header::CONTENT_TYPE, format.content_type())], body).into_response())
}

/// `{organization_id}`: PostHog documents a UUID (prickle also takes `@current`).
pub fn organization_id() -> utoipa::openapi::path::Parameter {
    utoipa::openapi::path::ParameterBuilder::new()
        .name("organization_id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .schema(Some(schema::uuid()))
        .build()
}

/// DRF's limit/offset page of `item` (`http::pagination`), named as
/// drf-spectacular names it: `Paginated<Item>List`.
pub fn paginated(item: &str) -> utoipa::openapi::schema::ObjectBuilder {
    use schema::Kind;
    schema::of(Kind::Object)
        .property("count", schema::integer().examples([123]))
        .property("next", schema::nullable_uri())
        .property("previous", schema::nullable_uri())
        .property("results", schema::array(schema::component(item)))
        .required("count")
        .required("next")
        .required("previous")
        .required("results")
}
