//! Request bodies as DRF reads them, declared once per body.
//!
//! [`parse`] is the one body parser: it turns a request's bytes into [`Data`]
//! with DRF's parsers and negotiation (JSON, urlencoded and multipart forms;
//! anything else, a body without a Content-Type included, is 415). A
//! [`Body`] declares a request body as a DRF serializer does: its fields in
//! order, each with its [`Kind`], whether it is required, nullable, read-only
//! or write-only, its default and description. From that one declaration
//! come the validation (DRF's messages, codes and `attr`, fields checked in
//! order and the first failure reported, [`Body::check`]) and the request
//! schema in the API document ([`Body::schema`]). What a serializer checks
//! beyond its fields' types, PostHog's `validate_<field>` methods and its
//! cross-field rules, stays in plain functions of the resource, run on the
//! checked values ([`Checked::refine`], then [`Checked::finish`]).

use std::borrow::Cow;

use serde_json::{Map, Value};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::RefOr;

use crate::drf::{self, Attr};
use crate::error::{ApiError, ApiResult};

mod check;
mod form;
mod parse;
mod schema;
#[cfg(test)]
mod tests;

pub use form::Form;
pub use parse::{parse, BODY_TYPES};

/// A parsed request body: what DRF's `request.data` holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Data {
    /// A JSON document, any value; an empty body is `{}`.
    Json(Value),
    /// A urlencoded or multipart form: every field with all its values, in
    /// order, as Django's `QueryDict` keeps them (strings only).
    Form(Form),
}

impl Default for Data {
    fn default() -> Self {
        Data::Json(Value::Object(Map::new()))
    }
}

impl Data {
    /// A form body of these fields, in order (for tests).
    #[cfg(test)]
    pub fn form(pairs: &[(&str, &str)]) -> Data {
        Data::Form(Form::new(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        ))
    }

    /// The body as a JSON object, for the project body, whose settings are
    /// read one by one (`projects::payload::read`): a form's fields with
    /// their last values as strings (`QueryDict.get`); a JSON body that is
    /// no object fails as DRF's serializers fail it.
    pub fn object(&self) -> ApiResult<Map<String, Value>> {
        match self {
            Data::Json(Value::Object(m)) => Ok(m.clone()),
            Data::Json(other) => Err(not_an_object(other, None)),
            Data::Form(form) => Ok(form.last_values()),
        }
    }

    /// The JSON document (`None` for a form).
    pub fn json(&self) -> Option<&Value> {
        match self {
            Data::Json(v) => Some(v),
            Data::Form(_) => None,
        }
    }

    /// A text field as `request.data.get(name)` gives it: a JSON string or
    /// a form's last value.
    pub fn text(&self, name: &str) -> Option<&str> {
        match self {
            Data::Json(v) => v.get(name).and_then(Value::as_str),
            Data::Form(form) => form.get(name),
        }
    }
}

/// DRF's answer to a body that is not an object where a serializer wants
/// one (`attr`: the element of a list it is, in PostHog's `attr` form).
pub fn not_an_object(v: &Value, attr: Option<Attr>) -> ApiError {
    let e = match v {
        Value::Null => ApiError::validation("null", "This field may not be null."),
        other => ApiError::invalid_input(format!(
            "Invalid data. Expected a dictionary, but got {}.",
            drf::py_type_name(other)
        )),
    };
    match attr {
        Some(a) => e.at(a),
        None => e,
    }
}

/// A string field (DRF's `CharField`); also what an email or URL field is
/// checked as first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Text {
    pub max_length: Option<usize>,
    pub min_length: Option<usize>,
    /// DRF's `trim_whitespace` (on unless turned off).
    pub trim: bool,
}

impl Text {
    /// Any length, trimmed.
    pub const ANY: Text = Text {
        max_length: None,
        min_length: None,
        trim: true,
    };

    pub const fn max(n: usize) -> Text {
        Text {
            max_length: Some(n),
            ..Text::ANY
        }
    }

    pub const fn min(self, n: usize) -> Text {
        Text {
            min_length: Some(n),
            ..self
        }
    }

    /// Kept as sent, surrounding whitespace included.
    pub const fn untrimmed(self) -> Text {
        Text {
            trim: false,
            ..self
        }
    }
}

/// A choice field's values (DRF looks a choice up by its Python `str()`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Choices {
    Strings(&'static [&'static str]),
    Integers(&'static [i64]),
}

impl Choices {
    /// The choice whose Python `str()` is `key`, as its JSON value.
    pub fn find(&self, key: &str) -> Option<Value> {
        match self {
            Choices::Strings(values) => values.iter().find(|v| **v == key).map(|v| Value::from(*v)),
            Choices::Integers(values) => values
                .iter()
                .find(|v| v.to_string() == key)
                .map(|v| Value::from(*v)),
        }
    }

    pub fn to_json(self) -> Vec<Value> {
        match self {
            Choices::Strings(values) => values.iter().map(|v| Value::from(*v)).collect(),
            Choices::Integers(values) => values.iter().map(|v| Value::from(*v)).collect(),
        }
    }
}

/// What a field holds, as DRF's field classes check it.
#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `CharField`.
    Text(Text),
    /// `EmailField`: the text rules, then Django's `EmailValidator`
    /// (`drf::email`). Documented without a `format`: JSON Schema's `email`
    /// format and Django's validator accept different addresses.
    Email(Text),
    /// `URLField`: the text rules, then Django's `URLValidator` (`drf::url`).
    Url(Text),
    /// `BooleanField`.
    Boolean,
    /// `IntegerField`, within `min..=max` (i64's range when unset).
    Integer { min: Option<i64>, max: Option<i64> },
    /// `ChoiceField`.
    Choice(Choices),
    /// `ListField` of the child field.
    List(&'static Field),
    /// `DictField`: an object whose values are each the child field.
    Map(&'static Field),
    /// A nested serializer.
    Object(&'static [Field]),
    /// `JSONField`: any JSON (a form's value is read as JSON text); checked
    /// by the resource's own rules, and documented as the kind given.
    Json(Option<&'static Kind>),
    /// `UUIDField`.
    Uuid,
    /// `DateTimeField`, shown by the server (read-only: never read from a body).
    DateTime,
}

impl Kind {
    /// An integer within i64's range.
    pub const INTEGER: Kind = Kind::Integer {
        min: None,
        max: None,
    };
}

/// A field's own check in place of its kind's, for the few fields PostHog
/// checks before (or instead of) their type: it sees every value sent, null
/// included, and returns the value to keep.
pub type Check = fn(&Value, &Attr) -> ApiResult<Value>;

/// One field of a body, as a DRF serializer declares it.
#[derive(Clone, Copy, Debug)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    /// Required in a body (not on a partial update); on a read-only field,
    /// always in the answer. Either way listed as required in the schema.
    pub required: bool,
    /// `allow_null`.
    pub nullable: bool,
    /// `allow_blank` (text and choice fields).
    pub allow_blank: bool,
    /// Shown, never read from a body.
    pub read_only: bool,
    /// Read, never shown.
    pub write_only: bool,
    /// The value taken when the field is left out (not on a partial
    /// update), as JSON text; also the schema's `default`.
    pub default: Option<&'static str>,
    pub description: Option<&'static str>,
    /// The component schema the document refers to for this field's shape.
    pub component: Option<&'static str>,
    /// See [`Check`].
    pub check: Option<Check>,
    /// The schema the document shows in place of the kind's: a shape the
    /// response type already declares (utoipa's `schema_with`), or one no
    /// kind describes.
    pub schema: Option<fn() -> RefOr<Schema>>,
}

impl Field {
    pub const fn new(name: &'static str, kind: Kind) -> Field {
        Field {
            name,
            kind,
            required: false,
            nullable: false,
            allow_blank: false,
            read_only: false,
            write_only: false,
            default: None,
            description: None,
            component: None,
            check: None,
            schema: None,
        }
    }

    pub const fn required(self) -> Field {
        Field {
            required: true,
            ..self
        }
    }

    pub const fn nullable(self) -> Field {
        Field {
            nullable: true,
            ..self
        }
    }

    pub const fn blank(self) -> Field {
        Field {
            allow_blank: true,
            ..self
        }
    }

    pub const fn read_only(self) -> Field {
        Field {
            read_only: true,
            ..self
        }
    }

    pub const fn write_only(self) -> Field {
        Field {
            write_only: true,
            ..self
        }
    }

    pub const fn default(self, json: &'static str) -> Field {
        Field {
            default: Some(json),
            ..self
        }
    }

    pub const fn describe(self, text: &'static str) -> Field {
        Field {
            description: Some(text),
            ..self
        }
    }

    pub const fn component(self, name: &'static str) -> Field {
        Field {
            component: Some(name),
            ..self
        }
    }

    pub const fn check(self, check: Check) -> Field {
        Field {
            check: Some(check),
            ..self
        }
    }

    pub const fn schema_with(self, schema: fn() -> RefOr<Schema>) -> Field {
        Field {
            schema: Some(schema),
            ..self
        }
    }
}

/// How a component lists its required fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RequiredOrder {
    /// Sorted by name, as drf-spectacular writes them.
    Sorted,
    /// In field order (the reference page the legal documents follow).
    Declared,
}

/// A request body: its fields in the order DRF checks them (and the
/// document shows them).
#[derive(Debug)]
pub struct Body {
    pub fields: &'static [Field],
    pub required_order: RequiredOrder,
}

impl Body {
    pub const fn new(fields: &'static [Field]) -> Body {
        Body {
            fields,
            required_order: RequiredOrder::Sorted,
        }
    }

    pub const fn required_in_field_order(self) -> Body {
        Body {
            required_order: RequiredOrder::Declared,
            ..self
        }
    }

    /// The declared field `name`.
    pub fn field(&self, name: &str) -> Option<&'static Field> {
        self.fields.iter().find(|f| f.name == name)
    }

    /// Checks every writable field of `data` in order (`partial`: a PATCH,
    /// where nothing is required and no default applies). A JSON body that
    /// is not an object is refused at once.
    pub fn check(&self, data: &Data, partial: bool) -> ApiResult<Checked> {
        match data {
            Data::Json(Value::Object(map)) => Ok(self.check_object(map, partial, "")),
            Data::Json(other) => Err(not_an_object(other, None)),
            Data::Form(form) => Ok(check::fields(
                self.fields,
                &check::Source::Form(form),
                partial,
                "",
            )),
        }
    }

    /// Checks one JSON object; `prefix` goes before every `attr` (a bulk
    /// body's element `i`: `__i__`).
    pub fn check_object(&self, map: &Map<String, Value>, partial: bool, prefix: &str) -> Checked {
        check::fields(self.fields, &check::Source::Json(map), partial, prefix)
    }
}

/// What a field's check came to.
#[derive(Clone, Debug, PartialEq)]
enum Outcome {
    /// Left out, with no default (or a partial update).
    Absent,
    Valid(Value),
    Invalid(ApiError),
}

/// Every field's outcome, in field order, before the body is accepted.
#[derive(Debug)]
pub struct Checked {
    outcomes: Vec<(&'static Field, Attr, Outcome)>,
}

impl Checked {
    /// PostHog's `validate_<field>`: runs on the field's accepted value (null
    /// or its default included) and replaces it; a failure counts as the
    /// field's error (its `attr` filled in when the rule leaves it out, as
    /// DRF files a `validate_<field>` error under the field). A failure that
    /// is not a 400 (a `PermissionDenied`) escapes validation: it wins over
    /// every field error ([`Checked::finish`]).
    pub fn refine(&mut self, name: &str, rule: impl FnOnce(&Value) -> ApiResult<Value>) {
        let Some((_, attr, outcome)) = self.outcomes.iter_mut().find(|(f, _, _)| f.name == name)
        else {
            return;
        };
        if let Outcome::Valid(v) = outcome {
            *outcome = match rule(v) {
                Ok(v) => Outcome::Valid(v),
                Err(mut e) => {
                    if e.attr.is_none() && e.status.as_u16() == 400 {
                        e.attr = Some(attr.clone());
                    }
                    Outcome::Invalid(e)
                }
            };
        }
    }

    /// The accepted value of `name`, if it passed so far.
    pub fn value(&self, name: &str) -> Option<&Value> {
        self.outcomes
            .iter()
            .find(|(f, _, _)| f.name == name)
            .and_then(|(_, _, o)| match o {
                Outcome::Valid(v) => Some(v),
                _ => None,
            })
    }

    /// The failures, in field order, with their fields' names.
    pub fn errors(&self) -> impl Iterator<Item = (&'static str, &ApiError)> {
        self.outcomes.iter().filter_map(|(f, _, o)| match o {
            Outcome::Invalid(e) => Some((f.name, e)),
            _ => None,
        })
    }

    /// The first failure DRF would report: one that escapes validation (not
    /// a 400) first, else the first field's in field order.
    pub fn first_error(&self) -> Option<&ApiError> {
        let escaping = self.errors().map(|(_, e)| e).find(|e| e.status != 400);
        escaping.or_else(|| self.errors().map(|(_, e)| e).next())
    }

    /// The accepted values, or the error PostHog reports.
    pub fn finish(self) -> ApiResult<Valid> {
        if let Some(e) = self.first_error() {
            return Err(e.clone());
        }
        let values = self
            .outcomes
            .into_iter()
            .filter_map(|(f, _, o)| match o {
                Outcome::Valid(v) => Some((f.name, v)),
                _ => None,
            })
            .collect();
        Ok(Valid { values })
    }
}

/// A body's accepted values: each field sent (or defaulted), as checked.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Valid {
    values: Vec<(&'static str, Value)>,
}

impl Valid {
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.values.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// A text field: `Some(None)` when sent as null.
    pub fn text(&self, name: &str) -> Option<Option<String>> {
        self.get(name).map(|v| v.as_str().map(str::to_owned))
    }

    /// A boolean field: `Some(None)` when sent as null.
    pub fn flag(&self, name: &str) -> Option<Option<bool>> {
        self.get(name).map(Value::as_bool)
    }

    /// An integer field (or an integer choice): `Some(None)` when sent as null.
    pub fn integer(&self, name: &str) -> Option<Option<i64>> {
        self.get(name).map(Value::as_i64)
    }
}

/// `attr` for a field: the prefix, then the name.
fn attr_of(prefix: &str, name: &'static str) -> Attr {
    if prefix.is_empty() {
        Cow::Borrowed(name)
    } else {
        Cow::Owned(format!("{prefix}{name}"))
    }
}
