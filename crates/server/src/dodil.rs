//! dodil ignite's SecretService contract, shared by the gRPC service and
//! the `/v1/ignite/secrets` HTTP routes: slot names, type names, and the
//! conversions between its messages and hush's values and records.
//!
//! The HTTP shape is the protobuf JSON mapping of the same messages
//! (camelCase fields, int64 as strings, bytes as base64), written here by
//! hand so both surfaces share one set of rules.

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hush_core::{NamespaceName, SecretBytes, SecretName, SecretString, SecretType, SecretValue};
use hush_proto::v1 as pb;
use hush_service::{AuditAction, Credentials, Hush, SecretRecord, ServiceError};
use serde_json::{Map, Value, json};
use zeroize::Zeroize;

/// Longest slot name.
const NAME_MAX: usize = 64;

/// A slot name: 1–64 letters, digits, `-` and `_`.
pub fn slot_name(name: &str) -> Result<SecretName, ServiceError> {
    let invalid = |m: String| ServiceError::invalid("invalid_name", m);
    if name.is_empty() {
        return Err(invalid("name is empty".into()));
    }
    if name.chars().count() > NAME_MAX {
        return Err(invalid(format!("name is {} characters long; the limit is {NAME_MAX}", name.chars().count())));
    }
    if let Some(position) = name.chars().position(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_')) {
        return Err(invalid(format!(
            "name has a character that is not allowed at position {}; use letters, digits, '-' and '_'",
            position + 1
        )));
    }
    SecretName::parse(name).map_err(|e| invalid(e.to_string()))
}

/// The organization of a call: the namespace the `x-hush-namespace` header
/// (gRPC metadata) names, or the token's only namespace. `action` and the
/// slot `name` are the call's, for the audit event of a refusal.
pub async fn organization(
    hush: &Hush,
    headers: &HeaderMap,
    creds: &Credentials,
    action: AuditAction,
    name: Option<&str>,
) -> Result<NamespaceName, ServiceError> {
    match headers.get(NAMESPACE_HEADER) {
        Some(v) => {
            let text = v.to_str().map_err(|_| {
                ServiceError::invalid("invalid_name", format!("the {NAMESPACE_HEADER} header is not valid text"))
            })?;
            NamespaceName::parse(text).map_err(|e| ServiceError::invalid("invalid_name", e.to_string()))
        }
        // Only a valid slot name goes into an audit event.
        None => hush.sole_namespace(creds, action, name.filter(|n| slot_name(n).is_ok())).await,
    }
}

/// The header (gRPC metadata) naming the namespace of a call.
pub const NAMESPACE_HEADER: &str = "x-hush-namespace";

/// dodil's name for a type.
pub fn type_name(t: SecretType) -> &'static str {
    match t {
        SecretType::Generic => "generic_secret",
        SecretType::Git => "git_secret",
        SecretType::Registry => "registry_secret",
    }
}

/// A record's metadata.
pub fn metadata(record: &SecretRecord) -> pb::SecretMetadata {
    pb::SecretMetadata {
        name: record.name.as_str().to_owned(),
        r#type: type_name(record.secret_type).to_owned(),
        created_at_ms: record.created_at,
        updated_at_ms: record.updated_at,
    }
}

/// A message's value as hush's. The message's strings move into zeroizing
/// containers.
pub fn to_hush(value: Option<pb::SecretValue>) -> Result<SecretValue, ServiceError> {
    let missing = || {
        ServiceError::invalid("invalid_value", "value is required: one of generic_secret, git_secret, registry_secret")
    };
    // Fields are taken, not copied: the messages wipe what is left on drop.
    use std::mem::take;
    Ok(match value.and_then(|mut v| v.value.take()).ok_or_else(missing)? {
        pb::secret_value::Value::GenericSecret(mut g) => SecretValue::Generic(SecretBytes::new(take(&mut g.value))),
        pb::secret_value::Value::GitSecret(mut g) => SecretValue::Git {
            username: take(&mut g.username),
            token: SecretString::new(take(&mut g.token)),
            url: String::new(),
        },
        pb::secret_value::Value::RegistrySecret(mut r) => SecretValue::Registry {
            username: take(&mut r.username),
            password: SecretString::new(take(&mut r.password)),
            server_address: take(&mut r.server_address),
        },
    })
}

/// hush's value as a message (wiped when tonic drops it after sending).
pub fn from_hush(value: &SecretValue) -> pb::SecretValue {
    let inner = match value {
        SecretValue::Generic(b) => {
            pb::secret_value::Value::GenericSecret(pb::GenericSecret { value: b.expose_secret().to_vec() })
        }
        SecretValue::Git { username, token, .. } => pb::secret_value::Value::GitSecret(pb::GitSecret {
            username: username.clone(),
            token: token.expose_secret().to_owned(),
        }),
        SecretValue::Registry { username, password, server_address } => {
            pb::secret_value::Value::RegistrySecret(pb::RegistrySecret {
                username: username.clone(),
                password: password.expose_secret().to_owned(),
                server_address: server_address.clone(),
            })
        }
    };
    pb::SecretValue { value: Some(inner) }
}

/// Metadata in the JSON mapping: `{"name","type","createdAtMs","updatedAtMs"}`.
pub fn metadata_json(m: &pb::SecretMetadata) -> Value {
    json!({
        "name": m.name,
        "type": m.r#type,
        "createdAtMs": m.created_at_ms.to_string(),
        "updatedAtMs": m.updated_at_ms.to_string(),
    })
}

/// A value in the JSON mapping (responses build it in a zeroizing buffer
/// instead; this is the tests' reference).
#[cfg(test)]
pub fn value_json(v: &pb::SecretValue) -> Value {
    match &v.value {
        Some(pb::secret_value::Value::GenericSecret(g)) => {
            json!({"genericSecret": {"value": STANDARD.encode(&g.value)}})
        }
        Some(pb::secret_value::Value::GitSecret(g)) => json!({"gitSecret": {"username": g.username, "token": g.token}}),
        Some(pb::secret_value::Value::RegistrySecret(r)) => json!({"registrySecret": {
            "username": r.username, "password": r.password, "serverAddress": r.server_address,
        }}),
        None => json!({}),
    }
}

fn text(map: &Map<String, Value>, camel: &str, snake: &str, what: &str) -> Result<String, ServiceError> {
    match map.get(camel).or_else(|| map.get(snake)) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ServiceError::invalid("invalid_value", format!("{what}.{camel} must be a string"))),
    }
}

/// A value from the JSON mapping (camelCase, or the proto's snake_case
/// names, as protobuf JSON parsers accept both).
pub fn value_from_json(v: Option<&Value>) -> Result<Option<pb::SecretValue>, ServiceError> {
    let invalid = |m: &str| ServiceError::invalid("invalid_value", m.to_owned());
    let Some(v) = v else { return Ok(None) };
    let map = v.as_object().ok_or_else(|| invalid("value must be an object: {\"gitSecret\": {…}} or another kind"))?;
    let kinds: Vec<&String> = map.keys().collect();
    if kinds.len() != 1 {
        return Err(invalid("value must hold exactly one of genericSecret, gitSecret, registrySecret"));
    }
    let (kind, body) = map.iter().next().ok_or_else(|| invalid("value is empty"))?;
    let body = body.as_object().ok_or_else(|| invalid("the value's kind must be an object"))?;
    let inner = match kind.as_str() {
        "genericSecret" | "generic_secret" => {
            let mut encoded = text(body, "value", "value", "genericSecret")?;
            let decoded = STANDARD.decode(encoded.as_bytes());
            encoded.zeroize();
            let bytes = decoded.map_err(|_| invalid("genericSecret.value must be base64 (bytes in protobuf JSON)"))?;
            pb::secret_value::Value::GenericSecret(pb::GenericSecret { value: bytes })
        }
        "gitSecret" | "git_secret" => pb::secret_value::Value::GitSecret(pb::GitSecret {
            username: text(body, "username", "username", "gitSecret")?,
            token: text(body, "token", "token", "gitSecret")?,
        }),
        "registrySecret" | "registry_secret" => pb::secret_value::Value::RegistrySecret(pb::RegistrySecret {
            username: text(body, "username", "username", "registrySecret")?,
            password: text(body, "password", "password", "registrySecret")?,
            server_address: text(body, "serverAddress", "server_address", "registrySecret")?,
        }),
        other => {
            return Err(ServiceError::invalid(
                "invalid_value",
                format!(
                    "unknown value kind {:?}; expected genericSecret, gitSecret or registrySecret",
                    other.chars().take(40).collect::<String>()
                ),
            ));
        }
    };
    Ok(Some(pb::SecretValue { value: Some(inner) }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_names() {
        for ok in ["a", "db-pass_2", &"x".repeat(64)] {
            assert!(slot_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b", "a.b", "ä", "a b", &"x".repeat(65)] {
            assert!(slot_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_values_round_trip() {
        for v in [
            json!({"gitSecret": {"username": "u", "token": "t"}}),
            json!({"registrySecret": {"username": "u", "password": "p", "serverAddress": "ghcr.io"}}),
            json!({"genericSecret": {"value": "aGk="}}),
        ] {
            let parsed = value_from_json(Some(&v)).unwrap().unwrap();
            assert_eq!(value_json(&parsed), v);
        }
        let snake = json!({"registry_secret": {"username": "u", "password": "p", "server_address": "h"}});
        assert!(value_from_json(Some(&snake)).unwrap().is_some());
        for bad in [
            json!("x"),
            json!({}),
            json!({"gitSecret": {}, "registrySecret": {}}),
            json!({"other": {}}),
            json!({"gitSecret": {"token": 1}}),
            json!({"genericSecret": {"value": "%%"}}),
        ] {
            assert!(value_from_json(Some(&bad)).is_err(), "{bad}");
        }
    }
}
