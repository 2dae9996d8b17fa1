//! The data store: namespaces, secrets and their sealed versions, token
//! hashes, and the audit log.

use async_trait::async_trait;
use hush_core::{NamespaceName, SecretName, SecretType};

use crate::{
    AuditAction, AuditEvent, AuditRecord, KvSettings, Millis, NamespaceRecord, RoleRecord, SealedVersion, SecretRecord,
    StoreError, TokenRecord, VersionRecord, audit_event::Outcome,
};

/// A change and the audit event that records it. Both commit together or not
/// at all. The store fills in the event's `outcome` (and `version`, for a
/// secret write) from what actually happened.
#[derive(Debug)]
pub struct WriteRequest {
    /// What to change.
    pub mutation: Mutation,
    /// What to record.
    pub audit: AuditEvent,
}

/// A change to the data store. Each is checked in full before anything is
/// written, so a refused mutation changes nothing.
#[derive(Debug)]
#[non_exhaustive]
pub enum Mutation {
    /// Nothing but the audit event (reads, denials, listings).
    AuditOnly,
    /// Create a namespace. Conflict if the name is taken.
    CreateNamespace(NamespaceRecord),
    /// Delete a namespace with its secrets and token bindings. Not found if absent.
    DeleteNamespace {
        /// Namespace id.
        id: String,
    },
    /// Add a version to a secret (creating it at version 1).
    PutVersion(PutVersion),
    /// Delete a secret and all its versions. Succeeds whether or not it existed.
    DeleteSecret {
        /// Namespace id.
        namespace_id: String,
        /// Secret name.
        name: SecretName,
    },
    /// Note that a secret's value was returned to a caller.
    RecordRead {
        /// Secret id.
        secret_id: String,
        /// When.
        at: Millis,
    },
    /// Store a new token. Its namespace bindings are by id.
    CreateToken(TokenRecord),
    /// Replace versions' ciphertexts with ones sealed under a newer key. A
    /// version that no longer has `from_key_version` (rewrapped meanwhile, or
    /// deleted) is skipped.
    Rewrap(Vec<RewrapVersion>),
    /// Store a new login role. Conflict if the name is taken.
    CreateRole(RoleRecord),
    /// Delete a login role. Not found if absent.
    DeleteRole {
        /// Its name.
        name: String,
    },
    /// Create a secret's KV metadata record (a secret with no version yet)
    /// or change its KV settings: only the fields given change.
    PutSecretMetadata(SecretMetadataChange),
    /// Delete, undelete or destroy versions of a secret. Versions that do
    /// not exist, and destroyed ones, are left alone. Not found if the
    /// secret does not exist.
    ChangeVersions {
        /// Namespace id.
        namespace_id: String,
        /// Secret name.
        name: SecretName,
        /// Which versions.
        versions: Vec<u64>,
        /// What to do to them.
        change: VersionChange,
    },
    /// Set a namespace's KV defaults. Not found if absent.
    SetNamespaceKv {
        /// Namespace id.
        id: String,
        /// The new defaults.
        kv: KvSettings,
    },
    /// Revoke a token (if not revoked yet). Not found if absent.
    RevokeToken {
        /// Token id.
        id: String,
        /// When.
        at: Millis,
        /// The record's MAC with `revoked_at` set to `at`.
        mac: Vec<u8>,
    },
}

/// A change to a secret's KV settings; `None` leaves a field as it is.
#[derive(Debug, Clone)]
pub struct SecretMetadataChange {
    /// Namespace id.
    pub namespace_id: String,
    /// Secret name.
    pub name: SecretName,
    /// The id to give the secret if this creates its record.
    pub new_secret_id: String,
    /// When.
    pub at: Millis,
    /// New `max_versions`.
    pub max_versions: Option<u32>,
    /// New `cas_required`.
    pub cas_required: Option<bool>,
    /// New `delete_version_after`, in milliseconds.
    pub delete_version_after: Option<Millis>,
    /// New custom metadata (a JSON object of strings), replacing the old.
    pub custom_metadata: Option<String>,
}

/// What [`Mutation::ChangeVersions`] does to each version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionChange {
    /// Mark it deleted at this time (it stays stored and can be undeleted).
    Delete {
        /// When.
        at: Millis,
    },
    /// Clear its deletion.
    Undelete,
    /// Erase its ciphertext for good.
    Destroy,
}

/// Where a new version lands: decided by the store inside the write
/// transaction, so concurrent writes to one secret get consecutive versions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionSlot<'a> {
    /// The secret's id (the existing one, or [`PutVersion::new_secret_id`]).
    pub secret_id: &'a str,
    /// The new version number.
    pub version: u64,
}

/// Seals the value for a slot: called by the store once it knows the slot
/// (possibly more than once, if a batch is retried). Returns the ciphertext.
pub type Sealer = Box<dyn Fn(VersionSlot<'_>) -> Result<Vec<u8>, hush_crypto::RandomError> + Send + Sync>;

/// A new version of a secret. The caller supplies a [`Sealer`] rather than a
/// ciphertext because the ciphertext is bound to the version number, which
/// only the store can assign without racing other writers.
pub struct PutVersion {
    /// Namespace id.
    pub namespace_id: String,
    /// Secret name.
    pub name: SecretName,
    /// The secret's type (a write with another type than the existing one is a conflict).
    pub secret_type: SecretType,
    /// `cas`: the version the caller requires to be current (0: must not
    /// exist). `None` writes after whatever is current.
    pub expected_version: Option<u64>,
    /// The id to give the secret if this write creates it.
    pub new_secret_id: String,
    /// Namespace key version the sealer uses.
    pub key_version: u32,
    /// Produces the ciphertext for the slot the store picks.
    pub seal: Sealer,
    /// Write time.
    pub at: Millis,
    /// How many versions to keep; older ones are deleted.
    pub keep_versions: u32,
}

impl std::fmt::Debug for PutVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PutVersion")
            .field("namespace_id", &self.namespace_id)
            .field("name", &self.name)
            .field("secret_type", &self.secret_type)
            .field("expected_version", &self.expected_version)
            .field("key_version", &self.key_version)
            .finish_non_exhaustive()
    }
}

/// One version re-encrypted under a newer namespace key.
pub struct RewrapVersion {
    /// The secret's id.
    pub secret_id: String,
    /// The version.
    pub version: u64,
    /// The key version it was sealed with.
    pub from_key_version: u32,
    /// The key version of the new ciphertext.
    pub to_key_version: u32,
    /// The new ciphertext.
    pub ciphertext: Vec<u8>,
}

impl std::fmt::Debug for RewrapVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RewrapVersion")
            .field("secret_id", &self.secret_id)
            .field("version", &self.version)
            .field("from_key_version", &self.from_key_version)
            .field("to_key_version", &self.to_key_version)
            .finish_non_exhaustive()
    }
}

/// What a successful write produced.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum WriteOutcome {
    /// Done; nothing to report.
    Done,
    /// The secret after a `PutVersion`.
    Secret(SecretRecord),
    /// Whether a `DeleteSecret` found something to delete.
    Deleted(bool),
    /// How many versions a `Rewrap` replaced.
    Rewrapped(usize),
}

/// A page of secrets in one namespace, by name.
#[derive(Debug, Clone, Default)]
pub struct SecretQuery {
    /// Only names starting with this.
    pub prefix: Option<String>,
    /// Only names after this one (the previous page's last name).
    pub after: Option<String>,
    /// At most this many.
    pub limit: u32,
}

/// A page of audit events, newest first.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Only events in the namespaces with these ids; `None` means all events.
    pub namespace_ids: Option<Vec<String>>,
    /// Only events naming this namespace (by name, whatever its id was).
    pub namespace: Option<NamespaceName>,
    /// Only events about this secret name.
    pub name: Option<String>,
    /// Only events of this action.
    pub action: Option<AuditAction>,
    /// Only events with this outcome.
    pub outcome: Option<Outcome>,
    /// Only events of this token (by its public id).
    pub token_id: Option<String>,
    /// Only events with a sequence number below this.
    pub before: Option<u64>,
    /// At most this many.
    pub limit: u32,
}

/// The data store.
#[async_trait]
pub trait DataStore: Send + Sync + 'static {
    /// The installation id recorded at initialisation, if initialised.
    async fn installation_id(&self) -> Result<Option<String>, StoreError>;

    /// Records the installation id. Conflict if one is already recorded.
    async fn initialize(&self, installation_id: &str) -> Result<(), StoreError>;

    /// Applies one change and its audit event, durably.
    async fn write(&self, request: WriteRequest) -> Result<WriteOutcome, StoreError>;

    /// A namespace by name.
    async fn namespace(&self, name: &NamespaceName) -> Result<Option<NamespaceRecord>, StoreError>;

    /// All namespaces, by name.
    async fn namespaces(&self) -> Result<Vec<NamespaceRecord>, StoreError>;

    /// A secret's metadata.
    async fn secret(&self, namespace_id: &str, name: &SecretName) -> Result<Option<SecretRecord>, StoreError>;

    /// A secret version's ciphertext: the current one, or `version`.
    async fn sealed_version(
        &self,
        namespace_id: &str,
        name: &SecretName,
        version: Option<u64>,
    ) -> Result<Option<SealedVersion>, StoreError>;

    /// The current version of every secret of `secret_type` in a namespace,
    /// by name (registry and git credential lookup).
    async fn current_of_type(
        &self,
        namespace_id: &str,
        secret_type: SecretType,
    ) -> Result<Vec<SealedVersion>, StoreError>;

    /// Secrets of a namespace, by name.
    async fn secrets(&self, namespace_id: &str, query: &SecretQuery) -> Result<Vec<SecretRecord>, StoreError>;

    /// Up to `limit` versions in the namespace sealed with a key version
    /// below `key_version`, by secret name and version.
    async fn stale_versions(
        &self,
        namespace_id: &str,
        key_version: u32,
        limit: u32,
    ) -> Result<Vec<SealedVersion>, StoreError>;

    /// How many versions in the namespace are sealed with a key version below `key_version`.
    async fn count_stale_versions(&self, namespace_id: &str, key_version: u32) -> Result<u64, StoreError>;

    /// Sends every row of the store, one consistent snapshot, table by
    /// table in [`crate::dump::TABLES`] order (backups).
    async fn dump(&self, out: crate::dump::DumpSender) -> Result<(), StoreError>;

    /// The stored versions of a secret, newest first.
    async fn versions(&self, secret_id: &str) -> Result<Vec<VersionRecord>, StoreError>;

    /// A token by id.
    async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// All tokens, newest first.
    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError>;

    /// A login role by name.
    async fn role(&self, name: &str) -> Result<Option<RoleRecord>, StoreError>;

    /// All login roles, by name.
    async fn roles(&self) -> Result<Vec<RoleRecord>, StoreError>;

    /// Audit events, newest first.
    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError>;

    /// Audit events in chain order from `after_seq + 1`, for verification.
    async fn audit_chain(&self, after_seq: u64, limit: u32) -> Result<Vec<AuditRecord>, StoreError>;

    /// The newest event's sequence number and MAC, if any.
    async fn audit_head(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError>;

    /// The oldest stored event's sequence number (above 1 after a prune).
    async fn audit_oldest(&self) -> Result<Option<u64>, StoreError>;

    /// The first event (by sequence number) recorded at or after `at`.
    async fn audit_first_at_or_after(&self, at: Millis) -> Result<Option<u64>, StoreError>;

    /// Removes the oldest events, at most `limit`, none after `through_seq`
    /// (retention). Returns how many were removed.
    async fn prune_audit(&self, through_seq: u64, limit: u32) -> Result<u64, StoreError>;
}
