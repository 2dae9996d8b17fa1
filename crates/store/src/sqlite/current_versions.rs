//! The current versions of recently read secrets, kept in memory so that a
//! repeated read skips SQLite.
//!
//! A secret read is a point query joining `secrets` and `secret_versions`;
//! with its read transaction (two file locks) and row decoding it was the
//! largest part of a read's own CPU after the network (docs/benchmarks.md,
//! issue 20). Reads repeat: a CI fleet asks for the same few secrets all day.
//!
//! What is kept is what SQLite would return: the secret's row and its
//! current version's ciphertext, never a plaintext (the namespace key that
//! opens it stays in the key store and its own cache). The cache is correct
//! because only this process writes the store (`hush.lock`) and every write
//! goes through the writer thread or the audit mover, which call
//! [`CurrentVersions::changed`] after each commit, before anyone is answered:
//!
//! - a reader takes a [`Stamp`] *before* its SQLite read, and the entry is
//!   kept only if no commit happened since ([`CurrentVersions::keep`]);
//! - a lookup finds entries only while no commit has happened since they
//!   were kept; the first lookup after a commit empties the map.
//!
//! So a read that starts after a write was acknowledged never sees the
//! version before it. Every commit empties the cache, including the moves
//! of read events into SQLite (which change `last_read_at`) about once a
//! second under load: simple, and refilled by the next read of each secret.
//!
//! Bounded by [`MAX_BYTES`] (values, names, metadata) and [`MAX_ENTRIES`]; when full it
//! starts over, rather than tracking recency on the hot path.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::SealedVersion;

/// At most this many bytes are kept: ciphertexts, names and Vault custom
/// metadata (see [`size_of`]).
pub(crate) const MAX_BYTES: usize = 8 << 20;
/// At most this many secrets are kept.
pub(crate) const MAX_ENTRIES: usize = 16_384;
/// An entry larger than this is not kept: one would take a large share of
/// the budget, and decrypting its value costs more than reading it.
const MAX_ENTRY_BYTES: usize = 64 << 10;

/// What an entry costs against [`MAX_BYTES`]: its variable-length parts and
/// a fixed allowance for the rest (the record's fields, the map's slot).
fn size_of(sealed: &SealedVersion) -> usize {
    const FIXED: usize = 256;
    let secret = &sealed.secret;
    FIXED
        + sealed.ciphertext.len()
        + secret.id.len()
        + secret.namespace_id.len()
        + 2 * secret.name.as_str().len()
        + secret.custom_metadata.as_ref().map_or(0, String::len)
}

/// The number of commits seen when a read began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stamp(u64);

/// The cache. One per data store, shared with its writer and mover.
#[derive(Default)]
pub(crate) struct CurrentVersions {
    commits: AtomicU64,
    kept: Mutex<Kept>,
}

/// Counts only: the entries' names and metadata stay out of any log.
impl std::fmt::Debug for CurrentVersions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kept = self.kept.try_lock().map(|k| (k.entries, k.bytes)).ok();
        f.debug_struct("CurrentVersions")
            .field("commits", &self.commits.load(Ordering::Relaxed))
            .field("entries_and_bytes", &kept)
            .finish()
    }
}

#[derive(Default)]
struct Kept {
    /// The commit count the entries were read at.
    at: u64,
    bytes: usize,
    entries: usize,
    /// By namespace id, then name: looked up by `&str` without building a key.
    by_namespace: HashMap<String, HashMap<String, SealedVersion>>,
}

impl Kept {
    fn start_over(&mut self, at: u64) {
        self.at = at;
        self.bytes = 0;
        self.entries = 0;
        self.by_namespace.clear();
    }
}

impl CurrentVersions {
    /// Call after every commit to the data store (whether or not it
    /// succeeded), before answering the requests it carried. The entries go
    /// at once if no reader holds the map (else at the next lookup), so a
    /// destroyed version's ciphertext does not stay in memory on an idle
    /// server.
    pub(crate) fn changed(&self) {
        let now = self.commits.fetch_add(1, Ordering::SeqCst) + 1;
        if let Ok(mut kept) = self.kept.try_lock() {
            kept.start_over(now);
        }
    }

    /// Take before reading from SQLite; give to [`CurrentVersions::keep`].
    pub(crate) fn stamp(&self) -> Stamp {
        Stamp(self.commits.load(Ordering::SeqCst))
    }

    /// The current version of `name`, as last read, if nothing was
    /// committed since.
    pub(crate) fn get(&self, namespace_id: &str, name: &str) -> Option<SealedVersion> {
        let now = self.commits.load(Ordering::SeqCst);
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.at != now {
            kept.start_over(now);
            return None;
        }
        kept.by_namespace.get(namespace_id)?.get(name).cloned()
    }

    /// Keeps `sealed`, the current version read from SQLite after `stamp`
    /// was taken, unless a commit happened since (it may be stale).
    pub(crate) fn keep(&self, stamp: Stamp, sealed: &SealedVersion) {
        let size = size_of(sealed);
        if size > MAX_ENTRY_BYTES {
            return;
        }
        let now = self.commits.load(Ordering::SeqCst);
        if stamp.0 != now {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.at != now || kept.bytes + size > MAX_BYTES || kept.entries >= MAX_ENTRIES {
            kept.start_over(now);
        }
        let previous = kept
            .by_namespace
            .entry(sealed.secret.namespace_id.clone())
            .or_default()
            .insert(sealed.secret.name.as_str().to_owned(), sealed.clone());
        match previous {
            Some(old) => kept.bytes = kept.bytes - size_of(&old) + size,
            None => {
                kept.bytes += size;
                kept.entries += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SecretRecord, VersionRecord};

    fn sealed(namespace_id: &str, name: &str, version: u64, size: usize) -> SealedVersion {
        SealedVersion {
            secret: SecretRecord {
                id: format!("{namespace_id}/{name}"),
                namespace_id: namespace_id.into(),
                name: hush_core::SecretName::parse(name).unwrap(),
                secret_type: hush_core::SecretType::Generic,
                version,
                created_at: 0,
                updated_at: 0,
                last_read_at: None,
                kv: Default::default(),
                custom_metadata: None,
            },
            version: VersionRecord { version, key_version: 1, created_at: 0, deleted_at: None, destroyed: false },
            ciphertext: vec![7; size],
        }
    }

    #[test]
    fn a_kept_version_is_found_until_the_next_commit() {
        let cache = CurrentVersions::default();
        let stamp = cache.stamp();
        cache.keep(stamp, &sealed("ns", "a", 1, 10));
        assert_eq!(cache.get("ns", "a").map(|s| s.version.version), Some(1));
        assert!(cache.get("ns", "b").is_none());
        assert!(cache.get("other", "a").is_none());
        cache.changed();
        assert_eq!(cache.kept.lock().unwrap().entries, 0, "a commit empties the cache at once");
        assert!(cache.get("ns", "a").is_none(), "a commit empties the cache");
        // Kept again after the commit, it is found again.
        cache.keep(cache.stamp(), &sealed("ns", "a", 2, 10));
        assert_eq!(cache.get("ns", "a").map(|s| s.version.version), Some(2));
    }

    #[test]
    fn a_version_read_before_a_commit_is_not_kept() {
        let cache = CurrentVersions::default();
        let stamp = cache.stamp();
        // A write commits while the reader is in SQLite: what it read may
        // be the version before the write.
        cache.changed();
        cache.keep(stamp, &sealed("ns", "a", 1, 10));
        assert!(cache.get("ns", "a").is_none());
    }

    #[test]
    fn a_kept_version_not_looked_up_before_a_commit_is_not_served_after_it() {
        let cache = CurrentVersions::default();
        cache.keep(cache.stamp(), &sealed("ns", "a", 1, 10));
        cache.changed();
        cache.changed();
        assert!(cache.get("ns", "a").is_none());
    }

    #[test]
    fn the_cache_stays_within_its_budgets() {
        let cache = CurrentVersions::default();
        let big = MAX_ENTRY_BYTES - 300;
        for i in 0..(MAX_BYTES / big + 3) {
            cache.keep(cache.stamp(), &sealed("ns", &format!("s{i}"), 1, big));
            let kept = cache.kept.lock().unwrap();
            assert!(kept.bytes <= MAX_BYTES, "{} bytes kept", kept.bytes);
        }
        // Too large a value is never kept, nor too large custom metadata.
        cache.keep(cache.stamp(), &sealed("ns", "huge", 1, MAX_ENTRY_BYTES));
        assert!(cache.get("ns", "huge").is_none());
        let mut described = sealed("ns", "described", 1, 10);
        described.secret.custom_metadata = Some("m".repeat(MAX_ENTRY_BYTES));
        cache.keep(cache.stamp(), &described);
        assert!(cache.get("ns", "described").is_none());
        for i in 0..(MAX_ENTRIES + 10) {
            cache.keep(cache.stamp(), &sealed("ns", &format!("n{i}"), 1, 1));
            assert!(cache.kept.lock().unwrap().entries <= MAX_ENTRIES);
        }
        // Replacing an entry counts its size once.
        let cache = CurrentVersions::default();
        cache.keep(cache.stamp(), &sealed("ns", "a", 1, 100));
        cache.keep(cache.stamp(), &sealed("ns", "a", 1, 40));
        let kept = cache.kept.lock().unwrap();
        assert_eq!((kept.bytes, kept.entries), (size_of(&sealed("ns", "a", 1, 40)), 1));
    }
}
