//! Projects: PATCH of individual settings, against PostHog's validators
//! (code, detail, attr) and its merge rules. The who-may-change-what and
//! logging tests are in `projects_update.rs`.

use axum::http::StatusCode;
use serde_json::{json, Value};

use crate::projects::{activity, detail, patch};
use crate::projects_update::{accepts, rejects, world};

#[tokio::test]
async fn patch_with_invalid_timezone_is_400() {
    let (w, id) = world().await;
    rejects(
        &w,
        id,
        json!({"timezone": "America/I_Dont_Exist"}),
        "invalid_choice",
        "\"America/I_Dont_Exist\" is not a valid choice.",
        json!("timezone"),
    )
    .await;
    assert_eq!(detail(&w, id).await["timezone"], "UTC");
    // pytz's legacy aliases are valid choices.
    for tz in ["US/Pacific", "EST", "Etc/GMT+5"] {
        assert_eq!(
            accepts(&w, id, json!({ "timezone": tz })).await["timezone"],
            tz
        );
    }
}

#[tokio::test]
async fn test_account_filters_default_checked_accepts_string_true() {
    let (w, id) = world().await;
    let body = accepts(
        &w,
        id,
        json!({"test_account_filters_default_checked": "true"}),
    )
    .await;
    assert_eq!(body["test_account_filters_default_checked"], true);
}

#[tokio::test]
async fn test_account_filters_accept_valid_property_filters() {
    let (w, id) = world().await;
    let filters = json!([{"key": "$current_url", "value": "test"}]);
    let body = accepts(&w, id, json!({"test_account_filters": filters})).await;
    assert_eq!(body["test_account_filters"], filters);
    let is_set = json!([{"key": "email", "type": "person", "operator": "is_set"}]);
    let body = accepts(&w, id, json!({"test_account_filters": is_set})).await;
    assert_eq!(body["test_account_filters"], is_set);
}

#[tokio::test]
async fn test_account_filters_reject_invalid_filters() {
    let (w, id) = world().await;
    let bad = [
        json!([{"value": "x", "type": "event", "operator": "exact"}]),
        json!([{"key": "$host", "type": "nonsense", "operator": "exact", "value": "x"}]),
        json!([{"key": "$host", "type": "event", "operator": "banana", "value": "x"}]),
        json!([{"key": "id", "type": "cohort", "operator": "in", "value": "not-an-id"}]),
    ];
    for filters in bad {
        let r = patch(&w, &w.admin, id, json!({"test_account_filters": filters})).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{filters}");
        assert_eq!(r.body["attr"], "test_account_filters", "{filters}");
        let detail = r.body["detail"].as_str().unwrap_or_default();
        assert!(
            detail.starts_with("Must provide an array of valid property filters."),
            "{detail}"
        );
    }
}

#[tokio::test]
async fn primary_dashboard_stores_the_integer_sent() {
    let (w, id) = world().await;
    assert_eq!(
        accepts(&w, id, json!({"primary_dashboard": 17})).await["primary_dashboard"],
        17
    );
    let log = activity(&w, id).await;
    assert_eq!(
        log["results"][0]["detail"]["changes"],
        json!([{"type": "Team", "action": "created", "field": "primary_dashboard_id", "before": null, "after": 17}])
    );
    assert_eq!(
        accepts(&w, id, json!({"primary_dashboard": null})).await["primary_dashboard"],
        Value::Null
    );
}

#[tokio::test]
async fn sample_rate_is_stored_as_decimal_string_and_logged_trimmed() {
    let (w, id) = world().await;
    let body = accepts(&w, id, json!({"session_recording_sample_rate": 0.4})).await;
    assert_eq!(body["session_recording_sample_rate"], "0.40");
    let log = activity(&w, id).await;
    assert_eq!(
        log["results"][0]["detail"]["changes"],
        json!([{"type": "Team", "action": "created", "field": "session_recording_sample_rate", "before": null, "after": "0.4"}])
    );
}

#[tokio::test]
async fn invalid_sample_rates_are_400() {
    let (w, id) = world().await;
    let attr = json!("session_recording_sample_rate");
    let cases = [
        (
            "Welwyn Garden City",
            "invalid_input",
            "A valid number is required.",
        ),
        (
            "-1",
            "min_value",
            "Ensure this value is greater than or equal to 0.",
        ),
        (
            "1.5",
            "max_value",
            "Ensure this value is less than or equal to 1.",
        ),
        (
            "0.534",
            "max_decimal_places",
            "Ensure that there are no more than 2 decimal places.",
        ),
    ];
    for (value, code, message) in cases {
        let body = json!({"session_recording_sample_rate": value});
        rejects(&w, id, body, code, message, attr.clone()).await;
    }
}

#[tokio::test]
async fn invalid_minimum_durations_are_400() {
    let (w, id) = world().await;
    let attr = json!("session_recording_minimum_duration_milliseconds");
    let cases = [
        (
            "Trentham monkey forest",
            "invalid_input",
            "A valid integer is required.",
        ),
        (
            "-1",
            "min_value",
            "Ensure this value is greater than or equal to 0.",
        ),
        (
            "30001",
            "max_value",
            "Ensure this value is less than or equal to 30000.",
        ),
        ("0.5", "invalid_input", "A valid integer is required."),
    ];
    for (value, code, message) in cases {
        let body = json!({"session_recording_minimum_duration_milliseconds": value});
        rejects(&w, id, body, code, message, attr.clone()).await;
    }
}

#[tokio::test]
async fn invalid_linked_flags_are_400() {
    let (w, id) = world().await;
    let attr = json!("session_recording_linked_flag");
    for value in [json!("Marple bridge"), json!("-1"), json!(1), json!("1")] {
        let body = json!({"session_recording_linked_flag": value});
        rejects(
            &w,
            id,
            body,
            "invalid_input",
            "Must provide a dictionary or None.",
            attr.clone(),
        )
        .await;
    }
    let keys = "Must provide a dictionary with only 'id' and 'key' keys. _or_ only 'id', 'key', and 'variant' keys.";
    for value in [
        json!({"key": "k"}),
        json!({"id": 1}),
        json!({"variant": "1"}),
        json!({"wat": "wat"}),
    ] {
        let body = json!({"session_recording_linked_flag": value});
        rejects(&w, id, body, "invalid_input", keys, attr.clone()).await;
    }
    for value in [
        json!({"id": 12.5, "key": "k"}),
        json!({"id": true, "key": "k"}),
    ] {
        let body = json!({"session_recording_linked_flag": value});
        rejects(
            &w,
            id,
            body,
            "invalid_input",
            "Must provide an integer 'id'.",
            attr.clone(),
        )
        .await;
    }
}

#[tokio::test]
async fn linked_flag_can_be_set_normalised_and_unset() {
    let (w, id) = world().await;
    for flag in [
        json!({"id": 1, "key": "provided_value"}),
        json!({"id": 1, "key": "provided_value", "variant": "test"}),
    ] {
        accepts(&w, id, json!({"session_recording_linked_flag": flag})).await;
        assert_eq!(detail(&w, id).await["session_recording_linked_flag"], flag);
    }
    let body = accepts(
        &w,
        id,
        json!({"session_recording_linked_flag": {"id": "123", "key": "flag-key"}}),
    )
    .await;
    assert_eq!(
        body["session_recording_linked_flag"],
        json!({"id": 123, "key": "flag-key"})
    );
    let body = accepts(&w, id, json!({"session_recording_linked_flag": null})).await;
    assert_eq!(body["session_recording_linked_flag"], Value::Null);
}

#[tokio::test]
async fn network_payload_capture_config_replaces_and_clears() {
    let (w, id) = world().await;
    rejects(
        &w,
        id,
        json!({"session_recording_network_payload_capture_config": {"key": "something"}}),
        "invalid_input",
        "Must provide a dictionary with only 'recordHeaders' and/or 'recordBody' keys.",
        json!("session_recording_network_payload_capture_config"),
    )
    .await;
    let field = "session_recording_network_payload_capture_config";
    accepts(&w, id, json!({ field: {"recordHeaders": true} })).await;
    accepts(&w, id, json!({ field: {"recordBody": false} })).await;
    assert_eq!(detail(&w, id).await[field], json!({"recordBody": false}));
    accepts(&w, id, json!({ field: null })).await;
    assert_eq!(detail(&w, id).await[field], Value::Null);
}

#[tokio::test]
async fn session_replay_config_merges_one_level_deep() {
    let (w, id) = world().await;
    let field = "session_replay_config";
    accepts(&w, id, json!({ field: {"record_canvas": true} })).await;
    assert_eq!(detail(&w, id).await[field], json!({"record_canvas": true}));
    accepts(&w, id, json!({ field: null })).await;
    assert_eq!(detail(&w, id).await[field], Value::Null);
    accepts(&w, id, json!({ field: {"ai_config": {"opt_in": true}} })).await;
    accepts(&w, id, json!({ field: {"record_canvas": true} })).await;
    assert_eq!(
        detail(&w, id).await[field],
        json!({"ai_config": {"opt_in": true}, "record_canvas": true})
    );
    accepts(
        &w,
        id,
        json!({ field: {"ai_config": {"included_event_properties": ["something"], "preferred_events": {"a": 1}}} }),
    )
    .await;
    accepts(
        &w,
        id,
        json!({ field: {"ai_config": {"preferred_events": {"b": 2}}} }),
    )
    .await;
    assert_eq!(
        detail(&w, id).await[field],
        json!({"ai_config": {"opt_in": true, "included_event_properties": ["something"], "preferred_events": {"b": 2}}, "record_canvas": true})
    );
}

#[tokio::test]
async fn invalid_session_replay_ai_config_is_400() {
    let (w, id) = world().await;
    rejects(
        &w,
        id,
        json!({"session_replay_config": {"ai_config": {"key": "something"}}}),
        "invalid_input",
        "Must provide a dictionary with only allowed keys: included_event_properties, opt_in, preferred_events, excluded_events, important_user_properties.",
        json!("session_replay_config"),
    )
    .await;
}

#[tokio::test]
async fn survey_config_merges_shallowly_and_null_clears() {
    let (w, id) = world().await;
    accepts(
        &w,
        id,
        json!({"survey_config": {"appearance": {"backgroundColor": "#fff"}}}),
    )
    .await;
    accepts(
        &w,
        id,
        json!({"survey_config": {"appearance": {"textColor": "#000"}}}),
    )
    .await;
    accepts(&w, id, json!({"survey_config": {"enabled": true}})).await;
    assert_eq!(
        detail(&w, id).await["survey_config"],
        json!({"appearance": {"textColor": "#000"}, "enabled": true})
    );
    accepts(&w, id, json!({"survey_config": null})).await;
    assert_eq!(detail(&w, id).await["survey_config"], Value::Null);
}

#[tokio::test]
async fn modifiers_are_merged_on_patch() {
    let (w, id) = world().await;
    accepts(
        &w,
        id,
        json!({"modifiers": {"personsOnEventsMode": "person_id_no_override_properties_on_events"}}),
    )
    .await;
    let rules = json!([{"items": [], "channel_type": "Custom", "combiner": "AND", "id": "a"}]);
    accepts(
        &w,
        id,
        json!({"modifiers": {"customChannelTypeRules": rules}}),
    )
    .await;
    let got = detail(&w, id).await;
    assert_eq!(
        got["modifiers"]["personsOnEventsMode"],
        "person_id_no_override_properties_on_events"
    );
    assert_eq!(got["modifiers"]["customChannelTypeRules"], rules);
    assert_eq!(got["person_on_events_querying_enabled"], true);
    accepts(
        &w,
        id,
        json!({"modifiers": {"personsOnEventsMode": "person_id_override_properties_joined"}}),
    )
    .await;
    let got = detail(&w, id).await;
    assert_eq!(got["modifiers"]["customChannelTypeRules"], rules);
    assert_eq!(got["person_on_events_querying_enabled"], false);
}

#[tokio::test]
async fn modifiers_bounce_rate_duration_is_checked() {
    let (w, id) = world().await;
    for ok in [json!(1), json!(60), json!(120), json!(1.5), Value::Null] {
        accepts(
            &w,
            id,
            json!({"modifiers": {"bounceRateDurationSeconds": ok}}),
        )
        .await;
    }
    let attr = json!("modifiers__bounceRateDurationSeconds");
    for bad in [json!(-1), json!(0), json!(121), json!(999999999)] {
        let body = json!({"modifiers": {"bounceRateDurationSeconds": bad}});
        rejects(
            &w,
            id,
            body,
            "invalid_input",
            "Must be between 1 and 120 seconds.",
            attr.clone(),
        )
        .await;
    }
    for bad in [json!("not-a-number"), json!({"nested": "object"})] {
        let body = json!({"modifiers": {"bounceRateDurationSeconds": bad}});
        rejects(
            &w,
            id,
            body,
            "invalid_input",
            "Must be a number.",
            attr.clone(),
        )
        .await;
    }
}

#[tokio::test]
async fn modifiers_reject_unknown_keys() {
    let (w, id) = world().await;
    rejects(
        &w,
        id,
        json!({"modifiers": {"unknownField": true}}),
        "invalid_input",
        "Invalid modifier key.",
        json!("modifiers"),
    )
    .await;
}

#[tokio::test]
async fn exception_autocapture_errors_to_ignore_must_be_a_short_string_list() {
    let (w, id) = world().await;
    let field = "autocapture_exceptions_errors_to_ignore";
    let cases = [
        (json!({"wat": "am i"}), "Must provide a list for field: autocapture_exceptions_errors_to_ignore."),
        (json!([1, false]), "Must provide a list of strings to field: autocapture_exceptions_errors_to_ignore."),
        (
            json!(["abc".repeat(300)]),
            "Field autocapture_exceptions_errors_to_ignore must be less than 300 characters. Complex config should be provided in posthog-js initialization.",
        ),
    ];
    for (value, message) in cases {
        rejects(
            &w,
            id,
            json!({ field: value }),
            "invalid_input",
            message,
            Value::Null,
        )
        .await;
    }
    assert_eq!(
        accepts(&w, id, json!({ field: ["wat am i"] })).await[field],
        json!(["wat am i"])
    );
}

#[tokio::test]
async fn exception_autocapture_opt_in_must_be_a_boolean() {
    let (w, id) = world().await;
    rejects(
        &w,
        id,
        json!({"autocapture_exceptions_opt_in": "Welwyn Garden City"}),
        "invalid_input",
        "Must be a valid boolean.",
        json!("autocapture_exceptions_opt_in"),
    )
    .await;
    let body = accepts(&w, id, json!({"autocapture_exceptions_opt_in": true})).await;
    assert_eq!(body["autocapture_exceptions_opt_in"], true);
}

#[tokio::test]
async fn url_lists_drop_null_entries() {
    let (w, id) = world().await;
    for field in ["app_urls", "recording_domains"] {
        let body = accepts(
            &w,
            id,
            json!({ field: ["https://example.com", null, "https://test.com", null] }),
        )
        .await;
        assert_eq!(
            body[field],
            json!(["https://example.com", "https://test.com"]),
            "{field}"
        );
        let body = accepts(&w, id, json!({ field: [null, null, null] })).await;
        assert_eq!(body[field], json!([]), "{field}");
    }
    let body = accepts(&w, id, json!({"recording_domains": null})).await;
    assert_eq!(body["recording_domains"], Value::Null);
}

#[tokio::test]
async fn app_url_with_too_many_wildcards_is_400() {
    let (w, id) = world().await;
    rejects(
        &w,
        id,
        json!({"app_urls": ["https://*.*.*.*.*.*.example.com"]}),
        "invalid_input",
        "Each URL can include up to 5 wildcards. Remove the extra ones from this entry.",
        json!("app_urls"),
    )
    .await;
    accepts(
        &w,
        id,
        json!({"app_urls": ["https://*.*.*.*.*.example.com"]}),
    )
    .await;
}

#[tokio::test]
async fn session_recording_trigger_groups_are_validated() {
    let (w, id) = world().await;
    let group =
        |g: Value| json!({"session_recording_trigger_groups": {"version": 2, "groups": [g]}});
    let base = json!({"id": "g1", "sampleRate": 0.5, "conditions": {"matchType": "any"}});
    let with = |k: &str, v: Value| {
        let mut g = base.clone();
        g[k] = v;
        group(g)
    };
    let cond = |k: &str, v: Value| {
        let mut g = base.clone();
        g["conditions"][k] = v;
        group(g)
    };
    let cases = [
        (
            json!({"session_recording_trigger_groups": {"groups": []}}),
            "Missing required field: 'version'.",
        ),
        (
            json!({"session_recording_trigger_groups": {"version": 1, "groups": []}}),
            "Invalid version: 1. Only version 2 is supported.",
        ),
        (
            json!({"session_recording_trigger_groups": {"version": 2}}),
            "Missing required field: 'groups'.",
        ),
        (
            with("sampleRate", json!(1.5)),
            "Group 0: invalid sampleRate '1.5'. Must be a number between 0 and 1.",
        ),
        (
            with("minDurationMs", json!(40000)),
            "Group 0: 'minDurationMs' must be between 0 and 30000 (30 seconds). Got: 40000.",
        ),
        (
            with("minDurationMs", json!(true)),
            "Group 0: 'minDurationMs' must be an integer, got bool.",
        ),
        (
            cond("matchType", json!("invalid")),
            "Group 0: invalid matchType 'invalid'. Must be 'any' or 'all'.",
        ),
        (
            cond("urls", json!([{"url": "(", "matching": "regex"}])),
            "Group 0: invalid regex pattern in URL: '('.",
        ),
        (
            cond("events", json!([123])),
            "Group 0: event 0 must be a string or object with 'name'.",
        ),
        (
            cond("events", json!([{"properties": []}])),
            "Group 0: event 0 object must have a string 'name' field.",
        ),
    ];
    for (body, message) in cases {
        rejects(
            &w,
            id,
            body,
            "invalid_input",
            message,
            json!("session_recording_trigger_groups"),
        )
        .await;
    }
    let valid = json!({"version": 2, "groups": [base]});
    let body = accepts(&w, id, json!({"session_recording_trigger_groups": valid})).await;
    assert_eq!(body["session_recording_trigger_groups"], valid);
    let body = accepts(&w, id, json!({"session_recording_trigger_groups": null})).await;
    assert_eq!(body["session_recording_trigger_groups"], Value::Null);
}

#[tokio::test]
async fn logs_retention_days_must_be_14_or_30() {
    let (w, id) = world().await;
    for days in [7, 15, 20, 45, 90, 100] {
        rejects(
            &w,
            id,
            json!({"logs_settings": {"retention_days": days}}),
            "invalid_input",
            "retention_days must be one of [14, 30]",
            json!("logs_settings"),
        )
        .await;
    }
}

/// Self-hosted prickle is entitled to 30-day logs retention; PostHog's
/// once-per-24-hours rule applies once a retention is stored.
#[tokio::test]
async fn logs_retention_changes_at_most_once_a_day() {
    let (w, id) = world().await;
    let body = accepts(&w, id, json!({"logs_settings": {"retention_days": 30}})).await;
    assert_eq!(body["logs_settings"]["retention_days"], 30);
    // The first change of a stored retention is stamped...
    let body = accepts(&w, id, json!({"logs_settings": {"retention_days": 14}})).await;
    assert_eq!(body["logs_settings"]["retention_days"], 14);
    assert!(body["logs_settings"]["retention_last_updated"].is_string());
    // ...and the next one within 24 hours refused; repeating the same value is not a change.
    rejects(
        &w,
        id,
        json!({"logs_settings": {"retention_days": 30}}),
        "invalid_input",
        "You can only update retention settings once per 24 hours. Please wait 23 more hour(s).",
        json!("logs_settings"),
    )
    .await;
    accepts(&w, id, json!({"logs_settings": {"retention_days": 14}})).await;
    assert_eq!(detail(&w, id).await["logs_settings"]["retention_days"], 14);
}

#[tokio::test]
async fn enabling_conversations_generates_a_widget_token_and_disabling_clears_it() {
    let (w, id) = world().await;
    accepts(
        &w,
        id,
        json!({"conversations_settings": {"widget_color": "#123456"}}),
    )
    .await;
    let body = accepts(&w, id, json!({"conversations_enabled": true})).await;
    let token = body["conversations_settings"]["widget_public_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(token.len() > 20, "{token}");
    // Re-enabling keeps it; clients cannot set it; other settings merge in.
    accepts(&w, id, json!({"conversations_enabled": false})).await;
    let got = detail(&w, id).await;
    assert_eq!(
        got["conversations_settings"]["widget_public_token"],
        Value::Null
    );
    assert_eq!(got["conversations_settings"]["widget_color"], "#123456");
    let body = accepts(&w, id, json!({"conversations_enabled": true})).await;
    let again = body["conversations_settings"]["widget_public_token"]
        .as_str()
        .unwrap()
        .to_string();
    let body = accepts(
        &w,
        id,
        json!({"conversations_settings": {"widget_public_token": "mine", "widget_greeting_text": "Hi"}}),
    )
    .await;
    assert_eq!(
        body["conversations_settings"]["widget_public_token"],
        again.as_str()
    );
    assert_eq!(body["conversations_settings"]["widget_greeting_text"], "Hi");
    assert_eq!(body["conversations_settings"]["widget_color"], "#123456");
}
