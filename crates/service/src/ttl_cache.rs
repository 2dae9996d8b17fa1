//! A small map whose entries go stale after a fixed time.
//!
//! Used for token and namespace records, which every request looks up. In
//! this process, changes invalidate entries at once; the time limit bounds how
//! long a change made by another process sharing the store (a replica) can go
//! unseen. Only records that exist are cached, so the map is bounded by what
//! the store holds, not by what clients send.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::metric_names::CacheCounters;

/// Counts removals: a value read from the store before a removal must not be
/// cached after it (a revocation racing a lookup would otherwise put the
/// stale record back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Generation(u64);

#[derive(Debug)]
pub(crate) struct TtlCache<K, V> {
    /// Its lookups' counters.
    lookups: CacheCounters,
    ttl: Duration,
    entries: RwLock<HashMap<K, (V, Instant)>>,
    generation: AtomicU64,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(name: &'static str, ttl: Duration) -> Self {
        TtlCache {
            lookups: CacheCounters::new(name),
            ttl,
            entries: RwLock::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// Take this before reading the store; pass it to [`TtlCache::insert_if_current`].
    pub(crate) fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    /// Caches `value` unless something was removed since `seen`.
    pub(crate) fn insert_if_current(&self, seen: Generation, key: K, value: V) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if self.generation.load(Ordering::Acquire) != seen.0 {
            return;
        }
        if entries.len() > 10_000 {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| at.elapsed() < ttl);
        }
        entries.insert(key, (value, Instant::now()));
    }

    /// The entry, if present and fresh.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let found = entries.get(key).filter(|(_, at)| at.elapsed() < self.ttl).map(|(v, _)| v.clone());
        self.lookups.count(found.is_some());
        found
    }

    pub(crate) fn remove<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(key);
    }

    pub(crate) fn clear(&self) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_removed() {
        let c = TtlCache::new("test", Duration::from_millis(30));
        c.insert_if_current(c.generation(), "a".to_owned(), 1);
        c.insert_if_current(c.generation(), "b".to_owned(), 2);
        assert_eq!(c.get("a"), Some(1));
        c.remove("a");
        assert_eq!(c.get("a"), None);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.get("b"), None);
        c.insert_if_current(c.generation(), "c".to_owned(), 3);
        c.clear();
        assert_eq!(c.get("c"), None);
    }

    #[test]
    fn a_value_read_before_a_removal_is_not_cached_after_it() {
        let c = TtlCache::new("test", Duration::from_secs(60));
        let seen = c.generation();
        // ... the store is read here; meanwhile the record is revoked:
        c.remove("t");
        c.insert_if_current(seen, "t".to_owned(), "stale");
        assert_eq!(c.get("t"), None);
    }
}
