//! Login roles: which workloads may log in with a JWT (issuer, audience,
//! bound claims: `hush_identity::LoginRules`) and what the token they earn
//! may do (namespaces, scopes, lifetime).
//!
//! A role is stored whole, as JSON, under a MAC with the token key: a role
//! edited in the data store verifies as absent and grants nothing. Creating
//! one needs `tokens:manage`, and it can grant no more than its creator
//! holds, just like issuing a token.

use std::time::Duration;

use hush_core::{NamespaceName, Scope, ScopeSet};
use hush_identity::LoginRules;
use hush_store::{
    AuditAction, Mutation, NamespaceRef, RoleRecord, StoreError, TokenNamespaces, WriteRequest, now_millis,
};
use serde::{Deserialize, Serialize};

use crate::hush::require;
use crate::{Credentials, Hush, Missing, ServiceError};

/// Token lifetime when a role names none.
pub const DEFAULT_ROLE_TTL: Duration = Duration::from_secs(15 * 60);
/// Longest token lifetime a login may ask for when a role names none.
pub const DEFAULT_ROLE_MAX_TTL: Duration = Duration::from_secs(3600);
/// The most a role may allow: a login's token is meant to be short-lived.
const MAX_ROLE_TTL: Duration = Duration::from_secs(24 * 3600);
/// Longest role name.
const MAX_NAME: usize = 64;

/// A role to create.
#[derive(Debug, Clone)]
pub struct RoleSpec {
    /// Its name: lowercase letters, digits, `.`, `_` and `-`.
    pub name: String,
    /// The namespaces a login's token is bound to: at least one.
    pub namespaces: Vec<NamespaceName>,
    /// The login token's scopes.
    pub scopes: ScopeSet,
    /// What the JWT must satisfy.
    pub rules: LoginRules,
    /// The login token's lifetime.
    pub ttl: Duration,
    /// The longest lifetime a login may ask for.
    pub max_ttl: Duration,
}

/// A role as stored and shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LoginRole {
    /// Its name.
    #[serde(skip)]
    pub name: String,
    /// What the JWT must satisfy.
    pub rules: LoginRules,
    /// The namespaces a login's token is bound to (by id: a namespace
    /// deleted and created again is not the same one).
    pub namespaces: Vec<RoleNamespace>,
    /// The login token's scopes, space-separated.
    pub scopes: String,
    /// The login token's lifetime, in seconds.
    pub ttl_secs: u64,
    /// The longest lifetime a login may ask for, in seconds.
    pub max_ttl_secs: u64,
    /// When it was created.
    #[serde(skip)]
    pub created_at: i64,
}

/// A namespace a role binds its tokens to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoleNamespace {
    /// Its id.
    pub id: String,
    /// Its name.
    pub name: String,
}

impl Hush {
    /// Creates a login role. Needs `tokens:manage`; its namespaces and
    /// scopes must lie within the caller's.
    pub async fn create_role(&self, creds: &Credentials, spec: &RoleSpec) -> Result<LoginRole, ServiceError> {
        let mut event = self.event(creds, AuditAction::RoleCreate, None, Some(&spec.name));
        let result = async {
            let caller = self.authenticate(creds, &mut event).await?;
            require(&caller, Scope::TokensManage)?;
            check_role_name(&spec.name)?;
            spec.rules.check().map_err(|e| ServiceError::invalid("invalid_role", e.0))?;
            if spec.namespaces.is_empty() {
                return Err(ServiceError::invalid("invalid_namespaces", "a role needs at least one namespace (-n)"));
            }
            let TokenNamespaces::Only(refs) = self.resolve_token_namespaces(&caller, Some(&spec.namespaces)).await?
            else {
                return Err(ServiceError::invalid("invalid_namespaces", "a role is bound to named namespaces"));
            };
            if spec.scopes.is_empty() {
                return Err(ServiceError::invalid("invalid_scopes", "a role needs at least one scope"));
            }
            if !caller.scopes.covers(spec.scopes) {
                return Err(ServiceError::Forbidden("a role cannot grant scopes its creator does not hold".into()));
            }
            if spec.ttl.is_zero() || spec.ttl > spec.max_ttl || spec.max_ttl > MAX_ROLE_TTL {
                return Err(ServiceError::invalid(
                    "invalid_ttl",
                    "the ttl must be more than zero and at most the max-ttl, which is at most 24h",
                ));
            }
            let role = LoginRole {
                name: spec.name.clone(),
                rules: spec.rules.clone(),
                namespaces: refs
                    .into_iter()
                    .map(|r| RoleNamespace { id: r.id, name: r.name.as_str().to_owned() })
                    .collect(),
                scopes: spec.scopes.to_list(),
                ttl_secs: spec.ttl.as_secs(),
                max_ttl_secs: spec.max_ttl.as_secs(),
                created_at: now_millis(),
            };
            let definition = serde_json::to_string(&role).map_err(ServiceError::internal)?;
            let mut record = RoleRecord {
                name: role.name.clone(),
                definition,
                created_at: role.created_at,
                created_by: Some(caller.token_id.clone()),
                mac: Vec::new(),
            };
            record.mac = self.token_key.seal_record(&record.canonical()).to_vec();
            let audit = event.for_write();
            match self.data.write(WriteRequest { mutation: Mutation::CreateRole(record), audit }).await {
                Ok(_) => Ok(role),
                Err(StoreError::Conflict(_)) => Err(ServiceError::AlreadyExists("a login role with this name")),
                Err(e) => Err(ServiceError::internal(e)),
            }
        }
        .await;
        self.finish(event, result).await
    }

    /// Every login role. Needs `tokens:manage`.
    pub async fn list_roles(&self, creds: &Credentials) -> Result<Vec<LoginRole>, ServiceError> {
        let mut event = self.event(creds, AuditAction::RoleRead, None, None);
        let result = async {
            let caller = self.authenticate(creds, &mut event).await?;
            require(&caller, Scope::TokensManage)?;
            let records = self.data.roles().await?;
            Ok(records.into_iter().filter_map(|r| self.verified_role(r)).collect())
        }
        .await;
        self.finish(event, result).await
    }

    /// One login role. Needs `tokens:manage`.
    pub async fn get_role(&self, creds: &Credentials, name: &str) -> Result<LoginRole, ServiceError> {
        let mut event = self.event(creds, AuditAction::RoleRead, None, Some(name));
        let result = async {
            let caller = self.authenticate(creds, &mut event).await?;
            require(&caller, Scope::TokensManage)?;
            self.role(name).await?.ok_or(ServiceError::NotFound(Missing::Role))
        }
        .await;
        self.finish(event, result).await
    }

    /// Deletes a login role: no new logins with it. Tokens it issued keep
    /// their (short) lifetime. Needs `tokens:manage`.
    pub async fn delete_role(&self, creds: &Credentials, name: &str) -> Result<(), ServiceError> {
        let mut event = self.event(creds, AuditAction::RoleDelete, None, Some(name));
        let result = async {
            let caller = self.authenticate(creds, &mut event).await?;
            require(&caller, Scope::TokensManage)?;
            let audit = event.for_write();
            match self
                .data
                .write(WriteRequest { mutation: Mutation::DeleteRole { name: name.to_owned() }, audit })
                .await
            {
                Ok(_) => Ok(()),
                Err(StoreError::NotFound) => Err(ServiceError::NotFound(Missing::Role)),
                Err(e) => Err(ServiceError::internal(e)),
            }
        }
        .await;
        self.finish(event, result).await
    }

    /// The role named `name`, if it exists and its MAC verifies.
    pub(crate) async fn role(&self, name: &str) -> Result<Option<LoginRole>, ServiceError> {
        if check_role_name(name).is_err() {
            return Ok(None);
        }
        Ok(self.data.role(name).await?.and_then(|r| self.verified_role(r)))
    }

    fn verified_role(&self, record: RoleRecord) -> Option<LoginRole> {
        if !self.token_key.verify_record(&record.canonical(), &record.mac) {
            tracing::error!(role = %record.name, "a login role failed its integrity check (edited in the data store?); ignoring it");
            return None;
        }
        match serde_json::from_str::<LoginRole>(&record.definition) {
            Ok(role) => Some(LoginRole { name: record.name, created_at: record.created_at, ..role }),
            Err(e) => {
                tracing::error!(role = %record.name, error = %e, "a login role's definition does not parse; ignoring it");
                None
            }
        }
    }
}

impl LoginRole {
    /// The namespaces as token bindings.
    pub(crate) fn namespace_refs(&self) -> Vec<NamespaceRef> {
        self.namespaces
            .iter()
            .filter_map(|n| Some(NamespaceRef { id: n.id.clone(), name: NamespaceName::parse(&n.name).ok()? }))
            .collect()
    }

    /// The scopes as a set (unknown names, from a newer hush, are dropped).
    pub fn scope_set(&self) -> ScopeSet {
        ScopeSet::of(self.scopes.split_whitespace().filter_map(|s| s.parse::<Scope>().ok()))
    }
}

fn check_role_name(name: &str) -> Result<(), ServiceError> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(ServiceError::invalid(
            "invalid_role_name",
            format!(
                "a role name is 1 to {MAX_NAME} lowercase letters, digits, '.', '_' or '-', starting with a letter or digit"
            ),
        ))
    }
}

impl Hush {
    /// The audience a role's JWTs must carry, for a workload that asks
    /// before logging in; `None` if there is no such role. Not audited: it
    /// reveals nothing a login would not.
    pub async fn role_audience(&self, name: &str) -> Result<Option<String>, ServiceError> {
        Ok(self.role(name).await?.map(|r| r.rules.audience))
    }
}
