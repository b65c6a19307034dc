//! `docs/grafana-dashboard.json`, the Grafana dashboard for prickle's
//! Prometheus metrics: valid JSON, importable (a `DS_PROMETHEUS` datasource
//! input every query uses, unique panel ids), and every expression names only
//! the metrics and labels `/metrics` serves, so a renamed metric cannot leave
//! a silently empty panel behind. Every metric has a panel.

use std::collections::BTreeSet;

use serde_json::Value;

/// What `/metrics` serves (issue 17): counters and gauges by name.
const SERIES: &[&str] = &[
    "http_requests_total",
    "prickle_http_requests_in_flight",
    "prickle_connections_open",
    "prickle_connections_refused_total",
    "prickle_rate_limited_total",
    "prickle_auth_cache_hits_total",
    "prickle_auth_cache_misses_total",
    "prickle_auth_cache_entries",
    "prickle_db_pool_size",
    "prickle_db_pool_available",
    "prickle_db_pool_waits_total",
    "prickle_sqlite_writer_queue_length",
    "process_resident_memory_bytes",
    "process_open_fds",
    "prickle_build_info",
];
/// Histograms: queried through their `_bucket`, `_sum` and `_count` series.
const HISTOGRAMS: &[&str] = &[
    "http_request_duration_seconds",
    "prickle_sqlite_commit_batch_size",
];
/// The labels those series carry, and the ones Prometheus adds (`job`,
/// `instance`) or histograms have (`le`).
const LABELS: &[&str] = &[
    "method", "route", "status", "reason", "version", "le", "job", "instance",
];

/// PromQL words that are not metric names.
const KEYWORDS: &[&str] = &[
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "and",
    "or",
    "unless",
    "bool",
    "offset",
    // Aggregations, which may come before `by (...)` rather than `(`.
    "sum",
    "avg",
    "min",
    "max",
    "count",
    "group",
    "stddev",
    "stdvar",
    "topk",
    "bottomk",
    "quantile",
    "count_values",
];

/// The metric (series) names and label names one PromQL expression uses.
/// Function calls, keywords, numbers, durations, string literals and
/// Grafana's `$variables` are not names.
#[derive(Debug, Default, PartialEq)]
struct Names {
    metrics: BTreeSet<String>,
    labels: BTreeSet<String>,
}

fn names(expr: &str) -> Names {
    let chars: Vec<char> = expr.chars().collect();
    let mut out = Names::default();
    let mut i = 0;
    // Inside `{...}` (label matchers) or the parentheses after `by`,
    // `without`, `on`, `ignoring`, `group_left`, `group_right`: names there
    // are labels.
    let mut in_matchers = false;
    let mut in_grouping = false;
    let mut last_word = String::new();
    while i < chars.len() {
        let c = chars[i];
        if c == '"' || c == '\'' || c == '`' {
            i += 1;
            while i < chars.len() && chars[i] != c {
                i += if chars[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            continue;
        }
        if c == '[' {
            // A range or subquery duration: `[5m]`, `[$__rate_interval]`.
            while i < chars.len() && chars[i] != ']' {
                i += 1;
            }
            i += 1;
            continue;
        }
        if c == '$' || c.is_ascii_digit() {
            // A Grafana variable or a number (`0.95`, `1e3`).
            i += 1;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_.".contains(chars[i])) {
                i += 1;
            }
            last_word.clear();
            continue;
        }
        if c.is_ascii_alphabetic() || c == '_' || c == ':' {
            let start = i;
            while i < chars.len() && (chars[i].is_ascii_alphanumeric() || "_:".contains(chars[i])) {
                i += 1;
            }
            let word: String = chars[start..i].iter().collect();
            let next = chars[i..].iter().find(|c| !c.is_whitespace());
            if in_matchers || in_grouping {
                out.labels.insert(word.clone());
            } else if KEYWORDS.contains(&word.as_str()) {
            } else if next != Some(&'(') {
                out.metrics.insert(word.clone());
            }
            last_word = word;
            continue;
        }
        match c {
            '{' => in_matchers = true,
            '}' => in_matchers = false,
            '(' if matches!(
                last_word.as_str(),
                "by" | "without" | "on" | "ignoring" | "group_left" | "group_right"
            ) =>
            {
                in_grouping = true
            }
            ')' => in_grouping = false,
            _ => {}
        }
        if !c.is_whitespace() {
            last_word.clear();
        }
        i += 1;
    }
    out
}

/// The names a metric name may take in a query: the name itself, or a
/// histogram's series.
fn known_series() -> BTreeSet<String> {
    let mut known: BTreeSet<String> = SERIES.iter().map(|s| s.to_string()).collect();
    for h in HISTOGRAMS {
        for suffix in ["_bucket", "_sum", "_count"] {
            known.insert(format!("{h}{suffix}"));
        }
    }
    known
}

fn dashboard() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/grafana-dashboard.json");
    let text = std::fs::read_to_string(path).expect("docs/grafana-dashboard.json");
    serde_json::from_str(&text).expect("docs/grafana-dashboard.json is valid JSON")
}

/// Every panel, those inside collapsed rows included.
fn panels(dashboard: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        out.push(panel);
        if let Some(inner) = panel["panels"].as_array() {
            out.extend(inner);
        }
    }
    out
}

/// Every PromQL expression: the panels' targets and the query variables'
/// (`label_values(EXPR, label)`: EXPR; the label is checked here).
fn expressions(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in panels(dashboard) {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().unwrap_or_default();
            let title = panel["title"].as_str().unwrap_or_default();
            assert!(
                !expr.trim().is_empty(),
                "panel {title:?}: a target without expr"
            );
            out.push((format!("panel {title:?}"), expr.to_string()));
        }
    }
    for var in dashboard["templating"]["list"]
        .as_array()
        .into_iter()
        .flatten()
    {
        if var["type"] != "query" {
            continue;
        }
        let query = var["query"]["query"].as_str().or(var["query"].as_str());
        let query = query.expect("a query variable's query");
        let inner = query
            .strip_prefix("label_values(")
            .and_then(|q| q.strip_suffix(')'))
            .unwrap_or_else(|| panic!("variable query {query:?}: label_values(EXPR, label)"));
        let (expr, label) = inner.rsplit_once(',').expect("label_values(EXPR, label)");
        let name = var["name"].as_str().unwrap_or_default();
        assert!(
            LABELS.contains(&label.trim()),
            "variable {name:?}: label {label:?}"
        );
        out.push((format!("variable {name:?}"), expr.trim().to_string()));
    }
    out
}

#[test]
fn names_of_an_expression() {
    let n = names(
        r#"histogram_quantile(0.95, sum by (le, route) (rate(http_request_duration_seconds_bucket{job=~"$job",status=~"5.."}[$__rate_interval]))) / on (instance) group_left(version) prickle_build_info offset 1e3"#,
    );
    assert_eq!(
        n.metrics.into_iter().collect::<Vec<_>>(),
        ["http_request_duration_seconds_bucket", "prickle_build_info"]
    );
    assert_eq!(
        n.labels.into_iter().collect::<Vec<_>>(),
        ["instance", "job", "le", "route", "status", "version"]
    );
    // A misspelt metric or label is seen as one.
    let n = names(r#"sum by (path) (rate(http_request_total{routes="/x"}[5m]))"#);
    assert_eq!(
        n.metrics.into_iter().collect::<Vec<_>>(),
        ["http_request_total"]
    );
    assert_eq!(n.labels.into_iter().collect::<Vec<_>>(), ["path", "routes"]);
}

#[test]
fn grafana_dashboard_is_importable() {
    let d = dashboard();
    assert!(d["title"].is_string() && d["uid"].is_string());
    assert!(
        d["schemaVersion"].as_u64().unwrap_or(0) >= 36,
        "schemaVersion"
    );
    let input = &d["__inputs"][0];
    assert_eq!(input["name"], "DS_PROMETHEUS");
    assert_eq!(input["type"], "datasource");
    assert_eq!(input["pluginId"], "prometheus");
    let mut ids = BTreeSet::new();
    for panel in panels(&d) {
        let title = panel["title"].as_str().expect("every panel has a title");
        let id = panel["id"].as_u64().expect("every panel has an id");
        assert!(ids.insert(id), "panel id {id} twice");
        let pos = &panel["gridPos"];
        for k in ["h", "w", "x", "y"] {
            assert!(pos[k].is_u64(), "panel {title:?}: gridPos.{k}");
        }
        if panel["type"] == "row" {
            continue;
        }
        assert_eq!(
            panel["datasource"]["uid"], "${DS_PROMETHEUS}",
            "panel {title:?}"
        );
        let targets = panel["targets"].as_array().expect("targets");
        assert!(!targets.is_empty(), "panel {title:?} has no query");
        for t in targets {
            assert_eq!(
                t["datasource"]["uid"], "${DS_PROMETHEUS}",
                "panel {title:?}"
            );
        }
    }
}

#[test]
fn grafana_dashboard_names_only_served_metrics_and_shows_each() {
    let d = dashboard();
    let known = known_series();
    let mut used = BTreeSet::new();
    for (place, expr) in expressions(&d) {
        let n = names(&expr);
        assert!(!n.metrics.is_empty(), "{place}: no metric in {expr:?}");
        for m in &n.metrics {
            assert!(
                known.contains(m),
                "{place}: {m:?} is not a metric /metrics serves ({expr:?})"
            );
        }
        for l in &n.labels {
            assert!(
                LABELS.contains(&l.as_str()),
                "{place}: unknown label {l:?} ({expr:?})"
            );
        }
        used.extend(n.metrics);
    }
    let unused: Vec<&String> = known
        .iter()
        .filter(|m| {
            // A histogram is shown when any of its series is.
            let base = HISTOGRAMS.iter().find(|h| m.starts_with(*h));
            !used.contains(*m) && base.is_none_or(|h| !used.iter().any(|u| u.starts_with(h)))
        })
        .collect();
    assert!(unused.is_empty(), "metrics without a panel: {unused:?}");
}
