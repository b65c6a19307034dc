//! DRF's limit/offset pagination, with absolute `next`/`previous` links built
//! the way DRF builds them (query re-encoded, sorted by key).

use serde_json::json;

pub const DEFAULT_LIMIT: i64 = 100;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

/// Bad or non-positive values fall back to the defaults, as in DRF.
pub fn page(query: &[(String, String)]) -> Page {
    let get = |k: &str| {
        query
            .iter()
            .rev()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    let limit = get("limit")
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| *v > 0)
        .unwrap_or(DEFAULT_LIMIT);
    let offset = get("offset")
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| *v >= 0)
        .unwrap_or(0);
    Page { limit, offset }
}

/// DRF's `next` and `previous` links. `base` is the absolute URL of the path.
fn links(
    base: &str,
    query: &[(String, String)],
    page: Page,
    count: i64,
) -> (Option<String>, Option<String>) {
    let next = (page.offset.saturating_add(page.limit) < count).then(|| {
        link(
            base,
            query,
            &[
                ("limit", Some(page.limit)),
                ("offset", Some(page.offset + page.limit)),
            ],
        )
    });
    let previous = (page.offset > 0).then(|| {
        let back = page.offset - page.limit;
        let offset = if back <= 0 { None } else { Some(back) };
        link(
            base,
            query,
            &[("limit", Some(page.limit)), ("offset", offset)],
        )
    });
    (next, previous)
}

/// The paginated envelope around results already rendered as a JSON array.
pub fn envelope_json(
    base: &str,
    query: &[(String, String)],
    page: Page,
    count: i64,
    results: &str,
) -> String {
    let (next, previous) = links(base, query, page, count);
    let head = json!({ "count": count, "next": next, "previous": previous }).to_string();
    // `{"count":..,"next":..,"previous":..}` + `,"results":[...]}`
    let mut out = String::with_capacity(head.len() + results.len() + 16);
    out.push_str(&head[..head.len() - 1]);
    out.push_str(",\"results\":");
    out.push_str(results);
    out.push('}');
    out
}

/// The request's query with `set` applied (None removes), sorted by key.
/// The page envelope around typed results, each written as its type says.
pub fn envelope_of<T: serde::Serialize>(
    base: &str,
    query: &[(String, String)],
    page: Page,
    count: i64,
    results: &[T],
) -> crate::error::ApiResult<String> {
    let results = super::to_json(results)?;
    Ok(envelope_json(base, query, page, count, &results))
}

pub fn link(base: &str, query: &[(String, String)], set: &[(&str, Option<i64>)]) -> String {
    let mut pairs: Vec<(String, String)> = query
        .iter()
        .filter(|(k, _)| !set.iter().any(|(s, _)| s == k))
        .cloned()
        .collect();
    for (k, v) in set {
        if let Some(v) = v {
            pairs.push((k.to_string(), v.to_string()));
        }
    }
    // Stable: repeated keys keep their order.
    pairs.sort_by(|a, b| a.0.cmp(&b.0));
    if pairs.is_empty() {
        return base.to_string();
    }
    let mut qs = form_urlencoded::Serializer::new(String::new());
    for (k, v) in &pairs {
        qs.append_pair(k, v);
    }
    format!("{base}?{}", qs.finish())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn q(s: &str) -> Vec<(String, String)> {
        form_urlencoded::parse(s.as_bytes()).into_owned().collect()
    }

    const BASE: &str = "http://testserver/api/organizations/@current/members/";

    #[test]
    fn defaults_and_bad_values() {
        assert_eq!(
            page(&q("")),
            Page {
                limit: 100,
                offset: 0
            }
        );
        assert_eq!(
            page(&q("limit=0&offset=-3")),
            Page {
                limit: 100,
                offset: 0
            }
        );
        assert_eq!(
            page(&q("limit=abc&offset=x")),
            Page {
                limit: 100,
                offset: 0
            }
        );
        assert_eq!(
            page(&q("limit=5&offset=10")),
            Page {
                limit: 5,
                offset: 10
            }
        );
    }

    /// The envelope as a value, around empty results.
    fn envelope(
        base: &str,
        query: &[(String, String)],
        page: Page,
        count: i64,
        _: Vec<Value>,
    ) -> Value {
        serde_json::from_str(&envelope_json(base, query, page, count, "[]")).unwrap()
    }

    #[test]
    fn links_like_drf() {
        let e = envelope(BASE, &q("limit=1"), page(&q("limit=1")), 2, vec![]);
        assert_eq!(e["next"], format!("{BASE}?limit=1&offset=1"));
        assert_eq!(e["previous"], Value::Null);
        let e = envelope(
            BASE,
            &q("limit=1&offset=1"),
            page(&q("limit=1&offset=1")),
            2,
            vec![],
        );
        assert_eq!(e["next"], Value::Null);
        assert_eq!(e["previous"], format!("{BASE}?limit=1"));
        let e = envelope(
            BASE,
            &q("order=x&offset=4&limit=2&search=a b"),
            page(&q("offset=4&limit=2")),
            10,
            vec![],
        );
        assert_eq!(
            e["next"],
            format!("{BASE}?limit=2&offset=6&order=x&search=a+b")
        );
        assert_eq!(
            e["previous"],
            format!("{BASE}?limit=2&offset=2&order=x&search=a+b")
        );
        // No limit asked for: next still carries the default.
        let e = envelope(BASE, &q(""), page(&q("")), 150, vec![]);
        assert_eq!(e["next"], format!("{BASE}?limit=100&offset=100"));
        assert_eq!(e["count"], 150);
        let raw = envelope_json(BASE, &q(""), page(&q("")), 150, "[1,2]");
        let parsed: Value = serde_json::from_str(&raw).unwrap();
        assert_eq!(parsed["results"], json!([1, 2]));
        assert_eq!(parsed["next"], e["next"]);
        let keys: Vec<&String> = parsed.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["count", "next", "previous", "results"]);
    }
}
