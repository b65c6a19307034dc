//! `/api/projects/...`: the projects endpoints at the root mount. The list
//! spans every organization of the caller; a create goes into their current
//! organization; a project's own routes find its organization from the
//! project and then behave exactly as under `/api/organizations/:id/`.

pub mod openapi;

use axum::response::Response;

use super::{store, ACTIVITY, READ, WRITE};
use crate::auth::{Caller, Named, Target};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, pagination, Access, ApiRequest, App, Member, ProjectNeed, Routes};
use crate::organizations;

const LIST_PATH: &str = "/api/projects";
const DETAIL_PATH: &str = "/api/projects/{id}";
const ACTIVITY_PATH: &str = "/api/projects/{id}/activity";

pub fn routes(r: Routes) -> Routes {
    use openapi as doc;
    use ProjectNeed::{Admin, Read};
    r.caller(doc::list(), Access::Organizations(READ), list)
        .caller(doc::create(), Access::Organizations(WRITE), create)
        .root_project(doc::retrieve(), "id", READ, Read, super::retrieve)
        .root_project(
            doc::partial_update(),
            "id",
            WRITE,
            Read,
            super::partial_update,
        )
        .root_project(doc::update(), "id", WRITE, Read, super::update)
        .root_project(doc::destroy(), "id", WRITE, Admin, super::destroy)
        .root_project(
            doc::activity_log(),
            "id",
            ACTIVITY,
            Read,
            super::activity_log,
        )
}

/// Every project of every organization the caller belongs to that they can
/// see, narrowed by the key's organization restriction (not by the current
/// organization).
async fn list(app: App, req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    let query = req.query_pairs();
    let page = pagination::page(&query);
    let base = app.absolute(req.uri.path());
    let only = caller
        .grant
        .scoped_organizations
        .clone()
        .filter(|o| !o.is_empty());
    let mut tx = app.db.read().await?;
    let (count, projects) = store::page_for_user(
        &mut tx,
        caller.user.id,
        only.as_deref(),
        page.limit,
        page.offset,
    )
    .await?;
    tx.commit().await?;
    let results = super::model::basic_list(&projects);
    http::ok_json(pagination::envelope_of(
        &base, &query, page, count, &results,
    )?)
}

const NO_ORGANIZATION: &str = "You need to belong to an organization.";

/// A project in the caller's current organization, with the same rules as
/// `POST /api/organizations/:id/projects/`.
async fn create(app: App, req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    let no_organization = || {
        let mut e = ApiError::not_found();
        e.detail = NO_ORGANIZATION.into();
        e
    };
    let mut tx = app.db.read().await?;
    let org_id = organizations::current_organization(&mut tx, &caller.user)
        .await?
        .ok_or_else(no_organization)?;
    let found = organizations::find_with_level(&mut tx, &org_id, caller.user.id).await?;
    tx.commit().await?;
    let (org, membership) = found.ok_or_else(no_organization)?;
    let named = Named {
        id: &org.id,
        membership: membership.as_ref().map(|m| (&org, m.level)),
    };
    caller.grant.check(WRITE, named, Target::Organization)?;
    let membership = membership.ok_or_else(no_organization)?;
    let member = Member {
        caller,
        org,
        level: membership.level,
        membership_id: membership.id,
    };
    super::create(app, req, member).await
}
