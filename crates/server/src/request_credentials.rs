//! Credentials from request headers: `Authorization: Bearer <token>` (or
//! Direktiv's `Direktiv-Token: <token>` and Vault's `X-Vault-Token: <token>`,
//! so their clients work unchanged) and
//! the optional `X-Hush-Context` that the audit log records; plus, from the
//! connection, the verified client certificate's subject under mutual TLS.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{Extensions, HeaderMap, header};
use hush_core::SecretString;
use hush_service::Credentials;

use crate::ApiError;
use crate::client_address::ClientAddress;
use crate::connection_info::ConnectionInfo;

/// The caller's credentials, as a handler argument. Read from the headers
/// before any of the body.
#[derive(Debug)]
pub(crate) struct RequestCredentials(pub Credentials);

impl<S: Send + Sync> FromRequestParts<S> for RequestCredentials {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        credentials(&parts.headers, &parts.extensions).map(RequestCredentials)
    }
}

/// Header carrying the caller's audit context (a workflow and run id, say).
pub const CONTEXT_HEADER: &str = "x-hush-context";

/// Direktiv's token header.
const DIREKTIV_TOKEN_HEADER: &str = "direktiv-token";

/// Vault clients' token header.
const VAULT_TOKEN_HEADER: &str = "x-vault-token";

/// The token the headers carry, as credentials (anonymous without one).
pub(crate) fn presented_token(headers: &HeaderMap) -> Credentials {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .or_else(|| headers.get(DIREKTIV_TOKEN_HEADER).and_then(|v| v.to_str().ok()))
        .or_else(|| headers.get(VAULT_TOKEN_HEADER).and_then(|v| v.to_str().ok()))
        .map(|t| SecretString::copy_from(t.trim()));
    match token {
        Some(t) => Credentials::bearer(t),
        None => Credentials::anonymous(),
    }
}

/// Reads the credentials: the token and context from the headers, the
/// client certificate from the connection and the client's address from
/// the request's extensions (`ClientAddress`, set by the admission layer).
/// A missing token is not an error here: the service refuses the call.
pub fn credentials(headers: &HeaderMap, extensions: &Extensions) -> Result<Credentials, ApiError> {
    let mut creds = presented_token(headers);
    let connection = extensions.get::<ConnectionInfo>();
    if let Some(subject) = connection.and_then(|c| c.client_certificate.as_deref()) {
        creds = creds.with_client_certificate(subject);
    }
    if let Some(ClientAddress(addr)) = extensions.get::<ClientAddress>() {
        creds = creds.with_client_address(*addr);
    }
    match headers.get(CONTEXT_HEADER) {
        None => Ok(creds),
        Some(v) => {
            let text = v.to_str().map_err(|_| {
                ApiError::bad_request("invalid_context", "the X-Hush-Context header must be printable ASCII")
            })?;
            Ok(creds.with_context(text)?)
        }
    }
}
