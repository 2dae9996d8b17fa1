//! Errors from the stores.

/// Why a write could not be applied as asked.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Conflict {
    /// The secret's current version is not the one the write expected
    /// (`cas`, or a concurrent write). `current` is 0 when it does not exist.
    Version {
        /// The version found.
        current: u64,
    },
    /// The secret exists with another type; a type is fixed at creation.
    Type {
        /// The existing type.
        existing: hush_core::SecretType,
    },
    /// The secret requires `cas` (its KV setting `cas_required`) and the write gave none.
    CasRequired,
    /// The thing to create already exists.
    AlreadyExists,
}

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The write does not fit the current state; nothing was changed.
    #[error("conflict: {0:?}")]
    Conflict(Conflict),
    /// The thing to change does not exist; nothing was changed.
    #[error("not found")]
    NotFound,
    /// The database failed (I/O, full disk, locked, corrupt file).
    #[error("database error: {0}")]
    Database(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The database's schema is newer than this build of hush.
    #[error("the database at {path} has schema version {found}; this hush knows up to {known}")]
    SchemaTooNew {
        /// The file.
        path: String,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        known: i64,
    },
    /// A stored row does not decode (edited by hand, or from a newer hush).
    #[error("stored data is inconsistent: {0}")]
    Corrupt(String),
    /// The value could not be sealed (the OS refused randomness); nothing was written.
    #[error("sealing the value failed")]
    Seal(#[source] hush_crypto::RandomError),
    /// The audit journal beside the SQLite data store could not be read or
    /// written (I/O, full disk); the events of the calls it failed for were
    /// not recorded, and their calls failed.
    #[error("the audit journal {path} failed: {source}")]
    Journal {
        /// The file.
        path: String,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// An audit sink (`--audit-file`, `--audit-stdout`) could not write the
    /// events; they are in the store, but their calls failed.
    #[error("the audit sink failed: {0}")]
    AuditSink(#[source] std::io::Error),
    /// The store is shutting down.
    #[error("the store is closed")]
    Closed,
    /// The store cannot do this.
    #[error("not supported: {0}")]
    Unsupported(&'static str),
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Database(Box::new(e))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(Box::new(e))
    }
}

impl StoreError {
    pub(crate) fn corrupt(what: impl Into<String>) -> Self {
        StoreError::Corrupt(what.into())
    }
}
