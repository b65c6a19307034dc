//! A setting's type as the API schema documents it: what the OpenAPI document will say about
//! the field, and what the field-level checks that follow DRF's fields read (a boolean's or a
//! choice's nullability, an enum's choices, an integer's bounds), so the document and the
//! checks cannot disagree.

use serde_json::{json, Map, Value};

#[derive(Clone, Copy, Debug)]
pub struct Schema {
    pub ty: Type,
    /// `null` is a valid value.
    pub nullable: bool,
}

#[derive(Clone, Copy, Debug)]
pub enum Type {
    /// Any JSON value (a Django `JSONField`).
    Any,
    Boolean,
    String {
        max_length: Option<u32>,
    },
    /// A decimal number, read from a number or a string and returned as a string ("0.40").
    Decimal {
        max_digits: u32,
        decimal_places: u32,
    },
    Integer {
        minimum: Option<i64>,
        maximum: Option<i64>,
    },
    /// The primary key of another object, shown as an integer. PostHog's activity log names
    /// the change after the database column.
    ForeignKey {
        column: &'static str,
    },
    Enum(Choices),
    Array(&'static Schema),
}

/// An enum's values (a blank string is one of them when `""` is listed): the
/// request bodies' choices (`payload::Choices`).
pub use crate::payload::Choices;

impl Schema {
    pub const fn of(ty: Type) -> Schema {
        Schema {
            ty,
            nullable: false,
        }
    }

    pub const fn nullable(ty: Type) -> Schema {
        Schema { ty, nullable: true }
    }

    /// The OpenAPI 3.0 schema object, enums written out in place.
    pub fn to_json(&self) -> Value {
        let mut out = Map::new();
        let mut put = |key: &str, value: Value| {
            out.insert(key.to_string(), value);
        };
        match self.ty {
            Type::Any => {}
            Type::Boolean => put("type", json!("boolean")),
            Type::String { max_length } => {
                put("type", json!("string"));
                if let Some(n) = max_length {
                    put("maxLength", json!(n));
                }
            }
            Type::Decimal {
                max_digits,
                decimal_places,
            } => {
                put("type", json!("string"));
                put("format", json!("decimal"));
                let whole = max_digits.saturating_sub(decimal_places);
                put(
                    "pattern",
                    json!(format!(
                        r"^-?\d{{0,{whole}}}(?:\.\d{{0,{decimal_places}}})?$"
                    )),
                );
            }
            Type::Integer { minimum, maximum } => {
                put("type", json!("integer"));
                if let Some(n) = minimum {
                    put("minimum", json!(n));
                }
                if let Some(n) = maximum {
                    put("maximum", json!(n));
                }
            }
            Type::ForeignKey { .. } => put("type", json!("integer")),
            Type::Enum(choices) => {
                let kind = match choices {
                    Choices::Strings(_) => "string",
                    Choices::Integers(_) => "integer",
                };
                put("type", json!(kind));
                let mut values = choices.to_json();
                if self.nullable {
                    values.push(Value::Null);
                }
                put("enum", Value::Array(values));
            }
            Type::Array(items) => {
                put("type", json!("array"));
                put("items", items.to_json());
            }
        }
        if self.nullable {
            put("nullable", json!(true));
        }
        Value::Object(out)
    }
}
