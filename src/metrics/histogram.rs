//! A Prometheus histogram of whole-number observations (microseconds,
//! writers in a batch), kept in atomics: observing is a few relaxed adds.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};

pub struct Histogram {
    /// Upper bounds, in the observations' unit, ascending.
    bounds: &'static [u64],
    /// Observations per bucket (not cumulative); the last is above every bound.
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl Histogram {
    pub fn new(bounds: &'static [u64]) -> Histogram {
        Histogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: u64) {
        let i = self.bounds.partition_point(|b| *b < value);
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// Observations so far.
    pub fn count(&self) -> u64 {
        self.buckets.iter().map(|b| b.load(Ordering::Relaxed)).sum()
    }

    /// The `_bucket`, `_sum` and `_count` lines of `name{labels}`; `unit`
    /// converts an observation to the exposed unit (1e-6: microseconds to
    /// seconds). `labels` is empty or ends with a comma.
    pub fn render(&self, out: &mut String, name: &str, labels: &str, unit: f64) {
        let (counts, sum) = self.counts();
        render_counts(out, name, labels, unit, self.bounds, &counts, sum);
    }

    /// Observations per bucket (not cumulative), and their sum.
    pub fn counts(&self) -> (Vec<u64>, u64) {
        let counts = self
            .buckets
            .iter()
            .map(|b| b.load(Ordering::Relaxed))
            .collect();
        (counts, self.sum.load(Ordering::Relaxed))
    }
}

/// A histogram's lines from its counts per bucket (not cumulative; one
/// more than `bounds`, the last above every bound) and the sum of its
/// observations, as [`Histogram::render`] writes them.
pub fn render_counts(
    out: &mut String,
    name: &str,
    labels: &str,
    unit: f64,
    bounds: &[u64],
    counts: &[u64],
    sum: u64,
) {
    let mut cumulative = 0;
    for (i, count) in counts.iter().enumerate() {
        cumulative += count;
        let le = match bounds.get(i) {
            Some(b) => format_float(*b as f64 * unit),
            None => "+Inf".to_string(),
        };
        let _ = writeln!(out, "{name}_bucket{{{labels}le=\"{le}\"}} {cumulative}");
    }
    let sum = sum as f64 * unit;
    let bare = labels.trim_end_matches(',');
    let braces = if bare.is_empty() {
        String::new()
    } else {
        format!("{{{bare}}}")
    };
    let _ = writeln!(out, "{name}_sum{braces} {}", format_float(sum));
    let _ = writeln!(out, "{name}_count{braces} {cumulative}");
}

/// A float as Prometheus prints one: shortest round-trip form.
fn format_float(v: f64) -> String {
    let text = format!("{v}");
    // Rounding the unit conversion (0.0025 * ...) can leave a long tail.
    let short = format!("{}", (v * 1e9).round() / 1e9);
    if short.len() < text.len() {
        short
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_cumulative_and_bounds_inclusive() {
        let h = Histogram::new(&[1, 2, 4]);
        for v in [1, 2, 3, 9] {
            h.observe(v);
        }
        let mut out = String::new();
        h.render(&mut out, "x", "a=\"b\",", 1.0);
        assert_eq!(
            out,
            "x_bucket{a=\"b\",le=\"1\"} 1\nx_bucket{a=\"b\",le=\"2\"} 2\n\
             x_bucket{a=\"b\",le=\"4\"} 3\nx_bucket{a=\"b\",le=\"+Inf\"} 4\n\
             x_sum{a=\"b\"} 15\nx_count{a=\"b\"} 4\n"
        );
        assert_eq!(h.count(), 4);
    }

    #[test]
    fn microseconds_render_as_seconds() {
        let h = Histogram::new(&[1_000, 2_500]);
        h.observe(2_500);
        let mut out = String::new();
        h.render(&mut out, "d", "", 1e-6);
        assert!(out.contains("d_bucket{le=\"0.001\"} 0\n"), "{out}");
        assert!(out.contains("d_bucket{le=\"0.0025\"} 1\n"), "{out}");
        assert!(out.contains("d_sum 0.0025\nd_count 1\n"), "{out}");
    }
}
