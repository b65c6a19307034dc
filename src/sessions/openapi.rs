//! What the API document says about logging in and out.

use axum::http::Method;
use utoipa::ToSchema;

use super::model::LoginSuccess;
use super::{LOGIN_PATH, LOGOUT_PAGE_PATH, LOGOUT_PATH};
use crate::openapi::schema as s;
use crate::openapi::Operation;

const TAGS: &[&str] = &["login"];
pub const LOGIN: &str = "Login";

pub fn login() -> Operation {
    Operation::new(Method::POST, LOGIN_PATH, "login_create")
        .describe(
            "Signs in with an email and password: sets the `sessionid` cookie (HttpOnly) and \
             the `csrftoken` cookie, whose value unsafe requests made with the session send \
             back as `X-CSRFToken`. 30 failed logins within 10 minutes, for one account or \
             from one address, lock logins out for 10 minutes (403).",
        )
        .tags(TAGS)
        .body(s::component(LOGIN))
        .component(LOGIN, || super::payload::LOGIN.schema(false))
        .returns(200, s::component(&LoginSuccess::name()))
        .component_of::<LoginSuccess>()
        .error(403)
        .error(503)
}

pub fn logout() -> Operation {
    Operation::new(Method::POST, LOGOUT_PATH, "logout_create")
        .describe(
            "Ends the session the `sessionid` cookie names (everywhere: sessions are kept in \
             the database) and clears both cookies. Needs `X-CSRFToken` when the session is \
             live.",
        )
        .tags(TAGS)
        .returns_nothing(204)
        .error(403)
}

pub fn logout_page() -> Operation {
    Operation::new(Method::GET, LOGOUT_PAGE_PATH, "logout_retrieve")
        .describe(
            "PostHog's logout link: ends the session the `sessionid` cookie names, clears \
             both cookies and redirects to `/login`.",
        )
        .tags(TAGS)
        .returns_nothing(302)
}
