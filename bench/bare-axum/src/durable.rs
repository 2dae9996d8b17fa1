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

use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::mpsc;

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
    /// Creates (or overwrites) `path`, fills it with zeros, syncs it, and
    /// starts the thread that writes to it.
    pub fn open(path: &Path) -> io::Result<Self> {
        let file = File::create(path)?;
        file.write_all_at(&vec![0; FILE_SIZE as usize], 0)?;
        file.sync_all()?;
        let (requests, waiting) = mpsc::channel();
        std::thread::Builder::new().name("bare-journal".into()).spawn(move || write_batches(&file, &waiting))?;
        Ok(Self { requests })
    }

    /// Asks for one record; the receiver completes once it is synced, and
    /// fails if the thread has stopped (a write or a sync failed).
    pub fn record(&self) -> oneshot::Receiver<()> {
        let (synced, wait) = oneshot::channel();
        // A closed channel drops `synced`, so the caller's wait fails.
        let _ = self.requests.send(synced);
        wait
    }
}

/// The thread: take every request waiting (blocking for the first), write
/// their records in one `pwrite`, `fdatasync`, answer them; again.
fn write_batches(file: &File, waiting: &mpsc::Receiver<oneshot::Sender<()>>) {
    let mut batch = Vec::new();
    let mut bytes = Vec::new();
    let mut offset = 0u64;
    while let Ok(first) = waiting.recv() {
        batch.push(first);
        batch.extend(waiting.try_iter());
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
    fn fresh(name: &str) -> (std::path::PathBuf, std::path::PathBuf, Journal) {
        let dir = std::env::temp_dir().join(format!("bare-journal-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("journal");
        let journal = Journal::open(&path).unwrap();
        (dir, path, journal)
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_request_is_answered_after_its_record_is_in_the_file() {
        let (dir, path, journal) = fresh("answers");
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
        let (dir, path, journal) = fresh("wrap");
        let records = FILE_SIZE as usize / RECORD + 10;
        for _ in 0..records {
            journal.record().await.unwrap();
        }
        assert_eq!(std::fs::metadata(&path).unwrap().len(), FILE_SIZE, "the file did not grow");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
