//! What the organization endpoints show beyond the core row: the settings
//! added for `/api/organizations/` (slug, 2FA enforcement, ...), the full
//! organization shape and the short one `/api/users/@me/` lists.

use sea_query::{Alias, Expr, ExprTrait, Query};
use serde_json::{json, Value};

use super::{Level, Organization};
use crate::auth::keys;
use crate::projects::{model::Project, store as projects};
use crate::storage::schema::{OrganizationMemberships as M, Organizations as O, Users as U};
use crate::storage::{DbResult, RowRead, Tx};
use crate::time;

/// Self-hosted: every plugin capability (PostHog's `PluginsAccessLevel.ROOT`).
const PLUGINS_ACCESS_LEVEL: i64 = 9;
/// PostHog's `INSTANCE_TAG` default.
const INSTANCE_TAG: &str = "none";

/// The organization's settings outside the core row. Columns are nullable
/// (added by a later migration); [`Details::from_row`] applies PostHog's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct Details {
    pub slug: Option<String>,
    pub logo_media_id: Option<String>,
    pub enforce_2fa: Option<bool>,
    pub allow_publicly_shared_resources: bool,
    pub is_ai_data_processing_approved: Option<bool>,
    pub default_experiment_stats_method: Option<String>,
    pub default_role_id: Option<String>,
}

const COLUMNS: [O; 7] = [
    O::Slug,
    O::LogoMediaId,
    O::Enforce2fa,
    O::AllowPubliclySharedResources,
    O::IsAiDataProcessingApproved,
    O::DefaultExperimentStatsMethod,
    O::DefaultRoleId,
];

impl Details {
    fn from_row(r: &dyn RowRead) -> DbResult<Details> {
        Ok(Details {
            slug: r.opt_string(0)?,
            logo_media_id: r.opt_string(1)?,
            enforce_2fa: r.opt_bool(2)?,
            allow_publicly_shared_resources: r.opt_bool(3)?.unwrap_or(true),
            is_ai_data_processing_approved: r.opt_bool(4)?,
            // The column is NULL both for "never set" and for an explicit null:
            // PostHog's default applies to organizations made before it existed.
            default_experiment_stats_method: r.opt_string(5)?,
            default_role_id: r.opt_string(6)?,
        })
    }
}

/// The organization's details; PostHog's defaults if it was deleted meanwhile
/// (a read racing a delete renders what it was given, never an error).
pub async fn find(tx: &mut Tx, org_id: &str) -> DbResult<Details> {
    let stmt = Query::select()
        .columns(COLUMNS)
        .from(O::Table)
        .and_where(Expr::col(O::Id).eq(org_id))
        .to_owned();
    Ok(tx
        .query_opt(&stmt, Details::from_row)
        .await?
        .unwrap_or(Details {
            slug: None,
            logo_media_id: None,
            enforce_2fa: None,
            allow_publicly_shared_resources: true,
            is_ai_data_processing_approved: None,
            default_experiment_stats_method: None,
            default_role_id: None,
        }))
}

/// Writes the organization's details (its slug excepted).
pub async fn save(tx: &mut Tx, org_id: &str, d: &Details) -> DbResult<()> {
    let stmt = Query::update()
        .table(O::Table)
        .value(O::LogoMediaId, d.logo_media_id.clone())
        .value(O::Enforce2fa, d.enforce_2fa)
        .value(
            O::AllowPubliclySharedResources,
            d.allow_publicly_shared_resources,
        )
        .value(
            O::IsAiDataProcessingApproved,
            d.is_ai_data_processing_approved,
        )
        .value(
            O::DefaultExperimentStatsMethod,
            d.default_experiment_stats_method.clone(),
        )
        .value(O::DefaultRoleId, d.default_role_id.clone())
        .and_where(Expr::col(O::Id).eq(org_id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(())
}

/// Django's `slugify`, without its transliteration: ASCII letters, digits,
/// `_` and `-`, lower-cased, runs of spaces and dashes as one dash (other
/// characters are dropped).
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() || c == '_' {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        } else if c == '-' || c.is_whitespace() {
            dash = true;
        }
    }
    out.trim_matches(|c| c == '-' || c == '_').to_string()
}

/// Gives a new organization its unique slug: its name's, with a random
/// suffix when that one is taken (as PostHog's `create_with_slug`).
pub async fn assign_slug(tx: &mut Tx, org_id: &str, name: &str) -> DbResult<String> {
    if tx.is_postgres() {
        // Two organizations of one name created at once would both find the
        // slug free; the unique index would then fail one of them. Slugs are
        // assigned one at a time instead (creating organizations is rare).
        tx.batch("SELECT pg_advisory_xact_lock(1983289599)").await?;
    }
    let base = match slugify(name) {
        s if s.is_empty() => "organization".to_string(),
        s => s,
    };
    let mut slug = base.clone();
    loop {
        let taken = Query::select()
            .column(O::Id)
            .from(O::Table)
            .and_where(Expr::col(O::Slug).eq(slug.as_str()))
            .to_owned();
        if tx.query_opt(&taken, |r| r.string(0)).await?.is_none() {
            break;
        }
        slug = format!("{base}-{}", keys::random_token(4).to_lowercase());
    }
    let stmt = Query::update()
        .table(O::Table)
        .value(O::Slug, slug.as_str())
        .and_where(Expr::col(O::Id).eq(org_id))
        .to_owned();
    tx.execute(&stmt).await?;
    Ok(slug)
}

/// The user's organizations with their level, oldest first, limited to
/// `only` when given (a key's organization restriction); and how many.
pub async fn of_user(
    tx: &mut Tx,
    user_id: i64,
    only: Option<&[String]>,
    limit: i64,
    offset: i64,
) -> DbResult<(Vec<(Organization, Level)>, i64)> {
    let mut base = Query::select();
    base.from(O::Table).inner_join(
        M::Table,
        Expr::col((M::Table, M::OrganizationId))
            .equals((O::Table, O::Id))
            .and(Expr::col((M::Table, M::UserId)).eq(user_id)),
    );
    if let Some(only) = only {
        base.and_where(Expr::col((O::Table, O::Id)).is_in(only.iter().cloned()));
    }
    let mut count = base.clone();
    count.expr_as(Expr::col((O::Table, O::Id)).count(), Alias::new("n"));
    let total = tx.query_opt(&count, |r| r.i64(0)).await?.unwrap_or(0);
    let mut rows = base;
    rows.columns(super::COLUMNS.map(|c| (O::Table, c)))
        .column((M::Table, M::Level))
        .order_by((O::Table, O::CreatedAt), sea_query::Order::Asc)
        .order_by((O::Table, O::Id), sea_query::Order::Asc)
        .limit(limit as u64)
        .offset(offset as u64);
    let orgs = tx
        .query(&rows, |r| {
            let org = Organization::from_row(r, 0)?;
            let level = Level::from_i64(r.i64(super::COLUMNS.len())?).unwrap_or(Level::Member);
            Ok((org, level))
        })
        .await?;
    Ok((orgs, total))
}

/// Active members (PostHog's `member_count`).
pub async fn member_count(tx: &mut Tx, org_id: &str) -> DbResult<i64> {
    let stmt = Query::select()
        .expr_as(Expr::col((M::Table, M::Id)).count(), Alias::new("n"))
        .from(M::Table)
        .inner_join(
            U::Table,
            Expr::col((U::Table, U::Id)).equals((M::Table, M::UserId)),
        )
        .and_where(Expr::col((M::Table, M::OrganizationId)).eq(org_id))
        .and_where(Expr::col((U::Table, U::IsActive)).eq(true))
        .to_owned();
    Ok(tx.query_opt(&stmt, |r| r.i64(0)).await?.unwrap_or(0))
}

/// PostHog's `TeamBasic`: the project list item with its `project_id`.
pub fn team_basic(p: &Project) -> Value {
    serde_json::to_value(crate::projects::model::TeamBasic(p)).unwrap_or_default()
}

/// The slug shown for an organization made before slugs existed.
fn shown_slug(org: &Organization, d: &Details) -> String {
    d.slug.clone().unwrap_or_else(|| slugify(&org.name))
}

/// The full organization shape (`OrganizationSerializer`), as `level` sees it.
pub async fn full_json(tx: &mut Tx, org: &Organization, level: Option<Level>) -> DbResult<Value> {
    let d = find(tx, &org.id).await?;
    let projects = projects::all(tx, &org.id).await?;
    let member_count = member_count(tx, &org.id).await?;
    let teams: Vec<Value> = projects.iter().map(team_basic).collect();
    let project_items: Vec<Value> = projects
        .iter()
        .map(|p| json!({"id": p.id, "organization_id": p.organization_id, "name": p.name}))
        .collect();
    Ok(json!({
        "id": org.id,
        "name": org.name,
        "slug": shown_slug(org, &d),
        "logo_media_id": d.logo_media_id,
        "created_at": time::format(org.created_at),
        "updated_at": time::format(org.updated_at),
        "membership_level": level.map(Level::as_i64),
        "plugins_access_level": PLUGINS_ACCESS_LEVEL,
        "teams": teams,
        "projects": project_items,
        "available_product_features": [],
        "is_member_join_email_enabled": org.is_member_join_email_enabled,
        "metadata": {"instance_tag": INSTANCE_TAG},
        "customer_id": null,
        "enforce_2fa": d.enforce_2fa,
        "members_can_invite": org.members_can_invite,
        "members_can_create_projects": org.members_can_create_projects,
        "members_can_use_personal_api_keys": org.members_can_use_personal_api_keys,
        "allow_publicly_shared_resources": d.allow_publicly_shared_resources,
        "member_count": member_count,
        "is_ai_data_processing_approved": d.is_ai_data_processing_approved,
        "default_experiment_stats_method": d.default_experiment_stats_method,
        "default_anonymize_ips": org.default_anonymize_ips,
        "default_role_id": d.default_role_id,
        "is_ai_training_locked": false,
        "is_hipaa": false,
        "is_active": true,
        "is_not_active_reason": null,
        "is_pending_deletion": false,
    }))
}

/// The short shape (`OrganizationBasicSerializer`) of `/api/users/@me/`'s `organizations`.
pub async fn basic_json(tx: &mut Tx, org: &Organization, level: Option<Level>) -> DbResult<Value> {
    let d = find(tx, &org.id).await?;
    Ok(json!({
        "id": org.id,
        "name": org.name,
        "slug": shown_slug(org, &d),
        "logo_media_id": d.logo_media_id,
        "membership_level": level.map(Level::as_i64),
        "members_can_use_personal_api_keys": org.members_can_use_personal_api_keys,
        "is_active": true,
        "is_not_active_reason": null,
        "is_pending_deletion": false,
    }))
}

#[cfg(test)]
mod tests {
    use super::slugify;

    #[test]
    fn slugs_as_django_makes_them() {
        for (name, slug) in [
            ("Hedgehogs", "hedgehogs"),
            ("Analytical  Engines", "analytical-engines"),
            (" -Dash--me- ", "dash-me"),
            ("Crème brûlée & co.", "crme-brle-co"),
            ("under_score", "under_score"),
            ("!!!", ""),
        ] {
            assert_eq!(slugify(name), slug, "{name}");
        }
    }
}
