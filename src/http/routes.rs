//! The one way to serve a route: a declaration of its method, path and
//! documentation (an [`Operation`]), who may call it and what it acts on, and
//! its handler. The handler receives a context that proves the declaration
//! was met, so it cannot forget a check.
//!
//! Nothing else in the crate builds an axum `Router` (a test holds us to
//! that), and [`Routes::endpoints`] lists every route served, which the auth
//! table test and the API schema both read.

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Deref;
use std::pin::Pin;
use std::sync::Arc;

use axum::extract::State;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, MethodRouter};
use axum::Router;

use super::request::{ApiRequest, OrgContext};
use super::{pagination, App};
use crate::access::store::ProjectAccess;
use crate::access::{self, Granted, ProjectLevel, Visibility};
use crate::auth::{Caller, Named, Scope, Target};
use crate::error::{ApiError, ApiResult};
use crate::openapi::Operation;
use crate::organizations::{self, Level, MembershipLevel, Organization};
use crate::rate_limit::Throttle;
use crate::storage::{grants, Tx};
use crate::users::User;

/// What an authenticated caller who is not a member of the organization in
/// the path gets (decisions.md: PostHog's three answers, and one route where
/// the answer depends on the body).
#[derive(Clone, Copy)]
pub enum NonMember {
    /// An empty page: PostHog filters list querysets by membership.
    EmptyList,
    /// 404 "Not found.": the object is looked up among the caller's own.
    NotFound,
    /// The generic 403.
    Forbidden,
    /// The route's own rule, which may read the request and the database
    /// (PostHog runs some permission classes before membership).
    Decide(DecideNonMember),
}

/// The answer to a non-member, worked out by the route's own rule.
pub type DecideNonMember = for<'a> fn(
    &'a App,
    &'a mut ApiRequest,
    &'a Organization,
) -> Pin<Box<dyn Future<Output = ApiError> + Send + 'a>>;

/// Who may call a route and what it acts on.
#[derive(Clone, Copy)]
pub enum Access {
    /// No credentials: declared public on purpose.
    Public,
    /// Any valid personal API key, whatever its scopes and restrictions: a
    /// key may always read itself. (A session may too.)
    AnyKey,
    /// Only a browser signed in with a session: a personal API key is
    /// refused (PostHog allows managing keys and passwords only from its app).
    Session,
    /// The caller's own account: the scopes, not the key's organization or
    /// project restrictions.
    User(&'static [Scope]),
    /// Across the caller's organizations (a project-restricted key refused;
    /// the handler narrows by the key's organization restriction).
    Organizations(&'static [Scope]),
    /// The organization in the path (`:organization_id`, `@current` included).
    Organization(&'static [Scope], NonMember),
    /// One project of the organization in the path, named by the declared
    /// path parameter: a project-restricted key must name it. A non-member,
    /// and a member the project is hidden from, get 404, as for a project
    /// that does not exist; the caller's level on it must meet the need.
    Project(&'static [Scope], ProjectNeed),
    /// One project among all projects (`/api/projects/{id}/`), named by the
    /// declared path parameter: its organization is the project's, then
    /// checked as [`Access::Project`].
    RootProject(&'static [Scope], ProjectNeed),
}

/// The level on the project a project route needs (a hidden project is
/// never served, whatever the need).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProjectNeed {
    /// Any project the caller can see.
    Read,
    /// Admin on the project: else 403, PostHog's
    /// TeamMemberLightManagementPermission message.
    Admin,
}

impl ProjectNeed {
    fn check(self, granted: &Granted) -> ApiResult<()> {
        match (self, granted.level) {
            (ProjectNeed::Admin, ProjectLevel::Member) => Err(ApiError::permission_denied(
                "You don't have sufficient permissions in the project.",
            )),
            _ => Ok(()),
        }
    }
}

impl Access {
    /// The scopes a key needs (any one suffices); empty for public routes
    /// and routes any key may call.
    pub fn scopes(&self) -> &'static [Scope] {
        match self {
            Access::Public | Access::AnyKey | Access::Session => &[],
            Access::User(s)
            | Access::Organizations(s)
            | Access::Organization(s, _)
            | Access::Project(s, _)
            | Access::RootProject(s, _) => s,
        }
    }
}

/// One served route, as declared.
#[derive(Clone)]
pub struct Endpoint {
    pub method: Method,
    /// axum's pattern without the trailing slash (both forms are served).
    pub path: &'static str,
    pub access: Access,
    /// What the API document says of it.
    pub doc: Arc<Operation>,
}

/// A member of the organization in the path, with a level that is known.
#[derive(Clone, Debug)]
pub struct Member {
    pub caller: Caller,
    pub org: Organization,
    pub level: Level,
    /// What project access rules name.
    pub membership_id: String,
}

impl Member {
    /// Which of the organization's projects this member sees.
    pub fn visibility(&self) -> Visibility {
        Visibility::of(self.level, &self.membership_id)
    }
}

/// A member acting on one project of the organization, which exists, which
/// the member can see and which the key may reach.
#[derive(Clone, Debug)]
pub struct ProjectMember {
    pub member: Member,
    pub project_id: i64,
    /// The member's level on the project, as resolved for this request.
    pub access: Granted,
}

impl Deref for ProjectMember {
    type Target = Member;
    fn deref(&self) -> &Member {
        &self.member
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = ApiResult<Response>> + Send>>;

/// Who may open a web page (`crate::pages`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageAccess {
    /// Anyone (the login and sign-up pages, the pages' assets).
    Public,
    /// A signed-in person: without a live session the answer is a redirect
    /// to `/login?next=<path>` (a session that ends while the page is open
    /// is sent there by the page's script after the API's 401).
    SignedIn,
}

/// One served web page or asset, as declared: `GET` (and `HEAD`) only,
/// never under `/api/`, and not in the API document.
#[derive(Clone, Debug)]
pub struct PageRoute {
    pub path: &'static str,
    pub access: PageAccess,
}

/// What a page handler reads of its request.
pub struct PageRequest {
    pub uri: axum::http::Uri,
    pub headers: axum::http::HeaderMap,
    /// The path parameters, by name, as sent (percent-decoded).
    pub params: Vec<(String, String)>,
}

impl PageRequest {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query string's value for `name` (the first), decoded.
    pub fn query(&self, name: &str) -> Option<String> {
        form_urlencoded::parse(self.uri.query().unwrap_or_default().as_bytes())
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
    }
}

/// The headers every page carries: no framing, no sniffing, no referrer
/// (a sign-up link's token is in its URL), scripts and styles only from
/// the server itself, and never cached (pages may show what only this
/// person may see).
const PAGE_HEADERS: [(axum::http::HeaderName, &str); 5] = [
    (
        axum::http::header::CONTENT_SECURITY_POLICY,
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    ),
    (axum::http::header::X_FRAME_OPTIONS, "DENY"),
    (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    (axum::http::header::REFERRER_POLICY, "no-referrer"),
    (axum::http::header::CACHE_CONTROL, "no-store"),
];

/// The routes of the application, built only through declarations.
pub struct Routes {
    endpoints: Vec<Endpoint>,
    methods: BTreeMap<&'static str, MethodRouter<App>>,
    pages: Vec<(PageRoute, MethodRouter<App>)>,
}

impl Default for Routes {
    fn default() -> Self {
        Self::new()
    }
}

fn filter(method: &Method) -> MethodFilter {
    MethodFilter::try_from(method.clone()).expect("declared methods are standard")
}

impl Routes {
    pub fn new() -> Routes {
        Routes {
            endpoints: Vec::new(),
            methods: BTreeMap::new(),
            pages: Vec::new(),
        }
    }

    /// Every declared route.
    pub fn endpoints(&self) -> &[Endpoint] {
        &self.endpoints
    }

    /// Every declared web page and asset.
    pub fn pages(&self) -> Vec<PageRoute> {
        self.pages.iter().map(|(p, _)| p.clone()).collect()
    }

    /// A web page (`crate::pages`): `GET path` (and `HEAD`), answered by
    /// `handler` with the page headers, or a redirect to the login page
    /// when `access` wants a session and the request has none. Pages live
    /// outside `/api/` and are not in the API document; the API's routes
    /// and their checks are what the pages' scripts call.
    pub fn page<F, Fut>(mut self, path: &'static str, access: PageAccess, handler: F) -> Routes
    where
        F: Fn(App, PageRequest) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Response> + Send + 'static,
    {
        self.assert_page_path(path);
        let router = axum::routing::get(
            move |State(app): State<App>,
                  params: axum::extract::RawPathParams,
                  uri: axum::http::Uri,
                  headers: axum::http::HeaderMap| {
                let handler = handler.clone();
                async move {
                    if access == PageAccess::SignedIn
                        && !crate::pages::session::signed_in(&app, &headers).await
                    {
                        return to_login(&uri);
                    }
                    let gzip = crate::pages::gzip::accepted(&headers);
                    let params = params
                        .iter()
                        .map(|(n, v)| (n.to_string(), v.to_string()))
                        .collect();
                    let req = PageRequest {
                        uri,
                        headers,
                        params,
                    };
                    let mut answer = handler(app, req).await;
                    let headers = answer.headers_mut();
                    for (name, value) in PAGE_HEADERS.iter() {
                        headers
                            .entry(name.clone())
                            .or_insert(axum::http::HeaderValue::from_static(value));
                    }
                    crate::pages::gzip::encode(answer, gzip).await
                }
            },
        );
        self.pages.push((PageRoute { path, access }, router));
        self
    }

    /// A static asset compiled into the binary (the pages' style sheet and
    /// script): `GET path` with its content type, cacheable (pages name it
    /// with its digest in the query string, so a new build is fetched anew).
    pub fn asset(
        mut self,
        path: &'static str,
        content_type: &'static str,
        body: &'static str,
    ) -> Routes {
        self.assert_page_path(path);
        // Gzipped once, on the first request that accepts it.
        let gzipped: Arc<std::sync::OnceLock<bytes::Bytes>> = Arc::default();
        let router = axum::routing::get(move |headers: axum::http::HeaderMap| {
            let gzipped = gzipped.clone();
            async move {
                use axum::http::header;
                let fixed = [
                    (header::CONTENT_TYPE, content_type),
                    (header::CACHE_CONTROL, "public, max-age=86400"),
                    (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
                    (header::VARY, "accept-encoding"),
                ];
                if crate::pages::gzip::accepted(&headers) {
                    let bytes = gzipped
                        .get_or_init(|| crate::pages::gzip::compress(body.as_bytes()).into())
                        .clone();
                    (fixed, [(header::CONTENT_ENCODING, "gzip")], bytes).into_response()
                } else {
                    (fixed, body).into_response()
                }
            }
        });
        let access = PageAccess::Public;
        self.pages.push((PageRoute { path, access }, router));
        self
    }

    fn assert_page_path(&self, path: &str) {
        assert!(
            path.starts_with('/') && !path.starts_with("/api/") && path != "/api",
            "page {path}: pages are served outside /api/"
        );
        assert!(
            !self.pages.iter().any(|(p, _)| p.path == path),
            "page {path} declared twice"
        );
    }

    fn add(
        mut self,
        doc: Operation,
        access: Access,
        run: impl Fn(App, ApiRequest) -> BoxFuture + Clone + Send + Sync + 'static,
    ) -> Routes {
        let method = doc.method.clone();
        let path = doc.path;
        let path_key = path.trim_end_matches('/');
        assert!(
            !self
                .endpoints
                .iter()
                .any(|e| e.path == path_key && e.method == method),
            "{method} {path} declared twice"
        );
        self.endpoints.push(Endpoint {
            method: method.clone(),
            path: path_key,
            access,
            doc: Arc::new(doc),
        });
        let router = self.methods.remove(path_key).unwrap_or_default();
        let router = router.on(
            filter(&method),
            move |State(app): State<App>, req: ApiRequest| answer(run.clone(), app, req),
        );
        self.methods.insert(path_key, router);
        self
    }

    /// A route anyone may call, under PostHog's default limits per address.
    pub fn public<F, Fut>(self, doc: Operation, handler: F) -> Routes
    where
        F: Fn(App, ApiRequest) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult<Response>> + Send + 'static,
    {
        self.public_throttled(doc, Throttle::Api, handler)
    }

    /// A route anyone may call, under its own limits per address.
    pub fn public_throttled<F, Fut>(self, doc: Operation, throttle: Throttle, handler: F) -> Routes
    where
        F: Fn(App, ApiRequest) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult<Response>> + Send + 'static,
    {
        self.add(doc, Access::Public, move |app, req| {
            let handler = handler.clone();
            Box::pin(async move {
                app.rate_limiter.address(throttle, req.client).await?;
                handler(app, req).await
            })
        })
    }

    /// A route for an authenticated caller outside any one organization:
    /// `access` is [`Access::AnyKey`], [`Access::Session`], [`Access::User`]
    /// or [`Access::Organizations`].
    pub fn caller<F, Fut>(self, doc: Operation, access: Access, handler: F) -> Routes
    where
        F: Fn(App, ApiRequest, Caller) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult<Response>> + Send + 'static,
    {
        assert!(
            matches!(
                access,
                Access::AnyKey | Access::Session | Access::User(_) | Access::Organizations(_)
            ),
            "{} {}: organization routes are declared with `organization`",
            doc.method,
            doc.path
        );
        self.add(doc, access, move |app, mut req| {
            let handler = handler.clone();
            Box::pin(async move {
                let caller = authorize_caller(&app, &mut req, access).await?;
                handler(app, req, caller).await
            })
        })
    }

    /// A route on the organization in the path.
    pub fn organization<F, Fut>(
        self,
        doc: Operation,
        scopes: &'static [Scope],
        non_member: NonMember,
        handler: F,
    ) -> Routes
    where
        F: Fn(App, ApiRequest, Member) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult<Response>> + Send + 'static,
    {
        self.organization_route(doc, scopes, non_member, Target::Organization, handler)
    }

    /// A route on the organization object itself (`/api/organizations/:id/`):
    /// PostHog looks it up among the caller's organizations that the key may
    /// reach, so a non-member and a key restricted to other organizations
    /// both get 404.
    pub fn organization_object<F, Fut>(
        self,
        doc: Operation,
        scopes: &'static [Scope],
        handler: F,
    ) -> Routes
    where
        F: Fn(App, ApiRequest, Member) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult<Response>> + Send + 'static,
    {
        self.organization_route(
            doc,
            scopes,
            NonMember::NotFound,
            Target::OrganizationObject,
            handler,
        )
    }

    fn organization_route<F, Fut>(
        self,
        doc: Operation,
        scopes: &'static [Scope],
        non_member: NonMember,
        target: Target,
        handler: F,
    ) -> Routes
    where
        F: Fn(App, ApiRequest, Member) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult<Response>> + Send + 'static,
    {
        let access = Access::Organization(scopes, non_member);
        self.add(doc, access, move |app, mut req| {
            let handler = handler.clone();
            Box::pin(async move {
                let ctx = req.organization(&app, scopes, target).await?;
                match member(ctx, non_member, &app, &mut req).await? {
                    Ok(member) => handler(app, req, member).await,
                    Err(answer) => Ok(answer),
                }
            })
        })
    }

    /// A route on the organization in the path where PostHog checks the
    /// person before the key (its invite writes): a non-member gets the
    /// generic 403 whatever the key, then the route's own `gate` on the
    /// member, then the key's scopes and restrictions.
    pub fn organization_gated<F, Fut>(
        self,
        doc: Operation,
        scopes: &'static [Scope],
        gate: fn(&Member) -> ApiResult<()>,
        handler: F,
    ) -> Routes
    where
        F: Fn(App, ApiRequest, Member) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult<Response>> + Send + 'static,
    {
        let access = Access::Organization(scopes, NonMember::Forbidden);
        self.add(doc, access, move |app, mut req| {
            let handler = handler.clone();
            Box::pin(async move {
                let OrgContext {
                    caller,
                    org,
                    membership,
                } = req.organization_before_key_checks(&app).await?;
                let membership = membership.ok_or_else(ApiError::forbidden)?;
                let member = Member {
                    caller,
                    org,
                    level: membership.level,
                    membership_id: membership.id,
                };
                gate(&member)?;
                let named = Named {
                    id: &member.org.id,
                    membership: Some((&member.org, member.level)),
                };
                member
                    .caller
                    .grant
                    .check(scopes, named, Target::Organization)?;
                handler(app, req, member).await
            })
        })
    }

    /// A route on one project of the organization in the path, named by the
    /// path parameter `project` (a number or `@current`). A non-member gets
    /// 404 whatever the project, body or method: project ids are sequential,
    /// so any other answer for an existing project would let outsiders
    /// enumerate them. A project hidden from the member by its rules is 404
    /// at the same point, and `need` is checked on the member's level there.
    pub fn project<F, Fut>(
        self,
        doc: Operation,
        project: &'static str,
        scopes: &'static [Scope],
        need: ProjectNeed,
        handler: F,
    ) -> Routes
    where
        F: Fn(App, ApiRequest, ProjectMember) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult<Response>> + Send + 'static,
    {
        assert_project_param(&doc, project);
        let access = Access::Project(scopes, need);
        self.add(doc, access, move |app, mut req| {
            let handler = handler.clone();
            Box::pin(async move {
                let ctx = req.organization(&app, scopes, Target::Project).await?;
                let member = match member(ctx, NonMember::NotFound, &app, &mut req).await? {
                    Ok(member) => member,
                    Err(answer) => return Ok(answer),
                };
                let (project_id, access) = resolve_project(&app, &req, project, &member).await?;
                need.check(&access)?;
                let ctx = ProjectMember {
                    member,
                    project_id,
                    access,
                };
                handler(app, req, ctx).await
            })
        })
    }

    /// A route on one project, named by the path parameter `project` (a
    /// number or `@current`), found among all projects: the project's
    /// organization then gets the checks of [`Routes::project`], except that
    /// a non-member gets 404 (as for a missing project) before the key's
    /// organization restriction is checked.
    pub fn root_project<F, Fut>(
        self,
        doc: Operation,
        project: &'static str,
        scopes: &'static [Scope],
        need: ProjectNeed,
        handler: F,
    ) -> Routes
    where
        F: Fn(App, ApiRequest, ProjectMember) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = ApiResult<Response>> + Send + 'static,
    {
        assert_project_param(&doc, project);
        let access = Access::RootProject(scopes, need);
        self.add(doc, access, move |app, mut req| {
            let handler = handler.clone();
            Box::pin(async move {
                let caller = req.authenticate(&app, None).await?.caller;
                caller.grant.precheck(scopes)?;
                let (project_id, org, membership, granted) =
                    resolve_root_project(&app, &req, project, &caller).await?;
                // The caller did not name this organization: a non-member learns
                // nothing of it (not even its id in the key restriction's 403).
                if let Some(m) = &membership {
                    let named = Named {
                        id: &org.id,
                        membership: Some((&org, m.level)),
                    };
                    caller.grant.check(scopes, named, Target::Project)?;
                }
                let ctx = OrgContext {
                    caller,
                    org,
                    membership,
                };
                let member = match member(ctx, NonMember::NotFound, &app, &mut req).await? {
                    Ok(member) => member,
                    Err(answer) => return Ok(answer),
                };
                // A member always has a level: `resolve_root_project` gave one.
                let access = granted.ok_or_else(ApiError::not_found)?;
                member.caller.grant.check_project(project_id)?;
                need.check(&access)?;
                let ctx = ProjectMember {
                    member,
                    project_id,
                    access,
                };
                handler(app, req, ctx).await
            })
        })
    }

    /// The axum router: each path with and without its trailing slash (as
    /// PostHog's `/?` patterns), methods a path lacks answered as PostHog
    /// answers them, and 404 for everything else.
    pub fn into_router(self, app: App) -> Router {
        // Once per server: a router built again on the same `App` (the
        // metrics listener's) counts into the first one's table.
        app.metrics
            .http
            .get_or_init(|| crate::metrics::HttpTable::new(&self.endpoints));
        let mut r = Router::new();
        for (path, methods) in self.methods {
            let declared: Vec<&Endpoint> =
                self.endpoints.iter().filter(|e| e.path == path).collect();
            let methods = methods.fallback(unmapped_method(&declared));
            r = r
                .route(path, methods.clone())
                .route(&format!("{path}/"), methods);
        }
        for (page, methods) in self.pages {
            r = r.route(page.path, methods.clone());
            if page.path != "/" && !page.path.contains('.') {
                r = r.route(&format!("{}/", page.path), methods);
            }
        }
        r.fallback(|| async { ApiError::not_found() })
            .layer(axum::middleware::from_fn_with_state(
                app.clone(),
                super::request_log::layer,
            ))
            .with_state(app)
    }
}

/// The login page, to come back to `uri` once signed in.
fn to_login(uri: &axum::http::Uri) -> Response {
    let back = uri.path_and_query().map(|p| p.as_str()).unwrap_or("/");
    let next: String = form_urlencoded::byte_serialize(back.as_bytes()).collect();
    let location = format!("/login?next={next}");
    (
        axum::http::StatusCode::FOUND,
        [
            (axum::http::header::LOCATION, location.as_str()),
            (axum::http::header::CACHE_CONTROL, "no-store"),
        ],
    )
        .into_response()
}

/// Runs a route. On PostgreSQL, an answer that used the authorization
/// cache is checked against the grants epoch by its first statement (or
/// here, when it made none) and given again without the cache when the
/// epoch moved: no request is answered from a grant changed before it was
/// checked. SQLite's cache is current when it is used (`auth::cache`); its
/// scope carries only what the request found of the commit generation.
async fn answer(
    run: impl Fn(App, ApiRequest) -> BoxFuture,
    app: App,
    req: ApiRequest,
) -> ApiResult<Response> {
    if !app.db.is_postgres() {
        return grants::scope(false, run(app, req)).await.0;
    }
    let again = req.clone();
    let (answer, unchecked) = grants::scope(false, run(app.clone(), req)).await;
    let moved = match (&answer, unchecked) {
        (Err(e), _) if e.is_grants_changed() => true,
        (_, Some(expected)) => app.db.read().await?.read_grants_epoch().await? != expected,
        _ => false,
    };
    if !moved {
        return answer;
    }
    // Ahead of its notification: what the cache holds is older than the database.
    app.auth_cache.clear();
    grants::scope(true, run(app, again)).await.0
}

/// A project route's declared parameter must be one of its path's.
fn assert_project_param(doc: &Operation, project: &str) {
    assert!(
        crate::openapi::path_names(doc.path).contains(&project),
        "{} {}: no path parameter {{{project}}} names the project",
        doc.method,
        doc.path
    );
}

/// The checks for routes outside one organization.
async fn authorize_caller(app: &App, req: &mut ApiRequest, access: Access) -> ApiResult<Caller> {
    let caller = req.authenticate(app, None).await?.caller;
    match access {
        Access::AnyKey => {}
        Access::Session if !caller.is_session() => {
            return Err(ApiError::permission_denied(
                "This action does not support Personal API Key access",
            ))
        }
        Access::Session => {}
        Access::User(scopes) => caller.grant.check_scopes(scopes)?,
        Access::Organizations(scopes) => {
            caller.grant.check_scopes(scopes)?;
            caller.grant.refuse_project_restriction()?;
        }
        Access::Public
        | Access::Organization(..)
        | Access::Project(..)
        | Access::RootProject(..) => {
            unreachable!("declared through their own builders")
        }
    }
    Ok(caller)
}

/// The caller as a member, or the declared answer for a non-member.
async fn member(
    ctx: OrgContext,
    non_member: NonMember,
    app: &App,
    req: &mut ApiRequest,
) -> ApiResult<Result<Member, Response>> {
    let OrgContext {
        caller,
        org,
        membership,
    } = ctx;
    if let Some(m) = membership {
        return Ok(Ok(Member {
            caller,
            org,
            level: m.level,
            membership_id: m.id,
        }));
    }
    match non_member {
        NonMember::EmptyList => {
            let query = req.query_pairs();
            let page = pagination::page(&query);
            let base = app.absolute(req.uri.path());
            let body = pagination::envelope_json(&base, &query, page, 0, "[]");
            Ok(Err(super::ok_json(body)?))
        }
        NonMember::NotFound => Err(ApiError::not_found()),
        NonMember::Forbidden => Err(ApiError::forbidden()),
        NonMember::Decide(rule) => Err(rule(app, req, &org).await),
    }
}

/// The project in the path, as this caller may reach it: 404 unless it is
/// one of the organization's and the member can see it (a hidden project is
/// answered exactly as an unknown id), then the key's project restriction
/// (PostHog resolves the project before checking a project-scoped key
/// against it). `@current` is the caller's current project, which must
/// belong to the organization in the path; with none set, PostHog's
/// `User.team` falls back to the first project of the user's current
/// organization (here: the first they can see).
async fn resolve_project(
    app: &App,
    req: &ApiRequest,
    param: &str,
    member: &Member,
) -> ApiResult<(i64, Granted)> {
    let raw = req.param(param).unwrap_or_default();
    let (org, membership) = (&member.org.id, &member.membership_id);
    let numbered = raw.parse::<i64>().ok().filter(|_| raw != "@current");
    let cached = numbered.and_then(|id| {
        let rules = app
            .auth_cache
            .project_rules(req.grants, org, id, membership)?;
        Some((id, rules))
    });
    let (wanted, rules) = match cached {
        Some(found) => found,
        None => {
            let mut tx = app.db.read().await?;
            let wanted = project_id(&mut tx, raw, &member.caller.user).await?;
            let epoch = app.auth_cache.load_epoch(req.grants, &mut tx).await?;
            let rules = access::store::project_rules(&mut tx, org, wanted, membership).await?;
            tx.commit().await?;
            app.auth_cache
                .put_project_rules(epoch, org, wanted, membership, rules);
            (wanted, rules)
        }
    };
    let rules = rules.ok_or_else(ApiError::not_found)?;
    let granted = access::resolve(Some(member.level), &rules)
        .granted()
        .ok_or_else(ApiError::not_found)?;
    member.caller.grant.check_project(wanted)?;
    Ok((wanted, granted))
}

/// The project a path parameter names: a number, or `@current`
/// (`organizations::current_project`); 404 for anything else or no project.
async fn project_id(tx: &mut Tx, raw: &str, user: &User) -> ApiResult<i64> {
    let id = match raw {
        "@current" => organizations::current_project(tx, user).await?,
        raw => raw.parse::<i64>().ok(),
    };
    id.ok_or_else(ApiError::not_found)
}

/// The project the path parameter names among all projects (`@current`: the
/// caller's current project, else the first they can see of their current
/// organization), its organization, the caller's membership there and
/// their level on the project. 404 when there is none, or when the caller
/// is a member the project is hidden from (at the point an unknown id is).
async fn resolve_root_project(
    app: &App,
    req: &ApiRequest,
    param: &str,
    caller: &Caller,
) -> ApiResult<(i64, Organization, Option<MembershipLevel>, Option<Granted>)> {
    let raw = req.param(param).unwrap_or_default();
    let user = caller.user.id;
    let numbered = raw.parse::<i64>().ok().filter(|_| raw != "@current");
    let cached = numbered.and_then(|id| {
        let found = app.auth_cache.root_project(req.grants, id, user)?;
        Some((id, found))
    });
    let (wanted, found) = match cached {
        Some(found) => found,
        None => {
            let mut tx = app.db.read().await?;
            let wanted = project_id(&mut tx, raw, &caller.user).await?;
            let epoch = app.auth_cache.load_epoch(req.grants, &mut tx).await?;
            let found = access::store::project_access(&mut tx, wanted, None, user)
                .await?
                .map(Arc::new);
            tx.commit().await?;
            app.auth_cache
                .put_root_project(epoch, wanted, user, found.clone());
            (wanted, found)
        }
    };
    let found = ProjectAccess::clone(found.as_deref().ok_or_else(ApiError::not_found)?);
    let granted = match &found.membership {
        Some(m) => Some(
            access::resolve(Some(m.level), &found.rules)
                .granted()
                .ok_or_else(ApiError::not_found)?,
        ),
        None => None,
    };
    Ok((wanted, found.organization, found.membership, granted))
}

/// The fallback of a path: methods it does not declare. As in PostHog,
/// permissions are checked first: personal API keys are refused for actions
/// that declare no scope, so a key sees that 403 before it could see a 405.
/// The one exception is PATCH on an organization's list route, which PostHog
/// maps to a write of the listed object (then 405). Public paths answer 405.
fn unmapped_method(declared: &[&Endpoint]) -> MethodRouter<App> {
    let public = declared.iter().any(|e| matches!(e.access, Access::Public));
    let in_organization = declared
        .iter()
        .any(|e| matches!(e.access, Access::Organization(..) | Access::Project(..)));
    let list_object: Option<&'static str> = declared.iter().find_map(|e| match e.access {
        Access::Organization(scopes, _) if e.method == Method::GET && !e.path.ends_with('}') => {
            scopes.first().map(|s| s.object)
        }
        _ => None,
    });
    let list_write: Option<Arc<[Scope; 1]>> = list_object.map(|o| Arc::new([Scope::write(o)]));
    MethodRouter::new().fallback(move |State(app): State<App>, mut req: ApiRequest| {
        let list_write = list_write.clone();
        async move {
            let method = req.method.clone();
            if !public {
                let scopes: &[Scope] = match &list_write {
                    Some(w) if method == Method::PATCH => &w[..],
                    _ => &[],
                };
                if in_organization {
                    req.organization(&app, scopes, Target::Organization).await?;
                } else {
                    let caller = req.authenticate(&app, None).await?.caller;
                    caller.grant.check_scopes(scopes)?;
                }
            }
            Err::<Response, _>(ApiError::method_not_allowed(method.as_str()))
        }
    })
}
