//! The issuers' signing keys, fetched over HTTP and cached per source (an
//! issuer's discovery document, or a JWKS URL).
//!
//! A key id the cache does not know may be a key the issuer just rotated
//! in, so it triggers a refetch; but at most one per source every
//! [`KeyCache::REFETCH_INTERVAL`], whatever the number of logins, so a flood
//! of tokens with made-up key ids cannot make hush hammer the issuer.
//! Fetches of one source are serialised: a hundred logins that miss at
//! once cause one fetch. Keys older than [`KeyCache::MAX_AGE`] are fetched
//! again; if that fails, the old keys stay in use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve, Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use serde_json::Value;

use crate::login_rules::{KeySource, LoginRules};
use crate::url_rules::key_url;

/// Largest discovery or JWKS document read, in bytes.
const MAX_DOCUMENT: usize = 512 * 1024;

/// Why no key could be found for a JWT.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyProblem {
    /// No key of the issuer has the JWT's key id (after a refetch, where one was allowed).
    #[error("the issuer has no key with this key id")]
    UnknownKey,
    /// The key with the JWT's key id is not one for the JWT's algorithm.
    #[error("the key with this key id is not a {0:?} key")]
    WrongKeyType(Algorithm),
    /// The keys could not be fetched (and none were cached).
    #[error("the issuer's keys could not be fetched: {0}")]
    Unavailable(String),
}

/// One source's keys and when they were fetched.
#[derive(Debug, Default)]
struct SourceState {
    keys: Option<(Arc<Vec<Jwk>>, Instant)>,
    last_attempt: Option<Instant>,
}

#[derive(Debug, Default)]
struct Source {
    state: Mutex<SourceState>,
    /// Held while fetching, so concurrent misses fetch once.
    fetching: tokio::sync::Mutex<()>,
}

/// Signing keys by source. Shared by every login; cheap to query.
#[derive(Debug, Default)]
pub struct KeyCache {
    sources: Mutex<HashMap<String, Arc<Source>>>,
    http: OnceLock<Result<reqwest::Client, String>>,
    /// How many documents were fetched (for tests and metrics).
    fetches: std::sync::atomic::AtomicU64,
}

impl KeyCache {
    /// The least time between two fetches of one source.
    pub const REFETCH_INTERVAL: Duration = Duration::from_secs(5);
    /// How long fetched keys are used before they are fetched again.
    pub const MAX_AGE: Duration = Duration::from_secs(3600);
    /// How long one fetch may take.
    const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

    /// An empty cache.
    pub fn new() -> Self {
        KeyCache::default()
    }

    /// How many HTTP documents (discovery and JWKS) were fetched so far.
    pub fn fetch_count(&self) -> u64 {
        self.fetches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The keys that may verify a JWT signed with `alg` under key id `kid`
    /// for `rules`' issuer.
    pub async fn keys_for(
        &self,
        rules: &LoginRules,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<Vec<DecodingKey>, KeyProblem> {
        let source_id = match &rules.keys {
            KeySource::Jwks(set) => return pick(&set.keys, kid, alg),
            KeySource::Discovery => format!("discovery {}", rules.issuer),
            KeySource::JwksUrl(url) => format!("jwks {url}"),
        };
        let source = {
            let mut sources = self.sources.lock().unwrap_or_else(|e| e.into_inner());
            Arc::clone(sources.entry(source_id).or_default())
        };
        if let Some(found) = source.cached(kid, alg) {
            return found;
        }
        let _fetching = source.fetching.lock().await;
        // Another login may have fetched while this one waited.
        if let Some(found) = source.cached(kid, alg) {
            return found;
        }
        let stale = {
            let mut state = source.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.last_attempt.is_some_and(|at| at.elapsed() < Self::REFETCH_INTERVAL) {
                None
            } else {
                state.last_attempt = Some(Instant::now());
                Some(state.keys.as_ref().map(|(keys, _)| Arc::clone(keys)))
            }
        };
        let Some(previous) = stale else {
            // Fetched a moment ago: answer from what is there.
            let state = source.state.lock().unwrap_or_else(|e| e.into_inner());
            return match &state.keys {
                Some((keys, _)) => pick(keys, kid, alg),
                None => Err(KeyProblem::Unavailable("the last attempt failed moments ago; try again later".into())),
            };
        };
        match self.fetch(rules).await {
            Ok(keys) => {
                let keys = Arc::new(keys);
                source.state.lock().unwrap_or_else(|e| e.into_inner()).keys = Some((Arc::clone(&keys), Instant::now()));
                pick(&keys, kid, alg)
            }
            Err(problem) => {
                tracing::warn!(issuer = %rules.issuer, %problem, "could not fetch the issuer's signing keys");
                match previous {
                    Some(keys) => pick(&keys, kid, alg),
                    None => Err(KeyProblem::Unavailable(problem)),
                }
            }
        }
    }

    async fn fetch(&self, rules: &LoginRules) -> Result<Vec<Jwk>, String> {
        let jwks_url = match &rules.keys {
            KeySource::JwksUrl(url) => url.clone(),
            KeySource::Discovery => {
                let url = format!("{}/.well-known/openid-configuration", rules.issuer.trim_end_matches('/'));
                let document = self.get_json(&url).await?;
                if document.get("issuer").and_then(Value::as_str) != Some(rules.issuer.as_str()) {
                    return Err(format!("the discovery document at {url} names another issuer"));
                }
                let Some(jwks_uri) = document.get("jwks_uri").and_then(Value::as_str) else {
                    return Err(format!("the discovery document at {url} has no jwks_uri"));
                };
                jwks_uri.to_owned()
            }
            KeySource::Jwks(set) => return Ok(set.keys.clone()),
        };
        key_url(&jwks_url)?;
        let document = self.get_json(&jwks_url).await?;
        let keys = parse_key_set(&document).ok_or_else(|| format!("{jwks_url} is not a JWKS document"))?;
        if keys.is_empty() {
            return Err(format!("{jwks_url} has no usable public keys"));
        }
        Ok(keys)
    }

    async fn get_json(&self, url: &str) -> Result<Value, String> {
        let client = self.http.get_or_init(build_client).as_ref().map_err(Clone::clone)?;
        self.fetches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut response = client.get(url).send().await.map_err(|e| format!("GET {url}: {}", error_chain(&e)))?;
        if !response.status().is_success() {
            return Err(format!("GET {url}: {}", response.status()));
        }
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| format!("GET {url}: {}", error_chain(&e)))? {
            if body.len() + chunk.len() > MAX_DOCUMENT {
                return Err(format!("GET {url}: the document is larger than {MAX_DOCUMENT} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        serde_json::from_slice(&body).map_err(|e| format!("GET {url}: not JSON ({e})"))
    }
}

impl Source {
    /// The answer from cached keys, if they are fresh and know the key id.
    fn cached(&self, kid: Option<&str>, alg: Algorithm) -> Option<Result<Vec<DecodingKey>, KeyProblem>> {
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let (keys, fetched) = state.keys.as_ref()?;
        if fetched.elapsed() > KeyCache::MAX_AGE {
            return None;
        }
        match pick(keys, kid, alg) {
            Err(KeyProblem::UnknownKey) => None,
            found => Some(found),
        }
    }
}

fn build_client() -> Result<reqwest::Client, String> {
    hush_tls::http_client(&hush_tls::ClientTls::default())
        .map_err(|e| e.to_string())?
        .timeout(KeyCache::FETCH_TIMEOUT)
        .connect_timeout(KeyCache::FETCH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()
        .map_err(|e| e.to_string())
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The public keys of a JWKS document; keys of a kind jsonwebtoken does not
/// know, and symmetric keys, are left out rather than failing the set.
fn parse_key_set(document: &Value) -> Option<Vec<Jwk>> {
    let keys = document.get("keys")?.as_array()?;
    Some(
        keys.iter()
            .filter_map(|k| serde_json::from_value::<Jwk>(k.clone()).ok())
            .filter(|k| {
                matches!(
                    k.algorithm,
                    AlgorithmParameters::RSA(_)
                        | AlgorithmParameters::EllipticCurve(_)
                        | AlgorithmParameters::OctetKeyPair(_)
                )
            })
            .collect(),
    )
}

/// The keys of `keys` that may verify `alg` under `kid`: with that key id
/// (any, if the JWT names none), of the algorithm's kind, meant for
/// signatures, and not declared for another algorithm.
fn pick(keys: &[Jwk], kid: Option<&str>, alg: Algorithm) -> Result<Vec<DecodingKey>, KeyProblem> {
    let named: Vec<&Jwk> = keys.iter().filter(|k| kid.is_none() || k.common.key_id.as_deref() == kid).collect();
    if named.is_empty() {
        return Err(KeyProblem::UnknownKey);
    }
    let usable: Vec<DecodingKey> =
        named.into_iter().filter(|k| suits(k, alg)).filter_map(|k| DecodingKey::from_jwk(k).ok()).collect();
    if usable.is_empty() { Err(KeyProblem::WrongKeyType(alg)) } else { Ok(usable) }
}

fn suits(key: &Jwk, alg: Algorithm) -> bool {
    let declared_ok = key.common.key_algorithm.is_none_or(|declared| declared.to_string() == format!("{alg:?}"));
    let use_ok = key.common.public_key_use.as_ref().is_none_or(|u| *u == PublicKeyUse::Signature);
    let kind_ok = match (&key.algorithm, alg) {
        (
            AlgorithmParameters::RSA(_),
            Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512,
        ) => true,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES256) => ec.curve == EllipticCurve::P256,
        (AlgorithmParameters::EllipticCurve(ec), Algorithm::ES384) => ec.curve == EllipticCurve::P384,
        (AlgorithmParameters::OctetKeyPair(okp), Algorithm::EdDSA) => okp.curve == EllipticCurve::Ed25519,
        _ => false,
    };
    declared_ok && use_ok && kind_ok
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn set() -> Vec<Jwk> {
        parse_key_set(&json!({"keys": [
            {"kty": "RSA", "kid": "r1", "alg": "RS256", "use": "sig",
             "n": "sXchDaQebHnPiGvyDOAT4saGEUetSyo9MKLOoWFsueri23bOdgWp4Dy1WlUzewbgBHod5pcM9H95GQRV3JDXboIRROSBigeC5yjU1hGzHHyXss8UDprecbAYxknTcQkhslANGRUZmdTOQ5qTRsLAt6BTYuyvVRdhS8exSZEy_c4gs_7svlJJQ4H9_NxsiIoLwAEk7-Q3UXERGYw_75IDrGA84-lA_-Ct4eTlXHBIY2EaV7t7LjJaynVJCpkv4LKjTTAumiGUIuQhrNhZLuF_RJLqHpM2kgWFLU7-VTdL1VbC2tejvcI2BlMkEpk1BzBZI0KQB0GaDWFLN-aEAw3vRw",
             "e": "AQAB"},
            {"kty": "oct", "kid": "h1", "k": "c2VjcmV0"},
            {"kty": "XYZ", "kid": "x1"},
        ]}))
        .unwrap()
    }

    #[test]
    fn symmetric_and_unknown_keys_are_left_out() {
        let keys = set();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].common.key_id.as_deref(), Some("r1"));
    }

    #[test]
    fn a_key_is_picked_by_id_and_kind() {
        let keys = set();
        assert_eq!(pick(&keys, Some("r1"), Algorithm::RS256).unwrap().len(), 1);
        assert_eq!(pick(&keys, None, Algorithm::RS256).unwrap().len(), 1);
        assert_eq!(pick(&keys, Some("nope"), Algorithm::RS256).err(), Some(KeyProblem::UnknownKey));
        // The key says RS256: not for ES256, nor for another RSA algorithm.
        assert_eq!(pick(&keys, Some("r1"), Algorithm::ES256).err(), Some(KeyProblem::WrongKeyType(Algorithm::ES256)));
        assert_eq!(pick(&keys, Some("r1"), Algorithm::PS256).err(), Some(KeyProblem::WrongKeyType(Algorithm::PS256)));
        assert_eq!(pick(&keys, Some("h1"), Algorithm::HS256).err(), Some(KeyProblem::UnknownKey));
    }
}
