//! What can go wrong in a service call, in terms a client can act on.
//!
//! Each variant maps to one HTTP status and one stable error code (see
//! [`ServiceError::code`]). Messages name the input by field or position and
//! never contain a secret value. Internal failures carry their cause for the
//! log, and show the client a fixed message.

use hush_core::SecretType;

/// What was not found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// The namespace does not exist, or the token may not see it.
    Namespace,
    /// The secret does not exist.
    Secret,
    /// The secret exists but not that version (never written, or pruned).
    Version,
    /// The token does not exist, or the caller may not see it.
    Token,
    /// No registry entry has that address, or covers that image or server.
    Registry,
    /// No git secret's url covers the requested URL.
    GitCredential,
    /// No login role has that name.
    Role,
    /// The secret has metadata (written through the Vault API) but no value yet.
    NoValue,
    /// That version is deleted; it can be undeleted.
    DeletedVersion,
    /// That version was destroyed; its value is gone for good.
    DestroyedVersion,
}

/// A service call failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The request is malformed; `code` says how (e.g. `invalid_name`).
    #[error("{message}")]
    Invalid {
        /// Stable error code.
        code: &'static str,
        /// What was wrong, naming the field.
        message: String,
    },
    /// No token, or one that is unknown, revoked or expired.
    #[error("{0}")]
    Unauthenticated(&'static str),
    /// The token lacks what the call needs.
    #[error("{0}")]
    Forbidden(String),
    /// Something does not exist (or is not visible to this token).
    #[error("{}", missing_message(*.0))]
    NotFound(Missing),
    /// `cas` did not match the current version.
    #[error("cas mismatch: the current version is {current}")]
    CasMismatch {
        /// The version found (0: the secret does not exist).
        current: u64,
    },
    /// The secret (or its namespace) requires `cas` and the write gave none.
    #[error("this secret requires check-and-set: give the version you expect (cas)")]
    CasRequired,
    /// The secret exists with another type.
    #[error("the secret exists with type {existing}; a secret's type cannot change (delete it first)")]
    TypeConflict {
        /// Its type.
        existing: SecretType,
    },
    /// The thing to create already exists.
    #[error("{0} already exists")]
    AlreadyExists(&'static str),
    /// A value is over the size limit.
    #[error("the value is {size} bytes; the limit is {limit} bytes")]
    TooLarge {
        /// Size found.
        size: usize,
        /// Limit.
        limit: usize,
    },
    /// The server failed; details are in the log, not in the message.
    /// The call cannot go ahead in the current state (e.g. a prune of
    /// events never exported); `code` names the case for scripts.
    #[error("{message}")]
    Refused {
        /// Machine-readable case.
        code: &'static str,
        /// What to do.
        message: String,
    },
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn missing_message(m: Missing) -> &'static str {
    match m {
        Missing::Namespace => "namespace not found",
        Missing::Secret => "secret not found",
        Missing::Version => "secret version not found",
        Missing::Token => "token not found",
        Missing::Registry => "no registry entry matches",
        Missing::GitCredential => "no git secret's url matches",
        Missing::Role => "login role not found",
        Missing::NoValue => "the secret has no value yet (only metadata was written)",
        Missing::DeletedVersion => "that version of the secret is deleted (undelete it to read it)",
        Missing::DestroyedVersion => "that version of the secret was destroyed",
    }
}

impl ServiceError {
    /// A malformed request.
    pub fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        ServiceError::Invalid { code, message: message.into() }
    }

    /// A server failure.
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ServiceError::Internal(Box::new(e))
    }

    /// The stable error code clients can match on.
    pub fn code(&self) -> &'static str {
        match self {
            ServiceError::Invalid { code, .. } => code,
            ServiceError::Unauthenticated(_) => "unauthenticated",
            ServiceError::Forbidden(_) => "forbidden",
            ServiceError::NotFound(Missing::Namespace) => "namespace_not_found",
            ServiceError::NotFound(Missing::Secret) => "secret_not_found",
            ServiceError::NotFound(Missing::Version) => "version_not_found",
            ServiceError::NotFound(Missing::Token) => "token_not_found",
            ServiceError::NotFound(Missing::Registry) => "registry_not_found",
            ServiceError::NotFound(Missing::GitCredential) => "credential_not_found",
            ServiceError::NotFound(Missing::Role) => "role_not_found",
            ServiceError::NotFound(Missing::NoValue) => "no_value",
            ServiceError::NotFound(Missing::DeletedVersion) => "version_deleted",
            ServiceError::NotFound(Missing::DestroyedVersion) => "version_destroyed",
            ServiceError::CasRequired => "cas_required",
            ServiceError::CasMismatch { .. } => "cas_mismatch",
            ServiceError::TypeConflict { .. } => "type_conflict",
            ServiceError::AlreadyExists(_) => "already_exists",
            ServiceError::TooLarge { .. } => "value_too_large",
            ServiceError::Refused { code, .. } => code,
            ServiceError::Internal(_) => "internal",
        }
    }

    /// The audit outcome this error records.
    pub fn outcome(&self) -> hush_store::Outcome {
        use hush_store::Outcome;
        match self {
            ServiceError::Invalid { .. } | ServiceError::TooLarge { .. } => Outcome::Invalid,
            ServiceError::Unauthenticated(_) => Outcome::Unauthenticated,
            ServiceError::Forbidden(_) => Outcome::Denied,
            ServiceError::NotFound(_) => Outcome::NotFound,
            ServiceError::CasMismatch { .. }
            | ServiceError::CasRequired
            | ServiceError::TypeConflict { .. }
            | ServiceError::AlreadyExists(_)
            | ServiceError::Refused { .. } => Outcome::Conflict,
            ServiceError::Internal(_) => Outcome::Error,
        }
    }
}

impl From<hush_store::StoreError> for ServiceError {
    fn from(e: hush_store::StoreError) -> Self {
        metrics::counter!(crate::metric_names::STORE_ERRORS).increment(1);
        ServiceError::internal(e)
    }
}

impl From<hush_crypto::RandomError> for ServiceError {
    fn from(e: hush_crypto::RandomError) -> Self {
        ServiceError::internal(e)
    }
}
