//! Opening store files: pragmas and schema migrations.
//!
//! Migrations are SQL files embedded in the binary and applied in order,
//! tracked in SQLite's own `user_version`; a database newer than the binary is
//! refused. (Ten lines; a migration crate would add a dependency for less
//! control over that refusal.)

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// How a connection is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Access {
    /// The one writer (creates the file).
    ReadWrite,
    /// A pooled reader.
    ReadOnly,
}

/// Opens `path` with WAL, full fsync, foreign keys and a busy timeout.
/// `secure_delete` overwrites freed pages (the key store uses it).
pub(crate) fn open(path: &Path, access: Access, secure_delete: bool) -> Result<Connection, StoreError> {
    let flags = match access {
        Access::ReadWrite => OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE,
        Access::ReadOnly => OpenFlags::SQLITE_OPEN_READ_ONLY,
    } | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)?;
    conn.busy_timeout(Duration::from_secs(10))?;
    if access == Access::ReadWrite {
        conn.pragma_update(None, "journal_mode", "WAL")?;
    }
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    if secure_delete {
        conn.pragma_update(None, "secure_delete", "ON")?;
    }
    // Plans must not depend on bound values: with STAT4 (on in the bundled
    // build) SQLite would otherwise re-prepare cached statements whenever a
    // parameter changes, which was a quarter of a read's CPU time.
    conn.set_db_config(rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(conn)
}

/// Applies the migrations the database has not seen yet, each in its own transaction.
pub(crate) fn migrate(conn: &mut Connection, path: &Path, migrations: &[&str]) -> Result<(), StoreError> {
    let found: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let known = migrations.len() as i64;
    if found > known {
        return Err(StoreError::SchemaTooNew { path: path.display().to_string(), found, known });
    }
    for (i, sql) in migrations.iter().enumerate().skip(found as usize) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i as i64 + 1)?;
        tx.commit()?;
    }
    if found > 0 && found < known {
        // A migration that rewrote a large table (0006, the audit log) left
        // a write-ahead log as large: copy it in and give the space back.
        let _busy: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
    }
    Ok(())
}
