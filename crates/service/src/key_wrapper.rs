//! What wraps the keys in the key store: a local root key, or an external
//! KMS (Vault/OpenBao Transit), so that hush never holds a root key on disk.
//!
//! With Transit, every wrapped key (namespace data keys, the audit key, the
//! token key) is `transit:` followed by the ciphertext of
//! `transit/encrypt/KEY`, whose plaintext is the key behind its binding (what
//! it is for: namespace and version, or its use). Unwrapping checks the
//! binding, so a wrapped key moved to another row does not open there.
//! Transit's own audit log then records every unwrap.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hush_core::SecretString;
use hush_crypto::RootKey;
use serde_json::{Value, json};
use zeroize::{Zeroize, Zeroizing};

/// The prefix of a key wrapped by Transit.
const TRANSIT_PREFIX: &[u8] = b"transit:";

/// Where Transit is.
#[derive(Clone)]
pub struct TransitConfig {
    /// `http(s)://host:port` of Vault or OpenBao.
    pub addr: String,
    /// The Transit mount (usually `transit`).
    pub mount: String,
    /// The Transit key's name.
    pub key: String,
    /// `VAULT_TOKEN`.
    pub token: SecretString,
    /// How the server's certificate is checked (`VAULT_CACERT`) and the
    /// client certificate (`VAULT_CLIENT_CERT`/`VAULT_CLIENT_KEY`), if any.
    pub tls: hush_tls::ClientTls,
}

impl std::fmt::Debug for TransitConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TransitConfig")
            .field("addr", &self.addr)
            .field("mount", &self.mount)
            .field("key", &self.key)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

/// A key could not be wrapped or unwrapped.
#[derive(Debug, thiserror::Error)]
pub enum WrapError {
    /// The KMS could not be reached, refused, or answered nonsense.
    #[error("the KMS ({0})")]
    Kms(String),
    /// The wrapped key does not open under this wrapper (another root key,
    /// another KMS key, or another binding).
    #[error("the wrapped key does not open: {0}")]
    Mismatch(&'static str),
    /// Randomness failed.
    #[error(transparent)]
    Random(#[from] hush_crypto::RandomError),
}

/// The wrapping key of an installation.
#[derive(Debug)]
pub enum KeyWrapper {
    /// A root key held in memory.
    Local(RootKey),
    /// Vault/OpenBao Transit.
    Transit(Transit),
    /// During a root rotation: wraps with `new`, unwraps with `new` or `old`.
    Rotating {
        /// The wrapping key being moved to.
        new: Arc<KeyWrapper>,
        /// The one being left.
        old: Arc<KeyWrapper>,
    },
}

/// Where an installation's root key comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RootOrigin {
    /// The key file (rewritten by a root rotation).
    File(std::path::PathBuf),
    /// The key file, with a key store other processes share (PostgreSQL):
    /// an online rotation would leave them wrapping with the old key.
    SharedFile(std::path::PathBuf),
    /// Given by the operator: `HUSH_ROOT_KEY` or a root key file hush only
    /// reads (`--root-key-file`). A rotation cannot change it.
    Supplied,
    /// The KMS.
    Kms,
}

/// A Transit client.
#[derive(Debug)]
pub struct Transit {
    config: TransitConfig,
    http: reqwest::Client,
}

impl KeyWrapper {
    /// The same kind of wrapping key, new: a fresh root key, or the same
    /// Transit key (whose encryptions use its newest version).
    pub fn successor(&self) -> Result<KeyWrapper, WrapError> {
        match self {
            KeyWrapper::Local(_) => Ok(KeyWrapper::Local(RootKey::generate()?)),
            KeyWrapper::Transit(t) => KeyWrapper::transit(t.config.clone()),
            KeyWrapper::Rotating { new, .. } => new.successor(),
        }
    }

    /// A Transit wrapper.
    pub fn transit(config: TransitConfig) -> Result<KeyWrapper, WrapError> {
        let http = hush_tls::http_client(&config.tls)
            .map_err(|e| WrapError::Kms(e.to_string()))?
            // A refused client certificate is named only over HTTP/1.1 (see hush_tls::http_client).
            .http1_only()
            // The token and (on a 307) a key's plaintext must not follow a redirect anywhere.
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(15))
            .build()
            .map_err(|e| WrapError::Kms(format!("cannot set up HTTP: {e}")))?;
        Ok(KeyWrapper::Transit(Transit { config, http }))
    }

    /// Names the wrapping key without revealing anything: the root key's
    /// fingerprint, or the Transit key and server.
    pub fn describe(&self) -> String {
        match self {
            KeyWrapper::Local(root) => root.fingerprint(),
            KeyWrapper::Transit(t) => format!("transit key {} at {}", t.config.key, t.config.addr),
            KeyWrapper::Rotating { new, .. } => new.describe(),
        }
    }

    /// Wraps a 32-byte key bound to `binding`.
    pub async fn wrap(&self, key: &[u8; 32], binding: &[u8]) -> Result<Vec<u8>, WrapError> {
        match self {
            KeyWrapper::Local(root) => Ok(root.wrap(key, binding)?),
            KeyWrapper::Transit(t) => t.encrypt(key, binding).await,
            KeyWrapper::Rotating { new, .. } => Box::pin(new.wrap(key, binding)).await,
        }
    }

    /// Unwraps a key made by [`KeyWrapper::wrap`] with the same binding.
    pub async fn unwrap(&self, wrapped: &[u8], binding: &[u8]) -> Result<Zeroizing<[u8; 32]>, WrapError> {
        let by_transit = wrapped.starts_with(TRANSIT_PREFIX);
        match self {
            KeyWrapper::Rotating { new, old } => match Box::pin(new.unwrap(wrapped, binding)).await {
                Ok(k) => Ok(k),
                Err(WrapError::Mismatch(_)) => Box::pin(old.unwrap(wrapped, binding)).await,
                Err(e) => Err(e),
            },
            KeyWrapper::Local(_) if by_transit => {
                Err(WrapError::Mismatch("it was wrapped by a KMS; start hush with --kms"))
            }
            KeyWrapper::Local(root) => {
                root.unwrap(wrapped, binding).map_err(|_| WrapError::Mismatch("not under this root key"))
            }
            KeyWrapper::Transit(_) if !by_transit => {
                Err(WrapError::Mismatch("it was wrapped by a local root key, not the KMS"))
            }
            KeyWrapper::Transit(t) => t.decrypt(&wrapped[TRANSIT_PREFIX.len()..], binding).await,
        }
    }
}

impl Transit {
    fn url(&self, op: &str) -> String {
        format!("{}/v1/{}/{op}/{}", self.config.addr.trim_end_matches('/'), self.config.mount, self.config.key)
    }

    async fn call(&self, op: &str, body: &Value) -> Result<Value, WrapError> {
        let response = self
            .http
            .post(self.url(op))
            .header("X-Vault-Token", self.config.token.expose_secret())
            .json(body)
            .send()
            .await
            .map_err(|e| {
                WrapError::Kms(format!("{} cannot be reached: {}", self.config.addr, self.config.tls.explain(&e)))
            })?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| WrapError::Kms(format!("the answer broke off: {e}")))?;
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        if let Ok(mut owned) = bytes.try_into_mut() {
            owned.as_mut().zeroize();
        }
        match status.as_u16() {
            200 => parsed.ok_or_else(|| WrapError::Kms("the answer is not JSON".into())),
            403 => Err(WrapError::Kms(format!(
                "permission denied: VAULT_TOKEN may not use transit/{op}/{}",
                self.config.key
            ))),
            _ => {
                // Vault's error texts name paths and keys, never plaintext.
                let errors = parsed
                    .as_ref()
                    .and_then(|v| v.get("errors"))
                    .and_then(Value::as_array)
                    .map(|e| e.iter().filter_map(Value::as_str).collect::<Vec<_>>().join("; "))
                    .unwrap_or_default();
                Err(WrapError::Kms(format!("transit/{op}/{} answered {status}: {errors}", self.config.key)))
            }
        }
    }

    async fn encrypt(&self, key: &[u8; 32], binding: &[u8]) -> Result<Vec<u8>, WrapError> {
        let mut framed = Zeroizing::new(Vec::with_capacity(2 + binding.len() + 32));
        framed.extend_from_slice(&(binding.len() as u16).to_be_bytes());
        framed.extend_from_slice(binding);
        framed.extend_from_slice(key);
        let mut plaintext = Zeroizing::new(STANDARD.encode(&*framed));
        let mut body = json!({ "plaintext": plaintext.as_str() });
        plaintext.zeroize();
        let answer = self.call("encrypt", &body).await;
        if let Some(Value::String(s)) = body.get_mut("plaintext") {
            s.zeroize();
        }
        let answer = answer?;
        let ciphertext = answer
            .pointer("/data/ciphertext")
            .and_then(Value::as_str)
            .ok_or_else(|| WrapError::Kms("transit/encrypt answered without data.ciphertext".into()))?;
        let mut out = TRANSIT_PREFIX.to_vec();
        out.extend_from_slice(ciphertext.as_bytes());
        Ok(out)
    }

    async fn decrypt(&self, ciphertext: &[u8], binding: &[u8]) -> Result<Zeroizing<[u8; 32]>, WrapError> {
        let ciphertext =
            std::str::from_utf8(ciphertext).map_err(|_| WrapError::Mismatch("malformed Transit ciphertext"))?;
        let mut answer = self.call("decrypt", &json!({ "ciphertext": ciphertext })).await?;
        let encoded = match answer.pointer_mut("/data/plaintext") {
            Some(Value::String(s)) => Zeroizing::new(std::mem::take(s)),
            _ => return Err(WrapError::Kms("transit/decrypt answered without data.plaintext".into())),
        };
        let framed = Zeroizing::new(
            STANDARD.decode(encoded.as_bytes()).map_err(|_| WrapError::Mismatch("malformed plaintext"))?,
        );
        let Some((len, rest)) = framed.split_first_chunk::<2>() else {
            return Err(WrapError::Mismatch("malformed plaintext"));
        };
        let len = usize::from(u16::from_be_bytes(*len));
        if rest.len() != len + 32 || &rest[..len] != binding {
            return Err(WrapError::Mismatch("it is bound to another key or namespace"));
        }
        let mut key = Zeroizing::new([0u8; 32]);
        key.copy_from_slice(&rest[len..]);
        Ok(key)
    }
}
