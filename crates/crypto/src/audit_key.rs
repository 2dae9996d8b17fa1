//! The audit chain key.
//!
//! Each audit event stores `mac = HMAC-SHA256(key, prev_mac || event)`. A plain
//! hash chain could be recomputed by anyone who can edit the data store; a
//! keyed one cannot, because the key is kept wrapped by the root key in the key
//! store. The key is random (not derived from the root key) so rotating the
//! root key re-wraps it and old chains stay verifiable.

use std::fmt;

use crate::envelope::OpenError;
use crate::mac_key::MacKey;
use crate::{RandomError, RootKey};

/// The `prev_mac` of the first event.
pub const AUDIT_GENESIS: [u8; 32] = [0; 32];

/// What the wrapped audit key is bound to.
pub const AUDIT_KEY_BINDING: &[u8] = b"hush/audit-key/v1";
const BINDING: &[u8] = AUDIT_KEY_BINDING;

/// Key for the audit MAC chain. Prints as `[REDACTED]`.
#[derive(Clone)]
pub struct AuditKey(MacKey);

impl AuditKey {
    /// A new random key.
    pub fn generate() -> Result<Self, RandomError> {
        MacKey::generate().map(Self)
    }

    /// Wraps the key under `root` for the key store.
    pub fn wrap(&self, root: &RootKey) -> Result<Vec<u8>, RandomError> {
        self.0.wrap(root, BINDING)
    }

    /// Unwraps a stored key. Failing here is how a wrong root key is detected at start.
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

    /// The MAC linking `event` to its predecessor.
    pub fn chain(&self, prev: &[u8; 32], event: &[u8]) -> [u8; 32] {
        self.0.mac(&[prev, event])
    }

    /// Checks a stored MAC in constant time.
    pub fn verify(&self, prev: &[u8; 32], event: &[u8], stored: &[u8]) -> bool {
        self.0.verify(&[prev, event], stored)
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chain_depends_on_key_prev_and_event() {
        let k = AuditKey::generate().unwrap();
        let m = k.chain(&AUDIT_GENESIS, b"e1");
        assert!(k.verify(&AUDIT_GENESIS, b"e1", &m));
        assert!(!k.verify(&AUDIT_GENESIS, b"e2", &m));
        assert!(!k.verify(&[1; 32], b"e1", &m));
        assert!(!AuditKey::generate().unwrap().verify(&AUDIT_GENESIS, b"e1", &m));
        assert!(!k.verify(&AUDIT_GENESIS, b"e1", &m[..31]));
    }

    #[test]
    fn wrap_round_trip() {
        let root = RootKey::generate().unwrap();
        let k = AuditKey::generate().unwrap();
        let back = AuditKey::unwrap(&root, &k.wrap(&root).unwrap()).unwrap();
        assert_eq!(back.chain(&AUDIT_GENESIS, b"x"), k.chain(&AUDIT_GENESIS, b"x"));
        assert!(AuditKey::unwrap(&RootKey::generate().unwrap(), &k.wrap(&root).unwrap()).is_err());
    }
}
