//! The one body parser, with DRF's rules (PostHog keeps DRF's default
//! parsers): the Content-Type picks JSON, a urlencoded form or a multipart
//! form by DRF's media-type match (so `application/*` and `*/*` read as
//! JSON); any other type, and a body without a Content-Type, is 415. An
//! empty body is no body: `{}` whatever its type.

use serde_json::Value;

use super::{Data, Form};
use crate::error::{ApiError, ApiResult};

/// The media types a body may come in, in DRF's parser order.
pub const BODY_TYPES: [&str; 3] = [
    "application/json",
    "application/x-www-form-urlencoded",
    "multipart/form-data",
];

/// Parses `body` as its Content-Type (`content_type`, as sent) says.
pub fn parse(content_type: Option<&str>, body: &[u8]) -> ApiResult<Data> {
    if body.is_empty() {
        return Ok(Data::default());
    }
    let raw = content_type.unwrap_or("");
    let sent = MediaType::parse(raw);
    let parser = BODY_TYPES
        .iter()
        .position(|t| MediaType::parse(t).satisfied_by(&sent));
    match parser {
        Some(0) => serde_json::from_slice::<Value>(body)
            .map(Data::Json)
            .map_err(|e| ApiError::parse_error(format!("JSON parse error - {e}"))),
        Some(1) => Ok(Data::Form(Form::urlencoded(body))),
        Some(_) => multipart(raw, body)
            .map(|pairs| Data::Form(Form::new(pairs)))
            .map_err(|why| ApiError::parse_error(format!("Multipart form parse error - {why}"))),
        // DRF names the type as the header gave it.
        None => Err(ApiError::unsupported_media_type(raw)),
    }
}

/// A media type as DRF's `_MediaType` reads one (Django's
/// `parse_header_parameters`: the type lower-cased, parameters after `;`).
#[derive(Debug, PartialEq)]
struct MediaType {
    main: String,
    sub: String,
    params: Vec<(String, String)>,
}

impl MediaType {
    fn parse(raw: &str) -> MediaType {
        let (full, params) = header_parameters(raw);
        let (main, sub) = full.split_once('/').unwrap_or((full.as_str(), ""));
        MediaType {
            main: main.to_string(),
            sub: sub.to_string(),
            params,
        }
    }

    /// `_MediaType.match`: does `sent` satisfy this (a parser's) type? `*`
    /// on either side matches anything.
    fn satisfied_by(&self, sent: &MediaType) -> bool {
        let param = |params: &[(String, String)], key: &str| {
            params
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.clone())
        };
        let params_match = self
            .params
            .iter()
            .all(|(k, v)| k == "q" || param(&sent.params, k).as_ref() == Some(v));
        let part = |mine: &str, theirs: &str| mine == "*" || theirs == "*" || mine == theirs;
        params_match && part(&self.sub, &sent.sub) && part(&self.main, &sent.main)
    }
}

/// Django's `parse_header_parameters`: the value before the first `;`
/// (trimmed, lower-cased) and the `name=value` parameters after it (names
/// lower-cased, quotes removed).
fn header_parameters(line: &str) -> (String, Vec<(String, String)>) {
    let mut parts = split_params(line).into_iter();
    let key = parts.next().unwrap_or_default().to_lowercase();
    let mut params = Vec::new();
    for p in parts {
        let Some((name, value)) = p.split_once('=') else {
            continue;
        };
        let mut name = name.trim().to_lowercase();
        if name.ends_with('*') {
            name.pop();
        }
        let mut value = value.trim().to_string();
        if value.len() >= 2 && value.starts_with('"') && value.ends_with('"') {
            value = value[1..value.len() - 1]
                .replace("\\\\", "\\")
                .replace("\\\"", "\"");
        }
        // A later parameter of the same name wins (a dict in Django).
        params.retain(|(n, _): &(String, String)| *n != name);
        params.push((name, value));
    }
    (key, params)
}

/// `_parseparam`: splits at `;` outside quoted strings, each part trimmed.
fn split_params(line: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in line.chars() {
        match c {
            ';' if !quoted => parts.push(std::mem::take(&mut current)),
            '"' if !escaped => {
                quoted = !quoted;
                current.push(c);
            }
            _ => current.push(c),
        }
        escaped = c == '\\' && !escaped;
    }
    parts.push(current);
    parts.into_iter().map(|p| p.trim().to_string()).collect()
}

/// The most bytes a part's headers may take (Django's `max_header_size`).
const MAX_PART_HEADER_BYTES: usize = 1024;

/// Django's `MultiPartParser`, for the fields of a multipart form: each
/// part between boundaries with a `content-disposition` naming it is a
/// field; its value is the part's body (base64-decoded when the part says
/// so), as UTF-8 with invalid bytes replaced. Parts with a file name are
/// uploads, which no route takes: they are left out. Django is lenient with
/// everything else: a part it cannot read is skipped.
fn multipart(content_type: &str, body: &[u8]) -> Result<Vec<(String, String)>, String> {
    if !content_type.starts_with("multipart/") {
        return Err(format!("Invalid Content-Type: {content_type}"));
    }
    let (_, params) = header_parameters(content_type);
    let boundary = params
        .iter()
        .find(|(k, _)| k == "boundary")
        .map(|(_, v)| v.as_str());
    let boundary = match boundary {
        Some(b) if valid_boundary(b) => b,
        Some(b) => return Err(format!("Invalid boundary in multipart: {b}")),
        None => return Err("Invalid boundary in multipart: None".into()),
    };
    let separator = format!("--{boundary}").into_bytes();
    let mut fields = Vec::new();
    let mut rest = body;
    loop {
        let (part, next) = match find(rest, &separator) {
            Some(i) => (
                before_line_break(&rest[..i]),
                Some(&rest[i + separator.len()..]),
            ),
            None => (rest, None),
        };
        if let Some(field) = part_field(part) {
            fields.push(field);
        }
        match next {
            Some(next) => rest = next,
            None => break,
        }
    }
    Ok(fields)
}

/// Django's boundary check: `[ -~]{0,200}[!-~]` matched at the start.
fn valid_boundary(b: &str) -> bool {
    b.bytes()
        .take(201)
        .take_while(|c| (b' '..=b'~').contains(c))
        .any(|c| c != b' ')
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A part's bytes without the line break before the next boundary.
fn before_line_break(mut part: &[u8]) -> &[u8] {
    if let Some(p) = part.strip_suffix(b"\n") {
        part = p;
    }
    part.strip_suffix(b"\r").unwrap_or(part)
}

/// Lines split at CRLF (a bare LF is part of its line, as in Django).
fn crlf_lines(mut bytes: &[u8]) -> Vec<&[u8]> {
    let mut lines = Vec::new();
    while let Some(i) = find(bytes, b"\r\n") {
        lines.push(&bytes[..i]);
        bytes = &bytes[i + 2..];
    }
    lines.push(bytes);
    lines
}

/// The field one part holds: its headers end with a blank line within the
/// first 1,024 bytes; `content-disposition` gives its name.
fn part_field(part: &[u8]) -> Option<(String, String)> {
    let head = &part[..part.len().min(MAX_PART_HEADER_BYTES)];
    let end = find(head, b"\r\n\r\n")?;
    let mut name = None;
    let mut is_file = false;
    let mut base64 = false;
    for line in crlf_lines(&part[..end]) {
        let Ok(line) = std::str::from_utf8(line) else {
            continue;
        };
        let (key, params) = header_parameters(line);
        let Some((header, value)) = key.split_once(':') else {
            continue;
        };
        match header {
            "content-disposition" => {
                let param = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v);
                name = param("name").map(|n| n.trim().to_string());
                is_file = param("filename").is_some_and(|f| !f.is_empty());
            }
            "content-transfer-encoding" => base64 = value.trim() == "base64",
            _ => {}
        }
    }
    let name = name?;
    if is_file {
        return None;
    }
    let data = &part[end + 4..];
    let data = if base64 {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap_or_else(|_| data.to_vec())
    } else {
        data.to_vec()
    };
    Some((name, String::from_utf8_lossy(&data).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn media_types_as_drf_negotiates_them() {
        let body = br#"{"a": 1}"#;
        for ct in [
            "application/json",
            "Application/JSON; charset=utf-8",
            "application/*",
            "*/*",
            "*/json",
        ] {
            assert_eq!(
                parse(Some(ct), body).unwrap(),
                Data::Json(json!({"a": 1})),
                "{ct}"
            );
        }
        // JSON labelled as a form is a form: one field named by the whole text.
        let labelled = parse(Some("application/x-www-form-urlencoded"), body).unwrap();
        assert_eq!(labelled, Data::form(&[(r#"{"a": 1}"#, "")]));
        for ct in [
            None,
            Some(""),
            Some("text/plain"),
            Some("application/vnd.api+json"),
        ] {
            let e = parse(ct, body).unwrap_err();
            assert_eq!(
                (e.status.as_u16(), e.code.as_ref()),
                (415, "unsupported_media_type")
            );
            assert_eq!(
                e.detail,
                format!(
                    "Unsupported media type \"{}\" in request.",
                    ct.unwrap_or("")
                )
            );
        }
        // The header as sent, parameters and case kept.
        let e = parse(Some("Text/Plain; charset=UTF-8"), body).unwrap_err();
        assert_eq!(
            e.detail,
            "Unsupported media type \"Text/Plain; charset=UTF-8\" in request."
        );
    }

    #[test]
    fn an_empty_body_is_empty_data_whatever_its_type() {
        for ct in [None, Some("text/plain"), Some("application/json")] {
            assert_eq!(parse(ct, b"").unwrap(), Data::default());
        }
        // Whitespace is a body: JSON that fails to parse.
        let e = parse(Some("application/json"), b" \n").unwrap_err();
        assert_eq!((e.status.as_u16(), e.code.as_ref()), (400, "parse_error"));
        assert!(e.detail.starts_with("JSON parse error - "), "{}", e.detail);
    }

    #[test]
    fn urlencoded_forms_keep_every_value() {
        let d = parse(
            Some("application/x-www-form-urlencoded; charset=utf-8"),
            b"a=1&b=x+y&a=%C3%A9&flag&=empty",
        )
        .unwrap();
        assert_eq!(
            d,
            Data::form(&[
                ("a", "1"),
                ("b", "x y"),
                ("a", "é"),
                ("flag", ""),
                ("", "empty")
            ])
        );
        let Data::Form(f) = &d else { unreachable!() };
        assert_eq!(f.get("a"), Some("é"));
        assert_eq!(f.get_list("a"), ["1", "é"]);
        assert_eq!(
            d.object().unwrap(),
            json!({"a": "é", "b": "x y", "flag": "", "": "empty"})
                .as_object()
                .unwrap()
                .clone()
        );
    }

    #[test]
    fn multipart_forms_as_django_reads_them() {
        let body = b"preamble\r\n--xyz\r\nContent-Disposition: form-data; name=\"name\"\r\n\r\nMulti\r\nline\r\n\
--xyz\r\ncontent-disposition: form-data; name=\"tags\"\r\n\r\na\r\n\
--xyz\r\nContent-Disposition: form-data; name=\"tags\"\r\nContent-Transfer-Encoding: base64\r\n\r\nYg==\r\n\
--xyz\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"a.txt\"\r\nContent-Type: text/plain\r\n\r\nfile\r\n\
--xyz\r\nContent-Type: text/plain\r\n\r\nno name\r\n\
--xyz--\r\n";
        let d = parse(Some("multipart/form-data; boundary=\"xyz\""), body).unwrap();
        assert_eq!(
            d,
            Data::form(&[("name", "Multi\r\nline"), ("tags", "a"), ("tags", "b")])
        );
        let detail = |ct: &str| parse(Some(ct), body).unwrap_err().detail.to_string();
        assert_eq!(
            detail("multipart/form-data"),
            "Multipart form parse error - Invalid boundary in multipart: None"
        );
        assert_eq!(
            detail("multipart/form-data; boundary=\" \""),
            "Multipart form parse error - Invalid boundary in multipart:  "
        );
        // DRF matches the type case-blind; Django then wants it as written.
        assert_eq!(
            detail("Multipart/form-data; boundary=xyz"),
            "Multipart form parse error - Invalid Content-Type: Multipart/form-data; boundary=xyz"
        );
    }

    #[test]
    fn header_parameters_as_django_splits_them() {
        let (key, params) = header_parameters(r#" Form-Data ; NAME="a;b" ; filename*=x; q"#);
        assert_eq!(key, "form-data");
        assert_eq!(
            params,
            [
                ("name".to_string(), "a;b".to_string()),
                ("filename".to_string(), "x".to_string())
            ]
        );
        assert!(valid_boundary("----WebKitFormBoundary7MA4YWxkTrZu0gW"));
        assert!(valid_boundary(" x"));
        assert!(!valid_boundary(" "));
        assert!(!valid_boundary("é"));
        assert!(valid_boundary(&"x".repeat(300)));
    }
}
