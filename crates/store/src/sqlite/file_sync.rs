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

/// Syncs `conn`'s main database file to disk, as SQLite's own checkpoint
/// does (the unix VFS calls `fsync`). A connection without a file (an
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
    // SAFETY: the VFS's own method, on the object it belongs to, with the
    // flag SQLite's checkpoint passes under `synchronous = FULL`. The unix
    // VFS's sync touches only this connection's object (its descriptor and
    // flags), never state shared with other connections, and needs no
    // lock; the object is used by no other thread meanwhile (see above).
    check(unsafe { sync(file, ffi::SQLITE_SYNC_NORMAL) })
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
    #[cfg(target_os = "linux")]
    fn locks_held_on(inode: u64) -> usize {
        let pid = std::process::id().to_string();
        let inode = inode.to_string();
        std::fs::read_to_string("/proc/locks")
            .expect("this test reads the process's locks from /proc/locks")
            .lines()
            .filter(|line| {
                // "1: POSIX ADVISORY READ 1234 fd:01:5678 0 EOF" (a blocked
                // lock has "->" after the number).
                let fields: Vec<&str> = line.split_whitespace().filter(|f| *f != "->").collect();
                fields.get(1) == Some(&"POSIX")
                    && fields.get(4) == Some(&pid.as_str())
                    && fields.get(5).and_then(|id| id.rsplit(':').next()) == Some(inode.as_str())
            })
            .count()
    }

    /// The sync goes through SQLite's descriptor: the lock SQLite holds on
    /// the file (in WAL mode, a shared lock for as long as the connection
    /// is open) is still held afterwards, where opening and closing a
    /// descriptor of our own releases it.
    #[cfg(target_os = "linux")]
    #[test]
    fn syncing_keeps_every_lock_sqlite_holds_on_the_file() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        let conn = open(&path, Access::ReadWrite, false).unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1)").unwrap();
        let inode = std::fs::metadata(&path).unwrap().ino();
        let held = locks_held_on(inode);
        assert!(held > 0, "the test needs SQLite to hold a lock on the file");

        sync_database_file(&conn).unwrap();
        assert_eq!(locks_held_on(inode), held, "the sync released SQLite's locks");

        // What a descriptor of our own does: the check can see it.
        drop(std::fs::File::open(&path).unwrap());
        assert!(locks_held_on(inode) < held, "closing a descriptor of our own releases the locks");
    }

    /// `unsafe_code` is denied in the workspace, not forbidden, only so this
    /// module can allow it: no other Rust file may hold `unsafe` code or
    /// allow it (also the crates and workspaces outside the workspace's
    /// lints: generated gRPC code, the benches, the fuzz targets).
    #[test]
    fn this_is_the_only_module_with_unsafe_code() {
        const MARKS: [&str; 6] =
            ["unsafe {", "unsafe fn ", "unsafe impl ", "unsafe extern ", "allow(unsafe_code", "expect(unsafe_code"];
        fn scan(dir: &std::path::Path, found: &mut Vec<String>) {
            let Ok(entries) = std::fs::read_dir(dir) else { return };
            for entry in entries {
                let path = entry.unwrap().path();
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                if path.is_dir() {
                    if !name.starts_with('.') && name != "target" && name != "results" {
                        scan(&path, found);
                    }
                } else if name.ends_with(".rs") && !path.ends_with("crates/store/src/sqlite/file_sync.rs") {
                    let text = std::fs::read_to_string(&path).unwrap();
                    found.extend(
                        MARKS
                            .iter()
                            .filter(|mark| text.contains(*mark))
                            .map(|mark| format!("{}: {mark}", path.display())),
                    );
                }
            }
        }
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let mut found = Vec::new();
        for top in ["crates", "bench", "fuzz"] {
            scan(&root.join(top), &mut found);
        }
        assert!(found.is_empty(), "unsafe code outside crates/store/src/sqlite/file_sync.rs: {found:?}");
        let this = std::fs::read_to_string(root.join("crates/store/src/sqlite/file_sync.rs")).unwrap();
        assert!(this.contains(MARKS[0]), "the scan looks for what this module holds");
    }

    #[test]
    fn an_in_memory_database_has_nothing_to_sync() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x); INSERT INTO t VALUES (1)").unwrap();
        sync_database_file(&conn).unwrap();
    }
}
