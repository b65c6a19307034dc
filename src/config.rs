//! Configuration shared by every command: flags first, then environment variables.

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;

use crate::storage::{DbOptions, Synchronous};

pub const DEFAULT_MAX_PROJECTS_PER_ORGANIZATION: i64 = 2000;

#[derive(Args, Clone, Debug)]
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

#[derive(Args, Clone, Debug)]
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
}

/// What the HTTP layer needs to know, resolved from [`ServeArgs`].
#[derive(Clone, Debug)]
pub struct Config {
    /// No trailing slash.
    pub site_url: String,
    pub max_projects_per_organization: i64,
    pub secret_key: Vec<u8>,
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
        }
    }

    pub fn from_serve_args(args: &ServeArgs) -> Config {
        let site_url = args
            .site_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", args.bind));
        Config::new(
            &site_url,
            args.max_projects_per_organization,
            args.secret_key.as_deref(),
        )
    }
}
