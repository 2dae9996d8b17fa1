//! Checking a JWT against a role's rules, in an order that spends nothing on
//! tokens that cannot be good: the shape and the algorithm first, then the
//! issuer (before any key is fetched), then the signature with the issuer's
//! key, then time, audience, lifetime and the bound claims.
//!
//! Only asymmetric algorithms are accepted: `alg: none` and every HMAC
//! algorithm are refused before a key is looked at, which rules out the
//! algorithm-confusion attack (an HS256 token "signed" with the issuer's
//! public key). Keys embedded in the token (`jwk`, `jku`, `x5c`) are ignored.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use jsonwebtoken::{Algorithm, Validation, errors::ErrorKind};
use serde_json::Value;

use crate::key_cache::{KeyCache, KeyProblem};
use crate::login_identity::{LoginIdentity, printable};
use crate::login_rules::{LoginRules, MAX_LEEWAY_SECS};

/// Longest JWT accepted, in bytes (Kubernetes and GitHub tokens are 1–2 KiB).
pub const MAX_JWT_BYTES: usize = 16 * 1024;

/// The algorithms a login may be signed with.
const ACCEPTED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// The check a JWT failed: what the audit records. The caller is only told
/// that the login failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FailedCheck {
    /// Not a JWT: not three base64url parts of JSON, or too large.
    Malformed,
    /// `alg` is none, an HMAC algorithm, unknown, or not what the key is for.
    Algorithm,
    /// `iss` is not the role's issuer.
    Issuer,
    /// No key of the issuer has the token's key id, even after a refetch.
    UnknownKey,
    /// The issuer's keys could not be fetched.
    KeysUnavailable,
    /// The signature does not verify.
    Signature,
    /// `exp` has passed.
    Expired,
    /// `nbf` is in the future.
    NotYetValid,
    /// `iat` is in the future.
    IssuedInFuture,
    /// `aud` does not contain the role's audience.
    Audience,
    /// A claim the check needs (`exp`, `iss`, `aud`) is missing or mistyped.
    MissingClaim(String),
    /// The token lives longer than the role allows.
    Lifetime,
    /// A bound claim does not match (which one).
    BoundClaim(String),
}

impl FailedCheck {
    /// The name recorded in the audit, e.g. `expired` or `bound_claim:repository`.
    pub fn as_audit_reason(&self) -> String {
        match self {
            FailedCheck::Malformed => "malformed".into(),
            FailedCheck::Algorithm => "algorithm".into(),
            FailedCheck::Issuer => "issuer".into(),
            FailedCheck::UnknownKey => "unknown_key".into(),
            FailedCheck::KeysUnavailable => "keys_unavailable".into(),
            FailedCheck::Signature => "signature".into(),
            FailedCheck::Expired => "expired".into(),
            FailedCheck::NotYetValid => "not_yet_valid".into(),
            FailedCheck::IssuedInFuture => "issued_in_future".into(),
            FailedCheck::Audience => "audience".into(),
            FailedCheck::MissingClaim(claim) => format!("missing_claim:{}", printable(claim)),
            FailedCheck::Lifetime => "lifetime".into(),
            FailedCheck::BoundClaim(claim) => format!("bound_claim:{claim}"),
        }
    }
}

/// A refused login: the check that failed and, for the audit, the issuer
/// and subject the token claimed (unverified unless the signature was
/// checked: they are the caller's words, cut and made printable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginFailure {
    /// What failed.
    pub check: FailedCheck,
    /// The `iss` the token claimed.
    pub claimed_issuer: Option<String>,
    /// The `sub` the token claimed.
    pub claimed_subject: Option<String>,
}

/// Checks `jwt` against `rules` for the role `role`: the identity to record,
/// or why it was refused.
pub async fn verify(role: &str, jwt: &str, rules: &LoginRules, keys: &KeyCache) -> Result<LoginIdentity, LoginFailure> {
    let refuse = |check, claims: Option<&Value>| LoginFailure {
        check,
        claimed_issuer: claims.and_then(|c| c.get("iss")).and_then(Value::as_str).map(printable),
        claimed_subject: claims.and_then(|c| c.get("sub")).and_then(Value::as_str).map(printable),
    };
    if jwt.len() > MAX_JWT_BYTES {
        return Err(refuse(FailedCheck::Malformed, None));
    }
    let Some((header, unverified)) = split(jwt) else { return Err(refuse(FailedCheck::Malformed, None)) };
    let claims = Some(&unverified);
    let Some(alg) = accepted_algorithm(&header) else { return Err(refuse(FailedCheck::Algorithm, claims)) };
    if unverified.get("iss").and_then(Value::as_str) != Some(rules.issuer.as_str()) {
        return Err(refuse(FailedCheck::Issuer, claims));
    }
    let kid = header.get("kid").and_then(Value::as_str);
    let candidates = keys.keys_for(rules, kid, alg).await.map_err(|problem| {
        let check = match problem {
            KeyProblem::UnknownKey => FailedCheck::UnknownKey,
            KeyProblem::WrongKeyType(_) => FailedCheck::Algorithm,
            KeyProblem::Unavailable(_) => FailedCheck::KeysUnavailable,
        };
        refuse(check, claims)
    })?;

    let mut validation = Validation::new(alg);
    validation.leeway = MAX_LEEWAY_SECS;
    validation.validate_nbf = true;
    validation.set_issuer(&[&rules.issuer]);
    validation.set_audience(&[&rules.audience]);
    validation.set_required_spec_claims(&["exp", "iss", "aud"]);
    let mut outcome = Err(FailedCheck::Signature);
    for key in &candidates {
        outcome = jsonwebtoken::decode::<Value>(jwt, key, &validation).map(|data| data.claims).map_err(failed_check);
        if !matches!(outcome, Err(FailedCheck::Signature)) {
            break;
        }
    }
    let verified = outcome.map_err(|check| refuse(check, claims))?;
    let verified_claims = Some(&verified);

    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let time = |name| verified.get(name).and_then(Value::as_u64);
    if time("iat").is_some_and(|iat| iat > now + MAX_LEEWAY_SECS) {
        return Err(refuse(FailedCheck::IssuedInFuture, verified_claims));
    }
    let exp = time("exp").unwrap_or(0);
    let start = time("iat").or(time("nbf")).unwrap_or(now);
    if exp.saturating_sub(start) > rules.max_jwt_lifetime_secs {
        return Err(refuse(FailedCheck::Lifetime, verified_claims));
    }
    if let Some(unmet) = rules.bound_claims.iter().find(|b| !b.matches(&verified)) {
        return Err(refuse(FailedCheck::BoundClaim(unmet.claim().to_owned()), verified_claims));
    }
    Ok(LoginIdentity::from_claims(role, &verified, &rules.recorded_claims()))
}

/// The header and the (unverified) claims of a compact JWT.
fn split(jwt: &str) -> Option<(Value, Value)> {
    let mut parts = jwt.split('.');
    let (header, payload, _signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    let decode = |part: &str| -> Option<Value> {
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(part.trim_end_matches('=')).ok()?;
        serde_json::from_slice::<Value>(&bytes).ok().filter(Value::is_object)
    };
    Some((decode(header)?, decode(payload)?))
}

fn accepted_algorithm(header: &Value) -> Option<Algorithm> {
    let name = header.get("alg")?.as_str()?;
    ACCEPTED.into_iter().find(|a| format!("{a:?}") == name)
}

fn failed_check(error: jsonwebtoken::errors::Error) -> FailedCheck {
    match error.into_kind() {
        ErrorKind::InvalidSignature => FailedCheck::Signature,
        ErrorKind::ExpiredSignature => FailedCheck::Expired,
        ErrorKind::ImmatureSignature => FailedCheck::NotYetValid,
        ErrorKind::InvalidAudience => FailedCheck::Audience,
        ErrorKind::InvalidIssuer => FailedCheck::Issuer,
        ErrorKind::MissingRequiredClaim(claim) | ErrorKind::InvalidClaimFormat(claim) => {
            FailedCheck::MissingClaim(claim)
        }
        ErrorKind::InvalidAlgorithm | ErrorKind::InvalidAlgorithmName | ErrorKind::UnsupportedAlgorithm => {
            FailedCheck::Algorithm
        }
        ErrorKind::InvalidRsaKey(_) | ErrorKind::InvalidEcdsaKey | ErrorKind::InvalidEddsaKey => FailedCheck::Signature,
        _ => FailedCheck::Malformed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_asymmetric_algorithms_are_accepted() {
        for (alg, ok) in [
            ("RS256", true),
            ("ES256", true),
            ("EdDSA", true),
            ("PS256", true),
            ("none", false),
            ("HS256", false),
            ("HS512", false),
            ("", false),
            ("rs256", false),
        ] {
            assert_eq!(accepted_algorithm(&serde_json::json!({"alg": alg})).is_some(), ok, "{alg}");
        }
    }

    #[test]
    fn only_three_json_parts_are_a_jwt() {
        let b64 = |t: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(t);
        let good = format!("{}.{}.sig", b64(r#"{"alg":"RS256"}"#), b64(r#"{"iss":"x"}"#));
        assert!(split(&good).is_some());
        for bad in [
            "a.b".to_owned(),
            format!("{good}.extra"),
            format!("{}.{}.s", b64("[]"), b64("{}")),
            format!("{}.{}.s", b64("{}"), b64("not json")),
            "...".to_owned(),
        ] {
            assert!(split(&bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn reasons_name_the_check() {
        assert_eq!(FailedCheck::BoundClaim("repository".into()).as_audit_reason(), "bound_claim:repository");
        assert_eq!(FailedCheck::MissingClaim("exp".into()).as_audit_reason(), "missing_claim:exp");
        assert_eq!(FailedCheck::Expired.as_audit_reason(), "expired");
    }
}
