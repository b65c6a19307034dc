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

use super::settings;
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

/// The project detail's fields, in PostHog's order (ProjectBackwardCompat).
pub const DETAIL_FIELDS: [&str; 69] = [
    "id",
    "organization",
    "name",
    "product_description",
    "created_at",
    "effective_membership_level",
    "has_group_types",
    "group_types",
    "live_events_token",
    "updated_at",
    "uuid",
    "api_token",
    "app_urls",
    "anonymize_ips",
    "completed_snippet_onboarding",
    "ingested_event",
    "test_account_filters",
    "test_account_filters_default_checked",
    "path_cleaning_filters",
    "is_demo",
    "timezone",
    "data_attributes",
    "person_display_name_properties",
    "correlation_config",
    "autocapture_opt_out",
    "autocapture_exceptions_opt_in",
    "autocapture_web_vitals_opt_in",
    "autocapture_web_vitals_allowed_metrics",
    "autocapture_exceptions_errors_to_ignore",
    "capture_console_log_opt_in",
    "capture_performance_opt_in",
    "session_recording_opt_in",
    "session_recording_sample_rate",
    "session_recording_minimum_duration_milliseconds",
    "session_recording_linked_flag",
    "session_recording_network_payload_capture_config",
    "session_recording_masking_config",
    "session_recording_url_trigger_config",
    "session_recording_url_blocklist_config",
    "session_recording_event_trigger_config",
    "session_recording_trigger_match_type_config",
    "session_recording_trigger_groups",
    "session_recording_retention_period",
    "session_replay_config",
    "survey_config",
    "access_control",
    "week_start_day",
    "primary_dashboard",
    "live_events_columns",
    "recording_domains",
    "person_on_events_querying_enabled",
    "inject_web_apps",
    "extra_settings",
    "modifiers",
    "default_modifiers",
    "has_completed_onboarding_for",
    "surveys_opt_in",
    "heatmaps_opt_in",
    "product_intents",
    "flags_persistence_default",
    "secret_api_token",
    "secret_api_token_backup",
    "receive_org_level_activity_logs",
    "business_model",
    "conversations_enabled",
    "conversations_settings",
    "logs_settings",
    "proactive_tasks_enabled",
    "available_setup_task_ids",
];

/// Where a field stands in PostHog's order; DRF reports the first failing field.
pub fn field_position(name: &str) -> usize {
    DETAIL_FIELDS
        .iter()
        .position(|f| *f == name)
        .unwrap_or(usize::MAX)
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

/// Where each detail field comes from, worked out once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
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

fn source(field: &str) -> Option<Source> {
    Some(match field {
        "id" => Source::Id,
        "organization" => Source::Organization,
        "name" => Source::Name,
        "product_description" => Source::ProductDescription,
        "created_at" => Source::CreatedAt,
        "effective_membership_level" => Source::EffectiveMembershipLevel,
        // No group types, product intents or (deprecated) access control in prickle.
        "has_group_types" | "access_control" => Source::False,
        "group_types" | "product_intents" => Source::EmptyList,
        "live_events_token" => Source::LiveEventsToken,
        "updated_at" => Source::UpdatedAt,
        "uuid" => Source::Uuid,
        "api_token" => Source::ApiToken,
        "ingested_event" => Source::IngestedEvent,
        "is_demo" => Source::IsDemo,
        "person_on_events_querying_enabled" => Source::PersonOnEventsQueryingEnabled,
        "default_modifiers" => Source::DefaultModifiers,
        "secret_api_token" => Source::SecretApiToken,
        "secret_api_token_backup" => Source::SecretApiTokenBackup,
        "available_setup_task_ids" => Source::AvailableSetupTaskIds,
        setting => Source::Setting(settings::index(setting)?),
    })
}

/// `(field, source)` for every detail field, in PostHog's order.
fn plan() -> &'static [(&'static str, Source)] {
    static PLAN: OnceLock<Vec<(&'static str, Source)>> = OnceLock::new();
    PLAN.get_or_init(|| {
        DETAIL_FIELDS
            .iter()
            .map(|f| (*f, source(f).unwrap_or(Source::False)))
            .collect()
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
        out.push('{');
        for (i, (field, source)) in plan().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push('"');
            out.push_str(field);
            out.push_str("\":");
            match *source {
                Source::Setting(index) => out.push_str(raw.get(index)),
                Source::Id => push_int(&mut out, self.id),
                Source::Organization => push_str(&mut out, &self.organization_id),
                Source::Name => push_str(&mut out, &self.name),
                Source::ProductDescription => {
                    push_opt_str(&mut out, self.product_description.as_deref())
                }
                Source::CreatedAt => push_str(&mut out, &time::format(self.created_at)),
                // Without PostHog's access-control feature, project access tops out at admin.
                Source::EffectiveMembershipLevel => {
                    push_int(&mut out, viewer.level.min(Level::Admin).as_i64())
                }
                Source::False => out.push_str("false"),
                Source::EmptyList => out.push_str("[]"),
                Source::LiveEventsToken => push_str(&mut out, &self.live_events_token(viewer)),
                Source::UpdatedAt => push_str(&mut out, &time::format(self.updated_at)),
                Source::Uuid => push_str(&mut out, &self.uuid),
                Source::ApiToken => push_str(&mut out, &self.api_token),
                Source::IngestedEvent => out.push_str(bool_text(self.ingested_event)),
                Source::IsDemo => out.push_str(bool_text(self.is_demo)),
                Source::PersonOnEventsQueryingEnabled => {
                    out.push_str(bool_text(persons_on_events(&raw)))
                }
                Source::DefaultModifiers => out.push_str(default_modifiers()),
                Source::SecretApiToken => push_opt_str(&mut out, self.secret_api_token.as_deref()),
                Source::SecretApiTokenBackup => {
                    push_opt_str(&mut out, self.secret_api_token_backup.as_deref())
                }
                Source::AvailableSetupTaskIds => out.push_str(setup_task_ids()),
            }
        }
        out.push('}');
        out
    }

    /// Appends the list item (ProjectBackwardCompatBasic).
    pub fn write_basic(&self, out: &mut String) {
        let raw = RawSettings::parse(&self.settings_json);
        let setting = |name: &str| settings::index(name).map(|i| raw.get(i)).unwrap_or("null");
        out.push_str("{\"id\":");
        push_int(out, self.id);
        out.push_str(",\"uuid\":");
        push_str(out, &self.uuid);
        out.push_str(",\"organization\":");
        push_str(out, &self.organization_id);
        out.push_str(",\"api_token\":");
        push_str(out, &self.api_token);
        out.push_str(",\"name\":");
        push_str(out, &self.name);
        out.push_str(",\"completed_snippet_onboarding\":");
        out.push_str(setting("completed_snippet_onboarding"));
        out.push_str(",\"has_completed_onboarding_for\":");
        out.push_str(setting("has_completed_onboarding_for"));
        out.push_str(",\"ingested_event\":");
        out.push_str(bool_text(self.ingested_event));
        out.push_str(",\"is_demo\":");
        out.push_str(bool_text(self.is_demo));
        out.push_str(",\"timezone\":");
        out.push_str(setting("timezone"));
        out.push_str(",\"access_control\":false}");
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
    let Some(index) = settings::index("modifiers") else {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_detail_field_has_a_source() {
        for field in DETAIL_FIELDS {
            assert!(source(field).is_some(), "{field}");
        }
        let settings_in_detail = plan()
            .iter()
            .filter(|(_, s)| matches!(s, Source::Setting(_)))
            .count();
        assert_eq!(settings_in_detail, settings::SETTINGS.len());
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
