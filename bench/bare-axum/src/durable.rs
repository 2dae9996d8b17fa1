//! The bare server's journal: one record per request, written and synced
//! in batches by a thread of its own, each request answered only after the
//! batch holding its record is synced.
//!
//! Deliberately the least a durable record can cost, so that it is a limit
//! and not a second hush: fixed 200-byte records (about the size of one of
//! hush's journaled read events), no numbering, no MAC, no move into a
//! database; the file is written through once at start, so a sync commits
//! only data (an append would also commit the file's new size through the
//! file system's journal), and written from its start again when full.
//!
//! With more than one lane, that many threads each keep a file of their own
//! and take turns at the queue: while one waits for its sync, the next
//! takes what arrived meanwhile and syncs its own file, so syncs overlap.
//! An experiment for whether a server could beat the one-sync-at-a-time
//! limit on this disk (it did not: docs/benchmarks.md).

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::{Arc, Mutex, mpsc};

use tokio::sync::oneshot;

/// Size of one request's record.
const RECORD: usize = 200;
/// Size of the file, written through with zeros at start.
const FILE_SIZE: u64 = 1 << 20;

/// The handle requests record through; cheap to clone.
#[derive(Clone, Debug)]
pub struct Journal {
    requests: mpsc::Sender<oneshot::Sender<()>>,
}

impl Journal {
    /// Creates (or overwrites) the file of each of `lanes` lanes (at least
    /// one; the first is `path`), fills it with zeros, syncs it, and starts
    /// the lane's thread that writes to it.
    pub fn open(path: &Path, lanes: usize) -> io::Result<Self> {
        let (requests, waiting) = mpsc::channel();
        let waiting = Arc::new(Mutex::new(waiting));
        for lane in 0..lanes.max(1) {
            let file = File::create(lane_path(path, lane))?;
            file.write_all_at(&vec![0; FILE_SIZE as usize], 0)?;
            file.sync_all()?;
            let waiting = Arc::clone(&waiting);
            std::thread::Builder::new().name("bare-journal".into()).spawn(move || write_batches(&file, &waiting))?;
        }
        Ok(Self { requests })
    }

    pub fn record(&self) -> oneshot::Receiver<()> {
        let (synced, wait) = oneshot::channel();
        // A closed channel drops `synced`, so the caller's wait fails.
        let _ = self.requests.send(synced);
        wait
    }
}

/// The file of lane `lane`: `path` itself for the first.
fn lane_path(path: &Path, lane: usize) -> std::path::PathBuf {
    if lane == 0 { path.to_owned() } else { path.with_extension(format!("lane{lane}")) }
}

/// One lane's thread: take every request waiting (blocking for the first,
/// holding the queue until it has them, so the other lanes wait their
/// turn), write their records in one `pwrite`, `fdatasync`, answer them;
/// again.
fn write_batches(file: &File, waiting: &Mutex<mpsc::Receiver<oneshot::Sender<()>>>) {
    let mut batch = Vec::new();
    let mut bytes = Vec::new();
    let mut offset = 0u64;
    loop {
        {
            let Ok(waiting) = waiting.lock() else { return };
            let Ok(first) = waiting.recv() else { return };
            batch.push(first);
            batch.extend(waiting.try_iter());
        }
        bytes.clear();
        bytes.resize(batch.len() * RECORD, b'r');
        if offset + bytes.len() as u64 > FILE_SIZE {
            offset = 0;
        }
        let written = file.write_all_at(&bytes, offset).and_then(|()| file.sync_data());
        if let Err(e) = written {
            eprintln!("journal: {e}");
            return;
        }
        offset += bytes.len() as u64;
        for synced in batch.drain(..) {
            let _ = synced.send(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A journal in a directory of its own under the system's temp dir.
    fn fresh(name: &str, lanes: usize) -> (std::path::PathBuf, std::path::PathBuf, Journal) {
        let dir = std::env::temp_dir().join(format!("bare-journal-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("journal");
        let journal = Journal::open(&path, lanes).unwrap();
        (dir, path, journal)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_request_is_answered_after_its_record_is_in_the_file() {
        let (dir, path, journal) = fresh("answers", 1);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), FILE_SIZE, "written through at start");

        let waits: Vec<_> = (0..50).map(|_| journal.record()).collect();
        for wait in waits {
            wait.await.expect("the record was synced");
        }
        let written = std::fs::read(&path).unwrap();
        assert!(written[..50 * RECORD].iter().all(|&b| b == b'r'), "50 records before the answers");
        assert!(written[50 * RECORD..].iter().all(|&b| b == 0), "nothing past them");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_full_file_is_written_from_its_start_again() {
        let (dir, path, journal) = fresh("wrap", 1);
        let records = FILE_SIZE as usize / RECORD + 10;
        for _ in 0..records {
            journal.record().await.unwrap();
        }
        assert_eq!(std::fs::metadata(&path).unwrap().len(), FILE_SIZE, "the file did not grow");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// With three lanes, every answer still waits for its record: the
    /// records in the lanes' files add up to the requests answered.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn with_lanes_every_answer_waits_for_a_record_in_one_of_their_files() {
        let (dir, path, journal) = fresh("lanes", 3);
        let waits: Vec<_> = (0..300).map(|_| journal.record()).collect();
        for wait in waits {
            wait.await.expect("the record was synced");
        }
        let records: usize = (0..3)
            .map(|lane| {
                let written = std::fs::read(lane_path(&path, lane)).unwrap();
                assert_eq!(written.len() as u64, FILE_SIZE, "lane {lane} written through at start");
                written.iter().filter(|&&b| b == b'r').count() / RECORD
            })
            .sum();
        assert_eq!(records, 300);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
