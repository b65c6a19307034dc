//! Django's `URLValidator` (django/core/validators.py, Django 4.2+, on
//! Python 3.11's `urlsplit`), which DRF's `URLField` runs: the one URL
//! check. Rules that some fields add on top (the signing webhook's http(s),
//! OAuth redirect URIs' loopback-only http) stay with those fields and call
//! this first.

use std::net::Ipv6Addr;

use super::{py_casefold_extra, py_is_space};

/// `URLField`'s schemes.
pub const URL_FIELD_SCHEMES: &[&str] = &["http", "https", "ftp", "ftps"];

pub const INVALID: &str = "Enter a valid URL.";

/// `URLValidator.max_length`.
const MAX_CHARS: usize = 2048;
/// RFC 1034's limit on a whole host name, which Django applies to `hostname`.
const MAX_HOSTNAME_CHARS: usize = 253;
/// Django bounds IPv6 text before parsing it (its 2025 security release).
const MAX_IPV6_CHARS: usize = 39;

/// A URL `URLValidator` accepted: the lower-cased scheme and
/// `urlsplit(url).hostname` (lower-cased, brackets removed).
#[derive(Debug, PartialEq)]
pub struct ValidUrl {
    pub scheme: String,
    pub hostname: String,
}

/// Does Django's `URLValidator(schemes)` accept `value`? In its order: at
/// most 2,048 characters, no tab or line break, a listed scheme, a URL
/// `urlsplit` can split, the validator's pattern (tried again with the
/// host IDNA-encoded), a bracketed host that is an IPv6 address, and a
/// host name of at most 253 characters.
pub fn valid_url(value: &str, schemes: &[&str]) -> Option<ValidUrl> {
    check(value, schemes, false)
}

/// django-oauth-toolkit's `URIValidator` (which its redirect-URI validators
/// extend): `URLValidator` that also takes a host name without dots, such
/// as `https://intranet/cb`.
pub fn valid_uri(value: &str, schemes: &[&str]) -> Option<ValidUrl> {
    check(value, schemes, true)
}

fn check(value: &str, schemes: &[&str], dotless: bool) -> Option<ValidUrl> {
    if value.chars().count() > MAX_CHARS || value.contains(['\t', '\r', '\n']) {
        return None;
    }
    let scheme = value.split("://").next().unwrap_or_default().to_lowercase();
    if !schemes.contains(&scheme.as_str()) {
        return None;
    }
    // The scheme is one of the listed (letters only), so what follows its
    // `://` is where `urlsplit` finds the network location.
    let rest = &value[scheme.len() + 3..];
    let netloc_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (netloc, after) = rest.split_at(netloc_end);
    if !urlsplit_accepts(netloc) {
        return None;
    }
    if matches_pattern(rest, dotless) {
        // Checked only when the pattern matched as given, as Django does.
        if let Some(inner) = bracketed_host_and_port(netloc) {
            if inner.chars().count() > MAX_IPV6_CHARS {
                return None;
            }
        }
    } else {
        let ascii = idna_encode(netloc)?;
        if !matches_pattern(&format!("{ascii}{after}"), dotless) {
            return None;
        }
    }
    let hostname = hostname(netloc)?;
    if hostname.chars().count() > MAX_HOSTNAME_CHARS {
        return None;
    }
    Some(ValidUrl { scheme, hostname })
}

/// `urlsplit` raises `ValueError` (which Django reports as an invalid URL)
/// on an unbalanced bracket, and on a bracketed host that is not an IPv6
/// address (or `v...` IPvFuture).
fn urlsplit_accepts(netloc: &str) -> bool {
    match (netloc.contains('['), netloc.contains(']')) {
        (false, false) => true,
        (true, true) => {
            let host = netloc
                .split_once('[')
                .map_or("", |(_, h)| h.split(']').next().unwrap_or_default());
            host.starts_with('v') || host.parse::<Ipv6Addr>().is_ok()
        }
        _ => false,
    }
}

/// `^\[(.+)\](?::[0-9]{1,5})?$` on the network location.
fn bracketed_host_and_port(netloc: &str) -> Option<&str> {
    let (inner, after) = netloc.strip_prefix('[')?.rsplit_once(']')?;
    let port_ok = after.is_empty() || after.strip_prefix(':').is_some_and(port_digits);
    (!inner.is_empty() && port_ok).then_some(inner)
}

/// `urlsplit(url).hostname`: after the last `@`, without the port or the
/// brackets, lower-cased; `None` when empty.
fn hostname(netloc: &str) -> Option<String> {
    let host = netloc.rsplit('@').next().unwrap_or_default();
    let host = match host.split_once('[') {
        Some((_, h)) => h.split(']').next().unwrap_or_default(),
        None => host.split(':').next().unwrap_or_default(),
    };
    (!host.is_empty()).then(|| host.to_lowercase())
}

fn port_digits(p: &str) -> bool {
    (1..=5).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit())
}

/// The validator's pattern after `scheme://`:
/// `(?:[^\s:@/]+(?::[^\s:@/]*)?@)?(?:ipv4|ipv6|host)(?::[0-9]{1,5})?(?:[/?#][^\s]*)?\Z`,
/// case-insensitive. Credentials cannot hold `@`, so with credentials the
/// first `@` ends them; without, the host starts the string.
fn matches_pattern(rest: &str, dotless: bool) -> bool {
    let with_credentials = rest
        .split_once('@')
        .is_some_and(|(userinfo, after)| credentials(userinfo) && host_port_path(after, dotless));
    with_credentials || host_port_path(rest, dotless)
}

fn credentials(userinfo: &str) -> bool {
    let part = |s: &str| {
        !s.chars()
            .any(|c| py_is_space(c) || c == ':' || c == '@' || c == '/')
    };
    match userinfo.split_once(':') {
        Some((user, password)) => !user.is_empty() && part(user) && part(password),
        None => !userinfo.is_empty() && part(userinfo),
    }
}

fn host_port_path(s: &str, dotless: bool) -> bool {
    let host_end = if s.starts_with('[') {
        match s.find(']') {
            Some(i) => i + 1,
            None => return false,
        }
    } else {
        s.find([':', '/', '?', '#']).unwrap_or(s.len())
    };
    let (host, mut after) = s.split_at(host_end);
    if !(host_ok(host) || dotless && dotless_host(host)) {
        return false;
    }
    if let Some(port) = after.strip_prefix(':') {
        let end = port.find(['/', '?', '#']).unwrap_or(port.len());
        if !port_digits(&port[..end]) {
            return false;
        }
        after = &port[end..];
    }
    after.is_empty() || (after.starts_with(['/', '?', '#']) && !after.chars().any(py_is_space))
}

fn host_ok(host: &str) -> bool {
    if let Some(inner) = host.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
        return !inner.is_empty()
            && inner
                .chars()
                .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.');
    }
    is_ipv4(host) || host.chars().map(py_lower).eq("localhost".chars()) || domain_name(host)
}

/// `(?!-)[A-Z\d-]{1,63}(?<!-)`, case-insensitive.
fn dotless_host(host: &str) -> bool {
    (1..=63).contains(&host.chars().count())
        && !host.starts_with('-')
        && !host.ends_with('-')
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || py_casefold_extra(c))
}

/// Python's case-insensitive matching: ASCII, plus the four non-ASCII
/// letters whose simple case mapping lands on an ASCII letter.
fn py_lower(c: char) -> char {
    match c {
        'ſ' => 's',
        'K' => 'k',
        'ı' | 'İ' => 'i',
        c => c.to_ascii_lowercase(),
    }
}

/// `hostname domain* tld \.?`: labels of letters (any from U+00A1 to
/// U+FFFF counts as one), digits and inner hyphens, at most 63 each; the
/// last is 2 to 63 letters or hyphens (no digits), or `xn--` punycode.
fn domain_name(host: &str) -> bool {
    let host = host.strip_suffix('.').unwrap_or(host);
    let letter = |c: char| c.is_ascii_alphabetic() || ('\u{a1}'..='\u{ffff}').contains(&c);
    let Some((labels, tld)) = host.rsplit_once('.') else {
        return false;
    };
    let punycode = tld
        .get(..4)
        .filter(|p| p.eq_ignore_ascii_case("xn--"))
        .map(|_| &tld[4..]);
    let tld_ok = punycode.is_some_and(|code| {
        (1..=59).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric())
    }) || ((2..=63).contains(&tld.chars().count())
        && !tld.starts_with('-')
        && !tld.ends_with('-')
        && tld.chars().all(|c| letter(c) || c == '-'));
    tld_ok
        && labels.split('.').all(|l| {
            (1..=63).contains(&l.chars().count())
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars()
                    .all(|c| letter(c) || c.is_ascii_digit() || c == '-')
        })
}

/// Four decimal octets, each `0` or 1 to 255 without a leading zero (the
/// validator's pattern, and Python's `IPv4Address` since 3.9.5).
pub(super) fn is_ipv4(s: &str) -> bool {
    let octets: Vec<&str> = s.split('.').collect();
    octets.len() == 4
        && octets.iter().all(|o| {
            !o.is_empty()
                && o.len() <= 3
                && o.bytes().all(|b| b.is_ascii_digit())
                && (*o == "0" || !o.starts_with('0'))
                && o.parse::<u16>().is_ok_and(|n| n <= 255)
        })
}

/// Django's `is_valid_ipv6_address`: at most 39 characters, then Python's
/// `IPv6Address`.
pub(super) fn is_ipv6(s: &str) -> bool {
    s.chars().count() <= MAX_IPV6_CHARS && s.parse::<Ipv6Addr>().is_ok()
}

/// Python's `str.encode("idna")` (IDNA 2003): labels split on the four
/// full stops IDNA knows, an ASCII label kept as it is (1 to 63
/// characters), any other encoded to its `xn--` form; a trailing dot kept.
/// `None` where Python raises `UnicodeError`. Encoding uses UTS #46 (the
/// `idna` crate), which agrees with IDNA 2003 on the labels a host name
/// can hold; they differ on a few mappings (`ß` becomes `xn--zca`, not `ss`)
/// that leave the result valid either way.
pub(super) fn idna_encode(domain: &str) -> Option<String> {
    if domain.is_ascii() {
        let labels: Vec<&str> = domain.split('.').collect();
        let (last, init) = labels.split_last()?;
        let ok = init.iter().all(|l| (1..=63).contains(&l.len())) && last.len() < 64;
        return ok.then(|| domain.to_string());
    }
    let mut labels: Vec<&str> = domain
        .split(['.', '\u{3002}', '\u{ff0e}', '\u{ff61}'])
        .collect();
    let trailing_dot = labels.last().is_some_and(|l| l.is_empty());
    if trailing_dot {
        labels.pop();
    }
    let mut out = Vec::with_capacity(labels.len());
    for label in labels {
        let ascii = if label.is_ascii() {
            label.to_string()
        } else {
            idna::domain_to_ascii(label).ok()?
        };
        if !(1..=63).contains(&ascii.len()) {
            return None;
        }
        out.push(ascii);
    }
    let mut joined = out.join(".");
    if trailing_dot {
        joined.push('.');
    }
    Some(joined)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row: a URL and whether `URLValidator()` (the `URLField`
    /// schemes) accepts it, as Django's regex and Python 3.11 decide.
    #[test]
    fn urls() {
        let rows: &[(&str, bool)] = &[
            ("https://app.pandadoc.com/s/signed.pdf", true),
            ("http://localhost:8000/x?y=1#z", true),
            ("HTTPS://Example.COM", true),
            ("https://user:pw@example.com:443/", true),
            ("https://user@example.com/", true),
            ("http://127.0.0.1/", true),
            ("http://0.0.0.0/", true),
            ("http://[::1]:80/", true),
            ("http://[2001:db8::1]/", true),
            ("https://bücher.example/", true),
            ("https://例え.テスト/パス", true),
            ("https://xn--bcher-kva.example/", true),
            ("https://example.com./", true),
            ("ftp://files.example.com/a.pdf", true),
            ("ftps://files.example.com", true),
            ("https://example.com:1/", true),
            ("https://a.b-c.d.example.museum", true),
            ("https://example.com?q", true),
            ("https://example.com#f", true),
            ("http://LOCALHOST", true),
            ("", false),
            ("ftp://bad", false),
            ("/relative/path", false),
            ("example.com/x", false),
            ("https://", false),
            ("https://exa mple.com", false),
            ("https://example", false),
            ("https://-bad.com", false),
            ("https://bad-.com", false),
            ("https://a_b.com/", false),
            ("https://example.c0m/", false),
            ("https://example.c/", false),
            ("https://example.com:99999999/", false),
            ("https://example.com:123456/", false),
            ("https://example.com:/", false),
            ("https://example.com:x/", false),
            ("javascript://example.com", false),
            ("mailto://example.com", false),
            ("https://[nope]/", false),
            ("https://[::1/", false),
            ("https://::1]/", false),
            ("https://[1.2.3.4]/", false),
            ("https://[::ffff:255.255.255.255]/", true),
            (
                "https://[0000:0000:0000:0000:0000:ffff:255.255.255.255]/",
                false,
            ),
            ("https://1.2.3.04/", false),
            ("https://256.1.1.1/", false),
            ("https://1.2.3/", false),
            ("https://example.com/a b", false),
            ("https://example.com/\tx", false),
            ("https://example.com/x\n", false),
            ("https://us er@example.com/", false),
            ("https://a:b:c@example.com/", false),
            ("https://@example.com/", false),
            ("https://example..com/", false),
            ("https://example.com../", false),
            ("https:example.com", false),
            ("https:/example.com", false),
            ("http://😀.com/", true), // beyond U+FFFF only through IDNA
        ];
        for (url, valid) in rows {
            let got = valid_url(url, URL_FIELD_SCHEMES);
            assert_eq!(got.is_some(), *valid, "{url:?}: {got:?}");
        }
        let long_label = "a".repeat(63);
        let long_host = [long_label.as_str(); 4].join(".");
        assert_eq!(long_host.len(), 255);
        assert!(valid_url(&format!("https://{long_host}/"), URL_FIELD_SCHEMES).is_none());
        let fits = format!("https://{}.com/", [long_label.as_str(); 3].join("."));
        assert!(valid_url(&fits, URL_FIELD_SCHEMES).is_some());
        let max = format!("https://a.io/{}", "x".repeat(2048 - 13));
        assert!(valid_url(&max, URL_FIELD_SCHEMES).is_some());
        assert!(valid_url(&format!("{max}x"), URL_FIELD_SCHEMES).is_none());
    }

    #[test]
    fn parts() {
        let u = valid_url("HTTPS://u:p@[::1]:8080/cb", &["https"]).unwrap();
        assert_eq!(
            u,
            ValidUrl {
                scheme: "https".into(),
                hostname: "::1".into()
            }
        );
        let u = valid_url("http://LocalHost:3000", &["http"]).unwrap();
        assert_eq!(u.hostname, "localhost");
        assert!(valid_url("ftp://example.com", &["http", "https"]).is_none());
    }

    #[test]
    fn dotless_hosts_only_for_uris() {
        for (uri, valid) in [
            ("https://intranet/cb", true),
            ("https://intranet:8443/cb", true),
            ("https://a-b/cb", true),
            ("https://-ab/cb", false),
            ("https://a_b/cb", false),
            ("https://example.com/cb", true),
        ] {
            assert_eq!(valid_uri(uri, &["https"]).is_some(), valid, "{uri}");
        }
        assert!(valid_url("https://intranet/cb", &["https"]).is_none());
    }

    #[test]
    fn idna() {
        assert_eq!(
            idna_encode("bücher.de").as_deref(),
            Some("xn--bcher-kva.de")
        );
        assert_eq!(
            idna_encode("BÜCHER.de").as_deref(),
            Some("xn--bcher-kva.de")
        );
        assert_eq!(
            idna_encode("bücher。de.").as_deref(),
            Some("xn--bcher-kva.de.")
        );
        assert_eq!(idna_encode("Ex.COM").as_deref(), Some("Ex.COM"));
        assert_eq!(idna_encode("a..b"), None);
        assert_eq!(idna_encode("ü..b"), None);
        assert_eq!(idna_encode(&"a".repeat(64)), None);
    }
}
