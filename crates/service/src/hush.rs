//! The service object and the steps every call shares: authenticate, find the
//! namespace the token may see, check a scope, and record the audit event.

use std::fmt;
use std::sync::Arc;

use hush_core::{NamespaceName, Scope};
use hush_crypto::{TokenKey, token};

use crate::key_wrapper::{KeyWrapper, RootOrigin};
use hush_store::{
    AuditAction, AuditEvent, DataStore, KeyStore, Mutation, NamespaceRecord, TokenNamespaces, TokenRecord,
    WriteRequest, now_millis,
};

use crate::key_cache::KeyCache;
use crate::ttl_cache::TtlCache;
use crate::{Caller, Credentials, Missing, ServiceConfig, ServiceError};

/// How long a cached token or namespace record is trusted without a store
/// read. Changes made through this process take effect at once regardless.
const RECORD_CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// hush's service: every operation the APIs offer, with its rules. Shared
/// across requests behind an `Arc`.
pub struct Hush {
    pub(crate) data: Arc<dyn DataStore>,
    pub(crate) keys: Arc<dyn KeyStore>,
    /// What wraps the key store's keys; swapped by `rotate_root`.
    pub(crate) wrapper: std::sync::RwLock<Arc<KeyWrapper>>,
    /// Where the root key came from (a file is rewritten by `rotate_root`).
    pub(crate) root_origin: RootOrigin,
    /// A root rotation and a backup (until both its snapshots are taken)
    /// hold it for writing; anything that wraps a new key (namespace
    /// creation, key rotation) or moves the audit checkpoint (prune) holds
    /// it for reading.
    pub(crate) rotation_lock: tokio::sync::RwLock<()>,
    pub(crate) audit_key: hush_crypto::AuditKey,
    pub(crate) token_key: TokenKey,
    pub(crate) key_cache: KeyCache,
    /// Token records by id (see `ttl_cache` for the consistency this gives).
    pub(crate) tokens: TtlCache<String, Arc<TokenRecord>>,
    /// Namespace records by name.
    pub(crate) namespaces: TtlCache<NamespaceName, NamespaceRecord>,
    pub(crate) config: ServiceConfig,
    /// Refused anonymous requests, counted until the next flush.
    pub(crate) refusals: crate::refusals::RefusalTally,
    /// The JWT issuers' signing keys, for logins.
    pub(crate) issuer_keys: hush_identity::KeyCache,
    /// Held for the life of the service: one process per data and key directory.
    pub(crate) _locks: Vec<std::fs::File>,
    /// The audit sinks, if configured (the store writes to them; prune asks them what they delivered).
    pub(crate) audit_sinks: Option<Arc<crate::audit_sink::AuditSinks>>,
}

impl fmt::Debug for Hush {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hush").field("config", &self.config).finish_non_exhaustive()
    }
}

/// A call's audit event until it is written: either with the call's mutation
/// (the store records the outcome) or, for everything else, by
/// [`Hush::finish`] with the call's result.
#[derive(Debug)]
pub(crate) struct PendingEvent {
    pub(crate) event: AuditEvent,
    handed_to_store: bool,
}

impl PendingEvent {
    /// The event to commit with a mutation; afterwards `finish` leaves it alone.
    pub(crate) fn for_write(&mut self) -> AuditEvent {
        self.handed_to_store = true;
        self.event.clone()
    }
}

impl Hush {
    /// Assembles a service from open stores and keys (see `bootstrap::open`).
    pub(crate) fn new(
        data: Arc<dyn DataStore>,
        keys: Arc<dyn KeyStore>,
        (root, root_origin): (KeyWrapper, RootOrigin),
        audit_key: hush_crypto::AuditKey,
        token_key: TokenKey,
        config: ServiceConfig,
        locks: Vec<std::fs::File>,
    ) -> Self {
        Hush {
            data,
            keys,
            wrapper: std::sync::RwLock::new(Arc::new(root)),
            root_origin,
            rotation_lock: tokio::sync::RwLock::new(()),
            audit_key,
            token_key,
            key_cache: KeyCache::new(),
            tokens: TtlCache::new("tokens", RECORD_CACHE_TTL),
            namespaces: TtlCache::new("namespaces", RECORD_CACHE_TTL),
            config,
            refusals: Default::default(),
            issuer_keys: hush_identity::KeyCache::new(),
            _locks: locks,
            audit_sinks: None,
        }
    }

    /// The current wrapping key.
    pub(crate) fn root(&self) -> Arc<KeyWrapper> {
        Arc::clone(&self.wrapper.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// The settings in force.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }

    /// Whether the data store answers: the installation's id if it does.
    /// For health checks that must say when hush cannot serve.
    pub async fn installation_id(&self) -> Result<String, ServiceError> {
        self.data
            .installation_id()
            .await?
            .ok_or_else(|| ServiceError::Internal("the data store is not initialized".into()))
    }

    /// The root key's public fingerprint, or the KMS key that wraps in its place.
    pub fn root_key_fingerprint(&self) -> String {
        self.root().describe()
    }

    /// A new audit event for a call.
    pub(crate) fn event(
        &self,
        creds: &Credentials,
        action: AuditAction,
        namespace: Option<&NamespaceName>,
        name: Option<&str>,
    ) -> PendingEvent {
        let mut event = AuditEvent::new(action, None, creds.context().map(str::to_owned));
        event.client_cert = creds.client_certificate().map(str::to_owned);
        event.client_addr = creds.client_address().map(|a| a.to_string());
        event.namespace = namespace.map(|n| n.as_str().to_owned());
        event.name = name.map(str::to_owned);
        PendingEvent { event, handed_to_store: false }
    }

    /// Writes the pending event (if the call did not) with the call's outcome.
    /// A call does not succeed unless its audit event is written.
    pub(crate) async fn finish<T>(
        &self,
        pending: PendingEvent,
        result: Result<T, ServiceError>,
    ) -> Result<T, ServiceError> {
        if let Err(ServiceError::Internal(cause)) = &result {
            tracing::error!(action = %pending.event.action, error = %cause, source = ?cause.source(), "request failed");
        }
        if pending.handed_to_store {
            return result;
        }
        let mut event = pending.event;
        if let Err(e) = &result {
            event.outcome = e.outcome();
        }
        let written = self.data.write(WriteRequest { mutation: Mutation::AuditOnly, audit: event }).await;
        match (result, written) {
            (Ok(value), Ok(_)) => Ok(value),
            (Ok(_), Err(e)) => Err(ServiceError::internal(e)),
            (Err(e), written) => {
                if let Err(w) = written {
                    tracing::error!(error = %w, "could not write the audit event of a failed request");
                }
                Err(e)
            }
        }
    }

    /// Checks the presented token: its record's MAC, the token against its
    /// keyed hash, revocation and expiry, and the same for every token up its
    /// issuer chain (revoking a token revokes what it issued). Fills in the
    /// event's token id as soon as the token is well-formed, so refused
    /// attempts are attributed.
    pub(crate) async fn authenticate(
        &self,
        creds: &Credentials,
        event: &mut PendingEvent,
    ) -> Result<Caller, ServiceError> {
        match self.verify_token(creds).await? {
            Ok(caller) => {
                event.event.token_id = Some(caller.token_id.clone());
                event.event.identity = caller.identity.clone();
                Ok(caller)
            }
            Err(refusal) => {
                event.event.token_id = refusal.token_id().map(str::to_owned);
                Err(ServiceError::Unauthenticated(refusal.message()))
            }
        }
    }

    /// The caller the credentials' token stands for, or why it was refused
    /// (the outer error is a store failure). Records no audit event: the
    /// server calls it before reading a request's body, and the call that
    /// follows authenticates (and audits) again.
    pub async fn verify_token(&self, creds: &Credentials) -> Result<Result<Caller, TokenRefusal>, ServiceError> {
        let Some(presented) = creds.token() else { return Ok(Err(TokenRefusal::Missing)) };
        let Some(id) = token::id_of(presented.expose_secret()) else { return Ok(Err(TokenRefusal::Malformed)) };
        let Some(record) =
            self.token_record(id).await?.filter(|r| self.token_key.verify(presented.expose_secret(), &r.hash))
        else {
            return Ok(Err(TokenRefusal::Invalid { token_id: id.to_owned() }));
        };
        let unusable = |message| TokenRefusal::Unusable { token_id: record.id.clone(), message };
        if let Err(message) = check_usable(&record, false) {
            return Ok(Err(unusable(message)));
        }
        let mut issuer = record.created_by.clone();
        for _ in 0..MAX_ISSUER_DEPTH {
            let Some(parent_id) = issuer else { break };
            let Some(parent) = self.token_record(&parent_id).await? else {
                return Ok(Err(unusable("the token that issued this token no longer exists")));
            };
            if let Err(message) = check_usable(&parent, true) {
                return Ok(Err(unusable(message)));
            }
            issuer = parent.created_by.clone();
        }
        Ok(Ok(Caller {
            token_id: record.id.clone(),
            scopes: record.scopes,
            namespaces: record.namespaces.clone(),
            expires_at: record.expires_at,
            identity: record.identity.clone(),
        }))
    }

    /// A token record whose MAC verifies, from the cache or the store. A
    /// record that fails its MAC was edited or planted in the data store: it
    /// is treated as absent, and logged.
    pub(crate) async fn token_record(&self, id: &str) -> Result<Option<Arc<TokenRecord>>, ServiceError> {
        if let Some(cached) = self.tokens.get(id) {
            return Ok(Some(cached));
        }
        let generation = self.tokens.generation();
        let Some(record) = self.data.token(id).await? else { return Ok(None) };
        if !self.token_key.verify_record(&record.canonical(), &record.mac) {
            tracing::error!(
                token_id = id,
                "a token record failed its integrity check (edited in the data store?); refusing it"
            );
            return Ok(None);
        }
        let record = Arc::new(record);
        self.tokens.insert_if_current(generation, record.id.clone(), Arc::clone(&record));
        Ok(Some(record))
    }

    /// The namespace, if it exists and the caller may act in it. Otherwise
    /// "not found" either way, so a token learns nothing about namespaces it
    /// is not bound to.
    pub(crate) async fn visible_namespace(
        &self,
        caller: &Caller,
        name: &NamespaceName,
    ) -> Result<NamespaceRecord, ServiceError> {
        // The registry scopes are rows too, but only the registry calls reach them.
        if name.is_reserved() {
            return Err(ServiceError::NotFound(Missing::Namespace));
        }
        self.namespace_record(name)
            .await?
            .filter(|ns| caller.namespaces.allows(&ns.id))
            .ok_or(ServiceError::NotFound(Missing::Namespace))
    }

    /// A namespace (or registry scope) record, from the cache or the store.
    pub(crate) async fn namespace_record(&self, name: &NamespaceName) -> Result<Option<NamespaceRecord>, ServiceError> {
        let ns = match self.namespaces.get(name) {
            Some(ns) => Some(ns),
            None => {
                let generation = self.namespaces.generation();
                let found = self.data.namespace(name).await?;
                if let Some(ns) = &found {
                    self.namespaces.insert_if_current(generation, ns.name.clone(), ns.clone());
                }
                found
            }
        };
        Ok(ns)
    }

    /// Authenticates a token that must be bound to all namespaces and hold
    /// `scope`: for calls about the whole installation (`what` names the
    /// call in the refusal).
    pub(crate) async fn authorize_global(
        &self,
        creds: &Credentials,
        event: &mut PendingEvent,
        scope: Scope,
        what: &str,
    ) -> Result<Caller, ServiceError> {
        let caller = self.authenticate(creds, event).await?;
        require(&caller, scope)?;
        if caller.namespaces != TokenNamespaces::All {
            return Err(ServiceError::Forbidden(format!("{what} needs a token bound to all namespaces")));
        }
        Ok(caller)
    }

    /// Authenticates, finds the namespace and checks the scope, in that order.
    pub(crate) async fn authorize_in(
        &self,
        creds: &Credentials,
        event: &mut PendingEvent,
        namespace: &NamespaceName,
        scope: Scope,
    ) -> Result<(Caller, NamespaceRecord), ServiceError> {
        let caller = self.authenticate(creds, event).await?;
        let ns = self.visible_namespace(&caller, namespace).await?;
        event.event.namespace_id = Some(ns.id.clone());
        require(&caller, scope)?;
        Ok((caller, ns))
    }
}

/// Longest issuer chain followed (tokens issuing tokens issuing tokens …).
const MAX_ISSUER_DEPTH: usize = 64;

/// Fails if a token is revoked or expired, saying which; `issuer` says
/// whether it is the caller's token or one up its issuer chain.
fn check_usable(record: &TokenRecord, issuer: bool) -> Result<(), &'static str> {
    let revoked = record.revoked_at.is_some();
    let expired = record.expires_at.is_some_and(|at| at <= now_millis());
    let message = match (revoked, expired, issuer) {
        (false, false, _) => return Ok(()),
        (true, _, false) => "the token has been revoked",
        (true, _, true) => "the token that issued this token has been revoked",
        (false, true, false) => "the token has expired",
        (false, true, true) => "the token that issued this token has expired",
    };
    Err(message)
}

/// Why a presented token was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRefusal {
    /// No token was presented.
    Missing,
    /// What was presented is not of hush's form (`hush_<id>_<secret>`).
    Malformed,
    /// Of hush's form, but no token hush issued matches it (an unknown id,
    /// or the wrong secret for a known one).
    Invalid {
        /// The id it claims: public, and not proof of anything.
        token_id: String,
    },
    /// A token hush issued that may no longer be used: revoked or expired,
    /// or one up its issuer chain is.
    Unusable {
        /// The token's id.
        token_id: String,
        /// Which of these it is.
        message: &'static str,
    },
}

impl TokenRefusal {
    /// The message for the caller.
    pub fn message(&self) -> &'static str {
        match self {
            TokenRefusal::Missing => "no token given: send 'Authorization: Bearer <token>' (the CLI reads HUSH_TOKEN)",
            TokenRefusal::Malformed => "the token is not a hush token (hush_<id>_<secret>)",
            TokenRefusal::Invalid { .. } => "the token is not valid",
            TokenRefusal::Unusable { message, .. } => message,
        }
    }

    /// A short code for counting refusals: `no_token`, `malformed_token`,
    /// `invalid_token` or `unusable_token`.
    pub fn reason(&self) -> &'static str {
        match self {
            TokenRefusal::Missing => "no_token",
            TokenRefusal::Malformed => "malformed_token",
            TokenRefusal::Invalid { .. } => "invalid_token",
            TokenRefusal::Unusable { .. } => "unusable_token",
        }
    }

    /// The id the token claims, if it is of hush's form.
    pub fn token_id(&self) -> Option<&str> {
        match self {
            TokenRefusal::Missing | TokenRefusal::Malformed => None,
            TokenRefusal::Invalid { token_id } | TokenRefusal::Unusable { token_id, .. } => Some(token_id),
        }
    }

    /// Whether the refusal is about a token hush issued (revoked, expired):
    /// such refusals name a credential, so they are audited one by one.
    /// Anything else is anonymous, and only counted.
    pub fn names_a_credential(&self) -> bool {
        matches!(self, TokenRefusal::Unusable { .. })
    }
}

/// Fails unless the caller holds `scope` (or `admin`).
impl Hush {
    /// Whether the credentials may read the server's metrics (`metrics:read`
    /// or `admin`). Not audited: a scraper calls every few seconds, and the
    /// metrics hold no names, values or identities.
    pub async fn check_metrics_access(&self, creds: &Credentials) -> Result<(), ServiceError> {
        match self.verify_token(creds).await? {
            Ok(caller) => require(&caller, Scope::MetricsRead),
            Err(refusal) => Err(ServiceError::Unauthenticated(refusal.message())),
        }
    }
}

pub(crate) fn require(caller: &Caller, scope: Scope) -> Result<(), ServiceError> {
    if caller.scopes.grants(scope) {
        Ok(())
    } else {
        Err(ServiceError::Forbidden(format!("the token lacks the {scope} scope")))
    }
}
