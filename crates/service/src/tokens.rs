//! API tokens: issue (never beyond the issuer's own rights), list, revoke.

use std::time::Duration;

use hush_core::{NamespaceName, Scope, ScopeSet, SecretString};
use hush_crypto::token;
use hush_store::{
    AuditAction, AuditEvent, Mutation, NamespaceRef, StoreError, TokenNamespaces, TokenRecord, WriteRequest, now_millis,
};

use crate::hush::PendingEvent;
use crate::hush::require;
use crate::{Caller, Credentials, Hush, Missing, ServiceError};

/// Longest token lifetime that can be asked for (omit the ttl for no expiry).
const MAX_TTL: Duration = Duration::from_secs(10 * 366 * 24 * 3600);

/// Longest token description.
const MAX_DESCRIPTION: usize = 200;

/// What a new token may do.
#[derive(Debug, Clone)]
pub struct TokenSpec {
    /// Namespaces it is bound to; `None` means all (only an all-namespace token can issue that).
    pub namespaces: Option<Vec<NamespaceName>>,
    /// Its scopes; must be covered by the issuer's.
    pub scopes: ScopeSet,
    /// Lifetime; never beyond the issuer's own expiry.
    pub ttl: Option<Duration>,
    /// Free text, e.g. what it is for.
    pub description: String,
}

/// Where a new token comes from.
#[derive(Debug)]
pub(crate) enum TokenOrigin {
    /// Issued by a token (`None`: at initialisation); revoking the issuer revokes it.
    Issued {
        /// The issuing token's id.
        by: Option<String>,
    },
    /// Earned by a workload's login; it carries the login's identity (JSON).
    Login {
        /// Who logged in.
        identity: String,
    },
}

/// A token that was just issued: the only time its text exists.
#[derive(Debug)]
pub struct NewToken {
    /// What is stored.
    pub record: TokenRecord,
    /// The token text, to show once.
    pub token: SecretString,
}

impl Hush {
    /// Issues a token. Needs `tokens:manage`; the new token's namespaces,
    /// scopes and lifetime must all lie within the issuer's.
    pub async fn create_token(&self, creds: &Credentials, spec: &TokenSpec) -> Result<NewToken, ServiceError> {
        let mut event = self.event(creds, AuditAction::TokenCreate, None, None);
        let result = async {
            let caller = self.authenticate(creds, &mut event).await?;
            require(&caller, Scope::TokensManage)?;
            let namespaces = self.resolve_token_namespaces(&caller, spec.namespaces.as_deref()).await?;
            if spec.scopes.is_empty() {
                return Err(ServiceError::invalid("invalid_scopes", "a token needs at least one scope"));
            }
            if !caller.scopes.covers(spec.scopes) {
                return Err(ServiceError::Forbidden("a token cannot be given scopes its issuer does not hold".into()));
            }
            if spec.description.len() > MAX_DESCRIPTION || spec.description.chars().any(char::is_control) {
                return Err(ServiceError::invalid(
                    "invalid_description",
                    format!("the description must be printable and at most {MAX_DESCRIPTION} bytes"),
                ));
            }
            let now = now_millis();
            let requested = match spec.ttl {
                Some(ttl) if ttl.is_zero() || ttl > MAX_TTL => {
                    return Err(ServiceError::invalid(
                        "invalid_ttl",
                        "ttl must be longer than zero and at most 10 years (omit it for no expiry)",
                    ));
                }
                Some(ttl) => Some(now.saturating_add(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))),
                None => None,
            };
            let expires_at = match (requested, caller.expires_at) {
                (Some(r), Some(c)) => Some(r.min(c)),
                (r, c) => r.or(c),
            };
            let mut audit = event.for_write();
            let origin = TokenOrigin::Issued { by: Some(caller.token_id) };
            self.issue_token(namespaces, spec.scopes, expires_at, &spec.description, origin, &mut audit).await
        }
        .await;
        self.finish(event, result).await
    }

    /// Stores a new token with its audit event (also used at initialisation).
    pub(crate) async fn issue_token(
        &self,
        namespaces: TokenNamespaces,
        scopes: ScopeSet,
        expires_at: Option<i64>,
        description: &str,
        origin: TokenOrigin,
        audit: &mut AuditEvent,
    ) -> Result<NewToken, ServiceError> {
        let issued = token::issue()?;
        let issued_namespace_ids = match &namespaces {
            TokenNamespaces::All => Vec::new(),
            TokenNamespaces::Only(refs) => refs.iter().map(|r| r.id.clone()).collect(),
        };
        let mut record = TokenRecord {
            id: issued.id.clone(),
            hash: self.token_key.hash(issued.token.expose_secret()).to_vec(),
            description: description.to_owned(),
            namespaces,
            issued_namespace_ids,
            scopes,
            created_at: now_millis(),
            expires_at,
            revoked_at: None,
            created_by: None,
            identity: None,
            mac: Vec::new(),
        };
        match origin {
            TokenOrigin::Issued { by } => {
                record.created_by = by;
                audit.name = Some(issued.id);
            }
            // A login's event names the role; the token it earned is its subject.
            TokenOrigin::Login { identity } => {
                record.identity = Some(identity.clone());
                audit.token_id = Some(issued.id);
                audit.identity = Some(identity);
            }
        }
        record.mac = self.token_key.seal_record(&record.canonical()).to_vec();
        let request = WriteRequest { mutation: Mutation::CreateToken(record.clone()), audit: audit.clone() };
        match self.data.write(request).await {
            Ok(_) => Ok(NewToken { record, token: issued.token }),
            Err(StoreError::NotFound) => Err(ServiceError::NotFound(Missing::Namespace)),
            Err(e) => Err(ServiceError::internal(e)),
        }
    }

    pub(crate) async fn resolve_token_namespaces(
        &self,
        caller: &Caller,
        names: Option<&[NamespaceName]>,
    ) -> Result<TokenNamespaces, ServiceError> {
        let Some(names) = names else {
            return if caller.namespaces == TokenNamespaces::All {
                Ok(TokenNamespaces::All)
            } else {
                Err(ServiceError::Forbidden("only a token bound to all namespaces can issue one".into()))
            };
        };
        if names.is_empty() {
            return Err(ServiceError::invalid("invalid_namespaces", "name at least one namespace, or all"));
        }
        let mut refs: Vec<NamespaceRef> = Vec::with_capacity(names.len());
        for name in names {
            let ns = self.visible_namespace(caller, name).await?;
            if !refs.iter().any(|r| r.id == ns.id) {
                refs.push(NamespaceRef { id: ns.id, name: ns.name });
            }
        }
        Ok(TokenNamespaces::Only(refs))
    }

    /// Tokens the caller could have issued: those bound only to namespaces the
    /// caller may act in now (a token whose namespaces were all deleted is
    /// visible to all-namespace tokens only).
    pub async fn list_tokens(&self, creds: &Credentials) -> Result<Vec<TokenRecord>, ServiceError> {
        let mut event = self.event(creds, AuditAction::TokenList, None, None);
        let result = async {
            let caller = self.authenticate(creds, &mut event).await?;
            require(&caller, Scope::TokensManage)?;
            let all = self.data.tokens().await?;
            Ok(all
                .into_iter()
                .filter(|t| self.token_key.verify_record(&t.canonical(), &t.mac))
                .filter(|t| covers(&caller, t))
                .collect())
        }
        .await;
        self.finish(event, result).await
    }

    /// Revokes a token within the caller's namespaces, and with it every
    /// token it issued (checked at authentication). Revoking twice succeeds.
    pub async fn revoke_token(&self, creds: &Credentials, id: &str) -> Result<(), ServiceError> {
        let mut event = self.event(creds, AuditAction::TokenRevoke, None, Some(id));
        let result = async {
            let caller = self.authenticate(creds, &mut event).await?;
            require(&caller, Scope::TokensManage)?;
            let target = self.token_record(id).await?;
            let target = match target {
                Some(t) if covers(&caller, &t) => t,
                _ => return Err(ServiceError::NotFound(Missing::Token)),
            };
            self.write_revocation(&mut event, &target).await
        }
        .await;
        self.finish(event, result).await
    }
}

impl Hush {
    /// Revokes the caller's own token (Vault's `revoke-self`): no scope is
    /// needed to give up one's own rights.
    pub async fn revoke_own_token(&self, creds: &Credentials) -> Result<(), ServiceError> {
        let mut event = self.event(creds, AuditAction::TokenRevoke, None, None);
        let result = async {
            let caller = self.authenticate(creds, &mut event).await?;
            event.event.name = Some(caller.token_id.clone());
            let target = self.token_record(&caller.token_id).await?.ok_or(ServiceError::NotFound(Missing::Token))?;
            self.write_revocation(&mut event, &target).await
        }
        .await;
        self.finish(event, result).await
    }

    /// Marks `target` revoked (MACed anew), with the call's audit event.
    async fn write_revocation(&self, event: &mut PendingEvent, target: &TokenRecord) -> Result<(), ServiceError> {
        let at = now_millis();
        let mut revoked = target.clone();
        revoked.revoked_at = Some(at);
        let mac = self.token_key.seal_record(&revoked.canonical()).to_vec();
        let audit = event.for_write();
        self.tokens.clear();
        let written = self
            .data
            .write(WriteRequest { mutation: Mutation::RevokeToken { id: target.id.clone(), at, mac }, audit })
            .await;
        // Cleared again after the write; the cache's generation keeps
        // lookups that started before it from re-caching the old record.
        self.tokens.clear();
        match written {
            Ok(_) => Ok(()),
            Err(StoreError::NotFound) => Err(ServiceError::NotFound(Missing::Token)),
            Err(e) => Err(ServiceError::internal(e)),
        }
    }
}

/// Whether `caller` may see and manage `target`: an all-namespace caller may;
/// otherwise `target` must be bound to namespaces only, each of which the
/// caller may act in now.
fn covers(caller: &Caller, target: &TokenRecord) -> bool {
    match (&caller.namespaces, &target.namespaces) {
        (TokenNamespaces::All, _) => true,
        (TokenNamespaces::Only(_), TokenNamespaces::All) => false,
        (TokenNamespaces::Only(_), TokenNamespaces::Only(_)) => {
            !target.issued_namespace_ids.is_empty()
                && target.issued_namespace_ids.iter().all(|id| caller.namespaces.allows(id))
        }
    }
}
