//! Reading and verifying the audit log, and keeping its anchor.
//!
//! The chain MAC detects an edited, reordered or removed event anywhere
//! before the newest one. Removing the newest events leaves a shorter chain
//! that still verifies, so the key store keeps an **anchor**: the sequence
//! number and MAC of a recent event, advanced about once a second. Before it
//! moves the anchor forward, the task checks that the anchored event is still
//! there unchanged; `verify` checks the same. So truncation is detected too,
//! except for events newer than the anchor (at most about a second's worth).

use std::sync::Arc;
use std::time::Duration;

use hush_core::{NamespaceName, Scope};
use hush_crypto::AUDIT_GENESIS;
use hush_store::{AuditAction, AuditAnchor, AuditQuery, AuditRecord, Outcome, TokenNamespaces};

use crate::hush::require;
use crate::pagination;
use crate::{Credentials, Hush, ServiceError};

/// Events read per page while verifying. With [`READ_AHEAD`] pages read
/// while one is checked, pages of 5,000 took the server's peak RSS to
/// 52–84 MiB over a log of 10–15 million events (above 64 MiB in about
/// one run in seven); pages of 2,000 keep it at 44–49 MiB, for about 7%
/// more time (docs/benchmarks.md).
const VERIFY_PAGE: u32 = 2_000;

/// Pages of the audit log read at once while `audit verify` checks one.
const READ_AHEAD: usize = 2;

/// Events read per store query while exporting, and at most per call: a
/// call with a narrow filter answers after this many with what it found
/// and a cursor, rather than scanning the whole log in one request.
const EXPORT_READ: u32 = 1_000;
const EXPORT_SCAN: usize = 20_000;

/// Which events to export, oldest first.
#[derive(Debug, Clone, Default)]
pub struct AuditExportFilter {
    /// Only events of this namespace (as the caller named it).
    pub namespace: Option<NamespaceName>,
    /// Only events at or after this time (milliseconds since the epoch).
    pub since: Option<i64>,
    /// Only events before this time (milliseconds since the epoch).
    pub until: Option<i64>,
    /// Only events after this sequence number (a previous page's `next`).
    pub after: Option<u64>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<u32>,
}

impl AuditExportFilter {
    fn matches(&self, record: &AuditRecord) -> bool {
        let e = &record.event;
        self.namespace.as_ref().is_none_or(|ns| e.namespace.as_deref() == Some(ns.as_str()))
            && self.since.is_none_or(|since| e.at >= since)
            && self.until.is_none_or(|until| e.at < until)
    }
}

/// A page of exported events, oldest first.
#[derive(Debug, Clone)]
pub struct AuditExportPage {
    /// The events that match.
    pub events: Vec<AuditRecord>,
    /// Pass as `after` for the next page; `None` once the log's end is reached.
    pub next: Option<u64>,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only this namespace.
    pub namespace: Option<NamespaceName>,
    /// Only this secret name.
    pub name: Option<String>,
    /// Only this action.
    pub action: Option<AuditAction>,
    /// Only this outcome.
    pub outcome: Option<Outcome>,
    /// Only this token's events (by its public id).
    pub token_id: Option<String>,
    /// Only events older than this sequence number (a previous page's `next`).
    pub before: Option<u64>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<u32>,
}

/// A page of events, newest first.
#[derive(Debug, Clone)]
pub struct AuditPage {
    /// The events.
    pub events: Vec<AuditRecord>,
    /// Pass as `before` for the next page.
    pub next: Option<u64>,
}

/// How far a streamed verification is ([`Hush::verify_audit_streamed`]).
#[derive(Debug)]
pub enum VerifyUpdate {
    /// Events checked so far, of about this many.
    Checked {
        /// Checked.
        events: u64,
        /// About how many there are (events may arrive meanwhile).
        of: u64,
    },
    /// The end: the report, or why there is none.
    Done(Result<AuditVerification, ServiceError>),
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditVerification {
    /// Events checked.
    pub events: u64,
    /// The newest sequence number seen.
    pub last_seq: u64,
    /// The anchor's sequence number, if one is recorded.
    pub anchor_seq: Option<u64>,
    /// The prune checkpoint verification started from, if the log was pruned.
    pub checkpoint_seq: Option<u64>,
    /// Events at or before the checkpoint still stored (a prune that did
    /// not finish; they are not checked, and the next prune removes them).
    pub before_checkpoint: u64,
    /// The first problem found, if any: `(sequence number, what is wrong)`.
    pub problem: Option<(u64, String)>,
}

/// What [`Hush::check_chain`] found.
#[derive(Debug, Clone)]
pub(crate) struct ChainCheck {
    /// Events checked.
    pub(crate) events: u64,
    /// The last event checked (the start's, if none).
    pub(crate) last_seq: u64,
    /// Its MAC.
    pub(crate) last_mac: [u8; 32],
    /// The first problem: `(sequence number, what is wrong)`.
    pub(crate) problem: Option<(u64, String)>,
}

impl AuditVerification {
    /// Whether the chain is intact.
    pub fn ok(&self) -> bool {
        self.problem.is_none()
    }
}

impl Hush {
    /// Audit events, newest first. A token bound to some namespaces sees only
    /// their events.
    pub async fn audit_events(&self, creds: &Credentials, filter: &AuditFilter) -> Result<AuditPage, ServiceError> {
        let mut event = self.event(creds, AuditAction::AuditList, filter.namespace.as_ref(), None);
        let result = async {
            if let Some(name) = &filter.name {
                crate::secrets::check_name_fragment("name", name)?;
            }
            event.event.name = filter.name.clone();
            let caller = self.authenticate(creds, &mut event).await?;
            // An all-namespace token filters by name (every namespace that had
            // it); a bound one sees events of its namespaces by id, so a
            // re-created namespace of the same name does not see its
            // predecessor's events.
            let (namespace_ids, namespace) = match (&caller.namespaces, &filter.namespace) {
                (TokenNamespaces::All, ns) => (None, ns.clone()),
                (TokenNamespaces::Only(_), Some(ns)) => {
                    (Some(vec![self.visible_namespace(&caller, ns).await?.id]), None)
                }
                (TokenNamespaces::Only(list), None) => (Some(list.iter().map(|n| n.id.clone()).collect()), None),
            };
            require(&caller, Scope::AuditRead)?;
            let limit = pagination::page_size(filter.limit)?;
            let query = AuditQuery {
                namespace_ids,
                namespace,
                name: filter.name.clone(),
                action: filter.action,
                outcome: filter.outcome,
                token_id: filter.token_id.clone(),
                before: filter.before,
                limit: limit + 1,
            };
            let mut events = self.data.audit_events(&query).await?;
            let next = pagination::cut(&mut events, limit, |e| e.seq);
            Ok(AuditPage { events, next })
        }
        .await;
        self.finish(event, result).await
    }

    /// Events in the order they were recorded, for a SIEM: every event
    /// after `filter.after` that matches, a page at a time. Needs
    /// `audit:read` on a token bound to all namespaces (the whole log is
    /// read). A page may hold fewer events than asked for (none, even) and
    /// still have a `next`: each call reads at most 20,000 events.
    pub async fn audit_export(
        &self,
        creds: &Credentials,
        filter: &AuditExportFilter,
    ) -> Result<AuditExportPage, ServiceError> {
        let mut event = self.event(creds, AuditAction::AuditList, filter.namespace.as_ref(), None);
        let result = async {
            self.authorize_global(creds, &mut event, Scope::AuditRead, "exporting the audit log").await?;
            let limit = pagination::page_size(filter.limit)? as usize;
            let start = filter.after.unwrap_or(0);
            let mut after = start;
            let mut events = Vec::new();
            let mut scanned = 0;
            // The events handed out without a gap from the start: a filter
            // that skipped one ends the run (that event was not exported).
            let mut handed_out = Some(start);
            let page = loop {
                let read = self.data.audit_chain(after, EXPORT_READ).await?;
                let at_end = read.len() < EXPORT_READ as usize;
                for record in read {
                    after = record.seq;
                    scanned += 1;
                    if filter.matches(&record) {
                        handed_out = handed_out.map(|_| record.seq);
                        events.push(record);
                        if events.len() == limit {
                            break;
                        }
                    } else {
                        handed_out = None;
                    }
                }
                if events.len() == limit || (!at_end && scanned >= EXPORT_SCAN) {
                    break AuditExportPage { events, next: Some(after) };
                }
                if at_end {
                    break AuditExportPage { events, next: None };
                }
            };
            if let Some(through) = handed_out
                && through > start
                && start <= self.keys.audit_exported().await?
            {
                self.keys.set_audit_exported(through).await?;
            }
            Ok(page)
        }
        .await;
        self.finish(event, result).await
    }

    /// Checks every event's MAC and sequence, and the anchor. Needs
    /// `audit:read` on a token bound to all namespaces (the whole log is read).
    pub async fn verify_audit(&self, creds: &Credentials) -> Result<AuditVerification, ServiceError> {
        let mut event = self.event(creds, AuditAction::AuditVerify, None, None);
        let result = async {
            self.authorize_global(creds, &mut event, Scope::AuditRead, "verifying the audit log").await?;
            self.verify_chain().await
        }
        .await;
        self.finish(event, result).await
    }

    /// [`Hush::verify_audit`], with its progress as it goes: the
    /// authorization is checked first (an error is returned at once), then
    /// the updates arrive, [`VerifyUpdate::Done`] last. For a progress bar
    /// over a log of millions of events.
    pub async fn verify_audit_streamed(
        self: &Arc<Self>,
        creds: &Credentials,
    ) -> Result<tokio::sync::mpsc::Receiver<VerifyUpdate>, ServiceError> {
        let mut event = self.event(creds, AuditAction::AuditVerify, None, None);
        if let Err(e) = self.authorize_global(creds, &mut event, Scope::AuditRead, "verifying the audit log").await {
            return self.finish(event, Err(e)).await;
        }
        let (updates, rx) = tokio::sync::mpsc::channel(16);
        let hush = Arc::clone(self);
        tokio::spawn(async move {
            // A slow reader misses updates, never the end.
            let progress = |events, of| {
                let _ = updates.try_send(VerifyUpdate::Checked { events, of });
            };
            // A reader that goes away stops the verification (it is recorded as failed).
            let result = tokio::select! {
                result = hush.verify_chain_with(&progress) => result,
                () = updates.closed() => Err(ServiceError::internal(std::io::Error::new(
                    std::io::ErrorKind::BrokenPipe,
                    "the client went away before the verification ended",
                ))),
            };
            let result = hush.finish(event, result).await;
            let _ = updates.send(VerifyUpdate::Done(result)).await;
        });
        Ok(rx)
    }

    pub(crate) async fn verify_chain(&self) -> Result<AuditVerification, ServiceError> {
        self.verify_chain_with(&|_, _| {}).await
    }

    /// [`Hush::verify_chain`], telling `progress` the events checked so far and about how many there are.
    async fn verify_chain_with(
        &self,
        progress: &(dyn Fn(u64, u64) + Send + Sync),
    ) -> Result<AuditVerification, ServiceError> {
        let anchor = self.keys.audit_anchor().await?;
        let checkpoint = self.audit_checkpoint().await?;
        let start = match &checkpoint {
            Some(c) => (c.seq, c.mac.as_slice().try_into().unwrap_or(AUDIT_GENESIS)),
            None => (0, AUDIT_GENESIS),
        };
        let of = self.data.audit_head().await?.map_or(0, |(seq, _)| seq.saturating_sub(start.0));
        let checked = self.check_chain(start, None, anchor.as_ref(), &|events| progress(events, of)).await?;
        let mut report = AuditVerification {
            events: checked.events,
            last_seq: checked.last_seq,
            anchor_seq: anchor.as_ref().map(|a| a.seq),
            checkpoint_seq: checkpoint.as_ref().map(|c| c.seq),
            before_checkpoint: 0,
            problem: checked.problem,
        };
        if let Some(c) = &checkpoint
            && let Some(oldest) = self.data.audit_oldest().await?
            && oldest <= c.seq
        {
            report.before_checkpoint = c.seq - oldest + 1;
        }
        if report.problem.is_none()
            && let Some(a) = &anchor
            && a.seq > report.last_seq
        {
            report.problem = Some((
                report.last_seq + 1,
                format!(
                    "events from {} on were removed (the key store's anchor is event {})",
                    report.last_seq + 1,
                    a.seq
                ),
            ));
        }
        Ok(report)
    }

    /// Checks the chain from `start` (the sequence number and MAC before
    /// the first event to check: the genesis, or a checkpoint) through
    /// `through` (or the end): every event's number follows the last and
    /// its MAC chains from the one before; the anchored event is the one
    /// the key store recorded.
    pub(crate) async fn check_chain(
        &self,
        (start_seq, start_mac): (u64, [u8; 32]),
        through: Option<u64>,
        anchor: Option<&AuditAnchor>,
        progress: &(dyn Fn(u64) + Send + Sync),
    ) -> Result<ChainCheck, ServiceError> {
        let mut checked = ChainCheck { events: 0, last_seq: start_seq, last_mac: start_mac, problem: None };
        // First the events there are as the check starts, in ranges of
        // numbers: (s, s+n], (s+n, s+2n], …, [`READ_AHEAD`] of them read at
        // once on the blocking pool, each on its own connection, while the
        // oldest is checked here. Reading a page (SQLite, decoding) takes
        // about four times as long as checking its MACs, so with one page
        // read at a time the checking core mostly waited
        // (docs/benchmarks.md). The numbers only grow and every answered
        // event is in the store before a page is read, so each page holds
        // its whole range; one that reaches past it (numbers missing) is
        // cut at its end, and the gap shows as the next event's number.
        let end = match through {
            Some(t) => t,
            None => self.data.audit_head().await?.map_or(start_seq, |(seq, _)| seq),
        };
        let fetch = |after: u64| {
            let data = Arc::clone(&self.data);
            let page = end.saturating_sub(after).min(u64::from(VERIFY_PAGE));
            tokio::spawn(
                async move { data.audit_chain(after, page as u32).await.map(|records| (after + page, records)) },
            )
        };
        let mut reading = std::collections::VecDeque::new();
        let mut from = start_seq;
        loop {
            // The page checked next, and READ_AHEAD more behind it.
            while from < end && reading.len() <= READ_AHEAD {
                reading.push_back(fetch(from));
                from = end.min(from + u64::from(VERIFY_PAGE));
            }
            let Some(page) = reading.pop_front() else { break };
            let (range_end, records) = page.await.map_err(ServiceError::internal)??;
            if !self.check_records(&mut checked, records.into_iter().take_while(|r| r.seq <= range_end), anchor) {
                reading.iter().for_each(tokio::task::JoinHandle::abort);
                return Ok(checked);
            }
            progress(checked.events);
        }
        // Then what was appended meanwhile, a page at a time, up to the end
        // (unless the check stops at `through`).
        while through.is_none() {
            let records = self.data.audit_chain(checked.last_seq, VERIFY_PAGE).await?;
            if records.is_empty() || !self.check_records(&mut checked, records, anchor) {
                break;
            }
            progress(checked.events);
        }
        Ok(checked)
    }

    /// Checks `records`, the events that follow `checked` in order: each
    /// number follows the last, each MAC chains from the one before, the
    /// anchored event is the one the key store recorded. `false` at the
    /// first that does not (the problem is in `checked`).
    fn check_records(
        &self,
        checked: &mut ChainCheck,
        records: impl IntoIterator<Item = AuditRecord>,
        anchor: Option<&AuditAnchor>,
    ) -> bool {
        for record in records {
            let expected = checked.last_seq + 1;
            if record.seq != expected {
                checked.problem = Some((expected, format!("events {expected} to {} are missing", record.seq - 1)));
                return false;
            }
            if !self.audit_key.verify(&checked.last_mac, &record.event.canonical(record.seq), &record.mac) {
                checked.problem = Some((record.seq, "the event was altered (its MAC does not match)".into()));
                return false;
            }
            if let Some(a) = anchor
                && a.seq == record.seq
                && a.mac != record.mac
            {
                checked.problem = Some((record.seq, "the event differs from the anchored one".into()));
                return false;
            }
            checked.last_mac = record.mac.as_slice().try_into().unwrap_or(AUDIT_GENESIS);
            checked.events += 1;
            checked.last_seq = record.seq;
        }
        true
    }

    /// Moves the anchor to the newest event, after checking the anchored
    /// event is unchanged. Returns whether the log looked intact.
    pub async fn advance_audit_anchor(&self) -> Result<bool, ServiceError> {
        let Some((seq, mac)) = self.data.audit_head().await? else { return Ok(true) };
        if let Some(anchor) = self.keys.audit_anchor().await? {
            if anchor.seq == seq && anchor.mac == mac {
                return Ok(true);
            }
            let anchored = self.data.audit_chain(anchor.seq.saturating_sub(1), 1).await?;
            let intact = anchored.first().is_some_and(|r| r.seq == anchor.seq && r.mac == anchor.mac);
            if !intact {
                tracing::error!(
                    seq = anchor.seq,
                    "audit log tampering detected: the anchored event was changed or removed; the anchor stays where it is"
                );
                return Ok(false);
            }
        }
        self.keys.set_audit_anchor(&AuditAnchor { seq, mac }).await?;
        self.save_audit_delivery().await?;
        Ok(true)
    }

    /// Runs [`Hush::advance_audit_anchor`] every `period` until the task is dropped.
    pub fn spawn_audit_anchor(self: &Arc<Self>, period: Duration) -> tokio::task::JoinHandle<()> {
        let hush = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(period);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                if let Err(e) = hush.advance_audit_anchor().await {
                    tracing::warn!(error = %e, "could not advance the audit anchor");
                }
            }
        })
    }
}
