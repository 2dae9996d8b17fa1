//! The names of the metrics the service reports (the server describes and
//! serves them; docs/operations.md lists them all).

/// The store's (audit batches and syncs).
pub use hush_store::metric_names::{AUDIT_BATCH_SIZE, AUDIT_EVENTS, AUDIT_SYNC_SECONDS};

/// Lookups in the service's caches, labelled `cache` (`tokens`,
/// `namespaces`, `namespace_keys`) and `result` (`hit`, `miss`).
pub const CACHE_LOOKUPS: &str = "hush_cache_lookups_total";
/// Workload logins, labelled `outcome` (`ok`, `refused`, `error`).
pub const LOGINS: &str = "hush_logins_total";
/// Data or key store failures that a caller saw as an internal error.
pub const STORE_ERRORS: &str = "hush_store_errors_total";

/// One cache's hit and miss counters, registered once: a lookup then costs
/// an atomic add, not a registry lookup (every read makes several).
/// Created before the recorder is installed, they count nothing.
#[derive(Debug)]
pub(crate) struct CacheCounters {
    hit: metrics::Counter,
    miss: metrics::Counter,
}

impl CacheCounters {
    pub(crate) fn new(cache: &'static str) -> Self {
        CacheCounters {
            hit: metrics::counter!(CACHE_LOOKUPS, "cache" => cache, "result" => "hit"),
            miss: metrics::counter!(CACHE_LOOKUPS, "cache" => cache, "result" => "miss"),
        }
    }

    /// Counts one lookup.
    pub(crate) fn count(&self, hit: bool) {
        if hit { &self.hit } else { &self.miss }.increment(1);
    }
}
