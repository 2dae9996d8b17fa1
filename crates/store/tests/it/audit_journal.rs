//! The SQLite store's audit journal: events of reads are durable when
//! acknowledged, survive the writer stopping without moving them, and move
//! into `audit_events` with an unbroken chain and their `last_read_at`.

use std::os::unix::fs::FileExt;

use hush_core::{NamespaceName, SecretName, SecretType};
use hush_crypto::{AUDIT_GENESIS, AuditKey};
use hush_store::sqlite::{DATA_FILE, SqliteDataStore, journal_files};
use hush_store::{
    AuditAction, AuditEvent, AuditRecord, DataStore, Mutation, NamespaceRecord, PutVersion, SecretQuery, SecretRecord,
    WriteOutcome, WriteRequest, now_millis,
};

fn event(action: AuditAction, name: &str) -> AuditEvent {
    let mut e = AuditEvent::new(action, Some("tok".into()), None);
    e.name = Some(name.into());
    e
}

/// Checks that `records` are 1..=n with every MAC chaining from the genesis.
fn assert_chain(key: &AuditKey, records: &[AuditRecord]) {
    let mut mac = AUDIT_GENESIS;
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.seq, i as u64 + 1, "sequence without gaps");
        assert!(key.verify(&mac, &r.event.canonical(r.seq), &r.mac), "event {} chains", r.seq);
        mac = r.mac.as_slice().try_into().unwrap();
    }
}

fn namespace() -> NamespaceRecord {
    NamespaceRecord {
        id: "ns1".into(),
        name: NamespaceName::parse("default").unwrap(),
        created_at: 1,
        kv: Default::default(),
    }
}

/// A write of secret `name` in `ns`.
fn put(ns: &NamespaceRecord, name: &str) -> WriteRequest {
    WriteRequest {
        mutation: Mutation::PutVersion(PutVersion {
            namespace_id: ns.id.clone(),
            name: SecretName::parse(name).unwrap(),
            new_secret_id: format!("id-{name}"),
            secret_type: SecretType::Generic,
            expected_version: None,
            key_version: 1,
            seal: Box::new(|_| Ok(b"ct".to_vec())),
            at: now_millis(),
            keep_versions: 3,
        }),
        audit: event(AuditAction::SecretWrite, name),
    }
}

/// A new store at `path` with namespace `default` and secret `a` in it.
async fn open_with_secret(path: &std::path::Path, key: &AuditKey) -> (SqliteDataStore, NamespaceRecord, SecretRecord) {
    let data = SqliteDataStore::open(path, key.clone()).await.unwrap();
    let ns = namespace();
    let create = WriteRequest {
        mutation: Mutation::CreateNamespace(ns.clone()),
        audit: event(AuditAction::NamespaceCreate, "default"),
    };
    data.write(create).await.unwrap();
    let WriteOutcome::Secret(a) = data.write(put(&ns, "a")).await.unwrap() else { panic!("a secret") };
    (data, ns, a)
}

async fn all_events(data: &SqliteDataStore) -> Vec<AuditRecord> {
    data.audit_chain(0, 100_000).await.unwrap()
}

/// One read of `secret_id` at `at`, as the service records it.
async fn record_read(data: &SqliteDataStore, secret_id: String, at: i64) {
    let audit = event(AuditAction::SecretRead, "a");
    data.write(WriteRequest { mutation: Mutation::RecordRead { secret_id, at }, audit }).await.unwrap();
}

/// Reads and refusals are acknowledged from the journal; a writer that stops
/// without moving them (as a killed process does) loses none of them, and
/// the next open moves them in, in order, with the reads' `last_read_at`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn journaled_events_survive_and_move_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DATA_FILE);
    let key = AuditKey::generate().unwrap();
    let (data, ns, a) = open_with_secret(&path, &key).await;
    let put = |name: &str| put(&ns, name);
    assert_eq!(a.last_read_at, None);

    // Many concurrent reads and refusals, and one write among them.
    let mut tasks = Vec::new();
    for i in 0..200i64 {
        let data = data.clone();
        let secret_id = a.id.clone();
        tasks.push(tokio::spawn(async move {
            let mutation =
                if i % 4 == 0 { Mutation::AuditOnly } else { Mutation::RecordRead { secret_id, at: 1000 + i } };
            data.write(WriteRequest { mutation, audit: event(AuditAction::SecretRead, "a") }).await.unwrap();
        }));
    }
    tasks.push(tokio::spawn({
        let (data, put_b) = (data.clone(), put("b"));
        async move {
            data.write(put_b).await.unwrap();
        }
    }));
    for t in tasks {
        t.await.unwrap();
    }
    // The row shows the newest read at once, wherever that read's event is.
    let listed = data.secrets(&ns.id, &SecretQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(listed[0].last_read_at, Some(1199));
    // A last read after the write: it stays in the journal.
    data.write(WriteRequest {
        mutation: Mutation::RecordRead { secret_id: a.id.clone(), at: 5000 },
        audit: event(AuditAction::SecretRead, "a"),
    })
    .await
    .unwrap();
    // The journal is the first of the files.
    let journal = journal_files(&path)[0].clone();
    let records_end = crate::journal_records_len;
    assert!(records_end(&journal) > 0, "the last read is journaled");
    drop(data);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    // A torn write after the records (a crash mid-append, never acknowledged).
    let end = records_end(&journal) as u64;
    std::fs::OpenOptions::new()
        .write(true)
        .open(&journal)
        .unwrap()
        .write_all_at(&[200, 0, 0, 0, 1, 2, 3], end)
        .unwrap();

    let data = SqliteDataStore::open(&path, key.clone()).await.unwrap();
    assert_eq!(records_end(&journal), 0, "moved in and the journal started over at open");
    let events = all_events(&data).await;
    assert_eq!(events.len(), 1 + 1 + 200 + 1 + 1);
    assert_chain(&key, &events);
    let reads = events.iter().filter(|e| e.event.action == AuditAction::SecretRead).count();
    assert_eq!(reads, 201);
    let a = data.secret(&ns.id, &SecretName::parse("a").unwrap()).await.unwrap().unwrap();
    assert_eq!(a.last_read_at, Some(5000), "the journaled read's time reached the row");

    // Appending goes on from the recovered head.
    data.write(WriteRequest { mutation: Mutation::AuditOnly, audit: event(AuditAction::SecretList, "") })
        .await
        .unwrap();
    data.write(put("c")).await.unwrap();
    let events = all_events(&data).await;
    assert_eq!(events.len(), 206);
    assert_chain(&key, &events);
}

/// A journal written under another audit key (or edited) is not taken:
/// its records do not chain, so the store opens with what SQLite holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_journal_that_does_not_chain_is_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DATA_FILE);
    let key = AuditKey::generate().unwrap();
    let data = SqliteDataStore::open(&path, key.clone()).await.unwrap();
    for _ in 0..3 {
        data.write(WriteRequest { mutation: Mutation::AuditOnly, audit: event(AuditAction::SecretList, "") })
            .await
            .unwrap();
    }
    drop(data);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let other = AuditKey::generate().unwrap();
    let data = SqliteDataStore::open(&path, other.clone()).await.unwrap();
    assert!(all_events(&data).await.is_empty());
    data.write(WriteRequest { mutation: Mutation::AuditOnly, audit: event(AuditAction::SecretList, "") })
        .await
        .unwrap();
    assert_chain(&other, &all_events(&data).await);
}

/// Under a stream of reads, full journal files move into SQLite in the
/// background while batches go on to the other file: several moves, flushes
/// (queries of the log) and writes among them, and afterwards every event
/// is there once, in order, chained, with the newest read time on the row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_move_in_the_background_across_both_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DATA_FILE);
    let key = AuditKey::generate().unwrap();
    let (data, ns, a) = open_with_secret(&path, &key).await;
    // 5 rounds of 1,500 concurrent reads: more than two files' worth
    // (2,048 events start a move), with a query of the log after each round.
    let mut at = 10_000;
    let mut expected = 2;
    let mut used = [false; 2];
    for round in 0..5 {
        let mut tasks = Vec::new();
        for _ in 0..1_500 {
            at += 1;
            let (data, secret_id) = (data.clone(), a.id.clone());
            tasks.push(tokio::spawn(async move { record_read(&data, secret_id, at).await }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        expected += 1_500;
        for (i, file) in journal_files(&path).iter().take(2).enumerate() {
            if crate::journal_records_len(file) > 0 {
                used[i] = true;
            }
        }
        let head = data.audit_head().await.unwrap().unwrap();
        assert_eq!(head.0, expected, "round {round}: every answered event is in SQLite after a flush");
    }
    assert_eq!(used, [true, true], "batches went to both files");
    // A write goes through SQLite after the journaled events.
    data.write(WriteRequest { mutation: Mutation::AuditOnly, audit: event(AuditAction::SecretList, "") })
        .await
        .unwrap();
    let events = all_events(&data).await;
    assert_eq!(events.len() as u64, expected + 1);
    assert_chain(&key, &events);
    let row = data.secret(&ns.id, &SecretName::parse("a").unwrap()).await.unwrap().unwrap();
    assert_eq!(row.last_read_at, Some(at), "the newest read reached the row");
    // Reopened, nothing is moved twice.
    drop(data);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let data = SqliteDataStore::open(&path, key.clone()).await.unwrap();
    assert_eq!(all_events(&data).await.len() as u64, expected + 1);
}

/// While a move into SQLite cannot finish (another connection holds the
/// write lock), reads are journaled only up to a bound, then wait: the
/// journal's file and the events held in memory do not grow without end.
/// Once the move finishes, every read is answered and the chain is whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_wait_for_a_move_that_falls_behind() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DATA_FILE);
    let key = AuditKey::generate().unwrap();
    let (data, _ns, a) = open_with_secret(&path, &key).await;
    let blocker = rusqlite::Connection::open(&path).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    const READS: usize = 50_000;
    let answered = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for i in 0..READS {
        let (data, secret_id, answered) = (data.clone(), a.id.clone(), Arc::clone(&answered));
        tasks.push(tokio::spawn(async move {
            record_read(&data, secret_id, 10_000 + i as i64).await;
            answered.fetch_add(1, Ordering::SeqCst);
        }));
    }
    // Let the writer go as far as it will.
    let mut last = usize::MAX;
    for _ in 0..50 {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let now = answered.load(Ordering::SeqCst);
        if now == last {
            break;
        }
        last = now;
    }
    let held = answered.load(Ordering::SeqCst);
    let bytes_in_files: usize = journal_files(&path).iter().take(2).map(|f| crate::journal_records_len(f)).sum();
    assert!(held < READS, "every read was answered while no move could finish ({held})");
    // One move's worth in flight (2,048 events and the batch that crossed
    // that mark), the bound in the other file and the batch that crossed it
    // (a batch is at most 4,096 requests).
    assert!(held <= 2_048 + 16_384 + 2 * 4_096, "{held} reads answered, more than the bound");
    assert!(bytes_in_files <= 8 << 20, "{bytes_in_files} bytes of records in the journal's files");
    blocker.execute_batch("COMMIT").unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(answered.load(Ordering::SeqCst), READS);
    let events = all_events(&data).await;
    assert_eq!(events.len(), READS + 2, "the namespace, the secret, and every read");
    assert_chain(&key, &events);
}
