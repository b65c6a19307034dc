//! Each page: its shell and forms, rendered on the server. Lists are filled
//! by the script from the JSON API (`assets/pages.js`), which also sends
//! every form.

use std::sync::OnceLock;

use axum::http::StatusCode;
use axum::response::Response;
use maud::{html, Markup, PreEscaped};
use serde_json::{json, Map, Value};

use super::layout::{checkbox, field, field_error, form_alert, shell, status};
use super::{html, html_status};
use crate::auth::scopes::SCOPE_OBJECTS;
use crate::http::{App, PageRequest};
use crate::invites::{model::valid_since, store as invites_store, token};
use crate::members::rules::{check, Action};
use crate::organizations::{self, Level};
use crate::projects::settings::schema::{Choices, Type};
use crate::projects::settings::{Setting, SETTINGS};

/// Membership levels as the forms offer them.
const LEVELS: [(Level, &str); 3] = [
    (Level::Member, "Member"),
    (Level::Admin, "Admin"),
    (Level::Owner, "Owner"),
];

/// A JSON document for the script, in a `<script type="application/json">`
/// (data, never run; `<` escaped so no text can close the element).
fn data_block(id: &str, value: &Value) -> Markup {
    let text = value.to_string().replace('<', "\\u003c");
    html! {
        script type="application/json" id=(id) { (PreEscaped(text)) }
    }
}

pub async fn login(_: App, _: PageRequest) -> Response {
    let main = html! {
        section.narrow {
            h1 { "Log in to prickle" }
            form #login-form novalidate {
                (form_alert())
                (field("email", "Email", "email", None, html! {
                    input #email type="email" name="email" autocomplete="username" required;
                }))
                (field("password", "Password", "password", None, html! {
                    input #password type="password" name="password"
                        autocomplete="current-password" required;
                }))
                button type="submit" { "Log in" }
            }
        }
    };
    html(shell("Log in", "login", false, main))
}

/// What the sign-up page shows of an invite its link opens.
struct Invitation {
    organization: String,
    inviter: Option<String>,
    email: String,
    first_name: String,
    expired: bool,
}

/// The invite behind a sign-up link, when its token opens it (the same
/// lookup and token check as `GET /api/signup/:id/`; anything else is the
/// same "not valid" whatever the reason).
async fn invitation(app: &App, req: &PageRequest) -> Result<Option<Invitation>, ()> {
    let Some(id) = req.param("invite_id").and_then(organizations::parse_uuid) else {
        return Ok(None);
    };
    let presented = req.query("token");
    let mut tx = app.db.read().await.map_err(|_| ())?;
    let Some((invite, digest)) = invites_store::find_for_signup(&mut tx, &id)
        .await
        .map_err(|_| ())?
    else {
        return Ok(None);
    };
    if !token::opens(digest.as_deref(), presented.as_deref()) {
        return Ok(None);
    }
    let org = organizations::find(&mut tx, &invite.organization_id)
        .await
        .map_err(|_| ())?;
    tx.commit().await.map_err(|_| ())?;
    let Some(org) = org else { return Ok(None) };
    let inviter = invite.created_by.as_ref().map(|u| {
        let name = format!("{} {}", u.first_name, u.last_name);
        match name.trim() {
            "" => u.email.clone(),
            name => name.to_string(),
        }
    });
    Ok(Some(Invitation {
        organization: org.name,
        inviter,
        email: invite.target_email,
        first_name: invite.first_name,
        expired: invite.created_at < valid_since(crate::time::now_micros()),
    }))
}

pub async fn signup(app: App, req: PageRequest) -> Response {
    let found = invitation(&app, &req).await;
    // A signed-in person joins as themselves (the API takes the session).
    let me = match &found {
        Ok(Some(_)) => super::session::user(&app, &req.headers)
            .await
            .ok()
            .flatten(),
        _ => None,
    };
    let (status_code, body) = match &found {
        Ok(Some(inv)) if !inv.expired => (
            StatusCode::OK,
            html! {
                h1 { "Join " (inv.organization) }
                p #invitation {
                    @match &inv.inviter {
                        Some(who) => { (who) " invited " strong { (inv.email) } " to join " strong { (inv.organization) } "." }
                        None => { strong { (inv.email) } " is invited to join " strong { (inv.organization) } "." }
                    }
                }
                form #signup-form novalidate data-signed-in[me.is_some()] {
                    (form_alert())
                    @if let Some(me) = &me {
                        p { "You are signed in as " strong { (me.email) } ": join with this account." }
                    } @else {
                        (field("first_name", "First name", "first_name", None, html! {
                            input #first_name type="text" name="first_name" autocomplete="given-name"
                                maxlength="128" value=(inv.first_name) required;
                        }))
                        (field("password", "Password", "password", Some("At least 8 characters."), html! {
                            input #password type="password" name="password" autocomplete="new-password"
                                aria-describedby="password-hint" maxlength="72" required;
                        }))
                    }
                    button type="submit" { "Join" }
                }
            },
        ),
        Ok(Some(_)) => (
            StatusCode::OK,
            html! {
                h1 { "Join an organization" }
                p.error role="alert" { "This invite has expired. Ask for a new one." }
            },
        ),
        Ok(None) => (
            StatusCode::NOT_FOUND,
            html! {
                h1 { "Join an organization" }
                p.error role="alert" { "This invite link is not valid. Ask for a new one." }
            },
        ),
        Err(()) => (
            StatusCode::SERVICE_UNAVAILABLE,
            html! {
                h1 { "Join an organization" }
                p.error role="alert" { "The invite could not be read just now. Try again in a moment." }
            },
        ),
    };
    let main = html! { section.narrow { (body) } };
    html_status(status_code, shell("Join", "signup", false, main))
}

pub async fn projects(_: App, _: PageRequest) -> Response {
    let main = html! {
        h1 { "Projects" }
        (status("projects-status"))
        ul #project-list.cards {}
        section aria-labelledby="new-project-title" {
            h2 #new-project-title { "New project" }
            form #project-create novalidate {
                (form_alert())
                (field("new-project-name", "Name", "name", None, html! {
                    input #new-project-name type="text" name="name" maxlength="200" required;
                }))
                button type="submit" { "Create project" }
            }
        }
    };
    html(shell("Projects", "projects", true, main))
}

/// "app_urls" → "App urls".
fn humanize(name: &str) -> String {
    let text = name.replace('_', " ");
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => text,
    }
}

/// One setting's control, chosen by its declared type: the script reads and
/// writes it by `data-setting` and `data-kind`.
fn setting_control(s: &Setting, id: &str, hint: &str) -> Markup {
    let nullable = s.schema.nullable;
    let name = s.name;
    match s.schema.ty {
        Type::Boolean if !nullable => html! {
            input type="checkbox" id=(id) name=(name) data-setting=(name) data-kind="boolean"
                aria-describedby=(hint);
        },
        Type::Boolean => html! {
            select id=(id) name=(name) data-setting=(name) data-kind="choice" aria-describedby=(hint) {
                option value="" data-null { "Not set" }
                option value="true" data-json { "Yes" }
                option value="false" data-json { "No" }
            }
        },
        Type::Enum(choices) => {
            let (values, json): (Vec<String>, bool) = match choices {
                Choices::Strings(v) => (v.iter().map(|s| s.to_string()).collect(), false),
                Choices::Integers(v) => (v.iter().map(|n| n.to_string()).collect(), true),
            };
            html! {
                select id=(id) name=(name) data-setting=(name) data-kind="choice" aria-describedby=(hint) {
                    @if nullable { option value="" data-null { "Not set" } }
                    @for v in &values {
                        @if json { option value=(v) data-json { (v) } }
                        @else if v.is_empty() { option value="" { "(blank)" } }
                        @else { option { (v) } }
                    }
                }
            }
        }
        Type::String { max_length } => html! {
            input type="text" id=(id) name=(name) data-setting=(name) data-kind="text"
                data-nullable[nullable] maxlength=[max_length] aria-describedby=(hint);
        },
        Type::Decimal { .. } => html! {
            input type="text" inputmode="decimal" id=(id) name=(name) data-setting=(name)
                data-kind="text" data-nullable[nullable] aria-describedby=(hint);
        },
        Type::Integer { minimum, maximum } => html! {
            input type="number" id=(id) name=(name) data-setting=(name) data-kind="integer"
                data-nullable[nullable] min=[minimum] max=[maximum] aria-describedby=(hint);
        },
        Type::ForeignKey { .. } => html! {
            input type="number" id=(id) name=(name) data-setting=(name) data-kind="integer"
                data-nullable[nullable] min="1" aria-describedby=(hint);
        },
        Type::Any | Type::Array(_) => html! {
            textarea id=(id) name=(name) data-setting=(name) data-kind="json"
                data-nullable[nullable] rows="3" spellcheck="false" aria-describedby=(hint) {}
        },
    }
}

/// The settings fields, built once from the declarations: a setting added
/// to `SETTINGS` appears here with no page work.
fn settings_fields() -> &'static str {
    static FIELDS: OnceLock<String> = OnceLock::new();
    FIELDS.get_or_init(|| {
        html! {
            @for s in SETTINGS {
                @let id = format!("setting-{}", s.name);
                @let hint = format!("{id}-hint");
                div.field data-admin[matches!(s.access, crate::projects::settings::Access::Admin)] {
                    @if matches!(s.schema.ty, Type::Boolean) && !s.schema.nullable {
                        div.check {
                            (setting_control(s, &id, &hint))
                            label for=(id) { (humanize(s.name)) }
                        }
                    } @else {
                        label for=(id) { (humanize(s.name)) }
                        (setting_control(s, &id, &hint))
                    }
                    p.hint id=(hint) { (s.description) }
                    (field_error(s.name))
                }
            }
        }
        .into_string()
    })
}

pub async fn project(_: App, req: PageRequest) -> Response {
    let id = req.param("id").unwrap_or_default();
    let Ok(id) = id.parse::<i64>() else {
        let main = html! {
            h1 { "Project not found" }
            p { a href="/projects" { "Back to the projects" } }
        };
        return html_status(
            StatusCode::NOT_FOUND,
            shell("Not found", "missing", true, main),
        );
    };
    let main = html! {
        p { a href="/projects" { "← Projects" } }
        h1 #project-title data-project=(id) { "Project" }
        (status("project-status"))
        form #project-settings novalidate {
            (form_alert())
            (field("project-name", "Name", "name", None, html! {
                input #project-name type="text" name="name" data-setting="name" data-kind="text"
                    maxlength="200" required;
            }))
            (field("project-description", "Product description", "product_description", None, html! {
                textarea #project-description name="product_description"
                    data-setting="product_description" data-kind="text" data-nullable
                    maxlength="1000" rows="2" {}
            }))
            div.actions { button type="submit" { "Save" } }
            details #all-settings open {
                summary { "All settings" }
                (PreEscaped(settings_fields()))
            }
            div.actions { button type="submit" { "Save" } }
        }
        section #access aria-labelledby="access-title" {
            h2 #access-title { "Access" }
            p.hint {
                "Organization admins always see every project. Set who else may: the default for "
                "members (none makes the project private), and rules for single members or roles."
            }
            form #access-default novalidate {
                (form_alert())
                (field("access-default-level", "Default access for members", "access_level", None, html! {
                    select #access-default-level name="access_level" {
                        option value="none" { "None (private)" }
                        option value="member" { "Member" }
                        option value="admin" { "Admin" }
                    }
                }))
                button type="submit" { "Save default access" }
            }
            table #access-rules {
                caption { "Member and role rules" }
                thead { tr { th scope="col" { "Who" } th scope="col" { "Level" } th scope="col" { "Actions" } } }
                tbody {}
            }
            form #access-add novalidate {
                (form_alert())
                (field("access-member", "Member", "organization_member", None, html! {
                    select #access-member name="organization_member" { option value="" { "—" } }
                }))
                (field("access-role", "Role", "role", None, html! {
                    select #access-role name="role" { option value="" { "—" } }
                }))
                (field("access-level", "Access level", "access_level", None, html! {
                    select #access-level name="access_level" {
                        option value="member" { "Member" }
                        option value="admin" { "Admin" }
                        option value="none" { "None" }
                    }
                }))
                button type="submit" { "Add rule" }
            }
            h3 { "Roles of the organization" }
            ul #role-list {}
            form #role-create novalidate {
                (form_alert())
                (field("role-name", "Role name", "name", None, html! {
                    input #role-name type="text" name="name" maxlength="200" required;
                }))
                button type="submit" { "Create role" }
            }
        }
        section aria-labelledby="danger-title" {
            h2 #danger-title { "Delete" }
            button #delete-project.danger type="button" { "Delete project" }
        }
        dialog #delete-dialog aria-labelledby="delete-dialog-title" {
            form method="dialog" {
                h2 #delete-dialog-title { "Delete this project?" }
                p { "Its settings and activity are deleted with it. This cannot be undone." }
                (form_alert())
                div.actions {
                    button #delete-confirm.danger type="button" { "Delete" }
                    button.secondary value="cancel" autofocus { "Cancel" }
                }
            }
        }
    };
    html(shell("Project", "project", true, main))
}

/// Who may do what to whom, from `members::rules::check` itself: for each
/// caller level, target level and whether the target is the caller, the
/// levels the caller may set and whether they may remove.
fn members_matrix() -> Value {
    let mut out = Map::new();
    for (actor, _) in LEVELS {
        for (target, _) in LEVELS {
            for is_self in [false, true] {
                if is_self && actor != target {
                    continue;
                }
                let update: Vec<i64> = LEVELS
                    .iter()
                    .filter(|(new, _)| {
                        check(actor, target, Action::Update(Some(*new)), is_self).is_ok()
                    })
                    .map(|(new, _)| new.as_i64())
                    .collect();
                let remove = check(actor, target, Action::Remove, is_self).is_ok();
                let key = format!(
                    "{}:{}:{}",
                    actor.as_i64(),
                    target.as_i64(),
                    u8::from(is_self)
                );
                out.insert(key, json!({"update": update, "remove": remove}));
            }
        }
    }
    Value::Object(out)
}

fn level_names() -> Value {
    let mut names = Map::new();
    for (level, name) in LEVELS {
        names.insert(level.as_i64().to_string(), json!(name));
    }
    Value::Object(names)
}

pub async fn members(_: App, _: PageRequest) -> Response {
    let main = html! {
        h1 { "Members" }
        form #member-search-form role="search" {
            (field("member-search", "Search", "search", None, html! {
                input #member-search type="search" name="search" autocomplete="off";
            }))
        }
        (status("members-status"))
        (form_alert())
        (script_table("members", "Members", "Members of the organization", &[
            col("Name"), col("Email"), col("Level"), wide_col("Joined"), col("Actions"),
        ]))
        (data_block("member-rules", &members_matrix()))
        (data_block("level-names", &level_names()))
    };
    html(shell("Members", "members", true, main))
}

pub async fn invites(_: App, _: PageRequest) -> Response {
    let main = html! {
        h1 { "Invites" }
        section aria-labelledby="invite-title" {
            h2 #invite-title { "Invite someone" }
            form #invite-form novalidate {
                (form_alert())
                (field("invite-email", "Email", "target_email", None, html! {
                    input #invite-email type="email" name="target_email" maxlength="254"
                        autocomplete="off" required;
                }))
                (field("invite-level", "Level", "level", None, html! {
                    select #invite-level name="level" {
                        @for (level, name) in LEVELS {
                            option value=(level.as_i64()) { (name) }
                        }
                    }
                }))
                (field("invite-message", "Message", "message", Some("Optional; sent in the invite email."), html! {
                    textarea #invite-message name="message" maxlength="2000" rows="3"
                        aria-describedby="invite-message-hint" {}
                }))
                (script_choices(
                    "invite-projects",
                    "Project access",
                    "Private projects the person may see, and at which level.",
                    "invite-project-list",
                    "private_project_access",
                ))
                button type="submit" { "Send invite" }
            }
            (shown_once(
                "signup-result",
                "The sign-up link, shown only now: send it to the person if your server sends no email.",
                "signup-link",
                "copy-signup-link",
                "Copy link",
            ))
        }
        section aria-labelledby="pending-title" {
            h2 #pending-title { "Pending invites" }
            (status("invites-status"))
            (form_alert())
            (script_table("invites", "Pending invites table", "Pending invites", &[
                col("Email"), col("Level"), col("Invited by"), col("Expires"), col("Actions"),
            ]))
        }
        (data_block("level-names", &level_names()))
        (data_block("invite-validity-days", &json!(crate::invites::model::VALIDITY_DAYS)))
    };
    html(shell("Invites", "invites", true, main))
}

pub async fn keys(_: App, _: PageRequest) -> Response {
    let main = html! {
        h1 { "Personal API keys" }
        section aria-labelledby="new-key-title" {
            h2 #new-key-title { "New key" }
            form #key-form novalidate {
                (form_alert())
                (field("key-label", "Label", "label", None, html! {
                    input #key-label type="text" name="label" maxlength="40" required;
                }))
                fieldset #key-scopes {
                    legend { "Scopes" }
                    (field_error("scopes"))
                    div.check {
                        input #scope-all type="checkbox" name="scopes" value="*";
                        label for="scope-all" { "* (all access)" }
                    }
                    div.scope-grid {
                        @for object in SCOPE_OBJECTS {
                            @for action in ["read", "write"] {
                                @let scope = format!("{object}:{action}");
                                @let id = format!("scope-{object}-{action}");
                                div.check {
                                    input id=(id) type="checkbox" name="scopes" value=(scope);
                                    label for=(id) { (scope) }
                                }
                            }
                        }
                    }
                }
                (script_choices(
                    "key-organizations",
                    "Organizations",
                    "Leave all unticked for every organization.",
                    "key-organization-list",
                    "scoped_organizations",
                ))
                (script_choices(
                    "key-projects",
                    "Projects",
                    "Leave all unticked for every project.",
                    "key-project-list",
                    "scoped_teams",
                ))
                button type="submit" { "Create key" }
            }
            (shown_once(
                "new-key",
                "The key's value, shown only now: store it safely.",
                "new-key-value",
                "copy-key",
                "Copy",
            ))
        }
        section aria-labelledby="keys-title" {
            h2 #keys-title { "Your keys" }
            (status("keys-status"))
            (form_alert())
            (script_table("keys", "Keys table", "Your personal API keys", &[
                col("Label"), col("Key"), col("Scopes"), col("Last used"), col("Created"), col("Actions"),
            ]))
        }
    };
    html(shell("API keys", "keys", true, main))
}

pub async fn organization(_: App, _: PageRequest) -> Response {
    let main = html! {
        h1 { "Organization" }
        (status("organization-status"))
        form #organization-form novalidate {
            (form_alert())
            (field("organization-name", "Name", "name", None, html! {
                input #organization-name type="text" name="name" maxlength="64" required;
            }))
            (checkbox("members_can_invite", "members_can_invite", "Members can invite people"))
            (checkbox("members_can_create_projects", "members_can_create_projects", "Members can create projects"))
            (checkbox("members_can_use_personal_api_keys", "members_can_use_personal_api_keys", "Members can use personal API keys"))
            button type="submit" { "Save" }
        }
        section aria-labelledby="leave-title" {
            h2 #leave-title { "Leave" }
            p.hint { "An owner must hand ownership to someone else before leaving." }
            (form_alert())
            button #leave-organization.danger type="button" { "Leave organization" }
        }
        dialog #leave-dialog aria-labelledby="leave-dialog-title" {
            form method="dialog" {
                h2 #leave-dialog-title { "Leave this organization?" }
                p { "You lose access to its projects until someone invites you again." }
                (form_alert())
                div.actions {
                    button #leave-confirm.danger type="button" { "Leave" }
                    button.secondary value="cancel" autofocus { "Cancel" }
                }
            }
        }
    };
    html(shell("Organization", "organization", true, main))
}

/// A page that lists what an API list route gives, in a table the script fills.
fn list_page(title: &str, page: &str, table: &str, columns: &[&str]) -> Response {
    let main = html! {
        h1 { (title) }
        (status(&format!("{table}-status")))
        (form_alert())
        (script_table(table, title, title, &columns.iter().map(|c| col(c)).collect::<Vec<_>>()))
    };
    html(shell(title, page, true, main))
}

/// A column header; [`wide_col`]'s is hidden on narrow screens.
fn col(name: &str) -> Markup {
    html! { th scope="col" { (name) } }
}

fn wide_col(name: &str) -> Markup {
    html! { th.hide-narrow scope="col" { (name) } }
}

/// An empty table the page's script fills from the API, scrollable on its
/// own (keyboard included) so a narrow screen never scrolls sideways.
fn script_table(id: &str, label: &str, caption: &str, columns: &[Markup]) -> Markup {
    html! {
        div.scroll tabindex="0" role="region" aria-label=(label) {
            table id=(id) {
                caption.sr-only { (caption) }
                thead { tr { @for c in columns { (c) } } }
                tbody {}
            }
        }
    }
}

/// A group of choices the page's script lists from the API (into
/// `list_id`), with its hint and the error of the field `attr` names.
fn script_choices(id: &str, legend: &str, hint: &str, list_id: &str, attr: &str) -> Markup {
    html! {
        fieldset id=(id) {
            legend { (legend) }
            p.hint { (hint) }
            div id=(list_id) {}
            (field_error(attr))
        }
    }
}

/// Where a secret made just now (a key's value, a sign-up link) is shown,
/// once, with its copy button; hidden until the script fills it.
fn shown_once(id: &str, why: &str, value_id: &str, copy_id: &str, copy_label: &str) -> Markup {
    html! {
        div id=(id) hidden {
            p { (why) }
            p { code id=(value_id) {} }
            button id=(copy_id) type="button" { (copy_label) }
            span.copied role="status" aria-live="polite" {}
        }
    }
}

pub async fn legal_documents(_: App, _: PageRequest) -> Response {
    list_page(
        "Legal documents",
        "legal-documents",
        "legal-documents",
        &[
            "Type",
            "Company",
            "Representative",
            "Status",
            "Created",
            "Signed document",
        ],
    )
}

pub async fn oauth_applications(_: App, _: PageRequest) -> Response {
    list_page(
        "OAuth applications",
        "oauth-applications",
        "oauth-applications",
        &["Name", "Client ID", "Redirect URIs", "Created"],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_matrix_is_the_rules() {
        let m = members_matrix();
        // An admin may make a member an admin but not an owner, and remove them.
        assert_eq!(m["8:1:0"], json!({"update": [1, 8], "remove": true}));
        // A member may change no one; nobody changes their own level.
        assert_eq!(m["1:8:0"], json!({"update": [], "remove": false}));
        assert_eq!(m["15:15:1"], json!({"update": [], "remove": false}));
    }

    #[test]
    fn every_setting_has_a_labelled_control() {
        let fields = settings_fields();
        for s in SETTINGS {
            assert!(
                fields.contains(&format!("for=\"setting-{}\"", s.name)),
                "{}",
                s.name
            );
            assert!(
                fields.contains(&format!("id=\"setting-{}\"", s.name)),
                "{}",
                s.name
            );
        }
        assert!(fields.contains(">Timezone</label>"));
    }
}
