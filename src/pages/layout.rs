//! What every page shares: the document shell, the navigation, and the
//! labelled form controls with their error slots (`data-error-for`, where
//! the script puts an API error naming that field).

use maud::{html, Markup, DOCTYPE};

/// The navigation's links, each with the page key it marks as current.
pub const NAV: &[(&str, &str, &str)] = &[
    ("/projects", "Projects", "projects"),
    ("/members", "Members", "members"),
    ("/invites", "Invites", "invites"),
    ("/keys", "API keys", "keys"),
    ("/organization", "Organization", "organization"),
    ("/legal-documents", "Legal documents", "legal-documents"),
    (
        "/oauth-applications",
        "OAuth applications",
        "oauth-applications",
    ),
];

/// A whole page: `page` is the key the script dispatches on (`body[data-page]`);
/// `signed_in` pages carry the navigation.
pub fn shell(title: &str, page: &str, signed_in: bool, main: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · prickle" }
                link rel="icon" href="data:,";
                link rel="stylesheet" href=(super::css_url());
                script src=(super::js_url()) defer {}
            }
            body data-page=(page) {
                a.skip href="#main" { "Skip to content" }
                @if signed_in {
                    header { (nav(page)) }
                }
                main #main tabindex="-1" {
                    (main)
                }
            }
        }
    }
}

fn nav(page: &str) -> Markup {
    html! {
        nav aria-label="Main" {
            a.brand href="/" { "prickle" }
            ul {
                @for (href, label, key) in NAV {
                    li {
                        a href=(href) aria-current=[(*key == page).then_some("page")] { (label) }
                    }
                }
            }
            div.switcher {
                label for="org-switcher" { "Organization" }
                select #org-switcher name="organization" {
                    option value="" { "Loading…" }
                }
            }
            button #logout type="button" { "Log out" }
        }
    }
}

/// The alert for errors that name no field (`attr` null), first in its form.
pub fn form_alert() -> Markup {
    html! {
        p.error role="alert" data-error-for="" {}
    }
}

/// The alert for one field's errors.
pub fn field_error(attr: &str) -> Markup {
    html! {
        p.error role="alert" data-error-for=(attr) {}
    }
}

/// A labelled control with its hint and error slot.
pub fn field(id: &str, label: &str, attr: &str, hint: Option<&str>, control: Markup) -> Markup {
    html! {
        div.field {
            label for=(id) { (label) }
            @if let Some(hint) = hint {
                p.hint id={ (id) "-hint" } { (hint) }
            }
            (control)
            (field_error(attr))
        }
    }
}

/// A labelled checkbox (label after the box) with its error slot.
pub fn checkbox(id: &str, name: &str, label: &str) -> Markup {
    html! {
        div.field.check {
            input type="checkbox" id=(id) name=(name);
            label for=(id) { (label) }
            (field_error(name))
        }
    }
}

/// A paragraph the script fills while loading, announced politely.
pub fn status(id: &str) -> Markup {
    html! {
        p.status id=(id) role="status" aria-live="polite" {}
    }
}
