//! Key rotation: a new data key version for a namespace's new writes, and
//! re-encrypting its stored versions under the current key, a batch at a
//! time (resumable: each batch takes what is still sealed with an older
//! key). Reads and writes go on meanwhile: old key versions stay in the key
//! store, and a version is replaced only if it still has the key it was
//! read with.
//!
//! Both need `namespaces:manage` in the namespace; the registry scopes
//! (`global`, `global-private`) are reachable here for tokens bound to all
//! namespaces.

use std::sync::Arc;

use hush_core::{NamespaceName, Scope};
use hush_crypto::{AUDIT_KEY_BINDING, TOKEN_KEY_BINDING, VersionIdentity, data_key_binding};
use hush_store::{
    AuditAction, Mutation, NamespaceRecord, RewrapVersion, StoreError, TokenNamespaces, WrappedKeys, WriteOutcome,
    WriteRequest,
};

use crate::key_wrapper::{KeyWrapper, RootOrigin};

use crate::hush::{PendingEvent, require};
use crate::{Credentials, Hush, Missing, ServiceError};

/// Most versions re-encrypted in one batch.
pub const MAX_REWRAP_BATCH: u32 = 500;

/// What one rewrap batch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RewrapBatch {
    /// The key version everything is being moved to.
    pub key_version: u32,
    /// Versions re-encrypted by this batch.
    pub rewrapped: usize,
    /// Versions still sealed with an older key after it.
    pub remaining: u64,
}

impl Hush {
    async fn manageable_namespace(
        &self,
        creds: &Credentials,
        event: &mut PendingEvent,
        name: &NamespaceName,
    ) -> Result<NamespaceRecord, ServiceError> {
        if !name.is_reserved() {
            let (caller, ns) = self.authorize_in(creds, event, name, Scope::NamespacesManage).await?;
            drop(caller);
            return Ok(ns);
        }
        let caller = self.authenticate(creds, event).await?;
        if caller.namespaces != TokenNamespaces::All {
            return Err(ServiceError::NotFound(Missing::Namespace));
        }
        let ns = self.namespace_record(name).await?.ok_or(ServiceError::NotFound(Missing::Namespace))?;
        event.event.namespace_id = Some(ns.id.clone());
        require(&caller, Scope::NamespacesManage)?;
        Ok(ns)
    }

    /// The namespace's newest key version, from the key store (not the cache).
    async fn current_key_version(&self, ns: &NamespaceRecord) -> Result<u32, ServiceError> {
        let (version, _) = self
            .keys
            .current_namespace_key(&ns.id)
            .await?
            .ok_or_else(|| ServiceError::internal(StoreError::Corrupt("a namespace without a data key".into())))?;
        Ok(version)
    }

    /// Adds a data key version to `namespace`; new writes use it. Returns the new version.
    pub async fn rotate_namespace_key(
        &self,
        creds: &Credentials,
        namespace: &NamespaceName,
    ) -> Result<u32, ServiceError> {
        let mut event = self.event(creds, AuditAction::NamespaceRotateKey, Some(namespace), None);
        let result = async {
            let ns = self.manageable_namespace(creds, &mut event, namespace).await?;
            let next = self.current_key_version(&ns).await? + 1;
            match self.store_new_data_key(&ns.id, next).await {
                // Another replica rotated at the same moment: its key is the new one.
                Ok(()) | Err(ServiceError::AlreadyExists(_)) => {}
                Err(e) => return Err(e),
            }
            self.key_cache.forget_current(&ns.id);
            let mut audit = event.for_write();
            audit.version = Some(u64::from(next));
            self.data.write(WriteRequest { mutation: Mutation::AuditOnly, audit }).await?;
            Ok(next)
        }
        .await;
        self.finish(event, result).await
    }

    /// Re-encrypts up to `limit` of `namespace`'s versions that are sealed
    /// with an older key than the current one.
    pub async fn rewrap_namespace(
        &self,
        creds: &Credentials,
        namespace: &NamespaceName,
        limit: u32,
    ) -> Result<RewrapBatch, ServiceError> {
        let mut event = self.event(creds, AuditAction::NamespaceRewrap, Some(namespace), None);
        let result = async {
            let ns = self.manageable_namespace(creds, &mut event, namespace).await?;
            let key_version = self.current_key_version(&ns).await?;
            let current = self.key_cache.key(&*self.keys, &self.root(), &ns.id, key_version).await?;
            let stale = self.data.stale_versions(&ns.id, key_version, limit.clamp(1, MAX_REWRAP_BATCH)).await?;
            let mut batch = Vec::with_capacity(stale.len());
            for sealed in &stale {
                let value = self.open_sealed(&ns, sealed).await?;
                let identity = VersionIdentity {
                    namespace_id: &ns.id,
                    secret_id: &sealed.secret.id,
                    name: sealed.secret.name.as_str(),
                    version: sealed.version.version,
                    secret_type: sealed.secret.secret_type,
                    key_version,
                };
                batch.push(RewrapVersion {
                    secret_id: sealed.secret.id.clone(),
                    version: sealed.version.version,
                    from_key_version: sealed.version.key_version,
                    to_key_version: key_version,
                    ciphertext: current.seal_value(&identity, &value)?,
                });
            }
            let mut audit = event.for_write();
            audit.version = Some(u64::from(key_version));
            let rewrapped = match self.data.write(WriteRequest { mutation: Mutation::Rewrap(batch), audit }).await? {
                WriteOutcome::Rewrapped(n) => n,
                _ => 0,
            };
            let remaining = self.data.count_stale_versions(&ns.id, key_version).await?;
            Ok(RewrapBatch { key_version, rewrapped, remaining })
        }
        .await;
        self.finish(event, result).await
    }
}

/// What a root rotation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootRotation {
    /// The new wrapping key (fingerprint, or the Transit key).
    pub root: String,
    /// Wrapped keys re-wrapped (namespace keys, the audit and token keys).
    pub rewrapped: usize,
    /// The key file written, for a local root key.
    pub root_key_file: Option<std::path::PathBuf>,
}

impl Hush {
    /// Re-wraps every key in the key store under a new root key (written to
    /// the key file) or, with a KMS, under the Transit key's newest version.
    /// Not cancellation-safe: callers run it to completion (the server does
    /// so in a task of its own).
    /// Reads and writes go on meanwhile: until it is done, keys open under
    /// either wrapping key. Needs an `admin` token bound to all namespaces.
    pub async fn rotate_root(&self, creds: &Credentials) -> Result<RootRotation, ServiceError> {
        let mut event = self.event(creds, AuditAction::RootRotate, None, None);
        let result = async {
            self.authorize_global(creds, &mut event, Scope::Admin, "rotating the root key").await?;
            match &self.root_origin {
                RootOrigin::Supplied => {
                    return Err(ServiceError::invalid(
                        "root_key_from_env",
                        "the root key comes from HUSH_ROOT_KEY or --root-key-file, which hush cannot change: use the \
                         key file in the key directory or a KMS to rotate online",
                    ));
                }
                RootOrigin::SharedFile(_) => {
                    return Err(ServiceError::invalid(
                        "root_key_shared",
                        "the key store is shared by replicas that hold this root key in memory and would go on wrapping \
                         new keys with it: rotate a local root key with one process per key store, or use a KMS",
                    ));
                }
                RootOrigin::File(_) | RootOrigin::Kms => {}
            }
            let _no_wrapping_meanwhile = self.rotation_lock.write().await;
            let old = self.root();
            let new = Arc::new(old.successor().map_err(ServiceError::internal)?);
            // The new key is on disk before anything is wrapped under it.
            let next_file = match (&self.root_origin, &*new) {
                (RootOrigin::File(path), KeyWrapper::Local(key)) => {
                    let next = path.with_extension("key.next");
                    if next.exists() {
                        return Err(ServiceError::invalid(
                            "rotation_pending",
                            format!(
                                "{} is left from an interrupted rotation; restart hush (it finishes that rotation) before rotating again",
                                next.display()
                            ),
                        ));
                    }
                    crate::bootstrap::write_root_key(&next, key).map_err(ServiceError::internal)?;
                    Some((next, path.clone()))
                }
                _ => None,
            };
            self.set_root(Arc::new(KeyWrapper::Rotating { new: Arc::clone(&new), old: Arc::clone(&old) }));
            let done = self.rewrap_store_keys(&new).await;
            match done {
                Ok(rewrapped) => {
                    self.set_root(Arc::clone(&new));
                    if let Some((next, path)) = &next_file {
                        std::fs::rename(next, path).map_err(ServiceError::internal)?;
                        if let Some(dir) = path.parent() {
                            let _ = std::fs::File::open(dir).and_then(|d| d.sync_all());
                        }
                    }
                    let mut audit = event.for_write();
                    audit.name = Some(new.describe());
                    self.data.write(WriteRequest { mutation: Mutation::AuditOnly, audit }).await?;
                    tracing::info!(root = %new.describe(), rewrapped, "rotated the root key");
                    Ok(RootRotation { root: new.describe(), rewrapped, root_key_file: next_file.map(|(_, p)| p) })
                }
                Err(e) => {
                    // Which key opens the store now decides, not the error: a
                    // commit whose answer was lost must not be undone.
                    let installation = self.keys.installation().await.ok().flatten();
                    let opens = |w: Arc<KeyWrapper>| {
                        let wrapped = installation.as_ref().map(|i| i.wrapped_audit_key.clone());
                        async move {
                            match wrapped {
                                Some(blob) => w.unwrap(&blob, AUDIT_KEY_BINDING).await.is_ok(),
                                None => false,
                            }
                        }
                    };
                    if opens(Arc::clone(&new)).await {
                        tracing::warn!(error = %e, "the root rotation reported an error after its keys were replaced; keeping the new key");
                        self.set_root(Arc::clone(&new));
                        if let Some((next, path)) = &next_file {
                            std::fs::rename(next, path).map_err(ServiceError::internal)?;
                        }
                        return Err(e);
                    }
                    self.set_root(Arc::clone(&old));
                    if let Some((next, _)) = &next_file
                        && opens(old).await
                    {
                        let _ = std::fs::remove_file(next);
                    }
                    Err(e)
                }
            }
        }
        .await;
        self.finish(event, result).await
    }

    fn set_root(&self, wrapper: Arc<KeyWrapper>) {
        *self.wrapper.write().unwrap_or_else(|e| e.into_inner()) = wrapper;
    }

    /// Re-wraps everything in the key store under `new` (reading with the
    /// rotating wrapper), in one transaction.
    async fn rewrap_store_keys(&self, new: &KeyWrapper) -> Result<usize, ServiceError> {
        let current = self.root();
        let wrapped = self.keys.wrapped_keys().await?;
        let again = |blob: Vec<u8>, binding: Vec<u8>| {
            let current = Arc::clone(&current);
            async move {
                let raw = current.unwrap(&blob, &binding).await.map_err(ServiceError::internal)?;
                new.wrap(&raw, &binding).await.map_err(ServiceError::internal)
            }
        };
        let mut out = WrappedKeys {
            audit_key: again(wrapped.audit_key, AUDIT_KEY_BINDING.to_vec()).await?,
            token_key: again(wrapped.token_key, TOKEN_KEY_BINDING.to_vec()).await?,
            namespace_keys: Vec::with_capacity(wrapped.namespace_keys.len()),
        };
        for (ns, version, blob) in wrapped.namespace_keys {
            let rewrapped = again(blob, data_key_binding(&ns, version)).await?;
            out.namespace_keys.push((ns, version, rewrapped));
        }
        self.keys.replace_wrapped_keys(&out).await?;
        Ok(out.namespace_keys.len() + 2)
    }
}
