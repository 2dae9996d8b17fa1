//! Checkpoints of the data store's write-ahead log, mostly off the writer's
//! path.
//!
//! SQLite's default copies the log back into the database file on the
//! connection that committed, right after a commit that left the log at
//! 1,000 pages or more: the writer then writes those pages into the
//! database file and syncs it while every request waits. In a small store
//! the pages lie together and this is quick; in a large one (a million
//! secrets, ten million audit events) they lie all over a file of a
//! gigabyte or more: writes there waited 5.9–6.6 ms at the 90th percentile
//! (2–2.5 in an empty store), and 4.5–4.7 ms with the copying moved here
//! (docs/benchmarks.md).
//!
//! Here a thread of its own, on a connection of its own, copies the log
//! (a `PASSIVE` checkpoint, which never blocks a writer or a reader) when a
//! commit leaves it at [`CHECKPOINT_AT`] pages. SQLite starts the log over
//! only when a writer begins while every page in it has been copied; the
//! writer commits meanwhile, so the thread alone would never catch up and
//! the log would grow without bound. So once the thread's round has ended,
//! the next commit that finds the log still long copies, itself, only the
//! pages committed while the round ran; the transaction after it then
//! starts the log over, as before. (A log shorter than when the round
//! began was started over since: if one large transaction made it long
//! again, that is a round of its own, not a copy on the writer.)
//!
//! SQLite syncs the database file after a checkpoint only when it copied
//! the whole log (only then may the log start over); a round the writer
//! outran leaves its pages in the kernel's cache, and the commit that copies
//! the rest used to pay for their `fsync` while every request waited (4 ms
//! at 1,000 pages in a store of 1.8 GB, 18 ms at 16,000). So the thread
//! syncs the database file itself after each round, through SQLite's own
//! descriptor ([`super::file_sync`] says why not one of ours), and the
//! commit's copy then syncs only the few pages it wrote. That makes a longer
//! log cheap, and a longer log is cheaper still: a page written again
//! before its round is copied once (at scale, 16,000 pages gave 23% more
//! writes than 1,000, with a lower 99th percentile; docs/benchmarks.md).
//!
//! The log holds the same data either way: a checkpoint only copies
//! committed pages into the database file, after syncing the log, and a
//! crash in the middle of one is recovered by SQLite like any other. If
//! the thread cannot be started, the connections keep SQLite's default.

use std::ffi::c_int;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};

use rusqlite::Connection;
use rusqlite::hooks::Wal;
use rusqlite::wal::CheckpointMode;

use super::file_sync;
use crate::StoreError;

/// The log's length, in pages, at which it is copied back: 64 MB of 4 KiB
/// pages (SQLite's own default is 1,000). The log's file keeps its longest
/// length once it starts over, and a process killed with a full log has
/// SQLite read it all at the next start (tens of milliseconds).
pub(crate) const CHECKPOINT_AT: u32 = 16_000;

/// Where the background round stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Round {
    /// No round asked for since the log was last started over.
    Idle,
    /// Asked for, or being copied.
    Running,
    /// Ended, with the log `pages` long when it began (0 if unknown): the
    /// pages committed during it are still to be copied, unless the log
    /// has been started over since (it is then shorter than that).
    Ended { pages: c_int },
}

/// What a commit that left the log at a given length should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AfterCommit {
    Nothing,
    /// Wake the thread for a round.
    AskForRound,
    /// Copy the pages left over from the round that ended, inline.
    CopyTheRest,
}

/// The state the committing connections and the thread share.
#[derive(Debug)]
struct Shared {
    round: Mutex<Round>,
    /// The log's length, in pages, at which a round is asked for.
    checkpoint_at: c_int,
}

impl Shared {
    /// Moves the round on after a commit that left `pages` in the log.
    fn after_commit(&self, pages: c_int) -> AfterCommit {
        let mut round = self.round.lock().unwrap_or_else(PoisonError::into_inner);
        // The log was started over since the round ended (and a large
        // transaction may have made it long again): a round of its own.
        if let Round::Ended { pages: then } = *round
            && pages < then
        {
            *round = Round::Idle;
        }
        match (*round, pages >= self.checkpoint_at) {
            (Round::Ended { .. }, false) => {
                *round = Round::Idle;
                AfterCommit::Nothing
            }
            (_, false) | (Round::Running, true) => AfterCommit::Nothing,
            (Round::Idle, true) => {
                *round = Round::Running;
                AfterCommit::AskForRound
            }
            (Round::Ended { .. }, true) => {
                *round = Round::Idle;
                AfterCommit::CopyTheRest
            }
        }
    }

    fn round_ended(&self, pages: c_int) {
        *self.round.lock().unwrap_or_else(PoisonError::into_inner) = Round::Ended { pages };
    }
}

/// The checkpointing thread, seen from the connections that commit.
#[derive(Debug, Clone)]
pub(crate) struct Checkpointer {
    shared: Arc<Shared>,
    rounds: Sender<()>,
}

impl Checkpointer {
    /// Starts the thread, which checkpoints through `conn` (a read-write
    /// connection of its own) whenever a commit leaves the log at
    /// `checkpoint_at` pages or more. It ends when every connection watched
    /// through [`Checkpointer::watch`] is closed and this value is dropped.
    pub(crate) fn spawn(conn: Connection, checkpoint_at: u32) -> std::io::Result<Self> {
        let checkpoint_at = c_int::try_from(checkpoint_at).unwrap_or(c_int::MAX).max(1);
        let shared = Arc::new(Shared { round: Mutex::new(Round::Idle), checkpoint_at });
        let (rounds, asked) = mpsc::channel();
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new().name("hush-checkpointer".into()).spawn(move || run(conn, &thread_shared, asked))?;
        Ok(Checkpointer { shared, rounds })
    }

    /// Takes over the checkpoints of `conn`, a connection that commits
    /// (this replaces SQLite's automatic checkpoint on it).
    ///
    /// The log's file keeps its longest length when the log starts over
    /// (writing over it is cheaper than growing it), and a snapshot held
    /// for long (a backup being downloaded) lets the log grow far past the
    /// threshold. So the first commit after the log starts over cuts the
    /// file back to twice the threshold, a length ordinary rounds never
    /// reach.
    pub(crate) fn watch(&self, conn: &mut Connection) -> Result<(), StoreError> {
        let limit = conn.query_row("PRAGMA page_size", [], |row| row.get::<_, i64>(0)).and_then(|page_size| {
            conn.pragma_update(None, "journal_size_limit", log_size_limit(self.shared.checkpoint_at, page_size))
        });
        if let Err(error) = limit {
            tracing::warn!(%error, "could not limit the write-ahead log's file size; it keeps its longest length");
        }
        let checkpointer = self.clone();
        conn.wal_hook(Some(move |wal: &mut Wal, pages: c_int| {
            match checkpointer.shared.after_commit(pages) {
                AfterCommit::Nothing => {}
                AfterCommit::AskForRound => {
                    if checkpointer.rounds.send(()).is_err() {
                        // The thread is gone: copy here, as SQLite would.
                        report(wal.checkpoint_v2(CheckpointMode::PASSIVE));
                        checkpointer.shared.round_ended(0);
                    }
                }
                // The commit has happened whatever a checkpoint returns:
                // an error must not fail it, so it is only logged (SQLite's
                // own automatic checkpoint ignores it too).
                AfterCommit::CopyTheRest => {
                    report(wal.checkpoint_v2(CheckpointMode::PASSIVE));
                }
            }
            Ok(())
        }))?;
        Ok(())
    }
}

/// The thread: one `PASSIVE` checkpoint per round asked for, then a sync
/// of the database file (see the module's header).
fn run(conn: Connection, shared: &Shared, asked: Receiver<()>) {
    /// Ends the round however the checkpoint ends, a panic included: a
    /// round left running would never be asked for again, and the log
    /// would grow without bound.
    struct RoundEnds<'a> {
        shared: &'a Shared,
        pages: c_int,
    }
    impl Drop for RoundEnds<'_> {
        fn drop(&mut self) {
            self.shared.round_ended(self.pages);
        }
    }
    // Frames of the log copied so far, as the last round left them.
    let mut copied_before = 0;
    for () in asked {
        let mut round = RoundEnds { shared, pages: 0 };
        let copied;
        (round.pages, copied) = report(conn.wal_checkpoint_v2(None::<&str>, CheckpointMode::PASSIVE));
        // Before the round ends, so the commit that copies the rest finds
        // the round's pages on disk already. Only if the round copied
        // anything: SQLite counts the frames copied since the log started
        // over, and while a snapshot is held (a backup) round after round
        // copies none. (A count equal to the last round's in a log started
        // over since skips a sync; the full checkpoint syncs anyway.) A
        // failure loses nothing either: the checkpoint that copies the
        // whole log syncs the file.
        let copied_now = copied > 0 && copied != copied_before;
        copied_before = copied;
        if copied_now && let Err(error) = file_sync::sync_database_file(&conn) {
            tracing::warn!(%error, "syncing the data store's file after a checkpoint failed; the next full checkpoint syncs it");
        }
    }
}

/// The length, in bytes, the log's file is cut back to when it starts over:
/// twice the threshold's frames (a page and its 24-byte header each). Under
/// continuous writes on a store of 1.8 GB the log peaked at 1.05 times the
/// threshold, so ordinary rounds never pay for the cut.
fn log_size_limit(checkpoint_at: c_int, page_size: i64) -> i64 {
    2 * i64::from(checkpoint_at) * (page_size + 24)
}

/// The log's length when a checkpoint began and the frames of it copied
/// so far, by this checkpoint and those before it since the log started
/// over (0 and 0 if it failed), logging a failure. Another checkpoint in
/// progress (a round and a copy of the rest at once, rarely) is no failure:
/// the next round copies what this one did not.
fn report(result: rusqlite::Result<(c_int, c_int)>) -> (c_int, c_int) {
    match result {
        Ok(pages_and_copied) => pages_and_copied,
        Err(error) if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) => {
            tracing::debug!("a write-ahead log checkpoint found another in progress");
            (0, 0)
        }
        Err(error) => {
            tracing::warn!(%error, "copying the write-ahead log into the data store failed; it is tried again after a later commit");
            (0, 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const AT: c_int = 1000;

    fn shared(round: Round) -> Shared {
        Shared { round: Mutex::new(round), checkpoint_at: AT }
    }

    /// The connection's pages reach the database file on the thread, not
    /// on the committing connection, and the thread ends (closing its
    /// connection) once the watched connections and the checkpointer are
    /// gone: the last connection to close removes the log.
    #[test]
    fn a_round_copies_the_log_on_its_own_thread_which_ends_with_the_connections() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let open = || crate::sqlite::connect::open(&path, crate::sqlite::connect::Access::ReadWrite, false).unwrap();
        let mut conn = open();
        let checkpointer = Checkpointer::spawn(open(), AT as u32).unwrap();
        checkpointer.watch(&mut conn).unwrap();
        let rows = 1200;
        conn.execute_batch("CREATE TABLE t (x BLOB)").unwrap();
        let tx = conn.transaction().unwrap();
        for _ in 0..rows {
            tx.execute("INSERT INTO t VALUES (zeroblob(4000))", []).unwrap();
        }
        tx.commit().unwrap();

        let waited = std::time::Instant::now();
        while !matches!(*checkpointer.shared.round.lock().unwrap(), Round::Ended { .. }) {
            assert!(waited.elapsed().as_secs() < 20, "the round did not end");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        let round = *checkpointer.shared.round.lock().unwrap();
        assert!(matches!(round, Round::Ended { pages } if pages >= rows as c_int), "{round:?}");
        let copied = std::fs::metadata(&path).unwrap().len();
        assert!(copied >= rows * 4000, "the database file holds the rows after the round: {copied} bytes");

        let wal = dir.path().join("t.db-wal");
        assert!(wal.exists());
        drop(conn);
        drop(checkpointer);
        while wal.exists() {
            assert!(waited.elapsed().as_secs() < 20, "the thread kept its connection open");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    #[test]
    fn a_round_moves_through_its_states_as_the_log_grows_and_starts_over() {
        let short = AT - 1;
        let long = AT;
        // (state before, pages after the commit, what the commit does, state after)
        let cases = [
            (Round::Idle, short, AfterCommit::Nothing, Round::Idle),
            (Round::Idle, long, AfterCommit::AskForRound, Round::Running),
            (Round::Running, long + 500, AfterCommit::Nothing, Round::Running),
            (Round::Running, short, AfterCommit::Nothing, Round::Running),
            (Round::Ended { pages: long }, long + 40, AfterCommit::CopyTheRest, Round::Idle),
            (Round::Ended { pages: 0 }, long + 40, AfterCommit::CopyTheRest, Round::Idle),
            (Round::Ended { pages: long }, 3, AfterCommit::Nothing, Round::Idle),
            // Started over since, and one large commit made it long again.
            (Round::Ended { pages: long + 500 }, long + 100, AfterCommit::AskForRound, Round::Running),
        ];
        for (before, pages, expected, after) in cases {
            let shared = shared(before);
            assert_eq!(shared.after_commit(pages), expected, "{before:?} at {pages} pages");
            assert_eq!(*shared.round.lock().unwrap(), after, "{before:?} at {pages} pages");
        }
    }
}
