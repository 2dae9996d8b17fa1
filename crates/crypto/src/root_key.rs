//! The root key: 256 bits that wrap every namespace data key and the audit key.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use hush_core::SecretString;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::envelope::{self, OpenError};
use crate::{RandomError, hex, random_bytes};

/// The root of the key hierarchy. Prints as `[REDACTED]`.
#[derive(Clone)]
pub struct RootKey(Zeroizing<[u8; 32]>);

/// A root key given as text did not decode.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyParseError {
    /// Not base64.
    #[error("the root key is not valid base64")]
    NotBase64,
    /// Decoded to the wrong length.
    #[error("the root key decodes to {0} bytes; it must be exactly 32")]
    WrongLength(usize),
}

impl RootKey {
    /// A new random root key.
    pub fn generate() -> Result<Self, RandomError> {
        Ok(Self(Zeroizing::new(random_bytes()?)))
    }

    /// Exactly 32 raw bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Parses standard base64 (padding optional, surrounding whitespace ignored).
    pub fn from_base64(text: &str) -> Result<Self, KeyParseError> {
        let text = text.trim();
        let decoded = Zeroizing::new(
            STANDARD.decode(text).or_else(|_| STANDARD_NO_PAD.decode(text)).map_err(|_| KeyParseError::NotBase64)?,
        );
        let bytes: [u8; 32] = decoded.as_slice().try_into().map_err(|_| KeyParseError::WrongLength(decoded.len()))?;
        Ok(Self::from_bytes(bytes))
    }

    /// The key as padded standard base64, for the key file.
    pub fn to_base64(&self) -> SecretString {
        SecretString::new(STANDARD.encode(self.0.as_slice()))
    }

    /// A short public fingerprint (16 hex characters) that names the key in
    /// messages without revealing it.
    pub fn fingerprint(&self) -> String {
        let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(self.0.as_slice()).expect("HMAC takes any key length");
        mac.update(b"hush/root-key-fingerprint/v1");
        hex(&mac.finalize().into_bytes()[..8])
    }

    /// Wraps a 32-byte key, bound to `binding` (what the key is for).
    pub fn wrap(&self, key: &[u8; 32], binding: &[u8]) -> Result<Vec<u8>, RandomError> {
        envelope::seal(&self.0, binding, key)
    }

    /// Unwraps a key made by [`RootKey::wrap`] with the same binding.
    pub fn unwrap(&self, wrapped: &[u8], binding: &[u8]) -> Result<Zeroizing<[u8; 32]>, OpenError> {
        let opened = envelope::open(&self.0, binding, wrapped)?;
        let bytes: [u8; 32] = opened.expose_secret().try_into().map_err(|_| OpenError::Malformed)?;
        Ok(Zeroizing::new(bytes))
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip_and_errors() {
        let k = RootKey::generate().unwrap();
        let text = k.to_base64();
        let back = RootKey::from_base64(&format!("  {}\n", text.expose_secret())).unwrap();
        assert_eq!(back.fingerprint(), k.fingerprint());
        let unpadded = text.expose_secret().trim_end_matches('=').to_owned();
        assert_eq!(RootKey::from_base64(&unpadded).unwrap().fingerprint(), k.fingerprint());
        assert_eq!(RootKey::from_base64("not base64!").unwrap_err(), KeyParseError::NotBase64);
        assert_eq!(RootKey::from_base64("AAAA").unwrap_err(), KeyParseError::WrongLength(3));
    }

    #[test]
    fn wrap_is_bound_to_key_and_binding() {
        let k = RootKey::generate().unwrap();
        let other = RootKey::generate().unwrap();
        let wrapped = k.wrap(&[9; 32], b"ns-1/v1").unwrap();
        assert_eq!(*k.unwrap(&wrapped, b"ns-1/v1").unwrap(), [9; 32]);
        assert!(k.unwrap(&wrapped, b"ns-2/v1").is_err());
        assert!(other.unwrap(&wrapped, b"ns-1/v1").is_err());
    }

    #[test]
    fn debug_is_redacted() {
        let k = RootKey::from_bytes([1; 32]);
        assert_eq!(format!("{k:?}"), "RootKey([REDACTED])");
    }
}
