//! The declaration table against itself and against PostHog's API document
//! (`tests/fixtures/posthog-openapi-core5.json`): every setting is validated and its
//! validation tested, its schema agrees with its check and with the document, and every field
//! the document shows is either a declared setting or one of the project's own fields.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::schema::{Choices, Schema, Type};
use super::*;
use crate::organizations::Level;
use crate::projects::model;

fn now() -> DateTime<Utc> {
    "2025-01-01T00:00:00Z".parse().expect("test timestamp")
}

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Sends `{name: value}` to a fresh project.
fn send(name: &str, value: &Value) -> ApiResult<Map<String, Value>> {
    let mut body = Map::new();
    body.insert(name.to_string(), value.clone());
    apply(&defaults(), &body, now(), None)
}

/// Runs only the setting's field-level check (what the schema describes).
fn field_check(setting: &'static Setting, value: &Value) -> ApiResult<Value> {
    let stored = defaults();
    match setting.validate {
        Validate::Field(check) => check(
            value,
            &Input {
                setting,
                stored: &stored,
                now: now(),
                updater: None,
            },
        ),
        Validate::AnyJson | Validate::Object(_) => Ok(value.clone()),
    }
}

/// For every setting: values it accepts (sent, then as stored, as JSON text) and values it
/// refuses. Only a setting PostHog stores as sent (`Validate::AnyJson`) may refuse nothing.
struct Case {
    name: &'static str,
    accepts: &'static [(&'static str, &'static str)],
    refuses: &'static [&'static str],
}

const CASES: &[Case] = &[
    Case {
        name: "app_urls",
        accepts: &[(r#"["https://a.com", null]"#, r#"["https://a.com"]"#)],
        refuses: &[
            "null",
            r#""https://a.com""#,
            r#"["https://*.*.*.*.*.*.a.com"]"#,
        ],
    },
    Case {
        name: "anonymize_ips",
        accepts: &[(r#""true""#, "true")],
        refuses: &["null", r#""maybe""#],
    },
    Case {
        name: "completed_snippet_onboarding",
        accepts: &[("1", "true")],
        refuses: &["null", "2"],
    },
    Case {
        name: "test_account_filters",
        accepts: &[(
            r#"[{"key": "email", "type": "person", "operator": "is_set"}]"#,
            r#"[{"key": "email", "type": "person", "operator": "is_set"}]"#,
        )],
        refuses: &["null", r#"[{"key": "email", "type": "not_a_type"}]"#],
    },
    Case {
        name: "test_account_filters_default_checked",
        accepts: &[("null", "null"), (r#""false""#, "false")],
        refuses: &[r#""x""#],
    },
    Case {
        name: "path_cleaning_filters",
        accepts: &[(
            r#"[{"alias": "x", "regex": "/x/.*"}]"#,
            r#"[{"alias": "x", "regex": "/x/.*"}]"#,
        )],
        refuses: &[r#"[{"alias": "x"}]"#, r#"{"regex": "x"}"#],
    },
    Case {
        name: "timezone",
        accepts: &[(r#""Europe/Lisbon""#, r#""Europe/Lisbon""#)],
        refuses: &["null", r#""Nowhere""#],
    },
    Case {
        name: "data_attributes",
        accepts: &[(r#"["data-id"]"#, r#"["data-id"]"#)],
        refuses: &["null"],
    },
    Case {
        name: "person_display_name_properties",
        accepts: &[(r#"[" email "]"#, r#"["email"]"#), ("null", "null")],
        refuses: &[r#"[""]"#, r#""email""#],
    },
    Case {
        name: "correlation_config",
        accepts: &[(
            r#"{"excluded_person_property_names": ["$os"]}"#,
            r#"{"excluded_person_property_names": ["$os"]}"#,
        )],
        refuses: &[],
    },
    Case {
        name: "autocapture_opt_out",
        accepts: &[("true", "true")],
        refuses: &[r#""x""#],
    },
    Case {
        name: "autocapture_exceptions_opt_in",
        accepts: &[(r#""on""#, "true")],
        refuses: &["[true]"],
    },
    Case {
        name: "autocapture_web_vitals_opt_in",
        accepts: &[("0", "false")],
        refuses: &["{}"],
    },
    Case {
        name: "autocapture_web_vitals_allowed_metrics",
        accepts: &[(r#"["LCP", "CLS"]"#, r#"["LCP", "CLS"]"#)],
        refuses: &[],
    },
    Case {
        name: "autocapture_exceptions_errors_to_ignore",
        accepts: &[(r#"["ResizeObserver"]"#, r#"["ResizeObserver"]"#)],
        refuses: &["null", "[1]"],
    },
    Case {
        name: "capture_console_log_opt_in",
        accepts: &[("false", "false")],
        refuses: &[r#""x""#],
    },
    Case {
        name: "capture_performance_opt_in",
        accepts: &[("null", "null")],
        refuses: &[r#""x""#],
    },
    Case {
        name: "session_recording_opt_in",
        accepts: &[("true", "true")],
        refuses: &["null", r#""""#],
    },
    Case {
        name: "session_recording_sample_rate",
        accepts: &[("0.4", r#""0.40""#), ("null", "null")],
        refuses: &[r#""1.5""#, r#""0.534""#],
    },
    Case {
        name: "session_recording_minimum_duration_milliseconds",
        accepts: &[(r#""1500""#, "1500")],
        refuses: &["-1", "30001", r#""x""#],
    },
    Case {
        name: "session_recording_linked_flag",
        accepts: &[(r#"{"id": "1", "key": "k"}"#, r#"{"id": 1, "key": "k"}"#)],
        refuses: &[r#"{"key": "k"}"#, "1"],
    },
    Case {
        name: "session_recording_network_payload_capture_config",
        accepts: &[(r#"{"recordHeaders": true}"#, r#"{"recordHeaders": true}"#)],
        refuses: &[r#"{"other": 1}"#],
    },
    Case {
        name: "session_recording_masking_config",
        accepts: &[(r#"{"maskAllInputs": true}"#, r#"{"maskAllInputs": true}"#)],
        refuses: &[r#"{"maskAllInputs": "yes"}"#],
    },
    Case {
        name: "session_recording_url_trigger_config",
        accepts: &[(
            r#"[{"url": "/x", "matching": "regex"}]"#,
            r#"[{"url": "/x", "matching": "regex"}]"#,
        )],
        refuses: &["3"],
    },
    Case {
        name: "session_recording_url_blocklist_config",
        accepts: &[(
            r#"[{"url": "/x", "matching": "regex"}]"#,
            r#"[{"url": "/x", "matching": "regex"}]"#,
        )],
        refuses: &["{}"],
    },
    Case {
        name: "session_recording_event_trigger_config",
        accepts: &[(r#"["$pageview", ""]"#, r#"["$pageview", ""]"#)],
        refuses: &[r#""$pageview""#],
    },
    Case {
        name: "session_recording_trigger_match_type_config",
        accepts: &[(r#""all""#, r#""all""#)],
        refuses: &[r#""aaaaaaaaaaaaaaaaaaaaaaaaa""#],
    },
    Case {
        name: "session_recording_trigger_groups",
        accepts: &[(
            r#"{"version": 2, "groups": []}"#,
            r#"{"version": 2, "groups": []}"#,
        )],
        refuses: &[r#"{"version": 1, "groups": []}"#],
    },
    Case {
        name: "session_recording_retention_period",
        accepts: &[(r#""1y""#, r#""1y""#)],
        refuses: &["null", r#""7d""#],
    },
    Case {
        name: "session_replay_config",
        accepts: &[(r#"{"record_canvas": true}"#, r#"{"record_canvas": true}"#)],
        refuses: &[r#"{"other": 1}"#],
    },
    Case {
        name: "survey_config",
        accepts: &[(
            r##"{"appearance": {"backgroundColor": "#fff"}}"##,
            r##"{"appearance": {"backgroundColor": "#fff"}}"##,
        )],
        refuses: &[],
    },
    Case {
        name: "week_start_day",
        accepts: &[(r#""1""#, "1"), ("null", "null")],
        refuses: &["2", "true"],
    },
    Case {
        name: "primary_dashboard",
        accepts: &[(r#""17""#, "17")],
        refuses: &[r#""abc""#],
    },
    Case {
        name: "live_events_columns",
        accepts: &[(r#"["event", "person"]"#, r#"["event", "person"]"#)],
        refuses: &[r#"[""]"#],
    },
    Case {
        name: "recording_domains",
        accepts: &[
            (r#"[null, "https://a.com"]"#, r#"["https://a.com"]"#),
            ("null", "null"),
        ],
        refuses: &[r#"{"a": 1}"#],
    },
    Case {
        name: "inject_web_apps",
        accepts: &[("true", "true")],
        refuses: &[r#""x""#],
    },
    Case {
        name: "extra_settings",
        accepts: &[(r#"{"anything": [1, "two"]}"#, r#"{"anything": [1, "two"]}"#)],
        refuses: &[],
    },
    Case {
        name: "modifiers",
        accepts: &[(
            r#"{"personsOnEventsMode": "person_id_override_properties_on_events"}"#,
            r#"{"personsOnEventsMode": "person_id_override_properties_on_events"}"#,
        )],
        refuses: &[r#"{"unknownField": true}"#, "[]"],
    },
    Case {
        name: "has_completed_onboarding_for",
        accepts: &[(
            r#"{"product_analytics": true}"#,
            r#"{"product_analytics": true}"#,
        )],
        refuses: &[],
    },
    Case {
        name: "surveys_opt_in",
        accepts: &[("true", "true")],
        refuses: &[r#""x""#],
    },
    Case {
        name: "heatmaps_opt_in",
        accepts: &[("false", "false")],
        refuses: &[r#""x""#],
    },
    Case {
        name: "flags_persistence_default",
        accepts: &[("true", "true")],
        refuses: &[r#""x""#],
    },
    Case {
        name: "receive_org_level_activity_logs",
        accepts: &[("true", "true")],
        refuses: &[r#""x""#],
    },
    Case {
        name: "business_model",
        accepts: &[
            (r#""b2c""#, r#""b2c""#),
            (r#""""#, r#""""#),
            ("null", "null"),
        ],
        refuses: &[r#""b2x""#],
    },
    Case {
        name: "conversations_enabled",
        accepts: &[("false", "false")],
        refuses: &[r#""x""#],
    },
    Case {
        name: "conversations_settings",
        accepts: &[(
            r##"{"widget_color": "#fff"}"##,
            r##"{"widget_color": "#fff"}"##,
        )],
        refuses: &[r#""x""#, r#"{"slack_bot_icon_url": "http://x"}"#],
    },
    Case {
        name: "logs_settings",
        accepts: &[(r#"{"retention_days": 14}"#, r#"{"retention_days": 14}"#)],
        refuses: &[r#"{"retention_days": 7}"#, "[1]"],
    },
    Case {
        name: "proactive_tasks_enabled",
        accepts: &[("false", "false")],
        refuses: &["true"],
    },
];

#[test]
fn every_setting_is_validated_and_its_validation_tested() {
    for setting in SETTINGS {
        let name = setting.name;
        let case = CASES.iter().find(|c| c.name == name).unwrap_or_else(|| {
            panic!("{name} is declared without a validation case in table_tests.rs")
        });
        assert!(!case.accepts.is_empty(), "{name}: no accepted value");
        for (sent, stored) in case.accepts {
            let doc = send(name, &parse(sent)).unwrap_or_else(|e| panic!("{name} {sent}: {e:?}"));
            assert_eq!(doc[name], parse(stored), "{name} {sent}");
        }
        for sent in case.refuses {
            let e = match send(name, &parse(sent)) {
                Ok(doc) => panic!("{name} should refuse {sent}, stored {}", doc[name]),
                Err(e) => e,
            };
            assert!(
                matches!(e.status.as_u16(), 400 | 403),
                "{name} {sent}: {e:?}"
            );
            // Field errors name the field (or an entry in it); object-level ones name none.
            let attr = e.attr.as_deref();
            let names_it = match setting.validate {
                Validate::Object(_) => attr.is_none(),
                _ if e.status.as_u16() == 403 => true,
                _ => attr.is_some_and(|a| a == name || a.starts_with(&format!("{name}__"))),
            };
            assert!(names_it, "{name} {sent}: {e:?}");
        }
        if case.refuses.is_empty() {
            // Only free-form JSON, documented as such, may be stored unchecked; then it is
            // stored as sent, whatever it is.
            assert!(
                matches!(setting.validate, Validate::AnyJson),
                "{name} has a check but no refused value in table_tests.rs"
            );
            for value in [
                json!(null),
                json!(true),
                json!(1.5),
                json!("s"),
                json!([1]),
                json!({"a": 1}),
            ] {
                assert_eq!(send(name, &value).expect(name)[name], value, "{name}");
            }
        }
        if matches!(setting.validate, Validate::AnyJson) {
            assert!(
                matches!(setting.schema.ty, Type::Any),
                "{name} is stored unchecked but its schema documents a type"
            );
        }
    }
    for case in CASES {
        assert!(
            find(case.name).is_some(),
            "case for undeclared setting {}",
            case.name
        );
    }
}

/// What a schema allows, for the checks below.
fn conforms(schema: &Schema, v: &Value) -> bool {
    match (schema.ty, v) {
        (_, Value::Null) => schema.nullable,
        (Type::Any, _) => true,
        (Type::Boolean, Value::Bool(_)) => true,
        (Type::String { max_length }, Value::String(s)) => {
            max_length.is_none_or(|max| s.chars().count() <= max as usize)
        }
        (Type::Decimal { .. }, Value::String(s)) => s.parse::<f64>().is_ok(),
        (Type::Integer { minimum, maximum }, Value::Number(n)) => n.as_i64().is_some_and(|n| {
            minimum.is_none_or(|min| n >= min) && maximum.is_none_or(|max| n <= max)
        }),
        (Type::ForeignKey { .. }, Value::Number(n)) => n.is_i64(),
        (Type::Enum(choices), v) => choices.find(&rules::py_str(v)).as_ref() == Some(v),
        (Type::Array(items), Value::Array(values)) => values.iter().all(|v| conforms(items, v)),
        _ => false,
    }
}

#[test]
fn every_check_agrees_with_its_schema() {
    for setting in SETTINGS {
        let name = setting.name;
        let schema = &setting.schema;
        assert!(
            !setting.description.trim().is_empty(),
            "{name}: no description"
        );
        let default = serde_json::from_str::<Value>(setting.default)
            .unwrap_or_else(|e| panic!("{name}: default is not JSON: {e}"));
        assert!(
            conforms(schema, &default),
            "{name}: default {default} against its schema"
        );
        assert_eq!(defaults()[name], default, "{name}");
        // Null passes the field's check exactly when the schema says nullable.
        let null = field_check(setting, &Value::Null);
        assert_eq!(null.is_ok(), schema.nullable, "{name}: null gives {null:?}");
        if matches!(schema.ty, Type::Any) {
            continue;
        }
        let other = field_check(setting, &json!({"a": 1}));
        assert!(
            other.is_err(),
            "{name} is typed but took an object: {other:?}"
        );
        match schema.ty {
            Type::Boolean => {
                // Either value is taken as itself, unless a permission rule refuses it.
                for b in [true, false] {
                    match field_check(setting, &json!(b)) {
                        Ok(v) => assert_eq!(v, json!(b), "{name}"),
                        Err(e) => assert_eq!(e.status.as_u16(), 403, "{name} {b}: {e:?}"),
                    }
                }
            }
            Type::Enum(choices) => {
                let values = match choices {
                    Choices::Strings(s) => s.iter().map(|v| json!(v)).collect::<Vec<_>>(),
                    Choices::Integers(n) => n.iter().map(|v| json!(v)).collect(),
                };
                for v in values {
                    assert_eq!(field_check(setting, &v).ok(), Some(v.clone()), "{name} {v}");
                }
                assert!(
                    field_check(setting, &json!("not a choice")).is_err(),
                    "{name}"
                );
            }
            Type::Integer { minimum, maximum } => {
                for (bound, step) in [(minimum, -1), (maximum, 1)] {
                    let Some(bound) = bound else { continue };
                    assert_eq!(field_check(setting, &json!(bound)).ok(), Some(json!(bound)));
                    assert!(
                        field_check(setting, &json!(bound + step)).is_err(),
                        "{name}"
                    );
                }
            }
            Type::String {
                max_length: Some(max),
            } => {
                let longest = "a".repeat(max as usize);
                assert_eq!(
                    field_check(setting, &json!(longest)).ok(),
                    Some(json!(longest))
                );
                let e = field_check(setting, &json!(format!("{longest}a"))).unwrap_err();
                assert_eq!(e.code, "max_length", "{name}");
            }
            _ => {}
        }
        // Whatever the check accepts conforms to the schema.
        for case in CASES.iter().filter(|c| c.name == name) {
            for (_, stored) in case.accepts {
                assert!(conforms(schema, &parse(stored)), "{name}: {stored}");
            }
        }
    }
}

#[test]
fn receive_org_level_activity_logs_needs_an_organization_admin_on_update() {
    let name = "receive_org_level_activity_logs";
    let body = |v: Value| {
        let mut m = Map::new();
        m.insert(name.to_string(), v);
        m
    };
    let e = apply(&defaults(), &body(json!(true)), now(), Some(Level::Member)).unwrap_err();
    assert_eq!(e.status.as_u16(), 403);
    assert_eq!(
        e.detail,
        "Only organization owners and admins can modify the receive_org_level_activity_logs setting."
    );
    // Ahead of a 400 from an earlier field, as DRF lets a PermissionDenied through.
    let mut both = body(json!(false));
    both.insert("timezone".into(), json!("Nowhere"));
    let e = apply(&defaults(), &both, now(), Some(Level::Member)).unwrap_err();
    assert_eq!(e.status.as_u16(), 403);
    // Null and the null spellings skip the gate (and meet the admin gate instead); garbage is a 400.
    for v in [json!(null), json!("null"), json!("")] {
        assert!(apply(&defaults(), &body(v), now(), Some(Level::Member)).is_ok());
    }
    let e = apply(&defaults(), &body(json!("x")), now(), Some(Level::Member)).unwrap_err();
    assert_eq!(e.status.as_u16(), 400);
    for level in [Level::Admin, Level::Owner] {
        assert!(apply(&defaults(), &body(json!(true)), now(), Some(level)).is_ok());
    }
    // At creation the create-time admin gate applies instead.
    assert!(apply(&defaults(), &body(json!(true)), now(), None).is_ok());
}

#[test]
fn activity_log_names_and_values_come_from_the_schema() {
    let dashboard = find("primary_dashboard").expect("declared");
    assert_eq!(dashboard.logged_field(), "primary_dashboard_id");
    let rate = find("session_recording_sample_rate").expect("declared");
    assert_eq!(rate.logged_field(), "session_recording_sample_rate");
    assert_eq!(rate.logged(&json!("0.40")), json!("0.4"));
    assert_eq!(rate.logged(&json!("1.00")), json!("1"));
    assert_eq!(rate.logged(&json!(null)), json!(null));
    let timezone = find("timezone").expect("declared");
    assert_eq!(timezone.logged(&json!("UTC")), json!("UTC"));
}

// ---------------------------------------------------------------------------------------------
// Against PostHog's API document.

const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/posthog-openapi-core5.json"
);

fn spec_schemas() -> Map<String, Value> {
    let text = std::fs::read_to_string(SPEC).unwrap_or_else(|e| panic!("{SPEC}: {e}"));
    let spec: Value = serde_json::from_str(&text).expect("the API document is JSON");
    match &spec["components"]["schemas"] {
        Value::Object(m) => m.clone(),
        _ => panic!("{SPEC} has no components.schemas"),
    }
}

fn properties<'a>(schemas: &'a Map<String, Value>, component: &str) -> &'a Map<String, Value> {
    schemas[component]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{component} has no properties"))
}

/// A schema object reduced to what it says about values: references, `allOf` and `oneOf`
/// resolved, enums merged (a `null` in one meaning nullable), and the documentation-only keys
/// (descriptions, `readOnly`, `x-` notes) and an enum's redundant integer bounds dropped.
fn canonical(schema: &Value, schemas: &Map<String, Value>) -> Map<String, Value> {
    fn merge(v: &Value, schemas: &Map<String, Value>, out: &mut Map<String, Value>) {
        let Value::Object(m) = v else { return };
        for (key, value) in m {
            match key.as_str() {
                "$ref" => {
                    let name = value
                        .as_str()
                        .and_then(|r| r.rsplit('/').next())
                        .unwrap_or("");
                    merge(&schemas[name], schemas, out);
                }
                "allOf" | "oneOf" => {
                    for item in value.as_array().into_iter().flatten() {
                        merge(item, schemas, out);
                    }
                }
                "enum" => {
                    for item in value.as_array().into_iter().flatten() {
                        if item.is_null() {
                            out.insert("nullable".into(), json!(true));
                        } else if let Value::Array(values) =
                            out.entry("enum").or_insert_with(|| json!([]))
                        {
                            values.push(item.clone());
                        }
                    }
                }
                "items" => {
                    out.insert(key.clone(), Value::Object(canonical(value, schemas)));
                }
                "description" | "readOnly" => {}
                k if k.starts_with("x-") => {}
                _ => {
                    out.insert(key.clone(), value.clone());
                }
            }
        }
    }
    let mut out = Map::new();
    merge(schema, schemas, &mut out);
    if out.contains_key("enum") {
        out.remove("minimum");
        out.remove("maximum");
    }
    out
}

#[test]
fn every_documented_field_is_a_setting_or_an_own_field() {
    let schemas = spec_schemas();
    // Newer than the stored API document: PostHog's field order places
    // `user_access_level` after `available_setup_task_ids` (design §3.6).
    const NEWER: &[&str] = &["user_access_level"];
    let detail: Vec<&str> = model::detail_fields()
        .filter(|f| !NEWER.contains(f))
        .collect();
    for component in ["ProjectBackwardCompat", "PatchedProjectBackwardCompat"] {
        let documented: Vec<&str> = properties(&schemas, component)
            .keys()
            .map(String::as_str)
            .collect();
        for field in &documented {
            assert!(
                detail.contains(field),
                "{component}.{field} is neither a declared setting (settings/table.rs) nor \
                 one of the project's own fields (model.rs DETAIL_OWN_FIELDS)"
            );
        }
        assert_same_order(&detail, &documented, component);
    }
    let documented: Vec<&str> = properties(&schemas, "ProjectBackwardCompatBasic")
        .keys()
        .map(String::as_str)
        .collect();
    let list: Vec<&str> = model::list_fields().collect();
    assert_same_order(&list, &documented, "ProjectBackwardCompatBasic");
}

fn assert_same_order(ours: &[&str], documented: &[&str], component: &str) {
    let first_difference = ours.iter().zip(documented).position(|(a, b)| a != b);
    if let Some(i) = first_difference {
        panic!(
            "{component}: field {i} is {} here but {} in the API document",
            ours[i], documented[i]
        );
    }
    assert_eq!(ours.len(), documented.len(), "{component}: {ours:?}");
}

#[test]
fn every_setting_has_the_documented_schema_and_description() {
    let schemas = spec_schemas();
    for component in ["ProjectBackwardCompat", "PatchedProjectBackwardCompat"] {
        let documented = properties(&schemas, component);
        for setting in SETTINGS {
            let name = setting.name;
            let doc = documented
                .get(name)
                .unwrap_or_else(|| panic!("{name} is not documented in {component}"));
            assert_eq!(
                Value::Object(canonical(&setting.schema_json(), &schemas)),
                Value::Object(canonical(doc, &schemas)),
                "{component}.{name}"
            );
            // drf-spectacular appends an enum's choices to the description; the API schema
            // generator will too.
            if let Some(text) = doc["description"].as_str() {
                let own = text.split("\n\n* `").next().unwrap_or(text);
                assert_eq!(setting.description, own, "{component}.{name}");
            }
            assert_eq!(
                setting.schema_json()["description"],
                json!(setting.description)
            );
        }
    }
}
