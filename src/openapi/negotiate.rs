//! Which rendering of the document a request gets, negotiated as DRF does
//! for drf-spectacular's view: `?format=` wins; otherwise the `Accept` media
//! ranges are taken most specific first (DRF ignores `q`), and within one
//! level the renderers in their order: YAML, YAML (`application/yaml`),
//! JSON (`application/vnd.oai.openapi+json`), JSON (`application/json`).

use crate::error::{ApiError, ApiResult};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Yaml,
    YamlPlain,
    OpenApiJson,
    Json,
}

const RENDERERS: [(Format, &str, &str); 4] = [
    (Format::Yaml, "application/vnd.oai.openapi", "yaml"),
    (Format::YamlPlain, "application/yaml", "yaml"),
    (
        Format::OpenApiJson,
        "application/vnd.oai.openapi+json",
        "json",
    ),
    (Format::Json, "application/json", "json"),
];

impl Format {
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Yaml => "application/vnd.oai.openapi; charset=utf-8",
            Format::YamlPlain => "application/yaml; charset=utf-8",
            Format::OpenApiJson => "application/vnd.oai.openapi+json",
            Format::Json => "application/json",
        }
    }
}

struct Range<'a> {
    main: &'a str,
    sub: &'a str,
    precedence: u8,
}

fn ranges(accept: &str) -> Vec<Range<'_>> {
    accept
        .split(',')
        .filter_map(|item| {
            let mut parts = item.split(';');
            let (main, sub) = parts.next()?.trim().split_once('/')?;
            let has_params = parts.any(|p| {
                let key = p.split('=').next().unwrap_or("").trim();
                !key.is_empty() && key != "q"
            });
            let precedence = match (main, sub) {
                ("*", _) => 0,
                (_, "*") => 1,
                _ if has_params => 3,
                _ => 2,
            };
            Some(Range {
                main,
                sub,
                precedence,
            })
        })
        .collect()
}

fn matches(range: &Range, media_type: &str) -> bool {
    let (main, sub) = media_type.split_once('/').unwrap_or((media_type, ""));
    (range.main == "*" || range.main.eq_ignore_ascii_case(main))
        && (range.sub == "*" || range.sub.eq_ignore_ascii_case(sub))
}

/// The rendering for `?format=` and `Accept`: 404 for an unknown format
/// (DRF's answer), 406 when no renderer satisfies `Accept`.
pub fn choose(format: Option<&str>, accept: Option<&str>) -> ApiResult<Format> {
    if let Some(format) = format {
        return RENDERERS
            .iter()
            .find(|(_, _, f)| *f == format)
            .map(|(r, _, _)| *r)
            .ok_or_else(ApiError::not_found);
    }
    let accept = match accept.map(str::trim) {
        None | Some("") => "*/*",
        Some(a) => a,
    };
    let ranges = ranges(accept);
    for precedence in (0..=3).rev() {
        for (renderer, media_type, _) in RENDERERS {
            let wanted = ranges
                .iter()
                .any(|r| r.precedence == precedence && matches(r, media_type));
            if wanted {
                return Ok(renderer);
            }
        }
    }
    Err(ApiError::not_acceptable())
}

#[cfg(test)]
mod tests {
    use super::{choose, Format};

    #[test]
    fn negotiates_like_drf_spectacular() {
        let cases: [(Option<&str>, Option<&str>, Format); 9] = [
            (None, None, Format::Yaml),
            (None, Some("*/*"), Format::Yaml),
            (None, Some("application/vnd.oai.openapi"), Format::Yaml),
            (None, Some("application/yaml"), Format::YamlPlain),
            (
                None,
                Some("application/vnd.oai.openapi+json"),
                Format::OpenApiJson,
            ),
            (None, Some("application/json"), Format::Json),
            (
                None,
                Some("text/html, application/json;q=0.1"),
                Format::Json,
            ),
            (Some("json"), Some("application/yaml"), Format::OpenApiJson),
            (Some("yaml"), None, Format::Yaml),
        ];
        for (format, accept, want) in cases {
            assert_eq!(
                choose(format, accept).unwrap(),
                want,
                "{format:?} {accept:?}"
            );
        }
        assert_eq!(choose(Some("xml"), None).unwrap_err().status, 404);
        assert_eq!(choose(None, Some("text/html")).unwrap_err().status, 406);
    }
}
