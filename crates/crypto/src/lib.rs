//! hush's key hierarchy and the primitives built on it.
//!
//! - [`RootKey`]: the 256-bit key that wraps everything below it. It lives in a
//!   key file, an environment variable or (later) an external KMS, never in
//!   either database.
//! - [`DataKey`]: a namespace's versioned data key, stored only wrapped by the
//!   root key (in the key store, a different database from the data store).
//! - [`envelope`]: XChaCha20-Poly1305 with a random 192-bit nonce. Every secret
//!   version is sealed on its own, with associated data ([`VersionIdentity`])
//!   that binds the ciphertext to its namespace, secret, version, type and key
//!   version, so a ciphertext moved to another row fails to open.
//! - [`token`]: API token generation and parsing, and the [`TokenKey`] that
//!   MACs tokens and token records (a forged or edited record does not verify).
//! - [`AuditKey`]: the MAC key that chains audit events, so an edited,
//!   reordered or removed event is detected.
//!
//! This crate does no I/O: where keys are kept is the service's business.

mod audit_key;
mod data_key;
pub mod envelope;
mod identity;
mod mac_key;
mod root_key;
pub mod token;

pub use audit_key::{AUDIT_GENESIS, AUDIT_KEY_BINDING, AuditKey};
pub use data_key::{DataKey, data_key_binding};
pub use envelope::OpenError;
pub use identity::VersionIdentity;
pub use root_key::{KeyParseError, RootKey};
pub use token::{TOKEN_KEY_BINDING, TokenKey};

/// Fills `buf` from the operating system's CSPRNG.
///
/// Failure means the OS cannot supply randomness; nothing in hush can continue
/// safely then, so callers treat it as fatal for the request.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut buf = [0u8; N];
    getrandom::fill(&mut buf).map_err(|_| RandomError)?;
    Ok(buf)
}

/// The operating system refused to provide random bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the operating system's random number generator failed")]
pub struct RandomError;

/// A fresh random identifier: 16 bytes as 32 lowercase hex characters.
pub fn random_id() -> Result<String, RandomError> {
    Ok(hex(&random_bytes::<16>()?))
}

/// A stable public identifier derived from public parts: lowercase hex of
/// SHA-256 over the length-prefixed parts. For ids that must be the same
/// every time the same thing is named (a registry entry's id), never for
/// anything secret.
pub fn derived_id(parts: &[&str]) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex(&hasher.finalize())
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
