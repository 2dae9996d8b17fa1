//! The gate every request passes before its route: who the client is (its
//! address), whether its token is one hush issued, and whether it is over a
//! rate limit. It runs on the headers alone, so a request without a valid
//! token is answered 401 without a byte of its body being read, on every
//! surface: REST, gRPC, and the Direktiv and dodil routes.
//!
//! - A request with no token, a malformed one or one hush did not issue is
//!   refused here and counted (not audited one by one: see
//!   `hush_service::Hush::record_refusal`). Past the client address's
//!   budget of failed authentications it gets 429 with `Retry-After`.
//! - A token hush issued that may no longer be used (revoked, expired)
//!   names a credential: within the budget, the request goes on to its
//!   route, which refuses it and audits the attempt with its action.
//! - A valid token passes, within its own rate if one is configured; the
//!   route authenticates it again (a cached lookup and one HMAC).
//!
//! The health check, the OpenAPI document, the settings page's files and
//! gRPC health and reflection need no token.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hush_service::Hush;

use crate::ApiError;
use crate::client_address::{ClientAddress, SourceKey, client_address};
use crate::connection_info::ConnectionInfo;
use crate::grpc;
use crate::limits::ServerLimits;
use crate::rate_limits::{RateLimits, retry_after_seconds};
use crate::request_credentials::presented_token;
use crate::vault::{self, VaultError, VaultMount};

/// What the gate needs: the service (to check tokens and count refusals),
/// the limits and the rate limiters' state.
#[derive(Debug)]
pub(crate) struct Admission {
    hush: Arc<Hush>,
    limits: Arc<ServerLimits>,
    rates: RateLimits,
    /// Where the Vault API is mounted (its refusals take Vault's shape).
    vault_mount: VaultMount,
}

impl Admission {
    pub(crate) fn new(hush: Arc<Hush>, limits: Arc<ServerLimits>, vault_mount: VaultMount) -> Arc<Self> {
        let rates = RateLimits::new(&limits);
        Arc::new(Admission { hush, limits, rates, vault_mount })
    }
}

/// Whether a path needs no token: exact paths only, so nothing that merely
/// starts like one (`/ui/../…`, `/grpc.health.v1.Health/../…`) slips by.
fn is_public(path: &str) -> bool {
    matches!(
        path,
        "/v1/health"
            | "/v1/openapi.json"
            | "/ui"
            | "/ui/"
            | "/ui/app.js"
            | "/ui/style.css"
            | "/grpc.health.v1.Health/Check"
            | "/grpc.health.v1.Health/Watch"
            | "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"
            | "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo"
    )
}

/// The paths where a workload logs in (no token: a JWT in the body) or
/// learns a role's audience. They are throttled by the failed logins of the
/// client's address instead (see [`LoginGate`]).
fn is_login(path: &str) -> bool {
    matches!(path, "/v1/auth/jwt/login" | "/v1/auth/jwt/audience")
}

/// Given to the login routes: they report a failed login here, which
/// spends the client address's budget of failed authentications.
#[derive(Debug, Clone)]
pub(crate) struct LoginGate {
    admission: Arc<Admission>,
    source: Option<SourceKey>,
}

impl LoginGate {
    /// Counts a failed login (or a lookup of a role that does not exist).
    pub(crate) fn failed(&self) {
        if let Some(source) = self.source {
            self.admission.rates.failed_login(source);
        }
    }
}

/// The gate: `Some(answer)` if the request is refused here. Also records
/// the client's address in the request's extensions.
pub(crate) async fn check(admission: &Arc<Admission>, request: &mut Request) -> Option<Response> {
    let limits = &admission.limits;
    let connection = request.extensions().get::<ConnectionInfo>();
    let client_cert = connection.and_then(|c| c.client_certificate.clone());
    let client = connection
        .map(|c| client_address(c.peer.ip(), request.headers(), &limits.trusted_proxies, limits.forwarded_header));
    if let Some(addr) = client {
        request.extensions_mut().insert(ClientAddress(addr));
    }
    if is_public(request.uri().path()) || vault::is_public(request.uri().path()) {
        return None;
    }
    if is_login(request.uri().path()) {
        let source = client.map(SourceKey::of);
        if let Some(wait) = source.and_then(|s| admission.rates.login_wait(s)) {
            admission.hush.record_refusal(client, client_cert.as_ref(), "rate_limited");
            return Some(refusal(Surface::Rest, Refusal::FailedAuthRate(wait)));
        }
        request.extensions_mut().insert(LoginGate { admission: Arc::clone(admission), source });
        return None;
    }
    let surface = if grpc::is_grpc(request) {
        Surface::Grpc
    } else if vault::is_vault_path(request.uri().path(), &admission.vault_mount) {
        Surface::Vault
    } else {
        Surface::Rest
    };
    let verdict = match admission.hush.verify_token(&presented_token(request.headers())).await {
        Ok(verdict) => verdict,
        Err(e) => {
            tracing::error!(error = %e, "could not check a token");
            return Some(refusal(surface, Refusal::Internal));
        }
    };
    match verdict {
        Ok(caller) => {
            admission.rates.token_request(&caller.token_id).err().map(|w| refusal(surface, Refusal::TokenRate(w)))
        }
        Err(refused) => {
            // Without an address (an in-process caller), there is no one to limit.
            let over = client.and_then(|addr| admission.rates.failed_auth(SourceKey::of(addr)).err());
            match over {
                Some(wait) => {
                    admission.hush.record_refusal(client, client_cert.as_ref(), "rate_limited");
                    Some(refusal(surface, Refusal::FailedAuthRate(wait)))
                }
                None if refused.names_a_credential() => None,
                None => {
                    admission.hush.record_refusal(client, client_cert.as_ref(), refused.reason());
                    Some(refusal(surface, Refusal::Unauthenticated(refused.message())))
                }
            }
        }
    }
}

/// Which API's shape a refusal takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Surface {
    Rest,
    Grpc,
    /// Vault's: `{"errors":[…]}`, and 403 for any token problem.
    Vault,
}

/// Why the gate answered instead of the route.
enum Refusal {
    Unauthenticated(&'static str),
    FailedAuthRate(Duration),
    TokenRate(Duration),
    Internal,
}

/// The answer, in REST's JSON, Vault's or as a gRPC status.
fn refusal(surface: Surface, why: Refusal) -> Response {
    let (status, code, message, wait) = match why {
        Refusal::Unauthenticated(message) => {
            (StatusCode::UNAUTHORIZED, tonic::Code::Unauthenticated, message.to_owned(), None)
        }
        Refusal::FailedAuthRate(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            tonic::Code::ResourceExhausted,
            format!("too many failed authentications from this address; retry in {}s", retry_after_seconds(wait)),
            Some(wait),
        ),
        Refusal::TokenRate(wait) => (
            StatusCode::TOO_MANY_REQUESTS,
            tonic::Code::ResourceExhausted,
            format!("this token's request rate limit is reached; retry in {}s", retry_after_seconds(wait)),
            Some(wait),
        ),
        Refusal::Internal => (
            StatusCode::INTERNAL_SERVER_ERROR,
            tonic::Code::Internal,
            "internal error; the server log has the details".to_owned(),
            None,
        ),
    };
    let mut response = if surface == Surface::Grpc {
        tonic::Status::new(code, message).into_http::<axum::body::Body>()
    } else if surface == Surface::Vault {
        match status {
            StatusCode::UNAUTHORIZED => VaultError::permission_denied(),
            _ => VaultError::new(status, vec![message]),
        }
        .into_response()
    } else {
        let api_code = match status {
            StatusCode::UNAUTHORIZED => "unauthenticated",
            StatusCode::TOO_MANY_REQUESTS => "rate_limited",
            _ => "internal",
        };
        ApiError::new(status, api_code, message).into_response()
    };
    if let Some(wait) = wait {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_seconds(wait)));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_health_docs_the_page_and_grpc_plumbing_are_public() {
        for path in [
            "/v1/health",
            "/v1/openapi.json",
            "/ui",
            "/ui/",
            "/ui/app.js",
            "/grpc.health.v1.Health/Check",
            "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
            "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
        ] {
            assert!(is_public(path), "{path}");
        }
        for path in [
            "/v1/namespaces",
            "/v1/health/../namespaces",
            "/v1/healthz",
            "/uix",
            "/api/functions/registries/global",
            "/api/v2/namespaces",
            "/v1/ignite/secrets",
            "/hush.v1.SecretService/GetSecret",
            "/",
            "/nope",
            "/ui/../v1/namespaces",
            "/ui/%2e%2e/v1/namespaces",
            "/grpc.health.v1.Health/../hush.v1.SecretService/GetSecret",
            "/grpc.reflection.v1.ServerReflection/x",
        ] {
            assert!(!is_public(path), "{path}");
        }
    }

    #[test]
    fn only_the_two_login_paths_skip_the_token_check_for_the_login_budget() {
        for path in ["/v1/auth/jwt/login", "/v1/auth/jwt/audience"] {
            assert!(is_login(path) && !is_public(path), "{path}");
        }
        for path in ["/v1/auth/jwt/roles", "/v1/auth/jwt/login/", "/v1/auth/jwt/roles/x", "/v1/auth/jwt/../tokens"] {
            assert!(!is_login(path), "{path}");
        }
    }
}
