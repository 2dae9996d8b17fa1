//! Refused requests, counted instead of audited one by one.
//!
//! A request without a token hush issued (none, a malformed one, a guessed
//! one) names no credential, and anyone who can reach the port can send
//! thousands a second: an audit row each would fill the disk and bury the
//! real events. The server counts them here by client address (and, under
//! mutual TLS, client certificate) instead, and [`Hush::flush_refusals`]
//! writes one `auth.refused` event per source per period, with the count,
//! the first and last time and the reasons. Those events are chained like
//! any other.
//!
//! An IPv6 client is counted per /64 (`2001:db8:1:2::/64`): one host may
//! use any address in its /64. Memory and the events per period are
//! bounded: past [`MAX_SOURCES`] sources in one period, further ones are
//! counted together under the address `*`.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hush_store::{AuditAction, AuditEvent, Millis, Mutation, Outcome, RefusalSummary, WriteRequest, now_millis};

use crate::{Hush, ServiceError};

/// Most sources counted apart in one period (so at most this many events,
/// plus one for the rest, per period).
pub const MAX_SOURCES: usize = 1_000;

/// The address under which refusals past [`MAX_SOURCES`] (or without an
/// address) are counted.
const OTHER_SOURCES: &str = "*";

/// Refusals since the last flush, by source.
#[derive(Debug, Default)]
pub(crate) struct RefusalTally {
    by_source: Mutex<HashMap<Source, Tally>>,
}

/// Where refusals came from: the client's address and, under mutual TLS,
/// its certificate's subject. `(None, None)` counts the overflow.
type Source = (Option<IpAddr>, Option<Arc<str>>);

/// One address's refusals.
#[derive(Debug)]
struct Tally {
    count: u64,
    first_at: Millis,
    last_at: Millis,
    reasons: BTreeMap<&'static str, u64>,
}

impl RefusalTally {
    /// Counts one refusal.
    fn record(&self, source: Source, reason: &'static str, at: Millis) {
        let mut by_source = self.by_source.lock().unwrap_or_else(|e| e.into_inner());
        let key =
            if by_source.len() >= MAX_SOURCES && !by_source.contains_key(&source) { (None, None) } else { source };
        let tally = by_source.entry(key).or_insert_with(|| Tally {
            count: 0,
            first_at: at,
            last_at: at,
            reasons: BTreeMap::new(),
        });
        tally.count += 1;
        tally.last_at = tally.last_at.max(at);
        *tally.reasons.entry(reason).or_default() += 1;
    }

    /// Takes everything counted so far, as events to write.
    fn take(&self) -> Vec<AuditEvent> {
        let taken = std::mem::take(&mut *self.by_source.lock().unwrap_or_else(|e| e.into_inner()));
        let mut events: Vec<AuditEvent> = taken
            .into_iter()
            .map(|((addr, client_cert), tally)| {
                let mut event = AuditEvent::new(AuditAction::AuthRefused, None, None);
                event.outcome = Outcome::Unauthenticated;
                event.client_addr = Some(match addr {
                    None => OTHER_SOURCES.to_owned(),
                    Some(IpAddr::V6(prefix)) => format!("{prefix}/64"),
                    Some(v4) => v4.to_string(),
                });
                event.client_cert = client_cert.map(|c| c.to_string());
                let reasons: Vec<String> = tally.reasons.iter().map(|(r, n)| format!("{r}={n}")).collect();
                event.refusals = Some(RefusalSummary {
                    count: tally.count,
                    first_at: tally.first_at,
                    last_at: tally.last_at,
                    reasons: reasons.join(","),
                });
                event
            })
            .collect();
        events.sort_by_key(|e| e.refusals.as_ref().map(|r| r.first_at));
        events
    }

    /// Puts events that could not be written back, to be tried next time.
    fn restore(&self, events: impl IntoIterator<Item = AuditEvent>) {
        let mut by_source = self.by_source.lock().unwrap_or_else(|e| e.into_inner());
        for event in events {
            let (Some(summary), Some(addr)) = (event.refusals, event.client_addr) else { continue };
            let addr = addr.strip_suffix("/64").unwrap_or(&addr).parse().ok();
            let source = (addr, event.client_cert.map(Arc::from));
            let tally = by_source.entry(source).or_insert_with(|| Tally {
                count: 0,
                first_at: summary.first_at,
                last_at: summary.last_at,
                reasons: BTreeMap::new(),
            });
            tally.count += summary.count;
            tally.first_at = tally.first_at.min(summary.first_at);
            tally.last_at = tally.last_at.max(summary.last_at);
            for (reason, n) in summary.reason_counts() {
                if let Some(known) = REASONS.iter().find(|r| **r == reason) {
                    *tally.reasons.entry(known).or_default() += n;
                }
            }
        }
    }
}

/// Events taken from the tally and not yet written: dropping them (an
/// error, or the flush's task cancelled) puts them back.
struct Unwritten<'a> {
    tally: &'a RefusalTally,
    events: std::collections::VecDeque<AuditEvent>,
}

impl Drop for Unwritten<'_> {
    fn drop(&mut self) {
        if !self.events.is_empty() {
            self.tally.restore(std::mem::take(&mut self.events));
        }
    }
}

/// An address as it is counted: IPv4 as it is, IPv6 as its /64.
fn per_64(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & !((1u128 << 64) - 1))),
        v4 => v4,
    }
}

/// Every reason a refusal is counted under: the token refusals' codes, and
/// `rate_limited` for requests refused with 429 before their token was
/// looked at twice.
pub const REASONS: [&str; 5] = ["no_token", "malformed_token", "invalid_token", "unusable_token", "rate_limited"];

impl Hush {
    /// Counts a refused request from `addr` (with, under mutual TLS, the
    /// client certificate `client_cert`) under `reason`, one of
    /// [`REASONS`] (anything else counts as `invalid_token`). The next
    /// [`Hush::flush_refusals`] writes it to the audit log.
    pub fn record_refusal(&self, addr: Option<IpAddr>, client_cert: Option<&Arc<str>>, reason: &'static str) {
        let reason = if REASONS.contains(&reason) { reason } else { "invalid_token" };
        self.refusals.record((addr.map(per_64), client_cert.cloned()), reason, now_millis());
    }

    /// Writes one `auth.refused` event per source counted since the last
    /// flush; returns how many. Events not written (a store error, or the
    /// flush cancelled half-way) are kept for the next flush.
    pub async fn flush_refusals(&self) -> Result<usize, ServiceError> {
        let mut pending = Unwritten { tally: &self.refusals, events: self.refusals.take().into() };
        let total = pending.events.len();
        while let Some(event) = pending.events.front() {
            let write = WriteRequest { mutation: Mutation::AuditOnly, audit: event.clone() };
            self.data.write(write).await.map_err(ServiceError::internal)?;
            pending.events.pop_front();
        }
        Ok(total)
    }

    /// Runs [`Hush::flush_refusals`] every `period` until the task is
    /// dropped. Call `flush_refusals` once more at shutdown.
    pub fn spawn_refusal_flush(self: &Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        let hush = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                if let Err(e) = hush.flush_refusals().await {
                    tracing::warn!(error = %e, "could not write the refused requests' audit events; will retry");
                }
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(event: &AuditEvent) -> &RefusalSummary {
        event.refusals.as_ref().expect("a refusal event")
    }

    #[test]
    fn refusals_are_counted_per_source_with_their_reasons() {
        let tally = RefusalTally::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "2001:db8::".parse().unwrap();
        for at in 0..5 {
            tally.record((Some(a), None), "invalid_token", 100 + at);
        }
        tally.record((Some(a), None), "no_token", 90);
        tally.record((Some(b), None), "rate_limited", 200);
        let cert: Arc<str> = Arc::from("CN=runner-1");
        tally.record((Some(b), Some(Arc::clone(&cert))), "no_token", 300);
        let events = tally.take();
        assert_eq!(events.len(), 3, "one per address and certificate");
        let first = &events[0];
        assert_eq!(first.client_addr.as_deref(), Some("192.0.2.1"));
        assert_eq!(first.action, AuditAction::AuthRefused);
        assert_eq!(first.outcome, Outcome::Unauthenticated);
        assert_eq!(first.token_id, None);
        assert_eq!(
            summary(first),
            &RefusalSummary { count: 6, first_at: 100, last_at: 104, reasons: "invalid_token=5,no_token=1".into() }
        );
        assert_eq!(events[1].client_addr.as_deref(), Some("2001:db8::/64"));
        assert_eq!(events[1].client_cert, None);
        assert_eq!(events[2].client_addr.as_deref(), Some("2001:db8::/64"));
        assert_eq!(events[2].client_cert.as_deref(), Some("CN=runner-1"));
        assert_eq!(summary(&events[2]).count, 1);
        assert!(tally.take().is_empty(), "taking empties the tally");
    }

    #[test]
    fn an_ipv6_client_is_counted_per_64() {
        let tally = RefusalTally::default();
        for addr in ["2001:db8:1:2::5", "2001:db8:1:2:ffff::9", "::ffff:192.0.2.7"] {
            tally.record((Some(per_64(addr.parse().unwrap())), None), "no_token", 1);
        }
        let events = tally.take();
        let addrs: Vec<_> = events.iter().map(|e| (e.client_addr.clone().unwrap(), summary(e).count)).collect();
        assert_eq!(addrs.len(), 2, "{addrs:?}");
        assert!(addrs.contains(&("2001:db8:1:2::/64".to_owned(), 2)), "{addrs:?}");
        assert!(addrs.contains(&("192.0.2.7".to_owned(), 1)), "{addrs:?}");
        // Put back, a /64 is still one source.
        tally.restore(events);
        tally.record((Some(per_64("2001:db8:1:2::77".parse().unwrap())), None), "no_token", 2);
        let again = tally.take();
        assert!(again.iter().any(|e| e.client_addr.as_deref() == Some("2001:db8:1:2::/64") && summary(e).count == 3));
    }

    #[test]
    fn sources_past_the_limit_are_counted_together() {
        let tally = RefusalTally::default();
        for i in 0..MAX_SOURCES as u32 + 50 {
            tally.record((Some(IpAddr::from(i.to_be_bytes())), None), "no_token", 1);
        }
        let events = tally.take();
        assert_eq!(events.len(), MAX_SOURCES + 1);
        let other = events.iter().find(|e| e.client_addr.as_deref() == Some("*")).expect("an overflow event");
        assert_eq!(summary(other).count, 50);
        let total: u64 = events.iter().map(|e| summary(e).count).sum();
        assert_eq!(total, MAX_SOURCES as u64 + 50);
    }

    #[test]
    fn events_put_back_are_counted_again_in_full() {
        let tally = RefusalTally::default();
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let cert: Option<Arc<str>> = Some(Arc::from("CN=x"));
        for _ in 0..7 {
            tally.record((Some(a), cert.clone()), "invalid_token", 10);
        }
        tally.record((Some(a), cert.clone()), "rate_limited", 20);
        let taken = tally.take();
        tally.restore(taken.clone());
        tally.record((Some(a), cert.clone()), "invalid_token", 30);
        let again = tally.take();
        assert_eq!(again.len(), 1);
        let s = summary(&again[0]);
        assert_eq!((s.count, s.first_at, s.last_at), (9, 10, 30));
        assert_eq!(s.reasons, "invalid_token=8,rate_limited=1");
    }
}
