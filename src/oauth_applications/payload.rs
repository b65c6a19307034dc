//! The fields an OAuth application is registered with (by the operator:
//! `prickle admin create-oauth-application`; no route takes a body): its
//! name, and PostHog's redirect-URI rules (https, plain http only on
//! loopback hosts, no fragments, never a script or data scheme; native apps
//! may use their reverse-DNS scheme).
//! An http(s) URI must first pass django-oauth-toolkit's `URIValidator`
//! (Django's `URLValidator`, dotless hosts allowed: `drf::url::valid_uri`).

use crate::drf;

/// Schemes that run or embed content instead of reaching a client.
const REFUSED_SCHEMES: &[&str] = &["javascript", "data", "file", "blob", "vbscript"];
/// As `urlsplit` spells the host: lower-cased, IPv6 without brackets.
const LOOPBACK_HOSTS: &[&str] = &["localhost", "127.0.0.1", "::1"];

pub fn validate_name(name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 255 {
        return Err("name must have 1 to 255 characters".into());
    }
    Ok(name.to_string())
}

/// The URIs as stored (space-separated), or why one is refused.
pub fn validate_redirect_uris(uris: &[String]) -> Result<String, String> {
    let uris: Vec<&str> = uris
        .iter()
        .map(|u| u.trim())
        .filter(|u| !u.is_empty())
        .collect();
    if uris.is_empty() {
        return Err("at least one redirect URI is required".into());
    }
    for uri in &uris {
        check_redirect_uri(uri).map_err(|why| format!("invalid redirect URI {uri:?}: {why}"))?;
    }
    Ok(uris.join(" "))
}

fn check_redirect_uri(uri: &str) -> Result<(), &'static str> {
    if uri.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("it contains whitespace");
    }
    if uri.contains('#') {
        return Err("fragments are not allowed");
    }
    let (scheme, rest) = uri.split_once(':').ok_or("it has no scheme")?;
    let scheme = scheme.to_ascii_lowercase();
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok || REFUSED_SCHEMES.contains(&scheme.as_str()) {
        return Err("this scheme is not allowed");
    }
    match scheme.as_str() {
        "https" | "http" => {
            let url =
                drf::url::valid_uri(uri, &["http", "https"]).ok_or("it is not a valid URL")?;
            if url.scheme == "http" && !LOOPBACK_HOSTS.contains(&url.hostname.as_str()) {
                return Err("plain http is only allowed on loopback hosts");
            }
            Ok(())
        }
        // A native app's private-use scheme (RFC 8252 §7.1) is reverse DNS.
        _ if scheme.contains('.') && !rest.is_empty() => Ok(()),
        _ => Err("use https, http on a loopback host, or a reverse-DNS app scheme"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uris(list: &[&str]) -> Result<String, String> {
        validate_redirect_uris(&list.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn redirect_uris() {
        assert_eq!(
            uris(&["https://a.com/cb", " https://b.com/cb "]).unwrap(),
            "https://a.com/cb https://b.com/cb"
        );
        for ok in [
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:8080/cb",
            "com.example.app:/oauth",
            "HTTPS://Example.com/cb?x=1",
            "http://LOCALHOST/cb",
            "https://bücher.example/cb",
            "https://intranet/cb",
        ] {
            assert!(uris(&[ok]).is_ok(), "{ok}");
        }
        for bad in [
            "http://example.com/cb",
            "https://a.com/cb#frag",
            "javascript:alert(1)",
            "data:text/html,x",
            "file:///etc/passwd",
            "https:///nohost",
            "https:example.com",
            "myapp:/cb",
            "not a uri",
            "/relative",
            "https://a_b.com/cb",
            "http://[::2]/cb",
        ] {
            assert!(uris(&[bad]).is_err(), "{bad}");
        }
        assert!(uris(&[]).is_err());
        assert!(uris(&[" "]).is_err());
    }

    #[test]
    fn names() {
        assert_eq!(validate_name("  My App ").unwrap(), "My App");
        assert!(validate_name(" ").is_err());
        assert!(validate_name(&"x".repeat(256)).is_err());
    }
}
