//! Registry credentials at three scopes (DESIGN.md, "Registry credential").
//!
//! A namespace's registries are its `registry` secrets, whatever their
//! names; `global` and `global-private` are two reserved namespace rows
//! reached only from here. An entry's address is its `server_address`,
//! which lives inside the ciphertext, so every lookup opens the scope's
//! registry secrets (a handful per scope; each opens in microseconds).
//!
//! Who may do what:
//! - a namespace's entries: `registries:read` / `registries:write` in it;
//! - `global` entries: readable with `registries:read` by any token (every
//!   namespace pulls through them), changed only by a token bound to all
//!   namespaces;
//! - `global-private` entries: read and changed only by tokens bound to all
//!   namespaces (the engine's own services).
//!
//! Lookup for a namespace's image: the namespace, then `global`; for a
//! global service: `global-private`, then `global`. The first scope with a
//! covering entry wins, and within it the longest `host[/path]` prefix.

use std::fmt;

use hush_core::{
    NamespaceName, RegistryAddress, Scope, SecretName, SecretString, SecretValue, best_match, name_safe, obfuscate_user,
};
use hush_store::{AuditAction, Mutation, NamespaceRecord, SealedVersion, SecretRecord, TokenNamespaces, WriteRequest};

use crate::hush::{PendingEvent, require};
use crate::{Credentials, Hush, Missing, ServiceError};

/// Folder under which entries created through the registry API are named.
const ENTRY_FOLDER: &str = "registries";

/// Where registry entries live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryScope {
    /// A namespace's own registries.
    Namespace(NamespaceName),
    /// Shared by every namespace.
    Global,
    /// For the engine's global services only.
    GlobalPrivate,
}

impl RegistryScope {
    /// The scope's name: the namespace, `global` or `global-private`.
    pub fn as_str(&self) -> &str {
        match self {
            RegistryScope::Namespace(ns) => ns.as_str(),
            RegistryScope::Global => "global",
            RegistryScope::GlobalPrivate => "global-private",
        }
    }

    fn row_name(&self) -> NamespaceName {
        match self {
            RegistryScope::Namespace(ns) => ns.clone(),
            _ => NamespaceName::parse(self.as_str()).expect("a valid name"),
        }
    }

    /// The scopes a lookup from here searches, in order.
    fn chain(&self) -> Vec<RegistryScope> {
        match self {
            RegistryScope::Namespace(_) => vec![self.clone(), RegistryScope::Global],
            RegistryScope::GlobalPrivate => vec![RegistryScope::GlobalPrivate, RegistryScope::Global],
            RegistryScope::Global => vec![RegistryScope::Global],
        }
    }
}

/// What a lookup is for.
#[derive(Debug, Clone)]
pub enum RegistryTarget {
    /// An image reference (`127.0.0.1:5000/ns/app:v1`, `alpine`).
    Image(String),
    /// A server as credential helpers are given it (`127.0.0.1:5000`,
    /// `https://index.docker.io/v1/`).
    Server(String),
}

impl RegistryTarget {
    fn address(&self) -> Result<RegistryAddress, ServiceError> {
        let parsed = match self {
            RegistryTarget::Image(image) => RegistryAddress::from_image(image),
            RegistryTarget::Server(server) => RegistryAddress::parse(server),
        };
        parsed.map_err(|e| ServiceError::invalid("invalid_query", e.to_string()))
    }
}

/// Which entry of one scope to act on.
#[derive(Debug, Clone)]
pub enum RegistrySelector {
    /// The entry whose address equals this one (any spelling of it).
    Url(String),
    /// The entry with this id (see [`RegistryEntry::id`]).
    Id(String),
}

/// A registry entry as listings show it: never a password. Listings show
/// the user obfuscated ([`RegistryEntry::user`]); Direktiv's v2 API shows it
/// as written ([`RegistryEntry::username`]), and `Debug` never does.
#[derive(Clone)]
pub struct RegistryEntry {
    /// The scope it was found in.
    pub scope: String,
    /// The `registry` secret holding it.
    pub record: SecretRecord,
    /// `secret-` and 20 hex characters derived from the scope and the URL.
    pub id: String,
    /// The address as it was written (`docker.io` for an empty one).
    pub url: String,
    /// The normalized `host[/path]` it matches by.
    pub key: String,
    /// The username, obfuscated (`ad***in`).
    pub user: String,
    /// The username as written.
    pub username: String,
}

impl fmt::Debug for RegistryEntry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryEntry")
            .field("scope", &self.scope)
            .field("id", &self.id)
            .field("url", &self.url)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// An entry with its credentials.
pub struct RegistryCredentials {
    /// The entry (its `username` is the one to log in with).
    pub entry: RegistryEntry,
    /// The password or token.
    pub password: SecretString,
}

impl fmt::Debug for RegistryCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RegistryCredentials").field("entry", &self.entry).finish_non_exhaustive()
    }
}

/// A registry secret, opened.
struct Stored {
    sealed: SealedVersion,
    address: RegistryAddress,
    url: String,
    username: String,
    password: SecretString,
}

impl Stored {
    fn entry(&self, scope: &str) -> RegistryEntry {
        entry(scope, &self.sealed.secret, &self.url, &self.address, &self.username)
    }

    fn credentials(self, scope: &str) -> RegistryCredentials {
        RegistryCredentials { entry: self.entry(scope), password: self.password }
    }
}

fn entry(scope: &str, record: &SecretRecord, url: &str, address: &RegistryAddress, username: &str) -> RegistryEntry {
    RegistryEntry {
        scope: scope.to_owned(),
        record: record.clone(),
        id: registry_id(scope, url),
        url: if url.trim().is_empty() { address.key() } else { url.to_owned() },
        key: address.key(),
        user: obfuscate_user(username),
        username: username.to_owned(),
    }
}

/// A registry entry's public id: `secret-` and 20 hex characters of a
/// digest of the scope and the URL as written (Direktiv's shape).
fn registry_id(scope: &str, url: &str) -> String {
    let digest = hush_crypto::derived_id(&["hush/registry-id/v1", scope, url]);
    format!("secret-{}", &digest[..20])
}

fn invalid_url(e: impl fmt::Display) -> ServiceError {
    ServiceError::invalid("invalid_value", format!("url: {e}"))
}

impl Hush {
    /// Authenticates and checks the caller may `need` in `scope`; returns
    /// the scope's row.
    async fn authorize_registry(
        &self,
        creds: &Credentials,
        event: &mut PendingEvent,
        scope: &RegistryScope,
        need: Scope,
    ) -> Result<NamespaceRecord, ServiceError> {
        if let RegistryScope::Namespace(ns) = scope {
            return Ok(self.authorize_in(creds, event, ns, need).await?.1);
        }
        let caller = self.authenticate(creds, event).await?;
        let everywhere = caller.namespaces == TokenNamespaces::All;
        let allowed = everywhere || (*scope == RegistryScope::Global && need == Scope::RegistriesRead);
        if !allowed {
            return Err(ServiceError::Forbidden(match scope {
                RegistryScope::Global => "changing global registries needs a token bound to all namespaces".into(),
                _ => "the global-private registries need a token bound to all namespaces".into(),
            }));
        }
        require(&caller, need)?;
        let ns = self.scope_row(scope).await?;
        event.event.namespace_id = Some(ns.id.clone());
        Ok(ns)
    }

    /// A scope's row: a namespace (visibility is checked by the caller) or a
    /// reserved scope (created at start).
    async fn scope_row(&self, scope: &RegistryScope) -> Result<NamespaceRecord, ServiceError> {
        let name = scope.row_name();
        self.namespace_record(&name).await?.ok_or(ServiceError::NotFound(Missing::Namespace))
    }

    /// Every registry secret of a scope, opened. One whose address does not
    /// parse (written through the secrets API) is left out, with a warning.
    async fn stored_entries(&self, ns: &NamespaceRecord) -> Result<Vec<Stored>, ServiceError> {
        let sealed = self.readable_of_type(&ns.id, hush_core::SecretType::Registry).await?;
        let mut out = Vec::with_capacity(sealed.len());
        for sealed in sealed {
            let SecretValue::Registry { username, password, server_address } = self.open_sealed(ns, &sealed).await?
            else {
                continue;
            };
            match RegistryAddress::parse(&server_address) {
                Ok(address) => out.push(Stored { sealed, address, url: server_address, username, password }),
                Err(e) => tracing::warn!(namespace = %ns.name, secret = %sealed.secret.name, error = %e,
                    "a registry secret's server address does not parse; it is not used for lookups"),
            }
        }
        Ok(out)
    }

    /// The entry for `target`, searching the scope's chain; with the name
    /// of the scope it was found in.
    async fn lookup(&self, scope: &RegistryScope, target: &RegistryAddress) -> Result<(String, Stored), ServiceError> {
        for link in scope.chain() {
            let ns = self.scope_row(&link).await?;
            let mut entries = self.stored_entries(&ns).await?;
            let best = best_match(entries.iter().map(|e| e.address.location()).zip(0..), target.location());
            if let Some((index, _)) = best {
                return Ok((link.as_str().to_owned(), entries.swap_remove(index)));
            }
        }
        Err(ServiceError::NotFound(Missing::Registry))
    }

    /// The registry entries of one scope, by name (no passwords).
    pub async fn list_registries(
        &self,
        creds: &Credentials,
        scope: &RegistryScope,
    ) -> Result<Vec<RegistryEntry>, ServiceError> {
        let mut event = self.registry_event(creds, AuditAction::RegistryList, scope);
        let result = async {
            let ns = self.authorize_registry(creds, &mut event, scope, Scope::RegistriesRead).await?;
            Ok(self.stored_entries(&ns).await?.iter().map(|e| e.entry(scope.as_str())).collect())
        }
        .await;
        self.finish(event, result).await
    }

    /// Creates a registry entry, or rotates the one with the same address
    /// (any spelling of it). Returns the entry and whether it is new.
    pub async fn put_registry(
        &self,
        creds: &Credentials,
        scope: &RegistryScope,
        url: &str,
        username: String,
        password: SecretString,
    ) -> Result<(RegistryEntry, bool), ServiceError> {
        let mut event = self.registry_event(creds, AuditAction::RegistryWrite, scope);
        let result = async {
            let ns = self.authorize_registry(creds, &mut event, scope, Scope::RegistriesWrite).await?;
            let address = RegistryAddress::parse(url).map_err(invalid_url)?;
            let existing = self.stored_entries(&ns).await?.into_iter().find(|e| e.address.key() == address.key());
            let name = match existing {
                Some(e) => e.sealed.secret.name,
                None => self.free_entry_name(&ns, &address).await?,
            };
            event.event.name = Some(name.to_string());
            let url = url.trim().to_owned();
            let value = SecretValue::Registry { username: username.clone(), password, server_address: url.clone() };
            let record = self.write_version(&mut event, &ns, &name, value, None).await?;
            let created = record.version == 1;
            Ok((entry(scope.as_str(), &record, &url, &address, &username), created))
        }
        .await;
        self.finish(event, result).await
    }

    /// The name for a new entry: `registries/` and its key, with characters
    /// a secret name cannot hold replaced; a digest of the key if that name
    /// is taken or not a valid name.
    async fn free_entry_name(
        &self,
        ns: &NamespaceRecord,
        address: &RegistryAddress,
    ) -> Result<SecretName, ServiceError> {
        let readable = name_safe(&address.key());
        let digest = hush_crypto::derived_id(&["hush/registry-name/v1", &address.key()]);
        let candidates = [format!("{ENTRY_FOLDER}/{readable}"), format!("{ENTRY_FOLDER}/{}", &digest[..16])];
        for candidate in candidates {
            let Ok(name) = SecretName::parse(&candidate) else { continue };
            if self.data.secret(&ns.id, &name).await?.is_none() {
                return Ok(name);
            }
        }
        Err(ServiceError::AlreadyExists("a secret with this registry entry's name"))
    }

    /// Deletes one entry of a scope (not found if none matches).
    pub async fn delete_registry(
        &self,
        creds: &Credentials,
        scope: &RegistryScope,
        selector: &RegistrySelector,
    ) -> Result<RegistryEntry, ServiceError> {
        let mut event = self.registry_event(creds, AuditAction::RegistryDelete, scope);
        let result = async {
            let ns = self.authorize_registry(creds, &mut event, scope, Scope::RegistriesWrite).await?;
            let found = self.select(&ns, scope, selector).await?;
            event.event.name = Some(found.sealed.secret.name.to_string());
            let gone = found.entry(scope.as_str());
            let audit = event.for_write();
            self.data
                .write(WriteRequest {
                    mutation: Mutation::DeleteSecret { namespace_id: ns.id, name: found.sealed.secret.name },
                    audit,
                })
                .await?;
            Ok(gone)
        }
        .await;
        self.finish(event, result).await
    }

    async fn select(
        &self,
        ns: &NamespaceRecord,
        scope: &RegistryScope,
        selector: &RegistrySelector,
    ) -> Result<Stored, ServiceError> {
        let entries = self.stored_entries(ns).await?;
        let found = match selector {
            RegistrySelector::Url(url) => {
                let key = RegistryAddress::parse(url).map_err(invalid_url)?.key();
                entries.into_iter().find(|e| e.address.key() == key)
            }
            RegistrySelector::Id(id) => entries.into_iter().find(|e| registry_id(scope.as_str(), &e.url) == *id),
        };
        found.ok_or(ServiceError::NotFound(Missing::Registry))
    }

    /// Which entry a pull of `target` from `scope` would use (no password).
    pub async fn resolve_registry(
        &self,
        creds: &Credentials,
        scope: &RegistryScope,
        target: &RegistryTarget,
    ) -> Result<RegistryEntry, ServiceError> {
        let mut event = self.registry_event(creds, AuditAction::RegistryResolve, scope);
        let result = async {
            self.authorize_registry(creds, &mut event, scope, Scope::RegistriesRead).await?;
            let (found_in, stored) = self.lookup(scope, &target.address()?).await?;
            event.event.name = Some(audit_name(scope, &found_in, &stored.sealed.secret.name));
            Ok(stored.entry(&found_in))
        }
        .await;
        self.finish(event, result).await
    }

    /// The credentials a pull of `target` from `scope` uses. The read is
    /// audited (naming the entry) and sets the secret's `last_read_at`.
    pub async fn registry_credentials(
        &self,
        creds: &Credentials,
        scope: &RegistryScope,
        target: &RegistryTarget,
    ) -> Result<RegistryCredentials, ServiceError> {
        let mut event = self.registry_event(creds, AuditAction::RegistryRead, scope);
        let result = async {
            self.authorize_registry(creds, &mut event, scope, Scope::RegistriesRead).await?;
            let (found_in, stored) = self.lookup(scope, &target.address()?).await?;
            event.event.name = Some(audit_name(scope, &found_in, &stored.sealed.secret.name));
            self.record_read(&mut event, &stored.sealed).await?;
            Ok(stored.credentials(&found_in))
        }
        .await;
        self.finish(event, result).await
    }

    /// Every entry a pull from `scope` can use, with credentials: the
    /// scope's own, then those of the next scopes whose address is not
    /// already covered (for a Kubernetes image pull secret). One audit event.
    pub async fn registry_auths(
        &self,
        creds: &Credentials,
        scope: &RegistryScope,
    ) -> Result<Vec<RegistryCredentials>, ServiceError> {
        let mut event = self.registry_event(creds, AuditAction::RegistryExport, scope);
        let result = async {
            self.authorize_registry(creds, &mut event, scope, Scope::RegistriesRead).await?;
            let mut out: Vec<RegistryCredentials> = Vec::new();
            for link in scope.chain() {
                let ns = self.scope_row(&link).await?;
                for stored in self.stored_entries(&ns).await? {
                    if !out.iter().any(|c| c.entry.key == stored.address.key()) {
                        out.push(stored.credentials(link.as_str()));
                    }
                }
            }
            Ok(out)
        }
        .await;
        self.finish(event, result).await
    }

    /// The credentials of one stored entry, for a connection test. Needs
    /// `registries:write`: a test makes the server connect out.
    pub async fn registry_test_credentials(
        &self,
        creds: &Credentials,
        scope: &RegistryScope,
        selector: &RegistrySelector,
    ) -> Result<RegistryCredentials, ServiceError> {
        let mut event = self.registry_event(creds, AuditAction::RegistryTest, scope);
        let result = async {
            let ns = self.authorize_registry(creds, &mut event, scope, Scope::RegistriesWrite).await?;
            let found = self.select(&ns, scope, selector).await?;
            event.event.name = Some(found.sealed.secret.name.to_string());
            Ok(found.credentials(scope.as_str()))
        }
        .await;
        self.finish(event, result).await
    }

    /// Checks and audits a connection test with credentials the caller
    /// brings (nothing stored is read). It makes the server connect to any
    /// address, so it needs `registries:write` on a token bound to all
    /// namespaces; namespace tokens test their stored entries instead.
    pub async fn authorize_registry_test(&self, creds: &Credentials, url: &str) -> Result<(), ServiceError> {
        let mut event = self.event(creds, AuditAction::RegistryTest, None, None);
        let result = async {
            let caller = self.authenticate(creds, &mut event).await?;
            require(&caller, Scope::RegistriesWrite)?;
            if caller.namespaces != TokenNamespaces::All {
                return Err(ServiceError::Forbidden(
                    "testing credentials that are not stored needs a token bound to all namespaces; \
                     store the entry and test it instead"
                        .into(),
                ));
            }
            RegistryAddress::parse(url).map_err(invalid_url)?;
            Ok(())
        }
        .await;
        self.finish(event, result).await
    }

    fn registry_event(&self, creds: &Credentials, action: AuditAction, scope: &RegistryScope) -> PendingEvent {
        self.event(creds, action, Some(&scope.row_name()), None)
    }
}

/// The audit event's name for an entry found while looking from `scope`:
/// the secret name, prefixed with `global:` or `global-private:` when the
/// entry came from a scope further down the chain (`:` cannot occur in a
/// secret name, so this is unambiguous).
fn audit_name(scope: &RegistryScope, found_in: &str, name: &SecretName) -> String {
    if scope.as_str() == found_in { name.to_string() } else { format!("{found_in}:{name}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_chains() {
        let ns = RegistryScope::Namespace(NamespaceName::parse("team").unwrap());
        let names = |s: &RegistryScope| s.chain().iter().map(|l| l.as_str().to_owned()).collect::<Vec<_>>();
        assert_eq!(names(&ns), ["team", "global"]);
        assert_eq!(names(&RegistryScope::GlobalPrivate), ["global-private", "global"]);
        assert_eq!(names(&RegistryScope::Global), ["global"]);
    }

    #[test]
    fn ids_are_stable_and_shaped_like_direktivs() {
        let id = registry_id("team", "https://index.docker.io");
        assert_eq!(id, registry_id("team", "https://index.docker.io"));
        assert_ne!(id, registry_id("other", "https://index.docker.io"));
        assert!(id.starts_with("secret-") && id.len() == 27, "{id}");
        assert!(id[7..].chars().all(|c| c.is_ascii_hexdigit()));
    }
}
