//! The single writer: group commit for every change to the data store.
//!
//! Requests queue on a channel. The writer thread takes whatever is waiting
//! and makes the whole batch durable at once, then answers every request:
//!
//! - A batch that only records events (reads, listings, refusals: nothing
//!   else changes) is numbered, chained and written to the
//!   [audit journal](super::audit_journal) with one `fdatasync`, by this
//!   thread (while it waits, the next batch gathers on the channel). The
//!   events move into SQLite later, many at a time, on another thread
//!   (`audit_mover`) while the writer goes on with the journal's other file.
//! - Any other batch waits for a move in progress, then applies each
//!   request in order inside one SQLite transaction, after
//!   moving the journaled events in first (so the chain in `audit_events`
//!   has no gap), appends each request's event to the MAC chain, and commits
//!   once (one fsync for the whole batch).
//!
//! Under load, batches grow and the cost of durability is shared; when idle,
//! a lone request commits at once, with no timer to wait for.
//!
//! Every mutation checks everything before it writes anything, so a refused
//! one (a conflict, a missing namespace) leaves no trace but its audit event.
//! A database failure aborts the whole batch; its requests are then retried
//! one by one, so one bad request cannot fail its neighbours. A journal
//! write that fails fails its batch, and the journal is not used again until
//! its events are safely in SQLite: no record is ever written after one
//! that might be missing.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hush_crypto::{AUDIT_GENESIS, AuditKey};
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use tokio::sync::mpsc::error::TryRecvError;
use tokio::sync::{mpsc, oneshot};

use super::audit_dictionary::Dictionary;
use super::audit_journal::{AuditJournal, DRAIN_AT, JournalEntry, MAX_PENDING, encode_batch};
use super::audit_mover::Mover;
use super::checkpointer::Checkpointer;
use super::connect::{Access, open};
use super::current_versions::CurrentVersions;
use super::recent_reads::RecentReads;
use super::rows;
use crate::metric_names;
use crate::write_rules::{prune_at_or_below, put_record, put_slot, record_outcome};
use crate::{
    AuditEvent, AuditObserver, AuditRecord, Conflict, KvSettings, Mutation, NamespaceRecord, PutVersion,
    SecretMetadataChange, SecretRecord, StoreError, TokenRecord, VersionChange, VersionSlot, WriteOutcome,
    WriteRequest, now_millis,
};

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Work for the writer. `Initialize` happens once per installation, so the
/// size difference between the variants costs nothing worth a box per write.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Job {
    /// A change with its audit event.
    Write {
        /// The request.
        request: WriteRequest,
        /// Where the answer goes.
        reply: Reply<WriteOutcome>,
    },
    /// Record the installation id (first start only).
    Initialize {
        /// The id.
        id: String,
        /// Where the answer goes.
        reply: Reply<()>,
    },
    /// Move the journaled events into SQLite, so that a query of the audit
    /// log (or a snapshot) sees every event answered before it.
    Flush {
        /// Answered once they are committed.
        reply: Reply<()>,
    },
    /// Remove the oldest audit events (retention): at most `limit`, none
    /// after `through`. On the writer, so it never races a commit.
    PruneAudit {
        /// The last event that may go.
        through: u64,
        /// At most this many in one transaction.
        limit: u32,
        /// How many went.
        reply: Reply<u64>,
    },
}

/// The newest event of a chain: its sequence number and MAC.
type Head = (u64, [u8; 32]);

/// The writer thread's state: the only read-write connection, the audit
/// key, the journal, and the chain's head.
pub(crate) struct Writer {
    conn: Connection,
    key: AuditKey,
    journal: AuditJournal,
    /// The newest event on disk (in SQLite or the journal).
    head: Head,
    /// A journal write failed: everything goes through SQLite until the
    /// journal's answered events are moved and the file started over.
    journal_failed: bool,
    recent_reads: Arc<RecentReads>,
    /// Told of every commit, before its requests are answered.
    current: Arc<CurrentVersions>,
    /// The numbers of the audit log's strings (`audit_dictionary.rs`); lent
    /// to the mover during a move.
    dictionary: Dictionary,
    /// The thread that moves a full journal file's events into SQLite
    /// (`audit_mover.rs`); `None` if it could not start or has stopped,
    /// and then the writer moves them itself.
    mover: Option<Mover>,
    /// The events of the other journal file, whose move failed: they go
    /// into SQLite before any later event.
    unmoved: Option<Arc<[JournalEntry]>>,
    /// After a failed move, none is tried again before this, and flushes
    /// fail at once (`MOVE_RETRY_*`).
    retry: Option<(Instant, Duration)>,
    /// The audit sinks, told of every committed batch before it is answered.
    observer: Option<Arc<dyn AuditObserver>>,
    /// Every sender is gone: no request waits for a move any more.
    closing: bool,
}

/// At most this many requests in one batch. Senders waiting for room in
/// the queue take it as the writer empties it, so without a bound a flood
/// made batches of tens of thousands: the journal's bound
/// ([`MAX_PENDING`]) is only as tight as a batch is large.
const MAX_BATCH: usize = 4096;

/// After a move into SQLite fails, the next waits this long, twice as long
/// after each further failure, up to the maximum: a database that keeps
/// failing is not hammered once per batch.
const MOVE_RETRY_FIRST: Duration = Duration::from_millis(100);
const MOVE_RETRY_MAX: Duration = Duration::from_secs(10);

impl Writer {
    /// Reads the chain's head, recovers the journal of the database at
    /// `data_file` and moves what it held into SQLite before anything else
    /// is written.
    pub(crate) fn open(
        mut conn: Connection,
        key: AuditKey,
        data_file: &Path,
        recent_reads: Arc<RecentReads>,
        current: Arc<CurrentVersions>,
        observer: Option<Arc<dyn AuditObserver>>,
        checkpointer: Option<&Checkpointer>,
    ) -> Result<Self, StoreError> {
        let head = sqlite_head(&mut conn)?;
        let journal = AuditJournal::open(data_file, &key, head)?;
        let mover = match open(data_file, Access::ReadWrite, false)
            .and_then(|mut c| {
                if let Some(checkpointer) = checkpointer {
                    checkpointer.watch(&mut c)?;
                }
                Ok(c)
            })
            .and_then(|c| Mover::spawn(c, Arc::clone(&current)).map_err(|e| StoreError::Database(Box::new(e))))
        {
            Ok(mover) => Some(mover),
            Err(error) => {
                tracing::warn!(%error, "could not start moving audit events in the background; the writer moves them");
                None
            }
        };
        let mut writer = Writer {
            conn,
            key,
            journal,
            head,
            journal_failed: false,
            recent_reads,
            current,
            dictionary: Dictionary::default(),
            mover,
            unmoved: None,
            retry: None,
            observer,
            closing: false,
        };
        if let Some(last) = writer.journal.pending().last() {
            writer.head = head_of(&last.record);
            let moved = writer.journal.pending().len();
            writer.move_here()?;
            tracing::info!(events = moved, "moved the audit journal's events into the data store");
        } else {
            // Whatever the files hold is at or below SQLite's head, or does
            // not chain from it. If the file cannot be started over, events
            // go through SQLite until it can (as after a failed write).
            if let Err(error) = writer.journal.clear() {
                tracing::warn!(%error, "could not start the audit journal over; recording events through the database");
                writer.journal_failed = true;
            }
        }
        Ok(writer)
    }

    /// The loop; ends when every sender is dropped.
    pub(crate) fn run(mut self, mut rx: mpsc::Receiver<Job>) {
        let mut batch: Vec<(WriteRequest, Reply<WriteOutcome>)> = Vec::new();
        let mut flushes: Vec<Reply<()>> = Vec::new();
        let mut open = true;
        loop {
            // Take what is waiting (up to a batch), then do what can be done;
            // wait for a new job only when there is nothing to do.
            while open && batch.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(job) => self.take(job, &mut batch, &mut flushes),
                    Err(TryRecvError::Empty) => break,
                    Err(TryRecvError::Disconnected) => {
                        open = false;
                        self.closing = true;
                    }
                }
            }
            self.collect_move(false);
            if self.step(&mut batch, &mut flushes) {
                continue;
            }
            if !open {
                break;
            }
            if !flushes.is_empty() && self.moving() {
                // Nothing to do but the flushes, which wait for the move in progress.
                self.collect_move(true);
                continue;
            }
            match rx.blocking_recv() {
                Some(job) => self.take(job, &mut batch, &mut flushes),
                None => {
                    open = false;
                    self.closing = true;
                }
            }
        }
        self.collect_move(true);
    }

    fn take(&mut self, job: Job, batch: &mut Vec<(WriteRequest, Reply<WriteOutcome>)>, flushes: &mut Vec<Reply<()>>) {
        match job {
            Job::Write { request, reply } => batch.push((request, reply)),
            Job::Initialize { id, reply } => {
                let _ = reply.send(initialize(&mut self.conn, &self.current, &id));
            }
            Job::Flush { reply } => flushes.push(reply),
            Job::PruneAudit { through, limit, reply } => {
                let _ = reply.send(prune_audit(&mut self.conn, &self.current, through, limit));
            }
        }
    }

    /// Makes progress if it can: starts moving the journal into SQLite,
    /// writes the batch to the journal or commits it through SQLite.
    /// `false` when there is nothing to do.
    fn step(&mut self, batch: &mut Vec<(WriteRequest, Reply<WriteOutcome>)>, flushes: &mut Vec<Reply<()>>) -> bool {
        let wants_move = !flushes.is_empty() || self.journal.pending().len() >= DRAIN_AT;
        if wants_move && self.start_move(flushes) {
            return true;
        }
        if batch.is_empty() {
            return false;
        }
        let journaled = !self.journal_failed && batch.iter().all(|(r, _)| only_records(&r.mutation));
        if journaled && !self.closing && self.journal.pending().len() >= MAX_PENDING {
            // The moves fall behind, or fail: nothing more is journaled
            // until one finishes (wait for it, or for the next try). A
            // batch with a change goes on to `commit`, which moves the
            // journal's events in its own transaction; while closing, the
            // last batches are journaled anyway and moved at the next start.
            if self.moving() {
                self.collect_move(true);
                return true;
            }
            if let Some((at, _)) = self.retry {
                std::thread::sleep(at.saturating_duration_since(Instant::now()));
                return true;
            }
        }
        if journaled {
            self.journal_batch(batch);
        } else {
            self.commit(batch);
        }
        true
    }

    /// Whether the mover has events in hand.
    fn moving(&self) -> bool {
        self.mover.as_ref().is_some_and(Mover::busy)
    }

    /// Starts moving journaled events into SQLite, and answers `flushes`
    /// once every event answered before them is there. `false` if nothing
    /// could be done now (a move in progress, or a failed one's wait).
    fn start_move(&mut self, flushes: &mut Vec<Reply<()>>) -> bool {
        if self.moving() {
            return false;
        }
        if let Some((at, _)) = self.retry
            && Instant::now() < at
        {
            let error = || {
                StoreError::Database(Box::new(std::io::Error::other(
                    "moving the audit journal into the data store failed; see the server log (retrying)",
                )))
            };
            let answered = !flushes.is_empty();
            for reply in flushes.drain(..) {
                let _ = reply.send(Err(error()));
            }
            return answered;
        }
        let Some(mover) = &mut self.mover else { return self.answer_after_move_here(flushes) };
        let (entries, waiting) = if let Some(unmoved) = self.unmoved.take() {
            // The failed move first; flushes wait for the one after it.
            (unmoved, Vec::new())
        } else if self.journal.pending().is_empty() {
            let answered = !flushes.is_empty();
            for reply in flushes.drain(..) {
                let _ = reply.send(Ok(()));
            }
            return answered;
        } else {
            match self.journal.switch() {
                Ok(entries) => (Arc::from(entries), std::mem::take(flushes)),
                Err(error) => {
                    tracing::warn!(%error, "could not switch audit journal files; moving the events on the writer");
                    return self.answer_after_move_here(flushes);
                }
            }
        };
        let lent = std::mem::take(&mut self.dictionary);
        if let Err(given_back) = mover.start(Arc::clone(&entries), lent, waiting) {
            let (dictionary, waiting) = *given_back;
            tracing::error!("the thread moving audit events stopped; the writer moves them from now on");
            self.dictionary = dictionary;
            self.mover = None;
            self.unmoved = Some(entries);
            flushes.extend(waiting);
            return self.answer_after_move_here(flushes);
        }
        true
    }

    /// Takes the end of the move in progress, if it has ended (waiting for
    /// it if `wait`).
    fn collect_move(&mut self, wait: bool) {
        let Some(finished) = self.mover.as_mut().and_then(|m| m.finished(wait)) else { return };
        self.dictionary = finished.dictionary.unwrap_or_else(|| {
            self.mover = None;
            Dictionary::default()
        });
        match finished.result {
            Ok(()) => {
                self.retry = None;
                self.journal.other_moved();
                self.recent_reads.moved();
            }
            Err(error) => {
                tracing::warn!(%error, "moving audit events into the data store failed");
                self.move_failed();
                self.unmoved = Some(finished.entries);
            }
        }
    }

    /// After a failed move: no other is tried for a while, longer each time.
    fn move_failed(&mut self) {
        let wait = self.retry.map_or(MOVE_RETRY_FIRST, |(_, wait)| (wait * 2).min(MOVE_RETRY_MAX));
        tracing::info!(retry_in_ms = wait.as_millis() as u64, "the next move of audit events waits");
        self.retry = Some((Instant::now() + wait, wait));
    }

    /// Moves every journaled event into SQLite on this thread, then answers
    /// `flushes`.
    fn answer_after_move_here(&mut self, flushes: &mut Vec<Reply<()>>) -> bool {
        let result = self.move_here();
        if let Err(error) = &result {
            tracing::error!(%error, "moving journaled audit events into the data store failed");
            self.move_failed();
        } else {
            self.retry = None;
        }
        for reply in flushes.drain(..) {
            let _ = reply.send(result.as_ref().map(|_| ()).map_err(copy_of));
        }
        true
    }

    /// Numbers and chains a batch of events that change nothing else,
    /// writes it to the journal and answers it once it is on disk.
    fn journal_batch(&mut self, batch: &mut Vec<(WriteRequest, Reply<WriteOutcome>)>) {
        let (mut seq, mut mac) = self.head;
        let mut entries = Vec::with_capacity(batch.len());
        let mut replies = Vec::with_capacity(batch.len());
        for (request, reply) in batch.drain(..) {
            let mut event = request.audit;
            record_outcome(&mut event, &Ok(WriteOutcome::Done));
            seq += 1;
            mac = self.key.chain(&mac, &event.canonical(seq));
            let read_of = match request.mutation {
                Mutation::RecordRead { secret_id, at } => Some((secret_id, at)),
                _ => None,
            };
            entries.push(JournalEntry { record: AuditRecord { seq, event, mac: mac.to_vec() }, read_of });
            replies.push(reply);
        }
        let started = Instant::now();
        match self.journal.append(&encode_batch(&entries)) {
            Ok(()) => {
                metric_names::audit_batch("journal", entries.len(), started.elapsed().as_secs_f64());
                self.head = (seq, mac);
                let observed = self.observe(entries.iter().map(|e| &e.record));
                self.answer(entries, replies, observed);
            }
            Err(error) => {
                tracing::error!(%error, "writing to the audit journal failed; \
                    recording events through the database until the journal is started over");
                // Nothing of this batch was answered: its numbers are used
                // again (the head moves only on success).
                self.journal_failed = true;
                for reply in replies {
                    let _ = reply.send(Err(copy_of(&error)));
                }
            }
        }
    }

    /// Answers a batch that is on disk (with the sinks' error, if they failed).
    fn answer(
        &mut self,
        entries: Vec<JournalEntry>,
        replies: Vec<Reply<WriteOutcome>>,
        observed: Result<(), StoreError>,
    ) {
        self.recent_reads.note(entries.iter().filter_map(|e| e.read_of.clone()));
        tracing::trace!(size = entries.len(), "journal commit");
        self.journal.answered(entries);
        for reply in replies {
            let _ = reply.send(observed.as_ref().map(|()| WriteOutcome::Done).map_err(copy_of));
        }
    }

    /// Hands committed events to the audit sinks, if any.
    fn observe<'a>(&self, records: impl Iterator<Item = &'a AuditRecord>) -> Result<(), StoreError> {
        let Some(observer) = &self.observer else { return Ok(()) };
        let records: Vec<&AuditRecord> = records.collect();
        observer.committed(&records).map_err(|e| {
            tracing::error!(error = %e, events = records.len(), "the audit sink failed; the calls fail");
            StoreError::AuditSink(e)
        })
    }

    /// Commits `batch` through SQLite and answers every request in it.
    fn commit(&mut self, batch: &mut Vec<(WriteRequest, Reply<WriteOutcome>)>) {
        // The journaled events go first: wait for the move in progress.
        self.collect_move(true);
        let requests: Vec<&WriteRequest> = batch.iter().map(|(r, _)| r).collect();
        let started = Instant::now();
        match self.apply_batch(&requests) {
            Ok((results, records)) => {
                metric_names::audit_batch("database", batch.len(), started.elapsed().as_secs_f64());
                tracing::trace!(size = batch.len(), "group commit");
                let observed = self.observe(records.iter());
                for ((_, reply), result) in batch.drain(..).zip(results) {
                    let _ = reply.send(match &observed {
                        Ok(()) => result,
                        Err(e) => Err(copy_of(e)),
                    });
                }
            }
            Err(error) if batch.len() > 1 => {
                tracing::warn!(%error, size = batch.len(), "batch failed; retrying its requests one by one");
                for (request, reply) in batch.drain(..) {
                    let result = match self.apply_batch(&[&request]) {
                        Ok((mut results, records)) => match self.observe(records.iter()) {
                            Ok(()) => results.pop().unwrap_or(Err(StoreError::Closed)),
                            Err(e) => Err(e),
                        },
                        Err(e) => Err(e),
                    };
                    let _ = reply.send(result);
                }
            }
            Err(error) => {
                tracing::error!(%error, "write failed");
                if let Some((_, reply)) = batch.pop() {
                    let _ = reply.send(Err(error));
                }
            }
        }
    }

    /// Applies every request in one transaction, after the journaled events.
    /// `Err` means nothing was committed. With audit sinks, the batch's
    /// events come back too (otherwise the list is empty).
    #[allow(clippy::type_complexity)]
    fn apply_batch(
        &mut self,
        requests: &[&WriteRequest],
    ) -> Result<(Vec<Result<WriteOutcome, StoreError>>, Vec<AuditRecord>), StoreError> {
        self.dictionary.begin();
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(unmoved) = &self.unmoved {
            move_journaled(&tx, &mut self.dictionary, unmoved)?;
        }
        move_journaled(&tx, &mut self.dictionary, self.journal.pending())?;
        let (mut seq, mut mac) = self.head;
        let mut results = Vec::with_capacity(requests.len());
        let mut records = Vec::new();
        // Reads of one secret in one batch need one `last_read_at` update, not one each.
        let mut last_reads: HashMap<&str, i64> = HashMap::new();
        for request in requests {
            let result = match apply(&tx, &request.mutation, &mut last_reads) {
                Err(e @ StoreError::Database(_)) => return Err(e),
                other => other,
            };
            let mut event = request.audit.clone();
            record_outcome(&mut event, &result);
            seq += 1;
            mac = self.key.chain(&mac, &event.canonical(seq));
            append_audit(&tx, &mut self.dictionary, seq, &event, &mac)?;
            if self.observer.is_some() {
                records.push(AuditRecord { seq, event, mac: mac.to_vec() });
            }
            results.push(result);
        }
        set_last_reads(&tx, last_reads)?;
        commit(tx, &self.current)?;
        self.dictionary.committed();
        self.head = (seq, mac);
        self.journal_moved();
        Ok((results, records))
    }

    /// Moves every journaled event into SQLite on this thread (after a move
    /// in progress).
    fn move_here(&mut self) -> Result<(), StoreError> {
        self.collect_move(true);
        if let Some(unmoved) = self.unmoved.clone() {
            commit_moved(&mut self.conn, &self.current, &mut self.dictionary, &unmoved)?;
            self.unmoved = None;
            self.journal.other_moved();
        }
        if !self.journal.pending().is_empty() {
            commit_moved(&mut self.conn, &self.current, &mut self.dictionary, self.journal.pending())?;
        }
        self.journal_moved();
        Ok(())
    }

    /// After a commit that moved every journaled event: empty the journal.
    fn journal_moved(&mut self) {
        // A failed move's events went in with this commit: their file is free.
        if self.unmoved.take().is_some() {
            self.journal.other_moved();
        }
        if self.journal.pending().is_empty() && !self.journal_failed {
            return;
        }
        self.recent_reads.moved();
        // Starting the file over can fail without harm: what it still holds
        // is at or below SQLite's head, or does not chain from it, and is
        // skipped when read back. Until then, a failed journal stays out of use.
        match self.journal.clear() {
            Ok(()) => self.journal_failed = false,
            Err(error) => tracing::warn!(%error, "could not empty the audit journal; its events are in the data store"),
        }
    }
}

/// Commits `entries` (journaled events, oldest first) to SQLite in one
/// transaction, numbering their strings with `dictionary`.
pub(super) fn commit_moved(
    conn: &mut Connection,
    current: &CurrentVersions,
    dictionary: &mut Dictionary,
    entries: &[JournalEntry],
) -> Result<(), StoreError> {
    dictionary.begin();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    move_journaled(&tx, dictionary, entries)?;
    commit(tx, current)?;
    dictionary.committed();
    Ok(())
}

/// Whether a mutation changes nothing but the audit log (and `last_read_at`,
/// which the journal carries too).
fn only_records(mutation: &Mutation) -> bool {
    matches!(mutation, Mutation::AuditOnly | Mutation::RecordRead { .. })
}

/// An error to answer each of several requests with (errors are not `Clone`).
pub(super) fn copy_of(error: &StoreError) -> StoreError {
    StoreError::Database(Box::new(std::io::Error::other(error.to_string())))
}

fn head_of(record: &AuditRecord) -> Head {
    (record.seq, record.mac.as_slice().try_into().unwrap_or(AUDIT_GENESIS))
}

/// Every commit of the data store: the cache of current versions learns of
/// it before anyone is answered, whether or not it succeeded.
fn commit(tx: Transaction<'_>, current: &CurrentVersions) -> Result<(), StoreError> {
    let committed = tx.commit();
    current.changed();
    Ok(committed?)
}

/// Deletes the oldest events by their key range: at most `limit`, none after `through`.
fn prune_audit(conn: &mut Connection, current: &CurrentVersions, through: u64, limit: u32) -> Result<u64, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let removed = tx.execute(
        "DELETE FROM audit_events WHERE seq <= ?1 AND seq < (SELECT MIN(seq) FROM audit_events) + ?2",
        params![through as i64, i64::from(limit)],
    )?;
    commit(tx, current)?;
    Ok(removed as u64)
}

/// The newest event in `audit_events`, or the genesis.
fn sqlite_head(conn: &mut Connection) -> Result<Head, StoreError> {
    let head = conn
        .query_row("SELECT seq, mac FROM audit_events ORDER BY seq DESC LIMIT 1", [], |r| {
            Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
        })
        .optional()?;
    Ok(match head {
        Some((seq, mac)) => (seq as u64, mac.as_slice().try_into().unwrap_or(AUDIT_GENESIS)),
        None => (0, AUDIT_GENESIS),
    })
}

/// Inserts the journaled events and sets the `last_read_at` they carry.
fn move_journaled(
    tx: &Transaction<'_>,
    dictionary: &mut Dictionary,
    entries: &[JournalEntry],
) -> Result<(), StoreError> {
    let mut last_reads: HashMap<&str, i64> = HashMap::new();
    for entry in entries {
        let mac: [u8; 32] = entry.record.mac.as_slice().try_into().unwrap_or(AUDIT_GENESIS);
        append_audit(tx, dictionary, entry.record.seq, &entry.record.event, &mac)?;
        if let Some((secret_id, at)) = &entry.read_of {
            let latest = last_reads.entry(secret_id.as_str()).or_insert(*at);
            *latest = (*latest).max(*at);
        }
    }
    set_last_reads(tx, last_reads)
}

fn set_last_reads(tx: &Transaction<'_>, last_reads: HashMap<&str, i64>) -> Result<(), StoreError> {
    for (secret_id, at) in last_reads {
        tx.prepare_cached("UPDATE secrets SET last_read_at = max(coalesce(last_read_at, 0), ?) WHERE id = ?")?
            .execute(params![at, secret_id])?;
    }
    Ok(())
}

fn initialize(conn: &mut Connection, current: &CurrentVersions, id: &str) -> Result<(), StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    if tx.query_row("SELECT id FROM installation", [], |r| r.get::<_, String>(0)).optional()?.is_some() {
        return Err(StoreError::Conflict(Conflict::AlreadyExists));
    }
    tx.execute("INSERT INTO installation (id, created_at) VALUES (?, ?)", params![id, now_millis()])?;
    commit(tx, current)?;
    Ok(())
}

/// Appends one event, its strings as the dictionary's numbers (migration 0006).
pub(crate) fn append_audit(
    tx: &Connection,
    dictionary: &mut Dictionary,
    seq: u64,
    e: &AuditEvent,
    mac: &[u8; 32],
) -> Result<(), StoreError> {
    let action = dictionary.text(tx, e.action.as_str())?;
    let outcome = dictionary.text(tx, e.outcome.as_str())?;
    let namespace = dictionary.namespace(tx, e.namespace.as_deref(), e.namespace_id.as_deref())?;
    let name = dictionary.opt_text(tx, e.name.as_deref())?;
    let token_id = dictionary.opt_text(tx, e.token_id.as_deref())?;
    let client_addr = dictionary.opt_text(tx, e.client_addr.as_deref())?;
    let identity = dictionary.opt_text(tx, e.identity.as_deref())?;
    let client_cert = dictionary.opt_text(tx, e.client_cert.as_deref())?;
    tx.prepare_cached(
        "INSERT INTO audit_events (seq, at, action, outcome, namespace, name, version, token_id, client_addr, mac, \
         identity, client_cert, context, reason, refused_count, refused_first, refused_last, refused_reasons) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![
        seq as i64,
        e.at,
        action,
        outcome,
        namespace,
        name,
        e.version.map(|v| v as i64),
        token_id,
        client_addr,
        mac.as_slice(),
        identity,
        client_cert,
        e.context,
        e.reason,
        e.refusals.as_ref().map(|r| r.count as i64),
        e.refusals.as_ref().map(|r| r.first_at),
        e.refusals.as_ref().map(|r| r.last_at),
        e.refusals.as_ref().map(|r| &r.reasons),
    ])?;
    Ok(())
}

/// Applies one mutation. Reads are only noted in `last_reads`; the batch
/// writes each secret's newest read time once.
fn apply<'m>(
    tx: &Transaction<'_>,
    mutation: &'m Mutation,
    last_reads: &mut HashMap<&'m str, i64>,
) -> Result<WriteOutcome, StoreError> {
    match mutation {
        Mutation::AuditOnly => Ok(WriteOutcome::Done),
        Mutation::CreateNamespace(ns) => create_namespace(tx, ns),
        Mutation::DeleteNamespace { id } => {
            let deleted = tx.prepare_cached("DELETE FROM namespaces WHERE id = ?")?.execute([id])?;
            if deleted == 0 { Err(StoreError::NotFound) } else { Ok(WriteOutcome::Done) }
        }
        Mutation::PutVersion(put) => put_version(tx, put),
        Mutation::DeleteSecret { namespace_id, name } => {
            let deleted = tx
                .prepare_cached("DELETE FROM secrets WHERE namespace_id = ? AND name = ?")?
                .execute([namespace_id.as_str(), name.as_str()])?;
            Ok(WriteOutcome::Deleted(deleted > 0))
        }
        Mutation::RecordRead { secret_id, at } => {
            let latest = last_reads.entry(secret_id.as_str()).or_insert(*at);
            *latest = (*latest).max(*at);
            Ok(WriteOutcome::Done)
        }
        Mutation::CreateToken(token) => create_token(tx, token),
        Mutation::CreateRole(role) => {
            if tx.prepare_cached("SELECT 1 FROM login_roles WHERE name = ?")?.exists([&role.name])? {
                return Err(StoreError::Conflict(Conflict::AlreadyExists));
            }
            tx.execute(
                "INSERT INTO login_roles (name, definition, created_at, created_by, mac) VALUES (?, ?, ?, ?, ?)",
                params![role.name, role.definition, role.created_at, role.created_by, role.mac],
            )?;
            Ok(WriteOutcome::Done)
        }
        Mutation::DeleteRole { name } => {
            let deleted = tx.execute("DELETE FROM login_roles WHERE name = ?", [name])?;
            if deleted == 0 { Err(StoreError::NotFound) } else { Ok(WriteOutcome::Done) }
        }
        Mutation::Rewrap(versions) => {
            let mut stmt = tx.prepare_cached(
                "UPDATE secret_versions SET ciphertext = ?, key_version = ? \
                 WHERE secret_id = ? AND version = ? AND key_version = ?",
            )?;
            let mut replaced = 0;
            for v in versions {
                replaced += stmt.execute(params![
                    v.ciphertext,
                    i64::from(v.to_key_version),
                    v.secret_id,
                    v.version as i64,
                    i64::from(v.from_key_version)
                ])?;
            }
            Ok(WriteOutcome::Rewrapped(replaced))
        }
        Mutation::PutSecretMetadata(change) => put_secret_metadata(tx, change),
        Mutation::ChangeVersions { namespace_id, name, versions, change } => {
            let secret_id: Option<String> = tx
                .prepare_cached("SELECT id FROM secrets WHERE namespace_id = ? AND name = ?")?
                .query_row([namespace_id.as_str(), name.as_str()], |r| r.get(0))
                .optional()?;
            let secret_id = secret_id.ok_or(StoreError::NotFound)?;
            for version in versions {
                let version = *version as i64;
                match change {
                    VersionChange::Delete { at } => tx
                        .prepare_cached(
                            "UPDATE secret_versions SET deleted_at = ? WHERE secret_id = ? AND version = ? \
                             AND destroyed = 0 AND (deleted_at IS NULL OR deleted_at > ?)",
                        )?
                        .execute(params![at, secret_id, version, at])?,
                    VersionChange::Undelete => tx
                        .prepare_cached(
                            "UPDATE secret_versions SET deleted_at = NULL \
                             WHERE secret_id = ? AND version = ? AND destroyed = 0",
                        )?
                        .execute(params![secret_id, version])?,
                    VersionChange::Destroy => tx
                        .prepare_cached(
                            "UPDATE secret_versions SET destroyed = 1, ciphertext = x'' \
                             WHERE secret_id = ? AND version = ?",
                        )?
                        .execute(params![secret_id, version])?,
                };
            }
            Ok(WriteOutcome::Done)
        }
        Mutation::SetNamespaceKv { id, kv } => {
            let changed = tx.execute(
                "UPDATE namespaces SET kv_max_versions = ?, kv_cas_required = ?, kv_delete_version_after = ? WHERE id = ?",
                params![i64::from(kv.max_versions), i64::from(kv.cas_required), kv.delete_version_after, id],
            )?;
            if changed == 0 { Err(StoreError::NotFound) } else { Ok(WriteOutcome::Done) }
        }
        Mutation::RevokeToken { id, at, mac } => {
            let revoked: Option<Option<i64>> =
                tx.query_row("SELECT revoked_at FROM tokens WHERE id = ?", [id], |r| r.get(0)).optional()?;
            match revoked {
                None => Err(StoreError::NotFound),
                Some(Some(_)) => Ok(WriteOutcome::Done),
                Some(None) => {
                    tx.execute("UPDATE tokens SET revoked_at = ?, mac = ? WHERE id = ?", params![at, mac, id])?;
                    Ok(WriteOutcome::Done)
                }
            }
        }
    }
}

fn namespace_exists(tx: &Transaction<'_>, id: &str) -> Result<bool, StoreError> {
    Ok(tx.prepare_cached("SELECT 1 FROM namespaces WHERE id = ?")?.exists([id])?)
}

/// A namespace's KV defaults, if it exists.
fn namespace_kv(tx: &Transaction<'_>, id: &str) -> Result<Option<KvSettings>, StoreError> {
    let mut stmt = tx.prepare_cached("SELECT * FROM namespaces WHERE id = ?")?;
    let mut rows = stmt.query([id])?;
    Ok(rows.next()?.map(rows::namespace).transpose()?.map(|ns| ns.kv))
}

fn existing_secret(tx: &Transaction<'_>, namespace_id: &str, name: &str) -> Result<Option<SecretRecord>, StoreError> {
    let mut stmt = tx.prepare_cached("SELECT * FROM secrets WHERE namespace_id = ? AND name = ?")?;
    let mut rows = stmt.query([namespace_id, name])?;
    rows.next()?.map(rows::secret).transpose()
}

fn put_secret_metadata(tx: &Transaction<'_>, c: &SecretMetadataChange) -> Result<WriteOutcome, StoreError> {
    if !namespace_exists(tx, &c.namespace_id)? {
        return Err(StoreError::NotFound);
    }
    if existing_secret(tx, &c.namespace_id, c.name.as_str())?.is_none() {
        tx.prepare_cached(
            "INSERT INTO secrets (namespace_id, name, id, type, version, created_at, updated_at) \
             VALUES (?, ?, ?, 'generic', 0, ?, ?)",
        )?
        .execute(params![c.namespace_id, c.name.as_str(), c.new_secret_id, c.at, c.at])?;
    }
    tx.prepare_cached(
        "UPDATE secrets SET max_versions = COALESCE(?, max_versions), cas_required = COALESCE(?, cas_required), \
         delete_version_after = COALESCE(?, delete_version_after), custom_metadata = COALESCE(?, custom_metadata), \
         updated_at = ? WHERE namespace_id = ? AND name = ?",
    )?
    .execute(params![
        c.max_versions.map(i64::from),
        c.cas_required.map(i64::from),
        c.delete_version_after,
        c.custom_metadata,
        c.at,
        c.namespace_id,
        c.name.as_str()
    ])?;
    Ok(WriteOutcome::Done)
}

fn create_namespace(tx: &Transaction<'_>, ns: &NamespaceRecord) -> Result<WriteOutcome, StoreError> {
    if tx.prepare_cached("SELECT 1 FROM namespaces WHERE name = ? OR id = ?")?.exists([ns.name.as_str(), &ns.id])? {
        return Err(StoreError::Conflict(Conflict::AlreadyExists));
    }
    tx.execute(
        "INSERT INTO namespaces (id, name, created_at) VALUES (?, ?, ?)",
        params![ns.id, ns.name.as_str(), ns.created_at],
    )?;
    Ok(WriteOutcome::Done)
}

fn put_version(tx: &Transaction<'_>, p: &PutVersion) -> Result<WriteOutcome, StoreError> {
    let namespace_kv = namespace_kv(tx, &p.namespace_id)?.ok_or(StoreError::NotFound)?;
    let existing = existing_secret(tx, &p.namespace_id, p.name.as_str())?;
    let slot = put_slot(existing.as_ref(), namespace_kv, p)?;
    let (secret_id, version) = (slot.secret_id.as_str(), slot.version);
    // Sealed here, inside the transaction, for exactly the slot being written.
    let ciphertext = (p.seal)(VersionSlot { secret_id, version }).map_err(StoreError::Seal)?;
    if existing.is_none() {
        tx.prepare_cached(
            "INSERT INTO secrets (namespace_id, name, id, type, version, created_at, updated_at) \
             VALUES (?, ?, ?, ?, 1, ?, ?)",
        )?
        .execute(params![p.namespace_id, p.name.as_str(), secret_id, p.secret_type.as_str(), p.at, p.at])?;
    } else {
        tx.prepare_cached("UPDATE secrets SET version = ?, updated_at = ? WHERE id = ?")?.execute(params![
            version as i64,
            p.at,
            secret_id
        ])?;
    }
    tx.prepare_cached(
        "INSERT INTO secret_versions (secret_id, version, key_version, ciphertext, created_at, deleted_at) \
         VALUES (?, ?, ?, ?, ?, ?)",
    )?
    .execute(params![secret_id, version as i64, i64::from(p.key_version), ciphertext, p.at, slot.deleted_at])?;
    if let Some(oldest_gone) = prune_at_or_below(version, slot.keep) {
        tx.prepare_cached("DELETE FROM secret_versions WHERE secret_id = ? AND version <= ?")?
            .execute(params![secret_id, oldest_gone as i64])?;
    }
    Ok(WriteOutcome::Secret(put_record(existing, p, slot.secret_id, version)))
}

fn create_token(tx: &Transaction<'_>, t: &TokenRecord) -> Result<WriteOutcome, StoreError> {
    for id in &t.issued_namespace_ids {
        if !namespace_exists(tx, id)? {
            return Err(StoreError::NotFound);
        }
    }
    tx.execute(
        "INSERT INTO tokens (id, hash, description, all_namespaces, namespace_ids, scopes, created_at, expires_at, \
         revoked_at, created_by, identity, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        params![
            t.id,
            t.hash,
            t.description,
            i64::from(t.all_namespaces()),
            t.issued_namespace_ids.join(" "),
            t.scopes.to_list(),
            t.created_at,
            t.expires_at,
            t.revoked_at,
            t.created_by,
            t.identity,
            t.mac,
        ],
    )?;
    Ok(WriteOutcome::Done)
}
