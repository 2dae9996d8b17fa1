//! The SQLite store's write-ahead log under continuous writes: copied back
//! into the database file off the writer's path, and started over, so it
//! stays about as long as SQLite's own checkpoints keep it.

use hush_core::{NamespaceName, SecretName, SecretType};
use hush_crypto::AuditKey;
use hush_store::sqlite::{DATA_FILE, SqliteDataStore};
use hush_store::{
    AuditAction, AuditEvent, DataStore, Mutation, NamespaceRecord, PutVersion, SecretQuery, WriteRequest, now_millis,
};

const PAGE: u64 = 4096;
/// The log's length, in pages, at which the test's store copies it back
/// (hush's own is 16,000; this keeps the test's writes small).
const CHECKPOINT_AT: u64 = 1000;

fn write(ns: &NamespaceRecord, name: String, ciphertext_len: usize) -> WriteRequest {
    let mut audit = AuditEvent::new(AuditAction::SecretWrite, Some("tok".into()), None);
    audit.name = Some(name.clone());
    WriteRequest {
        mutation: Mutation::PutVersion(PutVersion {
            namespace_id: ns.id.clone(),
            name: SecretName::parse(&name).unwrap(),
            new_secret_id: format!("id-{name}"),
            secret_type: SecretType::Generic,
            expected_version: None,
            key_version: 1,
            seal: Box::new(move |_| Ok(vec![7; ciphertext_len])),
            at: now_millis(),
            keep_versions: 3,
        }),
        audit,
    }
}

/// A store copying its log back at [`CHECKPOINT_AT`] pages, with one
/// namespace.
async fn store_with_a_namespace(path: &std::path::Path) -> (SqliteDataStore, NamespaceRecord) {
    let data =
        SqliteDataStore::open_with_log_pages(path, AuditKey::generate().unwrap(), CHECKPOINT_AT as u32).await.unwrap();
    let ns = NamespaceRecord {
        id: "ns1".into(),
        name: NamespaceName::parse("default").unwrap(),
        created_at: 1,
        kv: Default::default(),
    };
    let mut audit = AuditEvent::new(AuditAction::NamespaceCreate, Some("tok".into()), None);
    audit.name = Some("default".into());
    data.write(WriteRequest { mutation: Mutation::CreateNamespace(ns.clone()), audit }).await.unwrap();
    (data, ns)
}

/// Writes that never pause for the log to be copied (32 at a time, about
/// 40,000 pages in all) leave a log of a few thousand pages at most, and
/// every write in the database file. Were the log only copied on the
/// checkpointing thread, it would never start over while writes go on,
/// and would hold every page written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_stays_short_under_writes_that_never_pause() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DATA_FILE);
    let (data, ns) = store_with_a_namespace(&path).await;

    let (tasks, each, ciphertext_len) = (32, 400, 3000);
    let mut running = Vec::new();
    for task in 0..tasks {
        let (data, ns) = (data.clone(), ns.clone());
        running.push(tokio::spawn(async move {
            for i in 0..each {
                data.write(write(&ns, format!("s{task}-{i}"), ciphertext_len)).await.unwrap();
            }
        }));
    }
    for task in running {
        task.await.unwrap();
    }

    let written = (tasks * each * ciphertext_len) as u64;
    let database = std::fs::metadata(&path).unwrap().len();
    let log = std::fs::metadata(dir.path().join(format!("{DATA_FILE}-wal"))).unwrap().len();
    assert!(written > 7 * CHECKPOINT_AT * PAGE, "the test writes more than the bound it checks");
    assert!(
        log <= 4 * CHECKPOINT_AT * PAGE,
        "the log grew to {log} bytes ({} pages) for {written} bytes written",
        log / PAGE
    );
    assert!(
        database + log >= written,
        "the writes are in the database file ({database} bytes) or the log ({log} bytes)"
    );
    assert!(database >= written - log, "pages were copied into the database file: {database} bytes");
    assert_eq!(
        data.secrets(&ns.id, &SecretQuery { limit: 20_000, ..Default::default() }).await.unwrap().len(),
        tasks * each
    );
}

/// A snapshot held while writes go on (a backup being downloaded) keeps the
/// log from starting over, so it grows past the threshold; once the
/// snapshot is let go, the log starts over and its file is cut back to
/// twice the threshold instead of keeping the length it reached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_stretched_by_a_held_snapshot_is_cut_back_once_it_starts_over() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DATA_FILE);
    let wal = dir.path().join(format!("{DATA_FILE}-wal"));
    let (data, ns) = store_with_a_namespace(&path).await;
    let limit = 2 * CHECKPOINT_AT * (PAGE + 24);

    let reader = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader.query_row("SELECT count(*) FROM namespaces", [], |r| r.get(0)).unwrap();
    let held = 600;
    for i in 0..held {
        data.write(write(&ns, format!("held-{i}"), 3000)).await.unwrap();
    }
    let stretched = std::fs::metadata(&wal).unwrap().len();
    assert!(stretched > limit, "the held snapshot let the log grow to {stretched} bytes, past {limit}");

    reader.execute_batch("COMMIT").unwrap();
    drop(reader);
    let mut written = 0;
    while std::fs::metadata(&wal).unwrap().len() > limit {
        assert!(written < 2000, "the log's file is still {} bytes", std::fs::metadata(&wal).unwrap().len());
        data.write(write(&ns, format!("after-{written}"), 3000)).await.unwrap();
        written += 1;
    }
    assert_eq!(
        data.secrets(&ns.id, &SecretQuery { limit: 20_000, ..Default::default() }).await.unwrap().len(),
        held + written
    );
}
