//! What a secret read costs the service itself, without HTTP: many tasks
//! read one secret through `Hush::get_secret` (token check, namespace,
//! cached version, decryption, the audit event synced before the answer,
//! its move into SQLite) for a few seconds, and the CPU each of hush's
//! threads spent is divided by the reads. `bench/read-budget` measures the
//! same read over HTTP beside the bare axum server; together they say how
//! much of a read's cost is the service and how much the HTTP path around
//! it (docs/benchmarks.md, "The budget of a read").
//!
//! Ignored by default (a measurement); run it with
//!
//! ```sh
//! cargo test --release -p hush-service --test it read_cost -- --ignored --nocapture
//! ```
//!
//! `READ_COST_TASKS` ("64 16": reads in flight, one measurement each) and
//! `READ_COST_SECONDS` (4) change the load. The store is in a temporary
//! directory (`TMPDIR`): put it on the disk under test.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hush_service::Credentials;
use hush_service::bootstrap::{OpenOptions, open};

use crate::{generic, name, ns};

/// CPU seconds so far by group of threads: the tokio workers, the audit
/// writer, the audit mover and the rest (Linux: `/proc/self/task`).
fn cpu_by_thread() -> BTreeMap<&'static str, f64> {
    let ticks_per_second = 100.0; // USER_HZ, the unit of /proc's times on Linux
    let mut by = BTreeMap::new();
    let tasks = std::fs::read_dir("/proc/self/task").expect("this measurement needs Linux's /proc/self/task");
    for task in tasks.flatten() {
        let (Ok(comm), Ok(stat)) =
            (std::fs::read_to_string(task.path().join("comm")), std::fs::read_to_string(task.path().join("stat")))
        else {
            continue; // the thread ended meanwhile
        };
        let group = match comm.trim() {
            c if c.starts_with("tokio-") => "workers",
            "hush-writer" => "writer",
            "hush-audit-move" => "mover",
            _ => "other",
        };
        // After the ")" that closes the thread's name: utime is the 12th field, stime the 13th.
        let fields: Vec<&str> = stat[stat.rfind(')').expect("a stat line") + 2..].split_whitespace().collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        *by.entry(group).or_insert(0.0) += ticks / ticks_per_second;
    }
    by
}

#[test]
#[ignore = "a measurement (seconds of reads): run with --ignored --nocapture"]
fn read_cost() {
    let seconds: u64 = std::env::var("READ_COST_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(4);
    let loads = std::env::var("READ_COST_TASKS").unwrap_or_else(|_| "64 16".into());
    // Two workers, as `hush serve` has on this 2-core machine.
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let opened = open(OpenOptions::in_dirs(
            dir.path().join("data"),
            dir.path().join("keys"),
            hush_service::ServiceConfig::default(),
        ))
        .await
        .unwrap();
        let admin = Credentials::bearer(opened.first_start.unwrap().admin_token);
        let hush = opened.hush;
        let value = generic("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
        hush.put_secret(&admin, &ns("default"), &name("x"), value, None).await.unwrap();
        for load in loads.split_whitespace() {
            let in_flight: usize = load.parse().expect("READ_COST_TASKS: numbers");
            let stop = Arc::new(AtomicBool::new(false));
            let before = cpu_by_thread();
            let started = Instant::now();
            let readers: Vec<_> = (0..in_flight)
                .map(|_| {
                    let (hush, admin, stop) = (Arc::clone(&hush), admin.clone(), Arc::clone(&stop));
                    tokio::spawn(async move {
                        let (namespace, secret) = (ns("default"), name("x"));
                        let mut reads = 0u64;
                        while !stop.load(Ordering::Relaxed) {
                            let revealed = hush.get_secret(&admin, &namespace, &secret, None).await.unwrap();
                            assert_eq!(revealed.version.version, 1);
                            reads += 1;
                        }
                        reads
                    })
                })
                .collect();
            tokio::time::sleep(Duration::from_secs(seconds)).await;
            stop.store(true, Ordering::Relaxed);
            let mut reads = 0;
            for reader in readers {
                reads += reader.await.unwrap();
            }
            let elapsed = started.elapsed().as_secs_f64();
            let after = cpu_by_thread();
            assert!(reads > 0, "no read finished in {seconds} s");
            let per_read: Vec<String> = after
                .iter()
                .map(|(group, cpu)| {
                    let spent = cpu - before.get(group).copied().unwrap_or(0.0);
                    format!("{group} {:.1}", spent * 1e6 / reads as f64)
                })
                .collect();
            let total: f64 = after.values().sum::<f64>() - before.values().sum::<f64>();
            eprintln!(
                "{in_flight} reads in flight: {:.0} reads/s, {:.1} us of CPU a read ({})",
                reads as f64 / elapsed,
                total * 1e6 / reads as f64,
                per_read.join(", ")
            );
        }
    });
}
