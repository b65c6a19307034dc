//! Timestamps: bound from Rust as UTC microseconds since the epoch (never the
//! database's `now()`, so every process and both databases agree), rendered
//! the way PostHog's API renders them.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn now_micros() -> i64 {
    Utc::now().timestamp_micros()
}

pub fn from_micros(micros: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(micros).unwrap_or_default()
}

/// ISO-8601 UTC with `Z`; microseconds only when non-zero (as DRF renders).
pub fn format(micros: i64) -> String {
    let t = from_micros(micros);
    if micros.rem_euclid(1_000_000) == 0 {
        t.to_rfc3339_opts(SecondsFormat::Secs, true)
    } else {
        t.to_rfc3339_opts(SecondsFormat::Micros, true)
    }
}

pub fn format_opt(micros: Option<i64>) -> serde_json::Value {
    micros
        .map(|m| serde_json::Value::String(format(m)))
        .unwrap_or(serde_json::Value::Null)
}

/// A moment in a response: serialised as [`format`] renders it. Fields of
/// this type declare their schema as `#[schema(value_type = String, format = DateTime)]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Timestamp(pub i64);

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format(self.0))
    }
}

pub const HOUR_MICROS: i64 = 3_600_000_000;

/// Lets something through at most once per period (a warning that would
/// otherwise be logged for every request while a condition lasts).
pub struct OncePer {
    period_micros: i64,
    last: std::sync::atomic::AtomicI64,
}

impl OncePer {
    pub const fn new(period: std::time::Duration) -> OncePer {
        OncePer {
            period_micros: period.as_micros() as i64,
            last: std::sync::atomic::AtomicI64::new(i64::MIN),
        }
    }

    /// True for the first caller of each period.
    pub fn now(&self) -> bool {
        use std::sync::atomic::Ordering;
        let now = now_micros();
        let last = self.last.load(Ordering::Relaxed);
        now.saturating_sub(last) >= self.period_micros
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn once_per_lets_the_first_through() {
        let once = OncePer::new(std::time::Duration::from_secs(60));
        assert!(once.now());
        assert!(!once.now());
        let always = OncePer::new(std::time::Duration::ZERO);
        assert!(always.now() && always.now());
    }

    #[test]
    fn renders_like_drf() {
        let t = serde_json::to_string(&[Timestamp(1_714_557_600_123_456)]).unwrap();
        assert_eq!(t, r#"["2024-05-01T10:00:00.123456Z"]"#);
        assert_eq!(format(1_704_844_800_000_000), "2024-01-10T00:00:00Z");
        assert_eq!(format(1_714_557_600_123_456), "2024-05-01T10:00:00.123456Z");
    }
}
