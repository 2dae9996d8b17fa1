//! SQLite's compact audit log (migration 0006): a data store written before
//! it migrates with every event intact and its chain verifiable, edited
//! rows stay readable and detectable, and the common strings have the
//! smallest numbers.

use std::time::Instant;

use hush_core::NamespaceName;
use hush_crypto::{AUDIT_GENESIS, AuditKey};
use hush_store::sqlite::{DATA_FILE, SqliteDataStore};
use hush_store::{AuditAction, AuditEvent, AuditQuery, AuditRecord, DataStore, Mutation, Outcome, WriteRequest};
use rusqlite::{Connection, params};

use crate::audit_log::{assert_chain, every_kind_of_event};

/// The data store's schema before the compact audit log.
const BEFORE_0006: [&str; 5] = [
    include_str!("../../migrations/data/0001_initial.sql"),
    include_str!("../../migrations/data/0002_audit_client_cert.sql"),
    include_str!("../../migrations/data/0003_audit_refusals.sql"),
    include_str!("../../migrations/data/0004_login_roles.sql"),
    include_str!("../../migrations/data/0005_kv_versions.sql"),
];

/// A data store at schema 5 holding `events`, chained under `key` and
/// written as hush wrote them then (one text column per string).
fn data_store_before_0006(path: &std::path::Path, key: &AuditKey, events: impl Iterator<Item = AuditEvent>) {
    let mut conn = Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    for sql in BEFORE_0006 {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", 5).unwrap();
    let tx = conn.transaction().unwrap();
    {
        let mut insert = tx
            .prepare(
                "INSERT INTO audit_events (seq, at, token_id, action, namespace, namespace_id, name, version, \
                 outcome, context, client_cert, client_addr, refused_count, refused_first, refused_last, \
                 refused_reasons, identity, reason, mac) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            )
            .unwrap();
        let mut mac = AUDIT_GENESIS;
        for (i, e) in events.enumerate() {
            let seq = i as u64 + 1;
            mac = key.chain(&mac, &e.canonical(seq));
            insert
                .execute(params![
                    seq as i64,
                    e.at,
                    e.token_id,
                    e.action.as_str(),
                    e.namespace,
                    e.namespace_id,
                    e.name,
                    e.version.map(|v| v as i64),
                    e.outcome.as_str(),
                    e.context,
                    e.client_cert,
                    e.client_addr,
                    e.refusals.as_ref().map(|r| r.count as i64),
                    e.refusals.as_ref().map(|r| r.first_at),
                    e.refusals.as_ref().map(|r| r.last_at),
                    e.refusals.as_ref().map(|r| &r.reasons),
                    e.identity,
                    e.reason,
                    mac.as_slice(),
                ])
                .unwrap();
        }
    }
    tx.commit().unwrap();
}

async fn whole_chain(data: &SqliteDataStore) -> Vec<AuditRecord> {
    data.audit_chain(0, 100_000).await.unwrap()
}

/// Every event written before 0006 reads back identically after it, the
/// chain verifies across old and new events, and the filters find them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_data_store_from_before_0006_migrates_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DATA_FILE);
    let key = AuditKey::generate().unwrap();
    let events = every_kind_of_event();
    data_store_before_0006(&path, &key, events.iter().cloned());

    let data = SqliteDataStore::open(&path, key.clone()).await.unwrap();
    let migrated = whole_chain(&data).await;
    assert_eq!(migrated.iter().map(|r| r.event.clone()).collect::<Vec<_>>(), events);
    assert_chain(&key, &migrated);

    // New events chain on from the migrated head, through the journal and
    // through a transaction, and reuse the strings the old ones had.
    for (mutation, event) in [(Mutation::AuditOnly, &events[1]), (Mutation::Rewrap(Vec::new()), &events[2])] {
        data.write(WriteRequest { mutation, audit: event.clone() }).await.unwrap();
    }
    let all = whole_chain(&data).await;
    assert_eq!(all.len(), events.len() + 2);
    assert_eq!(all[events.len()].event, events[1]);
    assert_eq!(all[events.len() + 1].event, events[2]);
    assert_chain(&key, &all);

    let in_default = AuditQuery {
        namespace: Some(NamespaceName::parse("default").unwrap()),
        action: Some(AuditAction::SecretRead),
        limit: 1000,
        ..Default::default()
    };
    let found = data.audit_events(&in_default).await.unwrap();
    let want: Vec<u64> = all
        .iter()
        .rev()
        .filter(|r| r.event.namespace.as_deref() == Some("default") && r.event.action == AuditAction::SecretRead)
        .map(|r| r.seq)
        .collect();
    assert!(want.len() >= 3);
    assert_eq!(found.iter().map(|r| r.seq).collect::<Vec<_>>(), want);
    drop(data);

    // The old table and its indexes are gone; the strings are stored once.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let conn = Connection::open(&path).unwrap();
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 7);
    let indexes: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'audit_events'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(indexes, ["audit_events_by_namespace"]);
    let count = |sql: &str| -> i64 { conn.query_row(sql, [], |r| r.get(0)).unwrap() };
    assert_eq!(count("SELECT COUNT(*) FROM audit_text WHERE text = 'svc-042/key-0001234'"), 1);
    assert_eq!(count("SELECT COUNT(*) FROM audit_namespaces WHERE name = 'default' AND namespace_id IS NOT NULL"), 1);
    let rows_naming_it = "SELECT COUNT(*) FROM audit_events WHERE name = \
        (SELECT id FROM audit_text WHERE text = 'svc-042/key-0001234')";
    assert!(count(rows_naming_it) > 40);
}

/// An edited row is reported by `audit verify`, never an error that makes
/// the log unreadable: a number that refers to no string reads as a
/// missing (or unrecognized) field, an edited string changes every event
/// that uses it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edited_rows_stay_readable_and_fail_their_mac() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DATA_FILE);
    let key = AuditKey::generate().unwrap();
    let data = SqliteDataStore::open(&path, key.clone()).await.unwrap();
    let mut read = AuditEvent::new(AuditAction::SecretRead, Some("tok".into()), None);
    read.name = Some("db/password".into());
    for _ in 0..4 {
        data.write(WriteRequest { mutation: Mutation::AuditOnly, audit: read.clone() }).await.unwrap();
    }
    assert_chain(&key, &whole_chain(&data).await);

    let conn = Connection::open(&path).unwrap();
    conn.execute("UPDATE audit_events SET action = 9999, outcome = 9998, name = 9997 WHERE seq = 2", []).unwrap();
    let records = whole_chain(&data).await;
    assert_eq!(records[1].event.action, AuditAction::Unrecognized);
    assert_eq!(records[1].event.outcome, Outcome::Unrecognized);
    assert_eq!(records[1].event.name, None);
    assert!(!key.verify(
        records[0].mac.as_slice().try_into().unwrap(),
        &records[1].event.canonical(2),
        &records[1].mac
    ));
    let listed = data.audit_events(&AuditQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(listed.len(), 4);

    conn.execute("UPDATE audit_text SET text = 'other' WHERE text = 'db/password'", []).unwrap();
    let records = whole_chain(&data).await;
    assert_eq!(records[0].event.name.as_deref(), Some("other"));
    assert!(!key.verify(&AUDIT_GENESIS, &records[0].event.canonical(1), &records[0].mac));
}

/// The migration numbers every action and outcome hush has, so each takes
/// one byte in a row; `ok` and `secret.read` take none (0 and 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_action_and_outcome_has_a_small_number() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DATA_FILE);
    let data = SqliteDataStore::open(&path, AuditKey::generate().unwrap()).await.unwrap();
    let conn = Connection::open(&path).unwrap();
    let number = |text: &str| -> i64 {
        conn.query_row("SELECT id FROM audit_text WHERE text = ?", [text], |r| r.get(0))
            .unwrap_or_else(|_| panic!("{text} is numbered"))
    };
    assert_eq!(number("ok"), 0);
    assert_eq!(number("secret.read"), 1);
    for name in AuditAction::ALL.map(AuditAction::as_str).into_iter().chain(Outcome::ALL.map(Outcome::as_str)) {
        assert!((0..128).contains(&number(name)), "{name}");
    }
    drop(data);
}

/// The migration's time on a larger log: `AUDIT_MIGRATE_EVENTS` (1,000,000)
/// typical reads. docs/benchmarks.md ("Audit event size") has the result.
///
/// ```sh
/// cargo test --release -p hush-store --test it migrating_many_events -- --ignored --nocapture
/// ```
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement (1,000,000 events): run with --ignored --nocapture"]
async fn migrating_many_events() {
    let count: u64 = std::env::var("AUDIT_MIGRATE_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DATA_FILE);
    let key = AuditKey::generate().unwrap();
    let started = Instant::now();
    data_store_before_0006(&path, &key, (0..count).map(|i| crate::audit_size::read_event(i, 10_000)));
    let file_size = |p: &std::path::Path| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0);
    println!(
        "\nwrote {count} events at schema 5 in {:.1}s: {} MB",
        started.elapsed().as_secs_f64(),
        file_size(&path) >> 20
    );

    let started = Instant::now();
    let data = SqliteDataStore::open(&path, key.clone()).await.unwrap();
    let migrated = started.elapsed();
    let wal = path.with_file_name(format!("{DATA_FILE}-wal"));
    println!(
        "open with migration 0006: {:.1}s ({:.0} events/s); file {} MB, WAL {} MB",
        migrated.as_secs_f64(),
        count as f64 / migrated.as_secs_f64(),
        file_size(&path) >> 20,
        file_size(&wal) >> 20
    );

    let started = Instant::now();
    let seen = crate::audit_size::verify_whole_log(&data, &key, |r| {
        assert_eq!(r.event, crate::audit_size::read_event(r.seq - 1, 10_000));
    })
    .await;
    assert_eq!(seen, count);
    println!("every event read back and verified in {:.1}s", started.elapsed().as_secs_f64());
}
