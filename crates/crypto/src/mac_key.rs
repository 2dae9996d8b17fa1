//! Keys for HMAC-SHA256, kept wrapped by the root key: the base of the audit
//! chain key and the token key. Each use has its own binding (for wrapping)
//! and its own domain tags (in what it MACs), so no MAC of one use verifies
//! as another.

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::envelope::OpenError;
use crate::{RandomError, RootKey, random_bytes};

/// A 256-bit HMAC key. Prints as `[REDACTED]`.
#[derive(Clone)]
pub(crate) struct MacKey(Zeroizing<[u8; 32]>);

impl MacKey {
    pub(crate) fn generate() -> Result<Self, RandomError> {
        Ok(Self(Zeroizing::new(random_bytes()?)))
    }

    pub(crate) fn wrap(&self, root: &RootKey, binding: &[u8]) -> Result<Vec<u8>, RandomError> {
        root.wrap(&self.0, binding)
    }

    pub(crate) fn unwrap(root: &RootKey, wrapped: &[u8], binding: &[u8]) -> Result<Self, OpenError> {
        root.unwrap(wrapped, binding).map(Self)
    }

    pub(crate) fn raw(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn from_raw(bytes: Zeroizing<[u8; 32]>) -> Self {
        Self(bytes)
    }

    /// HMAC over the concatenation of `parts`.
    pub(crate) fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.as_slice()).expect("HMAC takes any key length");
        for part in parts {
            mac.update(part);
        }
        mac.finalize().into_bytes().into()
    }

    /// Checks a stored MAC in constant time.
    pub(crate) fn verify(&self, parts: &[&[u8]], stored: &[u8]) -> bool {
        self.mac(parts).ct_eq(stored).into()
    }
}

impl fmt::Debug for MacKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MacKey([REDACTED])")
    }
}
