//! The body of `PUT /v1/namespaces/{ns}/secrets/{name}`: a typed value and an
//! optional `cas`.

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use hush_core::{SecretBytes, SecretString, SecretType, SecretValue};

use crate::ApiError;
use crate::json_body::JsonObject;

/// A parsed write: the value and the optional compare-and-set version.
#[derive(Debug)]
pub struct SecretWrite {
    /// The value.
    pub value: SecretValue,
    /// Write only if the current version is this (0: must not exist).
    pub cas: Option<u64>,
}

fn required(field: &str, t: SecretType) -> ApiError {
    ApiError::bad_request("malformed_body", format!("field '{field}' is required for a {t} secret"))
}

/// Decodes base64 in any common alphabet, padded or not.
fn decode_base64(text: &str) -> Option<Vec<u8>> {
    [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD].iter().find_map(|engine| engine.decode(text.trim()).ok())
}

/// Reads `{"type": …, fields…, "cas": N}`. `type` defaults to `generic`.
pub fn parse_secret_write(mut obj: JsonObject) -> Result<SecretWrite, ApiError> {
    let secret_type = match obj.take_string("type")? {
        None => SecretType::Generic,
        Some(t) => t
            .parse::<SecretType>()
            .map_err(|_| ApiError::bad_request("invalid_type", "field 'type' must be one of generic, git, registry"))?,
    };
    let cas = obj.take_u64("cas")?;
    let value = match secret_type {
        SecretType::Generic => {
            let text = obj.take_string("value")?.map(SecretString::new);
            let encoded = obj.take_string("value_base64")?.map(SecretString::new);
            obj.finish(&["type", "value", "value_base64", "cas"])?;
            match (text, encoded) {
                (Some(t), None) => SecretValue::Generic(SecretBytes::copy_from(t.expose_secret().as_bytes())),
                (None, Some(b)) => {
                    SecretValue::Generic(SecretBytes::new(decode_base64(b.expose_secret()).ok_or_else(|| {
                        ApiError::bad_request("malformed_body", "field 'value_base64' is not valid base64")
                    })?))
                }
                _ => {
                    return Err(ApiError::bad_request(
                        "malformed_body",
                        "a generic secret needs exactly one of 'value' and 'value_base64'",
                    ));
                }
            }
        }
        SecretType::Git => {
            let username = obj.take_string("username")?.ok_or_else(|| required("username", secret_type))?;
            let token = obj.take_string("token")?.ok_or_else(|| required("token", secret_type))?;
            let url = obj.take_string("url")?.unwrap_or_default();
            obj.finish(&["type", "username", "token", "url", "cas"])?;
            SecretValue::Git { username, token: SecretString::new(token), url }
        }
        SecretType::Registry => {
            let username = obj.take_string("username")?.ok_or_else(|| required("username", secret_type))?;
            let password = obj.take_string("password")?.ok_or_else(|| required("password", secret_type))?;
            let server_address = obj.take_string("server_address")?.unwrap_or_default();
            obj.finish(&["type", "username", "password", "server_address", "cas"])?;
            SecretValue::Registry { username, password: SecretString::new(password), server_address }
        }
    };
    Ok(SecretWrite { value, cas })
}
