//! A namespace's data key: seals and opens secret versions.

use std::fmt;

use hush_core::SecretValue;
use zeroize::Zeroizing;

use crate::envelope::{self, OpenError};
use crate::{RandomError, RootKey, VersionIdentity, random_bytes};

/// One version of a namespace's data key. Prints as `[REDACTED]`.
#[derive(Clone)]
pub struct DataKey(Zeroizing<[u8; 32]>);

/// What a wrapped data key is bound to: its namespace and version.
pub fn data_key_binding(namespace_id: &str, key_version: u32) -> Vec<u8> {
    let mut b = b"hush/data-key/v1\0".to_vec();
    b.extend_from_slice(namespace_id.as_bytes());
    b.push(0);
    b.extend_from_slice(&key_version.to_be_bytes());
    b
}

/// Why a stored version could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ValueOpenError {
    /// The envelope did not authenticate.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// It opened but does not decode as its type.
    #[error(transparent)]
    Decode(#[from] hush_core::ValueDecodeError),
}

impl DataKey {
    /// A new random data key.
    pub fn generate() -> Result<Self, RandomError> {
        Ok(Self(Zeroizing::new(random_bytes()?)))
    }

    /// Wraps this key under `root` for storage in the key store.
    pub fn wrap(&self, root: &RootKey, namespace_id: &str, key_version: u32) -> Result<Vec<u8>, RandomError> {
        root.wrap(&self.0, &data_key_binding(namespace_id, key_version))
    }

    /// Unwraps a stored key; fails if it belongs to another namespace or version, or another root key.
    pub fn unwrap(root: &RootKey, wrapped: &[u8], namespace_id: &str, key_version: u32) -> Result<Self, OpenError> {
        root.unwrap(wrapped, &data_key_binding(namespace_id, key_version)).map(Self)
    }

    /// The key's bytes, for wrapping by an external KMS (never stored as they are).
    pub fn raw(&self) -> &[u8; 32] {
        &self.0
    }

    /// A key unwrapped by an external KMS.
    pub fn from_raw(bytes: Zeroizing<[u8; 32]>) -> Self {
        Self(bytes)
    }

    /// Encrypts one secret version.
    pub fn seal_value(&self, identity: &VersionIdentity<'_>, value: &SecretValue) -> Result<Vec<u8>, RandomError> {
        debug_assert_eq!(identity.secret_type, value.secret_type());
        envelope::seal(&self.0, &identity.to_aad(), value.encode().expose_secret())
    }

    /// Decrypts one secret version.
    pub fn open_value(&self, identity: &VersionIdentity<'_>, sealed: &[u8]) -> Result<SecretValue, ValueOpenError> {
        let plain = envelope::open(&self.0, &identity.to_aad(), sealed)?;
        Ok(SecretValue::decode(identity.secret_type, plain.expose_secret())?)
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey([REDACTED])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hush_core::{SecretBytes, SecretString, SecretType};

    fn id<'a>(ns: &'a str, name: &'a str, version: u64) -> VersionIdentity<'a> {
        VersionIdentity {
            namespace_id: ns,
            secret_id: "s1",
            name,
            version,
            secret_type: SecretType::Generic,
            key_version: 1,
        }
    }

    #[test]
    fn a_ciphertext_moved_to_another_row_fails() {
        let key = DataKey::generate().unwrap();
        let v = SecretValue::Generic(SecretBytes::copy_from(b"hunter2"));
        let sealed = key.seal_value(&id("ns1", "a", 1), &v).unwrap();
        assert_eq!(key.open_value(&id("ns1", "a", 1), &sealed).unwrap(), v);
        for other in [id("ns2", "a", 1), id("ns1", "b", 1), id("ns1", "a", 2)] {
            assert!(key.open_value(&other, &sealed).is_err(), "{other:?}");
        }
        let typed = VersionIdentity { secret_type: SecretType::Git, ..id("ns1", "a", 1) };
        assert!(key.open_value(&typed, &sealed).is_err());
    }

    #[test]
    fn wrapping_binds_namespace_and_version() {
        let root = RootKey::generate().unwrap();
        let key = DataKey::generate().unwrap();
        let wrapped = key.wrap(&root, "ns1", 1).unwrap();
        assert!(DataKey::unwrap(&root, &wrapped, "ns1", 1).is_ok());
        assert!(DataKey::unwrap(&root, &wrapped, "ns2", 1).is_err());
        assert!(DataKey::unwrap(&root, &wrapped, "ns1", 2).is_err());
        assert!(DataKey::unwrap(&RootKey::generate().unwrap(), &wrapped, "ns1", 1).is_err());
        let git = SecretValue::Git { username: "u".into(), token: SecretString::copy_from("t"), url: String::new() };
        let ident = VersionIdentity { secret_type: SecretType::Git, ..id("ns1", "g", 1) };
        let unwrapped = DataKey::unwrap(&root, &wrapped, "ns1", 1).unwrap();
        assert_eq!(unwrapped.open_value(&ident, &key.seal_value(&ident, &git).unwrap()).unwrap(), git);
    }
}
