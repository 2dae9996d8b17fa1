//! The identity a secret version's ciphertext is bound to (its AEAD associated data).

use hush_core::SecretType;

/// Where a ciphertext belongs. Opening it anywhere else fails authentication.
///
/// `secret_id` is random per secret creation, so a deleted and re-created
/// secret of the same name does not accept its predecessor's ciphertexts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionIdentity<'a> {
    /// Random id of the namespace (not its name: names can be reused).
    pub namespace_id: &'a str,
    /// Random id of the secret.
    pub secret_id: &'a str,
    /// The secret's name.
    pub name: &'a str,
    /// The version number.
    pub version: u64,
    /// The secret's type.
    pub secret_type: SecretType,
    /// Version of the namespace data key that sealed it.
    pub key_version: u32,
}

impl VersionIdentity<'_> {
    /// Canonical, unambiguous encoding: a domain tag, then length-prefixed fields.
    pub fn to_aad(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(64 + self.namespace_id.len() + self.secret_id.len() + self.name.len());
        out.extend_from_slice(b"hush/secret-version/v1\0");
        for part in [self.namespace_id.as_bytes(), self.secret_id.as_bytes(), self.name.as_bytes()] {
            out.extend_from_slice(&(part.len() as u32).to_be_bytes());
            out.extend_from_slice(part);
        }
        out.extend_from_slice(&self.version.to_be_bytes());
        out.push(self.secret_type.code());
        out.extend_from_slice(&self.key_version.to_be_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_changes_the_aad() {
        let base = VersionIdentity {
            namespace_id: "ns",
            secret_id: "sid",
            name: "n",
            version: 1,
            secret_type: SecretType::Generic,
            key_version: 1,
        };
        let variants = [
            VersionIdentity { namespace_id: "ns2", ..base },
            VersionIdentity { secret_id: "sid2", ..base },
            VersionIdentity { name: "n2", ..base },
            VersionIdentity { version: 2, ..base },
            VersionIdentity { secret_type: SecretType::Git, ..base },
            VersionIdentity { key_version: 2, ..base },
            // Length prefixes keep field boundaries unambiguous.
            VersionIdentity { namespace_id: "n", secret_id: "ssid", ..base },
        ];
        for v in variants {
            assert_ne!(v.to_aad(), base.to_aad(), "{v:?}");
        }
    }
}
