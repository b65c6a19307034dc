//! Configuration shared by every command: flags first, then environment variables.

use std::fmt;
use std::time::Duration;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;

use crate::http::client::TrustedProxies;
use crate::rate_limit::{Rate, RateLimitSettings, RedisUrl};
use crate::storage::{DbOptions, Synchronous};

pub const DEFAULT_MAX_PROJECTS_PER_ORGANIZATION: i64 = 2000;
/// Each argon2 hash holds ~19 MiB: 4 at once stay under 80 MiB.
pub const DEFAULT_MAX_CONCURRENT_PASSWORD_HASHES: usize = 4;
/// How long a sign-up waits for a hash slot before its 503.
pub const PASSWORD_HASH_WAIT: Duration = Duration::from_secs(2);
/// Django's `SESSION_COOKIE_AGE`: two weeks.
pub const DEFAULT_SESSION_IDLE_SECONDS: u64 = 14 * 24 * 3600;
/// A session ends this long after its login however much it is used.
pub const DEFAULT_SESSION_MAX_SECONDS: u64 = 30 * 24 * 3600;

#[derive(Args, Clone)]
pub struct DatabaseArgs {
    /// sqlite://PATH (created when missing) or postgres://USER@HOST:PORT/DB
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://prickle.db",
        hide_env_values = true
    )]
    pub database_url: String,
    /// SQLite only: `full` syncs every commit to disk (survives a power cut);
    /// `normal` survives a killed process only.
    #[arg(
        long,
        env = "PRICKLE_SQLITE_SYNCHRONOUS",
        default_value = "full",
        ignore_case = true,
        value_parser = PossibleValuesParser::new(["full", "normal"])
            .try_map(|s| s.parse::<Synchronous>()),
    )]
    pub sqlite_synchronous: Synchronous,
}

impl DatabaseArgs {
    pub fn options(&self) -> DbOptions {
        DbOptions {
            sqlite_synchronous: self.sqlite_synchronous,
        }
    }
}

#[derive(Args, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Address to listen on.
    #[arg(long, env = "PRICKLE_BIND", default_value = "127.0.0.1:8000")]
    pub bind: String,
    /// Absolute base URL for next/previous links and invite links (default: http:// + the bind address).
    #[arg(long, env = "SITE_URL")]
    pub site_url: Option<String>,
    /// Most (non-demo) projects one organization may have.
    #[arg(long, env = "PRICKLE_MAX_PROJECTS_PER_ORGANIZATION", default_value_t = DEFAULT_MAX_PROJECTS_PER_ORGANIZATION)]
    pub max_projects_per_organization: i64,
    /// Key that signs live-events tokens (random per process when unset).
    #[arg(long, env = "SECRET_KEY", hide_env_values = true)]
    pub secret_key: Option<String>,
    /// Seconds to let in-flight requests finish after SIGTERM/SIGINT.
    #[arg(long, env = "PRICKLE_SHUTDOWN_GRACE_SECONDS", default_value_t = 30)]
    pub shutdown_grace_seconds: u64,
    /// Seconds to keep serving after SIGTERM/SIGINT with `/_ready` answering 503, so a load balancer stops sending first; then in-flight requests drain. 0 (the default): drain at once.
    #[arg(long, default_value_t = 0)]
    pub shutdown_delay_seconds: u64,
    /// Serve `GET /metrics` on this address (ADDR:PORT) instead of the main one.
    #[arg(long, env = "PRICKLE_METRICS_BIND")]
    pub metrics_bind: Option<String>,
    /// Entries the authorization cache keeps (keys, memberships, project rules); 0 turns it off.
    #[arg(long, env = "PRICKLE_AUTH_CACHE_ENTRIES", default_value_t = crate::auth::cache::DEFAULT_ENTRIES)]
    pub auth_cache_entries: usize,
    /// Bytes of rendered answers (project bodies, list pages) kept until the next commit to a SQLite database, shared by the whole process; 0 turns it off.
    #[arg(long, env = "PRICKLE_RENDER_CACHE_BYTES", default_value_t = crate::http::rendered::DEFAULT_BYTES)]
    pub render_cache_bytes: usize,
    /// Seconds a client has to send a request's headers, from their first byte (from the connection's opening for its first request).
    #[arg(long, env = "PRICKLE_HEADER_READ_TIMEOUT_SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_seconds: u64,
    /// Seconds a client has to send a request's body, from the end of its headers (408 after).
    #[arg(long, env = "PRICKLE_BODY_READ_TIMEOUT_SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_read_timeout_seconds: u64,
    /// Seconds a connection with no request in hand and nothing moving stays open.
    #[arg(long, env = "PRICKLE_KEEP_ALIVE_TIMEOUT_SECONDS", default_value_t = 75, value_parser = clap::value_parser!(u64).range(1..))]
    pub keep_alive_timeout_seconds: u64,
    /// Requests handled at once; beyond, 503 with Retry-After.
    #[arg(long, env = "PRICKLE_MAX_IN_FLIGHT_REQUESTS", default_value_t = 512, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_in_flight_requests: u64,
    /// Connections open at once; beyond, new ones are closed (kept to 3/4 of the file-descriptor limit).
    #[arg(long, env = "PRICKLE_MAX_CONNECTIONS", default_value_t = 4096, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections: u64,
    /// Connections open at once from one client address (trusted proxies excepted).
    #[arg(long, env = "PRICKLE_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_connections_per_address: u64,
    /// MiB that request bodies being read may hold beyond their first 16 KiB each.
    #[arg(long, env = "PRICKLE_MAX_BODY_BUFFER_MB", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=65536))]
    pub max_body_buffer_mib: u64,
    /// Proxies (addresses or CIDRs, comma-separated) whose X-Forwarded-For names the client.
    #[arg(long, env = "PRICKLE_TRUSTED_PROXIES", default_value = "", value_parser = clap::builder::ValueParser::new(parse_trusted_proxies))]
    pub trusted_proxies: TrustedProxies,
    #[command(flatten)]
    pub rate_limits: RateLimitArgs,
    /// Password hashes (sign-up, ~19 MiB each) run at once; beyond, a sign-up waits up to 2 s, then 503 with Retry-After.
    #[arg(long, env = "PRICKLE_MAX_CONCURRENT_PASSWORD_HASHES", default_value_t = DEFAULT_MAX_CONCURRENT_PASSWORD_HASHES, value_parser = clap::value_parser!(u64).range(1..=1024).map(|n| n as usize))]
    pub max_concurrent_password_hashes: usize,
    /// Seconds a login session lasts unused (it is renewed while used).
    #[arg(long, env = "PRICKLE_SESSION_IDLE_SECONDS", default_value_t = DEFAULT_SESSION_IDLE_SECONDS, value_parser = clap::value_parser!(u64).range(60..=315_360_000))]
    pub session_idle_seconds: u64,
    /// Seconds a login session lasts at most from its login, however used.
    #[arg(long, env = "PRICKLE_SESSION_MAX_SECONDS", default_value_t = DEFAULT_SESSION_MAX_SECONDS, value_parser = clap::value_parser!(u64).range(60..=315_360_000))]
    pub session_max_seconds: u64,
    #[command(flatten)]
    pub email: EmailArgs,
}

fn parse_trusted_proxies(s: &str) -> Result<TrustedProxies, String> {
    s.parse()
}

fn parse_redis_url(s: &str) -> Result<RedisUrl, String> {
    s.parse()
}

fn parse_rate(s: &str) -> Result<Rate, String> {
    s.parse()
}

/// Rate limits, with PostHog's names where it has them.
#[derive(Args, Clone)]
pub struct RateLimitArgs {
    /// Turns on PostHog's rate limits (off by default, as in PostHog self-hosted).
    #[arg(long, env = "RATE_LIMIT_ENABLED", default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub rate_limit_enabled: bool,
    /// Per personal API key (anonymous requests: per address), as N/second|minute|hour|day.
    #[arg(long, env = "PRICKLE_RATE_LIMIT_BURST", default_value = "480/minute", value_parser = clap::builder::ValueParser::new(parse_rate))]
    pub rate_limit_burst: Rate,
    #[arg(long, env = "PRICKLE_RATE_LIMIT_SUSTAINED", default_value = "4800/hour", value_parser = clap::builder::ValueParser::new(parse_rate))]
    pub rate_limit_sustained: Rate,
    /// Invite sign-ups per client address.
    #[arg(long, env = "SIGNUP_IP_THROTTLE_RATE", default_value = "5/day", value_parser = clap::builder::ValueParser::new(parse_rate))]
    pub signup_ip_throttle_rate: Rate,
    /// redis://[:PASSWORD@]HOST[:PORT][/DB]: counters shared by every process (in memory without it).
    #[arg(long, env = "REDIS_URL", hide_env_values = true, value_parser = clap::builder::ValueParser::new(parse_redis_url))]
    pub redis_url: Option<RedisUrl>,
}

impl RateLimitArgs {
    pub fn settings(&self) -> RateLimitSettings {
        RateLimitSettings {
            enabled: self.rate_limit_enabled,
            burst: self.rate_limit_burst,
            sustained: self.rate_limit_sustained,
            signup: self.signup_ip_throttle_rate,
            redis_url: self.redis_url.clone(),
        }
    }
}

/// Outbound email (invites), with PostHog's variable names. Sent only when
/// `SITE_URL` and `EMAIL_HOST` are set and `EMAIL_ENABLED` is not false.
#[derive(Args, Clone)]
pub struct EmailArgs {
    #[arg(long, env = "EMAIL_ENABLED", default_value_t = true, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub email_enabled: bool,
    /// SMTP server.
    #[arg(long, env = "EMAIL_HOST")]
    pub email_host: Option<String>,
    #[arg(long, env = "EMAIL_PORT", default_value_t = 25)]
    pub email_port: u16,
    #[arg(long, env = "EMAIL_HOST_USER")]
    pub email_host_user: Option<String>,
    #[arg(long, env = "EMAIL_HOST_PASSWORD", hide_env_values = true)]
    pub email_host_password: Option<String>,
    /// STARTTLS after connecting.
    #[arg(long, env = "EMAIL_USE_TLS", default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub email_use_tls: bool,
    /// TLS from the first byte (SMTPS).
    #[arg(long, env = "EMAIL_USE_SSL", default_value_t = false, action = clap::ArgAction::Set, value_parser = clap::builder::BoolishValueParser::new())]
    pub email_use_ssl: bool,
    #[arg(long, env = "EMAIL_DEFAULT_FROM", default_value = "root@localhost")]
    pub email_default_from: String,
}

// Never print the password.
impl fmt::Debug for EmailArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmailArgs")
            .field("email_enabled", &self.email_enabled)
            .field("email_host", &self.email_host)
            .field("email_port", &self.email_port)
            .field("email_host_user", &self.email_host_user)
            .field(
                "email_host_password",
                &self.email_host_password.as_ref().map(|_| HIDDEN),
            )
            .field("email_use_tls", &self.email_use_tls)
            .field("email_use_ssl", &self.email_use_ssl)
            .field("email_default_from", &self.email_default_from)
            .finish()
    }
}

/// How to reach the SMTP server.
#[derive(Clone)]
pub struct EmailSettings {
    pub host: String,
    pub port: u16,
    pub user: Option<String>,
    pub password: Option<String>,
    pub use_tls: bool,
    pub use_ssl: bool,
    pub from: String,
}

// Never print the password.
impl std::fmt::Debug for EmailSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmailSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("use_tls", &self.use_tls)
            .field("use_ssl", &self.use_ssl)
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl EmailSettings {
    /// Plain SMTP to `host:port` from `from`, no credentials (tests, local relays).
    pub fn plain(host: &str, port: u16, from: &str) -> EmailSettings {
        EmailSettings {
            host: host.to_string(),
            port,
            user: None,
            password: None,
            use_tls: false,
            use_ssl: false,
            from: from.to_string(),
        }
    }
}

/// `SITE_URL`, else `http://` + the bind address (the admin CLI contract).
pub fn site_url(explicit: Option<&str>, bind: &str) -> String {
    match explicit {
        Some(url) => url.trim_end_matches('/').to_string(),
        None => format!("http://{bind}"),
    }
}

/// What the HTTP layer needs to know, resolved from [`ServeArgs`].
#[derive(Clone)]
pub struct Config {
    /// No trailing slash.
    pub site_url: String,
    pub max_projects_per_organization: i64,
    pub secret_key: Vec<u8>,
    /// Outbound email; `None`: invites are not emailed.
    pub email: Option<EmailSettings>,
    pub rate_limits: RateLimitSettings,
    pub max_concurrent_password_hashes: usize,
    pub password_hash_wait: Duration,
    /// `/metrics` is served on its own address (`PRICKLE_METRICS_BIND`),
    /// so the main port answers it 404.
    pub metrics_elsewhere: bool,
    /// The authorization cache's bound (`auth::cache`); 0: off.
    pub auth_cache_entries: usize,
    /// The rendered-answer caches' budget (`http::rendered`); 0: off.
    pub render_cache_bytes: usize,
    /// How long a login session lasts unused, and at most (`sessions`).
    pub session_idle: Duration,
    pub session_max: Duration,
}

impl Config {
    pub fn new(
        site_url: &str,
        max_projects_per_organization: i64,
        secret_key: Option<&str>,
    ) -> Config {
        Config {
            site_url: site_url.trim_end_matches('/').to_string(),
            max_projects_per_organization,
            secret_key: match secret_key {
                Some(k) if !k.is_empty() => k.as_bytes().to_vec(),
                _ => crate::auth::keys::random_token(64).into_bytes(),
            },
            email: None,
            rate_limits: RateLimitSettings::off(),
            max_concurrent_password_hashes: DEFAULT_MAX_CONCURRENT_PASSWORD_HASHES,
            password_hash_wait: PASSWORD_HASH_WAIT,
            metrics_elsewhere: false,
            auth_cache_entries: crate::auth::cache::DEFAULT_ENTRIES,
            render_cache_bytes: crate::http::rendered::DEFAULT_BYTES,
            session_idle: Duration::from_secs(DEFAULT_SESSION_IDLE_SECONDS),
            session_max: Duration::from_secs(DEFAULT_SESSION_MAX_SECONDS),
        }
    }

    pub fn with_rate_limits(mut self, rate_limits: RateLimitSettings) -> Config {
        self.rate_limits = rate_limits;
        self
    }

    pub fn with_email(mut self, email: EmailSettings) -> Config {
        self.email = Some(email);
        self
    }

    pub fn from_serve_args(args: &ServeArgs) -> Config {
        let site_url = site_url(args.site_url.as_deref(), &args.bind);
        let mut config = Config::new(
            &site_url,
            args.max_projects_per_organization,
            args.secret_key.as_deref(),
        );
        config.rate_limits = args.rate_limits.settings();
        config.max_concurrent_password_hashes = args.max_concurrent_password_hashes;
        config.metrics_elsewhere = args.metrics_bind.is_some();
        config.auth_cache_entries = args.auth_cache_entries;
        config.render_cache_bytes = args.render_cache_bytes;
        config.session_idle = Duration::from_secs(args.session_idle_seconds);
        config.session_max = Duration::from_secs(args.session_max_seconds);
        // PostHog emails only with an absolute site URL to link to.
        let e = &args.email;
        if let (true, Some(_), Some(host)) = (e.email_enabled, &args.site_url, &e.email_host) {
            if !host.trim().is_empty() {
                config.email = Some(EmailSettings {
                    host: host.trim().to_string(),
                    port: e.email_port,
                    user: e.email_host_user.clone().filter(|u| !u.is_empty()),
                    password: e.email_host_password.clone().filter(|p| !p.is_empty()),
                    use_tls: e.email_use_tls,
                    use_ssl: e.email_use_ssl,
                    from: e.email_default_from.clone(),
                });
            }
        }
        config
    }
}

// Debug by hand: configuration gets printed, and neither the secret key nor
// the database password may be. A field added later shows as `..` until it
// is listed here.

/// How a secret shows in Debug output.
const HIDDEN: &str = "<hidden>";

impl fmt::Debug for DatabaseArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DatabaseArgs")
            .field(
                "database_url",
                &crate::storage::redact_url(&self.database_url),
            )
            .field("sqlite_synchronous", &self.sqlite_synchronous)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServeArgs")
            .field("database", &self.database)
            .field("bind", &self.bind)
            .field("site_url", &self.site_url)
            .field(
                "max_projects_per_organization",
                &self.max_projects_per_organization,
            )
            .field("secret_key", &self.secret_key.as_ref().map(|_| HIDDEN))
            .field("email", &self.email)
            .field("shutdown_grace_seconds", &self.shutdown_grace_seconds)
            .field("shutdown_delay_seconds", &self.shutdown_delay_seconds)
            .field("metrics_bind", &self.metrics_bind)
            .field("auth_cache_entries", &self.auth_cache_entries)
            .field("render_cache_bytes", &self.render_cache_bytes)
            .field(
                "header_read_timeout_seconds",
                &self.header_read_timeout_seconds,
            )
            .field("body_read_timeout_seconds", &self.body_read_timeout_seconds)
            .field(
                "keep_alive_timeout_seconds",
                &self.keep_alive_timeout_seconds,
            )
            .field("max_in_flight_requests", &self.max_in_flight_requests)
            .field("max_connections", &self.max_connections)
            .field(
                "max_connections_per_address",
                &self.max_connections_per_address,
            )
            .field("max_body_buffer_mib", &self.max_body_buffer_mib)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("rate_limits", &self.rate_limits.settings())
            .field(
                "max_concurrent_password_hashes",
                &self.max_concurrent_password_hashes,
            )
            .field("session_idle_seconds", &self.session_idle_seconds)
            .field("session_max_seconds", &self.session_max_seconds)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("site_url", &self.site_url)
            .field(
                "max_projects_per_organization",
                &self.max_projects_per_organization,
            )
            .field("secret_key", &HIDDEN)
            .field("email", &self.email)
            .field("rate_limits", &self.rate_limits)
            .field("metrics_elsewhere", &self.metrics_elsewhere)
            .field("session_idle", &self.session_idle)
            .field("session_max", &self.session_max)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod debug_tests {
    use super::*;

    #[test]
    fn debug_output_hides_the_secret_key_and_the_database_password() {
        // Parsed, not built, so fields added later need no change here.
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            serve: ServeArgs,
        }
        let args = <Cli as clap::Parser>::parse_from([
            "prickle",
            "--database-url",
            "postgres://prickle:db-pass-123@db:5432/prickle?sslmode=require",
            "--bind",
            "127.0.0.1:8000",
            "--secret-key",
            "signing-key-456",
            "--email-host",
            "smtp.example.com",
            "--email-host-password",
            "smtp-pass-789",
            "--redis-url",
            "redis://:redis-pass-000@cache:6379/1",
        ])
        .serve;
        let config = Config::from_serve_args(&args);
        for shown in [
            format!("{args:?}"),
            format!("{args:#?}"),
            format!("{config:?}"),
            format!("{:?}", args.database),
            format!("{:?}", args.email),
            format!("{:?}", config.email),
        ] {
            assert!(!shown.contains("db-pass-123"), "{shown}");
            assert!(!shown.contains("signing-key-456"), "{shown}");
            assert!(!shown.contains("smtp-pass-789"), "{shown}");
            assert!(!shown.contains("redis-pass-000"), "{shown}");
        }
        let shown = format!("{args:?}");
        assert!(
            shown.contains("postgres://prickle:***@db:5432/prickle?sslmode=require"),
            "{shown}"
        );
        assert!(shown.contains("bind: \"127.0.0.1:8000\""), "{shown}");
        assert!(shown.contains("secret_key: Some(\"<hidden>\")"), "{shown}");
        let shown = format!("{config:?}");
        assert!(shown.contains("secret_key: \"<hidden>\""), "{shown}");
    }
}
