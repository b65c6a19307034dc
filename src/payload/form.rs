//! A form body as Django's `QueryDict` holds it, and how DRF's fields read
//! one (`get_value` on HTML input): a list field takes every value of its
//! name, a JSON field parses its value as JSON text, a nested object (or a
//! dictionary) gathers `name.key` fields, and an empty string is null or
//! left out where the field allows it.

use serde_json::{Map, Value};

use super::{Field, Kind};
use crate::drf::{self, Attr};
use crate::error::ApiResult;

/// Every field of a form with all its values, in the order sent.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Form {
    pairs: Vec<(String, String)>,
}

impl Form {
    pub fn new(pairs: Vec<(String, String)>) -> Form {
        Form { pairs }
    }

    /// A urlencoded body (`QueryDict(body)`: `+` is a space, invalid UTF-8 replaced).
    pub fn urlencoded(body: &[u8]) -> Form {
        Form::new(form_urlencoded::parse(body).into_owned().collect())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == name)
    }

    /// The last value sent for `name` (`QueryDict.get`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value sent for `name`, in order (`QueryDict.getlist`).
    pub fn get_list(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// Each field with its last value, in first-sent order (`dict(QueryDict)`
    /// as `QueryDict.get` reads it).
    pub fn last_values(&self) -> Map<String, Value> {
        let mut out = Map::new();
        for (k, v) in &self.pairs {
            out.insert(k.clone(), Value::String(v.clone()));
        }
        out
    }

    /// DRF's `field.get_value(QueryDict)` for `f`: `None` when the field
    /// counts as left out.
    pub fn value_for(&self, f: &Field, partial: bool, attr: &Attr) -> Option<ApiResult<Value>> {
        match f.kind {
            Kind::List(_) => {
                if partial && !self.contains(f.name) {
                    return None;
                }
                let values = self.get_list(f.name);
                if !values.is_empty() {
                    return Some(Ok(strings(values)));
                }
                self.indexed_list(f.name).map(Ok)
            }
            Kind::Json(_) => {
                let raw = self.get(f.name)?;
                Some(
                    serde_json::from_str(raw)
                        .map_err(|_| drf::invalid("Value must be valid JSON.", attr)),
                )
            }
            Kind::Object(_) | Kind::Map(_) => self.nested(f.name).map(Ok),
            _ => {
                let raw = self.get(f.name)?;
                if !raw.is_empty() {
                    return Some(Ok(Value::String(raw.to_string())));
                }
                let blank_ok = f.allow_blank
                    && matches!(
                        f.kind,
                        Kind::Text(_) | Kind::Email(_) | Kind::Url(_) | Kind::Choice(_)
                    );
                if f.nullable {
                    Some(Ok(if blank_ok {
                        Value::String(String::new())
                    } else {
                        Value::Null
                    }))
                } else if !f.required {
                    blank_ok.then(|| Ok(Value::String(String::new())))
                } else {
                    Some(Ok(Value::String(String::new())))
                }
            }
        }
    }

    /// `parse_html_list`: `name[0]`, `name[1]`, ... in index order.
    fn indexed_list(&self, name: &str) -> Option<Value> {
        let mut items: Vec<(usize, &str)> = Vec::new();
        for (k, v) in &self.pairs {
            let index = k
                .strip_prefix(name)
                .and_then(|rest| rest.strip_prefix('['))
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|i| i.parse::<usize>().ok());
            if let Some(i) = index {
                // A repeated index keeps its last value, as a dict would.
                items.retain(|(j, _)| *j != i);
                items.push((i, v));
            }
        }
        if items.is_empty() {
            return None;
        }
        items.sort_by_key(|(i, _)| *i);
        Some(strings(items.into_iter().map(|(_, v)| v).collect()))
    }

    /// `parse_html_dict`: the `name.key` fields as an object (last values).
    fn nested(&self, name: &str) -> Option<Value> {
        let mut out = Map::new();
        for (k, v) in &self.pairs {
            if let Some(key) = k.strip_prefix(name).and_then(|r| r.strip_prefix('.')) {
                out.insert(key.to_string(), Value::String(v.clone()));
            }
        }
        (!out.is_empty()).then_some(Value::Object(out))
    }
}

fn strings(values: Vec<&str>) -> Value {
    Value::Array(
        values
            .into_iter()
            .map(|v| Value::from(v.to_string()))
            .collect(),
    )
}
