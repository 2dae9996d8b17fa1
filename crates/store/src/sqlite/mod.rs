//! SQLite implementations of the [`DataStore`](crate::DataStore) and
//! [`KeyStore`](crate::KeyStore): hush's embedded default.
//!
//! Each store is one database file in its own directory. Both run in WAL mode
//! with `synchronous = FULL`, so a committed transaction survives power loss,
//! not only a killed process. The key store also runs with `secure_delete`, so
//! a destroyed namespace key is overwritten on disk rather than left in a free
//! page.

mod connect;
mod data_store;
mod group_commit;
mod key_store;
mod rows;

pub use data_store::SqliteDataStore;
pub use key_store::SqliteKeyStore;

/// File name of the data store inside the data directory.
pub const DATA_FILE: &str = "hush.db";
/// File name of the key store inside the key directory.
pub const KEYS_FILE: &str = "keys.db";
