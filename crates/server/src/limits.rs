//! The limits that keep a network-exposed server standing against clients
//! that are slow, many or hostile: timeouts, connection caps and rate
//! limits, with defaults that bound memory (docs/security.md has the
//! threat model, docs/operations.md the tuning).

use std::num::NonZeroU32;
use std::time::Duration;

use ipnet::IpNet;

/// What the server allows each client, and all of them together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// How long a client has to send a complete request head: from
    /// connecting (or, between HTTP/1.1 requests, from its first byte).
    pub header_read_timeout: Duration,
    /// How long a connection may stay open with no request in flight.
    pub idle_timeout: Duration,
    /// The longest pause while a request body is being received.
    pub body_read_timeout: Duration,
    /// How often an HTTP/2 connection is pinged while requests are in flight.
    pub http2_keepalive_interval: Duration,
    /// How long an HTTP/2 ping may go unanswered before the connection is closed.
    pub http2_keepalive_timeout: Duration,
    /// Open connections, all clients together; past it new ones are closed at once.
    pub max_connections: usize,
    /// Open connections from one client address (an IPv6 client: its /64);
    /// trusted proxies are exempt.
    pub max_connections_per_ip: usize,
    /// Proxies whose forwarding header names the client (never trusted by default).
    pub trusted_proxies: Vec<IpNet>,
    /// Which forwarding header the trusted proxies set.
    pub forwarded_header: ForwardedHeader,
    /// Failed authentications a client address may make per second …
    pub failed_auth_per_second: NonZeroU32,
    /// … and in a burst, before it gets 429.
    pub failed_auth_burst: NonZeroU32,
    /// Requests one token may make per second (its burst is a second's worth); none by default.
    pub requests_per_token: Option<NonZeroU32>,
}

/// The header a trusted proxy reports the client's address in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, …` (nginx, HAProxy, most load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for=proxy1`.
    Forwarded,
}

/// The memory an idle or slow connection may hold at most, as measured
/// (bench/slow-clients, docs/benchmarks.md): the default connection cap is
/// what fits [`MEMORY_BUDGET`] at this size.
pub const WORST_CONNECTION_BYTES: usize = 48 * 1024;

/// What all connections together may hold with the default cap.
pub const MEMORY_BUDGET: usize = 200 * 1024 * 1024;

/// The default cap: 10,000 connections, or fewer when a quarter of the
/// memory available to the process would not hold them.
pub fn default_max_connections() -> usize {
    let by_budget = MEMORY_BUDGET / WORST_CONNECTION_BYTES;
    let by_memory = available_memory().map_or(usize::MAX, |bytes| bytes / 4 / WORST_CONNECTION_BYTES);
    by_budget.min(by_memory).clamp(64, 10_000)
}

/// The memory the process may use: the cgroup's limit if one is set, else
/// the machine's. `None` where neither can be read.
fn available_memory() -> Option<usize> {
    let cgroup =
        std::fs::read_to_string("/sys/fs/cgroup/memory.max").ok().and_then(|text| text.trim().parse::<usize>().ok());
    let machine = std::fs::read_to_string("/proc/meminfo").ok().and_then(|text| {
        let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
        let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kib * 1024)
    });
    match (cgroup, machine) {
        (Some(c), Some(m)) => Some(c.min(m)),
        (c, m) => c.or(m),
    }
}

impl Default for ServerLimits {
    fn default() -> Self {
        ServerLimits {
            header_read_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            body_read_timeout: Duration::from_secs(10),
            http2_keepalive_interval: Duration::from_secs(30),
            http2_keepalive_timeout: Duration::from_secs(10),
            max_connections: default_max_connections(),
            max_connections_per_ip: 256,
            trusted_proxies: Vec::new(),
            forwarded_header: ForwardedHeader::default(),
            failed_auth_per_second: NonZeroU32::new(10).expect("non-zero"),
            failed_auth_burst: NonZeroU32::new(20).expect("non-zero"),
            requests_per_token: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_cap_keeps_connections_within_the_memory_budget() {
        let cap = default_max_connections();
        assert!((64..=10_000).contains(&cap), "{cap}");
        assert!(cap * WORST_CONNECTION_BYTES <= MEMORY_BUDGET.max(64 * WORST_CONNECTION_BYTES));
    }
}
