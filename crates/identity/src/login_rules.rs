//! What a role demands of a JWT: the issuer, the audience, bound claims,
//! where the issuer's keys come from, and how long a JWT may live. Stored
//! with the role as JSON; checked in full when a role is created.

use std::time::Duration;

use jsonwebtoken::jwk::{AlgorithmParameters, JwkSet};
use serde::{Deserialize, Serialize};

use crate::bound_claim::{BoundClaim, check_claim_path};
use crate::url_rules::key_url;

/// How long a JWT may live (from `iat`, or `nbf`, to `exp`) unless a role says otherwise.
pub const DEFAULT_MAX_JWT_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The most a role may allow (a week): beyond it a JWT is a long-lived
/// credential, which is what workload identity replaces.
const MAX_MAX_JWT_LIFETIME: Duration = Duration::from_secs(7 * 24 * 3600);

/// Clock skew allowed on `exp`, `nbf` and `iat`, in seconds.
pub const MAX_LEEWAY_SECS: u64 = 60;

/// Longest issuer URL or audience, in bytes.
const MAX_TEXT: usize = 512;

/// At most this many bound or recorded claims.
const MAX_CLAIMS: usize = 32;

/// Where an issuer's signing keys come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeySource {
    /// OIDC discovery: `ISSUER/.well-known/openid-configuration`, then its `jwks_uri`.
    Discovery,
    /// A JWKS document at this URL.
    JwksUrl(String),
    /// These keys, given when the role was made (a Kubernetes cluster whose
    /// issuer cannot be reached: `kubectl get --raw /openid/v1/jwks`).
    Jwks(JwkSet),
}

/// A role's demands on a JWT.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginRules {
    /// The `iss` a JWT must carry, exactly.
    pub issuer: String,
    /// A value the JWT's `aud` must contain.
    pub audience: String,
    /// Claims the JWT must match: at least one.
    pub bound_claims: Vec<BoundClaim>,
    /// Claims to record with the identity (empty: the usual ones of GitHub,
    /// GitLab and Kubernetes tokens, where present).
    #[serde(default)]
    pub record_claims: Vec<String>,
    /// Where the issuer's keys come from.
    pub keys: KeySource,
    /// The longest a JWT may live, in seconds.
    pub max_jwt_lifetime_secs: u64,
}

/// Why a role's rules are refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct RuleError(pub String);

impl LoginRules {
    /// Checks everything that can be checked without a JWT: the issuer and
    /// key URLs, the audience, that at least one claim is bound, and that
    /// given keys are public keys of a supported kind.
    pub fn check(&self) -> Result<(), RuleError> {
        let bad = |m: String| Err(RuleError(m));
        if self.issuer.len() > MAX_TEXT {
            return bad(format!("the issuer is longer than {MAX_TEXT} bytes"));
        }
        key_url(&self.issuer).map_err(|m| RuleError(format!("issuer: {m}")))?;
        if self.audience.is_empty() || self.audience.len() > MAX_TEXT || self.audience.chars().any(char::is_control) {
            return bad(format!("the audience must be printable text of 1 to {MAX_TEXT} bytes"));
        }
        if self.bound_claims.is_empty() {
            return bad("a role needs at least one bound claim (e.g. --bound-claim repository=my-org/my-repo): \
                 without one, every token of the issuer would log in, and a public issuer such as GitHub's \
                 signs tokens for everyone"
                .into());
        }
        if self.bound_claims.len() > MAX_CLAIMS || self.record_claims.len() > MAX_CLAIMS {
            return bad(format!("at most {MAX_CLAIMS} bound claims and {MAX_CLAIMS} recorded claims"));
        }
        for claim in &self.record_claims {
            check_claim_path(claim).map_err(|e| RuleError(e.0))?;
        }
        let lifetime = Duration::from_secs(self.max_jwt_lifetime_secs);
        if lifetime.is_zero() || lifetime > MAX_MAX_JWT_LIFETIME {
            return bad("the longest JWT lifetime must be more than zero and at most 7 days".into());
        }
        match &self.keys {
            KeySource::Discovery => Ok(()),
            KeySource::JwksUrl(url) => key_url(url).map(drop).map_err(|m| RuleError(format!("JWKS URL: {m}"))),
            KeySource::Jwks(set) => check_key_set(set),
        }
    }

    /// The claims recorded with an identity.
    pub fn recorded_claims(&self) -> Vec<&str> {
        if self.record_claims.is_empty() {
            DEFAULT_RECORDED_CLAIMS.to_vec()
        } else {
            self.record_claims.iter().map(String::as_str).collect()
        }
    }
}

/// What identifies a run or a pod in the tokens of GitHub Actions, GitLab
/// CI and Kubernetes; recorded where present.
const DEFAULT_RECORDED_CLAIMS: [&str; 15] = [
    // GitHub Actions
    "repository",
    "workflow",
    "run_id",
    "run_attempt",
    "job_workflow_ref",
    "ref",
    "actor",
    // GitLab CI
    "project_path",
    "pipeline_id",
    "job_id",
    "user_login",
    // Kubernetes
    "/kubernetes.io/namespace",
    "/kubernetes.io/serviceaccount/name",
    "/kubernetes.io/pod/name",
    "/kubernetes.io/node/name",
];

fn check_key_set(set: &JwkSet) -> Result<(), RuleError> {
    if set.keys.is_empty() {
        return Err(RuleError("the JWKS has no keys".into()));
    }
    for jwk in &set.keys {
        match jwk.algorithm {
            AlgorithmParameters::RSA(_)
            | AlgorithmParameters::EllipticCurve(_)
            | AlgorithmParameters::OctetKeyPair(_) => {}
            AlgorithmParameters::OctetKey(_) => {
                return Err(RuleError(
                    "the JWKS holds a symmetric (oct) key: only public keys (RSA, EC, OKP) may verify logins".into(),
                ));
            }
            _ => {
                return Err(RuleError(
                    "the JWKS holds a key of a kind hush does not know (RSA, EC and OKP are)".into(),
                ));
            }
        }
        jsonwebtoken::DecodingKey::from_jwk(jwk)
            .map_err(|e| RuleError(format!("a key in the JWKS cannot be used: {e}")))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules() -> LoginRules {
        LoginRules {
            issuer: "https://token.actions.githubusercontent.com".into(),
            audience: "hush".into(),
            bound_claims: vec!["repository=octo-org/octo-repo".parse().unwrap()],
            record_claims: vec![],
            keys: KeySource::Discovery,
            max_jwt_lifetime_secs: DEFAULT_MAX_JWT_LIFETIME.as_secs(),
        }
    }

    #[test]
    fn a_complete_role_passes_and_each_gap_is_named() {
        assert_eq!(rules().check(), Ok(()));
        let table: [(LoginRules, &str); 7] = [
            (LoginRules { bound_claims: vec![], ..rules() }, "bound claim"),
            (LoginRules { issuer: "http://issuer.example".into(), ..rules() }, "plain http"),
            (LoginRules { audience: String::new(), ..rules() }, "audience"),
            (LoginRules { max_jwt_lifetime_secs: 0, ..rules() }, "lifetime"),
            (LoginRules { max_jwt_lifetime_secs: 8 * 24 * 3600, ..rules() }, "lifetime"),
            (LoginRules { keys: KeySource::JwksUrl("ftp://x".into()), ..rules() }, "JWKS URL"),
            (
                LoginRules {
                    keys: KeySource::Jwks(serde_json::from_str(r#"{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}"#).unwrap()),
                    ..rules()
                },
                "symmetric",
            ),
        ];
        for (rules, expected) in table {
            let error = rules.check().unwrap_err().0;
            assert!(error.contains(expected), "{error} should mention {expected}");
        }
    }

    #[test]
    fn round_trips_as_json() {
        let rules = LoginRules { keys: KeySource::JwksUrl("https://example.com/jwks".into()), ..rules() };
        let text = serde_json::to_string(&rules).unwrap();
        assert_eq!(serde_json::from_str::<LoginRules>(&text).unwrap(), rules);
    }
}
