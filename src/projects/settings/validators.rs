//! The settings' checks (`Validate::Field` / `Validate::Object`), each named in the
//! declaration table. `boolean`, `choice`, `integer` and `primary_key` are DRF's fields for the
//! declared schema: they read its nullability, choices and bounds, so the API schema and the
//! check cannot disagree. The others are PostHog's per-setting rules, on DRF's field semantics
//! in `rules.rs`.

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeDelta, Utc};
use serde_json::Value;

use super::merge::truthy_object;
use super::rules::{self, Attr, CharOpts};
use super::schema::Type;
use super::Input;
use crate::error::{ApiError, ApiResult};
use crate::projects::{rules as project_rules, timezones};

fn opt_bool(b: Option<bool>) -> Value {
    b.map(Value::Bool).unwrap_or(Value::Null)
}

fn opt_string(s: Option<String>) -> Value {
    s.map(Value::String).unwrap_or(Value::Null)
}

const DICT_OR_NONE: &str = "Must provide a dictionary or None.";

// ---------------------------------------------------------------------------------------------
// DRF fields read from the declared schema.

/// DRF `BooleanField`; null (and "null", "") allowed when the schema is nullable.
pub(super) fn boolean(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    let nullable = input.setting.schema.nullable;
    Ok(opt_bool(rules::bool_field(raw, &input.attr(), nullable)?))
}

/// DRF `ChoiceField` over the schema's enum: looked up by Python's `str(value)`, answered
/// as the choice's own value.
pub(super) fn choice(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    let schema = input.setting.schema;
    if raw.is_null() {
        return if schema.nullable {
            Ok(Value::Null)
        } else {
            Err(ApiError::null(input.attr()))
        };
    }
    let key = rules::py_str(raw);
    let found = match schema.ty {
        Type::Enum(choices) => choices.find(&key),
        _ => None,
    };
    found.ok_or_else(|| ApiError::invalid_choice(&key, input.attr()))
}

/// DRF `IntegerField` within the schema's bounds.
pub(super) fn integer(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    let (min, max) = match input.setting.schema.ty {
        Type::Integer { minimum, maximum } => {
            (minimum.unwrap_or(i64::MIN), maximum.unwrap_or(i64::MAX))
        }
        _ => (i64::MIN, i64::MAX),
    };
    let nullable = input.setting.schema.nullable;
    Ok(rules::int_field(raw, &input.attr(), min, max, nullable)?
        .map(Value::from)
        .unwrap_or(Value::Null))
}

/// A primary key: any integer id is kept (self-hosted has no dashboards to look it up in).
pub(super) fn primary_key(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    rules::pk_field(raw, &input.attr())
}

// ---------------------------------------------------------------------------------------------
// PostHog's per-setting rules.

/// `timezone`: one of the schema's zones (a binary search; there are ~600), never null.
pub(super) fn timezone(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    if raw.is_null() {
        return Err(ApiError::null(input.attr()));
    }
    let key = rules::py_str(raw);
    if timezones::is_valid(&key) {
        Ok(Value::String(key))
    } else {
        Err(ApiError::invalid_choice(&key, input.attr()))
    }
}

/// A `JSONField` that refuses null.
pub(super) fn not_null(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    if raw.is_null() {
        Err(ApiError::null(input.attr()))
    } else {
        Ok(raw.clone())
    }
}

fn url_list(raw: &Value, attr: &Attr, allow_null: bool) -> ApiResult<Value> {
    // Null entries are dropped after each entry passed CharField (null allowed, blank not).
    let child = rules::char_child(CharOpts {
        allow_null: true,
        allow_blank: false,
        max_length: Some(200),
    });
    Ok(rules::drop_falsy(rules::list_field(
        raw, attr, allow_null, child,
    )?))
}

/// `app_urls`: a URL list (never null), each URL with at most 5 wildcards.
pub(super) fn app_urls(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    let attr = input.attr();
    let list = url_list(raw, &attr, false)?;
    if let Value::Array(urls) = &list {
        rules::check_wildcards(urls, &attr)?;
    }
    Ok(list)
}

/// `recording_domains`: a URL list, or null.
pub(super) fn recording_domains(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    url_list(raw, &input.attr(), true)
}

pub(super) fn test_account_filters(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    rules::test_account_filters(&not_null(raw, input)?, &input.attr())
}

pub(super) fn path_cleaning_filters(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    rules::path_cleaning_filters(raw, &input.attr())
}

fn string_list(raw: &Value, attr: &Attr, max_length: Option<usize>) -> ApiResult<Value> {
    let child = rules::char_child(CharOpts {
        allow_null: false,
        allow_blank: false,
        max_length,
    });
    rules::list_field(raw, attr, true, child)
}

/// `person_display_name_properties`: a list of non-blank names of at most 400 characters.
pub(super) fn display_name_properties(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    string_list(raw, &input.attr(), Some(400))
}

/// `live_events_columns`: a list of non-blank names.
pub(super) fn live_events_columns(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    string_list(raw, &input.attr(), None)
}

/// A list of any JSON values, or null (an `ArrayField` of `JSONField`s).
pub(super) fn any_list(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    rules::list_field(raw, &input.attr(), true, |item, _| Ok(item.clone()))
}

/// `session_recording_event_trigger_config`: a list of event names (null and blank allowed).
pub(super) fn event_names(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    let child = rules::char_child(CharOpts {
        allow_null: true,
        allow_blank: true,
        max_length: None,
    });
    rules::list_field(raw, &input.attr(), true, child)
}

/// PostHog's environments serializer limits this to any/all; the projects one does not.
pub(super) fn trigger_match_type(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    let opts = CharOpts {
        allow_null: true,
        allow_blank: true,
        max_length: Some(24),
    };
    Ok(opt_string(rules::char_field(raw, &input.attr(), &opts)?))
}

pub(super) fn sample_rate(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    rules::sample_rate_field(raw, &input.attr())
}

pub(super) fn linked_flag(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    rules::linked_flag(raw, &input.attr())
}

pub(super) fn network_payload_capture_config(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    rules::network_payload_capture_config(raw, &input.attr())
}

pub(super) fn masking_config(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    rules::masking_config(raw, &input.attr())
}

pub(super) fn trigger_groups(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    rules::trigger_groups(raw, &input.attr())
}

pub(super) fn session_replay_config(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    rules::session_replay_config(raw, &input.attr())
}

pub(super) fn modifiers(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    rules::modifiers(raw, &input.attr())
}

pub(super) fn conversations_settings(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    rules::conversations_settings(raw, &input.attr())
}

/// PostHog's field validator: only organization admins may change it on an update (a
/// creating member meets the create-time gate instead), and only a boolean value triggers
/// it (null skips it and reaches the admin gate; garbage is a 400 first).
pub(super) fn org_level_activity(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    let value = rules::bool_field(raw, &input.attr(), true)?;
    if let (Some(_), Some(level)) = (value, input.updater) {
        project_rules::may_set_org_level_activity(level)?;
    }
    Ok(opt_bool(value))
}

/// PostHog allows `true` only for one team on US cloud (or in DEBUG): never self-hosted.
pub(super) fn proactive_tasks(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    let value = rules::bool_field(raw, &input.attr(), true)?;
    if value == Some(true) {
        return Err(ApiError::permission_denied(
            "Proactive tasks can only be enabled for authorized teams.",
        ));
    }
    Ok(opt_bool(value))
}

/// `autocapture_exceptions_errors_to_ignore`, from PostHog's object-level `validate()`: a
/// non-field error, so no attr; and a null is refused too even though the column is nullable.
pub(super) fn errors_to_ignore(v: &Value) -> ApiResult<()> {
    let Value::Array(items) = v else {
        return Err(ApiError::invalid_input(
            "Must provide a list for field: autocapture_exceptions_errors_to_ignore.",
        ));
    };
    if !items.iter().all(Value::is_string) {
        return Err(ApiError::invalid_input(
            "Must provide a list of strings to field: autocapture_exceptions_errors_to_ignore.",
        ));
    }
    if rules::py_json_len_of_strings(items) > 300 {
        return Err(ApiError::invalid_input(
            "Field autocapture_exceptions_errors_to_ignore must be less than 300 characters. Complex config should be provided in posthog-js initialization.",
        ));
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// logs_settings

fn python_isoformat(t: DateTime<Utc>) -> String {
    if t.timestamp_subsec_micros() == 0 {
        t.format("%Y-%m-%dT%H:%M:%S+00:00").to_string()
    } else {
        t.format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
    }
}

/// Django's `parse_datetime`; a naive value is read as UTC (PostHog would crash on it).
fn parse_stamp(v: &Value) -> Option<DateTime<Utc>> {
    let Value::String(s) = v else { return None };
    let s = s.trim();
    if let Ok(t) = DateTime::parse_from_rfc3339(s) {
        return Some(t.with_timezone(&Utc));
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%d %H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M%:z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(s, fmt) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|t| t.and_utc())
}

fn same_number(a: Option<&Value>, b: &Value) -> bool {
    let as_num = |v: &Value| match v {
        Value::Number(n) => n.as_f64(),
        Value::Bool(x) => Some(f64::from(u8::from(*x))),
        _ => None,
    };
    match a {
        Some(a) => match (as_num(a), as_num(b)) {
            (Some(x), Some(y)) => x == y,
            _ => a == b,
        },
        None => false,
    }
}

/// `logs_settings`: `retention_days` is 14 or 30 (self-hosted is entitled to 30); once the
/// project has logs settings, a retention change is stamped and a second one within 24 hours
/// is refused. The object replaces the stored one (no merge).
pub(super) fn logs_settings(raw: &Value, input: &Input<'_>) -> ApiResult<Value> {
    let attr = input.attr();
    let mut value = match raw {
        Value::Null => return Ok(Value::Null),
        Value::Object(m) => m.clone(),
        // PostHog crashes on these.
        _ => return Err(ApiError::invalid_input(DICT_OR_NONE).at(attr)),
    };
    let new = value
        .get("retention_days")
        .filter(|v| !v.is_null())
        .cloned();
    let Some(new) = new else {
        return Ok(Value::Object(value));
    };
    let allowed =
        matches!(&new, Value::Number(n) if n.as_f64().is_some_and(|d| d == 14.0 || d == 30.0));
    if !allowed {
        return Err(ApiError::invalid_input("retention_days must be one of [14, 30]").at(attr));
    }
    let Some(stored) = truthy_object(input.stored.get(input.setting.name)) else {
        return Ok(Value::Object(value));
    };
    if same_number(stored.get("retention_days"), &new) {
        return Ok(Value::Object(value));
    }
    let now = input.now;
    value.insert(
        "retention_last_updated".into(),
        Value::String(python_isoformat(now)),
    );
    if let Some(last) = stored.get("retention_last_updated").and_then(parse_stamp) {
        let elapsed = now - last;
        if elapsed < TimeDelta::hours(24) {
            // PostHog measures in microseconds; milliseconds would round a same-instant retry up to 24.
            let hours = elapsed.num_microseconds().unwrap_or(0) as f64 / 3_600_000_000.0;
            let remaining = (24.0 - hours).trunc() as i64;
            return Err(ApiError::invalid_input(format!(
                "You can only update retention settings once per 24 hours. Please wait {remaining} more hour(s)."
            ))
            .at(attr));
        }
    }
    Ok(Value::Object(value))
}
