//! An organization as prickle holds and shows it: membership levels, the
//! core row, the settings added for `/api/organizations/` (slug, 2FA
//! enforcement, ...), the full organization shape and the short one
//! `/api/users/@me/` lists.

use serde_json::{json, Value};

use crate::projects::model::Project;
use crate::time;
use crate::users::User;

/// Membership levels, PostHog's numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Member = 1,
    Admin = 8,
    Owner = 15,
}

impl Level {
    pub fn from_i64(v: i64) -> Option<Level> {
        match v {
            1 => Some(Level::Member),
            8 => Some(Level::Admin),
            15 => Some(Level::Owner),
            _ => None,
        }
    }

    pub fn as_i64(self) -> i64 {
        self as i64
    }

    /// Admins and owners.
    pub fn is_admin(self) -> bool {
        self >= Level::Admin
    }
}

#[derive(Clone, Debug)]
pub struct Organization {
    pub id: String,
    pub name: String,
    pub members_can_invite: Option<bool>,
    pub members_can_create_projects: bool,
    pub members_can_use_personal_api_keys: bool,
    pub is_member_join_email_enabled: bool,
    pub default_anonymize_ips: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Organization {
    /// The organization as the admin CLI prints it (a subset of PostHog's organization serializer).
    pub fn to_json(&self, membership_level: Option<Level>) -> Value {
        json!({
            "id": self.id,
            "name": self.name,
            "created_at": time::format(self.created_at),
            "updated_at": time::format(self.updated_at),
            "membership_level": membership_level.map(Level::as_i64),
            "members_can_invite": self.members_can_invite,
            "members_can_create_projects": self.members_can_create_projects,
            "members_can_use_personal_api_keys": self.members_can_use_personal_api_keys,
            "is_member_join_email_enabled": self.is_member_join_email_enabled,
            "default_anonymize_ips": self.default_anonymize_ips,
        })
    }
}

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

/// A membership with its user (rendered by `members::model`).
pub struct Membership {
    pub id: String,
    pub user: User,
    pub level: Level,
    pub joined_at: i64,
    pub updated_at: i64,
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

/// PostHog's `TeamBasic`: the project list item with its `project_id`.
pub fn team_basic(p: &Project) -> Value {
    serde_json::to_value(crate::projects::model::TeamBasic(p)).unwrap_or_default()
}

/// The slug shown for an organization made before slugs existed.
fn shown_slug(org: &Organization, d: &Details) -> String {
    d.slug.clone().unwrap_or_else(|| slugify(&org.name))
}

/// The full organization shape (`OrganizationSerializer`), as `level` sees
/// it, with its details, projects and active member count.
pub fn full_json(
    org: &Organization,
    level: Option<Level>,
    d: &Details,
    projects: &[Project],
    member_count: i64,
) -> Value {
    let teams: Vec<Value> = projects.iter().map(team_basic).collect();
    let project_items: Vec<Value> = projects
        .iter()
        .map(|p| json!({"id": p.id, "organization_id": p.organization_id, "name": p.name}))
        .collect();
    json!({
        "id": org.id,
        "name": org.name,
        "slug": shown_slug(org, d),
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
    })
}

/// The short shape (`OrganizationBasicSerializer`) of `/api/users/@me/`'s `organizations`.
pub fn basic_json(org: &Organization, level: Option<Level>, d: &Details) -> Value {
    json!({
        "id": org.id,
        "name": org.name,
        "slug": shown_slug(org, d),
        "logo_media_id": d.logo_media_id,
        "membership_level": level.map(Level::as_i64),
        "members_can_use_personal_api_keys": org.members_can_use_personal_api_keys,
        "is_active": true,
        "is_not_active_reason": null,
        "is_pending_deletion": false,
    })
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
