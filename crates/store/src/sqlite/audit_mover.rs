//! Moving journaled audit events into SQLite off the writer's path.
//!
//! When a journal file fills (or the audit log is about to be read), the
//! writer switches to the other file and hands the full one's events to
//! this thread, which inserts them in one transaction on a read-write
//! connection of its own, while the writer goes on journaling new batches.
//! Moved on the writer's thread, 2,048 events held every request waiting on
//! the writer for about 4 ms, a dozen times a second under load: that was
//! most of the read p99 and about 8% of the time (docs/benchmarks.md).
//!
//! Only one connection writes at a time: the writer waits for a move in
//! progress before it commits anything itself, so the events reach SQLite
//! in order, the chain there has no gap, and a crash never leaves a later
//! event committed before an earlier one.
//!
//! The writer keeps its own reference to the events it handed over, so a
//! move that fails (or a thread that died) loses nothing: the writer tries
//! again, or moves them itself.

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvError, Sender, TryRecvError};

use rusqlite::Connection;
use tokio::sync::oneshot;

use super::audit_dictionary::Dictionary;
use super::audit_journal::JournalEntry;
use super::current_versions::CurrentVersions;
use super::group_commit::{commit_moved, copy_of};
use crate::StoreError;

/// Answered once the events are committed, or the move failed.
pub(crate) type FlushReply = oneshot::Sender<Result<(), StoreError>>;

/// Work for the thread: events to move, the writer's numbering of audit
/// strings (lent for the move: only one connection numbers them at a
/// time), and the flushes waiting for these events.
struct Move {
    entries: Arc<[JournalEntry]>,
    dictionary: Dictionary,
    flushes: Vec<FlushReply>,
}

/// A move that ended.
pub(crate) struct Finished {
    /// The events it was given.
    pub(crate) entries: Arc<[JournalEntry]>,
    /// The numbering lent for it; `None` if the thread is gone (start over
    /// with an empty one: numbers are looked up again).
    pub(crate) dictionary: Option<Dictionary>,
    /// Whether they are committed.
    pub(crate) result: Result<(), StoreError>,
}

/// The moving thread, seen from the writer.
pub(crate) struct Mover {
    jobs: Sender<Move>,
    done: Receiver<(Dictionary, Result<(), StoreError>)>,
    /// The events of the move in progress.
    in_flight: Option<Arc<[JournalEntry]>>,
}

impl Mover {
    /// Starts the thread, which writes through `conn`.
    pub(crate) fn spawn(mut conn: Connection, current: Arc<CurrentVersions>) -> std::io::Result<Self> {
        let (jobs, work) = mpsc::channel::<Move>();
        let (report, done) = mpsc::channel();
        std::thread::Builder::new().name("hush-audit-mover".into()).spawn(move || {
            for Move { entries, mut dictionary, flushes } in work {
                let result = commit_moved(&mut conn, &current, &mut dictionary, &entries);
                if let Err(error) = &result {
                    tracing::error!(%error, events = entries.len(), "moving journaled audit events into the data store failed");
                }
                for flush in flushes {
                    let _ = flush.send(result.as_ref().map(|_| ()).map_err(copy_of));
                }
                if report.send((dictionary, result)).is_err() {
                    break;
                }
            }
        })?;
        Ok(Mover { jobs, done, in_flight: None })
    }

    /// Whether a move is in progress.
    pub(crate) fn busy(&self) -> bool {
        self.in_flight.is_some()
    }

    /// Hands `entries` over to be committed, then `flushes` answered. If
    /// the thread is gone, gives everything back.
    pub(crate) fn start(
        &mut self,
        entries: Arc<[JournalEntry]>,
        dictionary: Dictionary,
        flushes: Vec<FlushReply>,
    ) -> Result<(), Box<(Dictionary, Vec<FlushReply>)>> {
        debug_assert!(self.in_flight.is_none());
        let job = Move { entries: Arc::clone(&entries), dictionary, flushes };
        match self.jobs.send(job) {
            Ok(()) => {
                self.in_flight = Some(entries);
                Ok(())
            }
            Err(mpsc::SendError(job)) => Err(Box::new((job.dictionary, job.flushes))),
        }
    }

    /// The move in progress, once it has ended (waiting for it if `wait`).
    pub(crate) fn finished(&mut self, wait: bool) -> Option<Finished> {
        let entries = self.in_flight.take()?;
        let report =
            if wait { self.done.recv().map_err(|RecvError| TryRecvError::Disconnected) } else { self.done.try_recv() };
        match report {
            Ok((dictionary, result)) => Some(Finished { entries, dictionary: Some(dictionary), result }),
            Err(TryRecvError::Empty) => {
                self.in_flight = Some(entries);
                None
            }
            Err(TryRecvError::Disconnected) => Some(Finished {
                entries,
                dictionary: None,
                result: Err(StoreError::Database(Box::new(std::io::Error::other(
                    "the thread moving audit events into the data store stopped",
                )))),
            }),
        }
    }
}
