//! `vault://` references: a field of a Vault or OpenBao KV v2 secret, read
//! with `GET {VAULT_ADDR}/v1/{mount}/data/{path}` and `X-Vault-Token:
//! {VAULT_TOKEN}` (`X-Vault-Namespace` from `VAULT_NAMESPACE` when set).
//! The mount is the reference's, else `VAULT_PATH_PREFIX`, else `secret`.
//!
//! The response body is wiped once the field is taken out; messages name
//! the reference and Vault's status, never a value.

use std::time::Duration;

use hush_core::SecretBytes;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;
use zeroize::Zeroize;

use crate::resolver::ResolveError;

/// The KV v2 mount when neither the reference nor `VAULT_PATH_PREFIX` names one.
pub const DEFAULT_MOUNT: &str = "secret";

/// Characters escaped in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn fail(reference: &str, reason: impl Into<String>) -> ResolveError {
    ResolveError::Vault { reference: reference.to_owned(), reason: reason.into() }
}

/// Reads `field` of the secret at `mount/path`.
pub async fn read(reference: &str, mount: Option<&str>, path: &str, field: &str) -> Result<SecretBytes, ResolveError> {
    let addr = std::env::var("VAULT_ADDR").ok().filter(|a| !a.is_empty());
    let token = std::env::var("VAULT_TOKEN").ok().filter(|t| !t.is_empty());
    let (Some(addr), Some(mut token)) = (addr, token) else {
        return Err(fail(reference, "set VAULT_ADDR and VAULT_TOKEN to read from Vault or OpenBao"));
    };
    let mount = match mount {
        Some(m) => m.to_owned(),
        None => {
            std::env::var("VAULT_PATH_PREFIX").ok().filter(|p| !p.is_empty()).unwrap_or_else(|| DEFAULT_MOUNT.into())
        }
    };
    let encode = |p: &str| {
        p.split('/')
            .filter(|s| !s.is_empty())
            .map(|s| utf8_percent_encode(s, SEGMENT).to_string())
            .collect::<Vec<_>>()
            .join("/")
    };
    let url = format!("{}/v1/{}/data/{}", addr.trim_end_matches('/'), encode(&mount), encode(path));
    let tls = hush_tls::ClientTls::vault_from_env();
    let http = hush_tls::http_client(&tls)
        .map_err(|e| fail(reference, e.to_string()))?
        // A refused client certificate is named only over HTTP/1.1 (see hush_tls::http_client).
        .http1_only()
        // VAULT_TOKEN must not follow a redirect to another host.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| fail(reference, format!("cannot set up HTTP: {e}")))?;
    let mut request = http.get(&url).header("X-Vault-Token", &token);
    token.zeroize();
    if let Ok(ns) = std::env::var("VAULT_NAMESPACE")
        && !ns.is_empty()
    {
        request = request.header("X-Vault-Namespace", ns);
    }
    let response =
        request.send().await.map_err(|e| fail(reference, format!("cannot reach VAULT_ADDR: {}", tls.explain(&e))))?;
    let status = response.status();
    match status.as_u16() {
        200 => {}
        403 => return Err(fail(reference, "permission denied: VAULT_TOKEN may not read this path")),
        404 => return Err(fail(reference, format!("no secret at {mount}/{path} (a KV v2 mount?)"))),
        _ => return Err(fail(reference, format!("Vault answered {status}"))),
    }
    let body = response.bytes().await.map_err(|e| fail(reference, format!("the answer broke off: {e}")))?;
    let parsed: Result<Value, _> = serde_json::from_slice(&body);
    if let Ok(mut owned) = body.try_into_mut() {
        owned.as_mut().zeroize();
    }
    let mut doc = parsed.map_err(|_| fail(reference, "the answer is not JSON"))?;
    let result = match doc.pointer_mut("/data/data").and_then(Value::as_object_mut) {
        None => Err(fail(reference, "the answer has no data.data: is the mount KV version 2?")),
        Some(fields) => match fields.get_mut(field) {
            Some(Value::String(text)) => Ok(SecretBytes::new(std::mem::take(text).into_bytes())),
            Some(other) => Ok(SecretBytes::new(other.to_string().into_bytes())),
            None => {
                let mut names: Vec<&str> = fields.keys().map(String::as_str).collect();
                names.sort_unstable();
                Err(fail(reference, format!("the secret has no field {field:?} (it has: {})", names.join(", "))))
            }
        },
    };
    hush_client::wipe(&mut doc);
    result
}
