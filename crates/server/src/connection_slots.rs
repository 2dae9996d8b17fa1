//! How many connections may be open: all together, and from one client
//! address. A connection past either cap is closed as soon as it is
//! accepted; the ones already open are untouched, so established clients
//! keep working while a flood of new connections is turned away.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

use ipnet::IpNet;

use crate::client_address::{SourceKey, is_trusted};

/// The open connections, counted.
#[derive(Debug)]
pub(crate) struct ConnectionSlots {
    max_total: usize,
    max_per_source: usize,
    /// Trusted proxies carry many clients' connections: only the total caps them.
    exempt: Vec<IpNet>,
    open: Mutex<Open>,
}

#[derive(Debug, Default)]
struct Open {
    total: usize,
    per_source: HashMap<SourceKey, usize>,
}

/// Why a connection was turned away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Full {
    /// The server has as many connections as it allows.
    Total,
    /// This client address has.
    Source,
}

/// One open connection's place; dropping it frees the place.
#[derive(Debug)]
pub(crate) struct Slot {
    slots: Arc<ConnectionSlots>,
    source: Option<SourceKey>,
}

impl ConnectionSlots {
    pub(crate) fn new(max_total: usize, max_per_source: usize, exempt: Vec<IpNet>) -> Arc<Self> {
        Arc::new(ConnectionSlots { max_total, max_per_source, exempt, open: Mutex::default() })
    }

    /// A place for a connection from `peer`, if both caps allow one.
    pub(crate) fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, Full> {
        let source = (!is_trusted(peer, &self.exempt)).then(|| SourceKey::of(peer));
        let mut open = self.open.lock().unwrap_or_else(|e| e.into_inner());
        if open.total >= self.max_total {
            return Err(Full::Total);
        }
        if let Some(key) = source {
            let count = open.per_source.entry(key).or_default();
            if *count >= self.max_per_source {
                return Err(Full::Source);
            }
            *count += 1;
        }
        open.total += 1;
        metrics::gauge!(crate::metrics_export::OPEN_CONNECTIONS).increment(1.0);
        Ok(Slot { slots: Arc::clone(self), source })
    }

    /// Connections open now.
    #[cfg(test)]
    fn total(&self) -> usize {
        self.open.lock().unwrap().total
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|e| e.into_inner());
        open.total -= 1;
        metrics::gauge!(crate::metrics_export::OPEN_CONNECTIONS).decrement(1.0);
        if let Some(key) = self.source
            && let Some(count) = open.per_source.get_mut(&key)
        {
            *count -= 1;
            if *count == 0 {
                open.per_source.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn each_cap_turns_connections_away_and_freed_places_are_reused() {
        let slots = ConnectionSlots::new(5, 2, vec!["10.0.0.0/8".parse().unwrap()]);
        let a1 = slots.admit(ip("192.0.2.1")).unwrap();
        let _a2 = slots.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(slots.admit(ip("192.0.2.1")).unwrap_err(), Full::Source);
        // Another address still gets in.
        let _b = slots.admit(ip("192.0.2.2")).unwrap();
        // A trusted proxy is capped only by the total.
        let _p1 = slots.admit(ip("10.0.0.1")).unwrap();
        let _p2 = slots.admit(ip("10.0.0.1")).unwrap();
        assert_eq!(slots.total(), 5);
        assert_eq!(slots.admit(ip("192.0.2.3")).unwrap_err(), Full::Total);
        drop(a1);
        assert_eq!(slots.total(), 4);
        let _a3 = slots.admit(ip("192.0.2.1")).expect("a freed place is reused");
        assert_eq!(slots.admit(ip("10.0.0.1")).unwrap_err(), Full::Total);
    }

    #[test]
    fn ipv6_clients_share_their_64() {
        let slots = ConnectionSlots::new(100, 1, vec![]);
        let _a = slots.admit(ip("2001:db8::1")).unwrap();
        assert_eq!(slots.admit(ip("2001:db8::2")).unwrap_err(), Full::Source);
        slots.admit(ip("2001:db8:0:1::1")).expect("another /64");
    }
}
