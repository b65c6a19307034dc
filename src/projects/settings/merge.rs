//! How a `PATCH` combines a sent setting with the stored one (`Merge`), and the side effects
//! PostHog's `update()` has on the rest of the document.

use base64::Engine as _;
use rand::RngCore as _;
use serde_json::{Map, Value};

use super::{rules, Change};

/// `{**(old or {}), **new}`: a null old value merges like an empty one.
pub(super) fn keys(old: Option<&Value>, new: Value) -> Value {
    match (old, new) {
        (Some(Value::Object(old)), Value::Object(new)) => {
            let mut out = old.clone();
            out.extend(new);
            Value::Object(out)
        }
        (_, new) => new,
    }
}

/// Top-level keys are kept, object values are merged key by key, anything deeper is replaced.
pub(super) fn keys_two_levels(old: Option<&Value>, new: Value) -> Value {
    match (old, new) {
        (Some(Value::Object(old)), Value::Object(new)) => {
            let mut out = old.clone();
            for (key, value) in new {
                let value = keys(old.get(&key), value);
                out.insert(key, value);
            }
            Value::Object(out)
        }
        (_, new) => new,
    }
}

pub(super) fn truthy_object(v: Option<&Value>) -> Option<&Map<String, Value>> {
    match v {
        Some(Value::Object(m)) if !m.is_empty() => Some(m),
        _ => None,
    }
}

/// `conversations_enabled`: enabling mints `conversations_settings.widget_public_token`
/// (43 url-safe chars, as Python's `secrets.token_urlsafe(32)`) unless the stored settings
/// already carry one; disabling nulls it and keeps the other keys.
pub(super) fn conversations_token(change: &Change<'_>, doc: &mut Map<String, Value>) {
    let now_on = change.value == &Value::Bool(true);
    let was_on = change
        .stored
        .get("conversations_enabled")
        .is_some_and(rules::py_truthy);
    let stored = truthy_object(change.stored.get("conversations_settings"));
    let base = |doc: &Map<String, Value>| {
        let sent = if change.body.contains_key("conversations_settings") {
            truthy_object(doc.get("conversations_settings"))
        } else {
            None
        };
        sent.or(stored).cloned().unwrap_or_default()
    };
    let token = if now_on && !was_on {
        if stored
            .and_then(|s| s.get("widget_public_token"))
            .is_some_and(rules::py_truthy)
        {
            return;
        }
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        Value::String(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
    } else if !now_on && was_on {
        Value::Null
    } else {
        return;
    };
    let mut settings = base(doc);
    settings.insert("widget_public_token".into(), token);
    doc.insert("conversations_settings".into(), Value::Object(settings));
}
