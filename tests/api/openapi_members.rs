//! The API document on the members, invites and sign-up routes: PostHog's
//! operation ids and parameter names, and component schemas that list
//! exactly the keys the server renders (the conformance check passes extra
//! keys, so this is where an undocumented one is caught).

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::conformance;
use crate::support::World;

const MEMBERS: &str = "/api/organizations/{organization_id}/members/";
const MEMBER: &str = "/api/organizations/{organization_id}/members/{user__uuid}/";
const KEYS: &str = "/api/organizations/{organization_id}/members/{user__uuid}/scoped_api_keys/";
const INVITES: &str = "/api/organizations/{organization_id}/invites/";
const BULK: &str = "/api/organizations/{organization_id}/invites/bulk/";
const INVITE: &str = "/api/organizations/{organization_id}/invites/{id}/";
const SIGNUP: &str = "/api/signup/{invite_id}/";

/// Method, document path, operation id, the scope it needs (none: public)
/// and its path parameters in order.
type Row = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
    &'static [&'static str],
);

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .map(|a| {
            a.iter()
                .map(|p| p[key].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn operations_are_named_as_posthog_names_them() {
    let doc = conformance::document();
    let read = Some("organization_member:read");
    let write = Some("organization_member:write");
    let rows: &[Row] = &[
        ("get", MEMBERS, "members_list", read, &["organization_id"]),
        (
            "put",
            MEMBER,
            "members_update",
            write,
            &["organization_id", "user__uuid"],
        ),
        (
            "patch",
            MEMBER,
            "members_partial_update",
            write,
            &["organization_id", "user__uuid"],
        ),
        (
            "delete",
            MEMBER,
            "members_destroy",
            write,
            &["organization_id", "user__uuid"],
        ),
        (
            "get",
            KEYS,
            "members_scoped_api_keys_retrieve",
            read,
            &["organization_id", "user__uuid"],
        ),
        ("get", INVITES, "invites_list", read, &["organization_id"]),
        (
            "post",
            INVITES,
            "invites_create",
            write,
            &["organization_id"],
        ),
        (
            "post",
            BULK,
            "invites_bulk_create",
            write,
            &["organization_id"],
        ),
        (
            "delete",
            INVITE,
            "invites_destroy",
            write,
            &["organization_id", "id"],
        ),
        ("get", SIGNUP, "signup_retrieve", None, &["invite_id"]),
        ("post", SIGNUP, "signup_create", None, &["invite_id"]),
    ];
    for (method, path, id, scope, path_params) in rows {
        let op = &doc["paths"][path][method];
        assert_eq!(op["operationId"], *id, "{method} {path}");
        let security = match scope {
            Some(s) => json!([{"PersonalAPIKeyAuth": [s]}]),
            None => Value::Null,
        };
        assert_eq!(op["security"], security, "{method} {path}");
        let in_path: Vec<String> = op["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|p| p["in"] == "path")
            .map(|p| p["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(in_path, *path_params, "{method} {path}");
    }
    assert_eq!(
        names(&doc["paths"][MEMBERS]["get"]["parameters"], "name"),
        [
            "organization_id",
            "limit",
            "offset",
            "email",
            "updated_after",
            "search",
            "order"
        ]
    );
    // Bulk: an array in, 201 with the array out (PostHog's schema says otherwise).
    let bulk = &doc["paths"][BULK]["post"];
    let body = &bulk["requestBody"]["content"]["application/json"]["schema"];
    assert_eq!(body["type"], "array");
    assert_eq!(body["maxItems"], 20);
    assert_eq!(
        bulk["responses"]["201"]["content"]["application/json"]["schema"]["items"]["$ref"],
        "#/components/schemas/OrganizationInvite"
    );
    assert!(bulk["responses"].get("200").is_none());
    // An owner cannot leave: a 400 on delete.
    assert!(doc["paths"][MEMBER]["delete"]["responses"]
        .get("400")
        .is_some());
}

/// The documented properties of a component, without the write-only ones
/// (a component made of others, `allOf`, has all of theirs).
fn shown(component: &str) -> BTreeSet<String> {
    let schema = &conformance::document()["components"]["schemas"][component];
    if let Some(parts) = schema["allOf"].as_array() {
        return parts
            .iter()
            .flat_map(|part| match part["$ref"].as_str() {
                Some(r) => shown(r.trim_start_matches("#/components/schemas/")),
                None => properties(part, component),
            })
            .collect();
    }
    properties(schema, component)
}

fn properties(schema: &Value, component: &str) -> BTreeSet<String> {
    schema["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{component} has properties"))
        .iter()
        .filter(|(_, p)| p["writeOnly"] != true)
        .map(|(k, _)| k.clone())
        .collect()
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object().unwrap().keys().cloned().collect()
}

#[tokio::test]
async fn components_list_exactly_the_rendered_keys() {
    let w = World::new().await;
    let members = format!("/api/organizations/{}/members/", w.org);
    let r = w
        .app
        .call(
            "GET",
            &format!("{members}?search=member"),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    let member = &r.body["results"][0];
    assert_eq!(keys(member), shown("OrganizationMember"));
    assert_eq!(keys(&member["user"]), shown("UserBasic"));
    let r = w
        .app
        .call(
            "GET",
            &format!("{members}@me/scoped_api_keys/"),
            Some(&w.owner),
            None,
        )
        .await;
    assert_eq!(r.status, 200);
    assert_eq!(keys(&r.body), shown("OrganizationMemberScopedApiKeys"));

    let invites = format!("/api/organizations/{}/invites/", w.org);
    let r = w
        .app
        .call(
            "POST",
            &format!("{invites}bulk/"),
            Some(&w.owner),
            Some(json!([{"target_email": "new@example.com", "private_project_access": null}])),
        )
        .await;
    assert_eq!(r.status, 201);
    let invite = &r.body[0];
    assert_eq!(invite["private_project_access"], Value::Null);
    assert_eq!(keys(invite), shown("OrganizationInvite"));
    assert_eq!(keys(&invite["created_by"]), shown("UserBasic"));

    let signup = crate::signup::link(invite);
    let r = w.app.call("GET", &signup, None, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(keys(&r.body), shown("InviteSignupPreview"));
    let r = w
        .app
        .call(
            "POST",
            &signup,
            None,
            Some(json!({"first_name": "New", "password": "a long enough password"})),
        )
        .await;
    assert_eq!(r.status, 201);
    assert_eq!(keys(&r.body), shown("InviteSignupResponse"));
}
