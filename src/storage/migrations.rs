//! The one ordered migration history, as sea-query schema statements.
//!
//! Each migration runs in its own write transaction together with the row
//! that records it, so a process killed mid-migration leaves either all of it
//! or none. Applied versions are never edited: change the schema by appending.

use sea_query::{
    ColumnDef, DeleteStatement, Expr, ExprTrait, ForeignKey, ForeignKeyAction,
    ForeignKeyCreateStatement, ForeignKeyDropStatement, Index, IndexCreateStatement,
    InsertStatement, PostgresQueryBuilder, Query, SqliteQueryBuilder, Table, TableAlterStatement,
    TableCreateStatement, TableDropStatement, TableRenameStatement,
};

use super::schema::*;
use super::{Db, DbResult, Tx};

pub enum Step {
    Table(Box<TableCreateStatement>),
    Index(Box<IndexCreateStatement>),
    /// One column added to a table (SQLite alters one column per statement).
    Alter(Box<TableAlterStatement>),
    Drop(Box<TableDropStatement>),
    Rename(Box<TableRenameStatement>),
    /// Rows copied into a table (`INSERT ... SELECT`), or fixed rows.
    Copy(Box<InsertStatement>),
    /// Rows removed (e.g. ones a constraint about to be added would refuse).
    Delete(Box<DeleteStatement>),
    /// A constraint added to (or dropped from) an existing table: PostgreSQL
    /// only, nothing on SQLite, which cannot alter a constraint and rebuilds
    /// the table instead (in a [`Step::Sqlite`]). Kept inside a
    /// [`Step::Postgres`] so a migration reads as what each database runs.
    AddForeignKey(Box<ForeignKeyCreateStatement>),
    DropForeignKey(Box<ForeignKeyDropStatement>),
    /// Steps for one database only: the other renders nothing.
    Postgres(Vec<Step>),
    Sqlite(Vec<Step>),
}

impl Step {
    /// The statements this step runs on one database (one, except for the
    /// per-database steps).
    fn sql(&self, postgres: bool) -> Vec<String> {
        let one = match (self, postgres) {
            (Step::Postgres(steps), true) | (Step::Sqlite(steps), false) => {
                return steps.iter().flat_map(|s| s.sql(postgres)).collect()
            }
            (Step::Postgres(_), false) | (Step::Sqlite(_), true) => return Vec::new(),
            (Step::Table(t), true) => t.build(PostgresQueryBuilder),
            (Step::Table(t), false) => t.build(SqliteQueryBuilder),
            (Step::Index(i), true) => i.build(PostgresQueryBuilder),
            (Step::Index(i), false) => i.build(SqliteQueryBuilder),
            (Step::Alter(a), true) => a.build(PostgresQueryBuilder),
            (Step::Alter(a), false) => a.build(SqliteQueryBuilder),
            (Step::Drop(d), true) => d.build(PostgresQueryBuilder),
            (Step::Drop(d), false) => d.build(SqliteQueryBuilder),
            (Step::Rename(r), true) => r.build(PostgresQueryBuilder),
            (Step::Rename(r), false) => r.build(SqliteQueryBuilder),
            (Step::Copy(c), true) => c.to_string(PostgresQueryBuilder),
            (Step::Copy(c), false) => c.to_string(SqliteQueryBuilder),
            (Step::Delete(d), true) => d.to_string(PostgresQueryBuilder),
            (Step::Delete(d), false) => d.to_string(SqliteQueryBuilder),
            (Step::AddForeignKey(f), true) => f.build(PostgresQueryBuilder),
            (Step::DropForeignKey(f), true) => f.build(PostgresQueryBuilder),
            // sea-query cannot render them for SQLite (it would panic).
            (Step::AddForeignKey(_) | Step::DropForeignKey(_), false) => return Vec::new(),
        };
        vec![one]
    }
}

pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    pub steps: fn() -> Vec<Step>,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "core",
        steps: core,
    },
    Migration {
        version: 2,
        name: "projects_by_organization",
        steps: projects_by_organization,
    },
    Migration {
        version: 3,
        name: "members_by_organization",
        steps: members_by_organization,
    },
    Migration {
        version: 4,
        name: "organization_invites",
        steps: organization_invites,
    },
    Migration {
        version: 5,
        name: "legal_documents",
        steps: legal_documents,
    },
    Migration {
        version: 6,
        name: "oauth_applications",
        steps: oauth_applications,
    },
    Migration {
        version: 7,
        name: "companions",
        steps: companions,
    },
    Migration {
        version: 8,
        name: "invite_signup_tokens",
        steps: invite_signup_tokens,
    },
    Migration {
        version: 9,
        name: "organization_data_cascades",
        steps: organization_data_cascades,
    },
    Migration {
        version: 10,
        name: "access_control",
        steps: access_control,
    },
    Migration {
        version: 11,
        name: "grant_epochs",
        steps: grant_epochs,
    },
    Migration {
        version: 12,
        name: "sessions",
        steps: sessions,
    },
];

/// Applies pending migrations; returns how many ran. `now` stamps each
/// applied version: the clock is the caller's, so this file names nothing
/// outside `storage` (see `history_names_no_application_item`).
pub async fn run(db: &Db, now: fn() -> i64) -> DbResult<usize> {
    run_through(db, now, i64::MAX).await
}

/// Applies pending migrations up to version `last` included: a database as
/// an older release left it (tests migrate such a database, rows and all).
pub async fn run_through(db: &Db, now: fn() -> i64, last: i64) -> DbResult<usize> {
    // Held at a version without the grants epoch's table, writes cannot bump it.
    db.track_grants(last >= crate::storage::grants::MIGRATION);
    {
        let mut tx = db.write().await?;
        let create = Table::create()
            .table(PrickleMigrations::Table)
            .if_not_exists()
            .col(
                ColumnDef::new(PrickleMigrations::Version)
                    .big_integer()
                    .not_null()
                    .primary_key(),
            )
            .col(ColumnDef::new(PrickleMigrations::Name).text().not_null())
            .col(
                ColumnDef::new(PrickleMigrations::AppliedAt)
                    .big_integer()
                    .not_null(),
            )
            .to_owned();
        serialise_migrators(&mut tx).await?;
        for sql in Step::Table(Box::new(create)).sql(tx.is_postgres()) {
            tx.batch(&sql).await?;
        }
        tx.commit().await?;
    }
    let mut applied = 0;
    for m in MIGRATIONS.iter().take_while(|m| m.version <= last) {
        let mut tx = db.write().await?;
        serialise_migrators(&mut tx).await?;
        let done = tx
            .query_opt(
                Query::select()
                    .column(PrickleMigrations::Version)
                    .from(PrickleMigrations::Table)
                    .and_where(Expr::col(PrickleMigrations::Version).eq(m.version)),
                |r| r.i64(0),
            )
            .await?
            .is_some();
        if done {
            continue;
        }
        let postgres = tx.is_postgres();
        for sql in (m.steps)().iter().flat_map(|s| s.sql(postgres)) {
            tx.batch(&sql).await?;
        }
        tx.execute(
            Query::insert()
                .into_table(PrickleMigrations::Table)
                .columns([
                    PrickleMigrations::Version,
                    PrickleMigrations::Name,
                    PrickleMigrations::AppliedAt,
                ])
                .values_panic([m.version.into(), m.name.into(), now().into()]),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        applied += 1;
    }
    Ok(applied)
}

/// Whether the database answers and holds every migration this binary
/// knows: its highest applied version is the last of [`MIGRATIONS`]. One
/// read, for `/_ready`.
pub async fn all_applied(db: &Db) -> DbResult<bool> {
    let mut tx = db.read().await?;
    let highest = tx
        .query_opt(
            Query::select()
                .expr(Expr::col(PrickleMigrations::Version).max())
                .from(PrickleMigrations::Table),
            |r| r.opt_i64(0),
        )
        .await?
        .flatten();
    Ok(highest == MIGRATIONS.last().map(|m| m.version))
}

/// Several prickle processes may start together on one PostgreSQL database:
/// one migrates, the others wait and then find nothing to do. (SQLite's
/// `BEGIN IMMEDIATE` already serialises them.)
async fn serialise_migrators(tx: &mut Tx) -> DbResult<()> {
    if tx.is_postgres() {
        // A fixed key, prickle's own.
        tx.batch("SELECT pg_advisory_xact_lock(1983289598)").await?;
    }
    Ok(())
}

fn fk(
    from: (impl sea_query::IntoIden, impl sea_query::IntoIden),
    to: (impl sea_query::IntoIden, impl sea_query::IntoIden),
    on_delete: ForeignKeyAction,
) -> sea_query::ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(on_delete)
        .to_owned()
}

fn core() -> Vec<Step> {
    use ForeignKeyAction::{Cascade, SetNull};
    let organizations = Table::create()
        .table(Organizations::Table)
        .col(
            ColumnDef::new(Organizations::Id)
                .text()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(Organizations::Name).text().not_null())
        .col(ColumnDef::new(Organizations::MembersCanInvite).boolean())
        .col(
            ColumnDef::new(Organizations::MembersCanCreateProjects)
                .boolean()
                .not_null(),
        )
        .col(
            ColumnDef::new(Organizations::MembersCanUsePersonalApiKeys)
                .boolean()
                .not_null(),
        )
        .col(
            ColumnDef::new(Organizations::IsMemberJoinEmailEnabled)
                .boolean()
                .not_null(),
        )
        .col(
            ColumnDef::new(Organizations::DefaultAnonymizeIps)
                .boolean()
                .not_null(),
        )
        .col(
            ColumnDef::new(Organizations::CreatedAt)
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(Organizations::UpdatedAt)
                .big_integer()
                .not_null(),
        )
        .to_owned();
    let users = Table::create()
        .table(Users::Table)
        .col(
            ColumnDef::new(Users::Id)
                .big_integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        )
        .col(ColumnDef::new(Users::Uuid).text().not_null().unique_key())
        .col(ColumnDef::new(Users::DistinctId).text())
        .col(ColumnDef::new(Users::FirstName).text().not_null())
        .col(ColumnDef::new(Users::LastName).text().not_null())
        .col(ColumnDef::new(Users::Email).text().not_null())
        .col(
            ColumnDef::new(Users::EmailKey)
                .text()
                .not_null()
                .unique_key(),
        )
        .col(ColumnDef::new(Users::Password).text())
        .col(ColumnDef::new(Users::IsEmailVerified).boolean())
        .col(ColumnDef::new(Users::IsActive).boolean().not_null())
        .col(ColumnDef::new(Users::RoleAtOrganization).text())
        .col(ColumnDef::new(Users::HedgehogConfig).text())
        .col(ColumnDef::new(Users::CurrentOrganizationId).text())
        .col(ColumnDef::new(Users::CurrentTeamId).big_integer())
        .col(ColumnDef::new(Users::LastLogin).big_integer())
        .col(ColumnDef::new(Users::DateJoined).big_integer().not_null())
        .foreign_key(&mut fk(
            (Users::Table, Users::CurrentOrganizationId),
            (Organizations::Table, Organizations::Id),
            SetNull,
        ))
        .to_owned();
    let memberships = Table::create()
        .table(OrganizationMemberships::Table)
        .col(
            ColumnDef::new(OrganizationMemberships::Id)
                .text()
                .not_null()
                .primary_key(),
        )
        .col(
            ColumnDef::new(OrganizationMemberships::OrganizationId)
                .text()
                .not_null(),
        )
        .col(
            ColumnDef::new(OrganizationMemberships::UserId)
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(OrganizationMemberships::Level)
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(OrganizationMemberships::JoinedAt)
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(OrganizationMemberships::UpdatedAt)
                .big_integer()
                .not_null(),
        )
        .col(ColumnDef::new(OrganizationMemberships::InvitedById).big_integer())
        .foreign_key(&mut fk(
            (
                OrganizationMemberships::Table,
                OrganizationMemberships::OrganizationId,
            ),
            (Organizations::Table, Organizations::Id),
            Cascade,
        ))
        .foreign_key(&mut fk(
            (
                OrganizationMemberships::Table,
                OrganizationMemberships::UserId,
            ),
            (Users::Table, Users::Id),
            Cascade,
        ))
        .foreign_key(&mut fk(
            (
                OrganizationMemberships::Table,
                OrganizationMemberships::InvitedById,
            ),
            (Users::Table, Users::Id),
            SetNull,
        ))
        .to_owned();
    let membership_unique = Index::create()
        .name("organization_memberships_org_user")
        .table(OrganizationMemberships::Table)
        .col(OrganizationMemberships::OrganizationId)
        .col(OrganizationMemberships::UserId)
        .unique()
        .to_owned();
    let membership_user = Index::create()
        .name("organization_memberships_user")
        .table(OrganizationMemberships::Table)
        .col(OrganizationMemberships::UserId)
        .to_owned();
    let keys = Table::create()
        .table(PersonalApiKeys::Table)
        .col(
            ColumnDef::new(PersonalApiKeys::Id)
                .text()
                .not_null()
                .primary_key(),
        )
        .col(
            ColumnDef::new(PersonalApiKeys::UserId)
                .big_integer()
                .not_null(),
        )
        .col(ColumnDef::new(PersonalApiKeys::Label).text().not_null())
        .col(ColumnDef::new(PersonalApiKeys::MaskValue).text())
        .col(
            ColumnDef::new(PersonalApiKeys::SecureValue)
                .text()
                .not_null()
                .unique_key(),
        )
        .col(
            ColumnDef::new(PersonalApiKeys::CreatedAt)
                .big_integer()
                .not_null(),
        )
        .col(ColumnDef::new(PersonalApiKeys::LastUsedAt).big_integer())
        .col(ColumnDef::new(PersonalApiKeys::Scopes).text().not_null())
        .col(ColumnDef::new(PersonalApiKeys::ScopedOrganizations).text())
        .col(ColumnDef::new(PersonalApiKeys::ScopedTeams).text())
        .foreign_key(&mut fk(
            (PersonalApiKeys::Table, PersonalApiKeys::UserId),
            (Users::Table, Users::Id),
            Cascade,
        ))
        .to_owned();
    let keys_user = Index::create()
        .name("personal_api_keys_user")
        .table(PersonalApiKeys::Table)
        .col(PersonalApiKeys::UserId)
        .to_owned();
    let projects = Table::create()
        .table(Projects::Table)
        .col(
            ColumnDef::new(Projects::Id)
                .big_integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        )
        .col(
            ColumnDef::new(Projects::Uuid)
                .text()
                .not_null()
                .unique_key(),
        )
        .col(ColumnDef::new(Projects::OrganizationId).text().not_null())
        .col(ColumnDef::new(Projects::Name).text().not_null())
        .col(ColumnDef::new(Projects::NameKey).text().not_null())
        .col(ColumnDef::new(Projects::ProductDescription).text())
        .col(ColumnDef::new(Projects::IsDemo).boolean().not_null())
        .col(
            ColumnDef::new(Projects::ApiToken)
                .text()
                .not_null()
                .unique_key(),
        )
        .col(ColumnDef::new(Projects::SecretApiToken).text())
        .col(ColumnDef::new(Projects::SecretApiTokenBackup).text())
        .col(ColumnDef::new(Projects::IngestedEvent).boolean().not_null())
        .col(ColumnDef::new(Projects::Settings).text().not_null())
        .col(ColumnDef::new(Projects::CreatedAt).big_integer().not_null())
        .col(ColumnDef::new(Projects::UpdatedAt).big_integer().not_null())
        .foreign_key(&mut fk(
            (Projects::Table, Projects::OrganizationId),
            (Organizations::Table, Organizations::Id),
            Cascade,
        ))
        .to_owned();
    let project_names = Index::create()
        .name("projects_org_name_key")
        .table(Projects::Table)
        .col(Projects::OrganizationId)
        .col(Projects::NameKey)
        .unique()
        .to_owned();
    let activity = Table::create()
        .table(ActivityLog::Table)
        .col(
            ColumnDef::new(ActivityLog::Id)
                .text()
                .not_null()
                .primary_key(),
        )
        .col(ColumnDef::new(ActivityLog::OrganizationId).text())
        .col(ColumnDef::new(ActivityLog::TeamId).big_integer())
        .col(ColumnDef::new(ActivityLog::UserId).big_integer())
        .col(ColumnDef::new(ActivityLog::IsSystem).boolean())
        .col(ColumnDef::new(ActivityLog::Activity).text().not_null())
        .col(ColumnDef::new(ActivityLog::ItemId).text())
        .col(ColumnDef::new(ActivityLog::Scope).text().not_null())
        .col(ColumnDef::new(ActivityLog::Detail).text().not_null())
        .col(
            ColumnDef::new(ActivityLog::CreatedAt)
                .big_integer()
                .not_null(),
        )
        .foreign_key(&mut fk(
            (ActivityLog::Table, ActivityLog::UserId),
            (Users::Table, Users::Id),
            SetNull,
        ))
        .to_owned();
    let activity_item = Index::create()
        .name("activity_log_team_scope_item")
        .table(ActivityLog::Table)
        .col(ActivityLog::TeamId)
        .col(ActivityLog::Scope)
        .col(ActivityLog::ItemId)
        .col(ActivityLog::CreatedAt)
        .to_owned();
    vec![
        Step::Table(Box::new(organizations)),
        Step::Table(Box::new(users)),
        Step::Table(Box::new(memberships)),
        Step::Index(Box::new(membership_unique)),
        Step::Index(Box::new(membership_user)),
        Step::Table(Box::new(keys)),
        Step::Index(Box::new(keys_user)),
        Step::Table(Box::new(projects)),
        Step::Index(Box::new(project_names)),
        Step::Table(Box::new(activity)),
        Step::Index(Box::new(activity_item)),
    ]
}

/// Lists page through an organization's projects in id order: without this
/// index SQLite read and sorted every project of the organization per page.
fn projects_by_organization() -> Vec<Step> {
    let index = Index::create()
        .name("projects_org_id")
        .table(Projects::Table)
        .col(Projects::OrganizationId)
        .col(Projects::Id)
        .to_owned();
    vec![Step::Index(Box::new(index))]
}

/// One BAA and one DPA per organization: the unique index, not a prior
/// SELECT, is what stops two concurrent creates from both landing. The
/// secret's digest is unique so the signing webhook finds one document.
fn legal_documents() -> Vec<Step> {
    use ForeignKeyAction::{Cascade, SetNull};
    use LegalDocuments as L;
    let text = |c: L| ColumnDef::new(c).text().not_null().to_owned();
    let table = Table::create()
        .table(L::Table)
        .col(ColumnDef::new(L::Id).text().not_null().primary_key())
        .col(text(L::OrganizationId))
        .col(text(L::DocumentType))
        .col(text(L::CompanyName))
        .col(text(L::CompanyAddress))
        .col(text(L::RepresentativeName))
        .col(text(L::RepresentativeTitle))
        .col(text(L::RepresentativeEmail))
        .col(text(L::DpaMode))
        .col(text(L::Status))
        .col(text(L::SignedDocumentUrl))
        .col(text(L::SecretDigest))
        .col(ColumnDef::new(L::CreatedById).big_integer())
        .col(ColumnDef::new(L::CreatedAt).big_integer().not_null())
        .col(ColumnDef::new(L::UpdatedAt).big_integer().not_null())
        .foreign_key(&mut fk(
            (L::Table, L::OrganizationId),
            (Organizations::Table, Organizations::Id),
            Cascade,
        ))
        .foreign_key(&mut fk(
            (L::Table, L::CreatedById),
            (Users::Table, Users::Id),
            SetNull,
        ))
        .to_owned();
    let one_per_type = Index::create()
        .name("legal_documents_org_type")
        .table(L::Table)
        .col(L::OrganizationId)
        .col(L::DocumentType)
        .unique()
        .to_owned();
    let by_secret = Index::create()
        .name("legal_documents_secret_digest")
        .table(L::Table)
        .col(L::SecretDigest)
        .unique()
        .to_owned();
    vec![
        Step::Table(Box::new(table)),
        Step::Index(Box::new(one_per_type)),
        Step::Index(Box::new(by_secret)),
    ]
}

/// Applications listed newest first per organization, paged by
/// `(created, id)`.
fn oauth_applications() -> Vec<Step> {
    use OauthApplications as A;
    let table = Table::create()
        .table(A::Table)
        .col(ColumnDef::new(A::Id).text().not_null().primary_key())
        .col(ColumnDef::new(A::OrganizationId).text())
        .col(ColumnDef::new(A::Name).text().not_null())
        .col(ColumnDef::new(A::ClientId).text().not_null().unique_key())
        .col(ColumnDef::new(A::RedirectUris).text().not_null())
        .col(ColumnDef::new(A::IsVerified).boolean().not_null())
        .col(ColumnDef::new(A::Created).big_integer().not_null())
        .col(ColumnDef::new(A::Updated).big_integer().not_null())
        .foreign_key(&mut fk(
            (A::Table, A::OrganizationId),
            (Organizations::Table, Organizations::Id),
            ForeignKeyAction::SetNull,
        ))
        .to_owned();
    let by_org = Index::create()
        .name("oauth_applications_org_created")
        .table(A::Table)
        .col(A::OrganizationId)
        .col(A::Created)
        .col(A::Id)
        .to_owned();
    vec![Step::Table(Box::new(table)), Step::Index(Box::new(by_org))]
}

/// What `/api/users/@me/`, `/api/organizations/` and the personal API key
/// endpoints show beyond the core: nullable columns, so adding them rewrites
/// no rows (defaults are applied when read).
fn companions() -> Vec<Step> {
    fn add(table: impl sea_query::IntoIden, col: &mut ColumnDef) -> Step {
        Step::Alter(Box::new(
            Table::alter().table(table).add_column(col).to_owned(),
        ))
    }
    vec![
        add(Users::Table, ColumnDef::new(Users::AnonymizeData).boolean()),
        add(Users::Table, ColumnDef::new(Users::ToolbarMode).text()),
        add(Users::Table, ColumnDef::new(Users::ThemeMode).text()),
        add(
            Users::Table,
            ColumnDef::new(Users::NotificationSettings).text(),
        ),
        add(Users::Table, ColumnDef::new(Users::PendingEmail).text()),
        add(
            Organizations::Table,
            ColumnDef::new(Organizations::Slug).text(),
        ),
        add(
            Organizations::Table,
            ColumnDef::new(Organizations::LogoMediaId).text(),
        ),
        add(
            Organizations::Table,
            ColumnDef::new(Organizations::Enforce2fa).boolean(),
        ),
        add(
            Organizations::Table,
            ColumnDef::new(Organizations::AllowPubliclySharedResources).boolean(),
        ),
        add(
            Organizations::Table,
            ColumnDef::new(Organizations::IsAiDataProcessingApproved).boolean(),
        ),
        add(
            Organizations::Table,
            ColumnDef::new(Organizations::DefaultExperimentStatsMethod).text(),
        ),
        add(
            Organizations::Table,
            ColumnDef::new(Organizations::DefaultRoleId).text(),
        ),
        add(
            PersonalApiKeys::Table,
            ColumnDef::new(PersonalApiKeys::LastRolledAt).big_integer(),
        ),
        Step::Index(Box::new(
            Index::create()
                .name("organizations_slug")
                .table(Organizations::Table)
                .col(Organizations::Slug)
                .unique()
                .to_owned(),
        )),
    ]
}

/// The digest of each invite's sign-up token: the id alone no longer opens
/// an invite. Nullable, and left NULL on existing rows: their links never
/// carried a token, so they stay closed until an operator rolls one.
fn invite_signup_tokens() -> Vec<Step> {
    vec![Step::Alter(Box::new(
        Table::alter()
            .table(OrganizationInvites::Table)
            .add_column(ColumnDef::new(OrganizationInvites::SignupTokenDigest).text())
            .to_owned(),
    ))]
}

/// Invites, and the project access an accepted invite grants. One live
/// invite per (organization, email): creating one deletes the others in the
/// same transaction, and the unique index backs that against any writer.
fn organization_invites() -> Vec<Step> {
    use ForeignKeyAction::{Cascade, SetNull};
    let invites = Table::create()
        .table(OrganizationInvites::Table)
        .col(
            ColumnDef::new(OrganizationInvites::Id)
                .text()
                .not_null()
                .primary_key(),
        )
        .col(
            ColumnDef::new(OrganizationInvites::OrganizationId)
                .text()
                .not_null(),
        )
        .col(
            ColumnDef::new(OrganizationInvites::TargetEmail)
                .text()
                .not_null(),
        )
        .col(
            ColumnDef::new(OrganizationInvites::FirstName)
                .text()
                .not_null(),
        )
        .col(ColumnDef::new(OrganizationInvites::CreatedById).big_integer())
        .col(
            ColumnDef::new(OrganizationInvites::EmailingAttemptMade)
                .boolean()
                .not_null(),
        )
        .col(ColumnDef::new(OrganizationInvites::Message).text())
        .col(
            ColumnDef::new(OrganizationInvites::Level)
                .big_integer()
                .not_null(),
        )
        .col(ColumnDef::new(OrganizationInvites::PrivateProjectAccess).text())
        .col(
            ColumnDef::new(OrganizationInvites::CreatedAt)
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(OrganizationInvites::UpdatedAt)
                .big_integer()
                .not_null(),
        )
        .foreign_key(&mut fk(
            (
                OrganizationInvites::Table,
                OrganizationInvites::OrganizationId,
            ),
            (Organizations::Table, Organizations::Id),
            Cascade,
        ))
        .foreign_key(&mut fk(
            (OrganizationInvites::Table, OrganizationInvites::CreatedById),
            (Users::Table, Users::Id),
            SetNull,
        ))
        .to_owned();
    let one_per_email = Index::create()
        .name("organization_invites_org_email")
        .table(OrganizationInvites::Table)
        .col(OrganizationInvites::OrganizationId)
        .col(OrganizationInvites::TargetEmail)
        .unique()
        .to_owned();
    let by_created = Index::create()
        .name("organization_invites_org_created")
        .table(OrganizationInvites::Table)
        .col(OrganizationInvites::OrganizationId)
        .col(OrganizationInvites::CreatedAt)
        .col(OrganizationInvites::Id)
        .to_owned();
    let access = Table::create()
        .table(ProjectMemberAccess::Table)
        .col(
            ColumnDef::new(ProjectMemberAccess::Id)
                .text()
                .not_null()
                .primary_key(),
        )
        .col(
            ColumnDef::new(ProjectMemberAccess::ProjectId)
                .big_integer()
                .not_null(),
        )
        .col(
            ColumnDef::new(ProjectMemberAccess::MembershipId)
                .text()
                .not_null(),
        )
        .col(ColumnDef::new(ProjectMemberAccess::Level).text().not_null())
        .col(
            ColumnDef::new(ProjectMemberAccess::CreatedAt)
                .big_integer()
                .not_null(),
        )
        .foreign_key(&mut fk(
            (ProjectMemberAccess::Table, ProjectMemberAccess::ProjectId),
            (Projects::Table, Projects::Id),
            Cascade,
        ))
        .foreign_key(&mut fk(
            (
                ProjectMemberAccess::Table,
                ProjectMemberAccess::MembershipId,
            ),
            (OrganizationMemberships::Table, OrganizationMemberships::Id),
            Cascade,
        ))
        .to_owned();
    let access_unique = Index::create()
        .name("project_member_access_project_membership")
        .table(ProjectMemberAccess::Table)
        .col(ProjectMemberAccess::ProjectId)
        .col(ProjectMemberAccess::MembershipId)
        .unique()
        .to_owned();
    vec![
        Step::Table(Box::new(invites)),
        Step::Index(Box::new(one_per_email)),
        Step::Index(Box::new(by_created)),
        Step::Table(Box::new(access)),
        Step::Index(Box::new(access_unique)),
    ]
}

/// The condition of migration 3's `users_hidden` index, frozen with it. The
/// member queries repeat it literally (`members::store::HIDDEN_USER`, tested
/// equal there) so the planner can use the index; changing who is hidden
/// means a new migration with a new index, never an edit here.
pub const USERS_HIDDEN_V3: &str = "(is_active = FALSE OR email_key LIKE '%@posthogbot.user')";

/// Member lists page through an organization's memberships by join date:
/// the offset walk reads this (covering) index alone, and users are read
/// only for the page's rows. Hidden users (inactive, PostHog bots) are found through
/// a partial index whose condition the list query repeats literally.
fn members_by_organization() -> Vec<Step> {
    use sea_query::ConditionalStatement;
    let by_joined = Index::create()
        .name("organization_memberships_org_joined")
        .table(OrganizationMemberships::Table)
        .col(OrganizationMemberships::OrganizationId)
        .col(OrganizationMemberships::JoinedAt)
        .col(OrganizationMemberships::Id)
        .col(OrganizationMemberships::UserId)
        .col(OrganizationMemberships::Level)
        .col(OrganizationMemberships::UpdatedAt)
        .to_owned();
    let hidden = Index::create()
        .name("users_hidden")
        .table(Users::Table)
        .col(Users::Id)
        .and_where(Expr::cust(USERS_HIDDEN_V3))
        .to_owned();
    vec![
        Step::Index(Box::new(by_joined)),
        Step::Index(Box::new(hidden)),
    ]
}

/// Everything an organization holds goes with its row, by foreign key: the
/// activity log had no key to the organization (its entries were deleted by
/// hand), and OAuth applications had PostHog's SET NULL (they were deleted by
/// hand too). Entries of organizations that no longer exist could not be
/// kept under the new key; deletion removed them already, so any left are
/// removed here. Applications already without an organization are kept.
///
/// PostgreSQL drops and adds the constraints. SQLite cannot alter a
/// constraint, so both tables are rebuilt as its documentation describes
/// (create the new table, copy the rows, drop the old one, rename the new
/// one, create the indexes again), in this migration's one transaction and
/// with foreign keys on: no table references these two, so dropping them
/// cascades nowhere, and every copied row is checked against its keys.
fn organization_data_cascades() -> Vec<Step> {
    use sea_query::Alias;
    use ActivityLog as A;
    use ForeignKeyAction::{Cascade, SetNull};
    use OauthApplications as O;
    // PostgreSQL's names for the keys declared inline by migrations 1 and 6.
    const OAUTH_ORGANIZATION_FKEY: &str = "oauth_applications_organization_id_fkey";
    const ACTIVITY_ORGANIZATION_FKEY: &str = "activity_log_organization_id_fkey";
    const ACTIVITY_REBUILT: &str = "activity_log_v9";
    const OAUTH_REBUILT: &str = "oauth_applications_v9";

    let orphans = Query::delete()
        .from_table(A::Table)
        .and_where(Expr::col(A::OrganizationId).is_not_null())
        .and_where(
            Expr::col(A::OrganizationId).not_in_subquery(
                Query::select()
                    .column(Organizations::Id)
                    .from(Organizations::Table)
                    .to_owned(),
            ),
        )
        .to_owned();
    let by_organization = Index::create()
        .name("activity_log_org")
        .table(A::Table)
        .col(A::OrganizationId)
        .to_owned();

    // SQLite: the two tables as migrations 1 and 6 made them, with the new keys.
    let activity = Table::create()
        .table(Alias::new(ACTIVITY_REBUILT))
        .col(ColumnDef::new(A::Id).text().not_null().primary_key())
        .col(ColumnDef::new(A::OrganizationId).text())
        .col(ColumnDef::new(A::TeamId).big_integer())
        .col(ColumnDef::new(A::UserId).big_integer())
        .col(ColumnDef::new(A::IsSystem).boolean())
        .col(ColumnDef::new(A::Activity).text().not_null())
        .col(ColumnDef::new(A::ItemId).text())
        .col(ColumnDef::new(A::Scope).text().not_null())
        .col(ColumnDef::new(A::Detail).text().not_null())
        .col(ColumnDef::new(A::CreatedAt).big_integer().not_null())
        .foreign_key(&mut fk(
            (Alias::new(ACTIVITY_REBUILT), A::OrganizationId),
            (Organizations::Table, Organizations::Id),
            Cascade,
        ))
        .foreign_key(&mut fk(
            (Alias::new(ACTIVITY_REBUILT), A::UserId),
            (Users::Table, Users::Id),
            SetNull,
        ))
        .to_owned();
    let activity_columns = [
        A::Id,
        A::OrganizationId,
        A::TeamId,
        A::UserId,
        A::IsSystem,
        A::Activity,
        A::ItemId,
        A::Scope,
        A::Detail,
        A::CreatedAt,
    ];
    let activity_item = Index::create()
        .name("activity_log_team_scope_item")
        .table(A::Table)
        .col(A::TeamId)
        .col(A::Scope)
        .col(A::ItemId)
        .col(A::CreatedAt)
        .to_owned();
    let oauth = Table::create()
        .table(Alias::new(OAUTH_REBUILT))
        .col(ColumnDef::new(O::Id).text().not_null().primary_key())
        .col(ColumnDef::new(O::OrganizationId).text())
        .col(ColumnDef::new(O::Name).text().not_null())
        .col(ColumnDef::new(O::ClientId).text().not_null().unique_key())
        .col(ColumnDef::new(O::RedirectUris).text().not_null())
        .col(ColumnDef::new(O::IsVerified).boolean().not_null())
        .col(ColumnDef::new(O::Created).big_integer().not_null())
        .col(ColumnDef::new(O::Updated).big_integer().not_null())
        .foreign_key(&mut fk(
            (Alias::new(OAUTH_REBUILT), O::OrganizationId),
            (Organizations::Table, Organizations::Id),
            Cascade,
        ))
        .to_owned();
    let oauth_columns = [
        O::Id,
        O::OrganizationId,
        O::Name,
        O::ClientId,
        O::RedirectUris,
        O::IsVerified,
        O::Created,
        O::Updated,
    ];
    let oauth_by_org = Index::create()
        .name("oauth_applications_org_created")
        .table(O::Table)
        .col(O::OrganizationId)
        .col(O::Created)
        .col(O::Id)
        .to_owned();
    let rebuild = |new: TableCreateStatement,
                   name: &str,
                   old: sea_query::DynIden,
                   columns: Vec<sea_query::DynIden>,
                   indexes: Vec<IndexCreateStatement>| {
        let copy = Query::insert()
            .into_table(Alias::new(name))
            .columns(columns.clone())
            .select_from(
                Query::select()
                    .columns(columns)
                    .from(old.clone())
                    .to_owned(),
            )
            .expect("as many columns selected as inserted")
            .to_owned();
        let mut steps = vec![
            Step::Table(Box::new(new)),
            Step::Copy(Box::new(copy)),
            Step::Drop(Box::new(Table::drop().table(old.clone()).to_owned())),
            Step::Rename(Box::new(
                Table::rename().table(Alias::new(name), old).to_owned(),
            )),
        ];
        steps.extend(indexes.into_iter().map(|i| Step::Index(Box::new(i))));
        steps
    };
    use sea_query::IntoIden;
    let mut sqlite = rebuild(
        activity,
        ACTIVITY_REBUILT,
        A::Table.into_iden(),
        activity_columns.map(IntoIden::into_iden).to_vec(),
        vec![activity_item, by_organization.clone()],
    );
    sqlite.extend(rebuild(
        oauth,
        OAUTH_REBUILT,
        O::Table.into_iden(),
        oauth_columns.map(IntoIden::into_iden).to_vec(),
        vec![oauth_by_org],
    ));

    let named_fk = |name: &str, table, column, on_delete| {
        let mut key = fk(
            (table, column),
            (Organizations::Table, Organizations::Id),
            on_delete,
        );
        key.name(name);
        Step::AddForeignKey(Box::new(key))
    };
    let postgres = vec![
        named_fk(
            ACTIVITY_ORGANIZATION_FKEY,
            A::Table.into_iden(),
            A::OrganizationId.into_iden(),
            Cascade,
        ),
        Step::Index(Box::new(by_organization)),
        Step::DropForeignKey(Box::new(
            ForeignKey::drop()
                .name(OAUTH_ORGANIZATION_FKEY)
                .table(O::Table)
                .to_owned(),
        )),
        named_fk(
            OAUTH_ORGANIZATION_FKEY,
            O::Table.into_iden(),
            O::OrganizationId.into_iden(),
            Cascade,
        ),
    ];
    vec![
        Step::Delete(Box::new(orphans)),
        Step::Sqlite(sqlite),
        Step::Postgres(postgres),
    ]
}

/// Roles, role memberships and project access rules; the never-enforced
/// grants of accepted invites become member rules. An `admin` grant stays
/// admin only where whoever invited the member is an admin or owner of the
/// organization today: a plain member's invite could grant more than they
/// hold, which the rules now refuse (README, "Project access control").
fn access_control() -> Vec<Step> {
    use sea_query::Alias;
    use AccessControls as A;
    use ForeignKeyAction::{Cascade, SetNull};
    use OrganizationMemberships as M;
    use RoleMemberships as RM;
    use Roles as R;
    // Frozen with this migration: the stored rule levels and the old table's.
    const NONE: i64 = 0;
    const MEMBER: i64 = 1;
    const ADMIN: i64 = 8;
    const ORGANIZATION_ADMIN: i64 = 8;

    let roles = Table::create()
        .table(R::Table)
        .col(ColumnDef::new(R::Id).text().not_null().primary_key())
        .col(ColumnDef::new(R::OrganizationId).text().not_null())
        .col(ColumnDef::new(R::Name).text().not_null())
        .col(ColumnDef::new(R::NameKey).text().not_null())
        .col(ColumnDef::new(R::CreatedById).big_integer())
        .col(ColumnDef::new(R::CreatedAt).big_integer().not_null())
        .foreign_key(&mut fk(
            (R::Table, R::OrganizationId),
            (Organizations::Table, Organizations::Id),
            Cascade,
        ))
        .foreign_key(&mut fk(
            (R::Table, R::CreatedById),
            (Users::Table, Users::Id),
            SetNull,
        ))
        .to_owned();
    let role_names = Index::create()
        .name("roles_org_name_key")
        .table(R::Table)
        .col(R::OrganizationId)
        .col(R::NameKey)
        .unique()
        .to_owned();
    let roles_listed = Index::create()
        .name("roles_org_created")
        .table(R::Table)
        .col(R::OrganizationId)
        .col(R::CreatedAt)
        .col(R::Id)
        .to_owned();

    let holders = Table::create()
        .table(RM::Table)
        .col(ColumnDef::new(RM::Id).text().not_null().primary_key())
        .col(ColumnDef::new(RM::RoleId).text().not_null())
        .col(ColumnDef::new(RM::UserId).big_integer().not_null())
        .col(ColumnDef::new(RM::MembershipId).text().not_null())
        .col(ColumnDef::new(RM::JoinedAt).big_integer().not_null())
        .col(ColumnDef::new(RM::UpdatedAt).big_integer().not_null())
        .foreign_key(&mut fk((RM::Table, RM::RoleId), (R::Table, R::Id), Cascade))
        .foreign_key(&mut fk(
            (RM::Table, RM::UserId),
            (Users::Table, Users::Id),
            Cascade,
        ))
        .foreign_key(&mut fk(
            (RM::Table, RM::MembershipId),
            (M::Table, M::Id),
            Cascade,
        ))
        .to_owned();
    let one_per_user = Index::create()
        .name("role_memberships_role_user")
        .table(RM::Table)
        .col(RM::RoleId)
        .col(RM::UserId)
        .unique()
        .to_owned();
    let by_membership = Index::create()
        .name("role_memberships_membership")
        .table(RM::Table)
        .col(RM::MembershipId)
        .col(RM::RoleId)
        .to_owned();
    let holders_listed = Index::create()
        .name("role_memberships_role_joined")
        .table(RM::Table)
        .col(RM::RoleId)
        .col(RM::JoinedAt)
        .col(RM::Id)
        .to_owned();

    let rules = Table::create()
        .table(A::Table)
        .col(ColumnDef::new(A::Id).text().not_null().primary_key())
        .col(ColumnDef::new(A::OrganizationId).text().not_null())
        .col(ColumnDef::new(A::ProjectId).big_integer().not_null())
        .col(ColumnDef::new(A::SubjectKey).text().not_null())
        .col(ColumnDef::new(A::MembershipId).text())
        .col(ColumnDef::new(A::RoleId).text())
        .col(ColumnDef::new(A::AccessLevel).big_integer().not_null())
        .col(ColumnDef::new(A::CreatedById).big_integer())
        .col(ColumnDef::new(A::CreatedAt).big_integer().not_null())
        .col(ColumnDef::new(A::UpdatedAt).big_integer().not_null())
        .check(
            Expr::col(A::MembershipId)
                .is_null()
                .or(Expr::col(A::RoleId).is_null()),
        )
        .foreign_key(&mut fk(
            (A::Table, A::OrganizationId),
            (Organizations::Table, Organizations::Id),
            Cascade,
        ))
        .foreign_key(&mut fk(
            (A::Table, A::ProjectId),
            (Projects::Table, Projects::Id),
            Cascade,
        ))
        .foreign_key(&mut fk(
            (A::Table, A::MembershipId),
            (M::Table, M::Id),
            Cascade,
        ))
        .foreign_key(&mut fk((A::Table, A::RoleId), (R::Table, R::Id), Cascade))
        .foreign_key(&mut fk(
            (A::Table, A::CreatedById),
            (Users::Table, Users::Id),
            SetNull,
        ))
        .to_owned();
    let one_per_subject = Index::create()
        .name("access_controls_subject")
        .table(A::Table)
        .col(A::ProjectId)
        .col(A::SubjectKey)
        .unique()
        .to_owned();
    let rules_by_membership = Index::create()
        .name("access_controls_membership")
        .table(A::Table)
        .col(A::MembershipId)
        .to_owned();
    let rules_by_role = Index::create()
        .name("access_controls_role")
        .table(A::Table)
        .col(A::RoleId)
        .to_owned();
    let rules_by_organization = Index::create()
        .name("access_controls_org")
        .table(A::Table)
        .col(A::OrganizationId)
        .to_owned();

    // The old grants, as member rules.
    let old = Alias::new("old");
    let member = Alias::new("member");
    let inviter = Alias::new("inviter");
    let inviter_is_admin = Expr::exists(
        Query::select()
            .expr(Expr::val(1))
            .from_as(M::Table, inviter.clone())
            .and_where(
                Expr::col((inviter.clone(), M::UserId)).equals((member.clone(), M::InvitedById)),
            )
            .and_where(
                Expr::col((inviter.clone(), M::OrganizationId))
                    .equals((member.clone(), M::OrganizationId)),
            )
            .and_where(Expr::col((inviter.clone(), M::Level)).gte(ORGANIZATION_ADMIN))
            .to_owned(),
    );
    let level = Expr::case(
        Expr::col((old.clone(), ProjectMemberAccess::Level))
            .eq("admin")
            .and(inviter_is_admin),
        ADMIN,
    )
    .case(
        Expr::col((old.clone(), ProjectMemberAccess::Level)).is_in(["admin", "member"]),
        MEMBER,
    )
    .finally(NONE);
    let copy = Query::insert()
        .into_table(A::Table)
        .columns([
            A::Id,
            A::OrganizationId,
            A::ProjectId,
            A::SubjectKey,
            A::MembershipId,
            A::AccessLevel,
            A::CreatedAt,
            A::UpdatedAt,
        ])
        .select_from(
            Query::select()
                .column((old.clone(), ProjectMemberAccess::Id))
                .column((member.clone(), M::OrganizationId))
                .column((old.clone(), ProjectMemberAccess::ProjectId))
                .expr(Expr::cust(r#"'member:' || "old"."membership_id""#))
                .column((old.clone(), ProjectMemberAccess::MembershipId))
                .expr(level)
                .column((old.clone(), ProjectMemberAccess::CreatedAt))
                .column((old.clone(), ProjectMemberAccess::CreatedAt))
                .from_as(ProjectMemberAccess::Table, old.clone())
                .join_as(
                    sea_query::JoinType::InnerJoin,
                    M::Table,
                    member.clone(),
                    Expr::col((member.clone(), M::Id))
                        .equals((old.clone(), ProjectMemberAccess::MembershipId)),
                )
                // A grant on another organization's project never applied.
                .join(
                    sea_query::JoinType::InnerJoin,
                    Projects::Table,
                    Expr::col((Projects::Table, Projects::Id))
                        .equals((old.clone(), ProjectMemberAccess::ProjectId))
                        .and(
                            Expr::col((Projects::Table, Projects::OrganizationId))
                                .equals((member.clone(), M::OrganizationId)),
                        ),
                )
                .to_owned(),
        )
        .expect("as many columns selected as inserted")
        .to_owned();

    vec![
        Step::Table(Box::new(roles)),
        Step::Index(Box::new(role_names)),
        Step::Index(Box::new(roles_listed)),
        Step::Table(Box::new(holders)),
        Step::Index(Box::new(one_per_user)),
        Step::Index(Box::new(by_membership)),
        Step::Index(Box::new(holders_listed)),
        Step::Table(Box::new(rules)),
        Step::Index(Box::new(one_per_subject)),
        Step::Index(Box::new(rules_by_membership)),
        Step::Index(Box::new(rules_by_role)),
        Step::Index(Box::new(rules_by_organization)),
        Step::Copy(Box::new(copy)),
        Step::Drop(Box::new(
            Table::drop().table(ProjectMemberAccess::Table).to_owned(),
        )),
    ]
}

/// The grants epoch (`storage::grants`): one row, bumped by every change
/// to what a key may reach.
fn grant_epochs() -> Vec<Step> {
    use GrantEpochs as G;
    let table = Table::create()
        .table(G::Table)
        .col(ColumnDef::new(G::Id).big_integer().not_null().primary_key())
        .col(ColumnDef::new(G::Epoch).big_integer().not_null())
        .to_owned();
    let row = Query::insert()
        .into_table(G::Table)
        .columns([G::Id, G::Epoch])
        .values_panic([1.into(), 0.into()])
        .to_owned();
    vec![Step::Table(Box::new(table)), Step::Copy(Box::new(row))]
}

/// Server-side sessions (deleted with their user) and the failed logins
/// the lockout counts.
fn sessions() -> Vec<Step> {
    use LoginFailures as F;
    use Sessions as S;
    let sessions = Table::create()
        .table(S::Table)
        .col(ColumnDef::new(S::Digest).text().not_null().primary_key())
        .col(ColumnDef::new(S::UserId).big_integer().not_null())
        .col(ColumnDef::new(S::CsrfToken).text().not_null())
        .col(ColumnDef::new(S::CreatedAt).big_integer().not_null())
        .col(ColumnDef::new(S::LastSeenAt).big_integer().not_null())
        .foreign_key(&mut fk(
            (S::Table, S::UserId),
            (Users::Table, Users::Id),
            ForeignKeyAction::Cascade,
        ))
        .to_owned();
    let by_user = Index::create()
        .name("sessions_user_id")
        .table(S::Table)
        .col(S::UserId)
        .to_owned();
    let failures = Table::create()
        .table(F::Table)
        .col(
            ColumnDef::new(F::Id)
                .big_integer()
                .not_null()
                .auto_increment()
                .primary_key(),
        )
        .col(ColumnDef::new(F::EmailKey).text().not_null())
        .col(ColumnDef::new(F::Address).text())
        .col(ColumnDef::new(F::At).big_integer().not_null())
        .to_owned();
    let by_email = Index::create()
        .name("login_failures_email_at")
        .table(F::Table)
        .col(F::EmailKey)
        .col(F::At)
        .to_owned();
    let by_address = Index::create()
        .name("login_failures_address_at")
        .table(F::Table)
        .col(F::Address)
        .col(F::At)
        .to_owned();
    let by_time = Index::create()
        .name("login_failures_at")
        .table(F::Table)
        .col(F::At)
        .to_owned();
    vec![
        Step::Table(Box::new(sessions)),
        Step::Index(Box::new(by_user)),
        Step::Table(Box::new(failures)),
        Step::Index(Box::new(by_email)),
        Step::Index(Box::new(by_address)),
        Step::Index(Box::new(by_time)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The history as SQL, both databases, one section per migration.
    fn render(m: &Migration) -> String {
        let mut out = String::new();
        for (backend, postgres) in [("sqlite", false), ("postgres", true)] {
            out.push_str(&format!("-- {} {} ({backend})\n", m.version, m.name));
            for sql in (m.steps)().iter().flat_map(|s| s.sql(postgres)) {
                out.push_str(&sql);
                out.push_str(";\n");
            }
        }
        out
    }

    const FROZEN_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/storage/migrations.sql");

    /// A database created today must get the schema older ones got: the SQL
    /// of every migration is kept in `migrations.sql`, and only appending to
    /// it is allowed. `PRICKLE_FREEZE_MIGRATIONS=1` appends new migrations.
    #[test]
    fn applied_migrations_render_the_sql_they_were_frozen_with() {
        let frozen = std::fs::read_to_string(FROZEN_PATH).unwrap();
        let rendered: String = MIGRATIONS.iter().map(render).collect();
        if rendered == frozen {
            return;
        }
        for m in MIGRATIONS {
            let header = format!("-- {} {} (sqlite)\n", m.version, m.name);
            if let Some(start) = frozen.find(&header) {
                let section = render(m);
                assert_eq!(
                    frozen.get(start..start + section.len()),
                    Some(section.as_str()),
                    "migration {} ({}) changed: append a new migration instead",
                    m.version,
                    m.name
                );
            }
        }
        let new = rendered
            .strip_prefix(frozen.as_str())
            .expect("migrations.sql holds a migration the history no longer has");
        if std::env::var("PRICKLE_FREEZE_MIGRATIONS").as_deref() == Ok("1") {
            std::fs::write(FROZEN_PATH, &rendered).unwrap();
            return;
        }
        panic!(
            "new migrations are not frozen yet; rerun with PRICKLE_FREEZE_MIGRATIONS=1 \
             to append to src/storage/migrations.sql:\n{new}"
        );
    }

    /// A migration that reads an application constant changes history when
    /// that constant is edited (for new databases only). Everything above the
    /// tests may name `storage` and crates, nothing else of this crate.
    #[test]
    fn history_names_no_application_item() {
        let source = include_str!("migrations.rs");
        let code = source.split("\n#[cfg(test)]\nmod tests {").next().unwrap();
        let outside: Vec<&str> = code
            .lines()
            .filter(|l| {
                l.match_indices("crate::")
                    .any(|(i, _)| !l[i..].starts_with("crate::storage::"))
                    || l.contains("super::super")
            })
            .collect();
        assert!(
            outside.is_empty(),
            "migrations name application items: {outside:#?}"
        );
    }

    #[test]
    fn versions_are_strictly_increasing() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
    }

    #[test]
    fn auto_increment_ids_are_rowid_aliases_on_sqlite() {
        let sql: Vec<String> = core().iter().flat_map(|s| s.sql(false)).collect();
        let users = sql
            .iter()
            .find(|s| s.contains("CREATE TABLE \"users\""))
            .unwrap();
        assert!(
            users.contains("\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT"),
            "{users}"
        );
        let pg: Vec<String> = core().iter().flat_map(|s| s.sql(true)).collect();
        assert!(
            pg.iter()
                .any(|s| s.contains("bigint GENERATED BY DEFAULT AS IDENTITY")),
            "{pg:?}"
        );
    }
}
