//! Configuration shared by every command: flags first, then environment variables.

use std::fmt;

use clap::builder::{PossibleValuesParser, TypedValueParser};
use clap::Args;

use crate::storage::{DbOptions, Synchronous};

pub const DEFAULT_MAX_PROJECTS_PER_ORGANIZATION: i64 = 2000;

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
#[derive(Clone)]
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
            .field("shutdown_grace_seconds", &self.shutdown_grace_seconds)
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
        ])
        .serve;
        let config = Config::from_serve_args(&args);
        for shown in [
            format!("{args:?}"),
            format!("{args:#?}"),
            format!("{config:?}"),
            format!("{:?}", args.database),
        ] {
            assert!(!shown.contains("db-pass-123"), "{shown}");
            assert!(!shown.contains("signing-key-456"), "{shown}");
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
