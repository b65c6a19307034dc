//! A project body (create, PATCH, PUT): the project's own writable fields,
//! declared here as PostHog's project serializer declares them, and its
//! settings, declared in `settings::SETTINGS`. Both are read from the body
//! as DRF's fields read it ([`read`]); `update::validate` checks them in the
//! project detail's order.

use serde_json::{Map, Value};

use super::settings::{self, schema::Type};
use crate::drf::Attr;
use crate::error::{ApiError, ApiResult};
use crate::payload::{Body, Data, Field, Kind, Text};

const ACCESS_CONTROL_DEPRECATED: &str =
    "The 'access_control' field has been deprecated and is no longer supported. \
Please use the new access control system instead. For more information, visit: \
https://posthog.com/docs/settings/access-control";

/// The project's own writable fields, in the detail's order.
pub static PROJECT: Body = Body::new(&[
    Field::new("name", Kind::Text(Text::max(200).min(1))),
    Field::new("product_description", Kind::Text(Text::max(1000)))
        .nullable()
        .blank(),
    Field::new("is_demo", Kind::Boolean),
    Field::new("access_control", Kind::Boolean).check(access_control),
]);

/// `access_control` is deprecated: any value but null is refused, before
/// its type is looked at.
fn access_control(v: &Value, attr: &Attr) -> ApiResult<Value> {
    if v.is_null() {
        Ok(Value::Null)
    } else {
        Err(ApiError::invalid_input(ACCESS_CONTROL_DEPRECATED).at(attr.clone()))
    }
}

/// A project body as its fields read it.
#[derive(Debug, Default)]
pub struct Sent {
    /// Each field sent, with the value its field takes (a JSON body's as
    /// sent).
    pub fields: Map<String, Value>,
    /// Form values that could not be read (JSON text that is no JSON), by
    /// field: reported in field order with the other field errors.
    pub unreadable: Vec<(&'static str, ApiError)>,
}

/// Reads a project body. A form's declared fields are read as DRF's fields
/// read forms (`payload`); a setting holding a list takes every value of
/// its name and one holding any JSON reads its value as JSON text, while
/// the other settings take the last value as text.
pub fn read(data: &Data) -> ApiResult<Sent> {
    let form = match data {
        Data::Form(form) => form,
        json => {
            return Ok(Sent {
                fields: json.object()?,
                unreadable: Vec::new(),
            })
        }
    };
    let mut sent = Sent {
        fields: form.last_values(),
        unreadable: Vec::new(),
    };
    let declared = PROJECT.fields.iter().copied();
    let settings = settings::SETTINGS
        .iter()
        .map(|s| setting_field(s.name, s.schema.ty));
    for field in declared.chain(settings) {
        sent.fields.remove(field.name);
        let attr: Attr = field.name.into();
        match form.value_for(&field, false, &attr) {
            None => {}
            Some(Ok(v)) => {
                sent.fields.insert(field.name.to_string(), v);
            }
            Some(Err(e)) => sent.unreadable.push((field.name, e)),
        }
    }
    Ok(sent)
}

/// What a setting's form value is read as.
fn setting_field(name: &'static str, ty: Type) -> Field {
    const ANY: Field = Field::new("", Kind::Json(None));
    let kind = match ty {
        Type::Array(_) => Kind::List(&ANY),
        Type::Any => Kind::Json(None),
        _ => Kind::Text(Text::ANY),
    };
    // Blank text stays blank text (settings declare no `allow_blank`).
    Field::new(name, kind).required()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_own_fields_follow_the_detail_order() {
        let positions: Vec<usize> = PROJECT
            .fields
            .iter()
            .map(|f| super::super::model::field_position(f.name))
            .collect();
        assert!(positions.windows(2).all(|w| w[0] < w[1]), "{positions:?}");
        assert!(positions.iter().all(|p| *p != usize::MAX));
    }

    #[test]
    fn forms_are_read_as_the_fields_read_them() {
        let sent = read(&Data::form(&[
            ("name", "As form"),
            ("product_description", ""),
            ("app_urls", "https://a.io"),
            ("app_urls", "https://b.io"),
            ("test_account_filters", "[]"),
            ("correlation_config", "{"),
            ("timezone", "Europe/Paris"),
            ("primary_dashboard", "3"),
        ]))
        .unwrap();
        assert_eq!(
            Value::Object(sent.fields),
            json!({
                "name": "As form",
                "product_description": "",
                "app_urls": ["https://a.io", "https://b.io"],
                "test_account_filters": [],
                "timezone": "Europe/Paris",
                "primary_dashboard": "3",
            })
        );
        let (field, e) = &sent.unreadable[0];
        assert_eq!(
            (*field, e.detail.as_ref(), e.attr.as_deref()),
            (
                "correlation_config",
                "Value must be valid JSON.",
                Some("correlation_config")
            )
        );
        let json = read(&Data::Json(json!({"name": "x", "extra": 1}))).unwrap();
        assert_eq!(Value::Object(json.fields), json!({"name": "x", "extra": 1}));
        assert!(read(&Data::Json(json!([]))).is_err());
    }

    fn own(field: &str, v: &Value) -> ApiResult<Value> {
        let body = json!({ field: v });
        let valid = PROJECT
            .check_object(body.as_object().unwrap(), false, "")
            .finish()?;
        Ok(valid.get(field).cloned().unwrap_or(Value::Null))
    }

    fn validate_name(v: &Value) -> ApiResult<String> {
        own("name", v).map(|v| v.as_str().unwrap().to_string())
    }

    fn validate_product_description(v: &Value) -> ApiResult<Option<String>> {
        own("product_description", v).map(|v| v.as_str().map(str::to_owned))
    }

    #[test]
    fn access_control_is_refused_unless_null() {
        assert_eq!(own("access_control", &json!(null)).unwrap(), Value::Null);
        for v in [json!(true), json!(false), json!("x")] {
            let e = own("access_control", &v).unwrap_err();
            assert!(e.detail.contains("deprecated"), "{v}");
            assert_eq!(e.attr.as_deref(), Some("access_control"));
        }
    }

    #[test]
    fn name_and_product_description() {
        assert_eq!(validate_name(&json!("  Hedgebox  ")).unwrap(), "Hedgebox");
        assert_eq!(validate_name(&json!(42)).unwrap(), "42");
        assert_eq!(validate_name(&json!(&"n".repeat(200))).unwrap().len(), 200);
        for (raw, code, detail) in [
            (json!(""), "blank", "This field may not be blank."),
            (json!(" \t\n "), "blank", "This field may not be blank."),
            (json!(null), "null", "This field may not be null."),
            (json!(true), "invalid_input", "Not a valid string."),
            (json!({"a": 1}), "invalid_input", "Not a valid string."),
            (
                json!("n".repeat(201)),
                "max_length",
                "Ensure this field has no more than 200 characters.",
            ),
            (
                json!("a\u{0}b"),
                "null_characters_not_allowed",
                "Null characters are not allowed.",
            ),
        ] {
            let e = validate_name(&raw).unwrap_err();
            assert_eq!(
                (
                    e.status.as_u16(),
                    e.code.as_ref(),
                    e.detail.as_ref(),
                    e.attr.as_deref()
                ),
                (400, code, detail, Some("name"))
            );
        }
        assert_eq!(validate_product_description(&json!(null)).unwrap(), None);
        assert_eq!(
            validate_product_description(&json!("  ")).unwrap(),
            Some(String::new())
        );
        assert_eq!(
            validate_product_description(&json!(" A shop "))
                .unwrap()
                .as_deref(),
            Some("A shop")
        );
        let e = validate_product_description(&json!("d".repeat(1001))).unwrap_err();
        assert_eq!(
            (e.code.as_ref(), e.detail.as_ref(), e.attr.as_deref()),
            (
                "max_length",
                "Ensure this field has no more than 1000 characters.",
                Some("product_description")
            )
        );
    }
}
