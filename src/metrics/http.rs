//! `http_requests_total` and `http_request_duration_seconds`: one histogram
//! per (declared route, method, common status), built once from the declared
//! endpoints, so that counting a request is a lookup and a few atomic adds.
//! A combination outside the table (a method the path does not declare, a
//! rare status) goes to a map behind a lock.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Mutex;
use std::time::Duration;

use axum::http::{Method, StatusCode};

use super::histogram::Histogram;
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

pub struct HttpTable {
    /// Declared path (no trailing slash) -> its methods and their rows.
    rows: HashMap<&'static str, Vec<(Method, usize)>>,
    unmatched: Vec<(Method, usize)>,
    /// Each row's labels: method and route.
    labels: Vec<(Method, &'static str)>,
    /// Row-major: `labels.len() * STATUSES.len()`.
    cells: Box<[Histogram]>,
    /// (method, route, status) outside the table.
    other: Mutex<BTreeMap<(String, String, u16), Histogram>>,
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
        let cells = (0..labels.len() * STATUSES.len())
            .map(|_| Histogram::new(DURATION_BUCKETS))
            .collect();
        HttpTable {
            rows,
            unmatched,
            labels,
            cells,
            other: Mutex::new(BTreeMap::new()),
        }
    }

    /// Counts one request: `route` is the matched route without its trailing
    /// slash, `None` when no route matched.
    pub fn observe(
        &self,
        method: &Method,
        route: Option<&str>,
        status: StatusCode,
        took: Duration,
    ) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let row = match route {
            Some(path) => self.rows.get(path).map(Vec::as_slice),
            None => Some(self.unmatched.as_slice()),
        }
        .and_then(|methods| methods.iter().find(|(m, _)| m == method))
        .map(|(_, row)| *row);
        if let (Some(row), Some(col)) = (row, status_column(status)) {
            self.cells[row * STATUSES.len() + col].observe(micros);
            return;
        }
        let key = (
            method_label(method).to_owned(),
            route.unwrap_or(UNMATCHED).to_owned(),
            status.as_u16(),
        );
        let mut other = self.other.lock().unwrap_or_else(|e| e.into_inner());
        other
            .entry(key)
            .or_insert_with(|| Histogram::new(DURATION_BUCKETS))
            .observe(micros);
    }

    /// Both families, the rows with requests only.
    pub fn render(&self, out: &mut String) {
        let other = self.other.lock().unwrap_or_else(|e| e.into_inner());
        let mut seen = Vec::new();
        for (row, (method, route)) in self.labels.iter().enumerate() {
            for (col, status) in STATUSES.iter().enumerate() {
                let cell = &self.cells[row * STATUSES.len() + col];
                if cell.count() > 0 {
                    seen.push((labels(method.as_str(), route, *status), cell));
                }
            }
        }
        for ((method, route), cell) in other.iter().map(|((m, r, s), h)| ((m, (r, *s)), h)) {
            seen.push((labels(method, route.0, route.1), cell));
        }
        out.push_str("# HELP http_requests_total HTTP requests answered, by declared route.\n");
        out.push_str("# TYPE http_requests_total counter\n");
        for (labels, cell) in &seen {
            let _ = writeln!(out, "http_requests_total{{{labels}}} {}", cell.count());
        }
        out.push_str(
            "# HELP http_request_duration_seconds Time to answer HTTP requests, by declared route.\n",
        );
        out.push_str("# TYPE http_request_duration_seconds histogram\n");
        for (labels, cell) in &seen {
            cell.render(
                out,
                "http_request_duration_seconds",
                &format!("{labels},"),
                1e-6,
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
