//! PostgreSQL implementations of the [`DataStore`](crate::DataStore) and
//! [`KeyStore`](crate::KeyStore), for several replicas over one database
//! (or two: the stores may live on different servers).
//!
//! Driven through sqlx with runtime queries (no compile-time checking, so
//! building needs no database).

mod connect;
mod data_store;
mod dump;
mod key_store;

pub use data_store::PgDataStore;
pub use dump::PgLoader;
pub use key_store::PgKeyStore;

/// `url` without its password, for messages and logs.
pub fn redacted_url(url: &str) -> String {
    connect::shown(url)
}
