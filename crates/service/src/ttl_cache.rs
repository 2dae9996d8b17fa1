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
use std::time::{Duration, Instant};

#[derive(Debug)]
pub(crate) struct TtlCache<K, V> {
    ttl: Duration,
    entries: RwLock<HashMap<K, (V, Instant)>>,
}

impl<K: Eq + Hash + Clone, V: Clone> TtlCache<K, V> {
    pub(crate) fn new(ttl: Duration) -> Self {
        TtlCache { ttl, entries: RwLock::new(HashMap::new()) }
    }

    /// The entry, if present and fresh.
    pub(crate) fn get<Q>(&self, key: &Q) -> Option<V>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        entries.get(key).filter(|(_, at)| at.elapsed() < self.ttl).map(|(v, _)| v.clone())
    }

    pub(crate) fn insert(&self, key: K, value: V) {
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() > 10_000 {
            let ttl = self.ttl;
            entries.retain(|_, (_, at)| at.elapsed() < ttl);
        }
        entries.insert(key, (value, Instant::now()));
    }

    pub(crate) fn remove<Q>(&self, key: &Q)
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        self.entries.write().unwrap_or_else(|e| e.into_inner()).remove(key);
    }

    pub(crate) fn clear(&self) {
        self.entries.write().unwrap_or_else(|e| e.into_inner()).clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_can_be_removed() {
        let c = TtlCache::new(Duration::from_millis(30));
        c.insert("a".to_owned(), 1);
        c.insert("b".to_owned(), 2);
        assert_eq!(c.get("a"), Some(1));
        c.remove("a");
        assert_eq!(c.get("a"), None);
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(c.get("b"), None);
        c.insert("c".to_owned(), 3);
        c.clear();
        assert_eq!(c.get("c"), None);
    }
}
