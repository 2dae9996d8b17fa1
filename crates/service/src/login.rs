//! Logging in with a workload's JWT: the role's rules are checked
//! (`hush_identity::verify`) and, if they hold, a short-lived token is
//! issued with the role's namespaces and scopes, carrying the login's
//! identity into every audit event made with it.
//!
//! The caller learns only that a login failed. The audit event of a failed
//! login says why (which check), with the role and the issuer and subject
//! the token claimed; never the JWT.

use std::time::Duration;

use hush_core::SecretString;
use hush_store::{AuditAction, TokenNamespaces, now_millis};

use crate::tokens::{NewToken, TokenOrigin};
use crate::{Credentials, Hush, ServiceError};

/// What a caller is told about any failed login.
pub const LOGIN_FAILED: &str = "the login failed (the audit log says why)";

impl Hush {
    /// Exchanges a JWT for a hush token with the rights of the role named
    /// `role`. `ttl` asks for a lifetime up to the role's max-ttl (default:
    /// the role's ttl).
    pub async fn login_with_jwt(
        &self,
        creds: &Credentials,
        role: &str,
        jwt: &SecretString,
        ttl: Option<Duration>,
    ) -> Result<NewToken, ServiceError> {
        let mut event = self.event(creds, AuditAction::Login, None, Some(role));
        let result = async {
            let refused = |event: &mut crate::hush::PendingEvent, reason: String, identity: Option<String>| {
                event.event.reason = Some(reason);
                event.event.identity = identity;
                Err(ServiceError::Unauthenticated(LOGIN_FAILED))
            };
            let Some(definition) = self.role(role).await? else {
                return refused(&mut event, "unknown_role".into(), None);
            };
            let identity =
                match hush_identity::verify(role, jwt.expose_secret(), &definition.rules, &self.issuer_keys).await {
                    Ok(identity) => identity,
                    Err(failure) => {
                        let claimed = serde_json::json!({
                            "role": role,
                            "iss": failure.claimed_issuer,
                            "sub": failure.claimed_subject,
                        });
                        return refused(&mut event, failure.check.as_audit_reason(), Some(claimed.to_string()));
                    }
                };
            let lifetime = match ttl {
                None => Duration::from_secs(definition.ttl_secs),
                Some(asked) if !asked.is_zero() && asked.as_secs() <= definition.max_ttl_secs => asked,
                Some(_) => {
                    return Err(ServiceError::invalid(
                        "invalid_ttl",
                        format!(
                            "the ttl must be more than zero and at most the role's max-ttl ({}s)",
                            definition.max_ttl_secs
                        ),
                    ));
                }
            };
            // Only the role's namespaces that still exist (a deleted one, or
            // one deleted and created again under the same name, is not bound).
            let mut namespaces = Vec::new();
            for bound in definition.namespace_refs() {
                if self.namespace_record(&bound.name).await?.is_some_and(|ns| ns.id == bound.id) {
                    namespaces.push(bound);
                }
            }
            if namespaces.is_empty() {
                return refused(&mut event, "namespaces_gone".into(), Some(identity.to_json()));
            }
            let expires_at = now_millis().saturating_add(i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX));
            let mut audit = event.for_write();
            let description = format!("login: role {role}");
            let origin = TokenOrigin::Login { identity: identity.to_json() };
            self.issue_token(
                TokenNamespaces::Only(namespaces),
                definition.scope_set(),
                Some(expires_at),
                &description,
                origin,
                &mut audit,
            )
            .await
        }
        .await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(ServiceError::Internal(_)) => "error",
            Err(_) => "refused",
        };
        metrics::counter!(crate::metric_names::LOGINS, "outcome" => outcome).increment(1);
        self.finish(event, result).await
    }

    /// How many times the issuers' keys were fetched (discovery and JWKS
    /// documents), for tests and metrics.
    pub fn issuer_key_fetches(&self) -> u64 {
        self.issuer_keys.fetch_count()
    }
}
