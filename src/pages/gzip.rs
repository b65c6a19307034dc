//! Gzip for the pages and their assets when the browser accepts it, so a
//! first load (the page, its style sheet and its script) stays far within
//! its 100 KB budget. The API's answers are never compressed here.

use std::io::Write;

use axum::body::{to_bytes, Body};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::Response;
use flate2::write::GzEncoder;
use flate2::Compression;

/// Bodies smaller than this go as they are.
const MIN_BYTES: usize = 1024;

/// Does the request accept gzip (`Accept-Encoding` names it, or `*`, with
/// no `q=0`)?
pub fn accepted(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|item| {
            let mut parts = item.split(';');
            let coding = parts.next().unwrap_or_default().trim();
            let refused = parts.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=")
                    .and_then(|q| q.trim().parse::<f32>().ok())
                    .is_some_and(|q| q <= 0.0)
            });
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && !refused
        })
}

/// `body` gzipped.
pub fn compress(body: &[u8]) -> Vec<u8> {
    let mut out = GzEncoder::new(Vec::with_capacity(body.len() / 3), Compression::default());
    out.write_all(body).expect("writing to memory");
    out.finish().expect("writing to memory")
}

/// A page's answer, gzipped when `gzip` and worth it; says it varies by
/// `Accept-Encoding` either way.
pub async fn encode(answer: Response, gzip: bool) -> Response {
    let (mut parts, body) = answer.into_parts();
    parts
        .headers
        .insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if !gzip || parts.headers.contains_key(header::CONTENT_ENCODING) {
        return Response::from_parts(parts, body);
    }
    // Pages are rendered in memory: reading them back cannot fail.
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return Response::from_parts(parts, Body::empty());
    };
    if bytes.len() < MIN_BYTES {
        return Response::from_parts(parts, Body::from(bytes));
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    Response::from_parts(parts, Body::from(compress(&bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accepts(value: &str) -> bool {
        let mut h = HeaderMap::new();
        h.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_str(value).unwrap(),
        );
        accepted(&h)
    }

    #[test]
    fn reads_accept_encoding() {
        assert!(accepts("gzip, deflate, br, zstd"));
        assert!(accepts("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts("*"));
        assert!(!accepts("gzip;q=0"));
        assert!(!accepts("br, identity"));
        assert!(!accepted(&HeaderMap::new()));
    }
}
