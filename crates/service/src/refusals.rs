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
//! Memory is bounded: past [`MAX_SOURCES`] sources in one period, further
//! ones are counted together under the address `*`.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hush_store::{AuditAction, AuditEvent, Millis, Mutation, Outcome, RefusalSummary, WriteRequest, now_millis};

use crate::{Hush, ServiceError};

/// Most client addresses counted apart in one period.
pub const MAX_SOURCES: usize = 10_000;

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
                event.client_addr = Some(addr.map_or_else(|| OTHER_SOURCES.to_owned(), |a| a.to_string()));
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
            let source = (addr.parse().ok(), event.client_cert.map(Arc::from));
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
        self.refusals.record((addr, client_cert.cloned()), reason, now_millis());
    }

    /// Writes one `auth.refused` event per client address counted since the
    /// last flush; returns how many. Events that cannot be written are kept
    /// for the next flush.
    pub async fn flush_refusals(&self) -> Result<usize, ServiceError> {
        let events = self.refusals.take();
        let total = events.len();
        let mut pending = events.into_iter();
        while let Some(event) = pending.next() {
            let write = WriteRequest { mutation: Mutation::AuditOnly, audit: event.clone() };
            if let Err(e) = self.data.write(write).await {
                self.refusals.restore(std::iter::once(event).chain(pending));
                return Err(ServiceError::internal(e));
            }
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
        let b: IpAddr = "2001:db8::1".parse().unwrap();
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
        assert_eq!(events[1].client_addr.as_deref(), Some("2001:db8::1"));
        assert_eq!(events[1].client_cert, None);
        assert_eq!(events[2].client_addr.as_deref(), Some("2001:db8::1"));
        assert_eq!(events[2].client_cert.as_deref(), Some("CN=runner-1"));
        assert_eq!(summary(&events[2]).count, 1);
        assert!(tally.take().is_empty(), "taking empties the tally");
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
