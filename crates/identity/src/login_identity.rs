//! Who logged in: the issuer, the subject and the claims a role records
//! (repository and run, or namespace and pod). Kept with the token it earned
//! and with every audit event made under that token, as compact JSON.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::bound_claim::{claim_at, scalar_text};

/// Longest recorded text (issuer, subject, or one claim's value), in bytes.
const MAX_VALUE: usize = 200;

/// A verified login's identity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginIdentity {
    /// The role logged in with.
    pub role: String,
    /// The JWT's `iss`.
    pub iss: String,
    /// The JWT's `sub`.
    pub sub: String,
    /// The recorded claims that were present, by the name the role gave
    /// them (a JSON pointer loses its leading `/`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub claims: BTreeMap<String, String>,
}

impl LoginIdentity {
    /// The identity of a verified payload: `recorded` names the claims to keep.
    pub(crate) fn from_claims(role: &str, claims: &Value, recorded: &[&str]) -> Self {
        let text = |name: &str| claims.get(name).and_then(scalar_text).map(|t| printable(&t)).unwrap_or_default();
        let kept = recorded
            .iter()
            .filter_map(|path| {
                let value = match claim_at(claims, path)? {
                    Value::Array(items) => items.iter().filter_map(scalar_text).collect::<Vec<_>>().join(","),
                    other => scalar_text(other)?,
                };
                Some((path.trim_start_matches('/').to_owned(), printable(&value)))
            })
            .collect();
        LoginIdentity { role: role.to_owned(), iss: text("iss"), sub: text("sub"), claims: kept }
    }

    /// The identity as stored: compact JSON.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Parses a stored identity.
    pub fn from_json(text: &str) -> Option<Self> {
        serde_json::from_str(text).ok()
    }
}

/// `text` cut to [`MAX_VALUE`] bytes (at a character boundary) with control
/// characters replaced: claims are the caller's text, written to the audit
/// log and shown on terminals.
pub(crate) fn printable(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_VALUE));
    for c in text.chars() {
        if out.len() + c.len_utf8() > MAX_VALUE {
            break;
        }
        out.push(if c.is_control() { '?' } else { c });
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn records_the_named_claims_that_are_present() {
        let claims = json!({
            "iss": "https://issuer", "sub": "repo:o/r:ref:refs/heads/main",
            "repository": "o/r", "run_id": "77", "run_attempt": 1,
            "kubernetes.io": {"namespace": "ci", "pod": {"name": "p-1"}},
            "aud": ["a", "b"],
        });
        let id = LoginIdentity::from_claims(
            "ci",
            &claims,
            &["repository", "run_id", "run_attempt", "missing", "/kubernetes.io/pod/name", "aud"],
        );
        assert_eq!(id.sub, "repo:o/r:ref:refs/heads/main");
        let expected: BTreeMap<String, String> = [
            ("repository", "o/r"),
            ("run_id", "77"),
            ("run_attempt", "1"),
            ("kubernetes.io/pod/name", "p-1"),
            ("aud", "a,b"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(id.claims, expected);
        assert_eq!(LoginIdentity::from_json(&id.to_json()), Some(id));
    }

    #[test]
    fn caller_text_is_cut_and_made_printable() {
        assert_eq!(printable("a\nb\u{1b}[31m"), "a?b?[31m");
        let long = "é".repeat(150);
        let cut = printable(&long);
        assert!(cut.len() <= MAX_VALUE && cut.chars().all(|c| c == 'é'));
    }
}
