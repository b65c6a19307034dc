//! Which phases a run measures (`PRICKLE_BENCH_ONLY`) and the targets it is
//! held to: issue 16's, with issue 15's cost of the access rules and the
//! invite and member-list floors kept beside them.

use super::postgres;
use super::{
    Outcome, HEALTH, INVITES_CREATE, LIST, MEMBERS_FIRST, MEMBERS_LAST, PATCH_FULL, PATCH_NORMAL,
    RETRIEVE, RETRIEVE_OWNER, RETRIEVE_PRIVATE,
};

/// `PRICKLE_BENCH_ONLY`: comma-separated prefixes of phase names; unset or
/// empty, every phase runs.
pub struct Only(Vec<String>);

impl Only {
    /// Panics on a prefix that names none of `phases`: a typo would
    /// otherwise measure nothing but `/_health` and look like a result.
    pub fn from_env(phases: &[&str]) -> Only {
        let only = Only(
            std::env::var("PRICKLE_BENCH_ONLY")
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(str::to_string)
                .collect(),
        );
        for prefix in &only.0 {
            assert!(
                phases.iter().any(|p| p.starts_with(prefix.as_str())),
                "PRICKLE_BENCH_ONLY: {prefix:?} begins no phase's name; the phases: {phases:?}"
            );
        }
        only
    }

    /// `/_health` always runs: every other figure is a ratio to it.
    pub fn runs(&self, phase: &str) -> bool {
        phase == HEALTH || self.0.is_empty() || self.0.iter().any(|p| phase.starts_with(p.as_str()))
    }

    pub fn any(&self, phases: &[&str]) -> bool {
        phases.iter().any(|p| self.runs(p))
    }
}

/// A target and what the run measured for it: `None` when a phase it
/// needs did not run.
pub struct Target {
    pub what: &'static str,
    pub result: Option<(bool, String)>,
}

/// `value >= min`, shown as a ratio.
fn at_least(what: &'static str, value: Option<f64>, min: f64) -> Target {
    Target {
        what,
        result: value.map(|v| (v >= min, format!("{v:.3}x"))),
    }
}

pub fn targets(outcomes: &[Outcome], peak_rss_mb: Option<f64>) -> Vec<Target> {
    let outcome = |name: &str| outcomes.iter().find(|o| o.name == name);
    let rps = |name: &str| outcome(name).map(|o| o.rps);
    let ratio = |name: &str, to: &str| Some(rps(name)? / rps(to)?);
    let p99 = outcome(RETRIEVE).map(|o| o.p99_ms);
    vec![
        at_least(
            "GET projects/:id/ >= 0.45x health",
            ratio(RETRIEVE, HEALTH),
            0.45,
        ),
        Target {
            what: "GET projects/:id/ p99 <= 5 ms",
            result: p99.map(|ms| (ms <= 5.0, format!("{ms:.2} ms"))),
        },
        at_least(
            "GET projects/:id/ private member >= 0.9x owner's",
            ratio(RETRIEVE_PRIVATE, RETRIEVE_OWNER),
            0.9,
        ),
        at_least(
            "GET projects/?limit=100 >= 0.06x health",
            ratio(LIST, HEALTH),
            0.06,
        ),
        at_least(
            "PATCH projects/:id/ FULL >= 0.15x health",
            ratio(PATCH_FULL, HEALTH),
            0.15,
        ),
        at_least(
            "PATCH projects/:id/ normal >= 0.1x health",
            ratio(PATCH_NORMAL, HEALTH),
            0.1,
        ),
        at_least(
            "GET members/ offset 0 >= 0.4x health",
            ratio(MEMBERS_FIRST, HEALTH),
            0.4,
        ),
        at_least(
            "GET members/ offset 9900 >= 0.5x offset 0",
            ratio(MEMBERS_LAST, MEMBERS_FIRST),
            0.5,
        ),
        at_least(
            "POST invites/ >= 0.1x health",
            ratio(INVITES_CREATE, HEALTH),
            0.1,
        ),
        at_least(
            "PG GET projects/:id/ >= 0.5x SQLite's",
            ratio(postgres::RETRIEVE, RETRIEVE),
            0.5,
        ),
        at_least(
            "PG GET projects/:id/ x2 procs >= 0.95x one's",
            ratio(postgres::RETRIEVE_X2, postgres::RETRIEVE),
            0.95,
        ),
        // Of the SQLite server, which always runs: a figure it cannot read fails.
        Target {
            what: "peak RSS <= 60 MB",
            result: Some((
                peak_rss_mb.is_some_and(|mb| mb <= 60.0),
                peak_rss_mb.map_or("?".to_string(), |mb| format!("{mb:.1} MB")),
            )),
        },
    ]
}
