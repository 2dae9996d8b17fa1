//! Audit sinks, beside the chained log in the store (as Vault's audit
//! devices are): `--audit-file PATH` appends one JSON line per event
//! (`audit_line.rs`) and syncs it before the call is answered;
//! `--audit-stdout` writes the same lines to standard output for container
//! platforms. Both see every event the store commits, through the store's
//! [`AuditObserver`] hook, a whole group commit at a time: one write and
//! one sync per batch, not per event.
//!
//! The file is opened for appending and reopened on [`AuditSinks::reopen`]
//! (SIGHUP), so logrotate can move it away and signal hush. A line cut
//! short by a crash is ended with a newline when the file is opened, so the
//! next event starts a line of its own.
//!
//! The sinks also remember which events they delivered, so that
//! `hush admin audit prune` can refuse to remove events that never left
//! the store ([`AuditSinks::delivered`]).

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use hush_store::{AuditObserver, AuditRecord};

/// The configured sinks.
#[derive(Debug)]
pub struct AuditSinks {
    file: Option<FileSink>,
    stdout: bool,
    delivered: Mutex<Delivered>,
}

#[derive(Debug)]
struct FileSink {
    path: PathBuf,
    file: Mutex<File>,
}

/// The run of events delivered since start: from `first`, every one through
/// `through`. Calls come in sequence order on SQLite; PostgreSQL replicas
/// commit in order but may hand over out of order, so a few early arrivals
/// wait in `ahead`.
#[derive(Debug, Default)]
struct Delivered {
    first: Option<u64>,
    through: u64,
    ahead: std::collections::BTreeSet<u64>,
}

/// Out-of-order arrivals kept at most; past that the run stops growing
/// (prune then wants an export or `--force`, the safe side).
const AHEAD_MAX: usize = 10_000;

impl Delivered {
    fn note(&mut self, seq: u64) {
        match self.first {
            None => {
                self.first = Some(seq);
                self.through = seq;
            }
            Some(_) if seq == self.through + 1 => {
                self.through = seq;
                while self.ahead.remove(&(self.through + 1)) {
                    self.through += 1;
                }
            }
            Some(_) if seq > self.through + 1 && self.ahead.len() < AHEAD_MAX => {
                self.ahead.insert(seq);
            }
            Some(_) => {}
        }
    }
}

fn open_for_append(path: &Path) -> std::io::Result<File> {
    let mut file = OpenOptions::new().read(true).append(true).create(true).mode(0o600).open(path)?;
    let len = file.metadata()?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(len - 1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            // A line cut short by a crash: end it, so the next one parses.
            file.write_all(b"\n")?;
            file.sync_data()?;
        }
    }
    Ok(file)
}

impl AuditSinks {
    /// Opens the sinks; `None` if none is configured. The file is created
    /// (mode 0600) if missing and appended to otherwise.
    pub fn open(file: Option<&Path>, stdout: bool) -> std::io::Result<Option<Self>> {
        if file.is_none() && !stdout {
            return Ok(None);
        }
        let file = match file {
            Some(path) => Some(FileSink { path: path.to_owned(), file: Mutex::new(open_for_append(path)?) }),
            None => None,
        };
        Ok(Some(AuditSinks { file, stdout, delivered: Mutex::default() }))
    }

    /// Opens the file again by its path (after logrotate moved it away).
    /// On failure the old file stays in use.
    pub fn reopen(&self) -> std::io::Result<()> {
        if let Some(sink) = &self.file {
            let fresh = open_for_append(&sink.path)?;
            *sink.file.lock().unwrap_or_else(|e| e.into_inner()) = fresh;
        }
        Ok(())
    }

    /// The file's path, if a file sink is configured.
    pub fn file_path(&self) -> Option<&Path> {
        self.file.as_ref().map(|f| f.path.as_path())
    }

    /// The events delivered since start, as `(first, through)`: every
    /// event from `first` to `through` reached every sink.
    pub fn delivered(&self) -> Option<(u64, u64)> {
        let d = self.delivered.lock().unwrap_or_else(|e| e.into_inner());
        d.first.map(|first| (first, d.through))
    }
}

impl AuditObserver for AuditSinks {
    fn committed(&self, records: &[&AuditRecord]) -> std::io::Result<()> {
        let mut lines = Vec::with_capacity(records.len() * 256);
        for record in records {
            serde_json::to_writer(&mut lines, &crate::audit_line::audit_json(record))?;
            lines.push(b'\n');
        }
        if let Some(sink) = &self.file {
            let mut file = sink.file.lock().unwrap_or_else(|e| e.into_inner());
            file.write_all(&lines)?;
            file.sync_data()?;
        }
        if self.stdout {
            let mut out = std::io::stdout().lock();
            out.write_all(&lines)?;
            out.flush()?;
        }
        let mut delivered = self.delivered.lock().unwrap_or_else(|e| e.into_inner());
        for record in records {
            delivered.note(record.seq);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delivered_run_grows_only_without_gaps() {
        type Run = Option<(u64, u64)>;
        let cases: &[(&[u64], Run)] = &[
            (&[], None),
            (&[5], Some((5, 5))),
            (&[5, 6, 7], Some((5, 7))),
            (&[5, 7], Some((5, 5))),
            (&[5, 7, 8, 6], Some((5, 8))),
            (&[5, 5, 6], Some((5, 6))),
            (&[5, 3], Some((5, 5))),
        ];
        for (seqs, want) in cases {
            let mut d = Delivered::default();
            for s in *seqs {
                d.note(*s);
            }
            assert_eq!(d.first.map(|f| (f, d.through)), *want, "{seqs:?}");
        }
    }

    #[test]
    fn a_cut_line_is_ended_before_appending() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("audit.jsonl");
        std::fs::write(&path, b"{\"seq\":1}\n{\"seq\":2,\"at").unwrap();
        let sinks = AuditSinks::open(Some(&path), false).unwrap().unwrap();
        sinks.file.as_ref().unwrap().file.lock().unwrap().write_all(b"{\"seq\":3}\n").unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().last(), Some("{\"seq\":3}"));
        assert!(AuditSinks::open(None, false).unwrap().is_none());
    }
}
