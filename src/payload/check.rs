//! A declared body's fields checked as DRF's `Serializer.to_internal_value`
//! checks them: each writable field in order, its value read as the field
//! reads it (`get_value`, which differs for forms), then left out, null or
//! checked by its kind; every outcome kept, so the first failure in field
//! order is the one reported.

use serde_json::{Map, Value};

use super::form::Form;
use super::{attr_of, not_an_object, Field, Kind, Outcome, Text};
use crate::drf::{self, Attr};
use crate::error::{ApiError, ApiResult};

/// Where the values come from.
pub(super) enum Source<'a> {
    Json(&'a Map<String, Value>),
    Form(&'a Form),
}

pub(super) fn fields(
    fields: &'static [Field],
    source: &Source,
    partial: bool,
    prefix: &str,
) -> super::Checked {
    let outcomes = fields
        .iter()
        .filter(|f| !f.read_only)
        .map(|f| {
            let attr = attr_of(prefix, f.name);
            let sent = match source {
                Source::Json(map) => map.get(f.name).cloned().map(Ok),
                Source::Form(form) => form.value_for(f, partial, &attr),
            };
            let outcome = match sent {
                None => absent(f, partial, &attr),
                Some(Err(e)) => Outcome::Invalid(e),
                Some(Ok(v)) => match present(f, &v, &attr) {
                    Ok(v) => Outcome::Valid(v),
                    Err(e) => Outcome::Invalid(e),
                },
            };
            (f, attr, outcome)
        })
        .collect();
    super::Checked { outcomes }
}

/// A field left out: required, defaulted or skipped (always skipped on a
/// partial update).
fn absent(f: &Field, partial: bool, attr: &Attr) -> Outcome {
    if partial {
        return Outcome::Absent;
    }
    if f.required {
        return Outcome::Invalid(ApiError::required(attr.clone()));
    }
    match f.default {
        // A default that is not JSON fails the declarations' test; null here.
        Some(json) => Outcome::Valid(serde_json::from_str(json).unwrap_or(Value::Null)),
        None => Outcome::Absent,
    }
}

/// A value sent for `f`: the field's own check, or null, or its kind's.
fn present(f: &Field, v: &Value, attr: &Attr) -> ApiResult<Value> {
    if let Some(check) = f.check {
        return check(v, attr);
    }
    if v.is_null() {
        return if f.nullable {
            Ok(Value::Null)
        } else {
            Err(ApiError::null(attr.clone()))
        };
    }
    kind(f, v, attr)
}

/// DRF's `run_validation` of a non-null value.
fn kind(f: &Field, v: &Value, attr: &Attr) -> ApiResult<Value> {
    match f.kind {
        Kind::Text(t) => text(v, attr, t, f.allow_blank).map(Value::String),
        Kind::Email(t) => {
            let s = text(v, attr, t, f.allow_blank)?;
            if !s.is_empty() {
                drf::check_email(&s, attr)?;
            }
            Ok(Value::String(s))
        }
        Kind::Url(t) => {
            let s = text(v, attr, t, f.allow_blank)?;
            if !s.is_empty() && drf::valid_url(&s, drf::URL_FIELD_SCHEMES).is_none() {
                return Err(drf::invalid(drf::url::INVALID, attr));
            }
            Ok(Value::String(s))
        }
        // A nullable field also takes DRF's null strings ("null", "", ...).
        Kind::Boolean => Ok(drf::bool_field(v, attr, f.nullable)?.map_or(Value::Null, Value::Bool)),
        Kind::Integer { min, max } => {
            let n = drf::int_field(
                v,
                attr,
                min.unwrap_or(i64::MIN),
                max.unwrap_or(i64::MAX),
                false,
            )?;
            Ok(n.map_or(Value::Null, Value::from))
        }
        Kind::Choice(choices) => {
            if f.allow_blank && v.as_str() == Some("") {
                return Ok(Value::String(String::new()));
            }
            let key = drf::py_str(v);
            choices
                .find(&key)
                .ok_or_else(|| ApiError::invalid_choice(&key, attr.clone()))
        }
        Kind::List(child) => {
            drf::list_field(v, attr, false, |item, attr| present(child, item, attr))
        }
        Kind::Map(child) => {
            let Value::Object(map) = v else {
                return Err(ApiError::validation(
                    "not_a_dict",
                    format!(
                        "Expected a dictionary of items but got type \"{}\".",
                        drf::py_type_name(v)
                    ),
                )
                .at(attr.clone()));
            };
            let mut out = Map::with_capacity(map.len());
            for (key, item) in map {
                out.insert(key.clone(), present(child, item, &drf::nested(attr, key))?);
            }
            Ok(Value::Object(out))
        }
        Kind::Object(fields) => {
            let Value::Object(map) = v else {
                return Err(not_an_object(
                    v,
                    Some(drf::nested(attr, "non_field_errors")),
                ));
            };
            let checked = self::fields(fields, &Source::Json(map), false, &format!("{attr}__"));
            match checked.first_error() {
                Some(e) => Err(e.clone()),
                None => Ok(v.clone()),
            }
        }
        Kind::Json(_) => Ok(v.clone()),
        Kind::Uuid => {
            let s = text(v, attr, Text::ANY, false)?;
            match uuid::Uuid::try_parse(&s) {
                Ok(u) => Ok(Value::String(u.hyphenated().to_string())),
                Err(_) => Err(drf::invalid("Must be a valid UUID.", attr)),
            }
        }
        // Only ever shown: a body's value is kept as text.
        Kind::DateTime => text(v, attr, Text::ANY, false).map(Value::String),
    }
}

/// DRF's `CharField`: blank first (a blank string skips every other check),
/// then the type (strings, and numbers as Python writes them), trimmed, then
/// its validators in DRF's order: longest, shortest, no NUL.
pub(super) fn text(v: &Value, attr: &Attr, t: Text, allow_blank: bool) -> ApiResult<String> {
    if let Value::String(s) = v {
        let blank = if t.trim {
            drf::py_strip(s).is_empty()
        } else {
            s.is_empty()
        };
        if blank {
            if !allow_blank {
                return Err(
                    ApiError::validation("blank", "This field may not be blank.").at(attr.clone()),
                );
            }
            return Ok(String::new());
        }
    }
    let raw = match v {
        Value::String(s) if t.trim => drf::py_strip(s).to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => drf::py_num_str(n),
        _ => return Err(ApiError::not_a_valid_string(attr.clone())),
    };
    if let Some(max) = t.max_length {
        drf::max_length(&raw, max, attr)?;
    }
    if let Some(min) = t.min_length {
        if raw.chars().count() < min {
            return Err(ApiError::validation(
                "min_length",
                format!("Ensure this field has at least {min} characters."),
            )
            .at(attr.clone()));
        }
    }
    drf::no_null_characters(&raw, attr)?;
    Ok(raw)
}
