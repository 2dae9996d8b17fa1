//! How many bytes one audit event takes on disk (SQLite), measured rather
//! than estimated: typical reads (`secret.read` by one token in `default`,
//! with a client address, over a few thousand secret names) are written
//! through the store's real path (journal, then moved into `audit_events`),
//! and SQLite's `dbstat` says how many bytes of pages each audit table and
//! index holds. docs/benchmarks.md ("Audit event size") has the numbers.
//!
//! Ignored by default (it writes 200,000 events); run it with
//!
//! ```sh
//! cargo test --release -p hush-store --test it audit_size -- --ignored --nocapture
//! ```
//!
//! `AUDIT_SIZE_EVENTS` (200000) and `AUDIT_SIZE_SECRETS` (10000) change the
//! numbers of events and of distinct secret names.

use std::time::Instant;

use hush_crypto::{AUDIT_GENESIS, AuditKey};
use hush_store::sqlite::{DATA_FILE, SqliteDataStore, journal_files};
use hush_store::{AuditAction, AuditEvent, AuditRecord, DataStore, Mutation, WriteRequest};

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// A read as the service records it: token id (16 hex digits), namespace by
/// name and id (32 hex digits), the secret's name and version, the client's address.
/// Reads the whole log back a page at a time, as `hush audit verify` does,
/// checking that every MAC chains; `check` sees each record. Returns how
/// many there were.
pub async fn verify_whole_log(data: &SqliteDataStore, key: &AuditKey, mut check: impl FnMut(&AuditRecord)) -> u64 {
    let (mut after, mut prev, mut seen) = (0, AUDIT_GENESIS, 0u64);
    loop {
        let page = data.audit_chain(after, 10_000).await.unwrap();
        let Some(last) = page.last() else { return seen };
        after = last.seq;
        for r in &page {
            check(r);
            assert!(key.verify(&prev, &r.event.canonical(r.seq), &r.mac), "event {} verifies", r.seq);
            prev = r.mac.as_slice().try_into().unwrap();
        }
        seen += page.len() as u64;
    }
}

/// Event number `i` is always the same event.
pub fn read_event(i: u64, secrets: u64) -> AuditEvent {
    let mut e = AuditEvent::new(AuditAction::SecretRead, Some("3f9a2c7d81b04e6a".into()), None);
    e.at = 1_765_000_000_000 + i as i64;
    e.namespace = Some("default".into());
    e.namespace_id = Some("8c1e4f7a2b9d06e35a7c1f4e8b2d9a60".into());
    let n = i.wrapping_mul(0x9e37_79b9_7f4a_7c15) % secrets.max(1);
    e.name = Some(format!("svc-{:03}/key-{n:07}", n % 100));
    e.version = Some(1);
    e.client_addr = Some("10.1.2.3".into());
    e
}

/// Writes `count` read events from many tasks at once (so the writer's
/// batches fill as under load), starting at event number `from`.
async fn write_reads(data: &SqliteDataStore, from: u64, count: u64, secrets: u64) {
    const TASKS: u64 = 256;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let data = data.clone();
        tasks.push(tokio::spawn(async move {
            let mut i = from + t;
            while i < from + count {
                let request = WriteRequest {
                    mutation: Mutation::RecordRead { secret_id: format!("secret-{}", i % secrets), at: 1 },
                    audit: read_event(i, secrets),
                };
                data.write(request).await.unwrap();
                i += TASKS;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement (200,000 events): run with --ignored --nocapture"]
async fn audit_size() {
    let events = env_or("AUDIT_SIZE_EVENTS", 200_000);
    let secrets = env_or("AUDIT_SIZE_SECRETS", 10_000);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(DATA_FILE);
    let key = AuditKey::generate().unwrap();
    let data = SqliteDataStore::open(&path, key.clone()).await.unwrap();

    // The journal first: fewer events than move at once, so they stay there.
    let journaled = 1000;
    write_reads(&data, 0, journaled, secrets).await;
    let journal_bytes = crate::journal_records_len(&journal_files(&path)[0]) as u64;

    let started = Instant::now();
    write_reads(&data, journaled, events - journaled, secrets).await;
    let written = started.elapsed();

    // Read the whole chain back as `hush audit verify` does, MACs included.
    let started = Instant::now();
    let seen = verify_whole_log(&data, &key, |_| {}).await;
    let verified = started.elapsed();
    assert_eq!(seen, events);
    drop(data);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let conn = rusqlite::Connection::open(&path).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT m.type, m.tbl_name, m.name, SUM(d.pgsize) FROM dbstat AS d JOIN sqlite_master AS m \
             ON m.name = d.name WHERE m.tbl_name LIKE 'audit%' GROUP BY m.name ORDER BY m.tbl_name, m.type DESC",
        )
        .unwrap();
    let rows: Vec<(String, String, String, i64)> =
        stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?))).unwrap().map(Result::unwrap).collect();
    let per_event = |bytes: i64| bytes as f64 / events as f64;
    println!("\n{events} read events over {secrets} secret names");
    println!("{:<6} {:<40} {:>12} {:>10}", "kind", "name", "bytes", "per event");
    let (mut tables, mut indexes) = (0, 0);
    for (kind, _table, name, bytes) in &rows {
        println!("{kind:<6} {name:<40} {bytes:>12} {:>10.1}", per_event(*bytes));
        if kind == "table" { tables += bytes } else { indexes += bytes }
    }
    println!("tables  {:>10.1} bytes per event", per_event(tables));
    println!("indexes {:>10.1} bytes per event", per_event(indexes));
    println!("total   {:>10.1} bytes per event", per_event(tables + indexes));
    println!("journal {:>10.1} bytes per event (before the move)", journal_bytes as f64 / journaled as f64);
    println!(
        "written at {:.0} events/s; read back and verified at {:.0} events/s",
        (events - journaled) as f64 / written.as_secs_f64(),
        events as f64 / verified.as_secs_f64()
    );
    if let Ok(keep) = std::env::var("AUDIT_SIZE_KEEP") {
        conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE)").unwrap();
        std::fs::copy(&path, &keep).unwrap();
        println!("data store copied to {keep}");
    }
}
