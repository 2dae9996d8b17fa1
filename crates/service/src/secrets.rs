//! Secrets: write (create or rotate), read, list, versions, delete.

use std::fmt;

use hush_core::{Location, NamespaceName, Scope, SecretName, SecretValue};
use hush_crypto::{VersionIdentity, random_id};
use hush_store::{
    AuditAction, Conflict, Mutation, NamespaceRecord, PutVersion, SealedVersion, Sealer, SecretQuery, SecretRecord,
    StoreError, VersionRecord, VersionSlot, WriteOutcome, WriteRequest, now_millis,
};

use crate::hush::PendingEvent;
use crate::pagination;
use crate::{Credentials, Hush, Missing, ServiceError};

/// Longest username or server address accepted.
const MAX_TEXT_FIELD: usize = 512;

/// A secret version's value with its metadata.
pub struct RevealedSecret {
    /// The secret (with `last_read_at` set to this read).
    pub record: SecretRecord,
    /// The version returned.
    pub version: VersionRecord,
    /// The plaintext.
    pub value: SecretValue,
}

impl fmt::Debug for RevealedSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RevealedSecret")
            .field("record", &self.record)
            .field("version", &self.version)
            .field("value", &self.value)
            .finish()
    }
}

/// What reading a version found.
#[derive(Debug)]
pub enum VersionRead {
    /// Its value.
    Value(RevealedSecret),
    /// It is deleted or destroyed: its metadata, no value.
    Gone {
        /// The secret.
        record: SecretRecord,
        /// The version asked for.
        version: VersionRecord,
    },
}

/// One page of a secret listing.
#[derive(Debug, Clone)]
pub struct SecretPage {
    /// Secrets, by name.
    pub secrets: Vec<SecretRecord>,
    /// Pass as `after` to get the next page; `None` on the last page.
    pub next: Option<String>,
}

/// What to list.
#[derive(Debug, Clone, Default)]
pub struct ListSecrets {
    /// Only names starting with this (a folder is `"dir/"`).
    pub prefix: Option<String>,
    /// Continue after this name (a previous page's `next`).
    pub after: Option<String>,
    /// Page size (default 100, at most 1000).
    pub limit: Option<u32>,
}

impl Hush {
    /// Creates a secret, or writes a new version of it (rotation). With
    /// `cas`, the write happens only if the current version is `cas` (0: the
    /// secret must not exist yet).
    pub async fn put_secret(
        &self,
        creds: &Credentials,
        namespace: &NamespaceName,
        name: &SecretName,
        value: SecretValue,
        cas: Option<u64>,
    ) -> Result<SecretRecord, ServiceError> {
        let mut event = self.event(creds, AuditAction::SecretWrite, Some(namespace), Some(name.as_str()));
        let result = self.put_secret_inner(creds, &mut event, namespace, name, value, cas).await;
        self.finish(event, result).await
    }

    /// Writes a new version of a secret that must exist (Direktiv's PATCH):
    /// `NotFound` if it does not, a cas conflict if it changed meanwhile.
    pub async fn update_secret(
        &self,
        creds: &Credentials,
        namespace: &NamespaceName,
        name: &SecretName,
        value: SecretValue,
    ) -> Result<SecretRecord, ServiceError> {
        let mut event = self.event(creds, AuditAction::SecretWrite, Some(namespace), Some(name.as_str()));
        let result = async {
            let (_, ns) = self.authorize_in(creds, &mut event, namespace, Scope::SecretsWrite).await?;
            let current = self.data.secret(&ns.id, name).await?.ok_or(ServiceError::NotFound(Missing::Secret))?;
            self.write_version(&mut event, &ns, name, value, Some(current.version)).await
        }
        .await;
        self.finish(event, result).await
    }

    async fn put_secret_inner(
        &self,
        creds: &Credentials,
        event: &mut PendingEvent,
        namespace: &NamespaceName,
        name: &SecretName,
        value: SecretValue,
        cas: Option<u64>,
    ) -> Result<SecretRecord, ServiceError> {
        let (_, ns) = self.authorize_in(creds, event, namespace, Scope::SecretsWrite).await?;
        self.write_version(event, &ns, name, value, cas).await
    }

    /// Checks the value, seals it and writes it as the next version of
    /// `name` in `ns`, with `event` (the caller has authorized the write).
    pub(crate) async fn write_version(
        &self,
        event: &mut PendingEvent,
        ns: &NamespaceRecord,
        name: &SecretName,
        value: SecretValue,
        cas: Option<u64>,
    ) -> Result<SecretRecord, ServiceError> {
        self.check_value(&value)?;
        let (key_version, key) = self.key_cache.current(&*self.keys, &self.root(), &ns.id).await?;
        let secret_type = value.secret_type();
        let (namespace_id, secret_name) = (ns.id.clone(), name.as_str().to_owned());
        // The store assigns the version inside its transaction and asks for
        // the ciphertext then, so concurrent writers never collide.
        let seal: Sealer = Box::new(move |slot: VersionSlot<'_>| {
            let identity = VersionIdentity {
                namespace_id: &namespace_id,
                secret_id: slot.secret_id,
                name: &secret_name,
                version: slot.version,
                secret_type,
                key_version,
            };
            key.seal_value(&identity, &value)
        });
        let request = WriteRequest {
            mutation: Mutation::PutVersion(PutVersion {
                namespace_id: ns.id.clone(),
                name: name.clone(),
                secret_type,
                expected_version: cas,
                new_secret_id: random_id()?,
                key_version,
                seal,
                at: now_millis(),
                keep_versions: self.config.keep_versions,
            }),
            // From here the store records the outcome in the audit log itself.
            audit: event.for_write(),
        };
        match self.data.write(request).await {
            Ok(WriteOutcome::Secret(record)) => Ok(record),
            Ok(other) => {
                Err(ServiceError::internal(StoreError::Corrupt(format!("unexpected write outcome {other:?}"))))
            }
            Err(StoreError::Conflict(Conflict::Version { current })) => Err(ServiceError::CasMismatch { current }),
            Err(StoreError::Conflict(Conflict::Type { existing })) => Err(ServiceError::TypeConflict { existing }),
            Err(StoreError::Conflict(Conflict::CasRequired)) => Err(ServiceError::CasRequired),
            Err(StoreError::NotFound) => Err(ServiceError::NotFound(Missing::Namespace)),
            Err(e) => Err(ServiceError::internal(e)),
        }
    }

    /// Decrypts a sealed version of a secret in `ns`. A version that does
    /// not open means the data store was altered or belongs to other keys.
    pub(crate) async fn open_sealed(
        &self,
        ns: &NamespaceRecord,
        sealed: &SealedVersion,
    ) -> Result<SecretValue, ServiceError> {
        let key = self.key_cache.key(&*self.keys, &self.root(), &ns.id, sealed.version.key_version).await?;
        let identity = VersionIdentity {
            namespace_id: &ns.id,
            secret_id: &sealed.secret.id,
            name: sealed.secret.name.as_str(),
            version: sealed.version.version,
            secret_type: sealed.secret.secret_type,
            key_version: sealed.version.key_version,
        };
        key.open_value(&identity, &sealed.ciphertext).map_err(|e| {
            tracing::error!(namespace = %ns.name, secret = %sealed.secret.name, version = sealed.version.version,
                error = %e, "a stored version does not open: the data store was altered or belongs to other keys");
            ServiceError::internal(e)
        })
    }

    /// Records that a value was returned: sets `last_read_at` and commits
    /// the call's audit event (with the version read) in one write.
    pub(crate) async fn record_read(
        &self,
        event: &mut PendingEvent,
        sealed: &SealedVersion,
    ) -> Result<hush_store::Millis, ServiceError> {
        let now = now_millis();
        let mut audit = event.for_write();
        audit.version = Some(sealed.version.version);
        self.data
            .write(WriteRequest {
                mutation: Mutation::RecordRead { secret_id: sealed.secret.id.clone(), at: now },
                audit,
            })
            .await?;
        Ok(now)
    }

    /// Checks sizes and required fields. Messages name fields, never values.
    fn check_value(&self, value: &SecretValue) -> Result<(), ServiceError> {
        let size = value.plaintext_len();
        if size > self.config.max_value_bytes {
            return Err(ServiceError::TooLarge { size, limit: self.config.max_value_bytes });
        }
        let empty = |field: &str| ServiceError::invalid("invalid_value", format!("{field} must not be empty"));
        let text = |field: &str, v: &str| {
            if v.len() > MAX_TEXT_FIELD {
                Err(ServiceError::invalid("invalid_value", format!("{field} is longer than {MAX_TEXT_FIELD} bytes")))
            } else if v.chars().any(char::is_control) {
                Err(ServiceError::invalid("invalid_value", format!("{field} has a control character")))
            } else {
                Ok(())
            }
        };
        match value {
            SecretValue::Generic(v) if v.is_empty() => Err(empty("value")),
            SecretValue::Generic(_) => Ok(()),
            SecretValue::Git { username, token, url } => {
                text("username", username)?;
                text("url", url)?;
                if !url.is_empty() {
                    let location =
                        Location::parse_url(url).map_err(|e| ServiceError::invalid("invalid_value", e.to_string()))?;
                    // A git credential is for one scheme: without one it would
                    // also be offered over plain HTTP.
                    if location.scheme().is_none() {
                        return Err(ServiceError::invalid("invalid_value", "url must start with https:// or http://"));
                    }
                }
                if token.is_empty() { Err(empty("token")) } else { Ok(()) }
            }
            SecretValue::Registry { username, password, server_address } => {
                text("username", username)?;
                text("server_address", server_address)?;
                if server_address.chars().any(char::is_whitespace) {
                    return Err(ServiceError::invalid("invalid_value", "server_address has whitespace"));
                }
                if password.is_empty() { Err(empty("password")) } else { Ok(()) }
            }
        }
    }

    /// Reads a secret's current value, or `version`. Records the read. A
    /// deleted or destroyed version, or a secret with only metadata, is not found.
    pub async fn get_secret(
        &self,
        creds: &Credentials,
        namespace: &NamespaceName,
        name: &SecretName,
        version: Option<u64>,
    ) -> Result<RevealedSecret, ServiceError> {
        match self.read_secret_version(creds, namespace, name, version).await? {
            VersionRead::Value(revealed) => Ok(revealed),
            VersionRead::Gone { version, .. } if version.destroyed => {
                Err(ServiceError::NotFound(Missing::DestroyedVersion))
            }
            VersionRead::Gone { .. } => Err(ServiceError::NotFound(Missing::DeletedVersion)),
        }
    }

    /// Reads a secret's current value, or `version`, or says that version is
    /// deleted or destroyed (with its metadata, as Vault answers). Records
    /// the read; a gone version is audited as not found.
    pub async fn read_secret_version(
        &self,
        creds: &Credentials,
        namespace: &NamespaceName,
        name: &SecretName,
        version: Option<u64>,
    ) -> Result<VersionRead, ServiceError> {
        let mut event = self.event(creds, AuditAction::SecretRead, Some(namespace), Some(name.as_str()));
        event.event.version = version;
        let result = self.get_secret_inner(creds, &mut event, namespace, name, version).await;
        if let Ok(VersionRead::Gone { version, .. }) = &result {
            event.event.version = Some(version.version);
            event.event.outcome = hush_store::Outcome::NotFound;
        }
        self.finish(event, result).await
    }

    async fn get_secret_inner(
        &self,
        creds: &Credentials,
        event: &mut PendingEvent,
        namespace: &NamespaceName,
        name: &SecretName,
        version: Option<u64>,
    ) -> Result<VersionRead, ServiceError> {
        let (_, ns) = self.authorize_in(creds, event, namespace, Scope::SecretsRead).await?;
        let Some(sealed) = self.data.sealed_version(&ns.id, name, version).await? else {
            let missing = match (version, self.data.secret(&ns.id, name).await?) {
                (_, None) => Missing::Secret,
                (None, Some(_)) => Missing::NoValue,
                (Some(_), Some(_)) => Missing::Version,
            };
            return Err(ServiceError::NotFound(missing));
        };
        if !sealed.version.is_readable(now_millis()) {
            return Ok(VersionRead::Gone { record: sealed.secret, version: sealed.version });
        }
        let value = self.open_sealed(&ns, &sealed).await?;
        let now = self.record_read(event, &sealed).await?;
        let mut record = sealed.secret;
        record.last_read_at = Some(now);
        Ok(VersionRead::Value(RevealedSecret { record, version: sealed.version, value }))
    }

    /// The current version of every secret of `secret_type` in a namespace
    /// that can be read now (not deleted, not destroyed), by name.
    pub(crate) async fn readable_of_type(
        &self,
        namespace_id: &str,
        secret_type: hush_core::SecretType,
    ) -> Result<Vec<SealedVersion>, ServiceError> {
        let now = now_millis();
        let mut sealed = self.data.current_of_type(namespace_id, secret_type).await?;
        sealed.retain(|s| s.version.is_readable(now));
        Ok(sealed)
    }

    /// Lists secrets (metadata only), by name, a page at a time.
    pub async fn list_secrets(
        &self,
        creds: &Credentials,
        namespace: &NamespaceName,
        query: &ListSecrets,
    ) -> Result<SecretPage, ServiceError> {
        let mut event = self.event(creds, AuditAction::SecretList, Some(namespace), None);
        let result = async {
            // Checked before anything else so the audit event only ever
            // records validated text (never a caller's control characters).
            for (field, v) in [("prefix", &query.prefix), ("after", &query.after)] {
                if let Some(v) = v {
                    check_name_fragment(field, v)?;
                }
            }
            event.event.name = query.prefix.clone();
            let (_, ns) = self.authorize_in(creds, &mut event, namespace, Scope::SecretsList).await?;
            let limit = pagination::page_size(query.limit)?;
            let store_query =
                SecretQuery { prefix: query.prefix.clone(), after: query.after.clone(), limit: limit + 1 };
            let mut secrets = self.data.secrets(&ns.id, &store_query).await?;
            let next = pagination::cut(&mut secrets, limit, |s| s.name.to_string());
            Ok(SecretPage { secrets, next })
        }
        .await;
        self.finish(event, result).await
    }

    /// Every secret of a namespace (metadata only), by name, as one audited
    /// listing: for the compatibility surfaces that have no paging.
    pub async fn list_all_secrets(
        &self,
        creds: &Credentials,
        namespace: &NamespaceName,
    ) -> Result<Vec<SecretRecord>, ServiceError> {
        let mut event = self.event(creds, AuditAction::SecretList, Some(namespace), None);
        let result = async {
            let (_, ns) = self.authorize_in(creds, &mut event, namespace, Scope::SecretsList).await?;
            let mut all = Vec::new();
            let mut after = None;
            loop {
                let query = SecretQuery { prefix: None, after: after.take(), limit: pagination::MAX_PAGE + 1 };
                let mut page = self.data.secrets(&ns.id, &query).await?;
                let more = page.len() > pagination::MAX_PAGE as usize;
                page.truncate(pagination::MAX_PAGE as usize);
                after = page.last().map(|s| s.name.to_string());
                all.extend(page);
                if !more {
                    break;
                }
            }
            Ok(all)
        }
        .await;
        self.finish(event, result).await
    }

    /// A secret's metadata and its stored versions, newest first.
    pub async fn secret_versions(
        &self,
        creds: &Credentials,
        namespace: &NamespaceName,
        name: &SecretName,
    ) -> Result<(SecretRecord, Vec<VersionRecord>), ServiceError> {
        let mut event = self.event(creds, AuditAction::SecretVersions, Some(namespace), Some(name.as_str()));
        let result = async {
            let (_, ns) = self.authorize_in(creds, &mut event, namespace, Scope::SecretsList).await?;
            let secret = self.data.secret(&ns.id, name).await?.ok_or(ServiceError::NotFound(Missing::Secret))?;
            let versions = self.data.versions(&secret.id).await?;
            Ok((secret, versions))
        }
        .await;
        self.finish(event, result).await
    }

    /// Deletes a secret and all its versions. Succeeds whether or not it
    /// existed; returns whether it did.
    pub async fn delete_secret(
        &self,
        creds: &Credentials,
        namespace: &NamespaceName,
        name: &SecretName,
    ) -> Result<bool, ServiceError> {
        let mut event = self.event(creds, AuditAction::SecretDelete, Some(namespace), Some(name.as_str()));
        let result = async {
            let (_, ns) = self.authorize_in(creds, &mut event, namespace, Scope::SecretsDelete).await?;
            let audit = event.for_write();
            let outcome = self
                .data
                .write(WriteRequest {
                    mutation: Mutation::DeleteSecret { namespace_id: ns.id, name: name.clone() },
                    audit,
                })
                .await?;
            Ok(outcome == WriteOutcome::Deleted(true))
        }
        .await;
        self.finish(event, result).await
    }
}

/// A listing's prefix or cursor can only match names made of name characters.
pub(crate) fn check_name_fragment(field: &str, v: &str) -> Result<(), ServiceError> {
    let ok = v.len() <= 256 && v.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "invalid_query",
            format!("{field} may only hold letters, digits, '.', '_', '-' and '/' (at most 256)"),
        ))
    }
}
