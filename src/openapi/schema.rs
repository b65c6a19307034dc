//! Short names for the schema shapes the API's types are made of, over
//! utoipa's builders, so a resource states a field's type in one line.
//! The document is OpenAPI 3.1: a nullable type is `[type, "null"]`.

use utoipa::openapi::schema::{
    ArrayBuilder, ObjectBuilder, OneOfBuilder, Ref, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::RefOr;
use utoipa::{PartialSchema, ToSchema};

pub use utoipa::openapi::schema::Type as Kind;

/// A value of one JSON type.
pub fn of(kind: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(kind)
}

/// A value of one JSON type, or null.
pub fn nullable(kind: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::Array(vec![kind, Type::Null]))
}

/// A `format` by its name in the JSON Schema and OpenAPI registries.
pub fn format(name: &str) -> SchemaFormat {
    SchemaFormat::Custom(name.to_string())
}

pub fn string() -> ObjectBuilder {
    of(Type::String)
}

pub fn integer() -> ObjectBuilder {
    of(Type::Integer)
}

pub fn boolean() -> ObjectBuilder {
    of(Type::Boolean)
}

/// Any JSON value (PostHog's JSONField).
pub fn any() -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::AnyValue)
}

pub fn uuid() -> ObjectBuilder {
    string().format(Some(format("uuid")))
}

pub fn date_time() -> ObjectBuilder {
    string().format(Some(format("date-time")))
}

/// An absolute URL, or null (pagination links).
pub fn nullable_uri() -> ObjectBuilder {
    nullable(Type::String).format(Some(format("uri")))
}

/// An object whose keys and values are free.
pub fn free_object() -> ObjectBuilder {
    of(Type::Object).additional_properties(Some(any()))
}

pub fn array(items: impl Into<RefOr<Schema>>) -> ArrayBuilder {
    ArrayBuilder::new().items(items.into())
}

/// An array, or null.
pub fn nullable_array(items: impl Into<RefOr<Schema>>) -> ArrayBuilder {
    array(items).schema_type(SchemaType::Array(vec![Type::Array, Type::Null]))
}

/// A reference to a component schema.
pub fn component(name: &str) -> RefOr<Schema> {
    Ref::from_schema_name(name).into()
}

/// A reference to a component schema, or null.
pub fn nullable_component(name: &str) -> RefOr<Schema> {
    OneOfBuilder::new()
        .item(component(name))
        .item(of(Type::Null))
        .into()
}

/// A reference to `T`'s component, or null, for a derived type's field
/// (`#[schema(schema_with = nullable_ref::<T>)]`): as `nullable_component`
/// writes it, where utoipa's derive would list the null first. The field's
/// operations register `T`'s component themselves.
pub fn nullable_ref<T: ToSchema>() -> RefOr<Schema> {
    nullable_component(&T::name())
}

/// One of the listed values.
pub fn choice<V: Into<serde_json::Value>>(
    kind: Type,
    values: impl IntoIterator<Item = V>,
) -> ObjectBuilder {
    of(kind).enum_values(Some(values))
}

/// An array the server sets: utoipa's array builder has no `readOnly`, so
/// the keyword goes in through the schema's free-form keys.
pub fn read_only_array(b: ArrayBuilder) -> RefOr<Schema> {
    let mut array = b.build();
    let mut keys = array.extensions.take().unwrap_or_default();
    keys.insert("readOnly".into(), true.into());
    array.extensions = Some(keys);
    array.into()
}

/// `T`'s own schema, read-only: for a derived type's field whose type is
/// inlined (`#[schema(schema_with = read_only::<T>)]`), as utoipa's derive
/// drops `read_only` on an inlined enum and sets it on an array's items.
pub fn read_only<T: PartialSchema + ?Sized>() -> RefOr<Schema> {
    match T::schema() {
        RefOr::T(Schema::Object(mut object)) => {
            object.read_only = Some(true);
            object.into()
        }
        RefOr::T(Schema::Array(array)) => read_only_array(array.into()),
        other => other,
    }
}

/// A derived struct's object schema, to add to: a component a request body
/// shares with the response, plus the fields only the request carries.
pub fn object_of<T: PartialSchema + ?Sized>() -> ObjectBuilder {
    match T::schema() {
        RefOr::T(Schema::Object(object)) => object.into(),
        // Only structs are extended.
        _ => ObjectBuilder::new(),
    }
}
