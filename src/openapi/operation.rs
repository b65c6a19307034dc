//! What a route says about itself for the API document: its method and path,
//! operation id, parameters, request body, responses and the component
//! schemas they refer to. An `Operation` is the first part of every route's
//! declaration (`http::Routes`), so a route cannot be served undocumented nor
//! documented unserved. Who may call the route (security) is not said here:
//! the document reads it from the rest of the declaration, so it cannot drift
//! from what the code enforces.

use std::sync::Arc;

use axum::http::Method;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{RefOr, Required};
use utoipa::ToSchema;

/// One route's method and path (axum pattern, no trailing slash) and its
/// documentation.
#[derive(Clone)]
pub struct Operation {
    pub method: Method,
    pub path: &'static str,
    pub id: &'static str,
    pub description: Option<&'static str>,
    pub tags: Vec<&'static str>,
    pub parameters: Vec<Parameter>,
    /// The request body's schema, accepted as JSON, form fields or multipart (as DRF's parsers).
    pub body: Option<RefOr<Schema>>,
    pub responses: Vec<Reply>,
    /// Error statuses beyond those every route of its kind may answer.
    pub errors: Vec<u16>,
    /// The component schemas this operation refers to, built only when the
    /// document is (every route holds its operation for the life of the
    /// process, and some components are large).
    pub components: Vec<Components>,
}

/// Adds one or more named component schemas to a list.
pub type Components = Arc<dyn Fn(&mut Vec<(String, RefOr<Schema>)>) + Send + Sync>;

/// One success response.
#[derive(Clone)]
pub struct Reply {
    pub status: u16,
    pub description: &'static str,
    /// Content type and schema; `None` for an empty body.
    pub content: Option<(&'static str, RefOr<Schema>)>,
}

impl Operation {
    pub fn new(method: Method, path: &'static str, id: &'static str) -> Operation {
        Operation {
            method,
            path,
            id,
            description: None,
            tags: Vec::new(),
            parameters: Vec::new(),
            body: None,
            responses: Vec::new(),
            errors: Vec::new(),
            components: Vec::new(),
        }
    }

    pub fn describe(mut self, description: &'static str) -> Operation {
        self.description = Some(description);
        self
    }

    pub fn tags(mut self, tags: &[&'static str]) -> Operation {
        self.tags = tags.to_vec();
        self
    }

    pub fn param(mut self, parameter: Parameter) -> Operation {
        self.parameters.push(parameter);
        self
    }

    /// A path parameter (every `{name}` of the path needs one).
    pub fn path_param(
        self,
        name: &str,
        schema: impl Into<RefOr<Schema>>,
        description: Option<&str>,
    ) -> Operation {
        self.param(parameter(name, ParameterIn::Path, schema, description))
    }

    /// An optional query parameter.
    pub fn query(
        self,
        name: &str,
        schema: impl Into<RefOr<Schema>>,
        description: &str,
    ) -> Operation {
        self.param(parameter(
            name,
            ParameterIn::Query,
            schema,
            Some(description),
        ))
    }

    /// DRF's limit/offset pagination parameters (`http::pagination`).
    pub fn limit_offset(self) -> Operation {
        let integer = || super::schema::integer();
        self.query("limit", integer(), "Number of results to return per page.")
            .query(
                "offset",
                integer(),
                "The initial index from which to return the results.",
            )
    }

    /// The activity log's page-number pagination parameters.
    pub fn page_number(self) -> Operation {
        let positive = || super::schema::integer().minimum(Some(1));
        self.query(
            "page",
            positive(),
            "A page number within the paginated result set.",
        )
        .query("limit", positive(), "Number of results to return per page.")
    }

    pub fn body(mut self, schema: impl Into<RefOr<Schema>>) -> Operation {
        self.body = Some(schema.into());
        self
    }

    /// A JSON response.
    pub fn returns(mut self, status: u16, schema: impl Into<RefOr<Schema>>) -> Operation {
        self.responses.push(Reply {
            status,
            description: "",
            content: Some(("application/json", schema.into())),
        });
        self
    }

    /// A response of another content type.
    pub fn returns_as(
        mut self,
        status: u16,
        content_type: &'static str,
        schema: impl Into<RefOr<Schema>>,
    ) -> Operation {
        self.responses.push(Reply {
            status,
            description: "",
            content: Some((content_type, schema.into())),
        });
        self
    }

    /// A response without a body.
    pub fn returns_nothing(mut self, status: u16) -> Operation {
        self.responses.push(Reply {
            status,
            description: "No response body",
            content: None,
        });
        self
    }

    /// An error status this route answers beyond its kind's usual ones.
    pub fn error(mut self, status: u16) -> Operation {
        self.errors.push(status);
        self
    }

    /// A component schema built from a declaration (a request body, the
    /// settings table, a generic page) that this operation refers to.
    pub fn component<S: Into<RefOr<Schema>>>(
        mut self,
        name: &str,
        build: impl Fn() -> S + Send + Sync + 'static,
    ) -> Operation {
        let name = name.to_string();
        self.components.push(Arc::new(move |out| {
            out.push((name.clone(), build().into()))
        }));
        self
    }

    /// A component schema derived from a type (`#[derive(utoipa::ToSchema)]`),
    /// with the components it refers to.
    pub fn component_of<T: ToSchema + 'static>(mut self) -> Operation {
        self.components.push(Arc::new(|out| {
            T::schemas(out);
            out.push((T::name().into_owned(), T::schema()));
        }));
        self
    }

    /// The component schemas it refers to, built now.
    pub fn built_components(&self) -> Vec<(String, RefOr<Schema>)> {
        let mut out = Vec::new();
        for add in &self.components {
            add(&mut out);
        }
        out
    }
}

fn parameter(
    name: &str,
    location: ParameterIn,
    schema: impl Into<RefOr<Schema>>,
    description: Option<&str>,
) -> Parameter {
    let required = if matches!(location, ParameterIn::Path) {
        Required::True
    } else {
        Required::False
    };
    ParameterBuilder::new()
        .name(name)
        .parameter_in(location)
        .required(required)
        .description(description)
        .schema(Some(schema))
        .build()
}
