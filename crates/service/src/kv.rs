//! Vault KV v2 operations on hush secrets that hush's own API has no word
//! for: a secret's KV settings and custom metadata (written before any data
//! if need be), deleting, undeleting and destroying single versions, and a
//! namespace's KV defaults. Each is a scoped, audited call like any other.

use hush_core::{NamespaceName, Scope, SecretName};
use hush_crypto::random_id;
use hush_store::{
    AuditAction, KvSettings, Mutation, NamespaceRecord, SecretMetadataChange, StoreError, VersionChange, WriteRequest,
    now_millis,
};

use crate::hush::require;
use crate::{Credentials, Hush, Missing, ServiceError};

/// Longest custom metadata accepted: Vault's limits (64 keys, keys up to 128
/// bytes, values up to 512 bytes), checked by the caller; this bounds the
/// stored JSON as a whole.
const MAX_CUSTOM_METADATA_BYTES: usize = 64 * (128 + 512 + 8);

/// A change to a secret's KV settings; `None` leaves a field as it is.
#[derive(Debug, Clone, Default)]
pub struct SecretMetadataUpdate {
    /// How many versions to keep (0: the namespace's or server's default).
    pub max_versions: Option<u32>,
    /// Whether writes must give `cas`.
    pub cas_required: Option<bool>,
    /// How long after it is written a version reads as deleted (ms; 0: never).
    pub delete_version_after: Option<i64>,
    /// Custom metadata as a JSON object of strings, replacing the old.
    pub custom_metadata: Option<String>,
}

/// What to do to versions of a secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VersionAction {
    /// Mark deleted (reversible).
    Delete,
    /// Restore deleted versions.
    Undelete,
    /// Erase the ciphertexts for good.
    Destroy,
}

impl Hush {
    /// Writes a secret's KV settings or custom metadata, creating a record
    /// with no value if the secret does not exist yet.
    pub async fn put_secret_metadata(
        &self,
        creds: &Credentials,
        namespace: &NamespaceName,
        name: &SecretName,
        update: SecretMetadataUpdate,
    ) -> Result<(), ServiceError> {
        let mut event = self.event(creds, AuditAction::SecretMetadata, Some(namespace), Some(name.as_str()));
        let result = async {
            let (_, ns) = self.authorize_in(creds, &mut event, namespace, Scope::SecretsWrite).await?;
            if update.custom_metadata.as_ref().is_some_and(|m| m.len() > MAX_CUSTOM_METADATA_BYTES) {
                return Err(ServiceError::invalid("invalid_metadata", "custom_metadata is too large"));
            }
            let change = SecretMetadataChange {
                namespace_id: ns.id,
                name: name.clone(),
                new_secret_id: random_id()?,
                at: now_millis(),
                max_versions: update.max_versions,
                cas_required: update.cas_required,
                delete_version_after: update.delete_version_after,
                custom_metadata: update.custom_metadata,
            };
            let audit = event.for_write();
            self.data.write(WriteRequest { mutation: Mutation::PutSecretMetadata(change), audit }).await.map_err(
                |e| match e {
                    StoreError::NotFound => ServiceError::NotFound(Missing::Namespace),
                    e => ServiceError::internal(e),
                },
            )?;
            Ok(())
        }
        .await;
        self.finish(event, result).await
    }

    /// Deletes, undeletes or destroys versions of a secret (none given: the
    /// current one): one audited write per version. Versions that do not
    /// exist are skipped, as Vault does; a secret that does not exist (or,
    /// for the current version, has none) is not found.
    pub async fn change_versions(
        &self,
        creds: &Credentials,
        namespace: &NamespaceName,
        name: &SecretName,
        versions: &[u64],
        action: VersionAction,
    ) -> Result<(), ServiceError> {
        let (audit_action, scope) = match action {
            VersionAction::Delete => (AuditAction::SecretVersionDelete, Scope::SecretsDelete),
            VersionAction::Undelete => (AuditAction::SecretVersionUndelete, Scope::SecretsWrite),
            VersionAction::Destroy => (AuditAction::SecretVersionDestroy, Scope::SecretsDelete),
        };
        let targets: Vec<Option<u64>> =
            if versions.is_empty() { vec![None] } else { versions.iter().copied().map(Some).collect() };
        for target in targets {
            let mut event = self.event(creds, audit_action, Some(namespace), Some(name.as_str()));
            event.event.version = target;
            let result = async {
                let (_, ns) = self.authorize_in(creds, &mut event, namespace, scope).await?;
                let version = match target {
                    Some(version) => version,
                    None => {
                        let secret = self.data.secret(&ns.id, name).await?;
                        let current = secret.map_or(0, |s| s.version);
                        if current == 0 {
                            return Err(ServiceError::NotFound(Missing::Secret));
                        }
                        event.event.version = Some(current);
                        current
                    }
                };
                let change = match action {
                    VersionAction::Delete => VersionChange::Delete { at: now_millis() },
                    VersionAction::Undelete => VersionChange::Undelete,
                    VersionAction::Destroy => VersionChange::Destroy,
                };
                let mutation = Mutation::ChangeVersions {
                    namespace_id: ns.id,
                    name: name.clone(),
                    versions: vec![version],
                    change,
                };
                let audit = event.for_write();
                self.data.write(WriteRequest { mutation, audit }).await.map_err(|e| match e {
                    StoreError::NotFound => ServiceError::NotFound(Missing::Secret),
                    e => ServiceError::internal(e),
                })?;
                Ok(())
            }
            .await;
            self.finish(event, result).await?;
        }
        Ok(())
    }

    /// A namespace with its KV defaults (metadata: `secrets:list`; audited
    /// as a namespace listing).
    pub async fn namespace_kv(
        &self,
        creds: &Credentials,
        namespace: &NamespaceName,
    ) -> Result<NamespaceRecord, ServiceError> {
        let mut event = self.event(creds, AuditAction::NamespaceList, Some(namespace), None);
        let result = async { Ok(self.authorize_in(creds, &mut event, namespace, Scope::SecretsList).await?.1) }.await;
        self.finish(event, result).await
    }

    /// Sets a namespace's KV defaults. They change how every secret in it is
    /// written, so this needs `namespaces:manage`.
    pub async fn set_namespace_kv(
        &self,
        creds: &Credentials,
        namespace: &NamespaceName,
        kv: KvSettings,
    ) -> Result<(), ServiceError> {
        let mut event = self.event(creds, AuditAction::NamespaceKvConfig, Some(namespace), None);
        let result = async {
            let (caller, ns) = self.authorize_in(creds, &mut event, namespace, Scope::SecretsWrite).await?;
            require(&caller, Scope::NamespacesManage)?;
            let audit = event.for_write();
            let written =
                self.data.write(WriteRequest { mutation: Mutation::SetNamespaceKv { id: ns.id, kv }, audit }).await;
            // The cached record carries the old defaults (writes never use
            // it: the store reads the namespace's row in the write itself).
            self.namespaces.remove(namespace);
            written?;
            Ok(())
        }
        .await;
        self.finish(event, result).await
    }
}
