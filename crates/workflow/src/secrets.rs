//! Where an instance's secrets come from, and the set of every value an
//! instance tree resolved, which everything it prints is scrubbed with.
//!
//! [`SecretSource`] is the runner's view of hush: [`crate::server_source`]
//! implements it over the REST client. The values that reach jq are
//! ordinary strings for as long as one `input` is evaluated (jaq has no
//! zeroizing values); the set kept for scrubbing holds zeroizing bytes.

use std::sync::{Arc, Mutex, PoisonError};

use async_trait::async_trait;
use hush_core::SecretBytes;
use hush_redact::Redactor;
use serde_json::{Map, Value};

/// A secret as fetched: its type and its fields.
pub struct FetchedSecret {
    /// `generic`, `git` or `registry`.
    pub secret_type: String,
    /// Fields by name (`value`; `username`, `token`, `url`; `username`,
    /// `password`, `server_address`).
    pub fields: Vec<(String, SecretBytes)>,
}

impl std::fmt::Debug for FetchedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.fields.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("FetchedSecret").field("secret_type", &self.secret_type).field("fields", &names).finish()
    }
}

/// Fields that identify rather than authenticate: not scrubbed, so logs
/// stay readable.
const PUBLIC_FIELDS: [&str; 3] = ["username", "url", "server_address"];

impl FetchedSecret {
    /// The value jq sees under `.secrets.NAME`: a generic secret's text, or
    /// an object of a typed secret's fields. `None` if a field is not UTF-8.
    pub fn to_json(&self) -> Option<Value> {
        let text = |b: &SecretBytes| std::str::from_utf8(b.expose_secret()).ok().map(str::to_owned);
        if self.secret_type == "generic" {
            return self.fields.iter().find(|(n, _)| n == "value").and_then(|(_, v)| text(v)).map(Value::String);
        }
        let mut map = Map::new();
        for (name, value) in &self.fields {
            map.insert(name.clone(), Value::String(text(value)?));
        }
        Some(Value::Object(map))
    }

    /// The fields that are scrubbed from output.
    pub fn sensitive(&self) -> impl Iterator<Item = &SecretBytes> {
        self.fields.iter().filter(|(n, _)| !PUBLIC_FIELDS.contains(&n.as_str())).map(|(_, v)| v)
    }
}

/// Credentials for pulling an image.
pub struct RegistryLogin {
    /// The registry the entry is for (its URL).
    pub registry: String,
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: SecretBytes,
}

impl std::fmt::Debug for RegistryLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryLogin").field("registry", &self.registry).finish_non_exhaustive()
    }
}

/// Why a lookup failed. Messages never hold a value.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SourceError {
    /// There is no such secret.
    #[error("{0}")]
    NotFound(String),
    /// Anything else: denied, unreachable, not valid.
    #[error("{0}")]
    Failed(String),
}

/// The scrubber could not take more values.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[error("the scrubber cannot take these values: {0}")]
pub struct ScrubLimit(pub String);

/// The secrets and registry credentials of one namespace.
#[async_trait]
pub trait SecretSource: Send + Sync + std::fmt::Debug {
    /// Reads a secret; `context` goes to the audit log.
    async fn secret(&self, name: &str, context: &str) -> Result<FetchedSecret, SourceError>;
    /// Whether a secret exists, without reading its value.
    async fn exists(&self, name: &str) -> Result<bool, SourceError>;
    /// The registry entry a pull of `image` uses, if any.
    async fn registry_login(&self, image: &str, context: &str) -> Result<Option<RegistryLogin>, SourceError>;
}

/// Every value an instance (and its subflows) resolved, and a redactor
/// built from them. Shared by every part of an instance tree.
#[derive(Clone, Default)]
pub struct SecretSet {
    inner: Arc<Mutex<Inner>>,
}

#[derive(Default)]
struct Inner {
    values: Vec<SecretBytes>,
    redactor: Option<Redactor>,
}

impl std::fmt::Debug for SecretSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let count = self.inner.lock().unwrap_or_else(PoisonError::into_inner).values.len();
        f.debug_struct("SecretSet").field("values", &count).finish()
    }
}

impl SecretSet {
    /// Adds values to scrub. If the scrubber cannot take them (the patterns
    /// would be too large), the values known before stay masked and the
    /// caller must not use the new ones.
    pub fn add<'a>(&self, values: impl IntoIterator<Item = &'a SecretBytes>) -> Result<(), ScrubLimit> {
        let mut inner = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let known = inner.values.len();
        for v in values {
            if !v.expose_secret().is_empty() && !inner.values.iter().any(|seen| seen == v) {
                inner.values.push(v.clone());
            }
        }
        if inner.values.len() == known {
            return Ok(());
        }
        match Redactor::builder().secrets(inner.values.iter().map(|v| v.expose_secret().to_vec())).build() {
            Ok(r) => {
                inner.redactor = Some(r);
                Ok(())
            }
            Err(e) => {
                inner.values.truncate(known);
                Err(ScrubLimit(e.to_string()))
            }
        }
    }

    /// The current redactor, if any value is known.
    pub fn redactor(&self) -> Option<Redactor> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner).redactor.clone()
    }

    /// `text` with every known value masked.
    pub fn scrub(&self, text: &str) -> String {
        match self.redactor() {
            Some(r) => String::from_utf8_lossy(&r.redact(text.as_bytes())).into_owned(),
            None => text.to_owned(),
        }
    }

    /// Whether `text` holds a known value.
    pub fn holds_secret(&self, text: &str) -> bool {
        self.redactor().is_some_and(|r| r.redact(text.as_bytes()) != text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes(s: &str) -> SecretBytes {
        SecretBytes::copy_from(s.as_bytes())
    }

    #[test]
    fn scrubs_every_added_value() {
        let set = SecretSet::default();
        assert_eq!(set.scrub("a tok-1 b"), "a tok-1 b");
        set.add([&bytes("tok-1")]).unwrap();
        set.add([&bytes("pass-2"), &bytes("tok-1")]).unwrap();
        assert_eq!(set.scrub("a tok-1 b pass-2"), "a *** b ***");
        assert!(set.holds_secret("xpass-2x"));
        assert!(!set.holds_secret("nothing"));
    }

    #[test]
    fn typed_secrets_become_objects_and_scrub_only_credentials() {
        let s = FetchedSecret {
            secret_type: "registry".into(),
            fields: vec![("username".into(), bytes("bob")), ("password".into(), bytes("pw"))],
        };
        assert_eq!(s.to_json(), Some(serde_json::json!({"username": "bob", "password": "pw"})));
        let scrubbed: Vec<&[u8]> = s.sensitive().map(SecretBytes::expose_secret).collect();
        assert_eq!(scrubbed, vec![b"pw".as_slice()]);
        let g = FetchedSecret { secret_type: "generic".into(), fields: vec![("value".into(), bytes("v"))] };
        assert_eq!(g.to_json(), Some(Value::String("v".into())));
        let binary = FetchedSecret {
            secret_type: "generic".into(),
            fields: vec![("value".into(), SecretBytes::copy_from(&[0xff]))],
        };
        assert_eq!(binary.to_json(), None);
    }
}
