//! The web pages served by the binary (issue 18): login, sign-up, and the
//! pages that run an organization (projects, members, invites, personal
//! API keys, the organization's settings, legal documents, OAuth
//! applications).
//!
//! The server renders each page's shell, navigation and forms (templates
//! checked at compile time: maud), and what it can cheaply: the project
//! settings form from the settings declarations (`projects::settings::SETTINGS`),
//! the key scope picker from `auth::scopes::SCOPE_OBJECTS`, the members'
//! permission matrix from `members::rules::check`. Everything a person does
//! goes through the JSON API: the one script (`assets/pages.js`) calls it
//! with the session cookie and the CSRF token, so every action meets the
//! API's rules and its errors are shown next to the field they name.
//!
//! The style sheet and the script are compiled in (`include_str!`): no Node,
//! no CDN, no build step outside cargo. Pages are declared with
//! `Routes::page` (outside `/api/`, not in the API document) and never touch
//! the API's hot path.

pub mod gzip;
mod layout;
pub mod session;
mod views;

use std::sync::OnceLock;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use maud::Markup;
use sha2::{Digest, Sha256};

use crate::http::{PageAccess, Routes};

pub const CSS_PATH: &str = "/static/pages.css";
pub const JS_PATH: &str = "/static/pages.js";
pub const CSS: &str = include_str!("assets/pages.css");
pub const JS: &str = include_str!("assets/pages.js");

/// The pages and their assets.
pub fn routes(r: Routes) -> Routes {
    use PageAccess::{Public, SignedIn};
    r.asset(CSS_PATH, "text/css; charset=utf-8", CSS)
        .asset(JS_PATH, "text/javascript; charset=utf-8", JS)
        .page("/login", Public, views::login)
        .page("/signup/{invite_id}", Public, views::signup)
        .page("/", SignedIn, views::projects)
        .page("/projects", SignedIn, views::projects)
        .page("/projects/{id}", SignedIn, views::project)
        .page("/members", SignedIn, views::members)
        .page("/invites", SignedIn, views::invites)
        .page("/keys", SignedIn, views::keys)
        .page("/organization", SignedIn, views::organization)
        .page("/legal-documents", SignedIn, views::legal_documents)
        .page("/oauth-applications", SignedIn, views::oauth_applications)
}

/// An asset's URL with its content's digest, so a browser fetches a new
/// build's asset and may cache each one meanwhile.
fn versioned(path: &str, body: &str, cell: &'static OnceLock<String>) -> &'static str {
    cell.get_or_init(|| {
        let digest = hex::encode(Sha256::digest(body.as_bytes()));
        format!("{path}?v={}", &digest[..12])
    })
}

pub fn css_url() -> &'static str {
    static CELL: OnceLock<String> = OnceLock::new();
    versioned(CSS_PATH, CSS, &CELL)
}

pub fn js_url() -> &'static str {
    static CELL: OnceLock<String> = OnceLock::new();
    versioned(JS_PATH, JS, &CELL)
}

/// A rendered page, 200.
fn html(page: Markup) -> Response {
    html_status(StatusCode::OK, page)
}

fn html_status(status: StatusCode, page: Markup) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page.into_string(),
    )
        .into_response()
}
