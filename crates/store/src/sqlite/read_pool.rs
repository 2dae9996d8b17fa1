//! A pool of read-only connections.
//!
//! Point reads (one row by key, from SQLite's page cache) take microseconds,
//! less than handing them to another thread would, so they run inline on the
//! calling task. Reads that may scan many rows run on tokio's blocking pool.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rusqlite::Connection;

use super::connect::{Access, open};
use crate::StoreError;

/// Connections kept idle; more are opened under load and closed after.
const IDLE: usize = 8;

#[derive(Debug)]
pub(crate) struct ReadPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReadPool {
    pub(crate) fn new(path: &Path) -> Result<Arc<Self>, StoreError> {
        let first = open(path, Access::ReadOnly, false)?;
        Ok(Arc::new(ReadPool { path: path.to_owned(), idle: Mutex::new(vec![first]) }))
    }

    fn take(&self) -> Result<Connection, StoreError> {
        let pooled = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
        match pooled {
            Some(c) => Ok(c),
            None => open(&self.path, Access::ReadOnly, false),
        }
    }

    fn give_back(&self, conn: Connection) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if idle.len() < IDLE {
            idle.push(conn);
        }
    }

    /// Runs a short read on the calling thread.
    pub(crate) fn read<T>(&self, f: impl FnOnce(&Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let conn = self.take()?;
        let result = f(&conn);
        self.give_back(conn);
        result
    }

    /// Runs a read that may take a while on the blocking pool.
    pub(crate) async fn scan<T: Send + 'static>(
        self: &Arc<Self>,
        f: impl FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let pool = Arc::clone(self);
        tokio::task::spawn_blocking(move || pool.read(f)).await.map_err(|e| StoreError::Database(Box::new(e)))?
    }
}
