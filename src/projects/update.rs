//! Validating a project body against the stored project, in PostHog's order,
//! and describing what changed for the activity log.

use serde_json::{Map, Value};

use super::model::{field_position, Project};
use super::payload::{Sent, PROJECT};
use super::{settings, store};
use crate::activity;
use crate::error::{ApiError, ApiResult};
use crate::organizations::Level;
use crate::storage::{DbError, Tx};

/// A project name already used in the organization.
pub struct Conflict(pub String);

/// A unique-index violation on insert/update is a name taken by a concurrent
/// writer: the same 409 as the up-front check.
pub fn name_conflict(e: DbError, name: &str) -> ApiError {
    match e {
        DbError::Unique => Conflict(name.to_string()).into(),
        other => other.into(),
    }
}

/// A validated body, ready to apply.
pub struct Changes {
    pub name: Option<String>,
    pub product_description: Option<Option<String>>,
    pub is_demo: Option<bool>,
    /// The settings the body sends (and those their side effects change),
    /// as they will be: the rest of the document stays as stored.
    pub settings: Map<String, Value>,
    /// The same settings as stored before this change (for the activity diff).
    pub before_settings: Map<String, Value>,
    /// The new settings document, when the body sends any setting.
    pub settings_json: Option<String>,
    /// Admin-only fields present in the body (for the admin gates).
    pub admin_fields: Vec<&'static str>,
    /// An object-level error (PostHog's `validate()`, which names no field):
    /// PostHog raises it only after the admin gates, so the handler reports it
    /// after them (and, on create, after the `primary_dashboard` check).
    pub deferred: Option<ApiError>,
}

impl Changes {
    /// The deferred object-level error, if any, now that the gates have passed.
    pub fn check_deferred(&mut self) -> ApiResult<()> {
        match self.deferred.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Applies the changes; returns the changed settings before and after
    /// (for the diff).
    pub fn apply_to(self, p: &mut Project) -> (Map<String, Value>, Map<String, Value>) {
        if let Some(name) = self.name {
            p.name = name;
        }
        if let Some(d) = self.product_description {
            p.product_description = d;
        }
        if let Some(d) = self.is_demo {
            p.is_demo = d;
        }
        if let Some(json) = self.settings_json {
            p.settings_json = json;
        }
        (self.before_settings, self.settings)
    }
}

/// Validates a body as DRF would: fields in the serializer's order, field
/// errors collected and the first reported, while a duplicate name (409) and
/// permission errors (403) stop at once.
pub async fn validate(
    tx: &mut Tx,
    current: &Project,
    sent: &Sent,
    org_level: Level,
    is_update: bool,
    now: i64,
) -> ApiResult<Changes> {
    let body = &sent.fields;
    let mut errors: Vec<(usize, ApiError)> = sent
        .unreadable
        .iter()
        .map(|(field, e)| (field_position(field), e.clone()))
        .collect();
    let checked = PROJECT.check_object(body, is_update, "");
    let name = checked
        .value("name")
        .and_then(Value::as_str)
        .map(str::to_owned);
    if let Some(n) = &name {
        let unchanged = is_update && *n == current.name;
        let except = is_update.then_some(current.id);
        if !unchanged && store::name_taken(tx, &current.organization_id, n, except).await? {
            return Err(Conflict(n.clone()).into());
        }
    }
    for (field, e) in checked.errors() {
        errors.push((field_position(field), e.clone()));
    }
    let product_description = checked
        .value("product_description")
        .map(|v| v.as_str().map(str::to_owned));
    let is_demo = checked.value("is_demo").and_then(Value::as_bool);
    let mut deferred = None;
    // Only the settings the body sends are read from the stored document
    // (all of them when a side effect may read any), and only they are
    // written back into it.
    let reads = settings::stored_reads(body);
    let stored = match &reads {
        Some(names) if names.is_empty() => None,
        _ => Some(settings::Document::parse(&current.settings_json)),
    };
    let before_settings = match (&stored, reads) {
        (None, _) => Map::new(),
        (Some(doc), Some(names)) => doc.values(names),
        (Some(doc), None) => doc.all(),
    };
    let updater = is_update.then_some(org_level);
    let now = crate::time::from_micros(now);
    let new_settings = match settings::apply(&before_settings, body, now, updater) {
        Ok(s) => Some(s),
        Err(e) if e.status.as_u16() == 403 => return Err(e),
        // Field errors always name their field; one that doesn't is object-level.
        Err(e) if e.attr.is_none() => {
            deferred = Some(e);
            None
        }
        Err(e) => {
            let field = e
                .attr
                .as_deref()
                .map(|a| a.split("__").next().unwrap_or(a).to_string());
            errors.push((
                field.as_deref().map(field_position).unwrap_or(usize::MAX),
                e,
            ));
            None
        }
    };
    if let Some((_, e)) = errors.into_iter().min_by_key(|(pos, _)| *pos) {
        return Err(e);
    }
    let mut admin_fields = settings::admin_fields_in(body);
    for field in ["name", "is_demo"] {
        if body.contains_key(field) {
            admin_fields.push(field);
        }
    }
    let settings = new_settings.unwrap_or_default();
    let settings_json = stored.map(|doc| doc.with(&settings));
    Ok(Changes {
        name,
        product_description,
        is_demo,
        settings,
        before_settings,
        settings_json,
        admin_fields,
        deferred,
    })
}

/// The `Team` and `Project` changes between two versions of a project.
pub fn diff(
    before: &Project,
    after: &Project,
    before_settings: &Map<String, Value>,
    after_settings: &Map<String, Value>,
) -> (Vec<Value>, Vec<Value>) {
    let mut team = Vec::new();
    let mut project = Vec::new();
    let name = (
        Value::String(before.name.clone()),
        Value::String(after.name.clone()),
    );
    team.extend(activity::change("Team", "name", &name.0, &name.1));
    team.extend(activity::change(
        "Team",
        "is_demo",
        &Value::Bool(before.is_demo),
        &Value::Bool(after.is_demo),
    ));
    // Settings the change does not name are as stored: only the named ones
    // can differ, logged in SETTINGS order.
    let mut named: Vec<(usize, &settings::Setting, &Value)> = after_settings
        .iter()
        .filter_map(|(name, after)| {
            let i = settings::index(name)?;
            Some((i, &settings::SETTINGS[i], after))
        })
        .collect();
    named.sort_unstable_by_key(|(i, _, _)| *i);
    for (_, s, a) in named {
        let b = before_settings.get(s.name).unwrap_or(&Value::Null);
        // Equal values log equal.
        if b == a {
            continue;
        }
        team.extend(activity::change(
            "Team",
            s.logged_field(),
            &s.logged(b),
            &s.logged(a),
        ));
    }
    project.extend(activity::change("Project", "name", &name.0, &name.1));
    let desc = |p: &Project| {
        p.product_description
            .clone()
            .map(Value::String)
            .unwrap_or(Value::Null)
    };
    project.extend(activity::change(
        "Project",
        "product_description",
        &desc(before),
        &desc(after),
    ));
    (team, project)
}
