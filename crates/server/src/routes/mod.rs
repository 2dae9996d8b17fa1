//! Route handlers, one file per resource.

pub(crate) mod audit;
pub(crate) mod auth;
pub(crate) mod direktiv;
pub(crate) mod direktiv_v2;
pub(crate) mod git_credentials;
pub(crate) mod ignite;
pub(crate) mod meta;
pub(crate) mod namespaces;
pub(crate) mod registries;
pub(crate) mod secrets;
pub(crate) mod tokens;
pub(crate) mod ui;

use hush_core::NamespaceName;

use crate::ApiError;

/// A namespace name from a path segment.
pub(crate) fn namespace_name(raw: &str) -> Result<NamespaceName, ApiError> {
    NamespaceName::parse(raw).map_err(|e| ApiError::bad_request("invalid_name", e.to_string()))
}
