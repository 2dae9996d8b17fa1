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

/// Counts one cache lookup.
pub(crate) fn cache_lookup(cache: &'static str, hit: bool) {
    metrics::counter!(CACHE_LOOKUPS, "cache" => cache, "result" => if hit { "hit" } else { "miss" }).increment(1);
}
