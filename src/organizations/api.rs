//! `/api/organizations/` and `/api/organizations/:organization_id/`: the
//! caller's organizations, a new one, and one organization's settings.

use std::borrow::Cow;

use axum::response::Response;
use sea_query::{Expr, ExprTrait, Query};
use serde_json::{Map, Value};

use super::details::{self, Details};
use super::{deletion, require_admin, Level, Organization, INSUFFICIENT};
use crate::activity;
use crate::auth::{Caller, Scope};
use crate::drf::{self, Attr, CharOpts};
use crate::error::{ApiError, ApiResult};
use crate::http::{self, pagination, Access, ApiRequest, App, Member, Routes};
use crate::projects;
use crate::storage::schema::Organizations as O;
use crate::storage::Tx;
use crate::time;
use crate::users;

const READ: &[Scope] = &[Scope::read("organization")];
const WRITE: &[Scope] = &[Scope::write("organization")];

pub(super) const LIST_PATH: &str = "/api/organizations";
pub(super) const DETAIL_PATH: &str = "/api/organizations/{organization_id}";

pub fn routes(r: Routes) -> Routes {
    use super::openapi as doc;
    r.caller(doc::list(), Access::Organizations(READ), list)
        .caller(doc::create(), Access::Organizations(WRITE), create)
        .organization_object(doc::retrieve(), READ, retrieve)
        .organization_object(doc::partial_update(), WRITE, update)
        // PUT behaves as PATCH (decisions.md).
        .organization_object(doc::update(), WRITE, update)
        .organization_object(doc::destroy(), WRITE, destroy)
}

/// Only owners delete an organization.
pub fn may_delete(level: Level) -> ApiResult<()> {
    if level >= Level::Owner {
        Ok(())
    } else {
        Err(ApiError::permission_denied(INSUFFICIENT))
    }
}

/// The key's organization restriction, as a list filter (`None`: unrestricted).
fn restriction(caller: &Caller) -> Option<Vec<String>> {
    caller
        .grant
        .scoped_organizations
        .clone()
        .filter(|o| !o.is_empty())
}

async fn list(app: App, req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    let query = req.query_pairs();
    let page = pagination::page(&query);
    let base = app.absolute(req.uri.path());
    let only = restriction(&caller);
    let mut tx = app.db.read().await?;
    let (orgs, count) = details::of_user(
        &mut tx,
        caller.user.id,
        only.as_deref(),
        page.limit,
        page.offset,
    )
    .await?;
    let mut results = Vec::with_capacity(orgs.len());
    for (org, level) in &orgs {
        results.push(details::full_json(&mut tx, org, Some(*level)).await?);
    }
    tx.commit().await?;
    let results = Value::Array(results).to_string();
    http::ok_json(pagination::envelope_json(
        &base, &query, page, count, &results,
    ))
}

/// A validated change to an organization's writable fields.
#[derive(Default, Debug)]
struct Change {
    name: Option<String>,
    is_member_join_email_enabled: Option<bool>,
    members_can_invite: Option<Option<bool>>,
    members_can_create_projects: Option<bool>,
    members_can_use_personal_api_keys: Option<bool>,
    default_anonymize_ips: Option<bool>,
    logo_media_id: Option<Option<String>>,
    enforce_2fa: Option<Option<bool>>,
    allow_publicly_shared_resources: Option<bool>,
    is_ai_data_processing_approved: Option<Option<bool>>,
    default_experiment_stats_method: Option<Option<String>>,
    default_role_id: Option<Option<String>>,
}

fn boolean(v: &Value, field: &'static str) -> ApiResult<bool> {
    Ok(drf::bool_field(v, &Cow::Borrowed(field), false)?.unwrap_or(false))
}

fn nullable_boolean(v: &Value, field: &'static str) -> ApiResult<Option<bool>> {
    drf::bool_field(v, &Cow::Borrowed(field), true)
}

/// PostHog's field rules, in its serializer's field order (the first error wins).
fn validate(body: &Map<String, Value>, creating: bool) -> ApiResult<Change> {
    let mut c = Change::default();
    match body.get("name") {
        Some(v) => {
            let opts = CharOpts {
                allow_null: false,
                allow_blank: false,
                max_length: Some(64),
            };
            c.name = drf::char_field(v, &Cow::Borrowed("name"), &opts)?;
        }
        None if creating => return Err(ApiError::required("name")),
        None => {}
    }
    if let Some(v) = body.get("logo_media_id") {
        // No uploaded media exist here, so only null names one.
        c.logo_media_id = Some(match v {
            Value::Null => None,
            Value::String(s) => {
                return Err(ApiError::validation(
                    "does_not_exist",
                    format!("Invalid pk \"{s}\" - object does not exist."),
                )
                .at("logo_media_id"))
            }
            other => {
                return Err(ApiError::validation(
                    "incorrect_type",
                    format!(
                        "Incorrect type. Expected pk value, received {}.",
                        drf::py_type_name(other)
                    ),
                )
                .at("logo_media_id"))
            }
        });
    }
    if let Some(v) = body.get("is_member_join_email_enabled") {
        c.is_member_join_email_enabled = Some(boolean(v, "is_member_join_email_enabled")?);
    }
    if let Some(v) = body.get("enforce_2fa") {
        c.enforce_2fa = Some(nullable_boolean(v, "enforce_2fa")?);
    }
    if let Some(v) = body.get("members_can_invite") {
        c.members_can_invite = Some(nullable_boolean(v, "members_can_invite")?);
    }
    if let Some(v) = body.get("members_can_create_projects") {
        c.members_can_create_projects = Some(boolean(v, "members_can_create_projects")?);
    }
    if let Some(v) = body.get("members_can_use_personal_api_keys") {
        c.members_can_use_personal_api_keys =
            Some(boolean(v, "members_can_use_personal_api_keys")?);
    }
    if let Some(v) = body.get("allow_publicly_shared_resources") {
        c.allow_publicly_shared_resources = Some(boolean(v, "allow_publicly_shared_resources")?);
    }
    if let Some(v) = body.get("is_ai_data_processing_approved") {
        c.is_ai_data_processing_approved =
            Some(nullable_boolean(v, "is_ai_data_processing_approved")?);
    }
    if let Some(v) = body.get("default_experiment_stats_method") {
        let attr: Attr = Cow::Borrowed("default_experiment_stats_method");
        let choice = drf::choice_field(v, &attr, &["bayesian", "frequentist"], true, true)?;
        c.default_experiment_stats_method = Some(choice);
    }
    if let Some(v) = body.get("default_anonymize_ips") {
        c.default_anonymize_ips = Some(boolean(v, "default_anonymize_ips")?);
    }
    if let Some(v) = body.get("default_role_id") {
        // No roles exist here: only null (no default role) can be set.
        c.default_role_id = Some(match v {
            Value::Null => None,
            other => {
                return Err(ApiError::validation(
                    "does_not_exist",
                    format!("Object with id={} does not exist.", drf::py_str(other)),
                )
                .at("default_role_id"))
            }
        });
    }
    Ok(c)
}

impl Change {
    fn apply(self, org: &mut Organization, d: &mut Details) {
        if let Some(v) = self.name {
            org.name = v;
        }
        if let Some(v) = self.is_member_join_email_enabled {
            org.is_member_join_email_enabled = v;
        }
        if let Some(v) = self.members_can_invite {
            org.members_can_invite = v;
        }
        if let Some(v) = self.members_can_create_projects {
            org.members_can_create_projects = v;
        }
        if let Some(v) = self.members_can_use_personal_api_keys {
            org.members_can_use_personal_api_keys = v;
        }
        if let Some(v) = self.default_anonymize_ips {
            org.default_anonymize_ips = v;
        }
        if let Some(v) = self.logo_media_id {
            d.logo_media_id = v;
        }
        if let Some(v) = self.enforce_2fa {
            d.enforce_2fa = v;
        }
        if let Some(v) = self.allow_publicly_shared_resources {
            d.allow_publicly_shared_resources = v;
        }
        if let Some(v) = self.is_ai_data_processing_approved {
            d.is_ai_data_processing_approved = v;
        }
        if let Some(v) = self.default_experiment_stats_method {
            d.default_experiment_stats_method = v;
        }
        if let Some(v) = self.default_role_id {
            d.default_role_id = v;
        }
    }
}

/// Writes the organization's core columns and its details.
async fn save(tx: &mut Tx, org: &Organization, d: &Details) -> ApiResult<()> {
    let stmt = Query::update()
        .table(O::Table)
        .value(O::Name, org.name.as_str())
        .value(O::MembersCanInvite, org.members_can_invite)
        .value(O::MembersCanCreateProjects, org.members_can_create_projects)
        .value(
            O::MembersCanUsePersonalApiKeys,
            org.members_can_use_personal_api_keys,
        )
        .value(
            O::IsMemberJoinEmailEnabled,
            org.is_member_join_email_enabled,
        )
        .value(O::DefaultAnonymizeIps, org.default_anonymize_ips)
        .value(O::UpdatedAt, org.updated_at)
        .and_where(Expr::col(O::Id).eq(org.id.as_str()))
        .to_owned();
    tx.execute(&stmt).await?;
    details::save(tx, &org.id, d).await?;
    Ok(())
}

/// PostHog's `Organization.objects.bootstrap`: the organization, its first
/// project, the caller as owner, and both become the caller's current ones.
async fn create(app: App, mut req: ApiRequest, caller: Caller) -> ApiResult<Response> {
    let body = req.body_object()?;
    let change = validate(&body, true)?;
    let now = time::now_micros();
    let name = change.name.clone().unwrap_or_default();
    let mut tx = app.db.write().await?;
    let mut org = super::insert(&mut tx, &name, now).await?;
    let mut d = details::find(&mut tx, &org.id).await?;
    change.apply(&mut org, &mut d);
    save(&mut tx, &org, &d).await?;
    super::add_member(&mut tx, &org.id, &caller.user, Level::Owner, now).await?;
    let mut project = projects::blank(&org, now);
    project.name = "Default project".into();
    project.id = projects::store::insert(&mut tx, &project).await?;
    for scope in ["Project", "Team"] {
        let entry = activity::Entry {
            organization_id: &org.id,
            team_id: Some(project.id),
            user_id: Some(caller.user.id),
            activity: "created",
            scope,
            item_id: project.id.to_string(),
            detail: activity::detail(&project.name, None),
        };
        activity::record(&mut tx, entry, now).await?;
    }
    users::set_current(&mut tx, caller.user.id, Some(&org.id), Some(project.id)).await?;
    let body = details::full_json(&mut tx, &org, Some(Level::Owner)).await?;
    tx.commit().await?;
    http::created_json(body.to_string())
}

async fn retrieve(app: App, _: ApiRequest, ctx: Member) -> ApiResult<Response> {
    let mut tx = app.db.read().await?;
    let body = details::full_json(&mut tx, &ctx.org, Some(ctx.level)).await?;
    tx.commit().await?;
    http::ok(body)
}

async fn update(app: App, mut req: ApiRequest, ctx: Member) -> ApiResult<Response> {
    // PostHog's OrganizationAdminWritePermissions: admins change settings.
    require_admin(ctx.level)?;
    let body = req.body_object()?;
    let change = validate(&body, false)?;
    let mut tx = app.db.write().await?;
    super::lock(&mut tx, &ctx.org.id).await?;
    let mut org = super::find(&mut tx, &ctx.org.id)
        .await?
        .ok_or_else(ApiError::not_found)?;
    let mut d = details::find(&mut tx, &org.id).await?;
    change.apply(&mut org, &mut d);
    org.updated_at = time::now_micros();
    save(&mut tx, &org, &d).await?;
    let body = details::full_json(&mut tx, &org, Some(ctx.level)).await?;
    tx.commit().await?;
    http::ok(body)
}

async fn destroy(app: App, _: ApiRequest, ctx: Member) -> ApiResult<Response> {
    may_delete(ctx.level)?;
    let mut tx = app.db.write().await?;
    deletion::delete(&mut tx, &ctx.org.id).await?;
    tx.commit().await?;
    http::no_content()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn who_may_change_and_delete() {
        use Level::*;
        for (level, update, delete) in [
            (Member, false, false),
            (Admin, true, false),
            (Owner, true, true),
        ] {
            assert_eq!(require_admin(level).is_ok(), update, "{level:?}");
            assert_eq!(may_delete(level).is_ok(), delete, "{level:?}");
        }
        assert_eq!(may_delete(Admin).unwrap_err().detail, INSUFFICIENT);
    }

    #[test]
    fn fields_are_checked_in_posthogs_order() {
        let body = serde_json::json!({"name": "", "enforce_2fa": "x"});
        let e = validate(body.as_object().unwrap(), false).unwrap_err();
        assert_eq!(e.attr.as_deref(), Some("name"));
        let e = validate(&Map::new(), true).unwrap_err();
        assert_eq!(
            (e.code.as_ref(), e.attr.as_deref()),
            ("required", Some("name"))
        );
        let ok = validate(&Map::new(), false).unwrap();
        assert!(ok.name.is_none());
        let e = validate(
            serde_json::json!({"default_experiment_stats_method": "magic"})
                .as_object()
                .unwrap(),
            false,
        )
        .unwrap_err();
        assert_eq!(e.code, "invalid_choice");
    }
}
