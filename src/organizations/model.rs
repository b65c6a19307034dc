//! An organization as prickle holds and shows it: membership levels, the
//! core row, the settings added for `/api/organizations/` (slug, 2FA
//! enforcement, ...), the full organization shape and the short one
//! `/api/users/@me/` lists.

use serde::Serialize;
use serde_json::{json, Value};
use utoipa::openapi::schema::{ObjectBuilder, Schema};
use utoipa::openapi::RefOr;
use utoipa::ToSchema;

use crate::openapi::schema::{self as s, Kind};
use crate::projects::model::{Project, TeamBasic};
use crate::time::{self, Timestamp};
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

/// A user's membership of one organization as the route checks read it:
/// its id (what project access rules name) and its level.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MembershipLevel {
    pub id: String,
    pub level: Level,
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
    serde_json::to_value(TeamBasic(p)).unwrap_or_default()
}

/// The slug shown for an organization made before slugs existed.
fn shown_slug(org: &Organization, d: &Details) -> String {
    d.slug.clone().unwrap_or_else(|| slugify(&org.name))
}

// PostHog's `OrganizationSerializer`: the organization as `membership_level`
// sees it, with its details, projects and active member count. Also the
// create body's component (PostHog's schema uses one for both).
#[derive(Serialize, ToSchema)]
#[schema(as = Organization)]
pub struct Full<'a> {
    #[schema(value_type = String, format = "uuid", read_only)]
    id: &'a str,
    #[schema(min_length = 1, max_length = 64)]
    name: &'a str,
    #[schema(read_only)]
    slug: String,
    #[schema(value_type = Option<String>, format = "uuid")]
    logo_media_id: Option<&'a str>,
    #[schema(value_type = String, format = DateTime, read_only)]
    created_at: Timestamp,
    #[schema(value_type = String, format = DateTime, read_only)]
    updated_at: Timestamp,
    #[schema(schema_with = membership_level, required = true)]
    membership_level: Option<i64>,
    #[schema(schema_with = plugins_access_level)]
    plugins_access_level: i64,
    #[schema(schema_with = teams)]
    teams: Vec<TeamBasic<'a>>,
    #[schema(schema_with = project_items)]
    projects: Vec<ProjectItem<'a>>,
    #[schema(schema_with = any_list)]
    available_product_features: [(); 0],
    #[schema(required = false)]
    is_member_join_email_enabled: bool,
    #[schema(schema_with = metadata)]
    metadata: Metadata,
    #[schema(value_type = Option<String>, read_only, required = true)]
    customer_id: Option<&'a str>,
    enforce_2fa: Option<bool>,
    members_can_invite: Option<bool>,
    #[schema(required = false)]
    members_can_create_projects: bool,
    #[schema(required = false)]
    members_can_use_personal_api_keys: bool,
    #[schema(required = false)]
    allow_publicly_shared_resources: bool,
    #[schema(schema_with = read_only_integer)]
    member_count: i64,
    is_ai_data_processing_approved: Option<bool>,
    #[schema(schema_with = stats_method)]
    default_experiment_stats_method: Option<&'a str>,
    #[schema(required = false)]
    default_anonymize_ips: bool,
    /// ID of the role to automatically assign to new members joining the organization
    default_role_id: Option<&'a str>,
    #[schema(read_only)]
    is_ai_training_locked: bool,
    #[schema(read_only)]
    is_hipaa: bool,
    #[schema(read_only)]
    is_active: bool,
    #[schema(value_type = Option<String>, read_only, required = true)]
    is_not_active_reason: Option<&'a str>,
    #[schema(read_only)]
    is_pending_deletion: bool,
}

// A project in the organization's `projects`.
#[derive(Serialize)]
struct ProjectItem<'a> {
    id: i64,
    organization_id: &'a str,
    name: &'a str,
}

#[derive(Serialize)]
struct Metadata {
    instance_tag: &'static str,
}

fn membership_level() -> ObjectBuilder {
    s::nullable(Kind::Integer)
        .enum_values(Some([Some(1), Some(8), Some(15), None]))
        .description(Some(
            "* `1` - member\n* `8` - administrator\n* `15` - owner",
        ))
        .read_only(Some(true))
}

fn plugins_access_level() -> ObjectBuilder {
    s::choice(Kind::Integer, [0, 3, 6, 9])
        .description(Some(
            "* `0` - none\n* `3` - config\n* `6` - install\n* `9` - root",
        ))
        .read_only(Some(true))
}

fn teams() -> RefOr<Schema> {
    s::read_only_array(s::array(s::component("TeamBasic")))
}

fn project_items() -> RefOr<Schema> {
    let project = s::of(Kind::Object)
        .property("id", s::integer())
        .property("organization_id", s::uuid())
        .property("name", s::string())
        .required("id")
        .required("organization_id")
        .required("name");
    s::read_only_array(s::array(project))
}

fn any_list() -> RefOr<Schema> {
    s::read_only_array(s::array(s::any()))
}

fn metadata() -> ObjectBuilder {
    s::of(Kind::Object)
        .property("instance_tag", s::string())
        .additional_properties(Some(s::any()))
        .read_only(Some(true))
}

fn read_only_integer() -> ObjectBuilder {
    s::integer().read_only(Some(true))
}

fn stats_method() -> ObjectBuilder {
    s::nullable(Kind::String)
        .enum_values(Some([
            Some("bayesian"),
            Some("frequentist"),
            Some(""),
            None,
        ]))
        .description(Some(
            "* `bayesian` - Bayesian\n* `frequentist` - Frequentist",
        ))
}

/// The full organization shape.
pub fn full<'a>(
    org: &'a Organization,
    level: Option<Level>,
    d: &'a Details,
    projects: &'a [Project],
    member_count: i64,
) -> Full<'a> {
    Full {
        id: &org.id,
        name: &org.name,
        slug: shown_slug(org, d),
        logo_media_id: d.logo_media_id.as_deref(),
        created_at: Timestamp(org.created_at),
        updated_at: Timestamp(org.updated_at),
        membership_level: level.map(Level::as_i64),
        plugins_access_level: PLUGINS_ACCESS_LEVEL,
        teams: projects.iter().map(TeamBasic).collect(),
        projects: projects
            .iter()
            .map(|p| ProjectItem {
                id: p.id,
                organization_id: &p.organization_id,
                name: &p.name,
            })
            .collect(),
        available_product_features: [],
        metadata: Metadata {
            instance_tag: INSTANCE_TAG,
        },
        customer_id: None,
        enforce_2fa: d.enforce_2fa,
        members_can_invite: org.members_can_invite,
        is_member_join_email_enabled: org.is_member_join_email_enabled,
        members_can_create_projects: org.members_can_create_projects,
        members_can_use_personal_api_keys: org.members_can_use_personal_api_keys,
        allow_publicly_shared_resources: d.allow_publicly_shared_resources,
        member_count,
        is_ai_data_processing_approved: d.is_ai_data_processing_approved,
        default_experiment_stats_method: d.default_experiment_stats_method.as_deref(),
        default_anonymize_ips: org.default_anonymize_ips,
        default_role_id: d.default_role_id.as_deref(),
        is_ai_training_locked: false,
        is_hipaa: false,
        is_active: true,
        is_not_active_reason: None,
        is_pending_deletion: false,
    }
}

// PostHog's `OrganizationBasic`: `/api/users/@me/`'s `organizations`.
#[derive(Serialize, ToSchema)]
#[schema(as = OrganizationBasic)]
pub struct Basic<'a> {
    #[schema(value_type = String, format = "uuid", read_only)]
    id: &'a str,
    #[schema(max_length = 64)]
    name: &'a str,
    #[schema(read_only)]
    slug: String,
    #[schema(value_type = Option<String>, format = "uuid", required = true)]
    logo_media_id: Option<&'a str>,
    #[schema(schema_with = membership_level, required = true)]
    membership_level: Option<i64>,
    members_can_use_personal_api_keys: bool,
    #[schema(read_only)]
    is_active: bool,
    #[schema(value_type = Option<String>, read_only, required = true)]
    is_not_active_reason: Option<&'a str>,
    #[schema(read_only)]
    is_pending_deletion: bool,
}

/// The short shape.
pub fn basic<'a>(org: &'a Organization, level: Option<Level>, d: &'a Details) -> Basic<'a> {
    Basic {
        id: &org.id,
        name: &org.name,
        slug: shown_slug(org, d),
        logo_media_id: d.logo_media_id.as_deref(),
        membership_level: level.map(Level::as_i64),
        members_can_use_personal_api_keys: org.members_can_use_personal_api_keys,
        is_active: true,
        is_not_active_reason: None,
        is_pending_deletion: false,
    }
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
