//! Who is calling: personal API key authentication.
//!
//! The key is looked for where PostHog looks (the `Authorization: Bearer`
//! header, then `personal_api_key` in the body, then in the query string),
//! and the first candidate found is the only one tried.

pub mod cache;
pub mod keys;
pub mod scopes;
mod store;

use crate::error::{ApiError, ApiResult};
use crate::organizations::{self, MembershipLevel, Organization};
use crate::storage::{Db, Tx};
use crate::time;
use crate::users::User;
pub use cache::{AuthCache, View};
pub use scopes::{KeyGrant, Named, Scope, Target};

/// An authenticated request's principal: the key's owner and what the key
/// grants, or a session's user (`grant.session`: no key limits apply).
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: User,
    /// The key's id; for a session, `session:<user id>` (what the rate
    /// limits count and the request log names: never a key's id).
    pub key_id: String,
    pub grant: KeyGrant,
    /// When the session was made (its login): sessions only.
    pub signed_in_at: Option<i64>,
}

impl Caller {
    /// Signed in with a session rather than a personal API key.
    pub fn is_session(&self) -> bool {
        self.grant.session
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeySource {
    Header,
    Body,
    Query,
}

impl KeySource {
    fn invalid_detail(self) -> &'static str {
        match self {
            KeySource::Header => {
                "Personal API key found in request Authorization header is invalid."
            }
            KeySource::Body => "Personal API key found in request body is invalid.",
            KeySource::Query => "Personal API key found in request query string is invalid.",
        }
    }
}

/// A credential found in the request.
pub enum Credential {
    PersonalApiKey(String, KeySource),
    /// An OAuth access token (`pha_`): prickle issues none, so none is valid.
    OAuthToken,
}

/// `^Bearer\s+(\S.+)$`, then trimmed.
fn bearer(header: &str) -> Option<&str> {
    let rest = header.strip_prefix("Bearer")?;
    if !rest.starts_with(|c: char| c.is_whitespace()) {
        return None;
    }
    let token = rest.trim();
    (token.chars().count() >= 2).then_some(token)
}

pub fn find_credential(
    authorization: Option<&str>,
    body_key: Option<&str>,
    query_key: Option<&str>,
) -> Option<Credential> {
    if let Some(token) = authorization.and_then(bearer) {
        if token.starts_with("pha_") {
            return Some(Credential::OAuthToken);
        }
        return Some(Credential::PersonalApiKey(
            token.to_string(),
            KeySource::Header,
        ));
    }
    if let Some(k) = body_key.filter(|k| !k.is_empty()) {
        return Some(Credential::PersonalApiKey(k.to_string(), KeySource::Body));
    }
    query_key
        .filter(|k| !k.is_empty())
        .map(|k| Credential::PersonalApiKey(k.to_string(), KeySource::Query))
}

/// A stored JSON list: `Ok(None)` for NULL, `Err` when it cannot be read.
fn json_list<T: serde::de::DeserializeOwned>(v: Option<String>) -> Result<Option<Vec<T>>, ()> {
    match v {
        None => Ok(None),
        Some(s) => serde_json::from_str::<Option<Vec<T>>>(&s).map_err(|_| ()),
    }
}

/// What a key was granted, read from its stored columns. Restrictions that
/// cannot be read refuse the key instead of lifting the restriction; scopes
/// that cannot be read grant nothing.
pub(super) fn grant(
    scopes: Option<String>,
    orgs: Option<String>,
    teams: Option<String>,
) -> KeyGrant {
    let scoped_organizations = json_list(orgs);
    let scoped_teams = json_list(teams);
    let restrictions_unreadable = scoped_organizations.is_err() || scoped_teams.is_err();
    KeyGrant {
        scopes: json_list(scopes).ok().flatten().unwrap_or_default(),
        scoped_organizations: scoped_organizations.unwrap_or_default(),
        scoped_teams: scoped_teams.unwrap_or_default(),
        restrictions_unreadable,
        session: false,
    }
}

/// The organization a request names, looked up together with the key so
/// the hot path costs one query.
pub enum OrgRef {
    /// A well-formed organization id.
    Id(String),
    /// `@current`: the user's current organization.
    Current,
}

/// The caller, and the named organization with the caller's level in it
/// when it was found by the same lookup (`None`: not found, or `@current`
/// with no current organization set).
pub struct Authenticated {
    pub caller: Caller,
    pub organization: Option<(Organization, Option<MembershipLevel>)>,
}

/// Resolves a credential to a caller, through the authorization cache
/// where it may be used. `site_url` builds PostHog's `WWW-Authenticate`
/// challenge. Returns how the rest of the request may use the cache.
pub async fn authenticate(
    db: &Db,
    cache: &AuthCache,
    credential: Option<Credential>,
    site_url: &str,
    org: Option<&OrgRef>,
) -> ApiResult<(Authenticated, View)> {
    let challenge =
        format!("Bearer resource_metadata=\"{site_url}/.well-known/oauth-protected-resource\"");
    let (key, source) = match credential {
        None => return Err(ApiError::not_authenticated(challenge)),
        Some(Credential::OAuthToken) => {
            return Err(ApiError::authentication_failed(
                "Invalid access token.",
                challenge,
            ))
        }
        Some(Credential::PersonalApiKey(k, s)) => (k, s),
    };
    let digest = keys::secure_value(&key);
    let mut tx = db.read().await?;
    let view = cache.view(db, &mut tx).await?;
    let (entry, organization) = match cache.key(view, &digest) {
        Some(entry) => {
            let organization = match org {
                Some(org) => organization(cache, view, &mut tx, org, &entry.caller).await?,
                None => None,
            };
            (entry, organization)
        }
        None => {
            let epoch = cache.load_epoch(view, &mut tx).await?;
            let Some(found) = store::lookup(&mut tx, &digest, org).await? else {
                return Err(ApiError::authentication_failed(
                    source.invalid_detail(),
                    challenge,
                ));
            };
            let entry = cache::KeyEntry {
                stored_digest: found.stored_digest,
                last_used_at: found.last_used_at,
                caller: found.auth.caller,
            };
            if let Some(org_id) = org.and_then(|o| org_id(o, &entry.caller)) {
                let user = entry.caller.user.id;
                let kept = found.auth.organization.clone();
                cache.put_organization(epoch, org_id, user, kept);
            }
            cache.put_key(epoch, &digest, entry.clone());
            (std::sync::Arc::new(entry), found.auth.organization)
        }
    };
    drop(tx);
    if !keys::digests_match(&entry.stored_digest, &digest) || !entry.caller.user.is_active {
        return Err(ApiError::authentication_failed(
            source.invalid_detail(),
            challenge,
        ));
    }
    let now = time::now_micros();
    if entry
        .last_used_at
        .is_none_or(|t| now - t > time::HOUR_MICROS)
    {
        store::touch(db, &entry.caller.key_id, now).await?;
        cache.touched(&digest, now);
    }
    let auth = Authenticated {
        caller: entry.caller.clone(),
        organization,
    };
    Ok((auth, view))
}

/// The organization an [`OrgRef`] names for this caller (`@current`: the
/// user's current organization, none when unset, as the joined lookup).
fn org_id<'a>(org: &'a OrgRef, caller: &'a Caller) -> Option<&'a str> {
    match org {
        OrgRef::Id(id) => Some(id),
        OrgRef::Current => caller.user.current_organization_id.as_deref(),
    }
}

/// The named organization with the caller's membership, from the cache or
/// read (and kept).
pub(crate) async fn organization(
    cache: &AuthCache,
    view: View,
    tx: &mut Tx,
    org: &OrgRef,
    caller: &Caller,
) -> ApiResult<Option<(Organization, Option<MembershipLevel>)>> {
    let Some(id) = org_id(org, caller) else {
        return Ok(None);
    };
    let user = caller.user.id;
    if let Some(found) = cache.organization(view, id, user) {
        return Ok(Option::clone(&found));
    }
    let epoch = cache.load_epoch(view, tx).await?;
    let found = organizations::find_with_level(tx, id, user).await?;
    cache.put_organization(epoch, id, user, found.clone());
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(
        auth: Option<&str>,
        body: Option<&str>,
        query: Option<&str>,
    ) -> Option<(String, KeySource)> {
        match find_credential(auth, body, query)? {
            Credential::PersonalApiKey(k, s) => Some((k, s)),
            Credential::OAuthToken => Some(("<oauth>".into(), KeySource::Header)),
        }
    }

    #[test]
    fn unreadable_restrictions_refuse_the_key() {
        let ok = grant(Some(r#"["*"]"#.into()), None, Some("[1]".into()));
        assert!(!ok.restrictions_unreadable);
        assert_eq!(ok.scoped_teams, Some(vec![1]));
        for (orgs, teams) in [(Some("not json"), None), (None, Some(r#"["x"]"#))] {
            let g = grant(
                Some(r#"["*"]"#.into()),
                orgs.map(str::to_owned),
                teams.map(str::to_owned),
            );
            assert!(g.restrictions_unreadable);
            let scopes = [Scope::read("project")];
            assert!(g.precheck(&scopes).is_err());
            assert!(g.check_project(1).is_err());
            assert!(!g.allows_organization("o"));
        }
        assert!(grant(Some("garbage".into()), None, None).scopes.is_empty());
    }

    #[test]
    fn credential_sources_in_posthog_order() {
        assert_eq!(
            found(Some("Bearer phx_a"), Some("b"), Some("c")),
            Some(("phx_a".into(), KeySource::Header))
        );
        assert_eq!(
            found(Some("Bearer   phx_a  "), None, None),
            Some(("phx_a".into(), KeySource::Header))
        );
        assert_eq!(
            found(Some("Basic xyz"), Some("b"), None),
            Some(("b".into(), KeySource::Body))
        );
        assert_eq!(
            found(Some("bearer phx_a"), None, Some("c")),
            Some(("c".into(), KeySource::Query))
        );
        assert_eq!(found(Some("Bearerphx_a"), None, None), None);
        assert_eq!(
            found(Some("Bearer pha_x"), None, None),
            Some(("<oauth>".into(), KeySource::Header))
        );
        assert_eq!(found(None, None, None), None);
    }
}
