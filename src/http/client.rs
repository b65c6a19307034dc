//! Who is on the other end of a request: the peer's address, or the client a
//! trusted proxy names in `X-Forwarded-For`. Per-address limits and logs use
//! it; nothing else is believed, since any client can send the header.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;

/// The client's address, as the server worked it out for a request (put in
/// the request's extensions; absent in the in-process tests).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ClientAddr(pub IpAddr);

/// One address or a CIDR block (`10.0.0.0/8`, `fd00::/8`, `127.0.0.1`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Network {
    addr: IpAddr,
    prefix: u8,
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    let rest = prefix % 8;
    if a[..full] != b[..full] {
        return false;
    }
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    (a[full] & mask) == (b[full] & mask)
}

/// IPv4 addresses that reach a dual-stack socket as `::ffff:a.b.c.d` count
/// as the IPv4 address they are.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

impl FromStr for Network {
    type Err = String;

    fn from_str(s: &str) -> Result<Network, String> {
        let s = s.trim();
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr = canonical(
            addr.parse::<IpAddr>()
                .map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?,
        );
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{s:?}: the prefix length must be 0 to {max}"))?,
        };
        Ok(Network { addr, prefix })
    }
}

impl fmt::Display for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// The proxies whose `X-Forwarded-For` is believed (`PRICKLE_TRUSTED_PROXIES`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Network>);

impl TrustedProxies {
    pub fn none() -> TrustedProxies {
        TrustedProxies(Vec::new())
    }

    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The client of a request that came from `peer`: the peer itself unless
    /// it is a trusted proxy; then `X-Forwarded-For` read from the right
    /// (each proxy appends the address it saw), skipping trusted proxies, up
    /// to the first address no trusted proxy vouches for. An entry that is
    /// not an address ends the walk at the hop that sent it.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = canonical(peer);
        if !self.trusts(client) {
            return client;
        }
        // Several headers are one list, in order.
        let hops = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect::<Vec<_>>();
        for hop in hops.iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            client = canonical(ip);
            if !self.trusts(client) {
                break;
            }
        }
        client
    }
}

impl FromStr for TrustedProxies {
    type Err = String;

    /// Addresses or CIDR blocks separated by commas or spaces.
    fn from_str(s: &str) -> Result<TrustedProxies, String> {
        s.split(|c: char| c == ',' || c.is_whitespace())
            .filter(|p| !p.is_empty())
            .map(Network::from_str)
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn networks_parse_and_match() {
        let n: Network = "10.0.0.0/8".parse().unwrap();
        assert!(n.contains(ip("10.255.1.2")));
        assert!(!n.contains(ip("11.0.0.1")));
        assert!(n.contains(ip("::ffff:10.1.2.3")), "mapped IPv4");
        let n: Network = "fd00::/8".parse().unwrap();
        assert!(n.contains(ip("fd12::1")));
        assert!(!n.contains(ip("fe80::1")));
        let n: Network = "192.168.1.7".parse().unwrap();
        assert!(n.contains(ip("192.168.1.7")) && !n.contains(ip("192.168.1.8")));
        let n: Network = "172.16.0.0/12".parse().unwrap();
        assert!(n.contains(ip("172.31.255.255")) && !n.contains(ip("172.32.0.0")));
        let n: Network = "0.0.0.0/0".parse().unwrap();
        assert!(n.contains(ip("8.8.8.8")));
        for bad in [
            "",
            "10.0.0.0/33",
            "::/129",
            "example.com",
            "10.0.0.0/x",
            "1.2.3",
        ] {
            assert!(bad.parse::<Network>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: TrustedProxies = "10.0.0.0/8, 192.168.0.1".parse().unwrap();
        let h = forwarded(&["203.0.113.9"]);
        // Not a proxy: its header is ignored.
        assert_eq!(trusted.client(ip("198.51.100.1"), &h), ip("198.51.100.1"));
        // A proxy: the address it saw.
        assert_eq!(trusted.client(ip("10.1.1.1"), &h), ip("203.0.113.9"));
        // The client forged an entry in front; the right-most untrusted wins.
        let h = forwarded(&["6.6.6.6, 203.0.113.9, 10.2.2.2"]);
        assert_eq!(trusted.client(ip("192.168.0.1"), &h), ip("203.0.113.9"));
        // Several headers are one list.
        let h = forwarded(&["6.6.6.6", "203.0.113.9"]);
        assert_eq!(trusted.client(ip("10.1.1.1"), &h), ip("203.0.113.9"));
        // Garbage ends the walk at the hop that sent it.
        let h = forwarded(&["203.0.113.9, junk, 10.3.3.3"]);
        assert_eq!(trusted.client(ip("10.1.1.1"), &h), ip("10.3.3.3"));
        // No header: the proxy itself.
        assert_eq!(
            trusted.client(ip("10.1.1.1"), &HeaderMap::new()),
            ip("10.1.1.1")
        );
        // Nobody trusted: the header means nothing.
        let h = forwarded(&["203.0.113.9"]);
        assert_eq!(
            TrustedProxies::none().client(ip("10.1.1.1"), &h),
            ip("10.1.1.1")
        );
        assert_eq!(
            "".parse::<TrustedProxies>().unwrap(),
            TrustedProxies::none()
        );
    }
}
