//! Zeroizing containers for plaintext.
//!
//! [`SecretBytes`] and [`SecretString`] wrap `secrecy`'s boxes: memory is wiped
//! on drop, `Debug` prints `[REDACTED]`, and there is no `Display`,
//! `Serialize` or `Deref`. The one way to the bytes is `expose_secret()`, so
//! every place that touches plaintext can be found with grep.

use std::fmt;

use secrecy::{ExposeSecret, SecretBox, SecretSlice};
use zeroize::Zeroize;

/// Opaque secret bytes (a generic value, a password, a token, a key).
#[derive(Clone)]
pub struct SecretBytes(SecretSlice<u8>);

impl SecretBytes {
    /// Takes ownership of `bytes`. If the vector has spare capacity, its
    /// contents are copied to an exact-size allocation and the original is
    /// wiped, so no unwiped copy is left behind by a reallocation.
    pub fn new(mut bytes: Vec<u8>) -> Self {
        if bytes.capacity() == bytes.len() {
            return Self(SecretSlice::from(bytes));
        }
        let exact: Box<[u8]> = bytes.as_slice().into();
        bytes.zeroize();
        Self(SecretBox::new(exact))
    }

    /// Copies `bytes` into a new secret.
    pub fn copy_from(bytes: &[u8]) -> Self {
        Self(SecretBox::new(bytes.into()))
    }

    /// The plaintext. Every call site is a place plaintext is used.
    pub fn expose_secret(&self) -> &[u8] {
        self.0.expose_secret()
    }

    /// Length in bytes (not secret).
    pub fn len(&self) -> usize {
        self.expose_secret().len()
    }

    /// Whether the value is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for SecretBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl PartialEq for SecretBytes {
    /// Constant-time comparison of equal-length values.
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.expose_secret(), other.expose_secret())
    }
}
impl Eq for SecretBytes {}

/// Secret UTF-8 text (a token, a password).
#[derive(Clone)]
pub struct SecretString(secrecy::SecretString);

impl SecretString {
    /// Takes ownership of `text`; see [`SecretBytes::new`] about spare capacity.
    pub fn new(mut text: String) -> Self {
        if text.capacity() == text.len() {
            return Self(secrecy::SecretString::from(text));
        }
        let exact: Box<str> = text.as_str().into();
        text.zeroize();
        Self(SecretBox::new(exact))
    }

    /// Copies `text` into a new secret.
    pub fn copy_from(text: &str) -> Self {
        Self(SecretBox::new(text.into()))
    }

    /// The plaintext. Every call site is a place plaintext is used.
    pub fn expose_secret(&self) -> &str {
        self.0.expose_secret()
    }

    /// Length in bytes (not secret).
    pub fn len(&self) -> usize {
        self.expose_secret().len()
    }

    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

impl PartialEq for SecretString {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.expose_secret().as_bytes(), other.expose_secret().as_bytes())
    }
}
impl Eq for SecretString {}

/// Hands a buffer to an I/O stack as `Bytes` that wipe it when the last
/// reference is dropped (request and response bodies holding values).
pub fn zeroizing_bytes(buffer: Vec<u8>) -> bytes::Bytes {
    bytes::Bytes::from_owner(ZeroizingBuffer(zeroize::Zeroizing::new(buffer)))
}

struct ZeroizingBuffer(zeroize::Zeroizing<Vec<u8>>);

impl AsRef<[u8]> for ZeroizingBuffer {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Compares without an early exit on the first differing byte. Lengths are not
/// hidden; secret lengths are not treated as secret anywhere in hush.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_value() {
        let b = SecretBytes::new(b"hunter2".to_vec());
        let s = SecretString::new("hunter2".to_owned());
        assert_eq!(format!("{b:?}"), "[REDACTED]");
        assert_eq!(format!("{s:?}"), "[REDACTED]");
        assert_eq!(format!("{:#?}", Some(&s)), "Some(\n    [REDACTED],\n)");
    }

    #[test]
    fn spare_capacity_is_handled() {
        let mut v = Vec::with_capacity(64);
        v.extend_from_slice(b"abc");
        let b = SecretBytes::new(v);
        assert_eq!(b.expose_secret(), b"abc");
        let mut s = String::with_capacity(64);
        s.push_str("xyz");
        assert_eq!(SecretString::new(s).expose_secret(), "xyz");
    }

    #[test]
    fn equality() {
        assert_eq!(SecretBytes::copy_from(b"a"), SecretBytes::copy_from(b"a"));
        assert_ne!(SecretBytes::copy_from(b"a"), SecretBytes::copy_from(b"b"));
        assert_ne!(SecretBytes::copy_from(b"a"), SecretBytes::copy_from(b"ab"));
    }
}
