//! Audit sinks' hook into the store: the events of every committed write,
//! handed over after they are durable in the store and before any caller is
//! answered (the sinks' lines follow the store's durability rule).

use crate::AuditRecord;

/// Sees every audit event the store commits, in commit order per call.
///
/// Called on the store's writer (SQLite: the writer thread, once per group
/// commit with the whole batch; PostgreSQL: a blocking thread, once per
/// write), so it may block on I/O. An error fails the calls the events
/// belong to (their events stay recorded in the store): the same rule as
/// Vault's audit devices, a call whose audit cannot be written is refused.
pub trait AuditObserver: Send + Sync + std::fmt::Debug + 'static {
    /// `records` are committed; write them out before returning.
    fn committed(&self, records: &[&AuditRecord]) -> std::io::Result<()>;
}
