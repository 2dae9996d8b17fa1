//! Who is calling: the presented token and an optional audit context, before
//! and after authentication.

use hush_core::{ScopeSet, SecretString};
use hush_store::{Millis, TokenNamespaces};

use crate::ServiceError;

/// Longest `X-Hush-Context` value, in bytes.
pub const MAX_CONTEXT_LEN: usize = 256;

/// What a request presents: a bearer token, an optional context (a
/// workflow and run id, say), the client's address and, over mutual TLS, the
/// verified client certificate's subject; the audit log records all but the
/// token with each event.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    token: Option<SecretString>,
    context: Option<String>,
    client_cert: Option<String>,
    client_addr: Option<std::net::IpAddr>,
}

impl Credentials {
    /// Credentials with a token.
    pub fn bearer(token: SecretString) -> Self {
        Credentials { token: Some(token), ..Credentials::default() }
    }

    /// Credentials with no token (the call will be refused and audited).
    pub fn anonymous() -> Self {
        Credentials::default()
    }

    /// Adds an audit context: printable text, at most [`MAX_CONTEXT_LEN`] bytes.
    pub fn with_context(mut self, context: &str) -> Result<Self, ServiceError> {
        if context.len() > MAX_CONTEXT_LEN {
            return Err(ServiceError::invalid(
                "invalid_context",
                format!("the context is {} bytes; the limit is {MAX_CONTEXT_LEN}", context.len()),
            ));
        }
        if context.chars().any(char::is_control) {
            return Err(ServiceError::invalid("invalid_context", "the context has a control character"));
        }
        self.context = (!context.is_empty()).then(|| context.to_owned());
        Ok(self)
    }

    /// Adds the subject of the client certificate the connection was
    /// verified with. Only the server sets this, from the TLS handshake.
    pub fn with_client_certificate(mut self, subject: impl Into<String>) -> Self {
        self.client_cert = Some(subject.into());
        self
    }

    /// Adds the client's address: the peer's, or what a trusted proxy
    /// reported. Only the server sets this.
    pub fn with_client_address(mut self, addr: std::net::IpAddr) -> Self {
        self.client_addr = Some(addr);
        self
    }

    /// The client's address, if the server gave one.
    pub fn client_address(&self) -> Option<std::net::IpAddr> {
        self.client_addr
    }

    /// The verified client certificate's subject, if the call came over mutual TLS.
    pub fn client_certificate(&self) -> Option<&str> {
        self.client_cert.as_deref()
    }

    /// The presented token, if any.
    pub fn token(&self) -> Option<&SecretString> {
        self.token.as_ref()
    }

    /// The audit context, if any.
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref()
    }
}

/// An authenticated caller.
#[derive(Debug, Clone)]
pub struct Caller {
    /// Public token id.
    pub token_id: String,
    /// What it may do.
    pub scopes: ScopeSet,
    /// Where it may do it (the namespaces it was issued for that still exist).
    pub namespaces: TokenNamespaces,
    /// When the token expires, if it does.
    pub expires_at: Option<Millis>,
    /// For a token earned by a workload's login: who logged in (JSON).
    pub identity: Option<String>,
}
