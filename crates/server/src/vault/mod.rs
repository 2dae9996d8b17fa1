//! HashiCorp Vault's HTTP API, as far as Vault clients need it to use hush
//! as a KV v2 server (`bao`/`vault`, hvac, External Secrets Operator,
//! vault-action): the `sys` routes their preflight and status checks call,
//! and the token lookup. The wire details follow what those clients
//! actually read (captured from OpenBao 2.7 and hvac 2.4), not only Vault's
//! documentation:
//!
//! - errors are exactly `{"errors":[…]}` (a missing thing: `404 {"errors":[]}`);
//! - a missing, bad or under-scoped token is `403 {"errors":["permission denied"]}`,
//!   never 401 (hvac's `is_authenticated()` raises on 401);
//! - `Content-Type` is exactly `application/json`;
//! - answers come in Vault's envelope (`request_id`, `lease_id`, …, `data`).
//!
//! The token comes in `X-Vault-Token` (or `Authorization: Bearer`).

pub(crate) mod kv_config;
pub(crate) mod kv_data;
pub(crate) mod kv_metadata;
pub(crate) mod kv_versions;
pub(crate) mod sys;
pub(crate) mod token;

use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use hush_core::NamespaceName;
use hush_service::{Caller, Credentials, Missing, ServiceError, TokenNamespaces};
use serde_json::{Value, json};

use crate::request_credentials::{CONTEXT_HEADER, credentials, presented_token};
use crate::{ApiError, AppState};

/// The header naming the hush namespace (Vault Enterprise's namespaces).
const NAMESPACE_HEADER: &str = "x-vault-namespace";

/// The header asking for a response-wrapped answer.
const WRAP_TTL_HEADER: &str = "x-vault-wrap-ttl";

/// The audit context of calls through the Vault API (unless the caller
/// sets `X-Hush-Context`).
const AUDIT_CONTEXT: &str = "vault-api";

/// The mount Vault clients address hush's secrets under, `secret` unless
/// `--vault-mount` names another. One word, and none of the names hush's
/// own API uses under `/v1/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultMount(Arc<str>);

/// The first path segments hush's own routes (and Vault's `sys`/`auth`) use.
const TAKEN: &[&str] =
    &["sys", "auth", "health", "openapi.json", "namespaces", "registries", "tokens", "audit", "admin", "ignite"];

impl VaultMount {
    /// Checks a mount name: `[a-z0-9_-]`, 1 to 64 of them, not one of hush's own.
    pub fn parse(name: &str) -> Result<VaultMount, String> {
        let name = name.trim_matches('/');
        let well_formed = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !well_formed {
            return Err("a Vault mount name is 1 to 64 of a-z, 0-9, '_' and '-'".to_owned());
        }
        if TAKEN.contains(&name) {
            return Err(format!("{name:?} is taken by hush's own API under /v1/; choose another Vault mount name"));
        }
        Ok(VaultMount(name.into()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for VaultMount {
    fn default() -> Self {
        VaultMount("secret".into())
    }
}

/// The Vault API's routes: `sys`, the token routes and the KV v2 mount.
pub(crate) fn routes(router: Router<AppState>, mount: &VaultMount) -> Router<AppState> {
    use axum::routing::{any, get, post};
    let m = mount.as_str();
    router
        .route("/v1/sys/health", get(sys::health))
        .route("/v1/sys/seal-status", get(sys::seal_status))
        .route("/v1/sys/leader", get(sys::leader))
        .route("/v1/sys/internal/ui/mounts/{*path}", get(sys::ui_mount))
        .route("/v1/auth/token/lookup-self", get(token::lookup_self))
        .route("/v1/auth/token/revoke-self", post(token::revoke_self).put(token::revoke_self))
        .route(
            &format!("/v1/{m}/data/{{*path}}"),
            get(kv_data::read)
                .put(kv_data::write)
                .post(kv_data::write)
                .patch(kv_data::patch)
                .delete(kv_data::delete_latest),
        )
        .route(&format!("/v1/{m}/metadata"), any(kv_metadata::metadata))
        .route(&format!("/v1/{m}/metadata/"), any(kv_metadata::metadata))
        .route(&format!("/v1/{m}/metadata/{{*path}}"), any(kv_metadata::metadata))
        .route(&format!("/v1/{m}/delete/{{*path}}"), post(kv_versions::delete).put(kv_versions::delete))
        .route(&format!("/v1/{m}/undelete/{{*path}}"), post(kv_versions::undelete).put(kv_versions::undelete))
        .route(&format!("/v1/{m}/destroy/{{*path}}"), post(kv_versions::destroy).put(kv_versions::destroy))
        .route(&format!("/v1/{m}/config"), get(kv_config::read).post(kv_config::write).put(kv_config::write))
}

/// Vault's answer to every authentication or authorization failure.
pub(crate) const PERMISSION_DENIED: &str = "permission denied";

/// Whether a path is part of the Vault API surface (its refusals take
/// Vault's shape).
pub(crate) fn is_vault_path(path: &str, mount: &VaultMount) -> bool {
    let Some(rest) = path.strip_prefix("/v1/") else { return false };
    rest.starts_with("sys/")
        || rest.starts_with("auth/token/")
        || rest.strip_prefix(mount.as_str()).is_some_and(|tail| tail.starts_with('/'))
}

/// The Vault paths that need no token: the status checks (`bao status`,
/// hvac's `sys.read_health_status()`, load balancers).
pub(crate) fn is_public(path: &str) -> bool {
    matches!(path, "/v1/sys/health" | "/v1/sys/seal-status" | "/v1/sys/leader")
}

/// A Vault-shaped error: a status and `{"errors":[…]}`.
#[derive(Debug)]
pub(crate) struct VaultError {
    status: StatusCode,
    errors: Vec<String>,
}

impl VaultError {
    pub(crate) fn new(status: StatusCode, errors: Vec<String>) -> Self {
        VaultError { status, errors }
    }

    pub(crate) fn permission_denied() -> Self {
        Self::new(StatusCode::FORBIDDEN, vec![PERMISSION_DENIED.to_owned()])
    }
}

impl From<ServiceError> for VaultError {
    fn from(e: ServiceError) -> Self {
        let (status, errors) = match &e {
            ServiceError::Unauthenticated(_) | ServiceError::Forbidden(_) => {
                (StatusCode::FORBIDDEN, vec![PERMISSION_DENIED.to_owned()])
            }
            ServiceError::NotFound(Missing::Namespace) => {
                (StatusCode::NOT_FOUND, vec!["namespace not found".to_owned()])
            }
            ServiceError::NotFound(_) => (StatusCode::NOT_FOUND, Vec::new()),
            ServiceError::CasMismatch { .. } => {
                (StatusCode::BAD_REQUEST, vec!["check-and-set parameter did not match the current version".to_owned()])
            }
            ServiceError::CasRequired => {
                (StatusCode::BAD_REQUEST, vec!["check-and-set parameter required for this call".to_owned()])
            }
            ServiceError::TooLarge { .. } => (StatusCode::PAYLOAD_TOO_LARGE, vec![e.to_string()]),
            ServiceError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, vec!["internal error; the server log has the details".to_owned()])
            }
            _ => (StatusCode::BAD_REQUEST, vec![e.to_string()]),
        };
        VaultError { status, errors }
    }
}

impl From<ApiError> for VaultError {
    fn from(e: ApiError) -> Self {
        VaultError { status: e.status(), errors: vec![e.message().to_owned()] }
    }
}

/// A 400 with this message.
pub(crate) fn bad_request(message: &str) -> VaultError {
    VaultError::new(StatusCode::BAD_REQUEST, vec![message.to_owned()])
}

impl IntoResponse for VaultError {
    fn into_response(self) -> Response {
        (self.status, Json(json!({ "errors": self.errors }))).into_response()
    }
}

/// `data` in Vault's response envelope.
pub(crate) fn envelope(data: Value) -> Response {
    Json(json!({
        "request_id": request_id(),
        "lease_id": "",
        "renewable": false,
        "lease_duration": 0,
        "data": data,
        "wrap_info": null,
        "warnings": null,
        "auth": null,
    }))
    .into_response()
}

/// A fresh request id in UUID form (clients show it, none parses it).
pub(crate) fn request_id() -> String {
    let mut b = [0u8; 16];
    // An all-zero id is harmless if the system's generator ever fails.
    let _ = getrandom::fill(&mut b);
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!("{}-{}-{}-{}-{}", &hex[0..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..32])
}

/// The caller behind the request's token, or Vault's 403: every Vault
/// route that needs a token checks it here (the admission gate lets a
/// revoked or expired token through to its route).
///
/// Response wrapping (`X-Vault-Wrap-TTL`) is refused with a 400 here, never
/// ignored: a client that asked for a wrapped answer must not get the
/// secret in the clear instead.
pub(crate) async fn caller(app: &AppState, headers: &HeaderMap) -> Result<Caller, VaultError> {
    let caller = match app.hush.verify_token(&presented_token(headers)).await? {
        Ok(caller) => caller,
        Err(_) => return Err(VaultError::permission_denied()),
    };
    if headers.contains_key(WRAP_TTL_HEADER) {
        return Err(bad_request(
            "response wrapping (X-Vault-Wrap-TTL) is not supported by hush; send the request without it",
        ));
    }
    Ok(caller)
}

/// The request's credentials, with the audit context `vault-api` unless
/// the caller gave one.
pub(crate) fn vault_credentials(parts: &Parts) -> Result<Credentials, VaultError> {
    let creds = credentials(&parts.headers, &parts.extensions)?;
    if parts.headers.contains_key(CONTEXT_HEADER) {
        return Ok(creds);
    }
    Ok(creds.with_context(AUDIT_CONTEXT)?)
}

/// Who asks and where: the request's namespace (see [`namespace`]) and its
/// credentials, or Vault's 403 for a token that does not work.
pub(crate) async fn namespace_and_credentials(
    app: &AppState,
    parts: &Parts,
) -> Result<(NamespaceName, Credentials), VaultError> {
    let who = caller(app, &parts.headers).await?;
    Ok((namespace(&who, &parts.headers)?, vault_credentials(parts)?))
}

/// The hush namespace a request is about: `X-Vault-Namespace` (its `/`s
/// trimmed; empty means none), else the token's only namespace.
pub(crate) fn namespace(caller: &Caller, headers: &HeaderMap) -> Result<NamespaceName, VaultError> {
    let named = match headers.get(NAMESPACE_HEADER) {
        None => None,
        Some(v) => {
            let text = v.to_str().map_err(|_| bad_request("the X-Vault-Namespace header must be printable ASCII"))?;
            Some(text.trim_matches('/')).filter(|t| !t.is_empty())
        }
    };
    if let Some(name) = named {
        return NamespaceName::parse(name).map_err(|e| bad_request(&format!("X-Vault-Namespace: {e}")));
    }
    match &caller.namespaces {
        TokenNamespaces::Only(bound) if bound.len() == 1 => Ok(bound[0].name.clone()),
        TokenNamespaces::Only(bound) if bound.is_empty() => Err(VaultError::permission_denied()),
        _ => Err(bad_request(
            "this token may act in several namespaces: name one with the X-Vault-Namespace header (bao/vault -namespace=NS)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vault_paths_are_sys_token_auth_and_the_mount() {
        let mount = VaultMount::default();
        for path in
            ["/v1/sys/health", "/v1/sys/internal/ui/mounts/secret/x", "/v1/auth/token/lookup-self", "/v1/secret/data/x"]
        {
            assert!(is_vault_path(path, &mount), "{path}");
        }
        for path in
            ["/v1/secrets", "/v1/secretx/data", "/v1/namespaces/default/secrets/x", "/v1/auth/jwt/login", "/v1/health"]
        {
            assert!(!is_vault_path(path, &mount), "{path}");
        }
        let kv = VaultMount::parse("kv/").unwrap();
        assert!(is_vault_path("/v1/kv/data/x", &kv) && !is_vault_path("/v1/secret/data/x", &kv));
        for path in ["/v1/sys/health", "/v1/sys/seal-status", "/v1/sys/leader"] {
            assert!(is_public(path), "{path}");
        }
        for path in ["/v1/sys/internal/ui/mounts/secret", "/v1/sys/health/x", "/v1/secret/data/x"] {
            assert!(!is_public(path), "{path}");
        }
    }

    #[test]
    fn mount_names_are_one_word_and_not_hush_routes() {
        for ok in ["secret", "kv", "team-kv", "kv_2", "/kv/"] {
            assert!(VaultMount::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b", "KV", "sys", "auth", "namespaces", "tokens", "audit", "health", "x y", &"k".repeat(65)] {
            assert!(VaultMount::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn request_ids_look_like_uuids_and_differ() {
        let (a, b) = (request_id(), request_id());
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }
}
