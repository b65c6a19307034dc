//! Unit tests of the settings' checks and merge rules ("Item n" is the numbered PostHog
//! test in `posthog-projects-legal-oauth.md`).

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::regex_syntax::{check_regex, Flavor};
use super::rules::py_float_repr;
use super::*;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("test timestamp")
}

fn now() -> DateTime<Utc> {
    at("2025-01-01T00:00:00Z")
}

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        other => panic!("not an object: {other}"),
    }
}

fn patch(current: &Map<String, Value>, body: Value) -> ApiResult<Map<String, Value>> {
    apply(current, &obj(body), now(), None)
}

/// Applies `body` to a fresh project and returns the new value of `field`.
fn set(field: &str, value: Value) -> Value {
    let doc =
        patch(&defaults(), json!({ field: value })).unwrap_or_else(|e| panic!("{field}: {e}"));
    doc[field].clone()
}

fn fail(field: &str, value: Value) -> ApiError {
    match patch(&defaults(), json!({ field: value })) {
        Ok(doc) => panic!("{field}: expected an error, got {}", doc[field]),
        Err(e) => e,
    }
}

fn assert_error(e: &ApiError, status: u16, code: &str, detail: &str, attr: Option<&str>) {
    assert_eq!(e.status.as_u16(), status, "{e:?}");
    assert_eq!(e.code, code, "{e:?}");
    assert_eq!(e.detail, detail, "{e:?}");
    assert_eq!(e.attr.as_deref(), attr, "{e:?}");
}

#[test]
fn settings_table_and_defaults() {
    let d = defaults();
    let keys: Vec<&str> = d.keys().map(String::as_str).collect();
    let names: Vec<&str> = SETTINGS.iter().map(|s| s.name).collect();
    assert_eq!(keys, names);
    assert_eq!(SETTINGS.len(), 48);
    for (field, expected) in [
        ("app_urls", json!([])),
        ("anonymize_ips", json!(false)),
        ("timezone", json!("UTC")),
        ("data_attributes", json!(["data-attr"])),
        ("correlation_config", json!({})),
        ("capture_console_log_opt_in", json!(true)),
        ("capture_performance_opt_in", json!(true)),
        ("session_recording_retention_period", json!("30d")),
        ("session_recording_url_trigger_config", json!([])),
        ("week_start_day", json!(null)),
        ("primary_dashboard", json!(null)),
        ("extra_settings", json!(null)),
        ("flags_persistence_default", json!(false)),
        ("receive_org_level_activity_logs", json!(false)),
        ("proactive_tasks_enabled", json!(null)),
        (
            "test_account_filters",
            json!([{"key": "$host", "operator": "not_regex", "value": "^(localhost|127\\.0\\.0\\.1)($|:)", "type": "event"}]),
        ),
    ] {
        assert_eq!(d[field], expected, "{field}");
    }
    // The defaults pass validation unchanged (all but the errors-to-ignore null, which
    // PostHog refuses on input although it is the stored default).
    let mut body = d.clone();
    body.remove("autocapture_exceptions_errors_to_ignore");
    assert_eq!(apply(&d, &body, now(), None).unwrap(), d);
}

#[test]
fn access_levels_and_admin_gate_names() {
    let members: Vec<&str> = SETTINGS
        .iter()
        .filter(|s| s.access == Access::Member)
        .map(|s| s.name)
        .collect();
    assert_eq!(
        members,
        [
            "completed_snippet_onboarding",
            "autocapture_exceptions_opt_in",
            "autocapture_web_vitals_opt_in",
            "autocapture_web_vitals_allowed_metrics",
            "session_recording_opt_in",
            "primary_dashboard",
            "has_completed_onboarding_for",
            "surveys_opt_in",
        ]
    );
    assert_eq!(find("timezone").map(|s| s.access), Some(Access::Admin));
    assert!(find("name").is_none());
    // Items 78-81: member-safe bodies name nothing; admin fields are listed sorted.
    let member_body = obj(json!({
        "session_recording_opt_in": true, "autocapture_exceptions_opt_in": true,
        "autocapture_web_vitals_opt_in": true, "surveys_opt_in": true,
        "has_completed_onboarding_for": {"product_analytics": true}, "completed_snippet_onboarding": true,
        "name": "x", "product_description": "y",
    }));
    assert!(admin_fields_in(&member_body).is_empty());
    let mixed = obj(
        json!({"surveys_opt_in": true, "timezone": "Europe/Lisbon", "anonymize_ips": true, "app_urls": []}),
    );
    assert_eq!(
        admin_fields_in(&mixed),
        ["anonymize_ips", "app_urls", "timezone"]
    );
}

#[test]
fn only_the_sent_settings_change() {
    // Item 75: a PATCH rewrites only its own keys.
    let mut current = defaults();
    current.insert("completed_snippet_onboarding".into(), json!(true));
    current.insert(
        "has_completed_onboarding_for".into(),
        json!({"product_analytics": true}),
    );
    let doc = patch(
        &current,
        json!({"session_recording_opt_in": true, "name": "ignored", "is_demo": true}),
    )
    .unwrap();
    let mut expected = current.clone();
    expected.insert("session_recording_opt_in".into(), json!(true));
    assert_eq!(doc, expected);
}

#[test]
fn timezone() {
    // Items 33-34.
    assert_eq!(
        set("timezone", json!("Europe/Lisbon")),
        json!("Europe/Lisbon")
    );
    assert_eq!(set("timezone", json!("US/Pacific")), json!("US/Pacific"));
    let e = fail("timezone", json!("America/I_Dont_Exist"));
    assert_eq!(
        e.body(),
        json!({"type": "validation_error", "code": "invalid_choice", "detail": "\"America/I_Dont_Exist\" is not a valid choice.", "attr": "timezone"})
    );
    assert_error(
        &fail("timezone", json!(null)),
        400,
        "null",
        "This field may not be null.",
        Some("timezone"),
    );
    assert_error(
        &fail("timezone", json!(5)),
        400,
        "invalid_choice",
        "\"5\" is not a valid choice.",
        Some("timezone"),
    );
}

#[test]
fn booleans_follow_drf() {
    // Items 36, 60.
    assert_eq!(
        set("test_account_filters_default_checked", json!("true")),
        json!(true)
    );
    for (raw, expected) in [
        (json!("on"), json!(true)),
        (json!("Y"), json!(true)),
        (json!(1), json!(true)),
        (json!(1.0), json!(true)),
        (json!("FALSE"), json!(false)),
        (json!("0"), json!(false)),
        (json!(0), json!(false)),
        (json!("null"), json!(null)),
        (json!(""), json!(null)),
        (json!(null), json!(null)),
    ] {
        assert_eq!(
            set("autocapture_exceptions_opt_in", raw.clone()),
            expected,
            "{raw}"
        );
    }
    for raw in [
        json!("Welwyn Garden City"),
        json!(2),
        json!("TRUE "),
        json!([true]),
        json!({}),
    ] {
        assert_error(
            &fail("autocapture_exceptions_opt_in", raw),
            400,
            "invalid_input",
            "Must be a valid boolean.",
            Some("autocapture_exceptions_opt_in"),
        );
    }
    // Non-nullable booleans refuse null and the null spellings.
    assert_error(
        &fail("anonymize_ips", json!(null)),
        400,
        "null",
        "This field may not be null.",
        Some("anonymize_ips"),
    );
    assert_error(
        &fail("session_recording_opt_in", json!("")),
        400,
        "invalid_input",
        "Must be a valid boolean.",
        Some("session_recording_opt_in"),
    );
    assert!(parse_bool(&json!("yes"), "is_demo").unwrap());
    assert_error(
        &parse_bool(&json!(null), "is_demo").unwrap_err(),
        400,
        "null",
        "This field may not be null.",
        Some("is_demo"),
    );
}

#[test]
fn test_account_filters() {
    // Item 37: the minimal filter of the old test is still accepted.
    let minimal = json!([{"key": "$current_url", "value": "test"}]);
    assert_eq!(set("test_account_filters", minimal.clone()), minimal);
    // Item 39.
    let is_set = json!([{"key": "email", "type": "person", "operator": "is_set"}]);
    assert_eq!(set("test_account_filters", is_set.clone()), is_set);
    let cohort = json!([{"key": "id", "type": "cohort", "value": 8814, "operator": "not_in"}]);
    assert_eq!(set("test_account_filters", cohort.clone()), cohort);
    // Item 38.
    for bad in [
        json!([{"type": "person", "operator": "exact", "value": "posthog.com"}]),
        json!([{"key": "email", "type": "not_a_type", "operator": "exact", "value": "posthog.com"}]),
        json!([{"key": "email", "type": "person", "operator": "not_an_operator", "value": "posthog.com"}]),
        json!([{"key": "id", "type": "cohort", "operator": "in", "value": "not-a-cohort-id"}]),
        json!([{"key": "email", "type": "person", "value": "x"}]),
        json!([{"key": 5, "type": "event"}]),
        json!(["not an object"]),
        json!({"key": "email"}),
    ] {
        let e = fail("test_account_filters", bad.clone());
        assert_eq!(
            (e.code.as_ref(), e.attr.as_deref()),
            ("invalid_input", Some("test_account_filters")),
            "{bad}"
        );
        assert!(
            e.detail
                .starts_with("Must provide an array of valid property filters."),
            "{}",
            e.detail
        );
    }
    assert_error(
        &fail("test_account_filters", json!(null)),
        400,
        "null",
        "This field may not be null.",
        Some("test_account_filters"),
    );
}

#[test]
fn primary_dashboard_keeps_any_integer() {
    // Item 40 (self-hosted: no dashboards to check ownership against).
    assert_eq!(set("primary_dashboard", json!(17)), json!(17));
    assert_eq!(set("primary_dashboard", json!("17")), json!(17));
    assert_eq!(set("primary_dashboard", json!(null)), json!(null));
    for (raw, kind) in [
        (json!("abc"), "str"),
        (json!(true), "bool"),
        (json!(1.5), "float"),
        (json!([1]), "list"),
    ] {
        assert_error(
            &fail("primary_dashboard", raw),
            400,
            "incorrect_type",
            &format!("Incorrect type. Expected pk value, received {kind}."),
            Some("primary_dashboard"),
        );
    }
}

#[test]
fn sample_rate() {
    // Item 42: numbers in, two-decimal strings out.
    for (raw, expected) in [
        (json!(0.4), "0.40"),
        (json!("0.4"), "0.40"),
        (json!(" 0.5 "), "0.50"),
        (json!(1), "1.00"),
        (json!(1.0), "1.00"),
        (json!("1.00"), "1.00"),
        (json!(0), "0.00"),
        (json!("-0"), "0.00"),
        (json!(".05"), "0.05"),
        (json!("5e-2"), "0.05"),
    ] {
        assert_eq!(
            set("session_recording_sample_rate", raw.clone()),
            json!(expected),
            "{raw}"
        );
    }
    assert_eq!(
        set("session_recording_sample_rate", json!(null)),
        json!(null)
    );
    // Item 43.
    let attr = Some("session_recording_sample_rate");
    for (raw, code, detail) in [
        (
            json!("Welwyn Garden City"),
            "invalid_input",
            "A valid number is required.",
        ),
        (json!(true), "invalid_input", "A valid number is required."),
        (json!("NaN"), "invalid_input", "A valid number is required."),
        (
            json!("Infinity"),
            "invalid_input",
            "A valid number is required.",
        ),
        (json!({}), "invalid_input", "A valid number is required."),
        (
            json!("-1"),
            "min_value",
            "Ensure this value is greater than or equal to 0.",
        ),
        (
            json!("-0.01"),
            "min_value",
            "Ensure this value is greater than or equal to 0.",
        ),
        (
            json!("1.5"),
            "max_value",
            "Ensure this value is less than or equal to 1.",
        ),
        (
            json!(2),
            "max_value",
            "Ensure this value is less than or equal to 1.",
        ),
        (
            json!("0.534"),
            "max_decimal_places",
            "Ensure that there are no more than 2 decimal places.",
        ),
        (
            json!(0.001),
            "max_decimal_places",
            "Ensure that there are no more than 2 decimal places.",
        ),
        (
            json!("0.5345"),
            "max_digits",
            "Ensure that there are no more than 3 digits in total.",
        ),
        (
            json!(100.0),
            "max_digits",
            "Ensure that there are no more than 3 digits in total.",
        ),
        (
            json!("12"),
            "max_whole_digits",
            "Ensure that there are no more than 1 digits before the decimal point.",
        ),
        (
            json!("1".repeat(1001)),
            "max_string_length",
            "String value too large.",
        ),
    ] {
        assert_error(
            &fail("session_recording_sample_rate", raw),
            400,
            code,
            detail,
            attr,
        );
    }
}

#[test]
fn minimum_duration() {
    // Item 44.
    let field = "session_recording_minimum_duration_milliseconds";
    for (raw, expected) in [
        (json!(1500), 1500),
        (json!("30000"), 30000),
        (json!("7.00"), 7),
        (json!(5.0), 5),
        (json!(" 12 "), 12),
        (json!("1_000"), 1000),
    ] {
        assert_eq!(set(field, raw.clone()), json!(expected), "{raw}");
    }
    assert_eq!(set(field, json!(null)), json!(null));
    for (raw, code, detail) in [
        (
            json!("Trentham monkey forest"),
            "invalid_input",
            "A valid integer is required.",
        ),
        (
            json!("0.5"),
            "invalid_input",
            "A valid integer is required.",
        ),
        (json!(0.5), "invalid_input", "A valid integer is required."),
        (json!(true), "invalid_input", "A valid integer is required."),
        (json!(1e20), "invalid_input", "A valid integer is required."),
        (json!(""), "invalid_input", "A valid integer is required."),
        (
            json!("-1"),
            "min_value",
            "Ensure this value is greater than or equal to 0.",
        ),
        (
            json!("30001"),
            "max_value",
            "Ensure this value is less than or equal to 30000.",
        ),
        (
            json!("99999999999999999999999999999999999999999999"),
            "max_value",
            "Ensure this value is less than or equal to 30000.",
        ),
    ] {
        assert_error(&fail(field, raw), 400, code, detail, Some(field));
    }
}

#[test]
fn linked_flag() {
    let field = "session_recording_linked_flag";
    // Items 46-47.
    for (raw, expected) in [
        (
            json!({"id": 1, "key": "provided_value"}),
            json!({"id": 1, "key": "provided_value"}),
        ),
        (
            json!({"id": 1, "key": "k", "variant": "test"}),
            json!({"id": 1, "key": "k", "variant": "test"}),
        ),
        (
            json!({"id": "123", "key": "flag-key"}),
            json!({"id": 123, "key": "flag-key"}),
        ),
        (json!(null), json!(null)),
    ] {
        assert_eq!(set(field, raw), expected);
    }
    // Item 45.
    let only_keys = "Must provide a dictionary with only 'id' and 'key' keys. _or_ only 'id', 'key', and 'variant' keys.";
    for (raw, detail) in [
        (json!("Marple bridge"), "Must provide a dictionary or None."),
        (json!("-1"), "Must provide a dictionary or None."),
        (json!(1), "Must provide a dictionary or None."),
        (json!("1"), "Must provide a dictionary or None."),
        (json!({"key": "something"}), only_keys),
        (json!({"id": 1}), only_keys),
        (json!({"variant": "1"}), only_keys),
        (json!({"key": "one", "variant": "1"}), only_keys),
        (json!({"wat": "wat"}), only_keys),
        (
            json!({"id": "abc", "key": "flag-key"}),
            "Must provide an integer 'id'.",
        ),
        (
            json!({"id": 12.5, "key": "flag-key"}),
            "Must provide an integer 'id'.",
        ),
        (
            json!({"id": null, "key": null}),
            "Must provide an integer 'id'.",
        ),
        (
            json!({"id": true, "key": "flag-key"}),
            "Must provide an integer 'id'.",
        ),
    ] {
        assert_error(&fail(field, raw), 400, "invalid_input", detail, Some(field));
    }
}

#[test]
fn network_payload_and_masking_configs() {
    // Items 48-49: the object replaces the stored one.
    let field = "session_recording_network_payload_capture_config";
    let doc = patch(&defaults(), json!({field: {"recordHeaders": true}})).unwrap();
    let doc = patch(&doc, json!({field: {"recordBody": false}})).unwrap();
    assert_eq!(doc[field], json!({"recordBody": false}));
    assert_eq!(
        patch(&doc, json!({field: null})).unwrap()[field],
        json!(null)
    );
    for (raw, detail) in [
        (json!("Marple bridge"), "Must provide a dictionary or None."),
        (
            json!({"key": "something"}),
            "Must provide a dictionary with only 'recordHeaders' and/or 'recordBody' keys.",
        ),
    ] {
        assert_error(&fail(field, raw), 400, "invalid_input", detail, Some(field));
    }
    let field = "session_recording_masking_config";
    let ok = json!({"maskAllInputs": true, "maskTextSelector": ".secret", "blockSelector": "img"});
    assert_eq!(set(field, ok.clone()), ok);
    for (raw, detail) in [
        (json!([]), "Must provide a dictionary or None."),
        (json!({"other": 1}), "Must provide a dictionary with only known keys: maskAllInputs, maskTextSelector, blockSelector."),
        (json!({"maskAllInputs": "yes"}), "maskAllInputs must be a boolean."),
        (json!({"maskTextSelector": 1}), "maskTextSelector must be a string."),
        (json!({"blockSelector": null}), "blockSelector must be a string."),
    ] {
        assert_error(&fail(field, raw), 400, "invalid_input", detail, Some(field));
    }
}

#[test]
fn session_replay_config_merges_one_level_deep() {
    let field = "session_replay_config";
    let step =
        |doc: &Map<String, Value>, value: Value| patch(doc, json!({ field: value })).unwrap();
    // Item 50.
    let doc = step(&defaults(), json!({"record_canvas": true}));
    assert_eq!(doc[field], json!({"record_canvas": true}));
    assert_eq!(step(&doc, json!(null))[field], json!(null));
    // Item 51.
    let doc = step(&defaults(), json!({"ai_config": {"opt_in": true}}));
    let doc = step(&doc, json!({"record_canvas": true}));
    assert_eq!(
        doc[field],
        json!({"ai_config": {"opt_in": true}, "record_canvas": true})
    );
    // Item 52: second level merged, third level replaced.
    let doc = step(&defaults(), json!({"ai_config": {"opt_in": true}}));
    let doc = step(
        &doc,
        json!({"ai_config": {"included_event_properties": ["something"]}}),
    );
    assert_eq!(
        doc[field],
        json!({"ai_config": {"opt_in": true, "included_event_properties": ["something"]}})
    );
    let doc = step(
        &doc,
        json!({"ai_config": {"opt_in": null, "included_event_properties": ["something"]}}),
    );
    let doc = step(
        &doc,
        json!({"ai_config": {"included_event_properties": ["and another"]}}),
    );
    assert_eq!(
        doc[field],
        json!({"ai_config": {"opt_in": null, "included_event_properties": ["and another"]}})
    );
    let doc = step(&doc, json!({"ai_config": null}));
    assert_eq!(doc[field], json!({"ai_config": null}));
    // Item 53.
    for (raw, detail) in [
        (json!({"ai_config": {"key": "something"}}), "Must provide a dictionary with only allowed keys: included_event_properties, opt_in, preferred_events, excluded_events, important_user_properties."),
        (json!({"ai_config": "Marple bridge"}), "Must provide a dictionary or None."),
        (json!({"other": 1}), "Must provide a dictionary with only known keys. One or more of record_canvas, ai_config."),
        (json!(5), "Must provide a dictionary or None."),
    ] {
        assert_error(&fail(field, raw), 400, "invalid_input", detail, Some(field));
    }
}

#[test]
fn survey_config_merges_shallowly() {
    // Item 54.
    let mut appearance =
        json!({"thankYouMessageHeader": "Thanks for your feedback!", "backgroundColor": "#ffcc99"});
    let doc = patch(
        &defaults(),
        json!({"survey_config": {"appearance": appearance.clone()}}),
    )
    .unwrap();
    appearance["zIndex"] = json!("100001");
    let doc = patch(
        &doc,
        json!({"survey_config": {"appearance": appearance.clone()}}),
    )
    .unwrap();
    appearance["thankYouMessageHeader"] = json!("Thanks!");
    let doc = patch(
        &doc,
        json!({"survey_config": {"appearance": appearance.clone()}}),
    )
    .unwrap();
    assert_eq!(doc["survey_config"], json!({"appearance": appearance}));
    let doc = patch(&doc, json!({"survey_config": {"other": 1}})).unwrap();
    assert_eq!(doc["survey_config"]["other"], json!(1));
    assert!(doc["survey_config"]["appearance"].is_object());
    assert_eq!(
        patch(&doc, json!({"survey_config": null})).unwrap()["survey_config"],
        json!(null)
    );
}

#[test]
fn modifiers() {
    // Item 55.
    let doc = patch(
        &defaults(),
        json!({"modifiers": {"personsOnEventsMode": "person_id_override_properties_on_events"}}),
    )
    .unwrap();
    let rules = json!([{"id": "test", "channel_type": "Direct", "combiner": "AND", "items": []}]);
    let doc = patch(
        &doc,
        json!({"modifiers": {"customChannelTypeRules": rules.clone()}}),
    )
    .unwrap();
    let doc = patch(
        &doc,
        json!({"modifiers": {"personsOnEventsMode": "person_id_override_properties_joined"}}),
    )
    .unwrap();
    assert_eq!(
        doc["modifiers"],
        json!({"personsOnEventsMode": "person_id_override_properties_joined", "customChannelTypeRules": rules})
    );
    // Item 56.
    for ok in [json!(1), json!(60), json!(120), json!(1.5), json!(null)] {
        assert_eq!(
            set(
                "modifiers",
                json!({"bounceRateDurationSeconds": ok.clone()})
            ),
            json!({"bounceRateDurationSeconds": ok})
        );
    }
    let attr = Some("modifiers__bounceRateDurationSeconds");
    for bad in [json!(-1), json!(0), json!(121), json!(999999999)] {
        assert_error(
            &fail("modifiers", json!({"bounceRateDurationSeconds": bad})),
            400,
            "invalid_input",
            "Must be between 1 and 120 seconds.",
            attr,
        );
    }
    for bad in [
        json!("not-a-number"),
        json!({"nested": "object"}),
        json!([1]),
    ] {
        assert_error(
            &fail("modifiers", json!({"bounceRateDurationSeconds": bad})),
            400,
            "invalid_input",
            "Must be a number.",
            attr,
        );
    }
    // Item 57 and the other pydantic checks.
    for bad in [
        json!({"unknownField": true}),
        json!({"usePresortedEventsTable": true}),
        json!({"debug": {"nested": "object"}}),
        json!({"debug": "maybe"}),
        json!({"personsOnEventsMode": "bogus"}),
        json!({"forceClickhouseDataSkippingIndexes": [1]}),
        json!({"customChannelTypeRules": [{"id": "x"}]}),
        json!({"customChannelTypeRules": [{"id": "t", "channel_type": "D", "combiner": "XOR", "items": []}]}),
        json!({"dataWarehouseEventsModifiers": [{"table_name": "t"}]}),
    ] {
        assert_error(
            &fail("modifiers", bad),
            400,
            "invalid_input",
            "Invalid modifier key.",
            Some("modifiers"),
        );
    }
    for ok in [
        json!({"debug": "yes", "timings": 0, "sessionTableVersion": "v3", "inCohortVia": null}),
        json!({"customChannelTypeRules": [{"id": "t", "channel_type": "Paid", "combiner": "OR",
               "items": [{"id": "c", "key": "utm_source", "op": "exact", "value": ["a", "b"]}]}]}),
        json!({"dataWarehouseEventsModifiers": [{"distinct_id_field": "d", "id_field": "i", "table_name": "t", "timestamp_field": "ts"}]}),
    ] {
        assert_eq!(set("modifiers", ok.clone()), ok);
    }
    assert_error(
        &fail("modifiers", json!([])),
        400,
        "invalid_input",
        "Must provide a dictionary or None.",
        Some("modifiers"),
    );
}

#[test]
fn exception_errors_to_ignore() {
    // Items 58-59: object-level errors, reported without an attr.
    let field = "autocapture_exceptions_errors_to_ignore";
    assert_eq!(set(field, json!(["wat am i"])), json!(["wat am i"]));
    for (raw, detail) in [
        (json!({"wat": "am i"}), "Must provide a list for field: autocapture_exceptions_errors_to_ignore."),
        (json!(null), "Must provide a list for field: autocapture_exceptions_errors_to_ignore."),
        (json!([1, false]), "Must provide a list of strings to field: autocapture_exceptions_errors_to_ignore."),
        (json!(["abc".repeat(300)]), "Field autocapture_exceptions_errors_to_ignore must be less than 300 characters. Complex config should be provided in posthog-js initialization."),
        // json.dumps escapes non-ASCII: 60 × "é" is 360 characters once encoded.
        (json!(["é".repeat(60)]), "Field autocapture_exceptions_errors_to_ignore must be less than 300 characters. Complex config should be provided in posthog-js initialization."),
    ] {
        assert_error(&fail(field, raw), 400, "invalid_input", detail, None);
    }
    // Exactly 300 encoded characters is fine: `["` + 296 + `"]`.
    assert!(patch(&defaults(), json!({field: ["a".repeat(296)]})).is_ok());
    // Field-level errors elsewhere win over this object-level one.
    let e = patch(&defaults(), json!({field: null, "timezone": "Nowhere"})).unwrap_err();
    assert_eq!(e.attr.as_deref(), Some("timezone"));
}

#[test]
fn url_lists() {
    // Item 62.
    for (field, raw, expected) in [
        (
            "app_urls",
            json!(["https://example.com", null, "https://test.com", null]),
            json!(["https://example.com", "https://test.com"]),
        ),
        ("app_urls", json!([null, null, null]), json!([])),
        (
            "app_urls",
            json!([" https://trimmed.com "]),
            json!(["https://trimmed.com"]),
        ),
        (
            "recording_domains",
            json!([null, "https://example.com", null, "https://test.com"]),
            json!(["https://example.com", "https://test.com"]),
        ),
        ("recording_domains", json!(null), json!(null)),
        ("recording_domains", json!([]), json!([])),
    ] {
        assert_eq!(set(field, raw), expected, "{field}");
    }
    // Item 63.
    let wildcards =
        "Each URL can include up to 5 wildcards. Remove the extra ones from this entry.";
    assert_error(
        &fail("app_urls", json!(["https://*.*.*.*.*.*.example.com"])),
        400,
        "invalid_input",
        wildcards,
        Some("app_urls"),
    );
    assert_eq!(
        set("app_urls", json!(["https://*.*.*.*.*.example.com"])),
        json!(["https://*.*.*.*.*.example.com"])
    );
    // Entry-level CharField errors carry the index; the list itself refuses null.
    assert_error(
        &fail("app_urls", json!(["ok", ""])),
        400,
        "blank",
        "This field may not be blank.",
        Some("app_urls__1"),
    );
    assert_error(
        &fail("app_urls", json!([true])),
        400,
        "invalid_input",
        "Not a valid string.",
        Some("app_urls__0"),
    );
    assert_error(
        &fail("app_urls", json!([format!("https://{}", "a".repeat(200))])),
        400,
        "max_length",
        "Ensure this field has no more than 200 characters.",
        Some("app_urls__0"),
    );
    assert_error(
        &fail("app_urls", json!(null)),
        400,
        "null",
        "This field may not be null.",
        Some("app_urls"),
    );
    assert_error(
        &fail("app_urls", json!("https://x.com")),
        400,
        "not_a_list",
        "Expected a list of items but got type \"str\".",
        Some("app_urls"),
    );
    assert_error(
        &fail("recording_domains", json!({"a": 1})),
        400,
        "not_a_list",
        "Expected a list of items but got type \"dict\".",
        Some("recording_domains"),
    );
}

#[test]
fn other_list_and_string_fields() {
    assert_eq!(
        set("person_display_name_properties", json!([" email ", 5])),
        json!(["email", "5"])
    );
    assert_error(
        &fail("person_display_name_properties", json!(["ok", null])),
        400,
        "null",
        "This field may not be null.",
        Some("person_display_name_properties__1"),
    );
    assert_error(
        &fail("person_display_name_properties", json!(["x".repeat(401)])),
        400,
        "max_length",
        "Ensure this field has no more than 400 characters.",
        Some("person_display_name_properties__0"),
    );
    assert_error(
        &fail("live_events_columns", json!([""])),
        400,
        "blank",
        "This field may not be blank.",
        Some("live_events_columns__0"),
    );
    assert_eq!(
        set(
            "session_recording_event_trigger_config",
            json!(["$pageview", "", null])
        ),
        json!(["$pageview", "", null])
    );
    assert_eq!(
        set(
            "session_recording_url_trigger_config",
            json!([{"url": "/x", "matching": "regex"}, null])
        ),
        json!([{"url": "/x", "matching": "regex"}, null])
    );
    assert_error(
        &fail("session_recording_url_blocklist_config", json!(3)),
        400,
        "not_a_list",
        "Expected a list of items but got type \"int\".",
        Some("session_recording_url_blocklist_config"),
    );
    assert_eq!(
        set("session_recording_trigger_match_type_config", json!("any")),
        json!("any")
    );
    assert_error(
        &fail(
            "session_recording_trigger_match_type_config",
            json!("x".repeat(25)),
        ),
        400,
        "max_length",
        "Ensure this field has no more than 24 characters.",
        Some("session_recording_trigger_match_type_config"),
    );
    assert_error(
        &fail("data_attributes", json!(null)),
        400,
        "null",
        "This field may not be null.",
        Some("data_attributes"),
    );
    assert_eq!(
        set("data_attributes", json!(["data-cy"])),
        json!(["data-cy"])
    );
}

#[test]
fn choices() {
    for (raw, expected) in [
        (json!(0), json!(0)),
        (json!(1), json!(1)),
        (json!("1"), json!(1)),
        (json!(null), json!(null)),
    ] {
        assert_eq!(set("week_start_day", raw), expected);
    }
    for (raw, shown) in [
        (json!(2), "2"),
        (json!(1.0), "1.0"),
        (json!(""), ""),
        (json!(true), "True"),
    ] {
        assert_error(
            &fail("week_start_day", raw),
            400,
            "invalid_choice",
            &format!("\"{shown}\" is not a valid choice."),
            Some("week_start_day"),
        );
    }
    for (raw, expected) in [
        (json!("b2b"), json!("b2b")),
        (json!(""), json!("")),
        (json!(null), json!(null)),
    ] {
        assert_eq!(set("business_model", raw), expected);
    }
    assert_error(
        &fail("business_model", json!("b2x")),
        400,
        "invalid_choice",
        "\"b2x\" is not a valid choice.",
        Some("business_model"),
    );
    // Self-hosted: every retention period is allowed.
    for period in ["30d", "90d", "1y", "5y"] {
        assert_eq!(
            set("session_recording_retention_period", json!(period)),
            json!(period)
        );
    }
    assert_error(
        &fail("session_recording_retention_period", json!("7d")),
        400,
        "invalid_choice",
        "\"7d\" is not a valid choice.",
        Some("session_recording_retention_period"),
    );
    assert_error(
        &fail("session_recording_retention_period", json!(null)),
        400,
        "null",
        "This field may not be null.",
        Some("session_recording_retention_period"),
    );
}

fn trigger_config() -> Value {
    json!({
        "version": 2,
        "groups": [{
            "id": "test-group-1", "name": "Test Group", "sampleRate": 0.5, "minDurationMs": 5000,
            "conditions": {"matchType": "any", "events": ["pageview", {"name": "purchase", "properties": [
                {"key": "amount", "type": "event", "operator": "gt", "value": 100}]}],
                "urls": [{"url": "/checkout.*", "matching": "regex"}], "flag": {"key": "variant-test", "variant": "control"},
                "properties": [{"key": "country", "type": "person", "operator": "exact", "value": "US"}]},
        }],
        "fallbackSampleRate": 1,
    })
}

#[test]
fn trigger_groups() {
    let field = "session_recording_trigger_groups";
    // Item 67.
    let mut config = trigger_config();
    assert_eq!(set(field, config.clone()), config);
    config["groups"][0]["sampleRate"] = json!(1.0);
    assert_eq!(
        set(field, config.clone())["groups"][0]["sampleRate"],
        json!(1.0)
    );
    assert_eq!(set(field, json!(null)), json!(null));
    // Item 66: (path to patch, new value, fragment of the lower-cased message).
    let group = |conditions: Value| json!({"version": 2, "groups": [{"id": "test", "sampleRate": 0.5, "conditions": conditions}]});
    let with = |key: &str, value: Value| {
        let mut g = group(json!({"matchType": "any"}));
        g["groups"][0][key] = value;
        g
    };
    let event_props = |p: Value| {
        group(json!({"matchType": "any", "events": [{"name": "purchase", "properties": [p]}]}))
    };
    for (raw, fragment) in [
        (json!({"groups": []}), "missing required field: 'version'."),
        (json!({"version": 1, "groups": []}), "invalid version: 1. only version 2 is supported."),
        (json!({"version": true, "groups": []}), "invalid version: true."),
        (json!({"version": 2}), "missing required field: 'groups'."),
        (json!({"version": 2, "groups": {}}), "field 'groups' must be an array."),
        (json!({"version": 2, "groups": [1]}), "group 0: must be a dictionary."),
        (json!({"version": 2, "groups": [{"id": "x", "conditions": {}}]}), "group 0: missing required field 'samplerate'."),
        (with("sampleRate", json!(1.5)), "group 0: invalid samplerate '1.5'. must be a number between 0 and 1."),
        (with("sampleRate", json!(-0.1)), "invalid samplerate '-0.1'"),
        (with("sampleRate", json!(true)), "invalid samplerate 'true'"),
        (with("minDurationMs", json!(-100)), "'mindurationms' must be between 0 and 30000 (30 seconds). got: -100."),
        (with("minDurationMs", json!(40000)), "got: 40000."),
        (with("minDurationMs", json!(true)), "'mindurationms' must be an integer, got bool."),
        (with("minDurationMs", json!(1.0)), "must be an integer, got float."),
        (with("conditions", json!([])), "field 'conditions' must be a dictionary."),
        (group(json!({"matchType": "invalid"})), "invalid matchtype 'invalid'. must be 'any' or 'all'."),
        (group(json!({"urls": [{"url": "[invalid(regex", "matching": "regex"}]})), "invalid regex pattern in url: '[invalid(regex'."),
        (group(json!({"urls": [{"url": 5, "matching": "regex"}]})), "invalid regex pattern in url: '5'."),
        (group(json!({"urls": [{"url": "/a"}]})), "url config must have 'url' and 'matching' fields."),
        (group(json!({"urls": [{"url": "/a", "matching": "exact"}]})), "url matching must be 'regex'. got: 'exact'."),
        (group(json!({"urls": "x"})), "field 'urls' must be an array."),
        (group(json!({"events": [{"properties": []}]})), "event 0 object must have a string 'name' field."),
        (group(json!({"events": [123]})), "event 0 must be a string or object with 'name'."),
        (group(json!({"events": "x"})), "field 'events' must be an array."),
        (event_props(json!({"key": "amount", "operator": "gt", "value": 100})), "group 0, event 'purchase': property 0 must have a 'type' field with value: event, person."),
        (event_props(json!({"key": "amount", "type": "hogql", "operator": "gt", "value": 100})), "'type' field"),
        (event_props(json!({"type": "event", "operator": "exact", "value": "foo"})), "must have a string 'key' field."),
        (event_props(json!({"key": "a", "type": "event", "operator": "banana", "value": 100})), "has invalid operator 'banana'. valid operators: exact, gt, icontains, is_not, lt, not_icontains, not_regex, regex."),
        (event_props(json!({"key": "a", "type": "event", "operator": "is_set"})), "invalid operator 'is_set'"),
        (event_props(json!({"key": "a", "type": "event", "operator": "exact"})), "property 0 must have a 'value' field."),
        (group(json!({"events": [{"name": "e", "properties": {}}]})), "'properties' must be an array."),
        (group(json!({"properties": [{"key": "country", "type": "person", "operator": "banana", "value": "US"}]})), "group 0: property 0 has invalid operator"),
        (group(json!({"flag": {"variant": "x"}})), "flag object must have 'key' field."),
        (group(json!({"flag": {"key": 1}})), "flag 'key' must be a string."),
        (group(json!({"flag": 1})), "'flag' must be a string (flag key), object (linkedfeatureflag), or null."),
        (json!({"version": 2, "groups": [], "fallbackSampleRate": 2}), "invalid fallbacksamplerate: 2. must be a number between 0 and 1."),
        (json!("x"), "must provide a dictionary or none."),
    ] {
        let e = fail(field, raw.clone());
        assert_eq!((e.code.as_ref(), e.attr.as_deref()), ("invalid_input", Some(field)), "{raw}");
        assert!(e.detail.to_lowercase().contains(fragment), "{raw}: {}", e.detail);
    }
}

#[test]
fn path_cleaning_filters() {
    let field = "path_cleaning_filters";
    let ok = json!([{"alias": "x", "regex": "/x/.*"}, {"alias": "/user/\\1", "regex": "/user/(\\d+)"}, "ignored", {"regex": "a{2,3}"}]);
    assert_eq!(set(field, ok.clone()), ok);
    for falsy in [json!(null), json!([]), json!({}), json!(""), json!(0)] {
        assert_eq!(set(field, falsy.clone()), falsy);
    }
    for (raw, detail) in [
        (json!({"regex": "x"}), "Must provide a list of path cleaning rules."),
        (json!([{"alias": "x"}]), "A path cleaning rule needs a regex. Remove the rule or give it one."),
        (json!([{"alias": "x", "regex": ""}]), "A path cleaning rule needs a regex. Remove the rule or give it one."),
        (json!([{"alias": "x", "regex": 5}]), "A path cleaning rule needs a regex. Remove the rule or give it one."),
        (json!([{"alias": "x", "regex": "(abc"}]), "Invalid path cleaning regex '(abc': missing ): (abc"),
        (json!([{"alias": "x", "regex": "a)"}]), "Invalid path cleaning regex 'a)': unexpected ): a)"),
        (json!([{"alias": "x", "regex": "[a-"}]), "Invalid path cleaning regex '[a-': missing ]: [a-"),
        (json!([{"alias": "x", "regex": "*a"}]), "Invalid path cleaning regex '*a': no argument for repetition operator: *"),
        (json!([{"alias": "x", "regex": "a**"}]), "Invalid path cleaning regex 'a**': bad repetition operator: **"),
        (json!([{"alias": "x", "regex": "(?=a)"}]), "Invalid path cleaning regex '(?=a)': invalid perl operator: (?="),
        (json!([{"alias": "x", "regex": "(a)\\1"}]), "Invalid path cleaning regex '(a)\\1': invalid escape sequence: \\1"),
        (json!([{"alias": "x", "regex": "a{1001}"}]), "Invalid path cleaning regex 'a{1001}': invalid repetition size: {1001}"),
        (json!([{"alias": "x", "regex": "[z-a]"}]), "Invalid path cleaning regex '[z-a]': invalid character class range: z-a"),
        (json!([{"alias": "/u/\\2", "regex": "/u/(\\d+)"}]), "The alias '/u/\\2' references capture group \\2, but its regex has 1 capture group(s). Add the group to the regex or fix the reference."),
    ] {
        assert_error(&fail(field, raw), 400, "invalid_input", detail, Some(field));
    }
    // `\\1` in an alias is a literal backslash, not a back-reference.
    assert!(patch(
        &defaults(),
        json!({field: [{"alias": "\\\\1", "regex": "x"}]})
    )
    .is_ok());
}

#[test]
fn regex_syntax() {
    for p in [
        "",
        "abc",
        "^/user/[0-9]+$",
        "(?i)abc",
        "(?P<id>\\d+)",
        "(?<id>\\d+)",
        "a{2}",
        "a{2,}",
        "a{,5}",
        "{",
        "a{",
        "x{1,2}?",
        "[]a]",
        "[^]a]",
        "[[:alpha:]_-]",
        "\\pL\\p{Greek}",
        "\\Qa.b\\E+",
        "a|",
        "()",
        "(a|b)*?",
        "\\x{41}\\x41\\101",
        "^*",
        "\\bword\\b",
        "a{1000}",
        "(a{10}){100}",
        "[\\d-z]",
        "[a-]",
    ] {
        assert!(
            check_regex(p, Flavor::Re2).is_ok(),
            "re2 {p}: {:?}",
            check_regex(p, Flavor::Re2)
        );
    }
    for p in [
        "(",
        ")",
        "[",
        "a**",
        "a*??",
        "+",
        "|*",
        "(*)",
        "\\",
        "\\q",
        "\\8",
        "\\Z",
        "(?=x)",
        "(?<!x)",
        "(?P=n)",
        "(?#c)",
        "a{2}{3}",
        "a{3,2}",
        "(a{100}){11}",
        "[[:nope:]]",
        "\\p{",
        "(?P<>x)",
        "(?P<a>x)(?P<a>y)",
        "[a-\\d]",
        "(?z)",
    ] {
        assert!(
            check_regex(p, Flavor::Re2).is_err(),
            "re2 should refuse {p}"
        );
    }
    assert_eq!(check_regex("(a)(?:b)(?P<c>d)", Flavor::Re2), Ok(2));
    for p in [
        "/checkout.*",
        "(?=a)b",
        "(?<=a)b",
        "(a)\\1",
        "(?P<x>a)(?P=x)",
        "(?i)abc",
        "a{,}",
        "{",
        "a*+",
        "\\Z",
        "[\\b]",
        "(?#c)x",
        "\\_",
    ] {
        assert!(
            check_regex(p, Flavor::Python).is_ok(),
            "py {p}: {:?}",
            check_regex(p, Flavor::Python)
        );
    }
    for p in [
        "[invalid(regex",
        "^*",
        "\\b+",
        "\\1",
        "(a\\1)",
        "a(?i)",
        "\\q",
        "\\p{L}",
        "(?<n>a)",
        "a**",
        "(",
        "a{2,1}",
        "[\\d-z]",
    ] {
        assert!(
            check_regex(p, Flavor::Python).is_err(),
            "py should refuse {p}"
        );
    }
}

#[test]
fn logs_settings_retention() {
    let field = "logs_settings";
    // Item 68.
    for days in [7, 15, 20, 45, 90, 100] {
        assert_error(
            &fail(field, json!({"retention_days": days})),
            400,
            "invalid_input",
            "retention_days must be one of [14, 30]",
            Some(field),
        );
    }
    assert_error(
        &fail(field, json!({"retention_days": "30"})),
        400,
        "invalid_input",
        "retention_days must be one of [14, 30]",
        Some(field),
    );
    assert_error(
        &fail(field, json!([1])),
        400,
        "invalid_input",
        "Must provide a dictionary or None.",
        Some(field),
    );
    // Items 69-70: 30 days is allowed (self-hosted is entitled); the first value is not
    // stamped, a change is, and a second change within 24 hours is refused.
    let step = |doc: &Map<String, Value>, days: i64, when: &str| {
        apply(
            doc,
            &obj(json!({field: {"retention_days": days}})),
            at(when),
            None,
        )
    };
    let doc = step(&defaults(), 30, "2025-01-01T00:00:00Z").unwrap();
    assert_eq!(doc[field], json!({"retention_days": 30}));
    let doc = step(&doc, 14, "2025-01-01T00:00:00Z").unwrap();
    assert_eq!(
        doc[field],
        json!({"retention_days": 14, "retention_last_updated": "2025-01-01T00:00:00+00:00"})
    );
    assert_error(
        &step(&doc, 30, "2025-01-01T12:00:00Z").unwrap_err(),
        400,
        "invalid_input",
        "You can only update retention settings once per 24 hours. Please wait 12 more hour(s).",
        Some(field),
    );
    // The same retention (and other keys) may change any time; the stamp is not carried over.
    let same = apply(
        &doc,
        &obj(json!({field: {"retention_days": 14, "json_parse_logs": true}})),
        at("2025-01-01T12:00:00Z"),
        None,
    )
    .unwrap();
    assert_eq!(
        same[field],
        json!({"retention_days": 14, "json_parse_logs": true})
    );
    let later = step(&doc, 30, "2025-01-02T00:00:01.5Z").unwrap();
    assert_eq!(
        later[field]["retention_last_updated"],
        json!("2025-01-02T00:00:01.500000+00:00")
    );
    assert_eq!(set(field, json!(null)), json!(null));
    assert_eq!(
        set(field, json!({"json_parse_logs": true})),
        json!({"json_parse_logs": true})
    );
}

#[test]
fn conversations_token_follows_enabled() {
    // Item 71.
    let mut current = defaults();
    current.insert("conversations_enabled".into(), json!(false));
    let doc = patch(&current, json!({"conversations_enabled": true})).unwrap();
    let token = doc["conversations_settings"]["widget_public_token"]
        .as_str()
        .expect("token")
        .to_string();
    assert_eq!(token.len(), 43);
    assert!(token
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    // Re-sending true, or PATCHing other keys, keeps it.
    let again = patch(
        &doc,
        json!({"conversations_enabled": true, "conversations_settings": {"widget_color": "#fff"}}),
    )
    .unwrap();
    assert_eq!(
        again["conversations_settings"],
        json!({"widget_public_token": token, "widget_color": "#fff"})
    );
    // Item 72.
    current.insert(
        "conversations_settings".into(),
        json!({"widget_public_token": "existing_token_123"}),
    );
    let doc = patch(&current, json!({"conversations_enabled": true})).unwrap();
    assert_eq!(
        doc["conversations_settings"]["widget_public_token"],
        json!("existing_token_123")
    );
    let mut on = defaults();
    on.insert("conversations_enabled".into(), json!(true));
    on.insert(
        "conversations_settings".into(),
        json!({"widget_public_token": "some_token", "widget_color": "#123456"}),
    );
    let doc = patch(&on, json!({"conversations_enabled": false})).unwrap();
    assert_eq!(
        doc["conversations_settings"],
        json!({"widget_public_token": null, "widget_color": "#123456"})
    );
    assert_eq!(doc["conversations_enabled"], json!(false));
    // Enabling together with new settings keeps the sent keys.
    let doc = patch(
        &defaults(),
        json!({"conversations_enabled": true, "conversations_settings": {"widget_color": "#abc"}}),
    )
    .unwrap();
    assert_eq!(doc["conversations_settings"]["widget_color"], json!("#abc"));
    assert_eq!(
        doc["conversations_settings"]["widget_public_token"]
            .as_str()
            .map(str::len),
        Some(43)
    );
}

#[test]
fn conversations_settings_rules() {
    let field = "conversations_settings";
    // Item 73.
    let doc = patch(
        &defaults(),
        json!({field: {"widget_greeting_text": "Hello!"}}),
    )
    .unwrap();
    let doc = patch(&doc, json!({field: {"widget_color": "#ff0000"}})).unwrap();
    assert_eq!(
        doc[field],
        json!({"widget_greeting_text": "Hello!", "widget_color": "#ff0000"})
    );
    assert_eq!(
        patch(&doc, json!({field: null})).unwrap()[field],
        json!(null)
    );
    // Managed keys are dropped; lists and strings are normalised.
    let mut channel_ids: Vec<Value> = (0..60).map(|i| json!(format!("C{i}"))).collect();
    channel_ids.insert(1, json!("C0"));
    channel_ids.insert(2, json!(""));
    channel_ids.insert(3, json!(7));
    let sent = json!({
        "widget_public_token": "forged", "slack_bot_token": "xoxb", "teams_channels": [], "email_enabled": true,
        "widget_domains": ["https://example.com", null, "", "https://test.com"],
        "slack_channel_ids": channel_ids, "slack_bot_icon_url": "  https://cdn/x.png ", "slack_bot_display_name": "  ",
        "slack_nudge_enabled": "", "slack_notify_on_join": 1, "slack_alert_channel_id": " C9 ",
        "ai_resolution_channels": ["widget", "email"],
        "ai_reply_modes": {"slack": {"how_to": "bot_reply", "diagnostic": "bot_reply", "bogus": "bot_reply"}, "fax": {"how_to": "bot_reply"}, "email": {"how_to": "shout"}},
    });
    let got = set(field, sent);
    let expected_ids: Vec<Value> = (0..50).map(|i| json!(format!("C{i}"))).collect();
    assert_eq!(
        got,
        json!({
            "widget_domains": ["https://example.com", "https://test.com"],
            "slack_channel_ids": expected_ids, "slack_bot_icon_url": "https://cdn/x.png", "slack_bot_display_name": null,
            "slack_nudge_enabled": false, "slack_notify_on_join": true, "slack_alert_channel_id": "C9",
            "ai_resolution_channels": ["widget", "email"],
            "ai_reply_modes": {"slack": {"how_to": "bot_reply", "diagnostic": "private_note"}},
        })
    );
    assert_eq!(set(field, json!({"slack_channel_ids": "C1"})), json!({}));
    let wildcards =
        "Each URL can include up to 5 wildcards. Remove the extra ones from this entry.";
    for (raw, detail, attr) in [
        (
            json!({"widget_domains": ["https://*.*.*.*.*.*.example.com"]}),
            wildcards,
            "conversations_settings",
        ),
        (
            json!({"widget_domains": [123]}),
            "Each URL must be a string.",
            "conversations_settings",
        ),
        (
            json!({"widget_domains": "https://x.com"}),
            "Each URL must be a string.",
            "conversations_settings",
        ),
        (
            json!({"slack_bot_icon_url": "http://x"}),
            "Must be an HTTPS URL.",
            "conversations_settings__slack_bot_icon_url",
        ),
        (
            json!({"slack_bot_icon_url": 5}),
            "Must be a string.",
            "conversations_settings__slack_bot_icon_url",
        ),
        (
            json!({"slack_bot_display_name": "a\u{7}b"}),
            "Must be 200 characters or fewer with no control characters.",
            "conversations_settings__slack_bot_display_name",
        ),
        (
            json!({"slack_bot_display_name": "x".repeat(201)}),
            "Must be 200 characters or fewer with no control characters.",
            "conversations_settings__slack_bot_display_name",
        ),
        (
            json!({"slack_alert_channel_id": []}),
            "Must be a string.",
            "conversations_settings__slack_alert_channel_id",
        ),
        (
            json!({"ai_resolution_channels": ["widget", "fax", 1]}),
            "Invalid channel(s): fax, 1. Valid options: email, github, slack, teams, widget.",
            "conversations_settings__ai_resolution_channels",
        ),
        (
            json!({"ai_resolution_channels": "widget"}),
            "Must be a list of channel names or null.",
            "conversations_settings__ai_resolution_channels",
        ),
        (
            json!({"ai_reply_modes": []}),
            "Must be an object or null.",
            "conversations_settings__ai_reply_modes",
        ),
        (
            json!("x"),
            "Must provide a dictionary or None.",
            "conversations_settings",
        ),
    ] {
        assert_error(&fail(field, raw), 400, "invalid_input", detail, Some(attr));
    }
}

#[test]
fn proactive_tasks_are_never_authorised() {
    // Item 74 (self-hosted is never the authorised team).
    let e = fail("proactive_tasks_enabled", json!(true));
    assert_eq!(
        e.body(),
        json!({"type": "authentication_error", "code": "permission_denied", "detail": "Proactive tasks can only be enabled for authorized teams.", "attr": null})
    );
    assert_eq!(e.status.as_u16(), 403);
    assert_eq!(
        fail("proactive_tasks_enabled", json!("true"))
            .status
            .as_u16(),
        403
    );
    assert_eq!(set("proactive_tasks_enabled", json!(false)), json!(false));
    assert_eq!(set("proactive_tasks_enabled", json!(null)), json!(null));
    // DRF lets the 403 through ahead of 400s collected from earlier fields.
    let e = patch(
        &defaults(),
        json!({"timezone": "Nowhere", "proactive_tasks_enabled": true}),
    )
    .unwrap_err();
    assert_eq!(e.status.as_u16(), 403);
}

#[test]
fn first_error_in_settings_order() {
    let e = patch(
        &defaults(),
        json!({"session_recording_sample_rate": "x", "timezone": "Nowhere", "app_urls": 1}),
    )
    .unwrap_err();
    assert_eq!(e.attr.as_deref(), Some("app_urls"));
    let e = patch(
        &defaults(),
        json!({"session_recording_sample_rate": "x", "timezone": "Nowhere"}),
    )
    .unwrap_err();
    assert_eq!(e.attr.as_deref(), Some("timezone"));
}

#[test]
fn python_float_rendering() {
    for (f, expected) in [
        (0.4, "0.4"),
        (1.0, "1.0"),
        (100.0, "100.0"),
        (1e-5, "1e-05"),
        (0.0001, "0.0001"),
        (1e16, "1e+16"),
        (1.5e300, "1.5e+300"),
        (-2.5, "-2.5"),
        (123456789012345.0, "123456789012345.0"),
    ] {
        assert_eq!(py_float_repr(f), expected);
    }
}

#[test]
fn odd_input_never_panics() {
    let mut deep = json!("bottom");
    for _ in 0..200 {
        deep = json!({"a": [deep]});
    }
    let odd = [
        json!(null),
        json!(true),
        json!(-0.0),
        json!(1e308),
        json!(-1e308),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(""),
        json!("\u{0}"),
        json!("🦔".repeat(50)),
        json!("\u{202e}"),
        json!([]),
        json!({}),
        json!([null, [], {}]),
        json!({"version": 2, "groups": [{"id": 1, "sampleRate": 1e308, "conditions": {"urls": [{"url": "(((((", "matching": "regex"}]}}]}),
        json!([{"regex": "((((((((((a{999}){999}", "alias": "\\9\\"}, {"regex": "\\p{"}, {"regex": "[[:"}]),
        json!({"retention_days": 30, "retention_last_updated": 5}),
        deep,
    ];
    let mut stored = defaults();
    stored.insert(
        "logs_settings".into(),
        json!({"retention_days": 14, "retention_last_updated": "garbage"}),
    );
    stored.insert(
        "conversations_settings".into(),
        json!(["not", "an", "object"]),
    );
    stored.insert("session_replay_config".into(), json!("odd"));
    for setting in SETTINGS {
        for value in &odd {
            for current in [&defaults(), &stored] {
                let _ = apply(current, &obj(json!({setting.name: value})), now(), None);
            }
        }
    }
    for value in &odd {
        let own = json!({"name": value, "product_description": value, "is_demo": value});
        let _ = crate::projects::payload::PROJECT.check_object(&obj(own), false, "");
        let _ = parse_bool(value, "is_demo");
    }
    // Hostile sizes stay linear (each would take minutes if any scan were quadratic).
    for unit in [
        "[a]",
        "(?:)",
        "[:",
        "(?P<n",
        "\\Q",
        "{9",
        "(a)|",
        "[[:alpha:]]",
    ] {
        let pattern = unit.repeat(60_000);
        let _ = check_regex(&pattern, Flavor::Re2);
        let _ = check_regex(&pattern, Flavor::Python);
    }
    let ids: Vec<Value> = (0..100_000).map(|i| json!(format!("C{i}"))).collect();
    let doc = patch(
        &defaults(),
        json!({"conversations_settings": {"slack_channel_ids": ids}}),
    );
    assert_eq!(
        doc.unwrap()["conversations_settings"]["slack_channel_ids"]
            .as_array()
            .map(Vec::len),
        Some(50)
    );
    let weird: String = (0u32..0x300).filter_map(char::from_u32).collect();
    for flavor in [Flavor::Re2, Flavor::Python] {
        for i in 0..weird.len().min(400) {
            let _ = check_regex(weird.get(i..).unwrap_or(""), flavor);
        }
        for p in [
            "(?",
            "(?P",
            "(?P<",
            "(?<",
            "[:",
            "\\x{",
            "\\x{110000}",
            "a{99999999999999999999}",
            "(?-)",
            "(?i-",
            "\\N{",
            "\\u12",
        ] {
            let _ = check_regex(p, flavor);
        }
    }
}
