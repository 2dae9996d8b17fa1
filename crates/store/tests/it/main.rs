//! Store behaviour, against the SQLite implementation.
#![allow(missing_debug_implementations)]

mod data_store;
mod key_store;

use std::sync::Arc;

use hush_crypto::AuditKey;
use hush_store::sqlite::{DATA_FILE, KEYS_FILE, SqliteDataStore, SqliteKeyStore};
use hush_store::{DataStore, KeyStore};

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub data: Arc<dyn DataStore>,
    pub keys: Arc<dyn KeyStore>,
    pub audit_key: AuditKey,
}

pub async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let audit_key = AuditKey::generate().unwrap();
    let data = SqliteDataStore::open(&dir.path().join(DATA_FILE), audit_key.clone()).await.unwrap();
    let keys = SqliteKeyStore::open(&dir.path().join(KEYS_FILE)).await.unwrap();
    Fixture { dir, data: Arc::new(data), keys: Arc::new(keys), audit_key }
}
