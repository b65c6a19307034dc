//! `/api/organizations/:organization_id/members/...`: list members, change a
//! member's level (PATCH, and PUT as PATCH), remove a member or leave, and
//! the keys of a member that can reach the organization.
//!
//! Writes lock the organization row and read the caller's level again under
//! that lock, so two admins demoting each other (or two owners) are
//! serialised: the second sees the first's result and is refused, and the
//! organization keeps an owner.

pub mod model;
pub mod openapi;
pub mod payload;
pub mod rules;
pub mod store;

use axum::response::Response;
use chrono::{NaiveDate, NaiveDateTime};

use crate::auth::Scope;
use crate::drf;
use crate::error::{ApiError, ApiResult};
use crate::http::{self, pagination, ApiRequest, App, Member, NonMember, Routes};
use crate::organizations;
use crate::storage::Tx;
use crate::time;
use rules::Action;
use store::{ListQuery, Who};

const READ: &[Scope] = &[Scope::read("organization_member")];
const WRITE: &[Scope] = &[Scope::write("organization_member")];

const LIST_PATH: &str = "/api/organizations/{organization_id}/members";
const DETAIL_PATH: &str = "/api/organizations/{organization_id}/members/{user__uuid}";
const KEYS_PATH: &str = "/api/organizations/{organization_id}/members/{user__uuid}/scoped_api_keys";

/// An unfiltered page of an organization's member list: order, limit, offset.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct PageKey {
    org_id: String,
    ascending: bool,
    limit: i64,
    offset: i64,
}

/// PostHog caps `search` at 200 characters.
const MAX_SEARCH_CHARS: usize = 200;
const WEEK_MICROS: i64 = 7 * 24 * time::HOUR_MICROS;

pub fn routes(r: Routes) -> Routes {
    use openapi as doc;
    use NonMember::Forbidden;
    r.organization(doc::list(), READ, Forbidden, list)
        .organization(doc::partial_update(), WRITE, Forbidden, update)
        .organization(doc::update(), WRITE, Forbidden, update)
        .organization(doc::destroy(), WRITE, Forbidden, destroy)
        // PostHog declares no scope here and refuses keys; prickle serves
        // them with `organization_member:read` (decisions.md).
        .organization(doc::scoped_api_keys(), READ, Forbidden, scoped_api_keys)
}

/// The member the path names: a user's uuid, or `@me`. A malformed uuid is
/// a 404, never a query.
fn target(req: &ApiRequest, ctx: &Member) -> ApiResult<Who> {
    match req.param("user__uuid").unwrap_or_default() {
        "@me" => Ok(Who::UserId(ctx.caller.user.id)),
        raw => organizations::parse_uuid(raw)
            .map(Who::UserUuid)
            .ok_or_else(ApiError::not_found),
    }
}

fn last<'a>(query: &'a [(String, String)], key: &str) -> Option<&'a str> {
    query
        .iter()
        .rev()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// `updated_after` as Django reads a datetime: ISO 8601 with or without an
/// offset (naive means UTC), `T` or a space, or a bare date (midnight).
fn parse_datetime(raw: &str) -> ApiResult<i64> {
    let raw = raw.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(&raw.replacen(' ', "T", 1)) {
        return Ok(t.timestamp_micros());
    }
    for format in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(raw, format) {
            return Ok(t.and_utc().timestamp_micros());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(raw, "%Y-%m-%d") {
        if let Some(t) = d.and_hms_opt(0, 0, 0) {
            return Ok(t.and_utc().timestamp_micros());
        }
    }
    Err(ApiError::invalid_input("Enter a valid date/time.").at("updated_after"))
}

async fn list(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    let query = req.query_pairs();
    let page = pagination::page(&query);
    let search = last(&query, "search");
    for (attr, value) in [("search", search), ("email", last(&query, "email"))] {
        if let Some(v) = value {
            drf::no_null_characters(v, &attr.into())?;
        }
    }
    if search.is_some_and(|s| s.chars().count() > MAX_SEARCH_CHARS) {
        return Err(
            ApiError::invalid_input("Search query must be 200 characters or fewer.").at("search"),
        );
    }
    let updated_after = last(&query, "updated_after")
        .map(parse_datetime)
        .transpose()?;
    let q = ListQuery {
        email: last(&query, "email"),
        updated_after,
        search: search.filter(|s| !s.trim().is_empty()),
        // Only `joined_at` and `-joined_at` are honoured; anything else is
        // PostHog's default, newest first.
        ascending: last(&query, "order") == Some("joined_at"),
        limit: page.limit,
        offset: page.offset,
    };
    let base = app.absolute(req.uri.path());
    let mut tx = app.db.read().await?;
    let render = async |tx: &mut Tx| {
        let (count, members) = store::page(tx, &ctx.org.id, &q).await?;
        let results = http::to_json(&model::Listed(&members))?;
        Ok(std::sync::Arc::new((count, results)))
    };
    // An unfiltered page is rendered once per commit.
    let rendered = match q.filtered() {
        false => {
            let key = || PageKey {
                org_id: ctx.org.id.clone(),
                ascending: q.ascending,
                limit: q.limit,
                offset: q.offset,
            };
            let pages = &app.rendered.member_pages;
            pages.page(&mut tx, key, render).await?
        }
        true => render(&mut tx).await?,
    };
    tx.commit().await?;
    let (count, results) = &*rendered;
    http::ok_json(pagination::envelope_json(
        &base, &query, page, *count, results,
    ))
}

/// PATCH, and PUT (clients send partial bodies with PUT; decisions.md).
async fn update(app: App, mut req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    // Parsed now, reported after the permission check, as DRF does.
    let level = req.data().and_then(payload::requested_level);
    let who = target(&req, &ctx)?;
    let now = time::now_micros();
    let mut tx = app.db.write().await?;
    organizations::lock(&mut tx, &ctx.org.id).await?;
    let actor = store::level_of(&mut tx, &ctx.org.id, ctx.caller.user.id)
        .await?
        .ok_or_else(ApiError::forbidden)?;
    let mut member = store::find(&mut tx, &ctx.org.id, who)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let is_self = member.user.id == ctx.caller.user.id;
    rules::check(actor, member.level, Action::Update(None), is_self)?;
    let level = level?;
    rules::check(actor, member.level, Action::Update(level), is_self)?;
    member.level = level.unwrap_or(member.level);
    member.updated_at = now;
    store::set_level(&mut tx, &ctx.org.id, &member.id, member.level, now).await?;
    tx.commit().await?;
    http::ok_of(&model::OrganizationMember::of(&member, None))
}

/// Removes a member, or lets the caller leave. The removed user's keys stay,
/// but from the next request on they pass no check for this organization.
async fn destroy(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    let who = target(&req, &ctx)?;
    let mut tx = app.db.write().await?;
    organizations::lock(&mut tx, &ctx.org.id).await?;
    let actor = store::level_of(&mut tx, &ctx.org.id, ctx.caller.user.id)
        .await?
        .ok_or_else(ApiError::forbidden)?;
    let member = store::find(&mut tx, &ctx.org.id, who)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let is_self = member.user.id == ctx.caller.user.id;
    rules::check(actor, member.level, Action::Remove, is_self)?;
    store::remove(&mut tx, &ctx.org.id, &member).await?;
    tx.commit().await?;
    http::no_content()
}

/// Any member may see which of another member's keys reach the organization
/// (labels and last use, never values), as in PostHog.
async fn scoped_api_keys(app: App, req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    let who = target(&req, &ctx)?;
    let mut tx = app.db.read().await?;
    let member = store::find(&mut tx, &ctx.org.id, who)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let keys = store::keys_of(&mut tx, member.user.id).await?;
    let projects = store::project_ids(&mut tx, &ctx.org.id).await?;
    tx.commit().await?;
    let week_ago = time::now_micros() - WEEK_MICROS;
    let reaching: Vec<&store::KeyRow> = keys
        .iter()
        .filter(|k| {
            rules::key_reaches(
                k.scoped_organizations.as_deref(),
                k.scoped_teams.as_deref(),
                &ctx.org.id,
                &projects,
            )
        })
        .collect();
    http::ok_of(&model::ScopedApiKeys {
        has_keys: !reaching.is_empty(),
        has_keys_active_last_week: reaching
            .iter()
            .any(|k| k.last_used_at.is_some_and(|t| t >= week_ago)),
        keys: reaching
            .iter()
            .map(|k| model::ScopedApiKey {
                name: &k.label,
                last_used_at: k.last_used_at.map(time::Timestamp),
            })
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::parse_datetime;

    #[test]
    fn datetimes_as_django_reads_them() {
        let midnight = 1_704_844_800_000_000;
        for ok in [
            "2024-01-10T00:00:00Z",
            "2024-01-10T00:00:00+00:00",
            "2024-01-10 00:00:00",
            "2024-01-10T00:00",
            "2024-01-10",
            "2024-01-10T01:00:00+01:00",
        ] {
            assert_eq!(parse_datetime(ok).unwrap(), midnight, "{ok}");
        }
        assert_eq!(
            parse_datetime("2024-01-10T00:00:00.5Z").unwrap(),
            midnight + 500_000
        );
        for bad in [
            "yesterday",
            "2024-13-01",
            "2024-01-10T25:00:00Z",
            "1704844800",
        ] {
            let e = parse_datetime(bad).unwrap_err();
            assert_eq!(e.attr.as_deref(), Some("updated_after"), "{bad}");
        }
    }
}
