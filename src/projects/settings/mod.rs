//! A project's settings document: the writable PostHog project settings (the fields PostHog
//! keeps on the project's primary Team). Each one is declared once, in [`SETTINGS`]: who may
//! change it, its self-hosted default, its check, its merge rule on `PATCH`, where the API
//! shows it, and its schema and description. New projects' defaults, the validation of
//! `PATCH /projects/:id/` (PostHog's `ProjectBackwardCompatSerializer`), the admin gate,
//! rendering (`model.rs`), activity diffs (`update.rs`) and the API schema all read the
//! declarations. (Creation still names two in `projects::create`: `anonymize_ips` starts at
//! the organization's default, and `primary_dashboard` is refused.)
//!
//! The checks live in `validators.rs` (on DRF's field semantics in `rules.rs`), the merge
//! rules in `merge.rs`, the schema types in `schema.rs`.

use std::borrow::Cow;
use std::sync::OnceLock;

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};
use crate::organizations::Level;

mod document;
mod merge;
mod regex_syntax;
mod rules;
pub mod schema;
mod table;
mod validators;

#[cfg(test)]
mod table_tests;
#[cfg(test)]
mod tests;

pub use document::Document;
use rules::Attr;
use schema::{Schema, Type};
pub use table::SETTINGS;

/// Who may change a setting after the project exists (PostHog's newest admin gate).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Member,
    Admin,
}

/// A setting's check, run when a body sends it.
#[derive(Clone, Copy, Debug)]
pub enum Validate {
    /// Any JSON, stored as sent: a `JSONField` PostHog does not check.
    AnyJson,
    /// A field validator, run in field order with the others: DRF reports the first failure,
    /// except that a 403 (PostHog raises `PermissionDenied` inside `validate_<field>`, which
    /// DRF does not collect) stops at once.
    Field(fn(&Value, &Input<'_>) -> ApiResult<Value>),
    /// Any JSON for the field itself, then checked by the serializer's `validate()` once
    /// every field passed: the error names no field.
    Object(fn(&Value) -> ApiResult<()>),
}

/// How a sent value combines with the stored one.
#[derive(Clone, Copy, Debug)]
pub enum Merge {
    /// The sent value replaces the stored one.
    Replace,
    /// `{**stored, **sent}` when the sent value is an object and the stored one an object or
    /// null; otherwise the sent value replaces it.
    Keys,
    /// As `Keys`, and object values one level down merge key by key too; deeper ones are
    /// replaced.
    KeysTwoLevels,
    /// Replaces, then adjusts the rest of the document once every sent setting is in
    /// (PostHog's `update()` side effects).
    ReplaceThen(fn(&Change<'_>, &mut Map<String, Value>)),
}

/// Where the API shows a setting. In the project detail, settings appear in [`SETTINGS`]
/// order, the project's own fields between them (`model.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Shown {
    Detail,
    /// In the detail and in the list item (ProjectBackwardCompatBasic), right after the
    /// named list field.
    DetailAndList {
        after: &'static str,
    },
}

pub struct Setting {
    pub name: &'static str,
    pub access: Access,
    /// A new project's value, as JSON text.
    pub default: &'static str,
    pub validate: Validate,
    pub merge: Merge,
    pub shown: Shown,
    pub schema: Schema,
    pub description: &'static str,
}

/// What a field validator sees besides the sent value.
pub struct Input<'a> {
    pub setting: &'static Setting,
    /// The settings as stored before this change.
    pub stored: &'a Map<String, Value>,
    pub now: DateTime<Utc>,
    /// The caller's level on an update; `None` at creation.
    pub updater: Option<Level>,
}

impl Input<'_> {
    /// The setting's name, as errors name it.
    pub fn attr(&self) -> Attr {
        Cow::Borrowed(self.setting.name)
    }
}

/// A setting's accepted value, for a `Merge::ReplaceThen` effect.
pub struct Change<'a> {
    pub stored: &'a Map<String, Value>,
    pub body: &'a Map<String, Value>,
    pub value: &'a Value,
}

impl Setting {
    /// The setting's schema object for the API document, with its description.
    pub fn schema_json(&self) -> Value {
        let mut schema = self.schema.to_json();
        if let Value::Object(m) = &mut schema {
            m.insert("description".into(), Value::from(self.description));
        }
        schema
    }

    /// The field PostHog's activity log names: a foreign key's column.
    pub fn logged_field(&self) -> &'static str {
        match self.schema.ty {
            Type::ForeignKey { column } => column,
            _ => self.name,
        }
    }

    /// The value as PostHog's activity log shows it: decimals without trailing zeros
    /// ("0.40" → "0.4").
    pub fn logged(&self, v: &Value) -> Value {
        match (self.schema.ty, v) {
            (Type::Decimal { .. }, Value::String(s)) if s.contains('.') => {
                Value::String(s.trim_end_matches('0').trim_end_matches('.').to_string())
            }
            _ => v.clone(),
        }
    }
}

pub fn find(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}

/// A setting's position in [`SETTINGS`].
pub fn index(name: &str) -> Option<usize> {
    SETTINGS.iter().position(|s| s.name == name)
}

/// The settings document of a brand-new (self-hosted) project: every setting -> its default.
pub fn defaults() -> Map<String, Value> {
    static DEFAULTS: OnceLock<Map<String, Value>> = OnceLock::new();
    DEFAULTS
        .get_or_init(|| {
            SETTINGS
                .iter()
                // A default that is not JSON fails `table_tests`; never a panic here.
                .map(|s| {
                    let value = serde_json::from_str(s.default).unwrap_or(Value::Null);
                    (s.name.to_string(), value)
                })
                .collect()
        })
        .clone()
}

/// Validates a PATCH/POST body's settings against the stored document and returns the new
/// document. Keys that are not settings are ignored (the caller handles them).
///
/// Order of failures follows DRF: every field is validated in SETTINGS order and the first
/// 400 is reported, except that a 403 raised by a field validator wins at once. Object-level
/// checks (`Validate::Object`) run only after all fields passed (in PostHog they sit in
/// `validate()`, right after the admin gate).
///
/// `updater` is the caller's level on an update (`None` on create, where PostHog's
/// update-only field gates do not apply). On create pass `defaults()` as `current`. Unlike
/// PostHog (which only does it on update), `conversations_enabled: true` then also mints the
/// widget token at creation.
pub fn apply(
    current: &Map<String, Value>,
    body: &Map<String, Value>,
    now: DateTime<Utc>,
    updater: Option<Level>,
) -> ApiResult<Map<String, Value>> {
    let mut accepted: Vec<(&'static Setting, Value)> = Vec::new();
    let mut first_error: Option<ApiError> = None;
    for setting in SETTINGS {
        let Some(raw) = body.get(setting.name) else {
            continue;
        };
        let checked = match setting.validate {
            Validate::Field(check) => check(
                raw,
                &Input {
                    setting,
                    stored: current,
                    now,
                    updater,
                },
            ),
            Validate::AnyJson | Validate::Object(_) => Ok(raw.clone()),
        };
        match checked {
            Ok(value) => accepted.push((setting, value)),
            Err(e) if e.status == StatusCode::FORBIDDEN => return Err(e),
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    for (setting, value) in &accepted {
        if let Validate::Object(check) = setting.validate {
            check(value)?;
        }
    }

    let mut doc = current.clone();
    let mut effects = Vec::new();
    for (setting, value) in accepted {
        let old = current.get(setting.name);
        let value = match setting.merge {
            Merge::Replace => value,
            Merge::Keys => merge::keys(old, value),
            Merge::KeysTwoLevels => merge::keys_two_levels(old, value),
            Merge::ReplaceThen(effect) => {
                effects.push((effect, value.clone()));
                value
            }
        };
        doc.insert(setting.name.to_string(), value);
    }
    for (effect, value) in effects {
        let change = Change {
            stored: current,
            body,
            value: &value,
        };
        effect(&change, &mut doc);
    }
    Ok(doc)
}

/// The stored settings [`apply`] reads for `body`: each sent setting's own
/// value (for its check and its merge), or every one (`None`) when a sent
/// setting's merge has side effects, which may read any.
pub fn stored_reads(body: &Map<String, Value>) -> Option<Vec<&'static str>> {
    let mut names = Vec::new();
    for key in body.keys() {
        if let Some(setting) = find(key) {
            if let Merge::ReplaceThen(_) = setting.merge {
                return None;
            }
            names.push(setting.name);
        }
    }
    Some(names)
}

/// Names of settings present in `body` whose Access is Admin, sorted.
pub fn admin_fields_in(body: &Map<String, Value>) -> Vec<&'static str> {
    let mut names: Vec<&'static str> = SETTINGS
        .iter()
        .filter(|s| s.access == Access::Admin && body.contains_key(s.name))
        .map(|s| s.name)
        .collect();
    names.sort_unstable();
    names
}

// The project's own writable fields, which are not settings.

/// DRF `BooleanField` semantics; null is rejected ("This field may not be null.").
pub fn parse_bool(v: &Value, attr: &'static str) -> ApiResult<bool> {
    Ok(rules::bool_field(v, &Cow::Borrowed(attr), false)?.unwrap_or(false))
}
