//! Bound claims: `CLAIM=PATTERN[,PATTERN…]`, which a JWT must satisfy to log
//! in with a role. A claim is a top-level name (`repository`) or a JSON
//! pointer into nested claims (`/kubernetes.io/namespace`); a pattern is
//! exact text where `*` stands for any run of characters; several patterns
//! are any-of. A list claim matches if any of its items does.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

/// Longest claim path or pattern list, in bytes.
const MAX_LEN: usize = 512;

/// One rule: the claim at `claim` must match one of `patterns`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundClaim {
    claim: String,
    patterns: Vec<String>,
}

/// Why a bound claim or claim path does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ClaimPathError(pub String);

impl BoundClaim {
    /// The claim it reads: a name, or a JSON pointer starting with `/`.
    pub fn claim(&self) -> &str {
        &self.claim
    }

    /// The patterns, any of which may match.
    pub fn patterns(&self) -> &[String] {
        &self.patterns
    }

    /// Whether `claims` (a JWT payload) satisfies the rule. A missing claim,
    /// an object, or null never does.
    pub fn matches(&self, claims: &Value) -> bool {
        match claim_at(claims, &self.claim) {
            Some(Value::Array(items)) => items.iter().any(|item| self.matches_scalar(item)),
            Some(value) => self.matches_scalar(value),
            None => false,
        }
    }

    fn matches_scalar(&self, value: &Value) -> bool {
        scalar_text(value).is_some_and(|text| self.patterns.iter().any(|p| glob_matches(p, &text)))
    }
}

/// Checks a claim path: a name, or a JSON pointer.
pub(crate) fn check_claim_path(path: &str) -> Result<(), ClaimPathError> {
    if path.is_empty() || path == "/" || path.len() > MAX_LEN || path.chars().any(char::is_control) {
        return Err(ClaimPathError(format!(
            "{path:?} is not a claim name or a JSON pointer such as /kubernetes.io/namespace"
        )));
    }
    Ok(())
}

/// The claim at `path`: a top-level name, or a JSON pointer.
pub(crate) fn claim_at<'v>(claims: &'v Value, path: &str) -> Option<&'v Value> {
    if path.starts_with('/') { claims.pointer(path) } else { claims.get(path) }.filter(|v| !v.is_null())
}

/// A string, number or boolean as text; anything else has none.
pub(crate) fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Whether `text` matches `pattern`, where `*` matches any run of
/// characters (including none, and `/`). Written here because a whole glob
/// crate (character classes, path rules) would be more than this needs and
/// would give `?` and `[` meanings an operator does not expect in a branch name.
fn glob_matches(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    // Where the last `*` was, and the text position it currently covers up to.
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == '*' {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((star, covered)) = backtrack {
            pi = star + 1;
            ti = covered + 1;
            backtrack = Some((star, covered + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

impl FromStr for BoundClaim {
    type Err = ClaimPathError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some((claim, patterns)) = text.split_once('=') else {
            return Err(ClaimPathError(format!("{text:?} is not CLAIM=PATTERN (e.g. repository=my-org/my-repo)")));
        };
        check_claim_path(claim)?;
        if patterns.len() > MAX_LEN || patterns.chars().any(char::is_control) {
            return Err(ClaimPathError(format!("the patterns of {claim:?} are too long or have a control character")));
        }
        let patterns: Vec<String> = patterns.split(',').map(str::to_owned).collect();
        if patterns.iter().any(String::is_empty) {
            return Err(ClaimPathError(format!("{claim:?} has an empty pattern")));
        }
        if patterns.iter().any(|p| p.chars().all(|c| c == '*')) {
            return Err(ClaimPathError(format!(
                "{claim:?}={} would match any value: bind it to something",
                patterns.join(",")
            )));
        }
        Ok(BoundClaim { claim: claim.to_owned(), patterns })
    }
}

impl fmt::Display for BoundClaim {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.claim, self.patterns.join(","))
    }
}

impl Serialize for BoundClaim {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for BoundClaim {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    fn bound(text: &str) -> BoundClaim {
        text.parse().unwrap()
    }

    #[test]
    fn claims_match_exactly_by_glob_by_pointer_and_any_of() {
        let claims = json!({
            "repository": "octo-org/octo-repo",
            "ref": "refs/tags/v1.2",
            "run_id": 42,
            "aud": ["a", "b"],
            "kubernetes.io": {"namespace": "ci", "serviceaccount": {"name": "builder"}},
        });
        let table = [
            ("repository=octo-org/octo-repo", true),
            ("repository=octo-org/other", false),
            ("repository=octo-org/*", true),
            ("repository=*/octo-repo", true),
            ("repository=octo", false),
            ("ref=refs/heads/main,refs/tags/v*", true),
            ("ref=refs/heads/main", false),
            ("run_id=42", true),
            ("aud=b", true),
            ("aud=c", false),
            ("/kubernetes.io/namespace=ci", true),
            ("/kubernetes.io/namespace=prod", false),
            ("/kubernetes.io/serviceaccount/name=build*", true),
            ("kubernetes.io=ci", false),
            ("missing=x", false),
        ];
        for (rule, expected) in table {
            assert_eq!(bound(rule).matches(&claims), expected, "{rule}");
        }
    }

    #[test]
    fn rules_that_bind_nothing_or_do_not_parse_are_refused() {
        for bad in ["repository", "=x", "repository=", "repository=a,,b", "repository=*", "sub=**", "/=x"] {
            assert!(bad.parse::<BoundClaim>().is_err(), "{bad}");
        }
    }

    #[test]
    fn round_trips_through_its_text() {
        let rule = bound("ref=refs/heads/main,refs/tags/v*");
        assert_eq!(serde_json::to_string(&rule).unwrap(), "\"ref=refs/heads/main,refs/tags/v*\"");
        assert_eq!(serde_json::from_str::<BoundClaim>("\"ref=refs/heads/main,refs/tags/v*\"").unwrap(), rule);
    }

    proptest! {
        #[test]
        fn a_pattern_without_a_star_matches_only_itself(p in "[a-z/.-]{1,12}", t in "[a-z/.-]{0,12}") {
            prop_assert_eq!(glob_matches(&p, &t), p == t);
        }

        #[test]
        fn a_star_matches_any_middle(prefix in "[a-z]{0,5}", middle in "[a-z/*]{0,8}", suffix in "[a-z]{0,5}") {
            let text = format!("{prefix}{middle}{suffix}");
            let pattern = format!("{prefix}*{suffix}");
            prop_assert!(glob_matches(&pattern, &text));
        }
    }
}
