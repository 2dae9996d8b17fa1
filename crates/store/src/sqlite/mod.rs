//! SQLite implementations of the [`DataStore`](crate::DataStore) and
//! [`KeyStore`](crate::KeyStore): hush's embedded default.
//!
//! Each store is one database file in its own directory. Both run in WAL mode
//! with `synchronous = FULL`, so a committed transaction survives power loss,
//! not only a killed process. The key store also runs with `secure_delete`, so
//! a destroyed namespace key is overwritten on disk rather than left in a free
//! page.
//!
//! SQLite is driven through rusqlite on threads of our own: one writer thread
//! owns the only read-write connection of the data store (group commit, with
//! an audit journal beside it for the events of reads), and
//! point reads run inline on a pooled read-only connection (they take
//! microseconds; scans that may take longer go to the blocking pool). Audit
//! events are stored compactly, their repeated strings by number
//! ([`audit_dictionary`]).

mod audit_dictionary;
mod audit_journal;
mod audit_mover;
mod checkpointer;
mod connect;
mod current_versions;
mod data_store;
mod dump;
mod file_sync;
mod group_commit;
mod key_store;
mod read_pool;
mod recent_reads;
mod rows;

pub use data_store::{SqliteDataStore, journal_files};
pub use dump::SqliteLoader;
pub use key_store::SqliteKeyStore;

/// File name of the data store inside the data directory.
pub const DATA_FILE: &str = "hush.db";
/// File name of the key store inside the key directory.
pub const KEYS_FILE: &str = "keys.db";
