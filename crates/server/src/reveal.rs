//! The one place a secret value is written into a response.
//!
//! The body is assembled in a buffer sized up front (so it never reallocates
//! and leaves a stray copy behind), wrapped in `Zeroizing`, and handed to the
//! HTTP stack as `Bytes` that own it, so the buffer is wiped when the response
//! has been sent. Copies the HTTP stack makes while sending are beyond reach.

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

/// `{"name",…metadata…, "value"|"value_base64"|"username","token"|…}`.
pub fn reveal_response(secret: &RevealedSecret, encoding: ValueEncoding) -> Response {
    let mut meta = render::secret(&secret.record);
    meta["version"] = Value::from(secret.version.version);
    meta["version_created_at"] = Value::String(render::time(secret.version.created_at));
    let meta = serde_json::to_vec(&meta).unwrap_or_else(|_| b"{}".to_vec());

    // JSON escaping grows a string at most six-fold (\u00XX); base64 by 4/3.
    let worst = 64 + meta.len() + 6 * secret.value.plaintext_len() + 64;
    let mut out = Zeroizing::new(Vec::with_capacity(worst));
    out.extend_from_slice(&meta[..meta.len() - 1]);
    match &secret.value {
        SecretValue::Generic(v) => {
            let text = std::str::from_utf8(v.expose_secret()).ok().filter(|_| encoding == ValueEncoding::Auto);
            match text {
                Some(t) => field(&mut out, "value", t),
                None => {
                    let encoded = Zeroizing::new(STANDARD.encode(v.expose_secret()));
                    field(&mut out, "value_base64", &encoded);
                }
            }
        }
        SecretValue::Git { username, token } => {
            field(&mut out, "username", username);
            field(&mut out, "token", token.expose_secret());
        }
        SecretValue::Registry { username, password, server_address } => {
            field(&mut out, "username", username);
            field(&mut out, "password", password.expose_secret());
            field(&mut out, "server_address", server_address);
        }
    }
    out.push(b'}');
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Body::from(zeroizing_bytes(std::mem::take(&mut *out))))
        .unwrap_or_else(|_| Response::new(Body::empty()))
}

/// Appends `,"name":"escaped text"`.
fn field(out: &mut Vec<u8>, name: &str, text: &str) {
    out.push(b',');
    // Writing a &str into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut *out, name);
    out.push(b':');
    let _ = serde_json::to_writer(&mut *out, text);
}
