//! `last_read_at` of reads whose events are still only in the audit journal.
//!
//! A read's `last_read_at` reaches the `secrets` row when the journal's
//! events move into SQLite, up to [`DRAIN_AT`](super::audit_journal::DRAIN_AT)
//! reads or one anchor tick later. Until then a query of the row would show
//! the previous read, so the readers lay these over what they fetched.
//!
//! Times are kept for one move longer than needed: a reader that fetched the
//! row just before the move committed still finds them here afterwards. Two
//! generations, not a timestamp per entry, because a move is the only event
//! that makes them stale.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::{Millis, SecretRecord};

/// Read times by secret id: those not moved yet, and those of the last move.
#[derive(Debug, Default)]
pub(crate) struct RecentReads {
    generations: Mutex<[HashMap<String, Millis>; 2]>,
}

impl RecentReads {
    /// Notes reads the journal just made durable.
    pub(crate) fn note(&self, reads: impl IntoIterator<Item = (String, Millis)>) {
        let mut generations = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        for (secret_id, at) in reads {
            let latest = generations[0].entry(secret_id).or_insert(at);
            *latest = (*latest).max(at);
        }
    }

    /// The journal's events (and these times) were committed to SQLite.
    pub(crate) fn moved(&self) {
        let mut generations = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        generations[1] = std::mem::take(&mut generations[0]);
    }

    /// Sets `record.last_read_at` to the newest read of it, wherever it is.
    pub(crate) fn apply(&self, record: &mut SecretRecord) {
        let generations = self.generations.lock().unwrap_or_else(|e| e.into_inner());
        for at in generations.iter().filter_map(|g| g.get(&record.id)) {
            record.last_read_at = Some(record.last_read_at.map_or(*at, |t| t.max(*at)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str, last_read_at: Option<Millis>) -> SecretRecord {
        SecretRecord {
            id: id.into(),
            namespace_id: "ns".into(),
            name: hush_core::SecretName::parse("x").unwrap(),
            secret_type: hush_core::SecretType::Generic,
            version: 1,
            created_at: 0,
            updated_at: 0,
            last_read_at,
            kv: Default::default(),
            custom_metadata: None,
        }
    }

    #[test]
    fn newest_read_wins_and_lasts_one_move_longer() {
        let reads = RecentReads::default();
        reads.note([("a".into(), 5), ("a".into(), 3), ("b".into(), 1)]);
        let mut a = record("a", Some(4));
        reads.apply(&mut a);
        assert_eq!(a.last_read_at, Some(5));
        // The stored time wins when it is newer.
        let mut b = record("b", Some(9));
        reads.apply(&mut b);
        assert_eq!(b.last_read_at, Some(9));
        let mut c = record("c", None);
        reads.apply(&mut c);
        assert_eq!(c.last_read_at, None);
        reads.moved();
        let mut a = record("a", None);
        reads.apply(&mut a);
        assert_eq!(a.last_read_at, Some(5), "kept for one more move");
        reads.moved();
        let mut a = record("a", None);
        reads.apply(&mut a);
        assert_eq!(a.last_read_at, None);
    }
}
