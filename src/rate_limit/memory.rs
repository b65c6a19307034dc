//! The windows of one process, in memory.
//!
//! Memory is bounded: a window holds at most its rate's count of times, and
//! all windows together at most [`MAX_TIMES`]; past that, windows whose times
//! have all expired are dropped, and if that is not enough every window is
//! (the limits start afresh: failing open, as PostHog does when its cache
//! fails, rather than growing without bound under a flood of addresses).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use super::{verdict, Verdict, Window};
use crate::time::now_micros;

/// About 16 MB of timestamps.
const MAX_TIMES: usize = 2_000_000;

pub struct Store {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    windows: HashMap<String, Log>,
    times: usize,
}

struct Log {
    /// Oldest first.
    times: VecDeque<i64>,
    window_micros: i64,
}

impl Store {
    pub fn new() -> Store {
        Store {
            state: Mutex::new(State::default()),
        }
    }

    pub fn count(&self, windows: &[Window]) -> Vec<Verdict> {
        let now = now_micros();
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.times >= MAX_TIMES {
            state.forget_expired(now);
        }
        windows
            .iter()
            .map(|w| {
                let State { windows, times } = &mut *state;
                let log = windows.entry(w.key.clone()).or_insert_with(|| Log {
                    times: VecDeque::new(),
                    window_micros: w.rate.window_micros(),
                });
                let before = log.times.len();
                let floor = now.saturating_sub(log.window_micros);
                while log.times.front().is_some_and(|t| *t <= floor) {
                    log.times.pop_front();
                }
                let v = verdict(log.times.make_contiguous(), now, w.rate);
                if v == Verdict::Allowed {
                    log.times.push_back(now);
                }
                *times = (*times + log.times.len()).saturating_sub(before);
                v
            })
            .collect()
    }
}

impl State {
    fn forget_expired(&mut self, now: i64) {
        self.windows.retain(|_, log| {
            log.times
                .back()
                .is_some_and(|t| *t > now.saturating_sub(log.window_micros))
        });
        self.times = self.windows.values().map(|l| l.times.len()).sum();
        if self.times >= MAX_TIMES {
            tracing::warn!("rate limits: too many clients to track; every window starts afresh");
            self.windows.clear();
            self.times = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rate_limit::Rate;

    #[test]
    fn a_window_keeps_no_more_than_its_rate() {
        let store = Store::new();
        let w = [Window {
            key: "k".into(),
            rate: Rate::new(2, 60),
        }];
        assert_eq!(store.count(&w), [Verdict::Allowed]);
        assert_eq!(store.count(&w), [Verdict::Allowed]);
        for _ in 0..10 {
            assert!(matches!(store.count(&w)[..], [Verdict::Wait(_)]));
        }
        let state = store.state.lock().unwrap();
        assert_eq!(state.windows["k"].times.len(), 2);
        assert_eq!(state.times, 2);
    }
}
