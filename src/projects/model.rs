//! A project as stored, and as PostHog's API renders it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::de::{Deserializer as _, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use sha2::Sha256;
use std::fmt::Write as _;
use std::sync::OnceLock;

use super::settings::{self, Shown};
use super::setup_tasks::SETUP_TASK_IDS;
use crate::organizations::Level;
use crate::time;

#[derive(Clone, Debug)]
pub struct Project {
    pub id: i64,
    pub uuid: String,
    pub organization_id: String,
    pub name: String,
    pub product_description: Option<String>,
    pub is_demo: bool,
    pub api_token: String,
    pub secret_api_token: Option<String>,
    pub secret_api_token_backup: Option<String>,
    pub ingested_event: bool,
    /// The settings document as stored: a JSON object with every setting in
    /// `settings::SETTINGS`. Kept as text so reads render it without building
    /// a map; writes parse it with [`Project::settings`].
    pub settings_json: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// Where a field stands in PostHog's detail order; DRF validates fields in that order and
/// reports the first that fails.
pub fn field_position(name: &str) -> usize {
    detail_plan()
        .iter()
        .position(|f| f.name == name)
        .unwrap_or(usize::MAX)
}

/// The project detail's fields (ProjectBackwardCompat), in PostHog's order.
pub fn detail_fields() -> impl Iterator<Item = &'static str> {
    detail_plan().iter().map(|f| f.name)
}

/// The list item's fields (ProjectBackwardCompatBasic), in PostHog's order.
pub fn list_fields() -> impl Iterator<Item = &'static str> {
    list_plan().iter().map(|f| f.name)
}

/// The person-on-events modes under which PostHog says querying uses person properties on events.
const ON_EVENTS_MODES: [&str; 2] = [
    "person_id_override_properties_on_events",
    "person_id_no_override_properties_on_events",
];

/// HogQL modifier defaults as a self-hosted PostHog reports them (every key, unset ones null),
/// rendered once.
fn default_modifiers() -> &'static str {
    static RENDERED: OnceLock<String> = OnceLock::new();
    RENDERED.get_or_init(|| {
        json!({
        "bounceRateDurationSeconds": null,
        "bounceRatePageViewMode": "count_pageviews",
        "convertToProjectTimezone": true,
        "customChannelTypeRules": null,
        "dataWarehouseEventsModifiers": null,
        "debug": null,
        "forceClickhouseDataSkippingIndexes": null,
        "formatCsvAllowDoubleQuotes": null,
        "inCohortVia": "auto",
        "inlineCohortCalculation": "auto",
        "materializationMode": "legacy_null_as_null",
        "materializedColumnsOptimizationMode": null,
        "optimizeJoinedFilters": false,
        "optimizeProjections": null,
        "personsArgMaxVersion": "auto",
        "personsJoinMode": null,
        "personsOnEventsMode": "person_id_override_properties_joined",
        "propertyGroupsMode": null,
        "s3TableUseInvalidColumns": null,
        "sessionIdPushdown": false,
        "sessionPropertyPreAggregation": false,
        "sessionTableVersion": "auto",
        "sessionsV2JoinMode": "uuid",
        "timings": null,
        "useMaterializedViews": true,
        "usePreaggregatedIntermediateResults": null,
        "usePreaggregatedTableTransforms": null,
        "useWebAnalyticsPreAggregatedTables": null,
        })
        .to_string()
    })
}

/// Who is looking, for the fields that depend on it.
pub struct Viewer<'a> {
    pub user_id: i64,
    pub level: Level,
    pub signing_key: &'a [u8],
}

/// Where a response field's value comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// The setting at this index of `settings::SETTINGS`.
    Setting(usize),
    Id,
    Organization,
    Name,
    ProductDescription,
    CreatedAt,
    EffectiveMembershipLevel,
    False,
    EmptyList,
    LiveEventsToken,
    UpdatedAt,
    Uuid,
    ApiToken,
    IngestedEvent,
    IsDemo,
    PersonOnEventsQueryingEnabled,
    DefaultModifiers,
    SecretApiToken,
    SecretApiTokenBackup,
    AvailableSetupTaskIds,
}

/// The project detail's own fields (the ones that are not settings), in PostHog's order,
/// each placed right after the setting it follows (`None`: before the first setting). The
/// settings fill the places between, in `settings::SETTINGS` order.
const DETAIL_OWN_FIELDS: &[(&str, Source, Option<&str>)] = &[
    ("id", Source::Id, None),
    ("organization", Source::Organization, None),
    ("name", Source::Name, None),
    ("product_description", Source::ProductDescription, None),
    ("created_at", Source::CreatedAt, None),
    (
        "effective_membership_level",
        Source::EffectiveMembershipLevel,
        None,
    ),
    // No group types, product intents or (deprecated) access control in prickle.
    ("has_group_types", Source::False, None),
    ("group_types", Source::EmptyList, None),
    ("live_events_token", Source::LiveEventsToken, None),
    ("updated_at", Source::UpdatedAt, None),
    ("uuid", Source::Uuid, None),
    ("api_token", Source::ApiToken, None),
    (
        "ingested_event",
        Source::IngestedEvent,
        Some("completed_snippet_onboarding"),
    ),
    ("is_demo", Source::IsDemo, Some("path_cleaning_filters")),
    ("access_control", Source::False, Some("survey_config")),
    (
        "person_on_events_querying_enabled",
        Source::PersonOnEventsQueryingEnabled,
        Some("recording_domains"),
    ),
    (
        "default_modifiers",
        Source::DefaultModifiers,
        Some("modifiers"),
    ),
    (
        "product_intents",
        Source::EmptyList,
        Some("heatmaps_opt_in"),
    ),
    (
        "secret_api_token",
        Source::SecretApiToken,
        Some("flags_persistence_default"),
    ),
    (
        "secret_api_token_backup",
        Source::SecretApiTokenBackup,
        Some("flags_persistence_default"),
    ),
    (
        "available_setup_task_ids",
        Source::AvailableSetupTaskIds,
        Some("proactive_tasks_enabled"),
    ),
];

/// The list item's own fields, in PostHog's order; a setting shown in the list goes right
/// after the field its `Shown::DetailAndList` names.
const LIST_OWN_FIELDS: &[(&str, Source)] = &[
    ("id", Source::Id),
    ("uuid", Source::Uuid),
    ("organization", Source::Organization),
    ("api_token", Source::ApiToken),
    ("name", Source::Name),
    ("ingested_event", Source::IngestedEvent),
    ("is_demo", Source::IsDemo),
    ("access_control", Source::False),
];

type Plan = Vec<(&'static str, Source)>;

/// A response field in its place.
struct Field {
    name: &'static str,
    /// The JSON text that opens it: `{"id":` for the first field, `,"uuid":` after.
    opening: String,
    source: Source,
}

fn fields(plan: Plan) -> Vec<Field> {
    plan.into_iter()
        .enumerate()
        .map(|(i, (name, source))| Field {
            name,
            opening: format!("{}\"{name}\":", if i == 0 { '{' } else { ',' }),
            source,
        })
        .collect()
}

/// Every detail field, in PostHog's order.
fn detail_plan() -> &'static [Field] {
    static PLAN: OnceLock<Vec<Field>> = OnceLock::new();
    PLAN.get_or_init(|| {
        fn own_after(anchor: Option<&str>) -> impl Iterator<Item = (&'static str, Source)> + '_ {
            DETAIL_OWN_FIELDS
                .iter()
                .filter(move |(_, _, after)| *after == anchor)
                .map(|(field, source, _)| (*field, *source))
        }
        let mut plan: Plan = own_after(None).collect();
        for (i, setting) in settings::SETTINGS.iter().enumerate() {
            plan.push((setting.name, Source::Setting(i)));
            plan.extend(own_after(Some(setting.name)));
        }
        fields(plan)
    })
}

/// Every list item field, in PostHog's order.
fn list_plan() -> &'static [Field] {
    fn settings_after(field: &str, plan: &mut Plan) {
        for (i, setting) in settings::SETTINGS.iter().enumerate() {
            if matches!(setting.shown, Shown::DetailAndList { after } if after == field) {
                plan.push((setting.name, Source::Setting(i)));
                settings_after(setting.name, plan);
            }
        }
    }
    static PLAN: OnceLock<Vec<Field>> = OnceLock::new();
    PLAN.get_or_init(|| {
        let mut plan = Plan::new();
        for (field, source) in LIST_OWN_FIELDS {
            plan.push((field, *source));
            settings_after(field, &mut plan);
        }
        fields(plan)
    })
}

fn setup_task_ids() -> &'static str {
    static RENDERED: OnceLock<String> = OnceLock::new();
    RENDERED.get_or_init(|| json!(SETUP_TASK_IDS).to_string())
}

/// The stored settings document, borrowed: each setting's raw JSON text,
/// indexed as `settings::SETTINGS`, without building values.
struct RawSettings<'a>(Vec<Option<&'a RawValue>>);

impl<'a> RawSettings<'a> {
    fn parse(json: &'a str) -> RawSettings<'a> {
        let mut de = serde_json::Deserializer::from_str(json);
        match de.deserialize_map(RawSettingsVisitor) {
            Ok(raw) => raw,
            Err(e) => {
                tracing::error!(error = %e, "stored project settings are not a JSON object");
                RawSettings(vec![None; settings::SETTINGS.len()])
            }
        }
    }

    /// The setting's JSON text (`null` when absent).
    fn get(&self, index: usize) -> &'a str {
        self.0
            .get(index)
            .copied()
            .flatten()
            .map(RawValue::get)
            .unwrap_or("null")
    }
}

struct RawSettingsVisitor;

impl<'de> Visitor<'de> for RawSettingsVisitor {
    type Value = RawSettings<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a settings object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut slots = vec![None; settings::SETTINGS.len()];
        let mut position = 0;
        while let Some(key) = map.next_key::<&'de str>()? {
            let value: &'de RawValue = map.next_value()?;
            // Documents are written in SETTINGS order: try the next slot first.
            let index = match settings::SETTINGS.get(position) {
                Some(s) if s.name == key => Some(position),
                _ => settings::index(key),
            };
            if let Some(i) = index {
                slots[i] = Some(value);
                position = i + 1;
            }
        }
        Ok(RawSettings(slots))
    }
}

/// Appends `s` as a JSON string.
fn push_str(out: &mut String, s: &str) {
    out.push('"');
    let mut start = 0;
    for (i, c) in s.char_indices() {
        let escape = match c {
            '"' => "\\\"",
            '\\' => "\\\\",
            '\n' => "\\n",
            '\r' => "\\r",
            '\t' => "\\t",
            c if (c as u32) < 0x20 => "",
            _ => continue,
        };
        out.push_str(&s[start..i]);
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", c as u32);
        } else {
            out.push_str(escape);
        }
        start = i + c.len_utf8();
    }
    out.push_str(&s[start..]);
    out.push('"');
}

fn push_int(out: &mut String, n: i64) {
    let _ = write!(out, "{n}");
}

fn push_opt_str(out: &mut String, s: Option<&str>) {
    match s {
        Some(s) => push_str(out, s),
        None => out.push_str("null"),
    }
}

impl Project {
    /// Whether two versions hold the same writable state.
    pub fn same_content(&self, other: &Project) -> bool {
        self.name == other.name
            && self.product_description == other.product_description
            && self.is_demo == other.is_demo
            && self.settings_json == other.settings_json
    }

    /// The settings document as a map (for validation and updates).
    pub fn settings(&self) -> Map<String, Value> {
        match serde_json::from_str(&self.settings_json) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        }
    }

    pub fn set_settings(&mut self, settings: &Map<String, Value>) {
        // Serialising a map of JSON values cannot fail.
        self.settings_json = serde_json::to_string(settings).unwrap_or_else(|_| "{}".into());
    }

    /// The full project detail (ProjectBackwardCompat), as JSON text written
    /// field by field: this is the hot path of `GET projects/:id/`.
    pub fn detail(&self, viewer: &Viewer<'_>) -> String {
        let raw = RawSettings::parse(&self.settings_json);
        let mut out = String::with_capacity(self.settings_json.len() + 4096);
        self.write_fields(&mut out, detail_plan(), &raw, Some(viewer));
        out
    }

    /// Appends the list item (ProjectBackwardCompatBasic).
    pub fn write_basic(&self, out: &mut String) {
        let raw = RawSettings::parse(&self.settings_json);
        self.write_fields(out, list_plan(), &raw, None);
    }

    /// Appends the fields of `plan` as a JSON object. The fields that depend on the viewer
    /// are only in the detail, which always has one.
    fn write_fields(
        &self,
        out: &mut String,
        plan: &[Field],
        raw: &RawSettings<'_>,
        viewer: Option<&Viewer<'_>>,
    ) {
        if plan.is_empty() {
            out.push('{');
        }
        for field in plan {
            out.push_str(&field.opening);
            match (field.source, viewer) {
                (Source::Setting(index), _) => out.push_str(raw.get(index)),
                (Source::Id, _) => push_int(out, self.id),
                (Source::Organization, _) => push_str(out, &self.organization_id),
                (Source::Name, _) => push_str(out, &self.name),
                (Source::ProductDescription, _) => {
                    push_opt_str(out, self.product_description.as_deref())
                }
                (Source::CreatedAt, _) => push_str(out, &time::format(self.created_at)),
                // Without PostHog's access-control feature, project access tops out at admin.
                (Source::EffectiveMembershipLevel, Some(viewer)) => {
                    push_int(out, viewer.level.min(Level::Admin).as_i64())
                }
                (Source::False, _) => out.push_str("false"),
                (Source::EmptyList, _) => out.push_str("[]"),
                (Source::LiveEventsToken, Some(viewer)) => {
                    push_str(out, &self.live_events_token(viewer))
                }
                (Source::UpdatedAt, _) => push_str(out, &time::format(self.updated_at)),
                (Source::Uuid, _) => push_str(out, &self.uuid),
                (Source::ApiToken, _) => push_str(out, &self.api_token),
                (Source::IngestedEvent, _) => out.push_str(bool_text(self.ingested_event)),
                (Source::IsDemo, _) => out.push_str(bool_text(self.is_demo)),
                (Source::PersonOnEventsQueryingEnabled, _) => {
                    out.push_str(bool_text(persons_on_events(raw)))
                }
                (Source::DefaultModifiers, _) => out.push_str(default_modifiers()),
                (Source::SecretApiToken, _) => push_opt_str(out, self.secret_api_token.as_deref()),
                (Source::SecretApiTokenBackup, _) => {
                    push_opt_str(out, self.secret_api_token_backup.as_deref())
                }
                (Source::AvailableSetupTaskIds, _) => out.push_str(setup_task_ids()),
                (Source::EffectiveMembershipLevel | Source::LiveEventsToken, None) => {
                    out.push_str("null")
                }
            }
        }
        out.push('}');
    }

    /// PostHog's livestream JWT (HS256, audience `posthog:livestream`, 7 days).
    fn live_events_token(&self, viewer: &Viewer<'_>) -> String {
        let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
        let exp = chrono::Utc::now().timestamp() + 7 * 24 * 3600;
        let claims = json!({
            "team_id": self.id,
            "api_token": self.api_token,
            "user_id": viewer.user_id,
            "organization_id": self.organization_id,
            "exp": exp,
            "aud": "posthog:livestream",
        });
        let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signing_input = format!("{header}.{payload}");
        let mut mac = Hmac::<Sha256>::new_from_slice(viewer.signing_key)
            .expect("HMAC accepts any key length");
        mac.update(signing_input.as_bytes());
        format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
        )
    }
}

fn bool_text(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// Whether the project's own modifiers put person properties on events.
fn persons_on_events(raw: &RawSettings<'_>) -> bool {
    static MODIFIERS: OnceLock<Option<usize>> = OnceLock::new();
    let Some(index) = *MODIFIERS.get_or_init(|| settings::index("modifiers")) else {
        return false;
    };
    let text = raw.get(index);
    if text == "null" {
        return false;
    }
    let mode: Option<Value> = serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|m| m.get("personsOnEventsMode").cloned());
    mode.as_ref()
        .and_then(Value::as_str)
        .is_some_and(|m| ON_EVENTS_MODES.contains(&m))
}

/// Projects as a JSON array of list items, written directly (the list routes' hot path).
pub fn basic_list(projects: &[Project]) -> String {
    let mut out = String::with_capacity(projects.len() * 400 + 2);
    out.push('[');
    for (i, p) in projects.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        p.write_basic(&mut out);
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_has_its_place() {
        // An own field anchored to a setting that does not exist would be left out.
        let detail: Vec<&str> = detail_fields().collect();
        assert_eq!(
            detail.len(),
            DETAIL_OWN_FIELDS.len() + settings::SETTINGS.len()
        );
        for (field, _, _) in DETAIL_OWN_FIELDS {
            assert_eq!(detail.iter().filter(|f| *f == field).count(), 1, "{field}");
        }
        for setting in settings::SETTINGS {
            assert_eq!(
                field_position(setting.name),
                detail
                    .iter()
                    .position(|f| *f == setting.name)
                    .unwrap_or(usize::MAX)
            );
        }
        let in_list = settings::SETTINGS
            .iter()
            .filter(|s| matches!(s.shown, Shown::DetailAndList { .. }))
            .count();
        assert_eq!(list_fields().count(), LIST_OWN_FIELDS.len() + in_list);
        // The list item has no viewer to show viewer-dependent fields to.
        assert!(list_plan().iter().all(|f| !matches!(
            f.source,
            Source::EffectiveMembershipLevel | Source::LiveEventsToken
        )));
    }

    #[test]
    fn list_item_renders_in_order() {
        let project = Project {
            id: 7,
            uuid: "u".into(),
            organization_id: "o".into(),
            name: "N".into(),
            product_description: None,
            is_demo: false,
            api_token: "phc_x".into(),
            secret_api_token: None,
            secret_api_token_backup: None,
            ingested_event: true,
            settings_json: serde_json::to_string(&settings::defaults()).unwrap(),
            created_at: 0,
            updated_at: 0,
        };
        let mut out = String::new();
        project.write_basic(&mut out);
        assert_eq!(
            out,
            r#"{"id":7,"uuid":"u","organization":"o","api_token":"phc_x","name":"N","completed_snippet_onboarding":false,"has_completed_onboarding_for":null,"ingested_event":true,"is_demo":false,"timezone":"UTC","access_control":false}"#
        );
    }

    #[test]
    fn strings_are_escaped_as_json() {
        for s in [
            "plain",
            "quote \" back \\ slash",
            "line\nbreak\ttab\r",
            "\u{0}\u{1f}",
            "é🦔\u{2028}",
        ] {
            let mut out = String::new();
            push_str(&mut out, s);
            assert_eq!(serde_json::from_str::<String>(&out).unwrap(), s, "{out}");
        }
    }

    #[test]
    fn raw_settings_read_any_key_order() {
        let raw = RawSettings::parse(r#"{"timezone":"UTC","app_urls":["a"],"unknown":1}"#);
        assert_eq!(raw.get(settings::index("app_urls").unwrap()), r#"["a"]"#);
        assert_eq!(raw.get(settings::index("timezone").unwrap()), r#""UTC""#);
        assert_eq!(raw.get(settings::index("survey_config").unwrap()), "null");
    }
}
