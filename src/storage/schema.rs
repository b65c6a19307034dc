//! Table and column names, shared by migrations and queries.
//!
//! Portable column types only: BIGINT (ids, levels, timestamps as UTC
//! microseconds since the epoch), TEXT (UUIDs, JSON documents) and BOOLEAN.

use sea_query::Iden;

#[derive(Iden, Clone, Copy)]
pub enum PrickleMigrations {
    Table,
    Version,
    Name,
    AppliedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum Organizations {
    Table,
    Id,
    Name,
    MembersCanInvite,
    MembersCanCreateProjects,
    MembersCanUsePersonalApiKeys,
    IsMemberJoinEmailEnabled,
    DefaultAnonymizeIps,
    CreatedAt,
    UpdatedAt,
    /// Unique; NULL for organizations made before it existed.
    Slug,
    LogoMediaId,
    #[iden = "enforce_2fa"]
    Enforce2fa,
    AllowPubliclySharedResources,
    IsAiDataProcessingApproved,
    DefaultExperimentStatsMethod,
    DefaultRoleId,
}

#[derive(Iden, Clone, Copy)]
pub enum Users {
    Table,
    Id,
    Uuid,
    DistinctId,
    FirstName,
    LastName,
    Email,
    /// Lower-cased email: uniqueness is case-insensitive, as in PostHog.
    EmailKey,
    Password,
    IsEmailVerified,
    IsActive,
    RoleAtOrganization,
    HedgehogConfig,
    CurrentOrganizationId,
    CurrentTeamId,
    LastLogin,
    DateJoined,
    AnonymizeData,
    ToolbarMode,
    ThemeMode,
    /// JSON object: the settings the user changed (PostHog's partial_notification_settings).
    NotificationSettings,
    PendingEmail,
}

#[derive(Iden, Clone, Copy)]
pub enum OrganizationMemberships {
    Table,
    Id,
    OrganizationId,
    UserId,
    Level,
    JoinedAt,
    UpdatedAt,
    InvitedById,
}

#[derive(Iden, Clone, Copy)]
pub enum PersonalApiKeys {
    Table,
    Id,
    UserId,
    Label,
    MaskValue,
    SecureValue,
    CreatedAt,
    LastUsedAt,
    /// JSON array of scope strings.
    Scopes,
    /// JSON array of organization ids, or NULL.
    ScopedOrganizations,
    /// JSON array of project ids, or NULL.
    ScopedTeams,
    LastRolledAt,
}

#[derive(Iden, Clone, Copy)]
pub enum Projects {
    Table,
    Id,
    Uuid,
    OrganizationId,
    Name,
    /// Trimmed, lower-cased name: PostHog's duplicate-name rule, enforced by a unique index.
    NameKey,
    ProductDescription,
    IsDemo,
    ApiToken,
    SecretApiToken,
    SecretApiTokenBackup,
    IngestedEvent,
    /// JSON object of every project setting (see `projects::settings`).
    Settings,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum ActivityLog {
    Table,
    Id,
    /// `ON DELETE CASCADE` since migration 9. `TeamId` has no key: entries
    /// about a deleted project stay (PostHog keeps them).
    OrganizationId,
    TeamId,
    UserId,
    IsSystem,
    Activity,
    ItemId,
    Scope,
    /// JSON object.
    Detail,
    CreatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum LegalDocuments {
    Table,
    Id,
    OrganizationId,
    /// `BAA` or `DPA`; one of each per organization (unique index).
    DocumentType,
    CompanyName,
    CompanyAddress,
    RepresentativeName,
    RepresentativeTitle,
    RepresentativeEmail,
    DpaMode,
    /// `submitted_for_signature`, then `signed`.
    Status,
    SignedDocumentUrl,
    /// `sha256$<hex>` of the signing secret; the secret itself is never stored.
    SecretDigest,
    CreatedById,
    CreatedAt,
    UpdatedAt,
}

#[derive(Iden, Clone, Copy)]
pub enum OauthApplications {
    Table,
    Id,
    /// `ON DELETE CASCADE` since migration 9 (PostHog: SET NULL, which
    /// leaves the application without an organization).
    OrganizationId,
    Name,
    ClientId,
    /// Space-separated, as django-oauth-toolkit stores them.
    RedirectUris,
    IsVerified,
    Created,
    Updated,
}

#[derive(Iden, Clone, Copy)]
pub enum OrganizationInvites {
    Table,
    Id,
    OrganizationId,
    /// Stored lower-cased (PostHog's newest normalisation).
    TargetEmail,
    FirstName,
    CreatedById,
    EmailingAttemptMade,
    Message,
    Level,
    /// JSON array of `{"id", "level"}`, or NULL.
    PrivateProjectAccess,
    CreatedAt,
    UpdatedAt,
    /// `sha256$<hex>` of the invite's sign-up token (migration 8); NULL for
    /// invites made before it, which no token opens until one is rolled.
    SignupTokenDigest,
}

/// A member's access level on one project, granted by an accepted invite's
/// `private_project_access`. Migration 10 copied its rows into
/// `access_controls` and dropped it; the name stays for migrations 4 and 10.
#[derive(Iden, Clone, Copy)]
pub enum ProjectMemberAccess {
    Table,
    Id,
    ProjectId,
    MembershipId,
    Level,
    CreatedAt,
}

/// An organization's roles: named groups of members that project rules can name.
#[derive(Iden, Clone, Copy)]
pub enum Roles {
    Table,
    Id,
    OrganizationId,
    Name,
    /// The trimmed, lower-cased name: unique per organization.
    NameKey,
    CreatedById,
    CreatedAt,
}

/// Who holds a role: one row per (role, user), through their membership.
#[derive(Iden, Clone, Copy)]
pub enum RoleMemberships {
    Table,
    Id,
    RoleId,
    UserId,
    MembershipId,
    JoinedAt,
    UpdatedAt,
}

/// Project access rules: the default rule, member rules and role rules.
#[derive(Iden, Clone, Copy)]
pub enum AccessControls {
    Table,
    Id,
    OrganizationId,
    ProjectId,
    /// `default`, `member:<membership id>` or `role:<role id>`: one rule per
    /// subject, whatever the nullable columns hold.
    SubjectKey,
    MembershipId,
    RoleId,
    /// 0 none, 1 member, 8 admin: `MAX()` ranks them.
    AccessLevel,
    CreatedById,
    CreatedAt,
    UpdatedAt,
}

/// One row (`id` 1): the number every change to what a key may reach bumps
/// (`storage::grants`).
#[derive(Iden, Clone, Copy)]
pub enum GrantEpochs {
    Table,
    Id,
    Epoch,
}

/// A signed-in browser: the SHA-256 digest of its `sessionid` cookie (the
/// token itself is never stored), its user, and its CSRF token.
#[derive(Iden, Clone, Copy)]
pub enum Sessions {
    Table,
    /// `sha256$<hex>` of the session token: the primary key.
    Digest,
    UserId,
    CsrfToken,
    CreatedAt,
    LastSeenAt,
}

/// Failed logins within the lockout window, per account and per address
/// (django-axes' access failures): bookkeeping, pruned as it is written.
#[derive(Iden, Clone, Copy)]
pub enum LoginFailures {
    Table,
    Id,
    /// The lower-cased email tried (whether or not an account has it).
    EmailKey,
    /// The client's address, when known.
    Address,
    At,
}
