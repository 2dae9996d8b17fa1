//! Credentials from request headers: `Authorization: Bearer <token>` (or
//! Direktiv's `Direktiv-Token: <token>`, so its clients work unchanged) and
//! the optional `X-Hush-Context` that the audit log records.

use axum::http::{HeaderMap, header};
use hush_core::SecretString;
use hush_service::Credentials;

use crate::ApiError;

/// Header carrying the caller's audit context (a workflow and run id, say).
pub const CONTEXT_HEADER: &str = "x-hush-context";

/// Direktiv's token header.
const DIREKTIV_TOKEN_HEADER: &str = "direktiv-token";

/// Reads the credentials. A missing token is not an error here: the service
/// refuses the call and audits the attempt.
pub fn credentials(headers: &HeaderMap) -> Result<Credentials, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .or_else(|| headers.get(DIREKTIV_TOKEN_HEADER).and_then(|v| v.to_str().ok()))
        .map(|t| SecretString::copy_from(t.trim()));
    let creds = match token {
        Some(t) => Credentials::bearer(t),
        None => Credentials::anonymous(),
    };
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
