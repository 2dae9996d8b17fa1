//! The audit journal: a small file beside the data store where the writer
//! makes the audit events of calls that change nothing else (reads,
//! listings, refusals) durable.
//!
//! Why: a read changes no data, yet its event must be on disk before the
//! value is returned. Committing it through SQLite costs a transaction with
//! several page writes to the write-ahead log (the event's row, its index
//! entries, the secret's `last_read_at`) and an fsync; that was most of a
//! read's cost. Writing the batch's events to a file and calling
//! `fdatasync` once gives the same durability for a few hundred bytes
//! written. The events move into SQLite's `audit_events` later, in large
//! batches ([`AuditJournal::pending`]): when the journal holds [`DRAIN_AT`]
//! events, before any other change is committed (so the chain in SQLite
//! never has a gap), and whenever the audit log is read.
//!
//! There are two files, `hush.db-audit-0` and `-1`. Batches go to one;
//! when its events are to move into SQLite, the writer switches to the
//! other and a thread of its own moves them (`audit_mover`), so journaling
//! never waits for a move. A file is written over only once its events are
//! committed to SQLite.
//!
//! Each file is at least [`PREALLOCATED`] bytes long
//! (zeros where no record is yet; it grows in such steps only if a batch
//! needs more) and is written from its start again each time it takes
//! batches anew, over blocks that already hold data: the `fdatasync` of such a
//! write need not commit a new file size through the file system's journal, which on this
//! machine's ext4 takes a third of the time off each sync (130 µs instead
//! of 205 µs, docs/benchmarks.md).
//!
//! The writer thread writes and syncs each batch itself. An earlier layout
//! handed batches to four files' threads so that several syncs overlapped;
//! the thread hand-offs (two wake-ups per batch, each tens of microseconds
//! on this virtual machine) cost more than the overlap gained, and while
//! the writer syncs, the next batch gathers anyway.
//!
//! The file holds records one after the other, each
//! `[payload length: u32 LE][payload]`, the payload being
//! `[chain MAC: 32][secret id read: text][read time: integer][canonical event]`
//! (the encodings of [`crate::canonical`]); a length of zero ([`END`])
//! follows the newest batch. Reading back after a crash, the file is read up
//! to [`END`] or its first record that is cut short or does not parse (an
//! unfinished write, never answered), and the chain is followed from
//! SQLite's head for as long as the next number is there and its MAC
//! verifies. Records at or below SQLite's head were moved already (older
//! records still in the file after newer ones, or a file whose restart was
//! lost in a crash) and are skipped, so a crash between moving the events
//! and starting the file over loses and duplicates nothing. Records above
//! the head that do not chain from it (a failed batch's, whose numbers went
//! to SQLite later) are not taken; where two records of one number both
//! chain, the one nearer the file's start, written first, is. A batch whose
//! write was cut short by a crash was never answered; whatever of it is
//! whole may still be read back, so the log can hold the event of a read
//! whose answer never left, never the reverse.
//!
//! Files `hush.db-audit-2` and `-3` are an earlier layout's: read back like
//! the others, then removed (its `-1` is read back, and then used as the
//! second file).
//!
//! Hand-written rather than a write-ahead-log crate: the format is twenty
//! lines, the MAC chain already protects every record, and the crates found
//! bring their own segment management and threads for less control over
//! when `fdatasync` happens.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use hush_crypto::AuditKey;

use crate::canonical::{self, Reader};
use crate::{AuditEvent, AuditRecord, Millis, StoreError};

/// How many journaled events trigger moving them into SQLite.
pub(crate) const DRAIN_AT: usize = 2048;

/// At most this many events wait in the active file while the other's
/// move is in progress; past it the writer waits for that move before
/// journaling more. Without a bound, reads faster than the moves (a
/// million-name log makes each move slower) grew the file, and the events
/// held in memory, without end: 70 MB files and a 115 MiB server after
/// seeding 10 million events (docs/benchmarks.md). The writer waiting
/// slows reads to the rate the log can take them in, which is the honest
/// rate.
pub(crate) const MAX_PENDING: usize = 8 * DRAIN_AT;

/// The journal's files: one takes new batches while the other's events
/// move into SQLite.
const LIVE_FILES: usize = 2;

/// Journal files are numbered below this: 0 and 1 are the journal's, 2 and
/// 3 an earlier layout's (one per stripe), which start-up reads back and
/// removes. A restore refuses a directory holding any.
pub(crate) const LEGACY_FILES: usize = 4;

/// The file is kept at least this large, filled with zeros ahead of the
/// records, and grows in steps of it: more than the records written between
/// two moves into SQLite ([`DRAIN_AT`] events of a few hundred bytes).
const PREALLOCATED: u64 = 1 << 20;

/// A file larger than this is cut back when it starts over: well above what
/// [`MAX_PENDING`] events of a few hundred bytes take, so that a file in
/// normal use keeps its allocated blocks.
const SHRINK_ABOVE: u64 = 16 * PREALLOCATED;

/// Marks where the records end: a record length of zero.
const END: [u8; 4] = [0; 4];

/// One journaled event, and the read it records, if any.
#[derive(Debug, Clone)]
pub(crate) struct JournalEntry {
    /// The numbered, chained event.
    pub(crate) record: AuditRecord,
    /// The secret whose `last_read_at` this read sets, and the time.
    pub(crate) read_of: Option<(String, Millis)>,
}

/// The journal file. Records are written from its start over what it held
/// before (zeros, or records SQLite already has), each batch followed by
/// [`END`].
#[derive(Debug)]
struct JournalFile {
    file: File,
    path: PathBuf,
    /// Where the next batch goes.
    next: u64,
    /// The file's size: the bytes below it are allocated.
    size: u64,
}

impl JournalFile {
    fn open(path: PathBuf) -> std::io::Result<Self> {
        // Not truncated: its blocks stay allocated (its records were read back already).
        let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&path)?;
        let size = file.metadata()?.len();
        let mut journal = JournalFile { file, path, next: 0, size };
        if size < PREALLOCATED {
            journal.grow_to(PREALLOCATED)?;
            journal.file.sync_all()?;
        }
        Ok(journal)
    }

    /// Writes `records` (whole records, with [`END`] after them) after the
    /// newest batch and waits until they are on disk. One write: the end
    /// mark goes with the records, and the next batch writes over it.
    fn append(&mut self, records: &[u8]) -> std::io::Result<()> {
        debug_assert!(records.ends_with(&END));
        let end = self.next + (records.len() - END.len()) as u64;
        self.grow_to(self.next + records.len() as u64)?;
        self.file.write_all_at(records, self.next)?;
        self.file.sync_data()?;
        self.next = end;
        Ok(())
    }

    /// Makes the file at least `len` bytes long, in whole steps of
    /// [`PREALLOCATED`], by writing zeros after what it holds (not synced:
    /// the next append's `fdatasync` covers them).
    fn grow_to(&mut self, len: u64) -> std::io::Result<()> {
        if len <= self.size {
            return Ok(());
        }
        let new_size = len.div_ceil(PREALLOCATED) * PREALLOCATED;
        self.file.write_all_at(&vec![0u8; (new_size - self.size) as usize], self.size)?;
        self.size = new_size;
        Ok(())
    }

    /// Marks the end of the records again after a batch that failed, so
    /// that whatever of it reached the disk is not read back (best effort:
    /// the disk just failed).
    fn mark_end(&mut self) {
        let _ = self.file.write_all_at(&END, self.next).and_then(|()| self.file.sync_data());
    }

    /// Starts the file over: the next batch goes to its start. A file that
    /// grew past what [`MAX_PENDING`] events need (written before the bound,
    /// or by very large batches) is cut back to [`PREALLOCATED`] bytes, so
    /// that start-up never reads back more than that: its records are all
    /// in SQLite when this is called.
    fn restart(&mut self) -> std::io::Result<()> {
        if self.size > SHRINK_ABOVE {
            self.file.set_len(PREALLOCATED)?;
            self.size = PREALLOCATED;
            self.file.sync_all()?;
        }
        self.file.write_all_at(&END, 0)?;
        self.next = 0;
        Ok(())
    }

    fn error(&self, source: std::io::Error) -> StoreError {
        StoreError::Journal { path: self.path.display().to_string(), source }
    }
}

/// The journal's two files and the answered events in them that SQLite
/// does not hold yet.
///
/// Batches go to the active file. When the writer hands its events to be
/// moved into SQLite in the background ([`AuditJournal::switch`]), the
/// other file becomes the active one, and the first stays as it is until
/// its events are committed ([`AuditJournal::other_moved`]): only then may
/// it be written over.
#[derive(Debug)]
pub(crate) struct AuditJournal {
    files: [JournalFile; LIVE_FILES],
    /// Which of `files` batches go to.
    active: usize,
    /// The other file holds events not yet committed to SQLite.
    other_busy: bool,
    /// Journal files of the earlier layout found at open, removed by the
    /// first [`AuditJournal::clear`].
    legacy: Vec<PathBuf>,
    /// The answered events of the active file.
    pending: Vec<JournalEntry>,
}

impl AuditJournal {
    /// Opens (creating) the journal of the data store at `data_file` and
    /// reads back the events that follow `head` (the newest event in SQLite,
    /// or the genesis) and chain from it under `key`, from every file. They
    /// are returned as [`AuditJournal::pending`]: the caller moves them into
    /// SQLite before anything else, then calls [`AuditJournal::clear`].
    pub(crate) fn open(data_file: &Path, key: &AuditKey, head: (u64, [u8; 32])) -> Result<Self, StoreError> {
        let io = |path: &Path, e: std::io::Error| StoreError::Journal { path: path.display().to_string(), source: e };
        let mut found = Vec::new();
        for path in existing_files(data_file).map_err(|e| io(data_file, e))? {
            // Read up to the end mark only: what follows it is older
            // records or zeros, and a file may be large (one written before
            // `MAX_PENDING`, until it starts over).
            let file = File::open(&path).map_err(|e| io(&path, e))?;
            let len = file.metadata().map_err(|e| io(&path, e))?.len();
            let (records, _, clean) =
                read_records(std::io::BufReader::with_capacity(64 << 10, file), len).map_err(|e| io(&path, e))?;
            if !clean {
                tracing::warn!(
                    path = %path.display(),
                    "an audit journal file ends in an unfinished write (a crash before it was answered); ignoring it"
                );
            }
            found.extend(records);
        }
        let pending = follow_chain(found, key, head);
        let mut created = false;
        let mut open_live = |i: usize| {
            let path = journal_path(data_file, i);
            created |= !path.exists();
            JournalFile::open(path.clone()).map_err(|e| io(&path, e))
        };
        let files = [open_live(0)?, open_live(1)?];
        if created {
            // A new file's directory entry must be durable too.
            if let Some(dir) = data_file.parent() {
                File::open(dir).and_then(|d| d.sync_all()).map_err(|e| io(dir, e))?;
            }
        }
        let live: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
        let legacy = existing_files(data_file).map_err(|e| io(data_file, e))?.into_iter().filter(|p| !live.contains(p));
        Ok(AuditJournal { files, active: 0, other_busy: false, legacy: legacy.collect(), pending })
    }

    /// Writes a batch ([`encode_batch`]) to the active file and waits until
    /// it is on disk. Not [`AuditJournal::answered`] yet: the caller
    /// answers, then notes them.
    pub(crate) fn append(&mut self, bytes: &[u8]) -> Result<(), StoreError> {
        let file = &mut self.files[self.active];
        file.append(bytes).map_err(|e| {
            file.mark_end();
            file.error(e)
        })
    }

    /// Notes events whose batch is on disk and was answered, in order.
    pub(crate) fn answered(&mut self, entries: Vec<JournalEntry>) {
        self.pending.extend(entries);
    }

    /// The answered events of the active file, oldest first.
    pub(crate) fn pending(&self) -> &[JournalEntry] {
        &self.pending
    }

    /// Makes the other file the active one, started over, and returns the
    /// events of the one it replaces, to be moved into SQLite. That file
    /// stays untouched until [`AuditJournal::other_moved`], which must come
    /// before the next switch.
    pub(crate) fn switch(&mut self) -> Result<Vec<JournalEntry>, StoreError> {
        if self.other_busy {
            // A writer bug, not a disk error: refuse rather than write over unmoved events.
            return Err(
                self.files[self.active].error(std::io::Error::other("the other journal file is still being moved"))
            );
        }
        let next = 1 - self.active;
        // The other file's records are all in SQLite already, so starting it
        // over needs no sync: whatever survives a crash there is skipped.
        self.files[next].restart().map_err(|e| self.files[next].error(e))?;
        self.active = next;
        self.other_busy = true;
        Ok(std::mem::take(&mut self.pending))
    }

    /// The events of the file [`AuditJournal::switch`] replaced are
    /// committed to SQLite: it may be used again.
    pub(crate) fn other_moved(&mut self) {
        self.other_busy = false;
    }

    /// Forgets the pending events once SQLite committed them and everything
    /// before them, and starts the active file over (its blocks stay
    /// allocated). Not synced: whatever the files still hold after a crash
    /// (the end mark lost, or older records after newer ones) is at or
    /// below SQLite's head, or does not chain, and is skipped.
    pub(crate) fn clear(&mut self) -> Result<(), StoreError> {
        self.pending.clear();
        self.other_busy = false;
        let active = &mut self.files[self.active];
        active.restart().map_err(|e| active.error(e))?;
        for path in std::mem::take(&mut self.legacy) {
            std::fs::remove_file(&path)
                .map_err(|e| StoreError::Journal { path: path.display().to_string(), source: e })?;
        }
        Ok(())
    }
}

/// The path of journal file `i` of `data_file` (0 and 1 are the journal;
/// 2 and 3 were the earlier layout's).
pub(crate) fn journal_path(data_file: &Path, i: usize) -> PathBuf {
    let mut name = data_file.as_os_str().to_owned();
    name.push(format!("-audit-{i}"));
    PathBuf::from(name)
}

/// Every journal file of `data_file`, of this layout or the earlier one.
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

/// A batch as [`AuditJournal::append`] takes it: its records, then [`END`].
pub(crate) fn encode_batch(entries: &[JournalEntry]) -> Vec<u8> {
    let mut out = encode(entries);
    out.extend_from_slice(&END);
    out
}

/// Encodes `entries` as records, one after the other.
pub(crate) fn encode(entries: &[JournalEntry]) -> Vec<u8> {
    let mut out = Vec::with_capacity(entries.len() * 256 + END.len());
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

/// The records of one file (`len` bytes long, read from `source`) up to
/// [`END`] or the first record that is cut short or does not parse, the
/// bytes they take, and whether they end cleanly: at [`END`] or at the end
/// of the file, rather than at a torn write.
fn read_records(mut source: impl Read, len: u64) -> std::io::Result<(Vec<JournalEntry>, u64, bool)> {
    let mut entries = Vec::new();
    let mut at = 0u64;
    let mut payload = Vec::new();
    let clean = loop {
        if at == len {
            break true;
        }
        if len - at < 4 {
            break false;
        }
        let mut prefix = [0u8; 4];
        source.read_exact(&mut prefix)?;
        let size = u64::from(u32::from_le_bytes(prefix));
        if size == 0 {
            break true;
        }
        // A length past the file's end is a torn write (or garbage): never
        // allocated.
        if size > len - at - 4 {
            break false;
        }
        payload.resize(size as usize, 0);
        source.read_exact(&mut payload)?;
        let Some(entry) = decode(&payload) else { break false };
        entries.push(entry);
        at += 4 + size;
    };
    Ok((entries, at, clean))
}

/// [`read_records`] of bytes in memory, with how many bytes the records take.
#[cfg(test)]
fn parse(bytes: &[u8]) -> (Vec<JournalEntry>, usize) {
    let (entries, whole, _) = read_records(bytes, bytes.len() as u64).expect("reading from memory");
    (entries, whole as usize)
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
    // Records past where the chain stops: not taken, and worth a line in the
    // log (a batch that failed, a file edited, another installation's key).
    let mut left_out = 0;
    while let Some(candidates) = by_seq.remove(&(seq + 1)) {
        let count = candidates.len();
        let next =
            candidates.into_iter().find(|e| key.verify(&mac, &e.record.event.canonical(e.record.seq), &e.record.mac));
        let Some(next) = next else {
            left_out += count;
            break;
        };
        seq += 1;
        mac = next.record.mac.as_slice().try_into().unwrap_or(mac);
        chain.push(next);
    }
    left_out += by_seq.values().map(Vec::len).sum::<usize>();
    if left_out > 0 {
        tracing::warn!(
            records = left_out,
            next_seq = seq + 1,
            "audit journal records after the recovered chain do not continue it (a batch that failed, \
             or records edited or written under another key); they are not taken"
        );
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

    /// Batches spread over the earlier layout's files, in any order, come
    /// back in sequence.
    #[test]
    fn files_are_merged_in_sequence_order() {
        let key = key();
        let entries = chain(&key, 9);
        let (a, b, c) = (encode(&entries[0..2]), encode(&entries[2..6]), encode(&entries[6..9]));
        let mut first = a.clone();
        first.extend_from_slice(&c);
        assert_eq!(seqs(&read_back(&[&b, &first], &key, (0, AUDIT_GENESIS))), (1..=9).collect::<Vec<_>>());
        // A batch that never reached its file ends the chain before it.
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
        let mut journal = AuditJournal::open(&data_file, &key, (0, AUDIT_GENESIS)).unwrap();
        journal.append(&encode_batch(&entries[..3])).unwrap();
        journal.append(&encode_batch(&entries[3..5])).unwrap();
        drop(journal);
        // Half of a sixth record after them, as a crash mid-write leaves it.
        let torn = encode(&entries[5..]);
        let file = OpenOptions::new().write(true).open(journal_path(&data_file, 0)).unwrap();
        file.write_all_at(&torn[..torn.len() / 2], encode(&entries[..5]).len() as u64).unwrap();
        drop(file);
        let mut journal = AuditJournal::open(&data_file, &key, (0, AUDIT_GENESIS)).unwrap();
        assert_eq!(seqs(journal.pending()), [1, 2, 3, 4, 5]);
        // Cleared, the file starts with the end mark and keeps its blocks, and it reopens empty.
        journal.clear().unwrap();
        let bytes = std::fs::read(journal_path(&data_file, 0)).unwrap();
        assert_eq!(bytes.len() as u64, PREALLOCATED);
        assert_eq!(bytes[..4], END);
        drop(journal);
        assert!(AuditJournal::open(&data_file, &key, (0, AUDIT_GENESIS)).unwrap().pending().is_empty());
    }

    /// After the events moved into SQLite, new batches overwrite the file
    /// from its start; what is left of the older records after them is
    /// skipped, whether the end mark made it to disk or not.
    #[test]
    fn older_records_after_a_restart_are_skipped() {
        let key = key();
        let dir = tempfile::tempdir().unwrap();
        let data_file = dir.path().join("hush.db");
        let entries = chain(&key, 8);
        let mut journal = AuditJournal::open(&data_file, &key, (0, AUDIT_GENESIS)).unwrap();
        journal.append(&encode_batch(&entries[..5])).unwrap();
        // Events 1-5 are in SQLite now: the journal starts over.
        journal.clear().unwrap();
        journal.append(&encode_batch(&entries[5..7])).unwrap();
        drop(journal);
        let head = (5, entries[4].record.mac.as_slice().try_into().unwrap());
        assert_eq!(seqs(AuditJournal::open(&data_file, &key, head).unwrap().pending()), [6, 7]);
        // As if a later append had been torn over the end mark, and the old
        // records lined up behind the new ones: they parse, and are skipped.
        let path = journal_path(&data_file, 0);
        let mut bytes = encode(&entries[5..7]);
        bytes.extend_from_slice(&encode(&entries[..5]));
        std::fs::write(&path, &bytes).unwrap();
        assert_eq!(seqs(&parse(&bytes).0), [6, 7, 1, 2, 3, 4, 5]);
        assert_eq!(seqs(AuditJournal::open(&data_file, &key, head).unwrap().pending()), [6, 7]);
        // A batch that failed after 1-5 (never answered) chains from the same
        // head; torn in after the answered 6-7, it loses to them.
        let mut mac: [u8; 32] = head.1;
        let failed: Vec<JournalEntry> = (6..=7)
            .map(|seq| {
                let mut event = AuditEvent::new(AuditAction::SecretRead, Some(format!("tok{seq}")), None);
                event.name = Some("failed-batch".into());
                mac = key.chain(&mac, &event.canonical(seq));
                JournalEntry { record: AuditRecord { seq, event, mac: mac.to_vec() }, read_of: None }
            })
            .collect();
        let mut bytes = encode(&entries[5..7]);
        bytes.extend_from_slice(&encode(&failed));
        std::fs::write(&path, &bytes).unwrap();
        let pending = AuditJournal::open(&data_file, &key, head).unwrap().pending().to_vec();
        assert_eq!(seqs(&pending), [6, 7]);
        assert!(pending.iter().all(|e| e.record.event.name.as_deref() == Some("db-password")));
    }

    /// Batches go to the other file after a switch; the file switched away
    /// from is kept until its events are moved; a crash at any point reads
    /// back what SQLite does not hold, from both files, in order.
    #[test]
    fn a_switch_sends_batches_to_the_other_file_and_both_are_read_back() {
        let key = key();
        let dir = tempfile::tempdir().unwrap();
        let data_file = dir.path().join("hush.db");
        let entries = chain(&key, 9);
        let head_at = |seq: usize| (seq as u64, entries[seq - 1].record.mac.as_slice().try_into().unwrap());
        let mut journal = AuditJournal::open(&data_file, &key, (0, AUDIT_GENESIS)).unwrap();
        journal.append(&encode_batch(&entries[..3])).unwrap();
        journal.answered(entries[..3].to_vec());
        assert_eq!(seqs(&journal.switch().unwrap()), [1, 2, 3]);
        assert!(journal.pending().is_empty());
        journal.append(&encode_batch(&entries[3..5])).unwrap();
        journal.answered(entries[3..5].to_vec());
        assert!(journal.switch().is_err(), "the first file's events are not moved yet");
        assert_eq!(seqs(journal.pending()), [4, 5], "a refused switch loses nothing");
        assert_ne!(records_len_of(&data_file, 1), 0, "batches 4-5 went to the second file");
        // A crash while 1-3 are being moved: everything comes back.
        let reopened = AuditJournal::open(&data_file, &key, (0, AUDIT_GENESIS)).unwrap();
        assert_eq!(seqs(reopened.pending()), [1, 2, 3, 4, 5]);
        drop(reopened);
        // 1-3 are in SQLite: the first file is used again, from its start.
        journal.other_moved();
        assert_eq!(seqs(&journal.switch().unwrap()), [4, 5]);
        journal.append(&encode_batch(&entries[5..9])).unwrap();
        assert_eq!(seqs(AuditJournal::open(&data_file, &key, head_at(3)).unwrap().pending()), [4, 5, 6, 7, 8, 9]);
        assert_eq!(seqs(AuditJournal::open(&data_file, &key, head_at(5)).unwrap().pending()), [6, 7, 8, 9]);
    }

    /// The length of the records at the start of journal file `i`.
    fn records_len_of(data_file: &Path, i: usize) -> usize {
        parse(&std::fs::read(journal_path(data_file, i)).unwrap()).1
    }

    /// A journal given more than it has room for grows.
    #[test]
    fn the_file_grows_past_its_preallocated_size() {
        let key = key();
        let dir = tempfile::tempdir().unwrap();
        let data_file = dir.path().join("hush.db");
        let entries = chain(&key, 12_000);
        let bytes = encode_batch(&entries);
        assert!(bytes.len() as u64 > PREALLOCATED);
        let mut journal = AuditJournal::open(&data_file, &key, (0, AUDIT_GENESIS)).unwrap();
        journal.append(&bytes).unwrap();
        drop(journal);
        let len = std::fs::metadata(journal_path(&data_file, 0)).unwrap().len();
        assert_eq!(len % PREALLOCATED, 0);
        assert!(len >= bytes.len() as u64);
        assert_eq!(AuditJournal::open(&data_file, &key, (0, AUDIT_GENESIS)).unwrap().pending().len(), 12_000);
    }

    #[test]
    fn a_file_that_grew_large_is_cut_back_when_it_starts_over() {
        let key = key();
        let dir = tempfile::tempdir().unwrap();
        let data_file = dir.path().join("hush.db");
        let mut journal = AuditJournal::open(&data_file, &key, (0, AUDIT_GENESIS)).unwrap();
        journal.files[0].grow_to(SHRINK_ABOVE + 1).unwrap();
        let len = || std::fs::metadata(journal_path(&data_file, 0)).unwrap().len();
        assert!(len() > SHRINK_ABOVE);
        journal.append(&encode_batch(&chain(&key, 3))).unwrap();
        journal.clear().unwrap();
        assert_eq!(len(), PREALLOCATED);
        // A file within the bound keeps its blocks.
        journal.files[0].grow_to(SHRINK_ABOVE).unwrap();
        journal.clear().unwrap();
        assert_eq!(len(), SHRINK_ABOVE);
        // And it still takes batches from its start.
        journal.append(&encode_batch(&chain(&key, 5))).unwrap();
        drop(journal);
        assert_eq!(AuditJournal::open(&data_file, &key, (0, AUDIT_GENESIS)).unwrap().pending().len(), 5);
    }

    #[test]
    fn a_file_ends_cleanly_at_the_end_mark_or_its_end() {
        let key = key();
        let records = encode(&chain(&key, 2));
        let mut marked = records.clone();
        marked.extend_from_slice(&END);
        marked.extend_from_slice(b"older bytes");
        let mut torn = records.clone();
        torn.extend_from_slice(&[7, 0, 0, 0, 1]);
        // A length far past the end (garbage) is a torn write, not an allocation.
        let mut huge = records.clone();
        huge.extend_from_slice(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3]);
        let mut short_prefix = records.clone();
        short_prefix.extend_from_slice(&[9, 0]);
        let cases = [(&records, true), (&marked, true), (&torn, false), (&huge, false), (&short_prefix, false)];
        for (bytes, clean) in cases {
            let (found, whole) = parse(bytes);
            assert_eq!(found.len(), 2);
            assert_eq!(whole, records.len());
            let (_, _, read_clean) = read_records(bytes.as_slice(), bytes.len() as u64).unwrap();
            assert_eq!(read_clean, clean);
        }
    }

    /// A file of the earlier layout is read back, then removed.
    #[test]
    fn files_of_the_earlier_layout_are_read_then_removed() {
        let key = key();
        let dir = tempfile::tempdir().unwrap();
        let data_file = dir.path().join("hush.db");
        let extra = journal_path(&data_file, LEGACY_FILES - 1);
        std::fs::write(&extra, encode(&chain(&key, 2))).unwrap();
        let mut journal = AuditJournal::open(&data_file, &key, (0, AUDIT_GENESIS)).unwrap();
        assert_eq!(seqs(journal.pending()), [1, 2]);
        journal.clear().unwrap();
        assert!(!extra.exists());
    }
}
