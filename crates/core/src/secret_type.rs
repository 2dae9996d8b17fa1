//! The three secret types. A secret's type is fixed when it is created.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Which fields a secret carries (DESIGN.md, "Secret").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretType {
    /// One opaque value: text or bytes, multi-line allowed.
    Generic,
    /// `username` and `token` for cloning repositories.
    Git,
    /// `username`, `password`, `server_address` (empty means Docker Hub).
    Registry,
}

/// A type name that is not one of `generic`, `git`, `registry`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown secret type; expected one of generic, git, registry")]
pub struct UnknownSecretType;

impl SecretType {
    /// Every type, in documentation order.
    pub const ALL: [SecretType; 3] = [SecretType::Generic, SecretType::Git, SecretType::Registry];

    /// The lowercase wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretType::Generic => "generic",
            SecretType::Git => "git",
            SecretType::Registry => "registry",
        }
    }

    /// A stable one-byte code, bound into ciphertexts' associated data.
    pub fn code(self) -> u8 {
        match self {
            SecretType::Generic => 1,
            SecretType::Git => 2,
            SecretType::Registry => 3,
        }
    }
}

impl fmt::Display for SecretType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SecretType {
    type Err = UnknownSecretType;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SecretType::ALL.into_iter().find(|t| t.as_str() == s).ok_or(UnknownSecretType)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_codes_are_distinct() {
        for t in SecretType::ALL {
            assert_eq!(t.as_str().parse::<SecretType>(), Ok(t));
        }
        let codes: std::collections::HashSet<u8> = SecretType::ALL.iter().map(|t| t.code()).collect();
        assert_eq!(codes.len(), 3);
        assert!("Generic".parse::<SecretType>().is_err());
        assert!("".parse::<SecretType>().is_err());
    }
}
