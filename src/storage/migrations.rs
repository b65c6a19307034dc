//! The one ordered migration history, as sea-query schema statements.
//!
//! Each migration runs in its own write transaction together with the row
//! that records it, so a process killed mid-migration leaves either all of it
//! or none. Applied versions are never edited: change the schema by appending.

use sea_query::{
    ColumnDef, Expr, ExprTrait, ForeignKey, ForeignKeyAction, Index, IndexCreateStatement,
    PostgresQueryBuilder, Query, SqliteQueryBuilder, Table, TableCreateStatement,
};

use super::schema::*;
use super::{Db, DbResult, Tx};

pub enum Step {
    Table(Box<TableCreateStatement>),
    Index(Box<IndexCreateStatement>),
}

impl Step {
    fn sql(&self, postgres: bool) -> String {
        match (self, postgres) {
            (Step::Table(t), true) => t.build(PostgresQueryBuilder),
            (Step::Table(t), false) => t.build(SqliteQueryBuilder),
            (Step::Index(i), true) => i.build(PostgresQueryBuilder),
            (Step::Index(i), false) => i.build(SqliteQueryBuilder),
        }
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
];

/// Applies pending migrations; returns how many ran.
pub async fn run(db: &Db) -> DbResult<usize> {
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
        let sql = Step::Table(Box::new(create)).sql(tx.is_postgres());
        serialise_migrators(&mut tx).await?;
        tx.batch(&sql).await?;
        tx.commit().await?;
    }
    let mut applied = 0;
    for m in MIGRATIONS {
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
        for step in (m.steps)() {
            tx.batch(&step.sql(postgres)).await?;
        }
        tx.execute(
            Query::insert()
                .into_table(PrickleMigrations::Table)
                .columns([
                    PrickleMigrations::Version,
                    PrickleMigrations::Name,
                    PrickleMigrations::AppliedAt,
                ])
                .values_panic([
                    m.version.into(),
                    m.name.into(),
                    crate::time::now_micros().into(),
                ]),
        )
        .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "applied migration");
        applied += 1;
    }
    Ok(applied)
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
        .and_where(Expr::cust(crate::members::store::HIDDEN_USER))
        .to_owned();
    vec![
        Step::Index(Box::new(by_joined)),
        Step::Index(Box::new(hidden)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_strictly_increasing() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].version < w[1].version));
    }

    #[test]
    fn auto_increment_ids_are_rowid_aliases_on_sqlite() {
        let sql: Vec<String> = core().iter().map(|s| s.sql(false)).collect();
        let users = sql
            .iter()
            .find(|s| s.contains("CREATE TABLE \"users\""))
            .unwrap();
        assert!(
            users.contains("\"id\" integer NOT NULL PRIMARY KEY AUTOINCREMENT"),
            "{users}"
        );
        let pg: Vec<String> = core().iter().map(|s| s.sql(true)).collect();
        assert!(
            pg.iter()
                .any(|s| s.contains("bigint GENERATED BY DEFAULT AS IDENTITY")),
            "{pg:?}"
        );
    }
}
