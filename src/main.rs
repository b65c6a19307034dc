//! The `prickle` command line. Parsing only:
//! the work is done by the library.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use prickle::config::{self, DatabaseArgs, ServeArgs};
use prickle::logging::{self, LogFormat};
use prickle::storage::{redact_url, Db};
use prickle::{admin, server};

// glibc's allocator showed up as a fifth of the server's CPU, much of it
// contention when memory allocated on one worker is freed on another.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "prickle",
    version,
    about = "A server for PostHog's organization-management API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Log lines on stderr: `text` or `json` (one object per line).
    #[arg(long, global = true, env = "PRICKLE_LOG_FORMAT", default_value = "text", value_parser = clap::builder::ValueParser::new(logging::parse_log_format))]
    log_format: LogFormat,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve HTTP until SIGINT/SIGTERM.
    Serve(Box<ServeArgs>),
    /// Apply pending migrations and exit.
    Migrate(DatabaseArgs),
    /// Operator commands; each prints one JSON object.
    Admin {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        command: AdminCommand,
    },
}

#[derive(Subcommand)]
enum AdminCommand {
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "")]
        first_name: String,
        #[arg(long, default_value = "")]
        last_name: String,
        #[arg(long)]
        password: Option<String>,
    },
    CreateOrganization {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
    },
    AddMember {
        #[arg(long)]
        organization: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        level: i64,
    },
    CreatePersonalApiKey {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "prickle admin")]
        label: String,
        #[arg(long, value_delimiter = ',', default_value = "*")]
        scopes: Vec<String>,
        #[arg(long, value_delimiter = ',')]
        scoped_organizations: Option<Vec<String>>,
        #[arg(long, value_delimiter = ',')]
        scoped_teams: Option<Vec<i64>>,
    },
    /// The user's personal API keys (never their values).
    ListPersonalApiKeys {
        #[arg(long)]
        email: String,
    },
    /// Delete a personal API key: refused from its next request on.
    RevokePersonalApiKey {
        #[arg(long)]
        id: String,
    },
    /// Give a personal API key a new value, printed once.
    RollPersonalApiKey {
        #[arg(long)]
        id: String,
    },
    /// Change organization settings (members_can_create_projects, members_can_invite).
    UpdateOrganization {
        #[arg(long)]
        organization: String,
        #[arg(long)]
        members_can_create_projects: Option<bool>,
        #[arg(long)]
        members_can_invite: Option<bool>,
    },
    /// Register an OAuth application for an organization.
    CreateOauthApplication {
        #[arg(long)]
        organization: String,
        #[arg(long)]
        name: String,
        #[arg(long, value_delimiter = ',', required = true)]
        redirect_uris: Vec<String>,
        #[arg(long)]
        verified: bool,
    },
    /// Give a legal document a new signing secret and print it once.
    RollLegalDocumentSecret {
        #[arg(long)]
        organization: String,
        #[arg(long)]
        id: String,
    },
    /// Give an invite a new sign-up token and print its link once (the previous link stops working).
    InviteLink {
        #[arg(long)]
        id: String,
        /// Base of the link (default: http:// + the bind address).
        #[arg(long, env = "SITE_URL")]
        site_url: Option<String>,
        #[arg(long, env = "PRICKLE_BIND", default_value = "127.0.0.1:8000")]
        bind: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let quiet = !matches!(cli.command, Command::Serve(_));
    let default_filter = if quiet { "warn" } else { "info" };
    logging::init(cli.log_format, default_filter);
    // SQLite runs inline on the workers, so a worker can sit in a lock or a
    // syscall: a few more workers than cores keep the others serving
    // (measured: 4 workers on 2 cores serve a third more GETs than 2).
    // PostgreSQL never blocks a worker: one per core, so that processes
    // sharing a machine do not crowd it with threads.
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let workers = match &cli.command {
        Command::Serve(args) if is_postgres(&args.database.database_url) => cores,
        _ => (2 * cores).max(4),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

async fn connect(args: &DatabaseArgs) -> Result<Db, String> {
    let db = Db::connect_with(&args.database_url, args.options())
        .await
        .map_err(|e| format!("cannot open {}: {e}", redact_url(&args.database_url)))?;
    db.migrate()
        .await
        .map_err(|e| format!("migration failed: {e}"))?;
    Ok(db)
}

async fn run(command: Command) -> Result<(), String> {
    match command {
        Command::Serve(args) => server::serve(*args).await,
        Command::Migrate(args) => {
            let db = Db::connect_with(&args.database_url, args.options())
                .await
                .map_err(|e| format!("cannot open {}: {e}", redact_url(&args.database_url)))?;
            let applied = db
                .migrate()
                .await
                .map_err(|e| format!("migration failed: {e}"))?;
            eprintln!("applied {applied} migration(s)");
            Ok(())
        }
        Command::Admin { database, command } => {
            let db = connect(&database).await?;
            let out = match command {
                AdminCommand::CreateUser {
                    email,
                    first_name,
                    last_name,
                    password,
                } => {
                    admin::create_user(&db, &email, &first_name, &last_name, password.as_deref())
                        .await
                }
                AdminCommand::CreateOrganization { name, owner_email } => {
                    admin::create_organization(&db, &name, &owner_email).await
                }
                AdminCommand::AddMember {
                    organization,
                    email,
                    level,
                } => admin::add_member(&db, &organization, &email, level).await,
                AdminCommand::CreatePersonalApiKey {
                    email,
                    label,
                    scopes,
                    scoped_organizations,
                    scoped_teams,
                } => {
                    let new = admin::NewKey {
                        email: &email,
                        label: &label,
                        scopes,
                        scoped_organizations,
                        scoped_teams,
                    };
                    admin::create_personal_api_key(&db, new).await
                }
                AdminCommand::ListPersonalApiKeys { email } => {
                    admin::list_personal_api_keys(&db, &email).await
                }
                AdminCommand::RevokePersonalApiKey { id } => {
                    admin::revoke_personal_api_key(&db, &id).await
                }
                AdminCommand::RollPersonalApiKey { id } => {
                    admin::roll_personal_api_key(&db, &id).await
                }
                AdminCommand::UpdateOrganization {
                    organization,
                    members_can_create_projects,
                    members_can_invite,
                } => {
                    admin::update_organization(
                        &db,
                        &organization,
                        members_can_create_projects,
                        members_can_invite,
                    )
                    .await
                }
                AdminCommand::CreateOauthApplication {
                    organization,
                    name,
                    redirect_uris,
                    verified,
                } => {
                    admin::create_oauth_application(
                        &db,
                        &organization,
                        &name,
                        &redirect_uris,
                        verified,
                    )
                    .await
                }
                AdminCommand::RollLegalDocumentSecret { organization, id } => {
                    admin::roll_legal_document_secret(&db, &organization, &id).await
                }
                AdminCommand::InviteLink { id, site_url, bind } => {
                    let site_url = config::site_url(site_url.as_deref(), &bind);
                    admin::invite_link(&db, &id, &site_url).await
                }
            }?;
            println!("{out}");
            Ok(())
        }
    }
}
