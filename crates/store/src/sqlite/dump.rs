//! Dumping a SQLite store as rows ([`crate::dump`]) and loading rows into
//! a new one.
//!
//! A load writes a new file (mode 0600) beside the target
//! (`hush.db.restoring`) and links it into place only once every row is in
//! and synced (a link never replaces a file that appeared meanwhile), so an
//! interrupted restore leaves no store behind, only nothing. Inside that
//! file durability does not matter until the end: it is written with
//! `synchronous = OFF` and one transaction per batch, then synced once.
//! Audit events go in through the writer's own encoding
//! ([`append_audit`]), so a loaded log is stored exactly as a written one.

use std::fs;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use rusqlite::Connection;
use rusqlite::types::{ToSql, ToSqlOutput, ValueRef};

use super::audit_dictionary::Dictionary;
use super::connect::{Access, migrate, open};
use super::group_commit::append_audit;
use crate::StoreError;
use crate::dump::{Cell, DumpItem, NamedCells, StoreKind, StoreLoader, TABLES, TableSpec, check_row, tables_of};

/// Where a table's rows are read from, and in what order: the audit log
/// through its view, which puts every string back in place, by `seq`.
fn source_of(spec: &TableSpec) -> (&'static str, &'static str) {
    match (spec.store, spec.name) {
        (StoreKind::Data, "audit_events") => ("audit_log", " ORDER BY seq"),
        (_, name) => (name, ""),
    }
}

fn cell(value: ValueRef<'_>, spec: &TableSpec, column: &str) -> Result<Cell, StoreError> {
    Ok(match value {
        ValueRef::Null => Cell::Null,
        ValueRef::Integer(v) => Cell::Int(v),
        ValueRef::Text(t) => Cell::Text(
            String::from_utf8(t.to_vec())
                .map_err(|_| StoreError::corrupt(format!("{}.{column} is not UTF-8", spec.name)))?,
        ),
        ValueRef::Blob(b) => Cell::Bytes(b.to_vec()),
        ValueRef::Real(_) => return Err(StoreError::corrupt(format!("{}.{column} holds a real number", spec.name))),
    })
}

/// Hands every table of `store` to `out`, from one read transaction on `conn`.
pub(crate) fn dump_tables(
    conn: &Connection,
    store: StoreKind,
    mut out: impl FnMut(DumpItem) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    conn.execute_batch("BEGIN")?;
    let sent = (|| {
        for (table, spec) in tables_of(store) {
            let (source, order) = source_of(spec);
            let rows: i64 = conn.query_row(&format!("SELECT count(*) FROM {source}"), [], |r| r.get(0))?;
            out(DumpItem::Table { table, rows: rows as u64 })?;
            let columns = spec.columns.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ");
            let mut stmt = conn.prepare(&format!("SELECT {columns} FROM {source}{order}"))?;
            let mut rows = stmt.query([])?;
            while let Some(row) = rows.next()? {
                let cells = spec
                    .columns
                    .iter()
                    .enumerate()
                    .map(|(i, (column, _))| cell(row.get_ref(i)?, spec, column))
                    .collect::<Result<Vec<_>, _>>()?;
                out(DumpItem::Row(cells))?;
            }
        }
        Ok(())
    })();
    conn.execute_batch("COMMIT")?;
    sent
}

impl ToSql for Cell {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::Borrowed(match self {
            Cell::Null => ValueRef::Null,
            Cell::Int(v) => ValueRef::Integer(*v),
            Cell::Text(t) => ValueRef::Text(t.as_bytes()),
            Cell::Bytes(b) => ValueRef::Blob(b),
        }))
    }
}

/// Loads a dump into a new SQLite store file.
#[derive(Debug)]
pub struct SqliteLoader {
    /// The connection and the audit strings' numbering; moved to a blocking thread per batch.
    state: Option<(Connection, Dictionary)>,
    store: StoreKind,
    building: PathBuf,
    target: PathBuf,
    /// The file is complete, synced and closed.
    prepared: bool,
    /// The file is in its place.
    done: bool,
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// The new file and SQLite's companions of it.
fn building_files(building: &Path) -> [PathBuf; 3] {
    ["", "-wal", "-shm"].map(|suffix| with_suffix(building, suffix))
}

impl SqliteLoader {
    /// Starts a new `store` at `target`, which must not exist yet. A file
    /// left by an interrupted load is started over.
    pub fn create(target: &Path, store: StoreKind) -> Result<Self, StoreError> {
        if target.exists() {
            return Err(StoreError::Conflict(crate::Conflict::AlreadyExists));
        }
        let building = with_suffix(target, ".restoring");
        for leftover in building_files(&building) {
            if let Err(e) = fs::remove_file(&leftover)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(StoreError::Database(Box::new(e)));
            }
        }
        let mut conn = open(&building, Access::ReadWrite, store == StoreKind::Keys)?;
        fs::set_permissions(&building, std::os::unix::fs::PermissionsExt::from_mode(0o600))
            .map_err(|e| StoreError::Database(Box::new(e)))?;
        let migrations = match store {
            StoreKind::Data => super::data_store::MIGRATIONS,
            StoreKind::Keys => super::key_store::MIGRATIONS,
        };
        migrate(&mut conn, &building, migrations)?;
        // Nothing reads this file until it is complete and synced (commit).
        conn.pragma_update(None, "synchronous", "OFF")?;
        Ok(Self {
            state: Some((conn, Dictionary::default())),
            store,
            building,
            target: target.to_owned(),
            prepared: false,
            done: false,
        })
    }

    async fn blocking<T: Send + 'static>(
        &mut self,
        f: impl FnOnce(&Connection, &mut Dictionary) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (conn, mut dictionary) = self.state.take().ok_or(StoreError::Closed)?;
        let (state, result) = tokio::task::spawn_blocking(move || {
            let result = f(&conn, &mut dictionary);
            ((conn, dictionary), result)
        })
        .await
        .map_err(|e| StoreError::Database(Box::new(e)))?;
        self.state = Some(state);
        result
    }
}

fn insert_rows(
    conn: &Connection,
    dictionary: &mut Dictionary,
    spec: &'static TableSpec,
    rows: &[Vec<Cell>],
) -> Result<(), StoreError> {
    if spec.store == StoreKind::Data && spec.name == "audit_events" {
        for cells in rows {
            let record = crate::rows::audit(&NamedCells { spec, cells })?;
            let mac: [u8; 32] =
                record.mac.as_slice().try_into().map_err(|_| {
                    StoreError::corrupt(format!("audit event {} has a MAC of the wrong size", record.seq))
                })?;
            append_audit(conn, dictionary, record.seq, &record.event, &mac)?;
        }
        return Ok(());
    }
    let columns = spec.columns.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ");
    let marks = vec!["?"; spec.columns.len()].join(", ");
    let mut stmt = conn.prepare_cached(&format!("INSERT INTO {} ({columns}) VALUES ({marks})", spec.name))?;
    for cells in rows {
        stmt.execute(rusqlite::params_from_iter(cells.iter()))?;
    }
    Ok(())
}

#[async_trait]
impl StoreLoader for SqliteLoader {
    async fn load(&mut self, table: usize, rows: Vec<Vec<Cell>>) -> Result<(), StoreError> {
        let spec = TABLES.get(table).filter(|t| t.store == self.store).ok_or(StoreError::NotFound)?;
        for cells in &rows {
            check_row(spec, cells)?;
        }
        self.blocking(move |conn, dictionary| {
            dictionary.begin();
            conn.execute_batch("BEGIN")?;
            match insert_rows(conn, dictionary, spec, &rows) {
                Ok(()) => {
                    conn.execute_batch("COMMIT")?;
                    dictionary.committed();
                    Ok(())
                }
                Err(e) => {
                    let _ = conn.execute_batch("ROLLBACK");
                    Err(e)
                }
            }
        })
        .await
    }

    async fn prepare(&mut self) -> Result<(), StoreError> {
        let (conn, _) = self.state.take().ok_or(StoreError::Closed)?;
        let building = self.building.clone();
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            // Closing the only connection moves the write-ahead log into the file and removes it.
            let _: i64 = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            conn.close().map_err(|(_, e)| e)?;
            fs::File::open(&building).and_then(|f| f.sync_all()).map_err(io_error)
        })
        .await
        .map_err(|e| StoreError::Database(Box::new(e)))??;
        self.prepared = true;
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), StoreError> {
        if !self.prepared {
            self.prepare().await?;
        }
        // A link, not a rename: a store that appeared at the target meanwhile is never replaced.
        match fs::hard_link(&self.building, &self.target) {
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                return Err(StoreError::Conflict(crate::Conflict::AlreadyExists));
            }
            linked => linked.map_err(io_error)?,
        }
        self.done = true;
        let _ = fs::remove_file(&self.building);
        sync_parent(&self.target)
    }

    async fn undo_commit(&mut self) -> Result<(), StoreError> {
        if self.done {
            fs::remove_file(&self.target).map_err(io_error)?;
            sync_parent(&self.target)?;
        }
        Ok(())
    }
}

fn io_error(e: std::io::Error) -> StoreError {
    StoreError::Database(Box::new(e))
}

fn sync_parent(path: &Path) -> Result<(), StoreError> {
    match path.parent().filter(|d| !d.as_os_str().is_empty()) {
        Some(dir) => fs::File::open(dir).and_then(|f| f.sync_all()).map_err(io_error),
        None => Ok(()),
    }
}

impl Drop for SqliteLoader {
    fn drop(&mut self) {
        if !self.done {
            drop(self.state.take());
            for file in building_files(&self.building) {
                let _ = fs::remove_file(file);
            }
        }
    }
}
