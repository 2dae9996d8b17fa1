//! Store behaviour: one suite, run against SQLite and against PostgreSQL.
//!
//! PostgreSQL comes from `HUSH_TEST_POSTGRES_URL` (a server `scripts/test`
//! starts; each fixture gets a fresh database on it). Without it the
//! PostgreSQL half says so loudly and stops; under `CI=true` it fails.
#![allow(missing_debug_implementations)]

mod audit_journal;
mod audit_log;
mod audit_migration;
mod audit_size;
mod checkpoints;
mod data_store;
mod dump;
mod key_store;

use std::sync::Arc;

use hush_crypto::AuditKey;
use hush_store::postgres::{PgDataStore, PgKeyStore};
use hush_store::sqlite::{DATA_FILE, KEYS_FILE, SqliteDataStore, SqliteKeyStore};
use hush_store::{DataStore, KeyStore};

pub struct Fixture {
    /// The directory of the SQLite files (none for PostgreSQL).
    pub dir: Option<tempfile::TempDir>,
    pub data: Arc<dyn DataStore>,
    pub keys: Arc<dyn KeyStore>,
    pub audit_key: AuditKey,
}

pub async fn sqlite_fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let audit_key = AuditKey::generate().unwrap();
    let data = SqliteDataStore::open(&dir.path().join(DATA_FILE), audit_key.clone()).await.unwrap();
    let keys = SqliteKeyStore::open(&dir.path().join(KEYS_FILE)).await.unwrap();
    Fixture { dir: Some(dir), data: Arc::new(data), keys: Arc::new(keys), audit_key }
}

/// A fresh database on the test server, or `None` (loudly) without one.
pub async fn postgres_fixture(test: &str) -> Option<Fixture> {
    let url = postgres_url(test).await?;
    let audit_key = AuditKey::generate().unwrap();
    let data = PgDataStore::open(&url, audit_key.clone()).await.unwrap();
    let keys = PgKeyStore::open(&url).await.unwrap();
    Some(Fixture { dir: None, data: Arc::new(data), keys: Arc::new(keys), audit_key })
}

/// The URL of a fresh, empty database on the test server, or `None` (loudly) without one.
pub async fn postgres_url(test: &str) -> Option<String> {
    let Ok(admin_url) = std::env::var("HUSH_TEST_POSTGRES_URL") else {
        let message = format!(
            "{test}: PostgreSQL half SKIPPED, not run: HUSH_TEST_POSTGRES_URL is not set (scripts/test starts a server)"
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}; in CI it must run");
        eprintln!("\n!!!!!!!! {message} !!!!!!!!\n");
        return None;
    };
    let name = format!("hush_store_{}", hush_crypto::random_id().unwrap().to_lowercase());
    let admin = sqlx::PgPool::connect(&admin_url).await.expect("the test PostgreSQL server answers");
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}"))).execute(&admin).await.unwrap();
    admin.close().await;
    let url = match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("HUSH_TEST_POSTGRES_URL must end in /DATABASE"),
    };
    Some(url)
}

/// How many bytes the records of an audit journal file take: the file is
/// preallocated, and its records (`[length: u32 LE][payload]`) run up to a
/// length of zero.
pub fn journal_records_len(file: &std::path::Path) -> usize {
    let bytes = std::fs::read(file).unwrap();
    let mut at = 0;
    while let Some(len) = bytes.get(at..at + 4).map(|b| u32::from_le_bytes(b.try_into().unwrap()) as usize) {
        if len == 0 {
            break;
        }
        at += 4 + len;
    }
    at
}

/// Runs the test `$name(fixture)` on both backends: `$name::sqlite` and `$name::postgres`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::sqlite_fixture().await).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(f) = $crate::postgres_fixture(concat!(module_path!(), "::", stringify!($name))).await {
                    super::$name(f).await;
                }
            }
        }
    )*};
}
