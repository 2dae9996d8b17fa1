//! Cache keys for secrets: a value a build cache can key on that changes when
//! the secret changes but tells nothing about it.
//!
//! With an explicit `?cacheKey=K`, the key is a SHA-256 of K: the secret can
//! rotate and the cache stays. Otherwise it is Argon2id of the plaintext under
//! a per-installation salt: equal values give equal keys on one installation,
//! and the key cannot be tested against guesses without the salt and a
//! deliberately slow hash per guess.

use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use argon2::{Algorithm, Argon2, Params, Version};
use hush_core::SecretBytes;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Argon2id cost: OWASP's baseline (19 MiB, 2 passes, 1 lane).
const MEMORY_KIB: u32 = 19 * 1024;
const PASSES: u32 = 2;
const LANES: u32 = 1;
const KEY_BYTES: usize = 32;

/// Why a cache key could not be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CacheKeyError {
    /// The salt file could not be read or created.
    #[error("cache salt {path}: {source}")]
    Salt {
        /// The salt file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The salt file exists but is not 64 hex digits.
    #[error("cache salt {0}: not 64 hex digits (delete it to make a new one; every cache key changes)")]
    BadSalt(PathBuf),
    /// Neither `HUSH_CACHE_SALT` nor a home or config directory is available.
    #[error("no place for the cache salt: set HUSH_CACHE_SALT, XDG_CONFIG_HOME or HOME")]
    NoConfigDir,
    /// The hash failed (cannot happen with the fixed parameters).
    #[error("argon2: {0}")]
    Hash(String),
}

/// The per-installation salt.
pub struct CacheSalt(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for CacheSalt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheSalt([REDACTED])")
    }
}

impl CacheSalt {
    /// A salt from any text (`HUSH_CACHE_SALT`): its SHA-256.
    pub fn from_text(text: &str) -> CacheSalt {
        CacheSalt(Zeroizing::new(Sha256::digest(text.as_bytes()).into()))
    }

    /// `HUSH_CACHE_SALT` if set, otherwise the salt file under the user's
    /// config directory, created (0600, in a 0700 directory) on first use.
    pub fn load_default() -> Result<CacheSalt, CacheKeyError> {
        if let Some(text) = std::env::var_os("HUSH_CACHE_SALT").filter(|v| !v.is_empty()) {
            return Ok(CacheSalt::from_text(&text.to_string_lossy()));
        }
        CacheSalt::load_or_create(&default_salt_path()?)
    }

    /// Reads the salt at `path`, creating it if it does not exist.
    pub fn load_or_create(path: &Path) -> Result<CacheSalt, CacheKeyError> {
        let io = |source| CacheKeyError::Salt { path: path.to_owned(), source };
        match std::fs::read_to_string(path) {
            Ok(text) => {
                let text = Zeroizing::new(text);
                parse_salt(text.trim()).ok_or_else(|| CacheKeyError::BadSalt(path.to_owned()))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if let Some(dir) = path.parent() {
                    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
                }
                let mut salt = Zeroizing::new([0u8; 32]);
                getrandom::fill(&mut salt[..]).map_err(|e| io(std::io::Error::other(e.to_string())))?;
                let hex = Zeroizing::new(salt.iter().map(|b| format!("{b:02x}")).collect::<String>());
                match std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path) {
                    Ok(mut file) => {
                        file.write_all(hex.as_bytes()).and_then(|()| file.sync_all()).map_err(io)?;
                        Ok(CacheSalt(salt))
                    }
                    // Another process created it first: use theirs.
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => CacheSalt::load_or_create(path),
                    Err(e) => Err(io(e)),
                }
            }
            Err(e) => Err(io(e)),
        }
    }
}

fn parse_salt(hex: &str) -> Option<CacheSalt> {
    if hex.len() != 64 {
        return None;
    }
    let mut salt = Zeroizing::new([0u8; 32]);
    for (i, byte) in salt.iter_mut().enumerate() {
        *byte = u8::from_str_radix(hex.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(CacheSalt(salt))
}

/// `$XDG_CONFIG_HOME/hush/cache-salt`, else `$HOME/.config/hush/cache-salt`.
pub fn default_salt_path() -> Result<PathBuf, CacheKeyError> {
    let config = std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").filter(|v| !v.is_empty()).map(|h| PathBuf::from(h).join(".config")))
        .ok_or(CacheKeyError::NoConfigDir)?;
    Ok(config.join("hush").join("cache-salt"))
}

/// The key for an explicit `cacheKey`.
pub fn for_explicit_key(cache_key: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"hush cache key v1\0");
    hasher.update(cache_key.as_bytes());
    format!("sha256:{}", hex(&hasher.finalize()))
}

/// The key for a plaintext value.
pub fn for_value(value: &SecretBytes, salt: &CacheSalt) -> Result<String, CacheKeyError> {
    let params =
        Params::new(MEMORY_KIB, PASSES, LANES, Some(KEY_BYTES)).map_err(|e| CacheKeyError::Hash(e.to_string()))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; KEY_BYTES]);
    argon
        .hash_password_into(value.expose_secret(), &salt.0[..], &mut key[..])
        .map_err(|e| CacheKeyError::Hash(e.to_string()))?;
    Ok(format!("argon2id:{}", hex(&key[..])))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_equal_keys_rotation_changes_them() {
        let salt = CacheSalt::from_text("test salt");
        let a = for_value(&SecretBytes::copy_from(b"s3cret-value"), &salt).unwrap();
        let b = for_value(&SecretBytes::copy_from(b"s3cret-value"), &salt).unwrap();
        let rotated = for_value(&SecretBytes::copy_from(b"s3cret-value2"), &salt).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, rotated);
        assert!(a.starts_with("argon2id:") && a.len() == "argon2id:".len() + 64, "{a}");
        assert!(!a.contains("s3cret"));
        let other_salt = for_value(&SecretBytes::copy_from(b"s3cret-value"), &CacheSalt::from_text("x")).unwrap();
        assert_ne!(a, other_salt, "the salt must change the key");
    }

    #[test]
    fn explicit_keys_hash_the_key_only() {
        assert_eq!(for_explicit_key("v1"), for_explicit_key("v1"));
        assert_ne!(for_explicit_key("v1"), for_explicit_key("v2"));
        assert!(for_explicit_key("v1").starts_with("sha256:"));
    }

    #[test]
    fn salt_file_is_created_private_and_reused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cfg/hush/cache-salt");
        let first = CacheSalt::load_or_create(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let dir_mode = std::fs::metadata(path.parent().unwrap()).unwrap().permissions().mode() & 0o777;
        assert_eq!(dir_mode, 0o700);
        let again = CacheSalt::load_or_create(&path).unwrap();
        assert_eq!(&first.0[..], &again.0[..]);
        std::fs::write(&path, "not hex").unwrap();
        assert!(matches!(CacheSalt::load_or_create(&path), Err(CacheKeyError::BadSalt(_))));
    }
}
