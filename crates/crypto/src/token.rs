//! API tokens: `hush_<id>_<secret>`.
//!
//! The id (16 hex characters) is public: it appears in token lists and audit
//! events and lets the server find the record without scanning. The secret
//! part is 256 random bits, so a fast hash (SHA-256) is enough for storage: no
//! password-style stretching is needed against guessing. The `hush_` prefix
//! lets secret scanners recognise leaked tokens.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hush_core::SecretString;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::{RandomError, hex, random_bytes};

/// Every token starts with this.
pub const PREFIX: &str = "hush_";
const ID_LEN: usize = 16;
const SECRET_LEN: usize = 43;

/// A freshly issued token: shown once, then only its hash is kept.
#[derive(Debug)]
pub struct IssuedToken {
    /// Public id.
    pub id: String,
    /// The whole token text.
    pub token: SecretString,
    /// What the store keeps.
    pub hash: [u8; 32],
}

/// Issues a new random token.
pub fn issue() -> Result<IssuedToken, RandomError> {
    let id = hex(&random_bytes::<8>()?);
    let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
    let token = SecretString::new(format!("{PREFIX}{id}_{secret}"));
    let hash = hash(token.expose_secret());
    Ok(IssuedToken { id, token, hash })
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

/// The stored hash of a token.
pub fn hash(token: &str) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"hush/token/v1\0");
    h.update(token.as_bytes());
    h.finalize().into()
}

/// Whether `token` matches a stored hash (constant time).
pub fn verify(token: &str, stored_hash: &[u8]) -> bool {
    hash(token).ct_eq(stored_hash).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issued_tokens_parse_and_verify() {
        let t = issue().unwrap();
        let text = t.token.expose_secret();
        assert!(text.starts_with(PREFIX));
        assert_eq!(id_of(text), Some(t.id.as_str()));
        assert!(verify(text, &t.hash));
        let mut wrong = text.to_owned();
        wrong.pop();
        wrong.push(if text.ends_with('A') { 'B' } else { 'A' });
        assert!(!verify(&wrong, &t.hash));
        assert_ne!(issue().unwrap().id, t.id);
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
