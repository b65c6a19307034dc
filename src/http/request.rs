//! The request as every API handler sees it: path parameters, query string and
//! body, read once with PostHog's limits and error bodies; and the
//! authentication and organization checks every organization route shares.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{FromRequest, FromRequestParts, RawPathParams, Request};
use axum::http::{header, HeaderMap, Method, Uri};
use bytes::Bytes;

use crate::auth::{self, Authenticated, Caller, Credential, Named, OrgRef, Scope, Target};
use crate::error::{ApiError, ApiResult};
use crate::http::client::ClientAddr;
use crate::http::request_log::RequestLog;
use crate::http::App;
use crate::organizations::{self, MembershipLevel, Organization};
use crate::payload::{self, Data};

/// Bodies above this are refused with 413 before they are read.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long a body may take to arrive here. The server reads every body
/// whole, within its own timeout and memory bound, before the router runs
/// (`server/body.rs`); this bounds callers of the router that do not
/// (in-process tests, the benchmark).
const BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// The longest name or value any query parameter may have, in characters.
/// PostHog has no such bound (its own is 200 characters on the members'
/// `search`); every value prickle reads from a query string is far shorter
/// (emails 254, dates, numbers, choices), and a bound here keeps every
/// parameter of every route, present or added later, out of the database's
/// limits: SQLite refuses a LIKE pattern over 50,000 bytes with a 500.
pub const MAX_QUERY_CHARS: usize = 1000;

// The longest LIKE pattern a search can build: every character escaped
// (two per character, four bytes each) between two `%`.
const _: () = assert!(2 + MAX_QUERY_CHARS * 2 * 4 < 50_000);

/// Clone: a request is answered again when the grants it was authorized
/// with moved during it (`routes`).
#[derive(Clone)]
pub struct ApiRequest {
    pub method: Method,
    pub uri: Uri,
    /// The client's address, as the server worked it out (`http::client`);
    /// `None` when the router is called in-process.
    pub client: Option<IpAddr>,
    headers: HeaderMap,
    params: Vec<(String, String)>,
    /// The query string's pairs, in order, each within [`MAX_QUERY_CHARS`].
    query: Vec<(String, String)>,
    body: Bytes,
    /// The body, parsed on first use.
    parsed: Option<Data>,
    /// Where the request's log line learns who made it.
    log: Option<RequestLog>,
    /// How the route checks may use the authorization cache (set when the
    /// caller is authenticated).
    pub(crate) grants: auth::View,
}

impl<S: Send + Sync> FromRequest<S> for ApiRequest {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        let params = RawPathParams::from_request_parts(&mut parts, state)
            .await
            .map_err(|_| ApiError::not_found())?
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let declared = parts
            .headers
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
            return Err(ApiError::payload_too_large());
        }
        let query = bounded_query(parts.uri.query())?;
        let body = read_body(body, BODY_READ_TIMEOUT).await?;
        Ok(ApiRequest {
            method: parts.method,
            uri: parts.uri,
            client: parts.extensions.get::<ClientAddr>().map(|c| c.0),
            log: parts.extensions.get::<RequestLog>().cloned(),
            headers: parts.headers,
            params,
            query,
            body,
            parsed: None,
            grants: auth::View::Off,
        })
    }
}

/// Reads the whole body within `timeout`: a client trickling its body
/// cannot hold a worker longer than that.
async fn read_body(body: Body, timeout: Duration) -> ApiResult<Bytes> {
    let read = tokio::time::timeout(timeout, to_bytes(body, MAX_BODY_BYTES))
        .await
        .map_err(|_| ApiError::request_timeout())?;
    read.map_err(|e| {
        // to_bytes reports both an over-long body and a broken stream.
        let too_long = std::error::Error::source(&e)
            .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
            || e.to_string().contains("length limit");
        if too_long {
            ApiError::payload_too_large()
        } else {
            ApiError::parse_error("Request body could not be read.")
        }
    })
}

impl ApiRequest {
    /// A request header as text (absent when missing or not visible ASCII).
    pub fn header(&self, name: header::HeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// A path parameter. A value holding a NUL character is none: no object
    /// is named by one, and PostgreSQL refuses NUL in text (a 500 otherwise).
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.contains('\0'))
    }

    /// Query parameters, last value winning (Django's `QueryDict.get`).
    pub fn query(&self) -> HashMap<String, String> {
        self.query.iter().cloned().collect()
    }

    pub fn query_pairs(&self) -> Vec<(String, String)> {
        self.query.clone()
    }

    /// The body, parsed on first use by the one body parser
    /// (`payload::parse`, DRF's rules).
    pub fn data(&mut self) -> ApiResult<&Data> {
        if self.parsed.is_none() {
            let content_type = self
                .headers
                .get(header::CONTENT_TYPE)
                .map(|v| String::from_utf8_lossy(v.as_bytes()));
            self.parsed = Some(payload::parse(content_type.as_deref(), &self.body)?);
        }
        Ok(self.parsed.as_ref().expect("parsed above"))
    }

    /// Authenticates the caller (401 on failure), looking up the organization
    /// `org` names in the same query.
    pub async fn authenticate(
        &mut self,
        app: &App,
        org: Option<&OrgRef>,
    ) -> ApiResult<Authenticated> {
        let credential = self.credential();
        // No key: a live session's cookie (DRF's SessionAuthentication
        // comes after the key's in PostHog's authentication classes).
        let token = match credential {
            None => crate::sessions::token(self).map(str::to_owned),
            Some(_) => None,
        };
        let session = match token {
            Some(token) => crate::sessions::authenticate(app, self, &token, org).await?,
            None => None,
        };
        let (found, view) = match session {
            Some(found) => found,
            None => {
                auth::authenticate(
                    &app.db,
                    &app.auth_cache,
                    credential,
                    &app.config.site_url,
                    org,
                )
                .await?
            }
        };
        self.grants = view;
        if let Some(log) = &self.log {
            log.identify(&found.caller);
        }
        // Every request made with a key counts, whatever it is refused for
        // later (PostHog counts only those its permissions let through).
        app.rate_limiter.key(&found.caller.key_id).await?;
        Ok(found)
    }

    /// The checks every `/api/organizations/:organization_id/...` route makes,
    /// in PostHog's order: authentication, the key's scope and restrictions,
    /// then the organization (`@current` resolved) and the caller's level in it.
    /// `scopes` are what the endpoint declares, any one sufficing (empty:
    /// personal API keys refused).
    pub async fn organization(
        &mut self,
        app: &App,
        scopes: &[Scope],
        target: Target,
    ) -> ApiResult<OrgContext> {
        let (caller, found) = self.find_organization(app, Some(scopes)).await?;
        let named = match &found {
            Ok((org, membership)) => Named {
                id: org.id.as_str(),
                membership: membership.as_ref().map(|m| (org, m.level)),
            },
            Err(id) => Named {
                id: id.as_str(),
                membership: None,
            },
        };
        // `@current` is the caller's own pointer, not a lookup among the
        // key's organizations: PostHog answers the restriction's 403 there.
        let target = match (target, self.param("organization_id")) {
            (Target::OrganizationObject, Some("@current")) => Target::Organization,
            (target, _) => target,
        };
        caller.grant.check(scopes, named, target)?;
        let (org, membership) = found.map_err(|_| ApiError::organization_not_found())?;
        Ok(OrgContext {
            caller,
            org,
            membership,
        })
    }

    /// Authentication and the organization with the caller's level in it,
    /// before any check of the key: for routes where PostHog checks
    /// membership (and the route's own rule) before the key's scopes. The
    /// caller must run `caller.grant.check` afterwards.
    pub async fn organization_before_key_checks(&mut self, app: &App) -> ApiResult<OrgContext> {
        let (caller, found) = self.find_organization(app, None).await?;
        let (org, membership) = found.map_err(|_| ApiError::organization_not_found())?;
        Ok(OrgContext {
            caller,
            org,
            membership,
        })
    }

    /// The caller, and the organization in the path with the caller's level
    /// (`Err(id)`: no such organization). `precheck`: the declared scopes,
    /// checked as soon as the key is known.
    async fn find_organization(
        &mut self,
        app: &App,
        precheck: Option<&[Scope]>,
    ) -> ApiResult<(
        Caller,
        Result<(Organization, Option<MembershipLevel>), String>,
    )> {
        let raw = self.param("organization_id").unwrap_or_default();
        let org_ref = match raw {
            "@current" => Some(OrgRef::Current),
            raw => organizations::parse_uuid(raw).map(OrgRef::Id),
        };
        let Authenticated {
            caller,
            organization,
        } = self.authenticate(app, org_ref.as_ref()).await?;
        if let Some(scopes) = precheck {
            caller.grant.precheck(scopes)?;
        }
        let found = match (org_ref, organization) {
            (None, _) => return Err(ApiError::organization_not_found()),
            (Some(_), Some(found)) => Ok(found),
            (Some(OrgRef::Id(id)), None) => Err(id),
            // No current organization set: PostHog falls back to the first one joined.
            (Some(OrgRef::Current), None) => {
                let mut tx = app.db.read().await?;
                let id = organizations::current_organization(&mut tx, &caller.user)
                    .await?
                    .ok_or_else(|| self.no_current_organization())?;
                match organizations::find_with_level(&mut tx, &id, caller.user.id).await? {
                    Some(found) => Ok(found),
                    None => Err(id),
                }
            }
        };
        Ok((caller, found))
    }

    /// The caller when the request carries a key (401 when it is not
    /// valid) or a live session; `None` for an anonymous caller, a stale
    /// session cookie included (Django treats it as no session).
    pub async fn caller_if_any(&mut self, app: &App) -> ApiResult<Option<Caller>> {
        if self.has_credentials() {
            return Ok(Some(self.authenticate(app, None).await?.caller));
        }
        let Some(token) = crate::sessions::token(self).map(str::to_owned) else {
            return Ok(None);
        };
        match crate::sessions::authenticate(app, self, &token, None).await? {
            Some((found, view)) => {
                self.grants = view;
                if let Some(log) = &self.log {
                    log.identify(&found.caller);
                }
                app.rate_limiter.key(&found.caller.key_id).await?;
                Ok(Some(found.caller))
            }
            None => Ok(None),
        }
    }

    /// A cookie the request carries (the first of that name).
    pub fn cookie(&self, name: &str) -> Option<&str> {
        self.headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(';'))
            .filter_map(|pair| pair.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.trim_matches('"'))
    }

    /// Does the request carry a credential where [`ApiRequest::authenticate`]
    /// looks for one (so a public route that serves both anonymous and
    /// authenticated callers must authenticate it)? Anything else, such as
    /// an `Authorization` header of another scheme, leaves the caller anonymous.
    pub fn has_credentials(&mut self) -> bool {
        self.credential().is_some()
    }

    /// The credential where PostHog looks for one: a bearer header, then
    /// `personal_api_key` in the body, then in the query string. The body is
    /// parsed only when no header decides; a body that fails to parse carries
    /// no key (its error is reported once the caller is known, as DRF does).
    fn credential(&mut self) -> Option<Credential> {
        let authorization = self
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if let Some(found) = auth::find_credential(authorization, None, None) {
            return Some(found);
        }
        let query_key = self.query().remove("personal_api_key");
        let body_key = self
            .data()
            .ok()
            .and_then(|d| d.text("personal_api_key"))
            .map(str::to_owned);
        auth::find_credential(None, body_key.as_deref(), query_key.as_deref())
    }
}

impl ApiRequest {
    /// `@current` for a user with no organization: the organization's own
    /// route says so as PostHog's OrganizationViewSet does; nested routes
    /// answer as for any unknown organization.
    fn no_current_organization(&self) -> ApiError {
        if self
            .uri
            .path()
            .trim_end_matches('/')
            .ends_with("/organizations/@current")
        {
            ApiError::not_found_detail("Current organization not found.")
        } else {
            ApiError::organization_not_found()
        }
    }
}

/// The query string's pairs, or a 400 naming the first parameter whose
/// value is longer than [`MAX_QUERY_CHARS`] (a name that long is not named
/// back). Checked while the request is read, as the body's size is, so no
/// route can read a parameter without the bound.
fn bounded_query(query: Option<&str>) -> ApiResult<Vec<(String, String)>> {
    let pairs: Vec<(String, String)> = form_urlencoded::parse(query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    for (name, value) in &pairs {
        if name.chars().count() > MAX_QUERY_CHARS {
            return Err(ApiError::invalid_input(format!(
                "Query parameter names may have no more than {MAX_QUERY_CHARS} characters."
            )));
        }
        crate::drf::max_length(value, MAX_QUERY_CHARS, &Cow::Owned(name.clone()))?;
    }
    Ok(pairs)
}

/// The caller within the organization named by the path.
pub struct OrgContext {
    pub caller: Caller,
    pub org: Organization,
    /// `None`: the caller is not a member.
    pub membership: Option<MembershipLevel>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_parameters_are_bounded() {
        let at = |n: usize| "é".repeat(n);
        let ok = format!("search={}&limit=5&limit=7", at(MAX_QUERY_CHARS));
        let pairs = bounded_query(Some(&ok)).unwrap();
        assert_eq!(pairs.len(), 3);
        assert_eq!(pairs[2], ("limit".to_string(), "7".to_string()));
        let over = format!("limit=5&search={}", at(MAX_QUERY_CHARS + 1));
        let e = bounded_query(Some(&over)).unwrap_err();
        assert_eq!(
            (e.status.as_u16(), e.code.as_ref(), e.attr.as_deref()),
            (400, "max_length", Some("search"))
        );
        assert_eq!(
            e.detail,
            format!("Ensure this field has no more than {MAX_QUERY_CHARS} characters.")
        );
        let long_name = format!("{}=1", "n".repeat(MAX_QUERY_CHARS + 1));
        let e = bounded_query(Some(&long_name)).unwrap_err();
        assert_eq!((e.status.as_u16(), e.attr), (400, None));
        assert!(bounded_query(None).unwrap().is_empty());
    }
}
