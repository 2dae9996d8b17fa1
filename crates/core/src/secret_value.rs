//! Typed secret values and their plaintext encoding.
//!
//! A value is encoded to bytes before encryption: a format byte, then one
//! `(tag, length, bytes)` record per field. The encoding is written straight
//! into a zeroizing buffer so no intermediate copy (as a JSON serializer would
//! make) is left in memory.

use std::fmt;

use crate::secret_type::SecretType;
use crate::sensitive::{SecretBytes, SecretString};

/// Format byte of the field encoding.
const FORMAT_V1: u8 = 1;

/// A field of a typed value, by its wire name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueField {
    /// A generic secret's value.
    Value,
    /// Git or registry username.
    Username,
    /// Git token.
    Token,
    /// Registry password.
    Password,
    /// Registry server address.
    ServerAddress,
    /// The URL prefix a git secret is for (optional).
    Url,
}

impl ValueField {
    /// The JSON field name.
    pub fn as_str(self) -> &'static str {
        match self {
            ValueField::Value => "value",
            ValueField::Username => "username",
            ValueField::Token => "token",
            ValueField::Password => "password",
            ValueField::ServerAddress => "server_address",
            ValueField::Url => "url",
        }
    }

    fn tag(self) -> u8 {
        match self {
            ValueField::Value => 1,
            ValueField::Username => 2,
            ValueField::Token => 3,
            ValueField::Password => 4,
            ValueField::ServerAddress => 5,
            ValueField::Url => 6,
        }
    }

    /// The fields a type carries, in wire order.
    pub fn of_type(t: SecretType) -> &'static [ValueField] {
        match t {
            SecretType::Generic => &[ValueField::Value],
            SecretType::Git => &[ValueField::Username, ValueField::Token, ValueField::Url],
            SecretType::Registry => &[ValueField::Username, ValueField::Password, ValueField::ServerAddress],
        }
    }
}

/// The plaintext of one secret version. `Debug` shows the type only.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretValue {
    /// An opaque value.
    Generic(SecretBytes),
    /// Credentials for git over HTTPS.
    Git {
        /// Login name.
        username: String,
        /// Personal access token or password.
        token: SecretString,
        /// The URL prefix it is for (`https://git.example.com/org`), matched
        /// by the git credential helper; empty if it is only used by name.
        url: String,
    },
    /// Credentials for a container registry.
    Registry {
        /// Login name.
        username: String,
        /// Password or token.
        password: SecretString,
        /// Registry host (and optional path); empty means Docker Hub.
        server_address: String,
    },
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue::{}([REDACTED])", self.secret_type())
    }
}

/// A stored plaintext that does not decode (corruption or a newer format).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueDecodeError {
    /// Unknown format byte.
    #[error("unknown value format {0}")]
    Format(u8),
    /// Truncated or malformed record.
    #[error("malformed value encoding")]
    Malformed,
    /// A field the type requires is missing, or one it does not have is present.
    #[error("value fields do not match type {0}")]
    Fields(SecretType),
    /// A text field is not UTF-8.
    #[error("field {0} is not UTF-8")]
    NotUtf8(&'static str),
}

impl SecretValue {
    /// The value's type.
    pub fn secret_type(&self) -> SecretType {
        match self {
            SecretValue::Generic(_) => SecretType::Generic,
            SecretValue::Git { .. } => SecretType::Git,
            SecretValue::Registry { .. } => SecretType::Registry,
        }
    }

    /// Total plaintext size in bytes, for size limits.
    pub fn plaintext_len(&self) -> usize {
        match self {
            SecretValue::Generic(v) => v.len(),
            SecretValue::Git { username, token, url } => username.len() + token.len() + url.len(),
            SecretValue::Registry { username, password, server_address } => {
                username.len() + password.len() + server_address.len()
            }
        }
    }

    /// One field's bytes. Text fields that are not secret are included too.
    pub fn field(&self, field: ValueField) -> Option<&[u8]> {
        match (self, field) {
            (SecretValue::Generic(v), ValueField::Value) => Some(v.expose_secret()),
            (SecretValue::Git { username, .. }, ValueField::Username)
            | (SecretValue::Registry { username, .. }, ValueField::Username) => Some(username.as_bytes()),
            (SecretValue::Git { token, .. }, ValueField::Token) => Some(token.expose_secret().as_bytes()),
            (SecretValue::Git { url, .. }, ValueField::Url) => Some(url.as_bytes()),
            (SecretValue::Registry { password, .. }, ValueField::Password) => Some(password.expose_secret().as_bytes()),
            (SecretValue::Registry { server_address, .. }, ValueField::ServerAddress) => {
                Some(server_address.as_bytes())
            }
            _ => None,
        }
    }

    /// Encodes the value for encryption.
    pub fn encode(&self) -> SecretBytes {
        let fields = ValueField::of_type(self.secret_type());
        let total = 1 + fields.len() * 5 + self.plaintext_len();
        let mut out = Vec::with_capacity(total);
        out.push(FORMAT_V1);
        for &f in fields {
            let bytes = self.field(f).unwrap_or_default();
            out.push(f.tag());
            out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
            out.extend_from_slice(bytes);
        }
        debug_assert_eq!(out.len(), total);
        SecretBytes::new(out)
    }

    /// Decodes a value of type `t` from [`SecretValue::encode`]'s output.
    pub fn decode(t: SecretType, bytes: &[u8]) -> Result<SecretValue, ValueDecodeError> {
        let (&format, mut rest) = bytes.split_first().ok_or(ValueDecodeError::Malformed)?;
        if format != FORMAT_V1 {
            return Err(ValueDecodeError::Format(format));
        }
        let expected = ValueField::of_type(t);
        let mut found: Vec<&[u8]> = Vec::with_capacity(expected.len());
        for &f in expected {
            // Git values written before the url field existed end after the token.
            if f == ValueField::Url && rest.is_empty() {
                found.push(b"");
                break;
            }
            let (&tag, after) = rest.split_first().ok_or(ValueDecodeError::Malformed)?;
            if tag != f.tag() {
                return Err(ValueDecodeError::Fields(t));
            }
            let len_bytes: [u8; 4] = after.get(..4).ok_or(ValueDecodeError::Malformed)?.try_into().unwrap_or([0; 4]);
            let len = u32::from_be_bytes(len_bytes) as usize;
            let body = after.get(4..4 + len).ok_or(ValueDecodeError::Malformed)?;
            found.push(body);
            rest = &after[4 + len..];
        }
        if !rest.is_empty() {
            return Err(ValueDecodeError::Fields(t));
        }
        Ok(match t {
            SecretType::Generic => SecretValue::Generic(SecretBytes::copy_from(found[0])),
            SecretType::Git => SecretValue::Git {
                username: text(found[0], "username")?.to_owned(),
                token: SecretString::copy_from(text(found[1], "token")?),
                url: text(found[2], "url")?.to_owned(),
            },
            SecretType::Registry => SecretValue::Registry {
                username: text(found[0], "username")?.to_owned(),
                password: SecretString::copy_from(text(found[1], "password")?),
                server_address: text(found[2], "server_address")?.to_owned(),
            },
        })
    }
}

fn text<'a>(bytes: &'a [u8], name: &'static str) -> Result<&'a str, ValueDecodeError> {
    std::str::from_utf8(bytes).map_err(|_| ValueDecodeError::NotUtf8(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn generic(b: &[u8]) -> SecretValue {
        SecretValue::Generic(SecretBytes::copy_from(b))
    }

    #[test]
    fn debug_shows_type_only() {
        let v =
            SecretValue::Git { username: "u".into(), token: SecretString::copy_from("pat-123"), url: String::new() };
        assert_eq!(format!("{v:?}"), "SecretValue::git([REDACTED])");
    }

    #[test]
    fn decode_rejects_garbage() {
        let table: &[(&[u8], SecretType)] = &[
            (b"", SecretType::Generic),
            (b"\x02\x01\0\0\0\0", SecretType::Generic),
            (b"\x01\x01\0\0\0\x05ab", SecretType::Generic),
            (b"\x01\x01\0\0\0\x01a\x01", SecretType::Generic),
            (b"\x01\x02\0\0\0\0", SecretType::Generic),
        ];
        for (bytes, t) in table {
            assert!(SecretValue::decode(*t, bytes).is_err(), "{bytes:?}");
        }
        let git = SecretValue::Git { username: "u".into(), token: SecretString::copy_from("t"), url: String::new() };
        assert_eq!(
            SecretValue::decode(SecretType::Registry, git.encode().expose_secret()),
            Err(ValueDecodeError::Fields(SecretType::Registry))
        );
    }

    #[test]
    fn git_values_from_before_the_url_field_still_open() {
        // Format 1 as written by hush 0.1: username and token only.
        let old = b"\x01\x02\0\0\0\x01u\x03\0\0\0\x03pat";
        let v = SecretValue::decode(SecretType::Git, old).unwrap();
        assert_eq!(
            v,
            SecretValue::Git { username: "u".into(), token: SecretString::copy_from("pat"), url: String::new() }
        );
        // A url tag without a body is still malformed.
        assert!(SecretValue::decode(SecretType::Git, b"\x01\x02\0\0\0\x01u\x03\0\0\0\x03pat\x06").is_err());
    }

    proptest! {
        #[test]
        fn generic_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let v = generic(&bytes);
            prop_assert_eq!(SecretValue::decode(SecretType::Generic, v.encode().expose_secret()).unwrap(), v);
        }

        #[test]
        fn registry_round_trip(u in ".{0,40}", p in ".{0,40}", s in ".{0,40}") {
            let v = SecretValue::Registry { username: u, password: SecretString::new(p), server_address: s };
            prop_assert_eq!(SecretValue::decode(SecretType::Registry, v.encode().expose_secret()).unwrap(), v);
        }

        #[test]
        fn git_round_trip(u in ".{0,40}", t in ".{0,40}", url in ".{0,40}") {
            let v = SecretValue::Git { username: u, token: SecretString::new(t), url };
            prop_assert_eq!(SecretValue::decode(SecretType::Git, v.encode().expose_secret()).unwrap(), v);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            for t in SecretType::ALL {
                let _ = SecretValue::decode(t, &bytes);
            }
        }
    }
}
