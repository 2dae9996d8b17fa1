//! API tokens: `hush_<id>_<secret>`, and the key that protects their records.
//!
//! The id (16 hex characters) is public: it appears in token lists and audit
//! events and lets the server find the record without scanning. The secret
//! part is 256 random bits. The `hush_` prefix lets secret scanners recognise
//! leaked tokens.
//!
//! The data store keeps `HMAC(token key, token)`, never the token, and a MAC
//! over the rest of each token record (scopes, namespaces, expiry,
//! revocation). The token key lives wrapped by the root key in the key store,
//! so someone who can write to the data store can neither plant a token of
//! their own nor widen, extend or un-revoke an existing one: the MACs would
//! not verify. (A plain hash would be enough against guessing 256 random bits,
//! but not against a forged row.)

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hush_core::SecretString;

use crate::envelope::OpenError;
use crate::mac_key::MacKey;
use crate::{RandomError, RootKey, hex, random_bytes};

/// Every token starts with this.
pub const PREFIX: &str = "hush_";
const ID_LEN: usize = 16;
const SECRET_LEN: usize = 43;
/// What the wrapped token key is bound to.
pub const TOKEN_KEY_BINDING: &[u8] = b"hush/token-key/v1";
const BINDING: &[u8] = TOKEN_KEY_BINDING;
const HASH_TAG: &[u8] = b"hush/token-hash/v1\0";
const RECORD_TAG: &[u8] = b"hush/token-record/v1\0";

/// A freshly issued token: shown once, then only its MAC is kept.
#[derive(Debug)]
pub struct IssuedToken {
    /// Public id.
    pub id: String,
    /// The whole token text.
    pub token: SecretString,
}

/// Issues a new random token.
pub fn issue() -> Result<IssuedToken, RandomError> {
    let id = hex(&random_bytes::<8>()?);
    let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
    Ok(IssuedToken { token: SecretString::new(format!("{PREFIX}{id}_{secret}")), id })
}

/// The public id of a well-formed token, or `None` if the text is not shaped like one.
pub fn id_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(PREFIX)?;
    if rest.len() != ID_LEN + 1 + SECRET_LEN || !rest.is_char_boundary(ID_LEN) {
        return None;
    }
    let (id, secret) = rest.split_at(ID_LEN);
    let secret = secret.strip_prefix('_')?;
    let id_ok = id.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let secret_ok = secret.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    (id_ok && secret_ok).then_some(id)
}

/// The key behind token hashes and token record MACs. Prints as `[REDACTED]`.
#[derive(Clone)]
pub struct TokenKey(MacKey);

impl TokenKey {
    /// A new random key.
    pub fn generate() -> Result<Self, RandomError> {
        MacKey::generate().map(Self)
    }

    /// Wraps the key under `root` for the key store.
    pub fn wrap(&self, root: &RootKey) -> Result<Vec<u8>, RandomError> {
        self.0.wrap(root, BINDING)
    }

    /// Unwraps a stored key.
    pub fn unwrap(root: &RootKey, wrapped: &[u8]) -> Result<Self, OpenError> {
        MacKey::unwrap(root, wrapped, BINDING).map(Self)
    }

    /// The key's bytes, for wrapping by an external KMS (never stored as they are).
    pub fn raw(&self) -> &[u8; 32] {
        self.0.raw()
    }

    /// A key unwrapped by an external KMS.
    pub fn from_raw(bytes: zeroize::Zeroizing<[u8; 32]>) -> Self {
        Self(MacKey::from_raw(bytes))
    }

    /// What the store keeps in place of the token.
    pub fn hash(&self, token: &str) -> [u8; 32] {
        self.0.mac(&[HASH_TAG, token.as_bytes()])
    }

    /// Whether `token` matches a stored hash (constant time).
    pub fn verify(&self, token: &str, stored: &[u8]) -> bool {
        self.0.verify(&[HASH_TAG, token.as_bytes()], stored)
    }

    /// The MAC over a token record's canonical bytes.
    pub fn seal_record(&self, canonical: &[u8]) -> [u8; 32] {
        self.0.mac(&[RECORD_TAG, canonical])
    }

    /// Whether a record's stored MAC matches its canonical bytes (constant time).
    pub fn verify_record(&self, canonical: &[u8], stored: &[u8]) -> bool {
        self.0.verify(&[RECORD_TAG, canonical], stored)
    }
}

impl fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_parse_and_verify() {
        let key = TokenKey::generate().unwrap();
        let t = issue().unwrap();
        let text = t.token.expose_secret();
        assert!(text.starts_with(PREFIX));
        assert_eq!(id_of(text), Some(t.id.as_str()));
        let stored = key.hash(text);
        assert!(key.verify(text, &stored));
        let mut wrong = text.to_owned();
        wrong.pop();
        wrong.push(if text.ends_with('A') { 'B' } else { 'A' });
        assert!(!key.verify(&wrong, &stored));
        // Another installation's key does not accept it: a row copied or forged without the key fails.
        assert!(!TokenKey::generate().unwrap().verify(text, &stored));
        assert_ne!(issue().unwrap().id, t.id);
    }

    #[test]
    fn record_macs_are_keyed_and_separate_from_hashes() {
        let key = TokenKey::generate().unwrap();
        let mac = key.seal_record(b"record");
        assert!(key.verify_record(b"record", &mac));
        assert!(!key.verify_record(b"recorD", &mac));
        assert!(!key.verify(std::str::from_utf8(b"record").unwrap(), &mac));
        assert!(!TokenKey::generate().unwrap().verify_record(b"record", &mac));
    }

    #[test]
    fn malformed_tokens_have_no_id() {
        let good = issue().unwrap();
        let text = good.token.expose_secret();
        let table = [
            String::new(),
            "hush_".to_owned(),
            text[..text.len() - 1].to_owned(),
            format!("{text}x"),
            text.replacen("hush_", "hash_", 1),
            text.replacen('_', "-", 2),
            format!("hush_{}_{}", "G".repeat(16), "a".repeat(43)),
            format!("hush_{}_{}", "a".repeat(16), "é".repeat(21)),
            format!("hush_{}é{}", "a".repeat(15), "a".repeat(43)),
        ];
        for bad in table {
            assert_eq!(id_of(&bad), None, "{bad:?}");
        }
    }
}
