//! Syncing a connection's database file outside SQLite's own checkpoints,
//! through SQLite's own descriptor of it.
//!
//! The checkpointing thread needs this ([`super::checkpointer`]): SQLite
//! syncs the database file after a checkpoint only when it copied the whole
//! log, which a round the writer outruns never does.
//!
//! Why not a descriptor of our own: POSIX record locks belong to the
//! process, and closing *any* descriptor of a file releases all the
//! process's locks on it, SQLite's included, so another process could then
//! take the database from under our connections (SQLite's "How To Corrupt
//! An SQLite Database File", §2.2). SQLite guards its own descriptors
//! against this (a connection's descriptor stays open while another holds
//! locks); one of ours, closed when its thread ends, could not be guarded.
//! So the sync asks SQLite for the file object it uses
//! (`SQLITE_FCNTL_FILE_POINTER`) and calls that object's own `xSync`, as
//! SQLite itself does. rusqlite's safe `file_control` does not offer that
//! opcode, so this is the one module in hush with `unsafe` code: three FFI
//! calls, each with the reason it is sound.

#![allow(unsafe_code)]

use std::ffi::c_int;

use rusqlite::{Connection, ffi};

/// Syncs the data (not the metadata, which a checkpoint does not change
/// unless the file grew, and then the full checkpoint's sync follows) of
/// `conn`'s main database file to disk. A connection without a file (an
/// in-memory database) has nothing to sync.
pub(crate) fn sync_database_file(conn: &Connection) -> rusqlite::Result<()> {
    let mut file: *mut ffi::sqlite3_file = std::ptr::null_mut();
    // SAFETY: `conn.handle()` is the handle of an open connection, valid
    // while `conn` is borrowed; `Connection` is not `Sync`, so no other
    // thread uses it meanwhile. `SQLITE_FCNTL_FILE_POINTER` writes one
    // `sqlite3_file*` through its argument, which points at `file`, a live
    // local of that type.
    let code = unsafe {
        ffi::sqlite3_file_control(
            conn.handle(),
            c"main".as_ptr(),
            ffi::SQLITE_FCNTL_FILE_POINTER,
            (&raw mut file).cast(),
        )
    };
    check(code)?;
    // SAFETY: SQLite set `file` to null or to the database file's object,
    // which the connection owns until it closes (not before `conn` is no
    // longer borrowed). A file that is not open has no methods.
    let sync = unsafe { file.as_ref() }.and_then(|f| unsafe { f.pMethods.as_ref() }).and_then(|m| m.xSync);
    let Some(sync) = sync else { return Ok(()) };
    // SAFETY: the VFS's own method, on the object it belongs to, with flags
    // SQLite itself passes; syncing needs no lock (SQLite syncs the database
    // file outside transactions too), and the object is used by no other
    // thread meanwhile (see above).
    check(unsafe { sync(file, ffi::SQLITE_SYNC_NORMAL | ffi::SQLITE_SYNC_DATAONLY) })
}

fn check(code: c_int) -> rusqlite::Result<()> {
    match code {
        ffi::SQLITE_OK => Ok(()),
        code => Err(rusqlite::Error::SqliteFailure(ffi::Error::new(code), None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sqlite::connect::{Access, open};

    /// The POSIX locks this process holds on the file with inode `inode`,
    /// as the kernel lists them.
    fn locks_held_on(inode: u64) -> usize {
        let pid = std::process::id().to_string();
        std::fs::read_to_string("/proc/locks")
            .unwrap()
            .lines()
            .filter(|line| {
                let fields: Vec<&str> = line.split_whitespace().collect();
                // "1: POSIX ADVISORY READ 1234 fd:01:5678 ..." (a blocked
                // lock has "->" after the number).
                let fields: Vec<&str> = fields.into_iter().filter(|f| *f != "->").collect();
                fields.get(1) == Some(&"POSIX")
                    && fields.get(4) == Some(&pid.as_str())
                    && fields.get(5).and_then(|id| id.rsplit(':').next()) == Some(inode.to_string().as_str())
            })
            .count()
    }

    /// The sync goes through SQLite's descriptor: the locks SQLite holds on
    /// the file are all still held afterwards (a descriptor opened and
    /// closed by us would have released them).
    #[test]
    fn syncing_keeps_every_lock_sqlite_holds_on_the_file() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let mut conn = open(&path, Access::ReadWrite, false).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1)").unwrap();
        let inode = std::fs::metadata(&path).unwrap().ino();
        // An open write transaction holds a lock on the database file.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive).unwrap();
        tx.execute("INSERT INTO t VALUES (2)", []).unwrap();
        let held = locks_held_on(inode);
        assert!(held > 0, "the test needs SQLite to hold a lock on the file");

        sync_database_file(&tx).unwrap();
        assert_eq!(locks_held_on(inode), held, "the sync released SQLite's locks");
        tx.commit().unwrap();

        // What a descriptor of our own would have done: the check can see it.
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Exclusive).unwrap();
        drop(std::fs::File::open(&path).unwrap());
        assert!(locks_held_on(inode) < held, "closing a descriptor of our own releases the locks");
        tx.rollback().unwrap();
    }

    /// `unsafe_code` is denied in the workspace, not forbidden, only so this
    /// module can allow it: no other file may.
    #[test]
    fn this_is_the_only_module_allowed_unsafe_code() {
        fn allowing(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
            for entry in std::fs::read_dir(dir).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() && path.file_name().is_some_and(|name| name != "target" && name != ".git") {
                    allowing(&path, found);
                } else if path.extension().is_some_and(|ext| ext == "rs")
                    && std::fs::read_to_string(&path).unwrap().contains(concat!("allow(", "unsafe_code)"))
                {
                    found.push(path);
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut found = Vec::new();
        for top in ["crates", "bench"] {
            allowing(&root.join(top), &mut found);
        }
        let this = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/sqlite/file_sync.rs");
        let this = this.canonicalize().unwrap();
        let found: Vec<_> = found.iter().map(|path| path.canonicalize().unwrap()).collect();
        assert_eq!(found, [this]);
    }

    #[test]
    fn an_in_memory_database_has_nothing_to_sync() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1)").unwrap();
        sync_database_file(&conn).unwrap();
    }
}
