//! A project as stored, and as PostHog's API renders it.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::Sha256;

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
    /// Every setting in `settings::SETTINGS`.
    pub settings: Map<String, Value>,
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

/// HogQL modifier defaults as a self-hosted PostHog reports them (every key, unset ones null).
fn default_modifiers() -> Value {
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
}

/// Who is looking, for the fields that depend on it.
pub struct Viewer<'a> {
    pub user_id: i64,
    pub level: Level,
    pub signing_key: &'a [u8],
}

impl Project {
    fn setting(&self, name: &str) -> Value {
        self.settings.get(name).cloned().unwrap_or(Value::Null)
    }

    /// The full project detail (ProjectBackwardCompat).
    pub fn detail(&self, viewer: &Viewer<'_>) -> Value {
        let mut out = Map::with_capacity(DETAIL_FIELDS.len());
        for field in DETAIL_FIELDS {
            let v = match field {
                "id" => json!(self.id),
                "organization" => json!(self.organization_id),
                "name" => json!(self.name),
                "product_description" => json!(self.product_description),
                "created_at" => json!(time::format(self.created_at)),
                // Without PostHog's access-control feature, project access tops out at admin.
                "effective_membership_level" => json!(viewer.level.min(Level::Admin).as_i64()),
                "has_group_types" => json!(false),
                "group_types" => json!([]),
                "live_events_token" => json!(self.live_events_token(viewer)),
                "updated_at" => json!(time::format(self.updated_at)),
                "uuid" => json!(self.uuid),
                "api_token" => json!(self.api_token),
                "ingested_event" => json!(self.ingested_event),
                "is_demo" => json!(self.is_demo),
                // Deprecated: always false, never writable.
                "access_control" => json!(false),
                "person_on_events_querying_enabled" => {
                    let mode = self
                        .settings
                        .get("modifiers")
                        .and_then(|m| m.get("personsOnEventsMode"));
                    json!(mode
                        .and_then(Value::as_str)
                        .is_some_and(|m| ON_EVENTS_MODES.contains(&m)))
                }
                "default_modifiers" => default_modifiers(),
                "product_intents" => json!([]),
                "secret_api_token" => json!(self.secret_api_token),
                "secret_api_token_backup" => json!(self.secret_api_token_backup),
                "available_setup_task_ids" => json!(SETUP_TASK_IDS),
                setting => self.setting(setting),
            };
            out.insert(field.to_string(), v);
        }
        Value::Object(out)
    }

    /// The list item (ProjectBackwardCompatBasic).
    pub fn basic(&self) -> Value {
        json!({
            "id": self.id,
            "uuid": self.uuid,
            "organization": self.organization_id,
            "api_token": self.api_token,
            "name": self.name,
            "completed_snippet_onboarding": self.setting("completed_snippet_onboarding"),
            "has_completed_onboarding_for": self.setting("has_completed_onboarding_for"),
            "ingested_event": self.ingested_event,
            "is_demo": self.is_demo,
            "timezone": self.setting("timezone"),
            "access_control": false,
        })
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
