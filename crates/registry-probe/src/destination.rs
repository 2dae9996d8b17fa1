//! Where a connection test may connect: a test makes the server send a
//! request to an address a caller chose, so addresses that are never a
//! registry and often something worse are refused: link-local ranges (cloud
//! metadata services at 169.254.169.254 and fd00:ec2::254), unspecified,
//! multicast and broadcast addresses. Loopback and private ranges stay
//! allowed: local and internal registries are the common case.
//!
//! A host name is resolved here, checked, and the HTTP client is pinned to
//! the addresses found, so a second lookup (DNS rebinding) cannot send the
//! request elsewhere.

use std::net::{IpAddr, Ipv6Addr, SocketAddr};

use reqwest::Url;

/// Why a destination was not used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// The name does not resolve, or the URL has no host.
    Unresolved(String),
    /// It resolves to an address a test never connects to.
    Forbidden(String),
}

/// AWS's IPv6 metadata address.
const EC2_METADATA_V6: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

/// Whether a test must never connect to `ip`.
pub(crate) fn forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local() || v4.is_unspecified() || v4.is_multicast() || v4.is_broadcast(),
        IpAddr::V6(v6) => {
            v6.is_unspecified()
                || v6.is_multicast()
                || (v6.segments()[0] & 0xffc0) == 0xfe80
                || v6 == EC2_METADATA_V6
                || v6.to_ipv4_mapped().is_some_and(|v4| forbidden(IpAddr::V4(v4)))
        }
    }
}

/// The host of `url` and the addresses to connect to, all allowed.
pub(crate) async fn resolve(url: &Url) -> Result<(String, Vec<SocketAddr>), Refusal> {
    let host = url.host_str().ok_or_else(|| Refusal::Unresolved("the URL has no host".into()))?.to_owned();
    let port = url.port_or_known_default().unwrap_or(443);
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<SocketAddr> = match bare.parse::<IpAddr>() {
        Ok(ip) => vec![SocketAddr::new(ip, port)],
        Err(_) => tokio::net::lookup_host((bare, port))
            .await
            .map_err(|e| Refusal::Unresolved(format!("{host} does not resolve: {e}")))?
            .collect(),
    };
    if addrs.is_empty() {
        return Err(Refusal::Unresolved(format!("{host} does not resolve")));
    }
    if let Some(bad) = addrs.iter().find(|a| forbidden(a.ip())) {
        return Err(Refusal::Forbidden(format!(
            "{host} is {}, a link-local, unspecified or multicast address; connection tests do not go there",
            bad.ip()
        )));
    }
    Ok((bare.to_owned(), addrs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_and_link_local_addresses_are_refused() {
        for ip in [
            "169.254.169.254",
            "169.254.0.1",
            "0.0.0.0",
            "224.0.0.1",
            "255.255.255.255",
            "fe80::1",
            "::",
            "ff02::1",
            "fd00:ec2::254",
            "::ffff:169.254.169.254",
        ] {
            assert!(forbidden(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["127.0.0.1", "10.0.0.5", "192.168.1.10", "::1", "8.8.8.8", "2001:db8::1"] {
            assert!(!forbidden(ip.parse().unwrap()), "{ip}");
        }
    }

    #[tokio::test]
    async fn names_are_resolved_and_checked() {
        let url = |u: &str| Url::parse(u).unwrap();
        let (host, addrs) = resolve(&url("http://127.0.0.1:5000/v2/")).await.unwrap();
        assert_eq!((host.as_str(), addrs), ("127.0.0.1", vec!["127.0.0.1:5000".parse().unwrap()]));
        let (_, addrs) = resolve(&url("https://localhost/v2/")).await.unwrap();
        assert!(addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 443), "{addrs:?}");
        assert!(matches!(resolve(&url("http://169.254.169.254/latest/")).await, Err(Refusal::Forbidden(_))));
        assert!(matches!(resolve(&url("http://[fe80::1]:80/")).await, Err(Refusal::Forbidden(_))));
    }
}
