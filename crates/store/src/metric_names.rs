//! The names of the metrics the store reports (the server describes and
//! serves them; docs/operations.md lists them all). Only the SQLite store
//! reports them: PostgreSQL's own statistics cover its commits.

/// Audit events made durable, labelled `via` (`journal`: the audit
/// journal's sync; `database`: a SQLite commit with a change).
pub const AUDIT_EVENTS: &str = "hush_audit_events_total";
/// Events per group commit (one sync), labelled `via`.
pub const AUDIT_BATCH_SIZE: &str = "hush_audit_batch_size";
/// Seconds a group commit's write and sync took, labelled `via`.
pub const AUDIT_SYNC_SECONDS: &str = "hush_audit_sync_seconds";

/// Records one durable batch of `events` that took `seconds`.
pub(crate) fn audit_batch(via: &'static str, events: usize, seconds: f64) {
    metrics::counter!(AUDIT_EVENTS, "via" => via).increment(events as u64);
    metrics::histogram!(AUDIT_BATCH_SIZE, "via" => via).record(events as f64);
    metrics::histogram!(AUDIT_SYNC_SECONDS, "via" => via).record(seconds);
}
