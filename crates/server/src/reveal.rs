//! The one place secret values are written into responses.
//!
//! A [`SecretJson`] assembles a body in a buffer sized up front (so it never
//! reallocates and leaves a stray copy behind), wrapped in `Zeroizing`, and
//! hands it to the HTTP stack as `Bytes` that own it, so the buffer is wiped
//! when the response has been sent. Copies the HTTP stack makes while
//! sending are beyond reach.

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hush_core::{SecretValue, zeroizing_bytes};
use hush_service::RevealedSecret;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::render;

/// How a generic value is encoded in JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueEncoding {
    /// `value` when it is UTF-8, else `value_base64`.
    Auto,
    /// Always `value_base64`.
    Base64,
}

/// A JSON response body holding secret values, built in a zeroizing buffer.
pub struct SecretJson {
    out: Zeroizing<Vec<u8>>,
}

impl SecretJson {
    /// A buffer for `secret_bytes` bytes of values (before escaping) plus
    /// `other` bytes of everything else. JSON escaping grows a string at most
    /// six-fold (`\u00XX`).
    pub fn with_capacity(secret_bytes: usize, other: usize) -> Self {
        SecretJson { out: Zeroizing::new(Vec::with_capacity(6 * secret_bytes + other + 64)) }
    }

    /// Appends raw JSON text (punctuation, metadata that is not secret).
    pub fn raw(&mut self, json: &[u8]) -> &mut Self {
        self.out.extend_from_slice(json);
        self
    }

    /// Appends a JSON string.
    pub fn string(&mut self, text: &str) -> &mut Self {
        // Writing a &str into a Vec cannot fail.
        let _ = serde_json::to_writer(&mut *self.out, text);
        self
    }

    /// Appends `"name":"text"`, preceded by a comma unless it opens an object.
    pub fn field(&mut self, name: &str, text: &str) -> &mut Self {
        if !matches!(self.out.last(), Some(b'{') | None) {
            self.out.push(b',');
        }
        self.string(name).raw(b":").string(text)
    }

    /// Opens an object with the fields of `meta` (a serialized JSON object
    /// without secrets); close it with `raw(b"}")`.
    pub fn open_with(&mut self, meta: &[u8]) -> &mut Self {
        self.raw(&meta[..meta.len().saturating_sub(1)])
    }

    /// A 200 response with this body, never cached.
    pub fn into_response(mut self) -> Response {
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::CACHE_CONTROL, "no-store")
            .body(Body::from(zeroizing_bytes(std::mem::take(&mut *self.out))))
            .unwrap_or_else(|_| Response::new(Body::empty()))
    }
}

/// Metadata and secret fields as one object: `{…meta…, "name":"value", …}`.
pub fn fields_response(meta: &Value, fields: &[(&str, &str)]) -> Response {
    // Metadata first, so the buffer is sized for all of it and never grows
    // (leaving an unwiped copy) while a value is being written.
    let meta = serde_json::to_vec(meta).unwrap_or_else(|_| b"{}".to_vec());
    let secret: usize = fields.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    let mut body = SecretJson::with_capacity(secret, meta.len());
    body.open_with(&meta);
    for (name, text) in fields {
        body.field(name, text);
    }
    body.raw(b"}");
    body.into_response()
}

/// `{"name",…metadata…, "value"|"value_base64"|"username","token"|…}`.
pub fn reveal_response(secret: &RevealedSecret, encoding: ValueEncoding) -> Response {
    let mut meta = render::secret(&secret.record);
    meta["version"] = Value::from(secret.version.version);
    meta["version_created_at"] = Value::String(render::time(secret.version.created_at));
    match &secret.value {
        SecretValue::Generic(v) => {
            let text = std::str::from_utf8(v.expose_secret()).ok().filter(|_| encoding == ValueEncoding::Auto);
            match text {
                Some(t) => fields_response(&meta, &[("value", t)]),
                None => {
                    let encoded = Zeroizing::new(STANDARD.encode(v.expose_secret()));
                    fields_response(&meta, &[("value_base64", &encoded)])
                }
            }
        }
        SecretValue::Git { username, token, url } => {
            let mut fields = vec![("username", username.as_str()), ("token", token.expose_secret())];
            if !url.is_empty() {
                fields.push(("url", url));
            }
            fields_response(&meta, &fields)
        }
        SecretValue::Registry { username, password, server_address } => fields_response(
            &meta,
            &[("username", username), ("password", password.expose_secret()), ("server_address", server_address)],
        ),
    }
}
