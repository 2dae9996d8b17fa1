//! Unwrapped namespace data keys, kept in memory so a read does not pay for a
//! key-store round trip and an unwrap every time.
//!
//! Keys are held behind `Arc` so handing one out copies no key bytes; the
//! last reference to be dropped wipes it. Deleting a namespace evicts its
//! keys before they are destroyed in the key store.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

/// How long a namespace's current key version is trusted before it is read again.
const CURRENT_TTL: Duration = Duration::from_secs(10);

use hush_crypto::{DataKey, data_key_binding};

use crate::key_wrapper::KeyWrapper;
use hush_store::KeyStore;

use crate::ServiceError;
use crate::metric_names::CacheCounters;

#[derive(Debug)]
pub(crate) struct KeyCache {
    keys: RwLock<HashMap<(String, u32), Arc<DataKey>>>,
    lookups: CacheCounters,
    /// The current key version per namespace and when it was looked up:
    /// re-read after [`CURRENT_TTL`], so a rotation on another replica is
    /// picked up for new writes.
    current: RwLock<HashMap<String, (u32, Instant)>>,
    /// Namespaces whose keys were destroyed: never cached again.
    destroyed: RwLock<HashSet<String>>,
}

/// The key store has no key for a namespace that exists: it was destroyed
/// (a namespace deletion was interrupted) or the stores are mismatched.
#[derive(Debug, thiserror::Error)]
#[error("namespace {namespace_id} has no data key version {version} in the key store")]
pub(crate) struct MissingKey {
    namespace_id: String,
    version: u32,
}

/// A wrapped key failed to unwrap under the root key.
#[derive(Debug, thiserror::Error)]
#[error("data key {version} of namespace {namespace_id} does not unwrap: {reason}")]
pub(crate) struct UnwrapFailed {
    namespace_id: String,
    version: u32,
    reason: String,
}

impl KeyCache {
    pub(crate) fn new() -> Self {
        KeyCache {
            keys: RwLock::default(),
            lookups: CacheCounters::new("namespace_keys"),
            current: RwLock::default(),
            destroyed: RwLock::default(),
        }
    }

    /// A namespace key by version.
    pub(crate) async fn key(
        &self,
        store: &dyn KeyStore,
        root: &KeyWrapper,
        namespace_id: &str,
        version: u32,
    ) -> Result<Arc<DataKey>, ServiceError> {
        let cached =
            self.keys.read().unwrap_or_else(|e| e.into_inner()).get(&(namespace_id.to_owned(), version)).cloned();
        self.lookups.count(cached.is_some());
        if let Some(k) = cached {
            return Ok(k);
        }
        let wrapped = store
            .namespace_key(namespace_id, version)
            .await?
            .ok_or_else(|| ServiceError::internal(MissingKey { namespace_id: namespace_id.to_owned(), version }))?;
        self.insert(root, namespace_id, version, &wrapped).await
    }

    /// The namespace's current key version and key (for new writes).
    pub(crate) async fn current(
        &self,
        store: &dyn KeyStore,
        root: &KeyWrapper,
        namespace_id: &str,
    ) -> Result<(u32, Arc<DataKey>), ServiceError> {
        let known = self
            .current
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(namespace_id)
            .filter(|(_, at)| at.elapsed() < CURRENT_TTL)
            .map(|(v, _)| *v);
        if let Some(version) = known {
            return Ok((version, self.key(store, root, namespace_id, version).await?));
        }
        let (version, wrapped) = store
            .current_namespace_key(namespace_id)
            .await?
            .ok_or_else(|| ServiceError::internal(MissingKey { namespace_id: namespace_id.to_owned(), version: 0 }))?;
        let key = self.insert(root, namespace_id, version, &wrapped).await?;
        if !self.destroyed.read().unwrap_or_else(|e| e.into_inner()).contains(namespace_id) {
            self.current
                .write()
                .unwrap_or_else(|e| e.into_inner())
                .insert(namespace_id.to_owned(), (version, Instant::now()));
        }
        Ok((version, key))
    }

    async fn insert(
        &self,
        root: &KeyWrapper,
        namespace_id: &str,
        version: u32,
        wrapped: &[u8],
    ) -> Result<Arc<DataKey>, ServiceError> {
        let raw = root.unwrap(wrapped, &data_key_binding(namespace_id, version)).await.map_err(|e| {
            ServiceError::internal(UnwrapFailed {
                namespace_id: namespace_id.to_owned(),
                version,
                reason: e.to_string(),
            })
        })?;
        let key = Arc::new(DataKey::from_raw(raw));
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        if !self.destroyed.read().unwrap_or_else(|e| e.into_inner()).contains(namespace_id) {
            keys.insert((namespace_id.to_owned(), version), key.clone());
        }
        Ok(key)
    }

    /// Forgets which key version is current for a namespace (after a
    /// rotation), so the next write looks it up again.
    pub(crate) fn forget_current(&self, namespace_id: &str) {
        self.current.write().unwrap_or_else(|e| e.into_inner()).remove(namespace_id);
    }

    /// Drops every cached key of a namespace whose keys are being destroyed,
    /// and keeps them from being cached again.
    pub(crate) fn destroy(&self, namespace_id: &str) {
        let mut keys = self.keys.write().unwrap_or_else(|e| e.into_inner());
        self.destroyed.write().unwrap_or_else(|e| e.into_inner()).insert(namespace_id.to_owned());
        keys.retain(|(ns, _), _| ns != namespace_id);
        self.current.write().unwrap_or_else(|e| e.into_inner()).remove(namespace_id);
    }
}
