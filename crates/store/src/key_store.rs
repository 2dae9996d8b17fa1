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

/// Where a prune cut the audit log: the chain head at the cut (the last
/// removed event's sequence number and MAC), signed with the audit key.
/// `audit verify` starts from it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditCheckpoint {
    /// The last removed event.
    pub seq: u64,
    /// Its chain MAC: the next event's MAC is computed from it.
    pub mac: Vec<u8>,
    /// The prune's `--before` time (events older than it were removed).
    pub before_at: i64,
    /// When the checkpoint was made.
    pub made_at: i64,
    /// The audit key's MAC over the fields above.
    pub signature: Vec<u8>,
}

/// What the key store records about its installation.
#[derive(Clone, PartialEq, Eq)]
pub struct Installation {
    /// Random id, also recorded in the data store.
    pub id: String,
    /// The audit chain key, wrapped by the root key.
    pub wrapped_audit_key: Vec<u8>,
    /// The token key, wrapped by the root key.
    pub wrapped_token_key: Vec<u8>,
    /// Whether the first start finished.
    pub completed: bool,
}

impl std::fmt::Debug for Installation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Installation").field("id", &self.id).field("completed", &self.completed).finish_non_exhaustive()
    }
}

/// Every wrapped key of an installation, for re-wrapping under a new root key.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKeys {
    /// The audit key.
    pub audit_key: Vec<u8>,
    /// The token key.
    pub token_key: Vec<u8>,
    /// Namespace data keys: namespace id, version, wrapped key.
    pub namespace_keys: Vec<(String, u32, Vec<u8>)>,
}

impl std::fmt::Debug for WrappedKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WrappedKeys").field("namespace_keys", &self.namespace_keys.len()).finish_non_exhaustive()
    }
}

/// The key store.
#[async_trait]
pub trait KeyStore: Send + Sync + 'static {
    /// The installation record, if initialised.
    async fn installation(&self) -> Result<Option<Installation>, StoreError>;

    /// Records the installation (not yet completed). Conflict if already initialised.
    async fn initialize(&self, installation: &Installation) -> Result<(), StoreError>;

    /// Marks the first start as finished.
    async fn mark_completed(&self) -> Result<(), StoreError>;

    /// Stores a wrapped namespace key. Conflict if that version exists.
    async fn put_namespace_key(&self, namespace_id: &str, version: u32, wrapped: &[u8]) -> Result<(), StoreError>;

    /// A wrapped namespace key by version.
    async fn namespace_key(&self, namespace_id: &str, version: u32) -> Result<Option<Vec<u8>>, StoreError>;

    /// The newest key version of a namespace and its wrapped key.
    async fn current_namespace_key(&self, namespace_id: &str) -> Result<Option<(u32, Vec<u8>)>, StoreError>;

    /// Destroys every key of a namespace, so its ciphertexts can never be
    /// opened again. Overwrites the freed bytes on disk as well.
    async fn destroy_namespace_keys(&self, namespace_id: &str) -> Result<(), StoreError>;

    /// Sends every row of the store, one consistent snapshot, table by
    /// table in [`crate::dump::TABLES`] order (backups).
    async fn dump(&self, out: crate::dump::DumpSender) -> Result<(), StoreError>;

    /// Holds off other processes' starts until the returned guard is
    /// dropped, for stores several processes share (PostgreSQL): two
    /// replicas starting on a fresh installation must not both initialise
    /// it. SQLite's directory lock already does this.
    async fn start_guard(&self) -> Result<Option<Box<dyn Send + Sync>>, StoreError> {
        Ok(None)
    }

    /// Every wrapped key.
    async fn wrapped_keys(&self) -> Result<WrappedKeys, StoreError>;

    /// Replaces wrapped keys (the same keys under a new root key), all in one
    /// transaction. Namespace keys not listed are left as they are.
    async fn replace_wrapped_keys(&self, keys: &WrappedKeys) -> Result<(), StoreError>;

    /// The audit anchor, if one was recorded.
    async fn audit_anchor(&self) -> Result<Option<AuditAnchor>, StoreError>;

    /// Records the audit anchor (only moves forward).
    async fn set_audit_anchor(&self, anchor: &AuditAnchor) -> Result<(), StoreError>;

    /// The audit checkpoint of the last prune, if any.
    async fn audit_checkpoint(&self) -> Result<Option<AuditCheckpoint>, StoreError>;

    /// Records the audit checkpoint (only moves forward).
    async fn set_audit_checkpoint(&self, checkpoint: &AuditCheckpoint) -> Result<(), StoreError>;

    /// Every event up to this sequence number was delivered to an audit sink
    /// or exported (0: none known).
    async fn audit_exported(&self) -> Result<u64, StoreError>;

    /// Records how far events were delivered or exported (only moves forward).
    async fn set_audit_exported(&self, through_seq: u64) -> Result<(), StoreError>;
}
