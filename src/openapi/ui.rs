//! The interactive docs: Swagger UI (vendored by `utoipa-swagger-ui`'s
//! `vendored` feature) and Redoc (its standalone bundle in `assets/redoc`),
//! both compiled into the binary so nothing is fetched at build or run time.
//! A content security policy keeps the browser from loading anything from
//! elsewhere (Redoc's sidebar logo would).

use std::sync::{Arc, OnceLock};

use axum::body::Body;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use crate::error::{ApiError, ApiResult};
use crate::http::{ApiRequest, App};

pub const SWAGGER_PATH: &str = "/api/schema/swagger-ui";
pub const SWAGGER_FILE_PATH: &str = "/api/schema/swagger-ui/{file}";
pub const REDOC_PATH: &str = "/api/schema/redoc";
pub const REDOC_FILE_PATH: &str = "/api/schema/redoc/{file}";

/// The document as the pages load it.
const DOCUMENT_URL: &str = "/api/schema/?format=json";
const REDOC_JS: &[u8] = include_bytes!("../../assets/redoc/redoc.standalone.js");

const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; img-src 'self' data:; \
     style-src 'self' 'unsafe-inline'; script-src 'self' 'unsafe-inline'; \
     worker-src 'self' blob:; font-src 'self' data:; connect-src 'self'";

fn page(content_type: &str, body: impl Into<Body>) -> Response {
    let mut resp = (StatusCode::OK, body.into()).into_response();
    let headers = resp.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    resp
}

/// The pages load their files relative to their own URL, so they are served
/// at the slash form only.
fn slash_form(req: &ApiRequest) -> Option<Response> {
    let path = req.uri.path();
    (!path.ends_with('/')).then(|| Redirect::permanent(&format!("{path}/")).into_response())
}

fn swagger_config() -> Arc<utoipa_swagger_ui::Config<'static>> {
    static CONFIG: OnceLock<Arc<utoipa_swagger_ui::Config<'static>>> = OnceLock::new();
    CONFIG
        .get_or_init(|| Arc::new(utoipa_swagger_ui::Config::new([DOCUMENT_URL])))
        .clone()
}

fn swagger(file: &str) -> ApiResult<Response> {
    match utoipa_swagger_ui::serve(file, swagger_config()) {
        Ok(Some(f)) => Ok(page(&f.content_type, f.bytes)),
        Ok(None) => Err(ApiError::not_found()),
        Err(e) => Err(ApiError::internal(e)),
    }
}

pub async fn swagger_index(_: App, req: ApiRequest) -> ApiResult<Response> {
    match slash_form(&req) {
        Some(redirect) => Ok(redirect),
        None => swagger("index.html"),
    }
}

pub async fn swagger_file(_: App, req: ApiRequest) -> ApiResult<Response> {
    swagger(req.param("file").unwrap_or_default())
}

pub async fn redoc_index(_: App, req: ApiRequest) -> ApiResult<Response> {
    if let Some(redirect) = slash_form(&req) {
        return Ok(redirect);
    }
    let html = format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<title>prickle API</title>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <style>body {{ margin: 0; padding: 0; }}</style>\n</head>\n<body>\n\
         <div id=\"redoc\"></div>\n<script src=\"redoc.standalone.js\"></script>\n\
         <script>Redoc.init(\"{DOCUMENT_URL}\", {{}}, document.getElementById(\"redoc\"));</script>\n\
         </body>\n</html>\n"
    );
    Ok(page("text/html; charset=utf-8", html))
}

pub async fn redoc_file(_: App, req: ApiRequest) -> ApiResult<Response> {
    match req.param("file") {
        Some("redoc.standalone.js") => Ok(page("application/javascript; charset=utf-8", REDOC_JS)),
        _ => Err(ApiError::not_found()),
    }
}
