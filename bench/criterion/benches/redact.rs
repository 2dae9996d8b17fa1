//! The scrubber alone, without I/O: throughput over the redaction benchmark's
//! log (bench/redact/generate.py; path in HUSH_BENCH_LOG and
//! HUSH_BENCH_SECRETS, generated into the system temp directory if unset), with
//! encodings on and off, in 256 KiB writes as `hush redact` does.

use std::path::PathBuf;
use std::process::Command;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hush_redact::Redactor;

/// Megabytes of the log to use per iteration: enough for a stable rate,
/// small enough that criterion's samples finish in seconds.
const SAMPLE_BYTES: usize = 32 * 1024 * 1024;

fn inputs() -> (Vec<u8>, Vec<String>) {
    let tmp = std::env::temp_dir();
    let log = std::env::var_os("HUSH_BENCH_LOG").map_or_else(|| tmp.join("hush-bench-redact.log"), PathBuf::from);
    let secrets =
        std::env::var_os("HUSH_BENCH_SECRETS").map_or_else(|| tmp.join("hush-bench-secrets.json"), PathBuf::from);
    if !log.exists() || !secrets.exists() {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../redact/generate.py");
        let status = Command::new("python3").arg(script).arg(&log).arg(&secrets).status().expect("python3 runs");
        assert!(status.success(), "generate.py failed");
    }
    let mut text = std::fs::read(&log).expect("log readable");
    text.truncate(SAMPLE_BYTES);
    let secrets: Vec<String> = serde_json::from_slice(&std::fs::read(&secrets).expect("secrets readable")).unwrap();
    (text, secrets)
}

fn scrub(redactor: &Redactor, text: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut scrubber = redactor.scrubber();
    for chunk in text.chunks(256 * 1024) {
        scrubber.write(chunk, out).unwrap();
    }
    scrubber.finish(out).unwrap();
}

fn bench(c: &mut Criterion) {
    let (text, secrets) = inputs();
    let mut group = c.benchmark_group("redact");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    let mut out = Vec::with_capacity(text.len());
    for (name, encodings) in [("1000 secrets, encodings on", true), ("1000 secrets, encodings off", false)] {
        let redactor = Redactor::builder().secrets(&secrets).encodings(encodings).build().unwrap();
        eprintln!("{name}: {} patterns, {} MiB automaton", redactor.pattern_count(), redactor.memory_usage() >> 20);
        group.bench_function(name, |b| b.iter(|| scrub(&redactor, &text, &mut out)));
    }
    let few = Redactor::builder().secrets(&secrets[..10]).build().unwrap();
    group.bench_function("10 secrets, encodings on", |b| b.iter(|| scrub(&few, &text, &mut out)));
    group.bench_function("build 1000 secrets, encodings on", |b| {
        b.iter(|| Redactor::builder().secrets(&secrets).build().unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
