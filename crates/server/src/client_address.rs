//! Who the client is, by address: the TCP peer, or, when the peer is a
//! proxy the operator named with `--trusted-proxy`, the address that proxy
//! reported. Forwarding headers are never believed otherwise: any client can
//! send them.
//!
//! The chain a header holds is walked from the right (the hop nearest to
//! us) past trusted proxies; the first address that is not one is the
//! client. Entries left of it were written by the client and are ignored.
//!
//! Limits are kept per [`SourceKey`]: an IPv4 address, or an IPv6 /64 (one
//! customer's allocation, in which an attacker can pick any address).

use std::net::{IpAddr, Ipv6Addr};

use axum::http::HeaderMap;
use ipnet::IpNet;

use crate::limits::ForwardedHeader;

/// The client's address, in a request's extensions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// What limits are kept per: a client's IPv4 address, or its IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceKey(IpAddr);

impl SourceKey {
    /// The key of a client address (an IPv4-mapped IPv6 address is its IPv4 one).
    pub fn of(addr: IpAddr) -> Self {
        match addr.to_canonical() {
            IpAddr::V4(v4) => SourceKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => {
                let prefix = u128::from(v6) & !((1u128 << 64) - 1);
                SourceKey(IpAddr::V6(Ipv6Addr::from(prefix)))
            }
        }
    }
}

/// Whether `addr` is one of the trusted proxies.
pub fn is_trusted(addr: IpAddr, trusted: &[IpNet]) -> bool {
    let addr = addr.to_canonical();
    trusted.iter().any(|net| net.contains(&addr))
}

/// The client's address for a request from `peer`.
pub fn client_address(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet], header: ForwardedHeader) -> IpAddr {
    let peer = peer.to_canonical();
    if !is_trusted(peer, trusted) {
        return peer;
    }
    let hops = match header {
        ForwardedHeader::XForwardedFor => header_list(headers, "x-forwarded-for"),
        // An element without `for=` is not an address: it ends the walk too.
        ForwardedHeader::Forwarded => {
            header_list(headers, "forwarded").into_iter().map(|e| forwarded_for(e).unwrap_or_default()).collect()
        }
    };
    let mut client = peer;
    for hop in hops.iter().rev() {
        // An entry that is not an address ("unknown", an obfuscated name)
        // ends the walk: nothing left of it can be checked.
        let Some(addr) = parse_hop(hop) else { break };
        client = addr;
        if !is_trusted(addr, trusted) {
            break;
        }
    }
    client
}

/// Every comma-separated entry of every instance of a header, in order.
fn header_list(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|entry| entry.trim().to_owned())
        .collect()
}

/// The `for=` value of one `Forwarded` element (`for=…;proto=…;by=…`).
fn forwarded_for(element: String) -> Option<String> {
    element.split(';').find_map(|pair| {
        let (key, value) = pair.split_once('=')?;
        key.trim().eq_ignore_ascii_case("for").then(|| value.trim().trim_matches('"').to_owned())
    })
}

/// An address as a hop writes it: `192.0.2.1`, `192.0.2.1:8080`,
/// `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:8080`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(addr) = hop.parse::<IpAddr>() {
        return Some(addr.to_canonical());
    }
    if let Some(rest) = hop.strip_prefix('[') {
        let (inside, _port) = rest.split_once(']')?;
        return inside.parse::<Ipv6Addr>().ok().map(|a| IpAddr::V6(a).to_canonical());
    }
    let (host, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(), v.parse().unwrap());
        }
        map
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap(), "fd00::/8".parse().unwrap()];
        let xff = ForwardedHeader::XForwardedFor;
        let fwd = ForwardedHeader::Forwarded;
        // (peer, headers, the header trusted, the client's address)
        type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], ForwardedHeader, &'a str);
        let cases: &[Case] = &[
            // No proxy trusted for this peer: its own address, whatever it sends.
            ("192.0.2.9", &[("x-forwarded-for", "203.0.113.5")], xff, "192.0.2.9"),
            ("192.0.2.9", &[("forwarded", "for=203.0.113.5")], fwd, "192.0.2.9"),
            // A trusted proxy's report.
            ("10.1.1.1", &[("x-forwarded-for", "203.0.113.5")], xff, "203.0.113.5"),
            // Entries the client wrote (left of the proxy's) are ignored.
            ("10.1.1.1", &[("x-forwarded-for", "1.2.3.4, 203.0.113.5")], xff, "203.0.113.5"),
            // Through two trusted proxies.
            ("10.1.1.1", &[("x-forwarded-for", "1.2.3.4, 203.0.113.5, 10.2.2.2")], xff, "203.0.113.5"),
            // Several header lines are one list.
            ("10.1.1.1", &[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-for", "203.0.113.5")], xff, "203.0.113.5"),
            // Only trusted hops: the leftmost.
            ("10.1.1.1", &[("x-forwarded-for", "10.3.3.3, 10.2.2.2")], xff, "10.3.3.3"),
            // No header: the proxy itself.
            ("10.1.1.1", &[], xff, "10.1.1.1"),
            // Garbage stops the walk at the last good hop.
            ("10.1.1.1", &[("x-forwarded-for", "203.0.113.5, unknown")], xff, "10.1.1.1"),
            // Ports and brackets.
            ("10.1.1.1", &[("x-forwarded-for", "203.0.113.5:4711")], xff, "203.0.113.5"),
            ("10.1.1.1", &[("x-forwarded-for", "[2001:db8::7]:443")], xff, "2001:db8::7"),
            // RFC 7239.
            ("10.1.1.1", &[("forwarded", "for=203.0.113.5;proto=https;by=10.1.1.1")], fwd, "203.0.113.5"),
            ("10.1.1.1", &[("forwarded", "for=1.2.3.4, For=\"[2001:db8::7]:80\"")], fwd, "2001:db8::7"),
            ("fd00::1", &[("forwarded", "for=\"203.0.113.5:99\"")], fwd, "203.0.113.5"),
            // An element without for= stops the walk where it is.
            ("10.1.1.1", &[("forwarded", "for=203.0.113.5, proto=https")], fwd, "10.1.1.1"),
            // The header not chosen is ignored.
            ("10.1.1.1", &[("forwarded", "for=203.0.113.5")], xff, "10.1.1.1"),
            ("10.1.1.1", &[("x-forwarded-for", "203.0.113.5")], fwd, "10.1.1.1"),
            // An IPv4-mapped peer is its IPv4 address.
            ("::ffff:10.1.1.1", &[("x-forwarded-for", "203.0.113.5")], xff, "203.0.113.5"),
        ];
        for (peer, pairs, header, want) in cases {
            let got = client_address(ip(peer), &headers(pairs), &trusted, *header);
            assert_eq!(got, ip(want), "peer {peer}, headers {pairs:?}");
        }
        // Nothing trusted by default.
        assert_eq!(
            client_address(ip("10.1.1.1"), &headers(&[("x-forwarded-for", "1.2.3.4")]), &[], xff),
            ip("10.1.1.1")
        );
    }

    #[test]
    fn limits_are_kept_per_ipv4_address_and_ipv6_64() {
        assert_eq!(SourceKey::of(ip("2001:db8:1:2:aaaa::1")), SourceKey::of(ip("2001:db8:1:2:bbbb::9")));
        assert_ne!(SourceKey::of(ip("2001:db8:1:2::1")), SourceKey::of(ip("2001:db8:1:3::1")));
        assert_ne!(SourceKey::of(ip("192.0.2.1")), SourceKey::of(ip("192.0.2.2")));
        assert_eq!(SourceKey::of(ip("::ffff:192.0.2.1")), SourceKey::of(ip("192.0.2.1")));
    }
}
