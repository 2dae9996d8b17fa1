//! The audit journal: small append-only files beside the data store where
//! the writer makes the audit events of calls that change nothing else
//! (reads, listings, refusals) durable.
//!
//! Why: a read changes no data, yet its event must be on disk before the
//! value is returned. Committing it through SQLite costs a transaction with
//! several page writes to the write-ahead log (the event's row, two index
//! entries, the secret's `last_read_at`) and an fsync; that was most of a
//! read's cost. Appending the batch's events to a file and calling
//! `fdatasync` once gives the same durability for a few hundred bytes
//! written. The events move into SQLite's `audit_events` later, in large
//! batches ([`AuditJournal::pending`]): when the journal holds [`DRAIN_AT`]
//! events, before any other change is committed (so the chain in SQLite
//! never has a gap), and whenever the audit log is read.
//!
//! There are [`STRIPES`] files, `hush.db-audit-0` to `-3`, so that several
//! batches can be on their way to disk at once: one `fdatasync` takes a few
//! hundred microseconds here, longer than the CPU work of a whole batch, and
//! the disk completes several at once about as fast as one. The writer
//! numbers and chains every event before a batch goes to a stripe, and
//! answers batches strictly in sequence order, so an answered event never
//! depends on one that is not on disk.
//!
//! Each file holds records one after the other, each
//! `[payload length: u32 LE][payload]`, the payload being
//! `[chain MAC: 32][secret id read: text][read time: integer][canonical event]`
//! (the encodings of [`crate::canonical`]). Reading back after a crash, each
//! file is read up to its first record that is cut short or does not parse
//! (an unfinished write, never answered), the records of all files are put
//! in sequence order, and the chain is followed from SQLite's head for as
//! long as the next number is there and its MAC verifies. Records at or
//! below SQLite's head were moved already and are skipped, so a crash
//! between moving the events and emptying the files loses and duplicates
//! nothing.
//!
//! Hand-written rather than a write-ahead-log crate: the format is twenty
//! lines, the MAC chain already protects every record, and the crates found
//! bring their own segment management and threads for less control over
//! when `fdatasync` happens.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hush_crypto::AuditKey;

use crate::canonical::{self, Reader};
use crate::{AuditEvent, AuditRecord, Millis, StoreError};

/// How many journaled events trigger moving them into SQLite.
pub(crate) const DRAIN_AT: usize = 2048;

/// How many journal files take batches at once.
pub(crate) const STRIPES: usize = 4;

/// One journaled event, and the read it records, if any.
#[derive(Debug, Clone)]
pub(crate) struct JournalEntry {
    /// The numbered, chained event.
    pub(crate) record: AuditRecord,
    /// The secret whose `last_read_at` this read sets, and the time.
    pub(crate) read_of: Option<(String, Millis)>,
}

/// One journal file, opened for appending.
#[derive(Debug)]
pub(crate) struct Stripe {
    file: File,
    path: PathBuf,
}

impl Stripe {
    /// Appends `bytes` (whole records) and waits until they are on disk.
    pub(crate) fn append(&self, bytes: &[u8]) -> Result<(), StoreError> {
        (&self.file).write_all(bytes).and_then(|()| self.file.sync_data()).map_err(|e| self.error(e))
    }

    fn error(&self, source: std::io::Error) -> StoreError {
        StoreError::Journal { path: self.path.display().to_string(), source }
    }
}

/// The journal files and the answered events in them that SQLite does not
/// hold yet.
#[derive(Debug)]
pub(crate) struct AuditJournal {
    stripes: Vec<Arc<Stripe>>,
    /// Journal files of another layout found at open (more stripes), emptied
    /// with the others.
    others: Vec<PathBuf>,
    pending: Vec<JournalEntry>,
}

impl AuditJournal {
    /// Opens (creating) the journal of the data store at `data_file` and
    /// reads back the events that follow `head` (the newest event in SQLite,
    /// or the genesis) and chain from it under `key`. They are returned as
    /// [`AuditJournal::pending`]: the caller moves them into SQLite before
    /// anything else, then calls [`AuditJournal::clear`].
    pub(crate) fn open(data_file: &Path, key: &AuditKey, head: (u64, [u8; 32])) -> Result<Self, StoreError> {
        let io = |path: &Path, e: std::io::Error| StoreError::Journal { path: path.display().to_string(), source: e };
        let mut found = Vec::new();
        for path in existing_files(data_file).map_err(|e| io(data_file, e))? {
            let bytes = std::fs::read(&path).map_err(|e| io(&path, e))?;
            let (records, whole) = parse(&bytes);
            if whole < bytes.len() {
                tracing::warn!(
                    path = %path.display(),
                    dropped_bytes = bytes.len() - whole,
                    "an audit journal file ends in an unfinished write (a crash before it was answered); ignoring it"
                );
            }
            found.extend(records);
        }
        let pending = follow_chain(found, key, head);
        let mut stripes = Vec::with_capacity(STRIPES);
        let mut created = false;
        for i in 0..STRIPES {
            let path = stripe_path(data_file, i);
            created |= !path.exists();
            let file = OpenOptions::new().append(true).create(true).open(&path).map_err(|e| io(&path, e))?;
            stripes.push(Arc::new(Stripe { file, path }));
        }
        if created {
            // New files' directory entries must be durable too.
            if let Some(dir) = data_file.parent() {
                File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io(dir, e))?;
            }
        }
        let ours: Vec<PathBuf> = stripes.iter().map(|s| s.path.clone()).collect();
        let others = existing_files(data_file).map_err(|e| io(data_file, e))?.into_iter().filter(|p| !ours.contains(p));
        Ok(AuditJournal { stripes, others: others.collect(), pending })
    }

    /// Stripe `i`, to hand to the thread that appends to it.
    pub(crate) fn stripe(&self, i: usize) -> Arc<Stripe> {
        Arc::clone(&self.stripes[i])
    }

    /// Notes events whose batch is on disk and was answered, in order.
    pub(crate) fn answered(&mut self, entries: Vec<JournalEntry>) {
        self.pending.extend(entries);
    }

    /// The answered events SQLite does not hold yet, oldest first.
    pub(crate) fn pending(&self) -> &[JournalEntry] {
        &self.pending
    }

    /// Forgets the pending events once SQLite committed them, and empties
    /// the files. Only while no batch is on its way to a stripe. Not synced:
    /// if the truncation is lost in a crash, the records read back are at or
    /// below SQLite's head and are skipped.
    pub(crate) fn clear(&mut self) -> Result<(), StoreError> {
        self.pending.clear();
        for stripe in &self.stripes {
            stripe.file.set_len(0).map_err(|e| stripe.error(e))?;
        }
        for path in std::mem::take(&mut self.others) {
            std::fs::remove_file(&path)
                .map_err(|e| StoreError::Journal { path: path.display().to_string(), source: e })?;
        }
        Ok(())
    }
}

/// The path of stripe `i` of the journal of `data_file`.
pub(crate) fn stripe_path(data_file: &Path, i: usize) -> PathBuf {
    let mut name = data_file.as_os_str().to_owned();
    name.push(format!("-audit-{i}"));
    PathBuf::from(name)
}

/// Every journal file of `data_file`, whatever the number of stripes that wrote it.
fn existing_files(data_file: &Path) -> std::io::Result<Vec<PathBuf>> {
    let (Some(dir), Some(name)) = (data_file.parent(), data_file.file_name()) else { return Ok(Vec::new()) };
    let prefix = format!("{}-audit-", name.to_string_lossy());
    let dir = if dir.as_os_str().is_empty() { Path::new(".") } else { dir };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        if file_name.strip_prefix(&prefix).is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())) {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

/// Encodes `entries` as records, one after the other.
pub(crate) fn encode(entries: &[JournalEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 256);
    for entry in entries {
        let start = out.len();
        out.extend_from_slice(&[0; 4]);
        out.extend_from_slice(&entry.record.mac);
        canonical::text(&mut out, entry.read_of.as_ref().map(|(id, _)| id.as_str()));
        canonical::integer(&mut out, entry.read_of.as_ref().map(|(_, at)| *at));
        out.extend_from_slice(&entry.record.event.canonical(entry.record.seq));
        let payload = (out.len() - start - 4) as u32;
        out[start..start + 4].copy_from_slice(&payload.to_le_bytes());
    }
    out
}

/// One payload, or `None` if it does not parse.
fn decode(payload: &[u8]) -> Option<JournalEntry> {
    let mut r = Reader::new(payload);
    let mac = r.take(32)?.to_vec();
    let read_id = r.text()?;
    let read_at = r.integer()?;
    let (seq, event) = AuditEvent::from_canonical(r.rest())?;
    let read_of = match (read_id, read_at) {
        (Some(id), Some(at)) => Some((id, at)),
        (None, None) => None,
        _ => return None,
    };
    Some(JournalEntry { record: AuditRecord { seq, event, mac }, read_of })
}

/// The records of one file up to the first that is cut short or does not
/// parse, and how many bytes they take.
fn parse(bytes: &[u8]) -> (Vec<JournalEntry>, usize) {
    let mut entries = Vec::new();
    let mut at = 0;
    while let Some(len) = bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize) {
        let Some(entry) = bytes.get(at + 4..at + 4 + len).and_then(decode) else { break };
        entries.push(entry);
        at += 4 + len;
    }
    (entries, at)
}

/// The entries that continue the chain from `head`, in order: for each next
/// sequence number, the record of it whose MAC verifies, until there is none.
fn follow_chain(records: Vec<JournalEntry>, key: &AuditKey, head: (u64, [u8; 32])) -> Vec<JournalEntry> {
    let mut by_seq: HashMap<u64, Vec<JournalEntry>> = HashMap::new();
    for entry in records.into_iter().filter(|e| e.record.seq > head.0) {
        by_seq.entry(entry.record.seq).or_default().push(entry);
    }
    let (mut seq, mut mac) = head;
    let mut chain = Vec::with_capacity(by_seq.len());
    while let Some(candidates) = by_seq.remove(&(seq + 1)) {
        let next =
            candidates.into_iter().find(|e| key.verify(&mac, &e.record.event.canonical(e.record.seq), &e.record.mac));
        let Some(next) = next else { break };
        seq += 1;
        mac = next.record.mac.as_slice().try_into().unwrap_or(mac);
        chain.push(next);
    }
    chain
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AuditAction;
    use hush_crypto::AUDIT_GENESIS;

    fn key() -> AuditKey {
        AuditKey::generate().unwrap()
    }

    /// `n` chained entries from the genesis, every other one a read.
    fn chain(key: &AuditKey, n: u64) -> Vec<JournalEntry> {
        let mut mac = AUDIT_GENESIS;
        (1..=n)
            .map(|seq| {
                let mut event = AuditEvent::new(AuditAction::SecretRead, Some(format!("tok{seq}")), None);
                event.name = Some("db-password".into());
                mac = key.chain(&mac, &event.canonical(seq));
                let read_of = (seq % 2 == 0).then(|| (format!("secret{seq}"), seq as i64));
                JournalEntry { record: AuditRecord { seq, event, mac: mac.to_vec() }, read_of }
            })
            .collect()
    }

    fn seqs(entries: &[JournalEntry]) -> Vec<u64> {
        entries.iter().map(|e| e.record.seq).collect()
    }

    fn read_back(files: &[&[u8]], key: &AuditKey, head: (u64, [u8; 32])) -> Vec<JournalEntry> {
        follow_chain(files.iter().flat_map(|f| parse(f).0).collect(), key, head)
    }

    #[test]
    fn reads_back_what_it_wrote() {
        let key = key();
        let entries = chain(&key, 5);
        let bytes = encode(&entries);
        assert_eq!(parse(&bytes).1, bytes.len());
        let back = read_back(&[&bytes], &key, (0, AUDIT_GENESIS));
        assert_eq!(seqs(&back), [1, 2, 3, 4, 5]);
        for (a, b) in back.iter().zip(&entries) {
            assert_eq!(a.record, b.record);
            assert_eq!(a.read_of, b.read_of);
        }
    }

    /// Batches spread over the stripes in any order come back in sequence.
    #[test]
    fn stripes_are_merged_in_sequence_order() {
        let key = key();
        let entries = chain(&key, 9);
        let (a, b, c) = (encode(&entries[0..2]), encode(&entries[2..6]), encode(&entries[6..9]));
        let mut first = a.clone();
        first.extend_from_slice(&c);
        assert_eq!(seqs(&read_back(&[&b, &first], &key, (0, AUDIT_GENESIS))), (1..=9).collect::<Vec<_>>());
        // A batch that never reached its stripe ends the chain before it.
        assert_eq!(seqs(&read_back(&[&a, &c], &key, (0, AUDIT_GENESIS))), [1, 2]);
    }

    #[test]
    fn skips_what_sqlite_holds_and_continues_from_its_head() {
        let key = key();
        let entries = chain(&key, 5);
        let head = (3, entries[2].record.mac.as_slice().try_into().unwrap());
        assert_eq!(seqs(&read_back(&[&encode(&entries)], &key, head)), [4, 5]);
    }

    /// Every cut of a file (a write stopped anywhere) keeps exactly the
    /// records that are whole, and reports where they end.
    #[test]
    fn a_cut_keeps_the_whole_records_before_it() {
        let key = key();
        let entries = chain(&key, 4);
        let bytes = encode(&entries);
        let ends: Vec<usize> = (1..=4).map(|n| encode(&entries[..n]).len()).collect();
        for cut in 0..bytes.len() {
            let (records, whole_bytes) = parse(&bytes[..cut]);
            let whole = ends.iter().filter(|&&end| end <= cut).count();
            assert_eq!(records.len(), whole, "cut at {cut}");
            assert_eq!(whole_bytes, if whole == 0 { 0 } else { ends[whole - 1] }, "cut at {cut}");
            assert_eq!(read_back(&[&bytes[..cut]], &key, (0, AUDIT_GENESIS)).len(), whole);
        }
    }

    #[test]
    fn stops_at_a_record_that_does_not_chain() {
        let key = key();
        let mut entries = chain(&key, 4);
        // An edited event: its MAC no longer matches.
        entries[2].record.event.name = Some("other".into());
        assert_eq!(seqs(&read_back(&[&encode(&entries)], &key, (0, AUDIT_GENESIS))), [1, 2]);
        // And another key's chain is not taken.
        let entries = chain(&key, 4);
        assert!(read_back(&[&encode(&entries)], &AuditKey::generate().unwrap(), (0, AUDIT_GENESIS)).is_empty());
    }

    #[test]
    fn appends_durably_and_reopens_after_a_torn_write() {
        let key = key();
        let dir = tempfile::tempdir().unwrap();
        let data_file = dir.path().join("hush.db");
        let entries = chain(&key, 6);
        let journal = AuditJournal::open(&data_file, &key, (0, AUDIT_GENESIS)).unwrap();
        journal.stripe(1).append(&encode(&entries[..3])).unwrap();
        journal.stripe(0).append(&encode(&entries[3..5])).unwrap();
        drop(journal);
        // Half of a sixth record, as a crash mid-write leaves it.
        let torn = encode(&entries[5..]);
        let mut file = OpenOptions::new().append(true).open(stripe_path(&data_file, 2)).unwrap();
        file.write_all(&torn[..torn.len() / 2]).unwrap();
        drop(file);
        let mut journal = AuditJournal::open(&data_file, &key, (0, AUDIT_GENESIS)).unwrap();
        assert_eq!(seqs(journal.pending()), [1, 2, 3, 4, 5]);
        // Cleared, the files are empty, and it reopens empty.
        journal.clear().unwrap();
        for i in 0..STRIPES {
            assert_eq!(std::fs::metadata(stripe_path(&data_file, i)).unwrap().len(), 0);
        }
        drop(journal);
        assert!(AuditJournal::open(&data_file, &key, (0, AUDIT_GENESIS)).unwrap().pending().is_empty());
    }

    /// A file of a layout with more stripes is read back, then removed.
    #[test]
    fn files_of_more_stripes_are_read_then_removed() {
        let key = key();
        let dir = tempfile::tempdir().unwrap();
        let data_file = dir.path().join("hush.db");
        let extra = stripe_path(&data_file, STRIPES + 3);
        std::fs::write(&extra, encode(&chain(&key, 2))).unwrap();
        let mut journal = AuditJournal::open(&data_file, &key, (0, AUDIT_GENESIS)).unwrap();
        assert_eq!(seqs(journal.pending()), [1, 2]);
        journal.clear().unwrap();
        assert!(!extra.exists());
    }
}
