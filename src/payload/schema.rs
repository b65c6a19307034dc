//! A declared body as the API document shows it: each field's schema from
//! its kind (or the schema it names), in field order, with `readOnly`,
//! `writeOnly`, `default` and its description; a component's required
//! fields unless it documents a PATCH.

use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, Schema};
use utoipa::openapi::RefOr;

use super::{Body, Field, Kind, RequiredOrder};
use crate::openapi::schema::{self as s};

use s::Kind as Type;

impl Body {
    /// The body's schema; `partial`: as a PATCH takes it (nothing required).
    pub fn schema(&self, partial: bool) -> ObjectBuilder {
        object(self.fields, self.required_order, partial)
    }

    /// One field's schema (`None`: not declared).
    pub fn property(&self, name: &str) -> Option<RefOr<Schema>> {
        self.field(name).map(property)
    }
}

fn object(fields: &[Field], order: RequiredOrder, partial: bool) -> ObjectBuilder {
    let mut b = s::of(Type::Object);
    for f in fields {
        b = b.property(f.name, property(f));
    }
    if !partial {
        let mut required: Vec<&str> = fields
            .iter()
            .filter(|f| f.required)
            .map(|f| f.name)
            .collect();
        if order == RequiredOrder::Sorted {
            required.sort_unstable();
        }
        for name in required {
            b = b.required(name);
        }
    }
    b
}

/// A field's schema. A field documented by a component is a reference to it
/// (with its description beside it, in an `allOf`); references carry no
/// `readOnly`.
fn property(f: &Field) -> RefOr<Schema> {
    if let Some(schema) = f.schema {
        return named(f, schema());
    }
    if let Some(name) = f.component {
        return match (f.nullable, f.description) {
            (true, _) => s::nullable_component(name),
            (false, Some(d)) => AllOfBuilder::new()
                .item(s::component(name))
                .description(Some(d))
                .into(),
            (false, None) => s::component(name),
        };
    }
    let kind = documented(f.kind);
    if let Kind::List(child) = kind {
        let items = property(child);
        let b = if f.nullable {
            s::nullable_array(items)
        } else {
            s::array(items)
        }
        .description(f.description);
        return if f.read_only {
            s::read_only_array(b)
        } else {
            b.into()
        };
    }
    let mut b = shape(kind, f.nullable, f.allow_blank);
    if f.read_only {
        b = b.read_only(Some(true));
    }
    if f.write_only {
        b = b.write_only(Some(true));
    }
    if let Some(json) = f.default {
        b = b.default(serde_json::from_str(json).ok());
    }
    b.description(f.description).into()
}

/// A schema the field names, with the field's own `readOnly`, `writeOnly`
/// and description put on it when it is an object's (an array's or a
/// reference's is shown as given).
fn named(f: &Field, schema: RefOr<Schema>) -> RefOr<Schema> {
    let RefOr::T(Schema::Object(mut o)) = schema else {
        return schema;
    };
    if f.read_only {
        o.read_only = Some(true);
    }
    if f.write_only {
        o.write_only = Some(true);
    }
    if let Some(d) = f.description {
        o.description = Some(d.to_string());
    }
    RefOr::T(Schema::Object(o))
}

/// The kind a JSON field is documented as.
fn documented(kind: Kind) -> Kind {
    match kind {
        Kind::Json(Some(shown)) => documented(*shown),
        other => other,
    }
}

/// The schema of a kind other than a list (`nullable`: null is a value
/// too; `blank`: so is "" for a choice, drf-spectacular's `BlankEnum`).
fn shape(kind: Kind, nullable: bool, blank: bool) -> ObjectBuilder {
    let of = |t: Type| if nullable { s::nullable(t) } else { s::of(t) };
    let text = |t: super::Text| {
        of(Type::String)
            .max_length(t.max_length)
            .min_length(t.min_length)
    };
    match kind {
        Kind::Text(t) | Kind::Email(t) => text(t),
        Kind::Url(t) => text(t).format(Some(s::format("uri"))),
        Kind::Boolean => of(Type::Boolean),
        Kind::Integer { min, max } => of(Type::Integer)
            .minimum(min.map(|n| n as f64))
            .maximum(max.map(|n| n as f64)),
        Kind::Choice(choices) => {
            let t = match choices {
                super::Choices::Strings(_) => Type::String,
                super::Choices::Integers(_) => Type::Integer,
            };
            let mut values = choices.to_json();
            if blank {
                values.push(serde_json::Value::from(""));
            }
            if nullable {
                values.push(serde_json::Value::Null);
            }
            of(t).enum_values(Some(values))
        }
        Kind::Object(fields) => {
            let b = object(fields, RequiredOrder::Sorted, false);
            if nullable {
                b.schema_type(utoipa::openapi::schema::SchemaType::Array(vec![
                    Type::Object,
                    Type::Null,
                ]))
            } else {
                b
            }
        }
        Kind::Map(child) => of(Type::Object).additional_properties(Some(property(child))),
        Kind::Json(Some(shown)) => shape(*shown, nullable, blank),
        Kind::Json(None) => s::any(),
        Kind::Uuid => of(Type::String).format(Some(s::format("uuid"))),
        Kind::DateTime => of(Type::String).format(Some(s::format("date-time"))),
        // Documented by `property`, with their items.
        Kind::List(_) => of(Type::Array),
    }
}
