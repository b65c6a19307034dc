//! The resolution of a caller's level on a project (the spec's §3), as pure
//! functions: the one place that decides, unit-tested as a complete table.

use crate::organizations::model::Level;

/// A rule's level. The stored numbers rank them (`MAX()` in SQL).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum RuleLevel {
    None = 0,
    Member = 1,
    Admin = 8,
}

impl RuleLevel {
    pub const ALL: [RuleLevel; 3] = [RuleLevel::None, RuleLevel::Member, RuleLevel::Admin];

    /// The exact names PostHog accepts (after DRF's trim).
    pub fn parse(s: &str) -> Option<RuleLevel> {
        match s {
            "none" => Some(RuleLevel::None),
            "member" => Some(RuleLevel::Member),
            "admin" => Some(RuleLevel::Admin),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            RuleLevel::None => "none",
            RuleLevel::Member => "member",
            RuleLevel::Admin => "admin",
        }
    }

    pub fn as_i64(self) -> i64 {
        self as i64
    }

    /// A stored level; anything else reads as the most restrictive.
    pub fn from_i64(v: i64) -> RuleLevel {
        match v {
            8 => RuleLevel::Admin,
            1 => RuleLevel::Member,
            _ => RuleLevel::None,
        }
    }

    fn grants(self) -> Option<ProjectLevel> {
        match self {
            RuleLevel::None => None,
            RuleLevel::Member => Some(ProjectLevel::Member),
            RuleLevel::Admin => Some(ProjectLevel::Admin),
        }
    }
}

/// A caller's level on a project they can see.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProjectLevel {
    Member = 1,
    Admin = 8,
}

impl ProjectLevel {
    /// `effective_membership_level`: PostHog's membership numbers.
    pub fn as_i64(self) -> i64 {
        self as i64
    }

    /// `user_access_level`.
    pub fn as_str(self) -> &'static str {
        match self {
            ProjectLevel::Member => "member",
            ProjectLevel::Admin => "admin",
        }
    }
}

/// Where a resolved level comes from (`users_with_access`'s `access_source`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    OrganizationAdmin,
    ExplicitMember,
    ExplicitRole,
    Default,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::OrganizationAdmin => "organization_admin",
            Source::ExplicitMember => "explicit_member",
            Source::ExplicitRole => "explicit_role",
            Source::Default => "default",
        }
    }
}

/// The rules of one project that apply to one member, as the store reads
/// them: the rule naming their membership, the highest rule naming a role
/// they hold in the project's organization, and the project's default rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    pub member: Option<RuleLevel>,
    pub role: Option<RuleLevel>,
    pub default: Option<RuleLevel>,
}

impl Rules {
    /// A project without rules (what a member creating one gets).
    pub const NONE: Rules = Rules {
        member: None,
        role: None,
        default: None,
    };
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolved {
    /// `None`: the project is hidden from the caller.
    pub level: Option<ProjectLevel>,
    pub source: Source,
}

impl From<Granted> for Resolved {
    fn from(g: Granted) -> Resolved {
        Resolved {
            level: Some(g.level),
            source: g.source,
        }
    }
}

impl Resolved {
    pub fn visible(&self) -> bool {
        self.level.is_some()
    }

    /// The level of a visible project (`None`: hidden).
    pub fn granted(self) -> Option<Granted> {
        self.level.map(|level| Granted {
            level,
            source: self.source,
        })
    }
}

/// A caller's resolved access to a project they can see: what a project
/// route's handler receives, so it cannot be handed a hidden project.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Granted {
    pub level: ProjectLevel,
    pub source: Source,
}

/// Whose view of an organization's projects a query of several projects
/// returns: every project for an organization admin or owner, otherwise the
/// ones the rules naming the caller's membership let them see. Every store
/// function that returns several projects takes one, so a new list cannot
/// forget the rules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Visibility {
    All,
    Member { membership_id: String },
}

impl Visibility {
    pub fn of(level: Level, membership_id: &str) -> Visibility {
        if level.is_admin() {
            Visibility::All
        } else {
            Visibility::Member {
                membership_id: membership_id.to_string(),
            }
        }
    }

    /// The caller's organization level, as [`resolve`] takes it.
    pub fn org_level(&self) -> Level {
        match self {
            Visibility::All => Level::Admin,
            Visibility::Member { .. } => Level::Member,
        }
    }
}

/// A caller's level on a project. Organization admins and owners are always
/// project admins; otherwise explicit rules (member and role) decide, the
/// highest winning and an all-`none` answer denying; then the default rule;
/// then the organization level (member), prickle's decision 5 where the
/// newest PostHog gives admin.
pub fn resolve(org_level: Option<Level>, rules: &Rules) -> Resolved {
    let Some(org_level) = org_level else {
        return Resolved {
            level: None,
            source: Source::Default,
        };
    };
    if org_level.is_admin() {
        return Resolved {
            level: Some(ProjectLevel::Admin),
            source: Source::OrganizationAdmin,
        };
    }
    if let Some(explicit) = rules.member.max(rules.role) {
        let source = if rules.member.is_some() {
            Source::ExplicitMember
        } else {
            Source::ExplicitRole
        };
        return Resolved {
            level: explicit.grants(),
            source,
        };
    }
    Resolved {
        level: match rules.default {
            Some(default) => default.grants(),
            None => Some(ProjectLevel::Member),
        },
        source: Source::Default,
    }
}

/// Who may write a project's rules (`user_can_edit_access_levels`): an
/// organization admin, or anyone whose level on the project is admin.
pub fn may_edit_rules(org_level: Option<Level>, resolved: &Resolved) -> bool {
    org_level.is_some_and(Level::is_admin) || resolved.level == Some(ProjectLevel::Admin)
}

/// Deleting a project, and its admin-only settings, take admin on it.
pub fn is_project_admin(resolved: &Resolved) -> bool {
    resolved.level == Some(ProjectLevel::Admin)
}

/// What an invite's checks know of one project of the organization, for
/// the inviter: whether it is restricted (it has a default rule) and the
/// inviter's resolved level on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InviteFacts {
    pub restricted: bool,
    pub resolved: Resolved,
}

impl InviteFacts {
    pub fn of(org_level: Level, rules: &Rules) -> InviteFacts {
        InviteFacts {
            restricted: rules.default.is_some(),
            resolved: resolve(Some(org_level), rules),
        }
    }
}

/// PostHog's text for a project the inviter may not name.
pub const INVITE_NO_PROJECT: &str =
    "Project does not exist on this organization, or it is private and you do not have access to it.";
/// PostHog's (upstream) text for a level above the inviter's own.
pub const INVITE_ABOVE_OWN: &str =
    "You cannot invite to a private project with a higher level than your own.";

/// May an inviter at `org_level` grant `requested` on a project of the
/// organization (the spec's §10 steps 3-6, in the design's order)?
/// Organization admins may grant anything; a project hidden from the
/// inviter is "does not exist" (decisions 7 and 13, before anything else
/// could reveal it); and nobody grants above their own level, on
/// unrestricted projects too (design Q1, decided: with decision 5 a plain
/// member is `member` there, and PostHog's "accepted" would let them make
/// project admins).
pub fn invite_check(
    org_level: Level,
    facts: &InviteFacts,
    requested: ProjectLevel,
) -> Result<(), &'static str> {
    if org_level.is_admin() {
        return Ok(());
    }
    let Some(own) = facts.resolved.level else {
        return Err(INVITE_NO_PROJECT);
    };
    if requested > own {
        return Err(INVITE_ABOVE_OWN);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProjectLevel as P;
    use RuleLevel as R;

    const ORG_LEVELS: [Option<Level>; 4] = [
        None,
        Some(Level::Member),
        Some(Level::Admin),
        Some(Level::Owner),
    ];

    fn rule_options() -> [Option<RuleLevel>; 4] {
        [None, Some(R::None), Some(R::Member), Some(R::Admin)]
    }

    /// The spec's table for a plain member, by E = max(member, role) and the
    /// default rule D: written out, not computed.
    fn plain_member(e: Option<RuleLevel>, d: Option<RuleLevel>) -> Option<ProjectLevel> {
        match (e, d) {
            (None, None) => Some(P::Member),
            (None, Some(R::None)) => None,
            (None, Some(R::Member)) => Some(P::Member),
            (None, Some(R::Admin)) => Some(P::Admin),
            (Some(R::None), _) => None,
            (Some(R::Member), _) => Some(P::Member),
            (Some(R::Admin), _) => Some(P::Admin),
        }
    }

    /// Every combination: 4 organization levels × 4 member rules × 4 role
    /// rules × 4 default rules.
    #[test]
    fn the_complete_table() {
        let mut rows = 0;
        for org in ORG_LEVELS {
            for member in rule_options() {
                for role in rule_options() {
                    for default in rule_options() {
                        rows += 1;
                        let rules = Rules {
                            member,
                            role,
                            default,
                        };
                        let got = resolve(org, &rules);
                        let (level, source) = match org {
                            None => (None, Source::Default),
                            Some(l) if l.is_admin() => (Some(P::Admin), Source::OrganizationAdmin),
                            Some(_) => {
                                let e = member.max(role);
                                let source = match (member, role) {
                                    (Some(_), _) => Source::ExplicitMember,
                                    (None, Some(_)) => Source::ExplicitRole,
                                    (None, None) => Source::Default,
                                };
                                (plain_member(e, default), source)
                            }
                        };
                        let row = format!("org {org:?}, {rules:?}");
                        assert_eq!(got.level, level, "{row}");
                        assert_eq!(got.source, source, "{row}");
                        assert_eq!(got.visible(), level.is_some(), "{row}");
                        assert_eq!(
                            may_edit_rules(org, &got),
                            org.is_some_and(Level::is_admin) || level == Some(P::Admin),
                            "{row}"
                        );
                        assert_eq!(is_project_admin(&got), level == Some(P::Admin), "{row}");
                    }
                }
            }
        }
        assert_eq!(rows, 256);
    }

    /// The precedence a reader should see without decoding the generator.
    #[test]
    fn literal_rows() {
        let m = Some(Level::Member);
        let rules = |member, role, default| Rules {
            member,
            role,
            default,
        };
        // A member rule `none` with a higher role rule: the role wins.
        let r = resolve(m, &rules(Some(R::None), Some(R::Admin), None));
        assert_eq!(
            (r.level, r.source),
            (Some(P::Admin), Source::ExplicitMember)
        );
        // An explicit denial is never lifted by the default rule.
        let r = resolve(m, &rules(None, Some(R::None), Some(R::Admin)));
        assert_eq!((r.level, r.source), (None, Source::ExplicitRole));
        // Private project, no explicit rule: hidden.
        assert_eq!(resolve(m, &rules(None, None, Some(R::None))).level, None);
        // An owner with every rule `none` is still admin.
        let none = Some(R::None);
        let r = resolve(Some(Level::Owner), &rules(none, none, none));
        assert_eq!(
            (r.level, r.source),
            (Some(P::Admin), Source::OrganizationAdmin)
        );
        // No rules: a member is a member, as before access control.
        let r = resolve(m, &Rules::NONE);
        assert_eq!((r.level, r.source), (Some(P::Member), Source::Default));
    }

    #[test]
    fn level_names_round_trip() {
        for l in RuleLevel::ALL {
            assert_eq!(RuleLevel::parse(l.as_str()), Some(l));
            assert_eq!(RuleLevel::from_i64(l.as_i64()), l);
        }
        assert_eq!(RuleLevel::parse("Admin"), None);
        assert_eq!(RuleLevel::parse(" admin"), None);
    }

    /// The invite checks: every organization level × restricted or not ×
    /// the inviter's resolved level × the level asked for.
    #[test]
    fn invite_check_table() {
        let levels = [None, Some(P::Member), Some(P::Admin)];
        let mut rows = 0;
        for org in [Level::Member, Level::Admin, Level::Owner] {
            for restricted in [false, true] {
                for own in levels {
                    for requested in [P::Member, P::Admin] {
                        rows += 1;
                        let facts = InviteFacts {
                            restricted,
                            resolved: Resolved {
                                level: own,
                                source: Source::Default,
                            },
                        };
                        let want = match (org.is_admin(), own) {
                            (true, _) => Ok(()),
                            (false, None) => Err(INVITE_NO_PROJECT),
                            (false, Some(own)) if requested > own => Err(INVITE_ABOVE_OWN),
                            (false, Some(_)) => Ok(()),
                        };
                        let row = format!("{org:?} restricted={restricted} {own:?} {requested:?}");
                        assert_eq!(invite_check(org, &facts, requested), want, "{row}");
                    }
                }
            }
        }
        assert_eq!(rows, 36);
        // Literal rows: a plain member on a project without rules is a
        // member there, so may invite members but not admins (Q1).
        let open = InviteFacts::of(Level::Member, &Rules::NONE);
        assert!(!open.restricted);
        assert_eq!(invite_check(Level::Member, &open, P::Member), Ok(()));
        assert_eq!(
            invite_check(Level::Member, &open, P::Admin),
            Err(INVITE_ABOVE_OWN)
        );
        // Private, no rule of theirs: hidden, so "does not exist".
        let private = Rules {
            default: Some(R::None),
            ..Rules::NONE
        };
        let facts = InviteFacts::of(Level::Member, &private);
        assert!(facts.restricted);
        assert_eq!(
            invite_check(Level::Member, &facts, P::Member),
            Err(INVITE_NO_PROJECT)
        );
        // An owner invites anywhere, at any level.
        let facts = InviteFacts::of(Level::Owner, &private);
        assert_eq!(invite_check(Level::Owner, &facts, P::Admin), Ok(()));
        // A project admin by rule on a private project may invite admins.
        let admin_rule = Rules {
            member: Some(R::Admin),
            ..private
        };
        let facts = InviteFacts::of(Level::Member, &admin_rule);
        assert_eq!(invite_check(Level::Member, &facts, P::Admin), Ok(()));
    }
}
