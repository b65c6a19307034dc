//! `http_requests_total` and `http_request_duration_seconds`: one histogram
//! per (declared route, method, common status), built once from the declared
//! endpoints, so that counting a request is a lookup and two atomic adds.
//! The cells are kept once per shard (`shards`): each thread counts into
//! its own, allocated on its first request, and a scrape sums them. A
//! combination outside the table (a method the path does not declare, a
//! rare status) goes to a map behind a lock.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use axum::http::{Method, StatusCode};

use super::histogram::{render_counts, Histogram};
use super::shards::{shard, SHARDS};
use crate::http::Endpoint;

/// The route label of a request no route matched.
pub const UNMATCHED: &str = "unmatched";

/// `http_request_duration_seconds`' buckets, in microseconds.
pub const DURATION_BUCKETS: &[u64] = &[
    1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000,
    5_000_000, 10_000_000,
];

/// The statuses the server answers with, each with its column in the table.
const STATUSES: &[u16] = &[
    200, 201, 204, 400, 401, 403, 404, 405, 408, 409, 413, 415, 429, 500, 503,
];

/// The methods labelled by name; the first seven also have rows in the
/// table for unmatched requests.
const STANDARD_METHODS: &[Method] = &[
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
    Method::HEAD,
    Method::OPTIONS,
    Method::CONNECT,
    Method::TRACE,
];

/// Methods counted in the table for unmatched requests.
const UNMATCHED_METHODS: &[Method] = STANDARD_METHODS.split_at(7).0;

/// A method's label: the standard ones by name, any other (a client may
/// send any token) as `other`, so clients cannot grow the label set.
fn method_label(method: &Method) -> &'static str {
    STANDARD_METHODS
        .iter()
        .find(|m| *m == method)
        .map_or("other", Method::as_str)
}

fn status_column(status: StatusCode) -> Option<usize> {
    STATUSES.iter().position(|s| *s == status.as_u16())
}

/// A cell's slots in a shard: one per bucket, then the sum.
const STRIDE: usize = DURATION_BUCKETS.len() + 2;

pub struct HttpTable {
    /// Declared path (no trailing slash) -> its methods and their rows.
    rows: HashMap<&'static str, Vec<(Method, usize)>>,
    unmatched: Vec<(Method, usize)>,
    /// Each row's labels: method and route.
    labels: Vec<(Method, &'static str)>,
    /// Per shard, every cell's slots: row-major, `labels.len() *
    /// STATUSES.len()` cells of [`STRIDE`] slots.
    shards: [OnceLock<Box<[AtomicU64]>>; SHARDS],
    /// (method, route, status) outside the table.
    other: Mutex<BTreeMap<(String, String, u16), Histogram>>,
}

/// A request's route as the table knows it, looked up once before it runs:
/// its label and its row for its method.
pub struct Route {
    /// The declared template (no trailing slash); `None` when no route
    /// matched.
    pub label: Option<Cow<'static, str>>,
    row: Option<usize>,
}

impl Route {
    /// A route counted by no table: labelled for the log line only.
    pub fn outside_table(matched: Option<&str>) -> Route {
        Route {
            label: matched.map(|p| Cow::Owned(declared_form(p).to_owned())),
            row: None,
        }
    }
}

/// Both forms of a path are served; the declared one has no trailing slash.
fn declared_form(path: &str) -> &str {
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        "/"
    } else {
        trimmed
    }
}

impl HttpTable {
    pub fn new(endpoints: &[Endpoint]) -> HttpTable {
        let mut labels = Vec::new();
        let mut rows: HashMap<&'static str, Vec<(Method, usize)>> = HashMap::new();
        for e in endpoints {
            rows.entry(e.path)
                .or_default()
                .push((e.method.clone(), labels.len()));
            labels.push((e.method.clone(), e.path));
        }
        let mut unmatched = Vec::new();
        for m in UNMATCHED_METHODS {
            unmatched.push((m.clone(), labels.len()));
            labels.push((m.clone(), UNMATCHED));
        }
        HttpTable {
            rows,
            unmatched,
            labels,
            shards: std::array::from_fn(|_| OnceLock::new()),
            other: Mutex::new(BTreeMap::new()),
        }
    }

    /// The route of a request: `matched` is the path template axum matched
    /// (either form: the declared one has no trailing slash), `None` when
    /// no route matched.
    pub fn route_of(&self, method: &Method, matched: Option<&str>) -> Route {
        let Some(path) = matched else {
            let row = self.unmatched.iter().find(|(m, _)| m == method);
            return Route {
                label: None,
                row: row.map(|(_, row)| *row),
            };
        };
        let path = declared_form(path);
        match self.rows.get_key_value(path) {
            Some((declared, methods)) => Route {
                label: Some(Cow::Borrowed(*declared)),
                row: methods
                    .iter()
                    .find(|(m, _)| m == method)
                    .map(|(_, row)| *row),
            },
            // Every served path is declared; counted anyway.
            None => Route {
                label: Some(Cow::Owned(path.to_owned())),
                row: None,
            },
        }
    }

    fn cells(&self) -> &[AtomicU64] {
        self.shards[shard()].get_or_init(|| {
            (0..self.labels.len() * STATUSES.len() * STRIDE)
                .map(|_| AtomicU64::new(0))
                .collect()
        })
    }

    /// Counts one request of `route`.
    pub fn observe(&self, route: &Route, method: &Method, status: StatusCode, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        if let (Some(row), Some(col)) = (route.row, status_column(status)) {
            let cell = (row * STATUSES.len() + col) * STRIDE;
            let bucket = DURATION_BUCKETS.partition_point(|b| *b < micros);
            let cells = self.cells();
            cells[cell + bucket].fetch_add(1, Ordering::Relaxed);
            cells[cell + STRIDE - 1].fetch_add(micros, Ordering::Relaxed);
            return;
        }
        let key = (
            method_label(method).to_owned(),
            route.label.as_deref().unwrap_or(UNMATCHED).to_owned(),
            status.as_u16(),
        );
        let mut other = self.other.lock().unwrap_or_else(|e| e.into_inner());
        other
            .entry(key)
            .or_insert_with(|| Histogram::new(DURATION_BUCKETS))
            .observe(micros);
    }

    /// A cell's counts per bucket and sum, over every shard.
    fn summed(&self, cell: usize) -> ([u64; STRIDE - 1], u64) {
        let mut counts = [0; STRIDE - 1];
        let mut sum = 0;
        for cells in self.shards.iter().filter_map(OnceLock::get) {
            let slots = &cells[cell * STRIDE..(cell + 1) * STRIDE];
            for (count, slot) in counts.iter_mut().zip(slots) {
                *count += slot.load(Ordering::Relaxed);
            }
            sum += slots[STRIDE - 1].load(Ordering::Relaxed);
        }
        (counts, sum)
    }

    /// Both families, the rows with requests only.
    pub fn render(&self, out: &mut String) {
        let other = self.other.lock().unwrap_or_else(|e| e.into_inner());
        // (labels, counts per bucket, sum)
        let mut seen: Vec<(String, Vec<u64>, u64)> = Vec::new();
        for (row, (method, route)) in self.labels.iter().enumerate() {
            for (col, status) in STATUSES.iter().enumerate() {
                let (counts, sum) = self.summed(row * STATUSES.len() + col);
                if counts.iter().any(|c| *c > 0) {
                    seen.push((
                        labels(method.as_str(), route, *status),
                        counts.to_vec(),
                        sum,
                    ));
                }
            }
        }
        for ((method, route, status), cell) in other.iter() {
            let (counts, sum) = cell.counts();
            seen.push((labels(method, route, *status), counts, sum));
        }
        out.push_str("# HELP http_requests_total HTTP requests answered, by declared route.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for (labels, counts, _) in &seen {
            let total: u64 = counts.iter().sum();
            let _ = writeln!(out, "http_requests_total{{{labels}}} {total}");
        }
        out.push_str(
            "# HELP http_request_duration_seconds Time to answer HTTP requests, by declared route.\n",
        );
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (labels, counts, sum) in &seen {
            render_counts(
                out,
                "http_request_duration_seconds",
                &format!("{labels},"),
                1e-6,
                DURATION_BUCKETS,
                counts,
                *sum,
            );
        }
    }
}

/// Route templates and methods hold no quote, backslash or newline; escaped
/// anyway, as the format requires.
fn labels(method: &str, route: &str, status: u16) -> String {
    format!(
        "method=\"{}\",route=\"{}\",status=\"{status}\"",
        escape(method),
        escape(route)
    )
}

pub fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}
