//! The key store: wrapped namespace data keys, the wrapped audit key, and the
//! audit anchor. It is a different database from the data store, so that a
//! copy of either alone reveals nothing.

use async_trait::async_trait;

use crate::StoreError;

/// The last audit event the key store has seen: removing events after it from
/// the data store is detected by `audit verify`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditAnchor {
    /// Sequence number.
    pub seq: u64,
    /// Its chain MAC.
    pub mac: Vec<u8>,
}

/// The key store.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The installation id and wrapped audit key, if initialised.
    async fn installation(&self) -> Result<Option<(String, Vec<u8>)>, StoreError>;

    /// Records the installation id and the wrapped audit key. Conflict if already initialised.
    async fn initialize(&self, installation_id: &str, wrapped_audit_key: &[u8]) -> Result<(), StoreError>;

    /// Stores a wrapped namespace key. Conflict if that version exists.
    async fn put_namespace_key(&self, namespace_id: &str, version: u32, wrapped: &[u8]) -> Result<(), StoreError>;

    /// A wrapped namespace key by version.
    async fn namespace_key(&self, namespace_id: &str, version: u32) -> Result<Option<Vec<u8>>, StoreError>;

    /// The newest key version of a namespace and its wrapped key.
    async fn current_namespace_key(&self, namespace_id: &str) -> Result<Option<(u32, Vec<u8>)>, StoreError>;

    /// Destroys every key of a namespace, so its ciphertexts can never be
    /// opened again. Overwrites the freed bytes on disk as well.
    async fn destroy_namespace_keys(&self, namespace_id: &str) -> Result<(), StoreError>;

    /// The audit anchor, if one was recorded.
    async fn audit_anchor(&self) -> Result<Option<AuditAnchor>, StoreError>;

    /// Records the audit anchor (only moves forward).
    async fn set_audit_anchor(&self, anchor: &AuditAnchor) -> Result<(), StoreError>;
}
