//! hush's service layer: every operation the APIs offer, with its rules.
//!
//! [`Hush`] owns the stores, the root key and a cache of unwrapped namespace
//! keys. Each public method takes the caller's [`Credentials`] and does the
//! whole job: authenticate the token, find the namespace it may see, check
//! the scope, encrypt or decrypt, write, and record exactly one audit event
//! whatever the outcome. REST, gRPC and any future API are thin adapters over
//! these methods, so the rules live in one place.
//!
//! It does not parse HTTP or JSON and does not print anything; [`bootstrap`]
//! opens the stores and performs the first-start initialisation.

mod audit;
pub mod audit_line;
mod audit_retention;
pub mod audit_sink;
pub mod backup;
pub mod backup_format;
pub mod bootstrap;
mod config;
mod credentials;
mod error;
mod git_credentials;
mod hush;
mod key_cache;
mod key_wrapper;
mod kv;
mod login;
pub mod metric_names;
mod namespaces;
mod pagination;
mod refusals;
mod registries;
mod restore;
mod roles;
mod rotation;
mod secrets;
mod tokens;
mod ttl_cache;

pub use audit::{AuditExportFilter, AuditExportPage, AuditFilter, AuditPage, AuditVerification, VerifyUpdate};
pub use audit_retention::{PruneReport, PruneRequest};
pub use config::ServiceConfig;
pub use credentials::{Caller, Credentials, MAX_CONTEXT_LEN};
pub use error::{Missing, ServiceError};
pub use git_credentials::GitCredential;
pub use hush::{Hush, TokenRefusal};
pub use key_wrapper::{KeyWrapper, RootOrigin, TransitConfig};
pub use refusals::REASONS as REFUSAL_REASONS;

/// A PostgreSQL URL without its password, for messages.
pub fn postgres_url_shown(url: &str) -> String {
    hush_store::postgres::redacted_url(url)
}
/// Workload identity: login rules, bound claims, identities.
pub use hush_identity;
pub use kv::{SecretMetadataUpdate, VersionAction};
pub use login::LOGIN_FAILED;
pub use pagination::{DEFAULT_PAGE, MAX_PAGE};
pub use registries::{RegistryCredentials, RegistryEntry, RegistryScope, RegistrySelector, RegistryTarget};
pub use roles::{DEFAULT_ROLE_MAX_TTL, DEFAULT_ROLE_TTL, LoginRole, RoleNamespace, RoleSpec};
pub use rotation::{MAX_REWRAP_BATCH, RewrapBatch, RootRotation};
pub use secrets::{ListSecrets, RevealedSecret, SecretPage, VersionRead};
pub use tokens::{NewToken, TokenSpec};

pub use hush_store::{
    AuditAction, AuditEvent, AuditRecord, KvSettings, NamespaceRecord, Outcome, RefusalSummary, SecretRecord,
    TokenNamespaces, TokenRecord, VersionRecord,
};
