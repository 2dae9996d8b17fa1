//! Where hush keeps things: the **data store** and the **key store**.
//!
//! The two are separate databases on purpose (DESIGN.md, "Storage and
//! encryption"): the data store holds namespaces, secret metadata and
//! ciphertexts, token hashes and the audit log; the key store holds the
//! namespace data keys and the audit key, wrapped by the root key. A copy of
//! the data store alone reveals nothing.
//!
//! This crate defines both as traits ([`DataStore`], [`KeyStore`]) and
//! implements them on SQLite ([`sqlite`], the embedded default) and
//! PostgreSQL ([`postgres`], for several replicas). It stores bytes it is given; it never
//! sees plaintext, and the only key it touches is the audit key, to chain
//! events as they are appended.
//!
//! All changes to the data store go through [`DataStore::write`], one
//! [`WriteRequest`] at a time: a mutation and the audit event that records it,
//! committed in the same transaction. The SQLite implementation groups
//! concurrent requests into one transaction and one fsync (group commit); a
//! request is answered only after its transaction is durable.

mod audit_event;
mod audit_observer;
mod canonical;
mod data_store;
pub mod dump;
mod error;
mod key_store;
pub mod metric_names;
mod name_range;
pub mod postgres;
mod records;
mod rows;
pub mod sqlite;
mod write_rules;

pub use audit_event::{AuditAction, AuditEvent, AuditRecord, Outcome, RefusalSummary};
pub use audit_observer::AuditObserver;
pub use data_store::{
    AuditQuery, DataStore, Mutation, PutVersion, RewrapVersion, Sealer, SecretMetadataChange, SecretQuery,
    VersionChange, VersionSlot, WriteOutcome, WriteRequest,
};
pub use error::{Conflict, StoreError};
pub use key_store::{AuditAnchor, AuditCheckpoint, Installation, KeyStore, WrappedKeys};
pub use records::{
    KvSettings, Millis, NamespaceRecord, NamespaceRef, RoleRecord, SealedVersion, SecretRecord, TokenNamespaces,
    TokenRecord, VersionRecord, now_millis,
};
