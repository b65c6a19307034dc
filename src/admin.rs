//! `prickle admin ...`: operator commands against the same database as the
//! server (safe while it runs: each command is one write transaction).
//! Each returns the JSON object to print, or a one-line error.
//!
//! Commands check their arguments, then go through the resources' rules and
//! stores, as the API does: no SQL of their own.

use serde_json::{json, Value};

use crate::auth::{keys, scopes};
use crate::organizations::{self, store as org_store, Level, Organization};
use crate::passwords;
use crate::personal_api_keys::{model::PersonalApiKey, rules as key_rules, store as key_store};
use crate::storage::{Db, DbError, Tx};
use crate::time;
use crate::users::{store as user_store, NewUser, User};

pub type AdminResult = Result<Value, String>;

fn db_err(e: DbError) -> String {
    format!("database error: {e}")
}

/// The organization an admin command names: a well-formed id of one that exists.
async fn existing_organization(tx: &mut Tx, id: &str) -> Result<Organization, String> {
    let org_id = organizations::parse_uuid(id).ok_or_else(|| format!("no organization {id}"))?;
    org_store::find(tx, &org_id)
        .await
        .map_err(db_err)?
        .ok_or_else(|| format!("no organization {org_id}"))
}

async fn user_by_email(tx: &mut Tx, email: &str) -> Result<User, String> {
    user_store::find_by_email(tx, email)
        .await
        .map_err(db_err)?
        .ok_or_else(|| format!("no user with email {email}"))
}

pub async fn create_user(
    db: &Db,
    email: &str,
    first_name: &str,
    last_name: &str,
    password: Option<&str>,
) -> AdminResult {
    let email = email.trim();
    // The users table's limit (PostHog's `EmailField(max_length=254)`), then Django's check.
    if email.chars().count() > 254 || !crate::drf::is_valid_email(email) {
        return Err(format!("invalid email: {email:?}"));
    }
    if first_name.chars().count() > 150 || last_name.chars().count() > 150 {
        return Err("names may have at most 150 characters".into());
    }
    let password_hash = match password {
        Some(p) if p.chars().count() < passwords::MIN_LENGTH => {
            return Err(format!(
                "password must have at least {} characters",
                passwords::MIN_LENGTH
            ))
        }
        // The scheme sign-up uses; a command may block while it hashes.
        Some(p) => Some(passwords::hash_now(p)?),
        None => None,
    };
    let mut tx = db.write().await.map_err(db_err)?;
    if user_store::find_by_email(&mut tx, email)
        .await
        .map_err(db_err)?
        .is_some()
    {
        return Err(format!("a user with email {email} already exists"));
    }
    let new = NewUser {
        email,
        first_name,
        last_name,
        password_hash,
    };
    let user = user_store::insert(&mut tx, new, time::now_micros())
        .await
        .map_err(|e| match e {
            DbError::Unique => format!("a user with email {email} already exists"),
            e => db_err(e),
        })?;
    tx.commit().await.map_err(db_err)?;
    serde_json::to_value(crate::users::model::UserBasic::of(&user)).map_err(|e| e.to_string())
}

pub async fn create_organization(db: &Db, name: &str, owner_email: &str) -> AdminResult {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err("organization name must have 1 to 64 characters".into());
    }
    let now = time::now_micros();
    let mut tx = db.write().await.map_err(db_err)?;
    let owner = user_by_email(&mut tx, owner_email).await?;
    let org = org_store::insert(&mut tx, name, now)
        .await
        .map_err(db_err)?;
    org_store::add_member(&mut tx, &org.id, &owner, Level::Owner, now)
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(org.to_json(Some(Level::Owner)))
}

pub async fn add_member(db: &Db, organization_id: &str, email: &str, level: i64) -> AdminResult {
    let level = Level::from_i64(level)
        .ok_or_else(|| format!("invalid level {level} (expected 1, 8 or 15)"))?;
    let now = time::now_micros();
    let mut tx = db.write().await.map_err(db_err)?;
    let org_id = existing_organization(&mut tx, organization_id).await?.id;
    let user = user_by_email(&mut tx, email).await?;
    let membership = org_store::add_member(&mut tx, &org_id, &user, level, now)
        .await
        .map_err(|e| match e {
            DbError::Unique => format!("{email} is already a member of {org_id}"),
            e => db_err(e),
        })?;
    tx.commit().await.map_err(db_err)?;
    // Exactly as `GET members/` shows it.
    Ok(crate::members::model::member_json(&membership))
}

pub struct NewKey<'a> {
    pub email: &'a str,
    pub label: &'a str,
    pub scopes: Vec<String>,
    pub scoped_organizations: Option<Vec<String>>,
    pub scoped_teams: Option<Vec<i64>>,
}

pub async fn create_personal_api_key(db: &Db, new: NewKey<'_>) -> AdminResult {
    let label = new.label.trim();
    if label.is_empty() || label.chars().count() > 40 {
        return Err("label must have 1 to 40 characters".into());
    }
    if new.scopes.is_empty() {
        return Err("at least one scope is required".into());
    }
    if let Some(bad) = new.scopes.iter().find(|s| !scopes::is_valid_scope(s)) {
        return Err(format!("Invalid scope: {bad}"));
    }
    let mut tx = db.write().await.map_err(db_err)?;
    let user = user_by_email(&mut tx, new.email).await?;
    let mut orgs = Vec::new();
    for raw in new.scoped_organizations.iter().flatten() {
        let id = organizations::parse_uuid(raw).ok_or_else(|| format!("no organization {raw}"))?;
        let member = org_store::is_member(&mut tx, &id, user.id)
            .await
            .map_err(db_err)?;
        key_rules::may_scope_to_organization(member)?;
        orgs.push(id);
    }
    for team in new.scoped_teams.iter().flatten() {
        let member = org_store::is_member_of_project(&mut tx, *team, user.id)
            .await
            .map_err(db_err)?;
        key_rules::may_scope_to_project(member)?;
    }
    let existing = key_store::count_of_user(&mut tx, user.id)
        .await
        .map_err(db_err)?;
    key_rules::may_add_key(existing)?;
    let value = keys::new_personal_api_key();
    let id = keys::random_token(43);
    let scoped_organizations = new.scoped_organizations.map(|_| orgs);
    let now = time::now_micros();
    let key = PersonalApiKey {
        id: id.clone(),
        user_id: user.id,
        label: label.to_string(),
        mask_value: Some(keys::mask(&value)),
        created_at: now,
        last_used_at: None,
        last_rolled_at: None,
        scopes: Some(json!(new.scopes).to_string()),
        scoped_organizations: scoped_organizations.as_ref().map(|o| json!(o).to_string()),
        scoped_teams: new.scoped_teams.as_ref().map(|t| json!(t).to_string()),
    };
    key_store::insert(&mut tx, &key, &keys::secure_value(&value))
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(json!({
        "id": id,
        "label": label,
        "value": value,
        "mask_value": keys::mask(&value),
        "created_at": time::format(now),
        "scopes": new.scopes,
        "scoped_organizations": scoped_organizations,
        "scoped_teams": new.scoped_teams,
    }))
}

/// Organization settings PostHog lets admins change in its UI; prickle's
/// operators set them here until the organization endpoints exist.
pub async fn update_organization(
    db: &Db,
    organization_id: &str,
    members_can_create_projects: Option<bool>,
    members_can_invite: Option<bool>,
) -> AdminResult {
    let mut tx = db.write().await.map_err(db_err)?;
    let org_id = existing_organization(&mut tx, organization_id).await?.id;
    org_store::set_member_switches(
        &mut tx,
        &org_id,
        members_can_create_projects,
        members_can_invite,
        time::now_micros(),
    )
    .await
    .map_err(db_err)?;
    let org = org_store::find(&mut tx, &org_id)
        .await
        .map_err(db_err)?
        .ok_or_else(|| format!("no organization {org_id}"))?;
    tx.commit().await.map_err(db_err)?;
    Ok(org.to_json(None))
}

/// Registers an OAuth application for an organization, as PostHog staff do;
/// prints it in the API's list-item shape.
pub async fn create_oauth_application(
    db: &Db,
    organization_id: &str,
    name: &str,
    redirect_uris: &[String],
    is_verified: bool,
) -> AdminResult {
    use crate::oauth_applications::{model::OAuthApplication, payload, store};
    let name = payload::validate_name(name)?;
    let redirect_uris = payload::validate_redirect_uris(redirect_uris)?;
    let now = time::now_micros();
    let mut tx = db.write().await.map_err(db_err)?;
    let org_id = existing_organization(&mut tx, organization_id).await?.id;
    let app = OAuthApplication {
        id: uuid::Uuid::now_v7().to_string(),
        organization_id: Some(org_id),
        name,
        // django-oauth-toolkit's client ids: 40 letters and digits.
        client_id: keys::random_token(40),
        redirect_uris,
        is_verified,
        created: now,
        updated: now,
    };
    store::insert(&mut tx, &app).await.map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    serde_json::to_value(app.shown()).map_err(|e| e.to_string())
}

/// Gives a legal document a new signing secret and prints it, once: the
/// value for the signing service to send back to
/// `POST /api/legal_documents/signed`. Only its digest is stored, so the
/// previous secret stops working.
pub async fn roll_legal_document_secret(
    db: &Db,
    organization_id: &str,
    document_id: &str,
) -> AdminResult {
    use crate::legal_documents::{self as legal, store};
    let org_id = organizations::parse_uuid(organization_id)
        .ok_or_else(|| format!("no organization {organization_id}"))?;
    let doc_id = organizations::parse_uuid(document_id)
        .ok_or_else(|| format!("no legal document {document_id}"))?;
    let (secret, digest) = legal::new_secret();
    let mut tx = db.write().await.map_err(db_err)?;
    let doc = store::find(&mut tx, &org_id, &doc_id)
        .await
        .map_err(db_err)?
        .ok_or_else(|| format!("no legal document {doc_id} in organization {org_id}"))?;
    store::set_secret_digest(&mut tx, &org_id, &doc_id, &digest, time::now_micros())
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(json!({
        "id": doc.id,
        "organization": org_id,
        "document_type": doc.document_type,
        "status": doc.status,
        "secret": secret,
    }))
}

/// Gives an invite a new sign-up token and prints its link, once: for an
/// inviter whose server sends no email, and for invites made before tokens
/// (which no link opens until then). Only the digest is stored, so the
/// previous link stops working.
pub async fn invite_link(db: &Db, invite_id: &str, site_url: &str) -> AdminResult {
    use crate::invites::{store, token};
    let id =
        organizations::parse_uuid(invite_id).ok_or_else(|| format!("no invite {invite_id}"))?;
    let (secret, digest) = token::new();
    let mut tx = db.write().await.map_err(db_err)?;
    let found = store::set_signup_token_digest(&mut tx, &id, &digest, time::now_micros())
        .await
        .map_err(db_err)?;
    if !found {
        return Err(format!("no invite {id}"));
    }
    tx.commit().await.map_err(db_err)?;
    Ok(json!({
        "id": id,
        "signup_url": token::signup_url(site_url, &id, &secret),
    }))
}

/// The user's keys, as `GET /api/personal_api_keys/@current/` shows each.
pub async fn list_personal_api_keys(db: &Db, email: &str) -> AdminResult {
    let mut tx = db.read().await.map_err(db_err)?;
    let user = user_by_email(&mut tx, email).await?;
    let keys = key_store::of_user(&mut tx, user.id).await.map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    let results: Vec<Value> = keys.iter().map(|k| k.to_json(None)).collect();
    Ok(json!({ "results": results }))
}

async fn key_by_id(tx: &mut Tx, id: &str) -> Result<PersonalApiKey, String> {
    key_store::find_any(tx, id)
        .await
        .map_err(db_err)?
        .ok_or_else(|| format!("no personal API key {id}"))
}

/// Deletes the key (as PostHog does); prints it as it was.
pub async fn revoke_personal_api_key(db: &Db, id: &str) -> AdminResult {
    let mut tx = db.write().await.map_err(db_err)?;
    let key = key_by_id(&mut tx, id).await?;
    key_store::delete(&mut tx, &key.id).await.map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(key.to_json(None))
}

/// A new secret for the key; the old one is refused from then on.
pub async fn roll_personal_api_key(db: &Db, id: &str) -> AdminResult {
    let mut tx = db.write().await.map_err(db_err)?;
    let mut key = key_by_id(&mut tx, id).await?;
    let value = key_store::roll(&mut tx, &mut key, time::now_micros())
        .await
        .map_err(db_err)?;
    tx.commit().await.map_err(db_err)?;
    Ok(key.to_json(Some(&value)))
}
