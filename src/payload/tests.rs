//! The declaration's checks against DRF's behaviour, and its schema.

use serde_json::{json, Value};

use super::*;

const LEVELS: Choices = Choices::Integers(&[1, 8, 15]);
const TAG: Field = Field::new("", Kind::Text(Text::max(3)));
const ENTRY_FIELDS: &[Field] = &[
    Field::new(
        "id",
        Kind::Integer {
            min: Some(1),
            max: None,
        },
    )
    .required(),
    Field::new("note", Kind::Text(Text::ANY)),
];

static SAMPLE: Body = Body::new(&[
    Field::new("id", Kind::Uuid).read_only().required(),
    Field::new("email", Kind::Email(Text::max(254))).required(),
    Field::new("name", Kind::Text(Text::max(5))).blank(),
    Field::new("level", Kind::Choice(LEVELS)).component("Level"),
    Field::new("note", Kind::Text(Text::max(10)))
        .nullable()
        .blank(),
    Field::new("mode", Kind::Choice(Choices::Strings(&["a", "b"]))).nullable(),
    Field::new(
        "count",
        Kind::Integer {
            min: Some(0),
            max: Some(9),
        },
    ),
    Field::new("tags", Kind::List(&TAG)),
    Field::new("extra", Kind::Json(None)).nullable(),
    Field::new("entry", Kind::Object(ENTRY_FIELDS)),
    Field::new("site", Kind::Url(Text::max(100))),
    Field::new("flag", Kind::Boolean)
        .write_only()
        .default("true"),
]);
fn check(v: Value) -> Checked {
    SAMPLE.check(&Data::Json(v), false).unwrap()
}

fn error(v: Value) -> (u16, String, String, Option<String>) {
    let e = check(v).finish().unwrap_err();
    (
        e.status.as_u16(),
        e.code.into_owned(),
        e.detail.into_owned(),
        e.attr.map(|a| a.into_owned()),
    )
}

#[test]
fn values_are_checked_and_defaults_filled() {
    let v = check(json!({
        "id": "ignored: read-only",
        "email": " a@b.co ",
        "name": 12,
        "level": "8",
        "note": null,
        "count": "7.0",
        "tags": ["x", 5],
        "extra": {"any": [1]},
        "entry": {"id": 3},
        "site": "https://example.com/x",
    }))
    .finish()
    .unwrap();
    assert_eq!(v.get("id"), None);
    assert_eq!(v.text("email"), Some(Some("a@b.co".into())));
    assert_eq!(v.text("name"), Some(Some("12".into())));
    assert_eq!(v.integer("level"), Some(Some(8)));
    assert_eq!(v.text("note"), Some(None));
    assert_eq!(v.integer("count"), Some(Some(7)));
    assert_eq!(v.get("tags"), Some(&json!(["x", "5"])));
    assert_eq!(v.get("extra"), Some(&json!({"any": [1]})));
    assert_eq!(v.flag("flag"), Some(Some(true)), "the default");
    assert!(!v.has("mode"));
}

#[test]
fn the_first_failure_in_field_order_is_reported() {
    assert_eq!(
        error(json!({})),
        (
            400,
            "required".into(),
            "This field is required.".into(),
            Some("email".into())
        )
    );
    let later = json!({"email": "a@b.co", "count": 10, "name": "toolong"});
    assert_eq!(error(later).3.as_deref(), Some("name"));
    for (body, code, attr) in [
        (json!({"email": null}), "null", "email"),
        (json!({"email": "  "}), "blank", "email"),
        (json!({"email": "nope"}), "invalid_input", "email"),
        (
            json!({"email": "a@b.co", "level": 3}),
            "invalid_choice",
            "level",
        ),
        (
            json!({"email": "a@b.co", "level": true}),
            "invalid_choice",
            "level",
        ),
        (
            json!({"email": "a@b.co", "mode": ""}),
            "invalid_choice",
            "mode",
        ),
        (
            json!({"email": "a@b.co", "count": -1}),
            "min_value",
            "count",
        ),
        (
            json!({"email": "a@b.co", "tags": "x"}),
            "not_a_list",
            "tags",
        ),
        (
            json!({"email": "a@b.co", "tags": ["x", "long"]}),
            "max_length",
            "tags__1",
        ),
        (
            json!({"email": "a@b.co", "entry": []}),
            "invalid_input",
            "entry__non_field_errors",
        ),
        (
            json!({"email": "a@b.co", "entry": {}}),
            "required",
            "entry__id",
        ),
        (
            json!({"email": "a@b.co", "entry": {"id": 0}}),
            "min_value",
            "entry__id",
        ),
        (
            json!({"email": "a@b.co", "site": "ftp//x"}),
            "invalid_input",
            "site",
        ),
        (
            json!({"email": "a@b.co", "flag": "maybe"}),
            "invalid_input",
            "flag",
        ),
        (
            json!({"email": "a@b.co", "name": "a\u{0}"}),
            "null_characters_not_allowed",
            "name",
        ),
    ] {
        let (status, c, _, a) = error(body.clone());
        assert_eq!(
            (status, c.as_str(), a.as_deref()),
            (400, code, Some(attr)),
            "{body}"
        );
    }
    assert_eq!(
        error(json!({"email": "a@b.co", "level": 3})).2,
        "\"3\" is not a valid choice."
    );
    // Not an object at all.
    for (body, code) in [(json!([]), "invalid_input"), (json!(null), "null")] {
        let e = SAMPLE.check(&Data::Json(body), false).unwrap_err();
        assert_eq!((e.code.as_ref(), e.attr), (code, None));
    }
}

#[test]
fn partial_bodies_skip_what_is_left_out() {
    let v = SAMPLE
        .check(&Data::Json(json!({"name": "ok"})), true)
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(v.text("name"), Some(Some("ok".into())));
    assert!(
        !v.has("email") && !v.has("flag"),
        "no required field, no default"
    );
}

#[test]
fn refinements_run_on_accepted_values() {
    let mut c = check(json!({"email": "A@B.co", "level": 8, "note": "x"}));
    c.refine("email", |v| Ok(json!(v.as_str().unwrap().to_lowercase())));
    c.refine("note", |_| Err(ApiError::invalid_input("No notes.")));
    // A field that failed, or was left out, is not refined.
    c.refine("mode", |_| unreachable!());
    let e = c.first_error().unwrap().clone();
    assert_eq!(
        (e.detail.as_ref(), e.attr.as_deref()),
        ("No notes.", Some("note"))
    );
    assert_eq!(c.value("email"), Some(&json!("a@b.co")));

    // A refusal that is not a 400 wins over every field error, earlier ones too.
    let mut c = check(json!({"email": "nope", "level": 15}));
    c.refine("level", |_| Err(ApiError::permission_denied("Too high.")));
    let e = c.finish().unwrap_err();
    assert_eq!((e.status.as_u16(), e.attr), (403, None));
    let fields: Vec<&str> = check(json!({"email": "x", "count": 99}))
        .errors()
        .map(|(f, _)| f)
        .collect();
    assert_eq!(fields, ["email", "count"]);
}

#[test]
fn forms_are_read_as_drf_reads_html_input() {
    let v = SAMPLE
        .check(
            &Data::form(&[
                ("email", "a@b.co"),
                ("name", ""),
                ("level", ""),
                ("note", ""),
                ("mode", ""),
                ("count", ""),
                ("tags", "x"),
                ("tags", "y"),
                ("extra", r#"{"a": [1]}"#),
                ("entry.id", "4"),
                ("flag", ""),
            ]),
            false,
        )
        .unwrap()
        .finish()
        .unwrap();
    // A blank value: kept by a field that allows blanks, null for a nullable
    // field that does not, left out (its default applies) otherwise.
    assert_eq!(v.text("name"), Some(Some(String::new())));
    assert_eq!(v.text("note"), Some(Some(String::new())));
    assert_eq!(v.get("mode"), Some(&Value::Null));
    assert!(!v.has("level") && !v.has("count"));
    assert_eq!(v.flag("flag"), Some(Some(true)));
    assert_eq!(v.get("tags"), Some(&json!(["x", "y"])));
    assert_eq!(v.get("extra"), Some(&json!({"a": [1]})));
    assert_eq!(v.get("entry"), Some(&json!({"id": "4"})));

    let indexed = Data::form(&[("email", "a@b.co"), ("tags[1]", "b"), ("tags[0]", "a")]);
    let v = SAMPLE.check(&indexed, false).unwrap().finish().unwrap();
    assert_eq!(v.get("tags"), Some(&json!(["a", "b"])));

    let required_blank = SAMPLE.check(&Data::form(&[("email", "")]), false).unwrap();
    assert_eq!(required_blank.first_error().unwrap().code, "blank");
    let bad_json = SAMPLE
        .check(&Data::form(&[("email", "a@b.co"), ("extra", "{")]), false)
        .unwrap();
    let e = bad_json.first_error().unwrap();
    assert_eq!(
        (e.detail.as_ref(), e.attr.as_deref()),
        ("Value must be valid JSON.", Some("extra"))
    );
    // The last value of a repeated field counts.
    let v = SAMPLE
        .check(&Data::form(&[("email", "x"), ("email", "a@b.co")]), false)
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(v.text("email"), Some(Some("a@b.co".into())));
}

#[test]
fn data_read_as_an_object_and_as_text() {
    let d = Data::form(&[("a", "1"), ("a", "2"), ("personal_api_key", "phx_x")]);
    assert_eq!(
        Value::Object(d.object().unwrap()),
        json!({"a": "2", "personal_api_key": "phx_x"})
    );
    assert_eq!(d.text("personal_api_key"), Some("phx_x"));
    assert_eq!(
        Data::Json(json!({"personal_api_key": 5})).text("personal_api_key"),
        None
    );
    assert!(Data::Json(json!("x")).object().is_err());
    assert_eq!(Data::default().object().unwrap().len(), 0);
}

#[test]
fn the_schema_comes_from_the_declaration() {
    let schema = |b: utoipa::openapi::schema::ObjectBuilder| {
        serde_json::to_value(utoipa::openapi::schema::Schema::Object(b.build())).unwrap()
    };
    let full = schema(SAMPLE.schema(false));
    assert_eq!(full["required"], json!(["email", "id"]));
    let props = full["properties"].as_object().unwrap();
    let names: Vec<&str> = props.keys().map(String::as_str).collect();
    let declared: Vec<&str> = SAMPLE.fields.iter().map(|f| f.name).collect();
    assert_eq!(names, declared);
    assert_eq!(
        props["id"],
        json!({"type": "string", "format": "uuid", "readOnly": true})
    );
    assert_eq!(props["email"], json!({"type": "string", "maxLength": 254}));
    assert_eq!(
        props["level"],
        json!({"$ref": "#/components/schemas/Level"})
    );
    assert_eq!(
        props["note"],
        json!({"type": ["string", "null"], "maxLength": 10})
    );
    assert_eq!(
        props["mode"],
        json!({"type": ["string", "null"], "enum": ["a", "b", null]})
    );
    assert_eq!(
        props["count"],
        json!({"type": "integer", "minimum": 0, "maximum": 9})
    );
    assert_eq!(
        props["tags"],
        json!({"type": "array", "items": {"type": "string", "maxLength": 3}})
    );
    assert_eq!(props["extra"], json!({}));
    assert_eq!(
        props["entry"],
        json!({
            "type": "object",
            "required": ["id"],
            "properties": {
                "id": {"type": "integer", "minimum": 1},
                "note": {"type": "string"},
            },
        })
    );
    assert_eq!(
        props["site"],
        json!({"type": "string", "format": "uri", "maxLength": 100})
    );
    assert_eq!(
        props["flag"],
        json!({"type": "boolean", "writeOnly": true, "default": true})
    );
    assert!(schema(SAMPLE.schema(true)).get("required").is_none());
    static REFS: Body = Body::new(&[
        Field::new("kind", Kind::Choice(LEVELS))
            .component("Level")
            .describe("Which."),
        Field::new("by", Kind::Object(&[]))
            .component("User")
            .nullable()
            .read_only(),
    ]);
    let refs = schema(REFS.schema(true));
    assert_eq!(
        refs["properties"]["kind"],
        json!({"allOf": [{"$ref": "#/components/schemas/Level"}], "description": "Which."})
    );
    assert_eq!(
        refs["properties"]["by"],
        json!({"oneOf": [{"$ref": "#/components/schemas/User"}, {"type": "null"}]})
    );
}

/// Every body the API declares: defaults are JSON of the field's kind, and
/// what is only ever shown is read-only.
#[test]
fn every_declaration_is_sound() {
    let bodies: [&'static Body; 8] = [
        &crate::invites::payload::INVITE,
        &crate::legal_documents::payload::CREATE,
        &crate::legal_documents::payload::SIGNED,
        &crate::members::payload::MEMBER,
        &crate::organizations::payload::ORGANIZATION,
        &crate::projects::payload::PROJECT,
        &crate::signup::payload::SIGNUP,
        &crate::users::payload::USER,
    ];
    for body in bodies {
        let mut names = std::collections::HashSet::new();
        for f in body.fields {
            assert!(names.insert(f.name), "{} declared twice", f.name);
            if let Some(json) = f.default {
                let v: Value = serde_json::from_str(json).expect("a default is JSON");
                let mut c = Body::new(std::slice::from_ref(f)).check_object(
                    json!({ f.name: v }).as_object().unwrap(),
                    false,
                    "",
                );
                assert!(
                    c.first_error().is_none(),
                    "{}'s default fails its check",
                    f.name
                );
                c.refine(f.name, |v| Ok(v.clone()));
            }
            if matches!(f.kind, Kind::DateTime) {
                assert!(f.read_only, "{} is a date-time a body would send", f.name);
            }
            assert!(!(f.read_only && f.write_only), "{}", f.name);
        }
    }
}

const FLAG: Field = Field::new("", Kind::Boolean);

static MORE: Body = Body::new(&[
    Field::new("opted_out", Kind::Map(&FLAG)),
    Field::new("maybe", Kind::Boolean).nullable(),
    Field::new("sure", Kind::Boolean),
    Field::new("mode", Kind::Choice(Choices::Strings(&["a", "b"])))
        .nullable()
        .blank(),
    Field::new("id", Kind::Text(Text::ANY))
        .write_only()
        .schema_with(text_or_integer)
        .describe("An id."),
]);

fn text_or_integer() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::schema::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::SchemaType::Array(vec![
            utoipa::openapi::schema::Type::String,
            utoipa::openapi::schema::Type::Integer,
        ]))
        .into()
}

#[test]
fn dictionaries_nullable_booleans_and_blank_choices() {
    let v = MORE
        .check(
            &Data::Json(json!({"opted_out": {"7": "true", "8": 0}, "maybe": "null", "mode": ""})),
            false,
        )
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(v.get("opted_out"), Some(&json!({"7": true, "8": false})));
    assert_eq!(v.flag("maybe"), Some(None), "DRF's null strings");
    assert_eq!(v.text("mode"), Some(Some(String::new())));
    let error = |body: Value| {
        let e = MORE
            .check(&Data::Json(body), true)
            .unwrap()
            .finish()
            .unwrap_err();
        (
            e.code.into_owned(),
            e.detail.into_owned(),
            e.attr.unwrap().into_owned(),
        )
    };
    assert_eq!(
        error(json!({"opted_out": [true]})),
        (
            "not_a_dict".into(),
            "Expected a dictionary of items but got type \"list\".".into(),
            "opted_out".into()
        )
    );
    assert_eq!(error(json!({"opted_out": {"7": "x"}})).2, "opted_out__7");
    assert_eq!(error(json!({"sure": "null"})).0, "invalid_input");
    // A form's dictionary is its `name.key` fields.
    let v = MORE
        .check(&Data::form(&[("opted_out.7", "false")]), true)
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(v.get("opted_out"), Some(&json!({"7": false})));

    let schema = serde_json::to_value(utoipa::openapi::schema::Schema::Object(
        MORE.schema(true).build(),
    ))
    .unwrap();
    let props = &schema["properties"];
    assert_eq!(
        props["opted_out"],
        json!({"type": "object", "additionalProperties": {"type": "boolean"}})
    );
    assert_eq!(
        props["mode"],
        json!({"type": ["string", "null"], "enum": ["a", "b", "", null]})
    );
    assert_eq!(
        props["id"],
        json!({"type": ["string", "integer"], "writeOnly": true, "description": "An id."})
    );
}
