//! A counter shared by the seeding tasks and a line on stderr every few
//! seconds: done, rate, time left.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How often a progress line is printed.
const EVERY: Duration = Duration::from_secs(5);

/// Progress of one phase.
#[derive(Debug)]
pub struct Progress {
    what: &'static str,
    total: u64,
    done: AtomicU64,
    started: Instant,
}

impl Progress {
    /// Starts a phase of `total` steps and its reporter task.
    pub fn start(what: &'static str, total: u64) -> (Arc<Self>, tokio::task::JoinHandle<()>) {
        let progress = Arc::new(Progress { what, total, done: AtomicU64::new(0), started: Instant::now() });
        let reporter = {
            let progress = Arc::clone(&progress);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(EVERY);
                tick.tick().await;
                loop {
                    tick.tick().await;
                    progress.report();
                }
            })
        };
        (progress, reporter)
    }

    /// Counts `n` steps done.
    pub fn add(&self, n: u64) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }

    /// Prints where the phase is.
    pub fn report(&self) {
        let done = self.done.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64();
        let rate = done as f64 / secs.max(1e-9);
        let left = if rate > 0.0 { (self.total.saturating_sub(done)) as f64 / rate } else { f64::NAN };
        eprintln!(
            "[seed] {}: {done}/{} ({:.1}%), {rate:.0}/s, {secs:.0}s elapsed, about {left:.0}s left",
            self.what,
            self.total,
            100.0 * done as f64 / self.total.max(1) as f64,
        );
    }

    /// Prints the phase's summary.
    pub fn finish(&self, reporter: tokio::task::JoinHandle<()>) {
        reporter.abort();
        let done = self.done.load(Ordering::Relaxed);
        let secs = self.started.elapsed().as_secs_f64();
        eprintln!("[seed] {}: {done} in {secs:.1}s ({:.0}/s)", self.what, done as f64 / secs.max(1e-9));
    }
}
