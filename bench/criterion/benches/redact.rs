//! The scrubber alone, without I/O: throughput over the redaction benchmark's
//! log (bench/redact/generate.py; path in HUSH_BENCH_LOG and
//! HUSH_BENCH_SECRETS, generated into the system temp directory if unset), with
//! encodings on and off. The case names carry the number of secrets in the
//! file (`bench/redact/run` passes 1,000 and 10,000).
//!
//! It feeds the scrubber as `hush redact` does, in 256 KiB writes: each one
//! copied first into the same buffer, as a read from a pipe does, and its
//! output into one reused buffer, as a write to a pipe copies it out. So the
//! scrubber finds its input in the cache, as it would in `hush redact`, and
//! the copies cost what they cost there.

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

fn scrub(redactor: &Redactor, text: &[u8], buffer: &mut [u8], out: &mut Vec<u8>) {
    let mut scrubber = redactor.scrubber();
    for chunk in text.chunks(buffer.len()) {
        let read = &mut buffer[..chunk.len()];
        read.copy_from_slice(chunk);
        out.clear();
        scrubber.write(read, out).unwrap();
    }
    scrubber.finish(out).unwrap();
}

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

fn bench(c: &mut Criterion) {
    let (text, secrets) = inputs();
    let mut group = c.benchmark_group("redact");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    let mut buffer = vec![0u8; 256 * 1024];
    let mut out = Vec::with_capacity(2 * buffer.len());
    let count = secrets.len();
    for (mode, encodings) in [("on", true), ("off", false)] {
        let name = format!("{count} secrets, encodings {mode}");
        let redactor = Redactor::builder().secrets(&secrets).encodings(encodings).build().unwrap();
        eprintln!("{name}: {} patterns, {:.1} MiB compiled", redactor.pattern_count(), mib(redactor.memory_usage()));
        group.bench_function(name, |b| b.iter(|| scrub(&redactor, &text, &mut buffer, &mut out)));
    }
    let few = Redactor::builder().secrets(&secrets[..10]).build().unwrap();
    group.bench_function("10 secrets, encodings on", |b| b.iter(|| scrub(&few, &text, &mut buffer, &mut out)));
    group.bench_function(format!("build {count} secrets, encodings on"), |b| {
        b.iter(|| Redactor::builder().secrets(&secrets).build().unwrap())
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
