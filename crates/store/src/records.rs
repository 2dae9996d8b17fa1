//! Rows as the rest of hush sees them.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use hush_core::{NamespaceName, ScopeSet, SecretName, SecretType};

/// Milliseconds since the Unix epoch, UTC.
pub type Millis = i64;

/// The current time in [`Millis`].
pub fn now_millis() -> Millis {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as Millis).unwrap_or(0)
}

/// A namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceRecord {
    /// Random id; never reused, so a re-created namespace is a new one.
    pub id: String,
    /// Its name.
    pub name: NamespaceName,
    /// Creation time.
    pub created_at: Millis,
    /// Defaults for its secrets' Vault KV settings.
    pub kv: KvSettings,
}

/// Vault KV v2 settings, of one secret or (as defaults for its secrets) of
/// a namespace. Zero or `false` means "not set": a secret's unset setting
/// falls back to its namespace's, and that to the server's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KvSettings {
    /// How many versions to keep.
    pub max_versions: u32,
    /// Whether every write must say which version it expects (`cas`).
    pub cas_required: bool,
    /// How long after it is written a version reads as deleted, in milliseconds.
    pub delete_version_after: Millis,
}

impl KvSettings {
    /// These settings, with each unset one taken from `fallback`.
    pub fn or(self, fallback: KvSettings) -> KvSettings {
        KvSettings {
            max_versions: if self.max_versions > 0 { self.max_versions } else { fallback.max_versions },
            cas_required: self.cas_required || fallback.cas_required,
            delete_version_after: if self.delete_version_after > 0 {
                self.delete_version_after
            } else {
                fallback.delete_version_after
            },
        }
    }
}

/// A secret's metadata (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    /// Random id, bound into every version's ciphertext.
    pub id: String,
    /// Owning namespace id.
    pub namespace_id: String,
    /// Name within the namespace.
    pub name: SecretName,
    /// Type, fixed at creation.
    pub secret_type: SecretType,
    /// Current version.
    pub version: u64,
    /// When version 1 was written.
    pub created_at: Millis,
    /// When the current version was written.
    pub updated_at: Millis,
    /// When a value was last returned to a caller.
    pub last_read_at: Option<Millis>,
    /// Its own Vault KV settings.
    pub kv: KvSettings,
    /// Vault KV custom metadata: a JSON object of strings, never secret.
    pub custom_metadata: Option<String>,
}

/// One stored version's metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionRecord {
    /// Version number.
    pub version: u64,
    /// Which namespace key version sealed it.
    pub key_version: u32,
    /// When it was written.
    pub created_at: Millis,
    /// When it was deleted, or will read as deleted (`delete_version_after`).
    pub deleted_at: Option<Millis>,
    /// Whether it was destroyed: its ciphertext is gone for good.
    pub destroyed: bool,
}

impl VersionRecord {
    /// Whether the version can be read at `now`: neither destroyed nor deleted.
    pub fn is_readable(&self, now: Millis) -> bool {
        !self.destroyed && self.deleted_at.is_none_or(|at| at > now)
    }
}

/// A version's ciphertext with what is needed to open it.
#[derive(Clone)]
pub struct SealedVersion {
    /// The secret.
    pub secret: SecretRecord,
    /// The version.
    pub version: VersionRecord,
    /// The AEAD envelope.
    pub ciphertext: Vec<u8>,
}

impl fmt::Debug for SealedVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SealedVersion")
            .field("secret", &self.secret)
            .field("version", &self.version)
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

/// A namespace a token is bound to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamespaceRef {
    /// Namespace id.
    pub id: String,
    /// Namespace name.
    pub name: NamespaceName,
}

/// Which namespaces a token may act in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenNamespaces {
    /// Every namespace, present and future (admin tokens).
    All,
    /// These namespaces. A namespace that is deleted drops out of the list.
    Only(Vec<NamespaceRef>),
}

impl TokenNamespaces {
    /// Whether the token may act in the namespace with this id.
    pub fn allows(&self, namespace_id: &str) -> bool {
        match self {
            TokenNamespaces::All => true,
            TokenNamespaces::Only(list) => list.iter().any(|n| n.id == namespace_id),
        }
    }
}

/// A token as stored: its keyed hash, never the token.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Public id (the part after `hush_`).
    pub id: String,
    /// HMAC of the token text under the token key.
    pub hash: Vec<u8>,
    /// Free text given at creation.
    pub description: String,
    /// Where it may act now: all namespaces, or those it was issued for that still exist.
    pub namespaces: TokenNamespaces,
    /// The namespace ids it was issued for (empty for all namespaces).
    pub issued_namespace_ids: Vec<String>,
    /// What it may do.
    pub scopes: ScopeSet,
    /// When it was issued.
    pub created_at: Millis,
    /// When it stops working, if ever.
    pub expires_at: Option<Millis>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Millis>,
    /// The token that issued it, if any.
    pub created_by: Option<String>,
    /// For a token earned by a workload's login: who logged in (compact
    /// JSON), recorded with every audit event made with the token.
    pub identity: Option<String>,
    /// MAC over [`TokenRecord::canonical`] under the token key.
    pub mac: Vec<u8>,
}

impl TokenRecord {
    /// Whether the token was issued for every namespace.
    pub fn all_namespaces(&self) -> bool {
        matches!(self.namespaces, TokenNamespaces::All)
    }

    /// The bytes the record MAC covers: every stored field but the MAC,
    /// length-prefixed. Namespace ids as issued, so deleting a namespace does
    /// not invalidate the MAC.
    pub fn canonical(&self) -> Vec<u8> {
        use crate::canonical::{bytes, integer, text};
        let mut out = Vec::with_capacity(256);
        out.extend_from_slice(b"hush/token-record/v1\0");
        text(&mut out, Some(&self.id));
        bytes(&mut out, Some(&self.hash));
        out.push(u8::from(self.all_namespaces()));
        let mut ids = self.issued_namespace_ids.clone();
        ids.sort();
        out.extend_from_slice(&(ids.len() as u32).to_be_bytes());
        for id in &ids {
            text(&mut out, Some(id));
        }
        text(&mut out, Some(&self.scopes.to_list()));
        integer(&mut out, Some(self.created_at));
        integer(&mut out, self.expires_at);
        integer(&mut out, self.revoked_at);
        text(&mut out, self.created_by.as_deref());
        text(&mut out, Some(&self.description));
        // Appended only when present (behind a tag byte), so the records of
        // tokens issued before identities existed keep their MACs.
        if let Some(identity) = &self.identity {
            out.push(1);
            text(&mut out, Some(identity));
        }
        out
    }
}

impl fmt::Debug for TokenRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRecord")
            .field("id", &self.id)
            .field("description", &self.description)
            .field("namespaces", &self.namespaces)
            .field("scopes", &self.scopes)
            .field("created_at", &self.created_at)
            .field("expires_at", &self.expires_at)
            .field("revoked_at", &self.revoked_at)
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// A login role: which workloads may log in and what they get. The
/// definition (issuer, audience, bound claims, keys, namespaces, scopes,
/// lifetimes) is JSON that the service owns; the store keeps it whole, under
/// a MAC, so a role edited in the data store grants nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoleRecord {
    /// Its name, unique.
    pub name: String,
    /// The definition, as JSON.
    pub definition: String,
    /// When it was created.
    pub created_at: Millis,
    /// The token that created it.
    pub created_by: Option<String>,
    /// MAC over [`RoleRecord::canonical`] under the token key.
    pub mac: Vec<u8>,
}

impl RoleRecord {
    /// The bytes the MAC covers: every field but the MAC.
    pub fn canonical(&self) -> Vec<u8> {
        use crate::canonical::{integer, text};
        let mut out = Vec::with_capacity(64 + self.definition.len());
        out.extend_from_slice(b"hush/login-role/v1\0");
        text(&mut out, Some(&self.name));
        text(&mut out, Some(&self.definition));
        integer(&mut out, Some(self.created_at));
        text(&mut out, self.created_by.as_deref());
        out
    }
}
