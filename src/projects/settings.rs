//! TEMPORARY STUB: replaced by the real settings module.
use crate::error::{ApiError, ApiResult};
use serde_json::{Map, Value};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Member,
    Admin,
}
pub struct Setting {
    pub name: &'static str,
    pub access: Access,
}
pub const SETTINGS: &[Setting] = &[Setting {
    name: "timezone",
    access: Access::Admin,
}];
pub fn find(name: &str) -> Option<&'static Setting> {
    SETTINGS.iter().find(|s| s.name == name)
}
pub fn defaults() -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("timezone".into(), Value::String("UTC".into()));
    m
}
pub fn apply(
    current: &Map<String, Value>,
    body: &Map<String, Value>,
    _now: chrono::DateTime<chrono::Utc>,
) -> ApiResult<Map<String, Value>> {
    let mut out = current.clone();
    for (k, v) in body {
        if find(k).is_some() {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(out)
}
pub fn admin_fields_in(body: &Map<String, Value>) -> Vec<&'static str> {
    SETTINGS
        .iter()
        .filter(|s| s.access == Access::Admin && body.contains_key(s.name))
        .map(|s| s.name)
        .collect()
}
pub fn validate_name(v: &Value) -> ApiResult<String> {
    v.as_str()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| ApiError::invalid_input("bad").at("name"))
}
pub fn validate_product_description(v: &Value) -> ApiResult<Option<String>> {
    Ok(v.as_str().map(str::to_string))
}
pub fn parse_bool(v: &Value, attr: &'static str) -> ApiResult<bool> {
    v.as_bool()
        .ok_or_else(|| ApiError::not_a_valid_boolean(attr))
}
