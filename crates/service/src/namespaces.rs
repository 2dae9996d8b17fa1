//! Namespaces: create (with a fresh data key), list, delete (crypto-shredding).

use hush_core::{NamespaceName, Scope};
use hush_crypto::{DataKey, random_id};
use hush_store::{
    AuditAction, AuditEvent, Conflict, Mutation, NamespaceRecord, StoreError, TokenNamespaces, WriteRequest, now_millis,
};

use crate::hush::require;
use crate::{Credentials, Hush, Missing, ServiceError};

impl Hush {
    /// Creates a namespace. Needs `namespaces:manage` on a token bound to all
    /// namespaces (a token cannot widen its own reach).
    pub async fn create_namespace(
        &self,
        creds: &Credentials,
        name: &NamespaceName,
    ) -> Result<NamespaceRecord, ServiceError> {
        let mut event = self.event(creds, AuditAction::NamespaceCreate, Some(name), None);
        let result = async {
            let caller = self.authenticate(creds, &mut event).await?;
            require(&caller, Scope::NamespacesManage)?;
            if caller.namespaces != TokenNamespaces::All {
                return Err(ServiceError::Forbidden(
                    "creating a namespace needs a token bound to all namespaces".into(),
                ));
            }
            if name.is_reserved() {
                return Err(ServiceError::invalid(
                    "invalid_name",
                    format!("'{name}' is reserved for registries and cannot be a namespace"),
                ));
            }
            self.create_namespace_unchecked(name, event.for_write()).await
        }
        .await;
        self.finish(event, result).await
    }

    /// Creates the key, then the namespace row with its audit event. A key
    /// left behind by a failed second step is destroyed again.
    pub(crate) async fn create_namespace_unchecked(
        &self,
        name: &NamespaceName,
        audit: AuditEvent,
    ) -> Result<NamespaceRecord, ServiceError> {
        let record =
            NamespaceRecord { id: random_id()?, name: name.clone(), created_at: now_millis(), kv: Default::default() };
        let mut audit = audit;
        audit.namespace_id = Some(record.id.clone());
        self.store_new_data_key(&record.id, 1).await?;
        let written =
            self.data.write(WriteRequest { mutation: Mutation::CreateNamespace(record.clone()), audit }).await;
        match written {
            Ok(_) => Ok(record),
            Err(e) => {
                if let Err(cleanup) = self.keys.destroy_namespace_keys(&record.id).await {
                    tracing::warn!(error = %cleanup, "could not remove the key of a namespace that was not created");
                }
                match e {
                    StoreError::Conflict(Conflict::AlreadyExists) => Err(ServiceError::AlreadyExists("namespace")),
                    other => Err(ServiceError::internal(other)),
                }
            }
        }
    }

    /// The namespace of a call that names none (dodil's organization is the
    /// token's): the token's only namespace. `action` and `name` are the
    /// call's: a refusal here is audited as that call; on success the call
    /// itself audits.
    pub async fn sole_namespace(
        &self,
        creds: &Credentials,
        action: AuditAction,
        name: Option<&str>,
    ) -> Result<NamespaceName, ServiceError> {
        let mut event = self.event(creds, action, None, name);
        let result = match self.authenticate(creds, &mut event).await {
            Ok(caller) => match &caller.namespaces {
                TokenNamespaces::Only(list) if list.len() == 1 => return Ok(list[0].name.clone()),
                TokenNamespaces::Only(list) if list.is_empty() => Err(ServiceError::NotFound(Missing::Namespace)),
                _ => Err(ServiceError::invalid(
                    "namespace_required",
                    "the token may act in more than one namespace, so the call must name one",
                )),
            },
            Err(e) => Err(e),
        };
        self.finish(event, result).await
    }

    /// Generates data key `version` of a namespace, wraps it and stores it.
    /// A root rotation cannot run in between (it would miss the new row).
    /// Another process storing that version first is `Conflict`.
    pub(crate) async fn store_new_data_key(&self, namespace_id: &str, version: u32) -> Result<(), ServiceError> {
        let key = DataKey::generate()?;
        let _not_during_a_root_rotation = self.rotation_lock.read().await;
        let wrapped = self
            .root()
            .wrap(key.raw(), &hush_crypto::data_key_binding(namespace_id, version))
            .await
            .map_err(ServiceError::internal)?;
        match self.keys.put_namespace_key(namespace_id, version, &wrapped).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => Err(ServiceError::AlreadyExists("data key version")),
            Err(e) => Err(e.into()),
        }
    }

    /// The namespaces the token may act in, by name.
    pub async fn list_namespaces(&self, creds: &Credentials) -> Result<Vec<NamespaceRecord>, ServiceError> {
        let mut event = self.event(creds, AuditAction::NamespaceList, None, None);
        let result = async {
            let caller = self.authenticate(creds, &mut event).await?;
            let all = self.data.namespaces().await?;
            Ok(all.into_iter().filter(|ns| !ns.name.is_reserved() && caller.namespaces.allows(&ns.id)).collect())
        }
        .await;
        self.finish(event, result).await
    }

    /// Deletes a namespace: first its keys (so every ciphertext of it, in any
    /// copy of the data store, can no longer be opened), then its secrets and
    /// tokens' access to it. Needs `namespaces:manage` in that namespace.
    pub async fn delete_namespace(&self, creds: &Credentials, name: &NamespaceName) -> Result<(), ServiceError> {
        let mut event = self.event(creds, AuditAction::NamespaceDelete, Some(name), None);
        let result = async {
            let (_, ns) = self.authorize_in(creds, &mut event, name, Scope::NamespacesManage).await?;
            // Marked destroyed first, so no read racing the deletion can put
            // an unwrapped key back into the cache.
            self.key_cache.destroy(&ns.id);
            self.keys.destroy_namespace_keys(&ns.id).await?;
            let audit = event.for_write();
            let written =
                self.data.write(WriteRequest { mutation: Mutation::DeleteNamespace { id: ns.id }, audit }).await;
            // Token records carry their namespaces; both caches must forget it.
            self.namespaces.remove(name);
            self.tokens.clear();
            match written {
                Ok(_) => Ok(()),
                Err(StoreError::NotFound) => Err(ServiceError::NotFound(Missing::Namespace)),
                Err(e) => Err(ServiceError::internal(e)),
            }
        }
        .await;
        self.finish(event, result).await
    }
}
