//! Where the process's log lines go and how they look: stderr, as text
//! (coloured only on a terminal, so a log file holds no escape codes) or as
//! one JSON object per line (`PRICKLE_LOG_FORMAT=json`). What each request
//! logs is `http::request_log`'s.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

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
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    match format {
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal()).init(),
        // The event's fields at the top level beside `timestamp`, `level`
        // and `target`; the request's span (its `request_id`) under `span`.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}
