//! The rules behind the settings' checks (`validators.rs`): DRF field semantics (messages,
//! codes, coercions) and PostHog's per-setting rules. Messages are PostHog's; where PostHog
//! would crash (500) on a malformed value we answer a 400 instead and say so next to the rule.

use std::collections::HashSet;

use serde_json::{Map, Value};

use crate::error::ApiError;

pub(super) use crate::drf::*;

use super::regex_syntax::{check_regex, Flavor};

// ---------------------------------------------------------------------------------------------
// URL lists.

const WILDCARD_MESSAGE: &str =
    "Each URL can include up to 5 wildcards. Remove the extra ones from this entry.";

/// `app_urls` / `recording_domains` after the child CharFields ran: falsy entries dropped.
pub(super) fn drop_falsy(list: Value) -> Value {
    match list {
        Value::Array(items) => Value::Array(items.into_iter().filter(py_truthy).collect()),
        other => other,
    }
}

pub(super) fn check_wildcards(urls: &[Value], attr: &Attr) -> Result<(), ApiError> {
    for url in urls {
        match url {
            Value::String(s) if s.matches('*').count() > 5 => {
                return Err(invalid(WILDCARD_MESSAGE, attr))
            }
            Value::String(_) => {}
            // PostHog rejects these too (its check crashes on non-strings); our wording.
            _ => return Err(invalid("Each URL must be a string.", attr)),
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// path_cleaning_filters

/// Capture-group numbers an RE2 replacement alias references (`\0`..`\9`; `\\` is literal).
fn alias_backreferences(alias: &str) -> Vec<u32> {
    let cs: Vec<char> = alias.chars().collect();
    let mut refs = Vec::new();
    let mut i = 0;
    while i < cs.len() {
        if cs[i] == '\\' && i + 1 < cs.len() {
            let next = cs[i + 1];
            if next == '\\' {
                i += 2;
                continue;
            }
            if next.is_ascii_digit() {
                refs.push(next as u32 - '0' as u32);
                i += 2;
                continue;
            }
        }
        i += 1;
    }
    refs
}

pub(super) fn path_cleaning_filters(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    // Falsy values (null, [], {}, "", 0, false) are stored untouched, as PostHog does.
    if !py_truthy(v) {
        return Ok(v.clone());
    }
    let Value::Array(rules) = v else {
        return Err(invalid("Must provide a list of path cleaning rules.", attr));
    };
    for rule in rules {
        let Value::Object(rule) = rule else { continue };
        let regex = match rule.get("regex") {
            Some(Value::String(s)) if !s.is_empty() => s,
            _ => {
                return Err(invalid(
                    "A path cleaning rule needs a regex. Remove the rule or give it one.",
                    attr,
                ))
            }
        };
        let groups = check_regex(regex, Flavor::Re2)
            .map_err(|e| invalid(format!("Invalid path cleaning regex '{regex}': {e}"), attr))?;
        let Some(Value::String(alias)) = rule.get("alias") else {
            continue;
        };
        for r in alias_backreferences(alias) {
            if r as usize > groups {
                return Err(invalid(
                    format!(
                        "The alias '{alias}' references capture group \\{r}, but its regex has {groups} capture group(s). Add the group to the regex or fix the reference."
                    ),
                    attr,
                ));
            }
        }
    }
    Ok(v.clone())
}

// ---------------------------------------------------------------------------------------------
// test_account_filters: PostHog validates `list[AnyPropertyFilter]` with pydantic. We check the
// same shape (type, key, operator, value) without reproducing pydantic's long error text.

#[rustfmt::skip]
const PROPERTY_OPERATORS: &[&str] = &[
    "exact", "is_not", "icontains", "not_icontains", "regex", "not_regex", "gt", "gte", "lt", "lte",
    "is_set", "is_not_set", "is_date_exact", "is_date_before", "is_date_after", "between",
    "not_between", "min", "max", "in", "not_in", "is_cleaned_path_exact", "flag_evaluates_to",
    "semver_eq", "semver_neq", "semver_gt", "semver_gte", "semver_lt", "semver_lte", "semver_tilde",
    "semver_caret", "semver_wildcard", "icontains_multi", "not_icontains_multi",
];

/// Filter types whose model requires an operator.
#[rustfmt::skip]
const OPERATOR_REQUIRED: &[&str] = &[
    "person", "element", "event_metadata", "session", "log_entry", "recording", "group", "feature",
    "data_warehouse", "data_warehouse_person_property", "error_tracking_issue", "revenue_analytics",
    "log",
];
/// Filter types whose operator may be omitted (defaulted by the model).
#[rustfmt::skip]
const OPERATOR_OPTIONAL: &[&str] = &[
    "event", "internal_event", "cohort", "hogql", "flag", "span", "metric", "workflow_variable",
    "behavioral",
];

fn property_filter_problem(item: &Value) -> Option<String> {
    let Value::Object(f) = item else {
        return Some("a filter must be an object".into());
    };
    if f.is_empty() {
        return None; // EmptyPropertyFilter
    }
    let kind = match f.get("type") {
        None => "event",
        Some(Value::String(t))
            if OPERATOR_REQUIRED.contains(&t.as_str())
                || OPERATOR_OPTIONAL.contains(&t.as_str()) =>
        {
            t
        }
        Some(Value::String(t)) if t == "empty" => return None,
        Some(other) => return Some(format!("unknown filter type '{}'", py_str(other))),
    };
    match (kind, f.get("key")) {
        ("cohort", None) => {}
        (_, Some(Value::String(key))) => {
            if kind == "element"
                && !["tag_name", "text", "href", "selector"].contains(&key.as_str())
            {
                return Some(format!("invalid element key '{key}'"));
            }
        }
        (_, None) => return Some("'key' is required".into()),
        (_, Some(_)) => return Some("'key' must be a string".into()),
    }
    match f.get("operator") {
        None if OPERATOR_REQUIRED.contains(&kind) => return Some("'operator' is required".into()),
        None | Some(Value::Null) if !OPERATOR_REQUIRED.contains(&kind) => {}
        Some(Value::String(op)) if PROPERTY_OPERATORS.contains(&op.as_str()) => {}
        Some(other) => return Some(format!("invalid operator '{}'", py_str(other))),
        None => {}
    }
    if let Some(label) = f.get("label") {
        if !matches!(label, Value::Null | Value::String(_)) {
            return Some("'label' must be a string".into());
        }
    }
    let value = f.get("value");
    if kind == "cohort" {
        let ok = match value {
            Some(Value::Number(n)) => {
                n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|x| x.fract() == 0.0)
            }
            Some(Value::String(s)) => py_int(s).is_some(),
            _ => false,
        };
        return if ok {
            None
        } else {
            Some("a cohort filter's 'value' must be a cohort id".into())
        };
    }
    let scalar = |v: &Value| matches!(v, Value::String(_) | Value::Number(_) | Value::Bool(_));
    match value {
        None | Some(Value::Null) => None,
        Some(v) if scalar(v) => None,
        Some(Value::Array(items)) if items.iter().all(scalar) => None,
        Some(_) => Some("'value' must be a string, a number or a list of them".into()),
    }
}

pub(super) fn test_account_filters(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    let problem = match v {
        Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
            property_filter_problem(item).map(|p| format!("Filter {i}: {p}."))
        }),
        _ => Some("Input should be a valid list.".into()),
    };
    match problem {
        Some(p) => Err(invalid(
            format!("Must provide an array of valid property filters. {p}"),
            attr,
        )),
        None => Ok(v.clone()),
    }
}

// ---------------------------------------------------------------------------------------------
// Session recording objects.

const DICT_OR_NONE: &str = "Must provide a dictionary or None.";

pub(super) fn linked_flag(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    let map = match v {
        Value::Null => return Ok(Value::Null),
        Value::Object(m) => m,
        _ => return Err(invalid(DICT_OR_NONE, attr)),
    };
    let mut keys: Vec<&str> = map.keys().map(String::as_str).collect();
    keys.sort_unstable();
    if keys != ["id", "key"] && keys != ["id", "key", "variant"] {
        return Err(invalid(
            "Must provide a dictionary with only 'id' and 'key' keys. _or_ only 'id', 'key', and 'variant' keys.",
            attr,
        ));
    }
    // A numeric-string id is normalised to an integer; floats and bools are refused.
    let id = match &map["id"] {
        Value::Number(n) if n.is_i64() || n.is_u64() => Value::Number(n.clone()),
        Value::String(s) => match py_int(s).and_then(|n| i64::try_from(n).ok()) {
            Some(n) => Value::from(n),
            None => return Err(invalid("Must provide an integer 'id'.", attr)),
        },
        _ => return Err(invalid("Must provide an integer 'id'.", attr)),
    };
    let mut out = map.clone();
    out.insert("id".into(), id);
    Ok(Value::Object(out))
}

pub(super) fn network_payload_capture_config(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    match v {
        Value::Null => Ok(Value::Null),
        Value::Object(m) if m.keys().all(|k| k == "recordHeaders" || k == "recordBody") => {
            Ok(v.clone())
        }
        Value::Object(_) => Err(invalid(
            "Must provide a dictionary with only 'recordHeaders' and/or 'recordBody' keys.",
            attr,
        )),
        _ => Err(invalid(DICT_OR_NONE, attr)),
    }
}

pub(super) fn masking_config(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    let map = match v {
        Value::Null => return Ok(Value::Null),
        Value::Object(m) => m,
        _ => return Err(invalid(DICT_OR_NONE, attr)),
    };
    const ALLOWED: [&str; 3] = ["maskAllInputs", "maskTextSelector", "blockSelector"];
    if !map.keys().all(|k| ALLOWED.contains(&k.as_str())) {
        // PostHog joins a Python set here, so its order varies between processes.
        return Err(invalid(
            "Must provide a dictionary with only known keys: maskAllInputs, maskTextSelector, blockSelector.",
            attr,
        ));
    }
    if map.get("maskAllInputs").is_some_and(|x| !x.is_boolean()) {
        return Err(invalid("maskAllInputs must be a boolean.", attr));
    }
    if map.get("maskTextSelector").is_some_and(|x| !x.is_string()) {
        return Err(invalid("maskTextSelector must be a string.", attr));
    }
    if map.get("blockSelector").is_some_and(|x| !x.is_string()) {
        return Err(invalid("blockSelector must be a string.", attr));
    }
    Ok(v.clone())
}

pub(super) fn session_replay_config(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    let map = match v {
        Value::Null => return Ok(Value::Null),
        Value::Object(m) => m,
        _ => return Err(invalid(DICT_OR_NONE, attr)),
    };
    if !map.keys().all(|k| k == "record_canvas" || k == "ai_config") {
        return Err(invalid(
            "Must provide a dictionary with only known keys. One or more of record_canvas, ai_config.",
            attr,
        ));
    }
    match map.get("ai_config") {
        None | Some(Value::Null) => {}
        Some(Value::Object(ai)) => {
            const ALLOWED: [&str; 5] = [
                "included_event_properties",
                "opt_in",
                "preferred_events",
                "excluded_events",
                "important_user_properties",
            ];
            if !ai.keys().all(|k| ALLOWED.contains(&k.as_str())) {
                return Err(invalid(
                    "Must provide a dictionary with only allowed keys: included_event_properties, opt_in, preferred_events, excluded_events, important_user_properties.",
                    attr,
                ));
            }
        }
        Some(_) => return Err(invalid(DICT_OR_NONE, attr)),
    }
    Ok(v.clone())
}

#[rustfmt::skip]
const TRIGGER_OPERATORS: &[&str] = &[
    "exact", "gt", "icontains", "is_not", "lt", "not_icontains", "not_regex", "regex",
];

fn trigger_property_filters(props: &Value, context: &str) -> Result<(), String> {
    let Value::Array(props) = props else {
        return Err(format!("{context}: 'properties' must be an array."));
    };
    for (i, prop) in props.iter().enumerate() {
        let Value::Object(prop) = prop else {
            return Err(format!("{context}: property {i} must be a dictionary."));
        };
        if !prop.get("key").is_some_and(Value::is_string) {
            return Err(format!(
                "{context}: property {i} must have a string 'key' field."
            ));
        }
        if !matches!(prop.get("type"), Some(Value::String(t)) if t == "event" || t == "person") {
            return Err(format!(
                "{context}: property {i} must have a 'type' field with value: event, person."
            ));
        }
        if let Some(op) = prop.get("operator") {
            if !matches!(op, Value::String(o) if TRIGGER_OPERATORS.contains(&o.as_str())) {
                return Err(format!(
                    "{context}: property {i} has invalid operator '{}'. Valid operators: {}.",
                    py_str(op),
                    TRIGGER_OPERATORS.join(", ")
                ));
            }
        }
        if !prop.contains_key("value") {
            return Err(format!(
                "{context}: property {i} must have a 'value' field."
            ));
        }
    }
    Ok(())
}

fn rate_ok(v: &Value) -> bool {
    !v.is_boolean() && py_number(v).is_some_and(|r| (0.0..=1.0).contains(&r))
}

fn trigger_group(idx: usize, group: &Value) -> Result<(), String> {
    let Value::Object(group) = group else {
        return Err(format!("Group {idx}: must be a dictionary."));
    };
    for field in ["id", "sampleRate", "conditions"] {
        if !group.contains_key(field) {
            return Err(format!("Group {idx}: missing required field '{field}'."));
        }
    }
    let rate = &group["sampleRate"];
    if !rate_ok(rate) {
        return Err(format!(
            "Group {idx}: invalid sampleRate '{}'. Must be a number between 0 and 1.",
            py_str(rate)
        ));
    }
    if let Some(min) = group.get("minDurationMs") {
        let int = match min {
            Value::Number(n) if !n.is_f64() => n.as_f64(),
            _ => None,
        };
        let Some(int) = int else {
            return Err(format!(
                "Group {idx}: 'minDurationMs' must be an integer, got {}.",
                py_type_name(min)
            ));
        };
        if !(0.0..=30000.0).contains(&int) {
            return Err(format!(
                "Group {idx}: 'minDurationMs' must be between 0 and 30000 (30 seconds). Got: {}.",
                py_str(min)
            ));
        }
    }
    let Value::Object(conditions) = &group["conditions"] else {
        return Err(format!(
            "Group {idx}: field 'conditions' must be a dictionary."
        ));
    };
    if let Some(mt) = conditions.get("matchType") {
        if !matches!(mt, Value::String(s) if s == "any" || s == "all") {
            return Err(format!(
                "Group {idx}: invalid matchType '{}'. Must be 'any' or 'all'.",
                py_str(mt)
            ));
        }
    }
    if let Some(events) = conditions.get("events") {
        let Value::Array(events) = events else {
            return Err(format!("Group {idx}: field 'events' must be an array."));
        };
        for (event_idx, event) in events.iter().enumerate() {
            match event {
                Value::String(_) => {}
                Value::Object(e) => {
                    let Some(Value::String(name)) = e.get("name") else {
                        return Err(format!("Group {idx}: event {event_idx} object must have a string 'name' field."));
                    };
                    if let Some(props) = e.get("properties") {
                        trigger_property_filters(props, &format!("Group {idx}, event '{name}'"))?;
                    }
                }
                _ => {
                    return Err(format!(
                        "Group {idx}: event {event_idx} must be a string or object with 'name'."
                    ))
                }
            }
        }
    }
    if let Some(urls) = conditions.get("urls") {
        let Value::Array(urls) = urls else {
            return Err(format!("Group {idx}: field 'urls' must be an array."));
        };
        for url in urls {
            let Value::Object(url) = url else {
                return Err(format!("Group {idx}: URL config must be a dictionary."));
            };
            let (Some(pattern), Some(matching)) = (url.get("url"), url.get("matching")) else {
                return Err(format!(
                    "Group {idx}: URL config must have 'url' and 'matching' fields."
                ));
            };
            if !matches!(matching, Value::String(m) if m == "regex") {
                return Err(format!(
                    "Group {idx}: URL matching must be 'regex'. Got: '{}'.",
                    py_str(matching)
                ));
            }
            // PostHog compiles with Python's `re` (a non-string crashes it; we refuse it).
            let compiles =
                matches!(pattern, Value::String(p) if check_regex(p, Flavor::Python).is_ok());
            if !compiles {
                return Err(format!(
                    "Group {idx}: invalid regex pattern in URL: '{}'.",
                    py_str(pattern)
                ));
            }
        }
    }
    if let Some(flag) = conditions.get("flag") {
        match flag {
            Value::String(_) | Value::Null => {}
            Value::Object(f) => match f.get("key") {
                None => return Err(format!("Group {idx}: flag object must have 'key' field.")),
                Some(Value::String(_)) => {}
                Some(_) => return Err(format!("Group {idx}: flag 'key' must be a string.")),
            },
            _ => {
                return Err(format!(
                    "Group {idx}: 'flag' must be a string (flag key), object (LinkedFeatureFlag), or null."
                ))
            }
        }
    }
    if let Some(props) = conditions.get("properties") {
        trigger_property_filters(props, &format!("Group {idx}"))?;
    }
    Ok(())
}

pub(super) fn trigger_groups(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    let map = match v {
        Value::Null => return Ok(Value::Null),
        Value::Object(m) => m,
        _ => return Err(invalid(DICT_OR_NONE, attr)),
    };
    let check = || -> Result<(), String> {
        let Some(version) = map.get("version") else {
            return Err("Missing required field: 'version'.".into());
        };
        if version.is_boolean() || py_number(version) != Some(2.0) {
            return Err(format!(
                "Invalid version: {}. Only version 2 is supported.",
                py_str(version)
            ));
        }
        let Some(groups) = map.get("groups") else {
            return Err("Missing required field: 'groups'.".into());
        };
        let Value::Array(groups) = groups else {
            return Err("Field 'groups' must be an array.".into());
        };
        for (idx, group) in groups.iter().enumerate() {
            trigger_group(idx, group)?;
        }
        if let Some(rate) = map.get("fallbackSampleRate") {
            if !rate_ok(rate) {
                return Err(format!(
                    "Invalid fallbackSampleRate: {}. Must be a number between 0 and 1.",
                    py_str(rate)
                ));
            }
        }
        Ok(())
    };
    check().map_err(|m| invalid(m, attr))?;
    Ok(v.clone())
}

// ---------------------------------------------------------------------------------------------
// modifiers: PostHog validates with the pydantic `HogQLQueryModifiers` model (extra="forbid").

enum ModKind {
    Number,
    Bool,
    Choice(&'static [&'static str]),
    Strings,
    ChannelRules,
    WarehouseModifiers,
}

#[rustfmt::skip]
const MODIFIERS: &[(&str, ModKind)] = &[
    ("bounceRateDurationSeconds", ModKind::Number),
    ("bounceRatePageViewMode", ModKind::Choice(&["count_pageviews", "uniq_urls", "uniq_page_screen_autocaptures"])),
    ("convertToProjectTimezone", ModKind::Bool),
    ("customChannelTypeRules", ModKind::ChannelRules),
    ("dataWarehouseEventsModifiers", ModKind::WarehouseModifiers),
    ("debug", ModKind::Bool),
    ("forceClickhouseDataSkippingIndexes", ModKind::Strings),
    ("formatCsvAllowDoubleQuotes", ModKind::Bool),
    ("inCohortVia", ModKind::Choice(&["auto", "leftjoin", "subquery", "leftjoin_conjoined"])),
    ("inlineCohortCalculation", ModKind::Choice(&["off", "auto", "always"])),
    ("materializationMode", ModKind::Choice(&[
        "auto", "legacy_null_as_string", "legacy_null_as_null", "disabled",
    ])),
    ("materializedColumnsOptimizationMode", ModKind::Choice(&["disabled", "optimized"])),
    ("optimizeJoinedFilters", ModKind::Bool),
    ("optimizeProjections", ModKind::Bool),
    ("parserMode", ModKind::Choice(&[
        "cpp_only", "cpp_with_rust_shadow", "cpp_with_rust_py_shadow", "rust_with_cpp_shadow",
        "rust_only", "rust_py_only", "rust_py_with_cpp_shadow",
    ])),
    ("personsArgMaxVersion", ModKind::Choice(&["auto", "v1", "v2"])),
    ("personsJoinMode", ModKind::Choice(&["inner", "left"])),
    ("personsOnEventsMode", ModKind::Choice(&[
        "disabled", "person_id_no_override_properties_on_events",
        "person_id_override_properties_on_events", "person_id_override_properties_joined",
    ])),
    ("propertyGroupsMode", ModKind::Choice(&["enabled", "disabled", "optimized"])),
    ("pushDownPredicates", ModKind::Bool),
    ("s3TableUseInvalidColumns", ModKind::Bool),
    ("sessionIdPushdown", ModKind::Bool),
    ("sessionPropertyPreAggregation", ModKind::Bool),
    ("sessionTableVersion", ModKind::Choice(&["auto", "v1", "v2", "v3"])),
    ("sessionsV2JoinMode", ModKind::Choice(&["string", "uuid"])),
    ("timings", ModKind::Bool),
    ("typeAwareCastSimplification", ModKind::Bool),
    ("useMaterializedViews", ModKind::Bool),
    ("usePreaggregatedIntermediateResults", ModKind::Bool),
    ("usePreaggregatedTableTransforms", ModKind::Bool),
    ("useWebAnalyticsPreAggregatedTables", ModKind::Bool),
];

/// pydantic's lax bool.
fn pydantic_bool(v: &Value) -> bool {
    match v {
        Value::Bool(_) => true,
        Value::Number(n) => n.as_f64().is_some_and(|f| f == 0.0 || f == 1.0),
        Value::String(s) => [
            "0", "off", "f", "false", "n", "no", "1", "on", "t", "true", "y", "yes",
        ]
        .contains(&s.to_lowercase().as_str()),
        _ => false,
    }
}

fn object_with(
    v: &Value,
    required: &[&str],
    optional: &[&str],
    field_ok: impl Fn(&str, &Value) -> bool,
) -> bool {
    let Value::Object(m) = v else { return false };
    required.iter().all(|k| m.contains_key(*k))
        && m.iter().all(|(k, x)| {
            (required.contains(&k.as_str()) || optional.contains(&k.as_str())) && field_ok(k, x)
        })
}

fn channel_rule_ok(rule: &Value) -> bool {
    const FIELDS: [&str; 7] = [
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "referring_domain",
        "url",
        "pathname",
        "hostname",
    ];
    const OPS: [&str; 8] = [
        "exact",
        "is_not",
        "is_set",
        "is_not_set",
        "icontains",
        "not_icontains",
        "regex",
        "not_regex",
    ];
    let condition_ok = |c: &Value| {
        object_with(c, &["id", "key", "op"], &["value"], |k, x| match k {
            "id" => x.is_string(),
            "key" => matches!(x, Value::String(s) if FIELDS.contains(&s.as_str())),
            "op" => matches!(x, Value::String(s) if OPS.contains(&s.as_str())),
            _ => match x {
                Value::Null | Value::String(_) => true,
                Value::Array(items) => items.iter().all(Value::is_string),
                _ => false,
            },
        })
    };
    object_with(
        rule,
        &["channel_type", "combiner", "id", "items"],
        &[],
        |k, x| match k {
            "combiner" => matches!(x, Value::String(s) if s == "AND" || s == "OR"),
            "items" => matches!(x, Value::Array(items) if items.iter().all(condition_ok)),
            _ => x.is_string(),
        },
    )
}

fn modifier_ok(kind: &ModKind, v: &Value) -> bool {
    if v.is_null() {
        return true;
    }
    let list_of =
        |ok: &dyn Fn(&Value) -> bool| matches!(v, Value::Array(items) if items.iter().all(ok));
    match kind {
        ModKind::Number => py_number(v).is_some(),
        ModKind::Bool => pydantic_bool(v),
        ModKind::Choice(values) => matches!(v, Value::String(s) if values.contains(&s.as_str())),
        ModKind::Strings => list_of(&Value::is_string),
        ModKind::ChannelRules => list_of(&channel_rule_ok),
        ModKind::WarehouseModifiers => list_of(&|m: &Value| {
            object_with(
                m,
                &[
                    "distinct_id_field",
                    "id_field",
                    "table_name",
                    "timestamp_field",
                ],
                &[],
                |_, x| x.is_string(),
            )
        }),
    }
}

pub(super) fn modifiers(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    let map = match v {
        Value::Null => return Ok(Value::Null),
        Value::Object(m) => m,
        _ => return Err(invalid(DICT_OR_NONE, attr)),
    };
    if let Some(rate) = map.get("bounceRateDurationSeconds") {
        if !rate.is_null() {
            // Python's isinstance(x, (int, float)) lets booleans through (True == 1).
            let bounce_attr = nested(attr, "bounceRateDurationSeconds");
            let Some(seconds) = py_number(rate) else {
                return Err(invalid("Must be a number.", &bounce_attr));
            };
            if !(1.0..=120.0).contains(&seconds) {
                return Err(invalid("Must be between 1 and 120 seconds.", &bounce_attr));
            }
        }
    }
    for (key, value) in map {
        let known = MODIFIERS.iter().find(|(name, _)| name == key);
        if !known.is_some_and(|(_, kind)| modifier_ok(kind, value)) {
            return Err(invalid("Invalid modifier key.", attr));
        }
    }
    Ok(v.clone())
}

// ---------------------------------------------------------------------------------------------
// conversations_settings

/// Keys only PostHog's own endpoints may write (the widget token and integration state).
#[rustfmt::skip]
const MANAGED_CONVERSATION_KEYS: &[&str] = &[
    "widget_public_token", "slack_bot_token", "slack_team_id", "slack_enabled", "slack_scopes",
    "email_enabled", "teams_enabled", "teams_tenant_id", "teams_team_id", "teams_team_name",
    "teams_channel_id", "teams_channel_name", "teams_channels",
];

const CHANNELS: [&str; 5] = ["email", "github", "slack", "teams", "widget"];

pub(super) fn conversations_settings(v: &Value, attr: &Attr) -> Result<Value, ApiError> {
    let mut map = match v {
        Value::Null => return Ok(Value::Null),
        Value::Object(m) => m.clone(),
        // PostHog crashes on these; a 400 with its usual wording instead.
        _ => return Err(invalid(DICT_OR_NONE, attr)),
    };
    let sub = |key: &'static str, msg: String| invalid(msg, &nested(attr, key));
    match map.get("widget_domains") {
        None | Some(Value::Null) => {}
        Some(Value::Array(domains)) => {
            let kept: Vec<Value> = domains.iter().filter(|d| py_truthy(d)).cloned().collect();
            check_wildcards(&kept, attr)?;
            map.insert("widget_domains".into(), Value::Array(kept));
        }
        Some(_) => return Err(invalid("Each URL must be a string.", attr)),
    }
    for key in MANAGED_CONVERSATION_KEYS {
        map.shift_remove(*key);
    }
    if let Some(raw) = map.get("slack_channel_ids") {
        match raw {
            Value::Array(items) => {
                let mut seen: HashSet<&str> = HashSet::new();
                let cleaned: Vec<Value> = items
                    .iter()
                    .filter_map(|item| match item {
                        Value::String(s) if !s.is_empty() && seen.insert(s) => {
                            Some(Value::from(s.as_str()))
                        }
                        _ => None,
                    })
                    .take(50)
                    .collect();
                map.insert("slack_channel_ids".into(), Value::Array(cleaned));
            }
            _ => {
                map.shift_remove("slack_channel_ids");
            }
        }
    }
    match map.get("slack_bot_icon_url") {
        None | Some(Value::Null) => {}
        Some(Value::String(url)) => {
            let url = py_strip(url).to_string();
            if !url.is_empty() && !url.starts_with("https://") {
                return Err(sub("slack_bot_icon_url", "Must be an HTTPS URL.".into()));
            }
            map.insert(
                "slack_bot_icon_url".into(),
                if url.is_empty() {
                    Value::Null
                } else {
                    Value::from(url)
                },
            );
        }
        Some(_) => return Err(sub("slack_bot_icon_url", "Must be a string.".into())),
    }
    match map.get("slack_bot_display_name") {
        None | Some(Value::Null) => {}
        Some(Value::String(name)) => {
            let name = py_strip(name).to_string();
            if name.chars().count() > 200 || name.chars().any(|c| (c as u32) < 32) {
                return Err(sub(
                    "slack_bot_display_name",
                    "Must be 200 characters or fewer with no control characters.".into(),
                ));
            }
            map.insert(
                "slack_bot_display_name".into(),
                if name.is_empty() {
                    Value::Null
                } else {
                    Value::from(name)
                },
            );
        }
        Some(_) => return Err(sub("slack_bot_display_name", "Must be a string.".into())),
    }
    for toggle in [
        "slack_notify_on_join",
        "slack_notify_on_leave",
        "slack_nudge_enabled",
    ] {
        if let Some(x) = map.get(toggle) {
            let b = py_truthy(x);
            map.insert(toggle.into(), Value::Bool(b));
        }
    }
    match map.get("slack_alert_channel_id") {
        None | Some(Value::Null) => {}
        Some(Value::String(id)) => {
            let id = py_strip(id).to_string();
            map.insert(
                "slack_alert_channel_id".into(),
                if id.is_empty() {
                    Value::Null
                } else {
                    Value::from(id)
                },
            );
        }
        Some(_) => return Err(sub("slack_alert_channel_id", "Must be a string.".into())),
    }
    match map.get("ai_resolution_channels") {
        None | Some(Value::Null) => {}
        Some(Value::Array(channels)) => {
            let bad: Vec<String> = channels
                .iter()
                .filter(|c| !matches!(c, Value::String(s) if CHANNELS.contains(&s.as_str())))
                .map(py_str)
                .collect();
            if !bad.is_empty() {
                return Err(sub(
                    "ai_resolution_channels",
                    format!(
                        "Invalid channel(s): {}. Valid options: {}.",
                        bad.join(", "),
                        CHANNELS.join(", ")
                    ),
                ));
            }
        }
        Some(_) => {
            return Err(sub(
                "ai_resolution_channels",
                "Must be a list of channel names or null.".into(),
            ))
        }
    }
    match map.get("ai_reply_modes") {
        None | Some(Value::Null) => {}
        Some(Value::Object(modes)) => {
            // Unknown channels/ticket types/modes are dropped, and only how_to replies may be
            // published to the ticket author (others are demoted to private notes).
            let mut cleaned = Map::new();
            for (channel, types) in modes {
                let Value::Object(types) = types else {
                    continue;
                };
                if !CHANNELS.contains(&channel.as_str()) {
                    continue;
                }
                let mut kept = Map::new();
                for (ticket_type, mode) in types {
                    let Value::String(mode) = mode else { continue };
                    if !["how_to", "diagnostic", "account_billing"].contains(&ticket_type.as_str())
                        || !["private_note", "bot_reply"].contains(&mode.as_str())
                    {
                        continue;
                    }
                    let mode = if mode == "bot_reply" && ticket_type != "how_to" {
                        "private_note"
                    } else {
                        mode
                    };
                    kept.insert(ticket_type.clone(), Value::from(mode));
                }
                if !kept.is_empty() {
                    cleaned.insert(channel.clone(), Value::Object(kept));
                }
            }
            map.insert("ai_reply_modes".into(), Value::Object(cleaned));
        }
        Some(_) => return Err(sub("ai_reply_modes", "Must be an object or null.".into())),
    }
    Ok(Value::Object(map))
}
