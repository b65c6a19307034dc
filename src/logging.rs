//! Where the process's log lines go and how they look: stderr, as text
//! (coloured only on a terminal, so a log file holds no escape codes) or as
//! one JSON object per line (`PRICKLE_LOG_FORMAT=json`). What each request
//! logs is `http::request_log`'s.
//!
//! A line logged while a request is handled names it as if from a span
//! `request{request_id=...}`: text puts it before the target, JSON under
//! `span`. The id comes from the request's scope (`request_log`), not from
//! a `tracing` span, which would cost every request whether or not anything
//! is logged; the formats here are what write it.

use std::fmt;
use std::io::IsTerminal;

use axum::http::HeaderValue;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields, FormattedFields, MakeWriter};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::EnvFilter;

use crate::http::request_log;

/// `PRICKLE_LOG_FORMAT`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

/// Reads `PRICKLE_LOG_FORMAT` / `--log-format`; anything else than `text` or
/// `json` is refused at start-up.
pub fn parse_log_format(s: &str) -> Result<LogFormat, String> {
    match s {
        "text" => Ok(LogFormat::Text),
        "json" => Ok(LogFormat::Json),
        _ => Err("PRICKLE_LOG_FORMAT must be `text` or `json`".to_string()),
    }
}

/// Installs the process's subscriber: `RUST_LOG`'s filter, else `default_filter`.
pub fn init(format: LogFormat, default_filter: &str) {
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let ansi = format == LogFormat::Text && std::io::stderr().is_terminal();
    let subscriber = subscriber(format, filter, std::io::stderr, ansi);
    if let Err(e) = tracing::subscriber::set_global_default(subscriber) {
        eprintln!("logging was already set up: {e}");
    }
}

/// The subscriber [`init`] installs, writing to `writer` (tests read it).
pub fn subscriber<W>(
    format: LogFormat,
    filter: EnvFilter,
    writer: W,
    ansi: bool,
) -> impl Subscriber + Send + Sync + 'static
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .with_writer(writer)
        .with_env_filter(filter)
        .with_ansi(ansi)
        .event_format(Line(format))
        .finish()
}

/// One log line in either format.
struct Line(LogFormat);

impl<S, N> FormatEvent<S, N> for Line
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let request_id = request_log::current_request_id();
        match self.0 {
            LogFormat::Text => text(ctx, writer, event, request_id.as_ref()),
            LogFormat::Json => json(writer, event, request_id.as_ref()),
        }
    }
}

/// An ANSI style's parameter, applied only when the writer takes them.
fn styled(w: &mut Writer<'_>, style: &str, text: impl fmt::Display) -> fmt::Result {
    if w.has_ansi_escapes() {
        write!(w, "\x1b[{style}m{text}\x1b[0m")
    } else {
        write!(w, "{text}")
    }
}

const BOLD: &str = "1";
const DIMMED: &str = "2";

/// `2024-05-01T12:00:00.000000Z  INFO request{request_id=...}: target: message k=v`,
/// as `tracing_subscriber`'s full format writes a line within a span.
fn text<S, N>(
    ctx: &FmtContext<'_, S, N>,
    mut w: Writer<'_>,
    event: &Event<'_>,
    request_id: Option<&HeaderValue>,
) -> fmt::Result
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    let meta = event.metadata();
    if w.has_ansi_escapes() {
        write!(w, "\x1b[{DIMMED}m")?;
        SystemTime.format_time(&mut w)?;
        write!(w, "\x1b[0m ")?;
    } else {
        SystemTime.format_time(&mut w)?;
        w.write_char(' ')?;
    }
    let colour = match *meta.level() {
        Level::TRACE => "35",
        Level::DEBUG => "34",
        Level::INFO => "32",
        Level::WARN => "33",
        Level::ERROR => "31",
    };
    styled(&mut w, colour, format_args!("{:>5}", meta.level().as_str()))?;
    w.write_char(' ')?;
    let mut in_span = false;
    if let Some(id) = request_id.and_then(|id| id.to_str().ok()) {
        styled(&mut w, BOLD, "request")?;
        styled(&mut w, BOLD, "{")?;
        write!(w, "request_id={id}")?;
        styled(&mut w, BOLD, "}")?;
        styled(&mut w, DIMMED, ":")?;
        in_span = true;
    }
    // prickle opens no span of its own; a dependency's are written as
    // tracing_subscriber writes them.
    for span in ctx.event_scope().into_iter().flat_map(|s| s.from_root()) {
        styled(&mut w, BOLD, span.metadata().name())?;
        if let Some(fields) = span.extensions().get::<FormattedFields<N>>() {
            if !fields.is_empty() {
                styled(&mut w, BOLD, "{")?;
                write!(w, "{fields}")?;
                styled(&mut w, BOLD, "}")?;
            }
        }
        styled(&mut w, DIMMED, ":")?;
        in_span = true;
    }
    if in_span {
        w.write_char(' ')?;
    }
    styled(&mut w, DIMMED, format_args!("{}:", meta.target()))?;
    w.write_char(' ')?;
    ctx.format_fields(w.by_ref(), event)?;
    writeln!(w)
}

/// `{"timestamp", "level", <the event's fields>, "target", "span"}`, as
/// `tracing_subscriber`'s JSON format writes a line within a span with its
/// event flattened.
fn json(mut w: Writer<'_>, event: &Event<'_>, request_id: Option<&HeaderValue>) -> fmt::Result {
    let meta = event.metadata();
    let mut line = Map::new();
    let mut timestamp = String::new();
    SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
    line.insert("timestamp".into(), timestamp.into());
    line.insert("level".into(), meta.level().as_str().into());
    event.record(&mut JsonFields(&mut line));
    line.insert("target".into(), meta.target().into());
    if let Some(id) = request_id.and_then(|id| id.to_str().ok()) {
        let mut span = Map::new();
        span.insert("request_id".into(), id.into());
        span.insert("name".into(), "request".into());
        line.insert("span".into(), span.into());
    }
    let text = serde_json::to_string(&line).map_err(|_| fmt::Error)?;
    writeln!(w, "{text}")
}

/// An event's fields as JSON values: numbers and booleans as such, the
/// rest as their text.
struct JsonFields<'a>(&'a mut Map<String, Value>);

impl JsonFields<'_> {
    fn put(&mut self, field: &Field, value: Value) {
        let name = field.name();
        let name = name.strip_prefix("r#").unwrap_or(name);
        self.0.insert(name.to_string(), value);
    }
}

impl Visit for JsonFields<'_> {
    fn record_f64(&mut self, field: &Field, value: f64) {
        let value = serde_json::Number::from_f64(value)
            .map(Value::Number)
            .unwrap_or_else(|| Value::String(value.to_string()));
        self.put(field, value);
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.put(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.put(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.put(field, value.into());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.put(field, value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.put(field, format!("{value:?}").into());
    }
}

#[cfg(test)]
mod tests {
    use std::io;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Log(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Log {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn logged(format: LogFormat, ansi: bool) -> String {
        let log = Log::default();
        let writer = log.clone();
        let subscriber = subscriber(format, EnvFilter::new("info"), move || writer.clone(), ansi);
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                error = "disk full",
                attempts = 3,
                ok = false,
                "checkpoint failed"
            );
        });
        let text = log.0.lock().unwrap().clone();
        String::from_utf8(text).unwrap()
    }

    #[test]
    fn text_lines_outside_a_request() {
        let line = logged(LogFormat::Text, false);
        let (time, rest) = line.split_once(' ').unwrap();
        assert!(time.ends_with('Z') && time.len() == 27, "{line}");
        assert_eq!(
            rest,
            " WARN prickle::logging::tests: checkpoint failed error=\"disk full\" attempts=3 ok=false\n"
        );
        let coloured = logged(LogFormat::Text, true);
        assert!(coloured.contains("\x1b[33m WARN\x1b[0m"), "{coloured:?}");
        assert!(!logged(LogFormat::Text, false).contains('\x1b'));
    }

    #[test]
    fn json_lines_outside_a_request() {
        let line = logged(LogFormat::Json, false);
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["level"], "WARN");
        assert_eq!(v["message"], "checkpoint failed");
        assert_eq!(v["error"], "disk full");
        assert_eq!(v["attempts"], 3);
        assert_eq!(v["ok"], false);
        assert_eq!(v["target"], "prickle::logging::tests");
        assert!(v.get("span").is_none(), "{line}");
        assert!(v["timestamp"].as_str().unwrap().ends_with('Z'));
        let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys.first().map(|k| k.as_str()), Some("timestamp"));
    }
}
