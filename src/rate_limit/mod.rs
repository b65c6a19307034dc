//! Rate limits as PostHog's (DRF's `SimpleRateThrottle`): for each throttle,
//! the times of the requests it let through within its window; a request
//! that would make more than the rate allows is refused with 429 and how long
//! until one falls out of the window. Behind PostHog's own switch,
//! `RATE_LIMIT_ENABLED` (off by default, as PostHog self-hosted).
//!
//! Who is counted: a personal API key by its id (PostHog counts by the
//! key's value), anonymous callers of public routes by their address
//! (`http::client`). One process keeps the windows in memory;
//! with `REDIS_URL` they live in Redis and every process shares them. Redis
//! unreachable: requests are let through (PostHog fails open too) and a
//! warning is logged once a minute, never a 5xx.

mod memory;
mod redis;

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::error::{ApiError, ApiResult};
use crate::time::OncePer;
pub use redis::RedisUrl;

/// N requests per period (DRF's `480/minute`: the period's first letter
/// counts, as DRF reads it).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rate {
    pub requests: u32,
    pub period: Duration,
}

impl Rate {
    pub const fn new(requests: u32, period_secs: u64) -> Rate {
        Rate {
            requests,
            period: Duration::from_secs(period_secs),
        }
    }

    fn window_micros(&self) -> i64 {
        i64::try_from(self.period.as_micros()).unwrap_or(i64::MAX)
    }
}

impl FromStr for Rate {
    type Err = String;

    fn from_str(s: &str) -> Result<Rate, String> {
        let bad = || format!("{s:?}: a rate is N/second, N/minute, N/hour or N/day");
        let (n, period) = s.trim().split_once('/').ok_or_else(bad)?;
        let requests = n.trim().parse::<u32>().map_err(|_| bad())?;
        let secs = match period.trim().chars().next() {
            Some('s') => 1,
            Some('m') => 60,
            Some('h') => 3600,
            Some('d') => 86_400,
            _ => return Err(bad()),
        };
        if requests == 0 {
            return Err(format!("{s:?}: at least one request per period"));
        }
        Ok(Rate::new(requests, secs))
    }
}

impl fmt::Display for Rate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let period = match self.period.as_secs() {
            1 => "second",
            60 => "minute",
            3600 => "hour",
            _ => "day",
        };
        write!(f, "{}/{period}", self.requests)
    }
}

/// PostHog's limits on the legal-document signing webhook, per address.
pub const SIGNING_WEBHOOK: [Rate; 2] = [Rate::new(5, 60), Rate::new(30, 3600)];

/// Password changes per user (PostHog's throttle on a user update that
/// carries a password): counted whether or not rate limits are on, since
/// it bounds guesses of the current password.
pub const PASSWORD_CHANGE: Rate = Rate::new(5, 60);

#[derive(Clone, PartialEq, Eq)]
pub struct RateLimitSettings {
    pub enabled: bool,
    pub burst: Rate,
    pub sustained: Rate,
    /// Invite sign-ups per address (PostHog's `SIGNUP_IP_THROTTLE_RATE`).
    pub signup: Rate,
    pub redis_url: Option<RedisUrl>,
}

impl RateLimitSettings {
    pub fn off() -> RateLimitSettings {
        RateLimitSettings {
            enabled: false,
            burst: Rate::new(480, 60),
            sustained: Rate::new(4800, 3600),
            signup: Rate::new(5, 86_400),
            redis_url: None,
        }
    }

    /// PostHog's rates, switched on, counted in this process.
    pub fn on() -> RateLimitSettings {
        RateLimitSettings {
            enabled: true,
            ..RateLimitSettings::off()
        }
    }
}

// The Redis URL may hold a password.
impl fmt::Debug for RateLimitSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimitSettings")
            .field("enabled", &self.enabled)
            .field("burst", &self.burst.to_string())
            .field("sustained", &self.sustained.to_string())
            .field("signup", &self.signup.to_string())
            .field("redis_url", &self.redis_url)
            .finish()
    }
}

/// Which limits a route is under, declared with the route.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Throttle {
    /// PostHog's default: burst and sustained, per key (per address for
    /// anonymous callers).
    Api,
    /// Never limited (liveness checks).
    Exempt,
    /// Invite sign-up: per address, PostHog's `SignupIPThrottle`.
    Signup,
    /// The legal-document signing webhook: per address, 5/minute, 30/hour.
    SigningWebhook,
}

/// One window to count a request in: its name (scope and who) and its rate.
struct Window {
    key: String,
    rate: Rate,
}

/// Whether a request fits a window; when not, how long until one does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Allowed,
    /// Microseconds until the oldest request counted leaves the window.
    Wait(i64),
}

/// DRF's rule for one window: `times` are the requests counted so far, any
/// order; the request at `now` fits when fewer than the rate are younger
/// than the window (a time exactly a window old no longer counts).
pub fn verdict(times: &[i64], now: i64, rate: Rate) -> Verdict {
    let window = rate.window_micros();
    let live: Vec<i64> = times
        .iter()
        .copied()
        .filter(|t| *t > now.saturating_sub(window))
        .collect();
    if live.len() < rate.requests as usize {
        return Verdict::Allowed;
    }
    let oldest = live.iter().copied().min().unwrap_or(now);
    Verdict::Wait((window - (now - oldest)).max(1))
}

/// The 429 for the windows that refused: DRF waits for the longest, in
/// whole seconds rounded up.
fn refusal(waits: impl IntoIterator<Item = i64>) -> ApiResult<()> {
    match waits.into_iter().max() {
        None => Ok(()),
        Some(micros) => {
            let secs = u64::try_from(micros)
                .unwrap_or(1)
                .div_ceil(1_000_000)
                .max(1);
            Err(ApiError::throttled(Some(
                u32::try_from(secs).unwrap_or(u32::MAX),
            )))
        }
    }
}

enum Store {
    Memory(memory::Store),
    Redis(redis::Store),
}

pub struct RateLimiter {
    settings: RateLimitSettings,
    store: Store,
    warn: OncePer,
    /// Requests refused with 429 (`/metrics`).
    refused: AtomicU64,
}

impl RateLimiter {
    pub fn new(settings: RateLimitSettings) -> RateLimiter {
        let store = match &settings.redis_url {
            Some(url) => Store::Redis(redis::Store::new(url.clone())),
            None => Store::Memory(memory::Store::new()),
        };
        RateLimiter {
            settings,
            store,
            warn: OncePer::new(Duration::from_secs(60)),
            refused: AtomicU64::new(0),
        }
    }

    /// Requests refused so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// A request made with the personal API key `key_id` (a rolled key
    /// keeps its budget: rolling cannot escape a limit).
    pub async fn key(&self, key_id: &str) -> ApiResult<()> {
        if !self.settings.enabled {
            return Ok(());
        }
        let who = key_id;
        self.count(vec![
            Window {
                key: format!("burst:{who}"),
                rate: self.settings.burst,
            },
            Window {
                key: format!("sustained:{who}"),
                rate: self.settings.sustained,
            },
        ])
        .await
    }

    /// A password change by the user `user_id` ([`PASSWORD_CHANGE`]).
    pub async fn password_change(&self, user_id: i64) -> ApiResult<()> {
        self.count(vec![Window {
            key: format!("password_change:{user_id}"),
            rate: PASSWORD_CHANGE,
        }])
        .await
    }

    /// An anonymous request to a public route declared under `throttle`,
    /// from `addr` (unknown in the in-process tests: one shared address).
    pub async fn address(&self, throttle: Throttle, addr: Option<IpAddr>) -> ApiResult<()> {
        if !self.settings.enabled {
            return Ok(());
        }
        let who = addr.map_or_else(|| "unknown".to_string(), |a| a.to_string());
        let windows = match throttle {
            Throttle::Exempt => return Ok(()),
            Throttle::Api => vec![
                ("burst", self.settings.burst),
                ("sustained", self.settings.sustained),
            ],
            Throttle::Signup => vec![("signup_ip", self.settings.signup)],
            Throttle::SigningWebhook => vec![
                ("legal_webhook_minute", SIGNING_WEBHOOK[0]),
                ("legal_webhook_hour", SIGNING_WEBHOOK[1]),
            ],
        };
        let windows = windows
            .into_iter()
            .map(|(scope, rate)| Window {
                key: format!("{scope}:ip:{who}"),
                rate,
            })
            .collect();
        self.count(windows).await
    }

    async fn count(&self, windows: Vec<Window>) -> ApiResult<()> {
        let verdicts = match &self.store {
            Store::Memory(m) => m.count(&windows),
            Store::Redis(r) => match r.count(&windows).await {
                Ok(v) => v,
                Err(e) => {
                    if self.warn.now() {
                        tracing::warn!(
                            error = %e,
                            "rate limits: Redis unreachable, requests are not limited"
                        );
                    }
                    return Ok(());
                }
            },
        };
        let answer = refusal(verdicts.into_iter().filter_map(|v| match v {
            Verdict::Allowed => None,
            Verdict::Wait(w) => Some(w),
        }));
        if answer.is_err() {
            self.refused.fetch_add(1, Ordering::Relaxed);
        }
        answer
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_drf_reads_them() {
        assert_eq!("480/minute".parse(), Ok(Rate::new(480, 60)));
        assert_eq!("4800/hour".parse(), Ok(Rate::new(4800, 3600)));
        assert_eq!("5/day".parse(), Ok(Rate::new(5, 86_400)));
        assert_eq!("10/s".parse(), Ok(Rate::new(10, 1)));
        assert_eq!(" 3 / min ".parse(), Ok(Rate::new(3, 60)));
        for bad in [
            "",
            "480",
            "x/minute",
            "480/week",
            "0/minute",
            "-1/minute",
            "480/",
        ] {
            assert!(bad.parse::<Rate>().is_err(), "{bad:?}");
        }
        assert_eq!(Rate::new(480, 60).to_string(), "480/minute");
    }

    #[test]
    fn a_window_refuses_the_request_past_its_rate_until_the_oldest_leaves() {
        let rate = Rate::new(3, 60);
        let s = 1_000_000;
        assert_eq!(verdict(&[], 0, rate), Verdict::Allowed);
        assert_eq!(verdict(&[0, s], 2 * s, rate), Verdict::Allowed);
        assert_eq!(verdict(&[0, s, 2 * s], 3 * s, rate), Verdict::Wait(57 * s));
        // Exactly a window old no longer counts (DRF drops `<= now - duration`).
        assert_eq!(verdict(&[0, s, 2 * s], 60 * s, rate), Verdict::Allowed);
        assert_eq!(verdict(&[0, s, 2 * s], 60 * s - 1, rate), Verdict::Wait(1));
    }

    #[test]
    fn the_longest_wait_in_whole_seconds() {
        assert_eq!(refusal([]), Ok(()));
        let e = refusal([1, 2_500_000]).unwrap_err();
        assert_eq!(e.status.as_u16(), 429);
        assert_eq!(
            e.detail,
            "Request was throttled. Expected available in 3 seconds."
        );
        assert_eq!(e.header, Some(crate::error::ErrorHeader::RetryAfter(3)));
        let e = refusal([1]).unwrap_err();
        assert_eq!(
            e.detail,
            "Request was throttled. Expected available in 1 second."
        );
        assert_eq!((e.kind, e.code.as_ref()), ("throttled_error", "throttled"));
    }

    #[tokio::test]
    async fn in_memory_limits_count_per_key_and_per_address() {
        let limiter = RateLimiter::new(RateLimitSettings {
            burst: Rate::new(3, 60),
            ..RateLimitSettings::on()
        });
        for _ in 0..3 {
            limiter.key("a".repeat(64).as_str()).await.unwrap();
        }
        let e = limiter.key(&"a".repeat(64)).await.unwrap_err();
        assert_eq!(e.status.as_u16(), 429);
        limiter.key(&"b".repeat(64)).await.expect("another key");
        let addr = Some("192.0.2.1".parse().unwrap());
        for _ in 0..3 {
            limiter.address(Throttle::Api, addr).await.unwrap();
        }
        assert!(limiter.address(Throttle::Api, addr).await.is_err());
        limiter
            .address(Throttle::Exempt, addr)
            .await
            .expect("exempt");
        for _ in 0..5 {
            limiter
                .address(Throttle::SigningWebhook, addr)
                .await
                .unwrap();
        }
        assert!(limiter
            .address(Throttle::SigningWebhook, addr)
            .await
            .is_err());
        let off = RateLimiter::new(RateLimitSettings::off());
        for _ in 0..1000 {
            off.key("a").await.expect("off");
        }
    }
}
