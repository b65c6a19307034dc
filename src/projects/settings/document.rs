//! A stored settings document read as raw JSON, entry by entry: a change
//! parses only the values it reads and writes the document back with only
//! its own values serialised.
//!
//! Parsing the whole ~5 KB document into a map and serialising it again was
//! a sixth of a PATCH's instructions (callgrind), for the one or two
//! settings a PATCH usually sends.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The document's entries in their stored order, each value as its JSON text.
pub struct Document<'a> {
    entries: Vec<(Key<'a>, &'a RawValue)>,
}

/// A key as written: borrowed from the text unless it holds an escape.
enum Key<'a> {
    Borrowed(&'a str),
    Owned(String),
}

impl Key<'_> {
    fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(k) => k,
            Key::Owned(k) => k,
        }
    }
}

impl<'a> Document<'a> {
    /// The stored document; one that is not a JSON object reads as empty, as
    /// `Project::settings` reads it.
    pub fn parse(json: &'a str) -> Document<'a> {
        let mut de = serde_json::Deserializer::from_str(json);
        let entries = de
            .deserialize_map(EntriesVisitor)
            .and_then(|entries| de.end().map(|()| entries))
            .unwrap_or_default();
        Document { entries }
    }

    /// The values of `names` that the document holds (a repeated key: its
    /// last value, as a map parsed from the text keeps it).
    pub fn values<'n>(&self, names: impl IntoIterator<Item = &'n str>) -> Map<String, Value> {
        let mut out = Map::new();
        for name in names {
            let found = self.entries.iter().rev().find(|(k, _)| k.as_str() == name);
            if let Some((_, raw)) = found {
                // Each value was parsed once already, as part of the document.
                let value = serde_json::from_str(raw.get()).unwrap_or(Value::Null);
                out.insert(name.to_string(), value);
            }
        }
        out
    }

    /// Every value, as a map parsed from the text would hold them.
    pub fn all(&self) -> Map<String, Value> {
        self.values(self.entries.iter().map(|(k, _)| k.as_str()))
    }

    /// The document with `changed` written over it, as serialising the map
    /// of the stored values updated with `changed` writes it: each changed
    /// key in its stored place (once), new keys after the stored ones, every
    /// other entry as stored (a repeated key that does not change stays
    /// repeated; readers keep its last value, as before).
    pub fn with(&self, changed: &Map<String, Value>) -> String {
        let stored_len: usize = self.entries.iter().map(|(_, v)| v.get().len() + 32).sum();
        let mut out = Vec::with_capacity(stored_len + 256);
        out.push(b'{');
        let mut written: Vec<&str> = Vec::with_capacity(changed.len());
        let mut first = true;
        let mut entry = |out: &mut Vec<u8>, key: &Key<'_>, value: &[u8]| {
            if !first {
                out.push(b',');
            }
            first = false;
            match key {
                // Read without an escape, so written without one, as
                // serde_json writes it (it escapes only what JSON requires).
                Key::Borrowed(k) => {
                    out.push(b'"');
                    out.extend_from_slice(k.as_bytes());
                    out.push(b'"');
                }
                // A string serialises into memory without failing.
                Key::Owned(k) => {
                    let _ = serde_json::to_writer(&mut *out, k);
                }
            }
            out.push(b':');
            out.extend_from_slice(value);
        };
        for (key, raw) in &self.entries {
            // A change names a setting or two: a scan beats hashing each key.
            match changed.iter().find(|(k, _)| k.as_str() == key.as_str()) {
                None => entry(&mut out, key, raw.get().as_bytes()),
                Some((name, value)) => {
                    if !written.contains(&name.as_str()) {
                        written.push(name);
                        entry(&mut out, key, &json(value));
                    }
                }
            }
        }
        for (name, value) in changed {
            if !written.contains(&name.as_str()) {
                entry(&mut out, &Key::Owned(name.clone()), &json(value));
            }
        }
        out.push(b'}');
        String::from_utf8(out).unwrap_or_else(|_| "{}".into())
    }
}

fn json(value: &Value) -> Vec<u8> {
    serde_json::to_vec(value).unwrap_or_else(|_| b"null".to_vec())
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Vec<(Key<'de>, &'de RawValue)>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a settings object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut entries = Vec::with_capacity(super::SETTINGS.len());
        while let Some(key) = map.next_key::<KeySeed<'de>>()? {
            entries.push((key.0, map.next_value()?));
        }
        Ok(entries)
    }
}

struct KeySeed<'a>(Key<'a>);

impl<'de> de::Deserialize<'de> for KeySeed<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = KeySeed<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_borrowed_str<E: de::Error>(self, k: &'de str) -> Result<Self::Value, E> {
        Ok(KeySeed(Key::Borrowed(k)))
    }

    fn visit_str<E: de::Error>(self, k: &str) -> Result<Self::Value, E> {
        Ok(KeySeed(Key::Owned(k.to_string())))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Map, Value};

    use super::Document;

    fn map(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    /// What the map round trip writes: the reference `with` must match.
    fn through_a_map(stored: &str, changed: &Map<String, Value>) -> String {
        let mut doc = match serde_json::from_str(stored) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        for (k, v) in changed {
            doc.insert(k.clone(), v.clone());
        }
        serde_json::to_string(&doc).unwrap()
    }

    #[test]
    fn writing_changes_matches_the_map_round_trip() {
        let stored = serde_json::to_string(&json!({
            "timezone": "UTC",
            "survey_config": {"a": 1, "b": [1, 2.5, null]},
            "odd \"key\"\n": "x\u{1}y",
            "week_start_day": null,
            "unicode": "héllo ☃",
            "clé/☃": 1,
            "big": 18446744073709551615u64,
            "neg": -12,
            "float": 0.1
        }))
        .unwrap();
        let cases = [
            json!({}),
            json!({"timezone": "Europe/Berlin"}),
            json!({"survey_config": {"a": 2}, "new_one": [true]}),
            json!({"odd \"key\"\n": null, "week_start_day": 1}),
            json!({"fresh": {"x": "y"}, "timezone": "UTC"}),
            json!({"clé/☃": 2, "unicode": "☃"}),
        ];
        for changed in cases {
            let changed = map(changed);
            let doc = Document::parse(&stored);
            assert_eq!(doc.with(&changed), through_a_map(&stored, &changed));
        }
    }

    #[test]
    fn values_are_read_as_the_map_reads_them() {
        let stored = r#"{"a":1,"b":{"c":[1,"2"]},"a":3,"e\u0301":true}"#;
        let doc = Document::parse(stored);
        let parsed = match serde_json::from_str(stored).unwrap() {
            Value::Object(m) => m,
            _ => unreachable!(),
        };
        assert_eq!(doc.all(), parsed);
        assert_eq!(
            doc.values(["b", "missing"]),
            map(json!({"b": {"c": [1, "2"]}}))
        );
        assert_eq!(doc.values(["a"]), map(json!({"a": 3})));
        // A repeated key that changes is written once, in its first place.
        let changed = map(json!({"a": 4}));
        assert_eq!(doc.with(&changed), through_a_map(stored, &changed));
    }

    #[test]
    fn a_document_that_is_not_an_object_reads_as_empty() {
        for stored in ["", "null", "[1]", "{\"a\": ", "\"x\"", "{} {}"] {
            let doc = Document::parse(stored);
            assert!(doc.all().is_empty(), "{stored}");
            let changed = map(json!({"timezone": "UTC"}));
            assert_eq!(doc.with(&changed), r#"{"timezone":"UTC"}"#, "{stored}");
        }
    }
}
