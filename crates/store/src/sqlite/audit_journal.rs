//! The audit journal: a small append-only file beside the data store where
//! the writer makes the audit events of calls that change nothing else
//! (reads, listings, refusals) durable.
//!
//! Why: a read changes no data, yet its event must be on disk before the
//! value is returned. Committing it through SQLite costs a transaction with
//! several page writes to the write-ahead log (the event's row, two index
//! entries, the secret's `last_read_at`) and an fsync; that was most of a
//! read's cost. Appending the batch's events to this file and calling
//! `fdatasync` once gives the same durability for a few hundred bytes
//! written. The events move into SQLite's `audit_events` later, in large
//! batches ([`AuditJournal::pending`]): when the journal holds
//! [`DRAIN_AT`] events, before any other change is committed (so the chain
//! in SQLite never has a gap), and whenever the audit log is read.
//!
//! The file holds records one after the other, each
//! `[payload length: u32 LE][payload]`, the payload being
//! `[chain MAC: 32][secret id read: text][read time: integer][canonical event]`
//! (the encodings of [`crate::canonical`]). A record is acknowledged only
//! after `fdatasync` returned, so after a crash every acknowledged record is
//! complete; the first record that is cut short, does not parse or does not
//! continue the MAC chain marks where an unacknowledged write stopped, and it
//! and everything after it are dropped. Records already in SQLite (sequence
//! at or below its head) are skipped, so a crash between moving the events
//! and emptying the file loses and duplicates nothing.
//!
//! Hand-written rather than a write-ahead-log crate: the format is twenty
//! lines, the MAC chain already protects every record, and the crates found
//! bring their own segment management and threads for less control over
//! when `fdatasync` happens.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use hush_crypto::AuditKey;

use crate::canonical::{self, Reader};
use crate::{AuditEvent, AuditRecord, Millis, StoreError};

/// How many journaled events trigger moving them into SQLite.
pub(crate) const DRAIN_AT: usize = 4096;

/// One journaled event, and the read it records, if any.
#[derive(Debug, Clone)]
pub(crate) struct JournalEntry {
    /// The numbered, chained event.
    pub(crate) record: AuditRecord,
    /// The secret whose `last_read_at` this read sets, and the time.
    pub(crate) read_of: Option<(String, Millis)>,
}

/// The open journal and the events in it that SQLite does not hold yet.
#[derive(Debug)]
pub(crate) struct AuditJournal {
    file: File,
    path: PathBuf,
    /// Bytes of complete, synced records.
    len: u64,
    pending: Vec<JournalEntry>,
    buffer: Vec<u8>,
}

impl AuditJournal {
    /// Opens (creating) the journal at `path` and reads back the events that
    /// follow `head` (the newest event in SQLite, or the genesis) and chain
    /// from it under `key`. They are returned as [`AuditJournal::pending`]:
    /// the caller moves them into SQLite before anything else.
    pub(crate) fn open(path: &Path, key: &AuditKey, head: (u64, [u8; 32])) -> Result<Self, StoreError> {
        let io = |e: std::io::Error| StoreError::Journal { path: path.display().to_string(), source: e };
        let created = !path.exists();
        let mut file = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(path).map_err(io)?;
        if created {
            // The new file's directory entry must be durable too.
            if let Some(dir) = path.parent() {
                File::open(dir).and_then(|d| d.sync_all()).map_err(io)?;
            }
        }
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let (pending, valid) = recover(&bytes, key, head);
        if valid < bytes.len() {
            tracing::warn!(
                path = %path.display(),
                dropped_bytes = bytes.len() - valid,
                "the audit journal ends in an unfinished write (a crash before it was acknowledged); dropping it"
            );
        }
        file.set_len(valid as u64).map_err(io)?;
        file.seek(SeekFrom::Start(valid as u64)).map_err(io)?;
        Ok(AuditJournal { file, path: path.to_owned(), len: valid as u64, pending, buffer: Vec::new() })
    }

    /// Appends `entries` and waits until they are on disk. On failure the
    /// file is cut back to where it was, so a later record never follows a
    /// broken one, and nothing is added to [`AuditJournal::pending`].
    pub(crate) fn append(&mut self, entries: Vec<JournalEntry>) -> Result<(), StoreError> {
        self.buffer.clear();
        for entry in &entries {
            encode(&mut self.buffer, entry);
        }
        let written = self.file.write_all(&self.buffer).and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            let _ = self.file.set_len(self.len).and_then(|()| self.file.seek(SeekFrom::Start(self.len)));
            return Err(self.error(e));
        }
        self.len += self.buffer.len() as u64;
        self.pending.extend(entries);
        Ok(())
    }

    /// The journaled events SQLite does not hold yet, oldest first.
    pub(crate) fn pending(&self) -> &[JournalEntry] {
        &self.pending
    }

    /// Forgets the pending events once SQLite committed them, and empties
    /// the file. Not synced: if the truncation is lost in a crash, the
    /// records read back are at or below SQLite's head and are skipped.
    pub(crate) fn clear(&mut self) -> Result<(), StoreError> {
        self.pending.clear();
        self.file
            .set_len(0)
            .and_then(|()| self.file.seek(SeekFrom::Start(0)).map(|_| ()))
            .map_err(|e| self.error(e))?;
        self.len = 0;
        Ok(())
    }

    fn error(&self, source: std::io::Error) -> StoreError {
        StoreError::Journal { path: self.path.display().to_string(), source }
    }
}

fn encode(out: &mut Vec<u8>, entry: &JournalEntry) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&entry.record.mac);
    canonical::text(out, entry.read_of.as_ref().map(|(id, _)| id.as_str()));
    canonical::integer(out, entry.read_of.as_ref().map(|(_, at)| *at));
    out.extend_from_slice(&entry.record.event.canonical(entry.record.seq));
    let payload = (out.len() - start - 4) as u32;
    out[start..start + 4].copy_from_slice(&payload.to_le_bytes());
}

/// One payload, or `None` if it does not parse.
fn decode(payload: &[u8]) -> Option<(JournalEntry, &[u8])> {
    let mut r = Reader::new(payload);
    let mac = r.take(32)?.to_vec();
    let read_id = r.text()?;
    let read_at = r.integer()?;
    let event_bytes = r.rest();
    let (seq, event) = AuditEvent::from_canonical(event_bytes)?;
    let read_of = match (read_id, read_at) {
        (Some(id), Some(at)) => Some((id, at)),
        (None, None) => None,
        _ => return None,
    };
    Some((JournalEntry { record: AuditRecord { seq, event, mac }, read_of }, event_bytes))
}

/// The entries of `bytes` that continue the chain from `head`, and how many
/// bytes hold complete records up to the last one kept or skipped.
fn recover(bytes: &[u8], key: &AuditKey, head: (u64, [u8; 32])) -> (Vec<JournalEntry>, usize) {
    let (mut seq, mut mac) = head;
    let mut entries = Vec::new();
    let mut at = 0;
    while let Some(len) = bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize) {
        let Some(payload) = bytes.get(at + 4..at + 4 + len) else { break };
        let Some((entry, event_bytes)) = decode(payload) else { break };
        if entry.record.seq > seq {
            if entry.record.seq != seq + 1 || !key.verify(&mac, event_bytes, &entry.record.mac) {
                break;
            }
            seq = entry.record.seq;
            mac = key.chain(&mac, event_bytes);
            entries.push(entry);
        }
        at += 4 + len;
    }
    (entries, at)
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

    fn encoded(entries: &[JournalEntry]) -> Vec<u8> {
        let mut out = Vec::new();
        entries.iter().for_each(|e| encode(&mut out, e));
        out
    }

    fn seqs(entries: &[JournalEntry]) -> Vec<u64> {
        entries.iter().map(|e| e.record.seq).collect()
    }

    #[test]
    fn reads_back_what_it_wrote() {
        let key = key();
        let entries = chain(&key, 5);
        let bytes = encoded(&entries);
        let (back, valid) = recover(&bytes, &key, (0, AUDIT_GENESIS));
        assert_eq!(valid, bytes.len());
        assert_eq!(seqs(&back), [1, 2, 3, 4, 5]);
        for (a, b) in back.iter().zip(&entries) {
            assert_eq!(a.record, b.record);
            assert_eq!(a.read_of, b.read_of);
        }
    }

    #[test]
    fn skips_what_sqlite_holds_and_continues_from_its_head() {
        let key = key();
        let entries = chain(&key, 5);
        let head = (3, entries[2].record.mac.as_slice().try_into().unwrap());
        let (back, _) = recover(&encoded(&entries), &key, head);
        assert_eq!(seqs(&back), [4, 5]);
    }

    /// Every cut of the file (a write stopped anywhere) keeps exactly the
    /// records that are whole, and reports where they end.
    #[test]
    fn a_cut_keeps_the_whole_records_before_it() {
        let key = key();
        let entries = chain(&key, 4);
        let bytes = encoded(&entries);
        let ends: Vec<usize> = (1..=4).map(|n| encoded(&entries[..n]).len()).collect();
        for cut in 0..bytes.len() {
            let (back, valid) = recover(&bytes[..cut], &key, (0, AUDIT_GENESIS));
            let whole = ends.iter().filter(|&&end| end <= cut).count();
            assert_eq!(back.len(), whole, "cut at {cut}");
            assert_eq!(valid, if whole == 0 { 0 } else { ends[whole - 1] }, "cut at {cut}");
        }
    }

    #[test]
    fn stops_at_a_record_that_does_not_chain() {
        let key = key();
        let mut entries = chain(&key, 4);
        // An edited event: its MAC no longer matches.
        entries[2].record.event.name = Some("other".into());
        let (back, valid) = recover(&encoded(&entries), &key, (0, AUDIT_GENESIS));
        assert_eq!(seqs(&back), [1, 2]);
        assert_eq!(valid, encoded(&entries[..2]).len());
        // A gap in the sequence stops it too.
        let entries = chain(&key, 4);
        let gapped = [entries[0].clone(), entries[2].clone()];
        assert_eq!(seqs(&recover(&encoded(&gapped), &key, (0, AUDIT_GENESIS)).0), [1]);
        // And another key's chain is not taken.
        assert!(recover(&encoded(&entries), &AuditKey::generate().unwrap(), (0, AUDIT_GENESIS)).0.is_empty());
    }

    #[test]
    fn appends_durably_and_reopens_after_a_torn_write() {
        let key = key();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.journal");
        let entries = chain(&key, 6);
        let mut journal = AuditJournal::open(&path, &key, (0, AUDIT_GENESIS)).unwrap();
        journal.append(entries[..3].to_vec()).unwrap();
        journal.append(entries[3..5].to_vec()).unwrap();
        assert_eq!(seqs(journal.pending()), [1, 2, 3, 4, 5]);
        drop(journal);
        // Half of a sixth record, as a crash mid-write leaves it.
        let mut torn = Vec::new();
        encode(&mut torn, &entries[5]);
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&torn[..torn.len() / 2]).unwrap();
        drop(file);
        let mut journal = AuditJournal::open(&path, &key, (0, AUDIT_GENESIS)).unwrap();
        assert_eq!(seqs(journal.pending()), [1, 2, 3, 4, 5]);
        assert_eq!(std::fs::metadata(&path).unwrap().len(), encoded(&entries[..5]).len() as u64);
        // Writing goes on after the last whole record.
        journal.append(vec![entries[5].clone()]).unwrap();
        drop(journal);
        let journal = AuditJournal::open(&path, &key, (0, AUDIT_GENESIS)).unwrap();
        assert_eq!(seqs(journal.pending()), [1, 2, 3, 4, 5, 6]);
        // Cleared, it is empty, and reopens empty.
        let mut journal = journal;
        journal.clear().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
        drop(journal);
        assert!(AuditJournal::open(&path, &key, (0, AUDIT_GENESIS)).unwrap().pending().is_empty());
    }
}
