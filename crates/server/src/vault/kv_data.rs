//! KV v2 secret data: `GET /v1/secret/data/{path}` (`?version=N`, 0 or none
//! for the current one; a deleted or destroyed version is a 404 whose body
//! still carries its metadata, as Vault answers), `PUT|POST`
//! (`{"data":{…},"options":{"cas":N}}`), `PATCH` (a JSON merge patch of the
//! current data, RFC 7396, written with `cas` set to the version it patched)
//! and `DELETE` (marks the current version deleted).
//! `{path}` is the hush secret's name, in the namespace the request names
//! (see [`super::namespace`]).
//!
//! How values map (the same both ways):
//! - a generic value that is a JSON object is the KV `data` map itself;
//! - other UTF-8 text is `{"value": text}`; other bytes `{"value_base64": …}`;
//! - git and registry secrets show their typed fields (`username`, `token`,
//!   `url` / `username`, `password`, `server_address`); a KV write to one
//!   must give those fields, or gets a 400 that names them;
//! - a write to a new name makes a generic secret.
//!
//! Values are written into responses only through [`SecretJson`] (a
//! zeroizing buffer), and request bodies are wiped after parsing.

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hush_core::{SecretBytes, SecretName, SecretString, SecretType, SecretValue};
use hush_service::{
    Credentials, RevealedSecret, SecretRecord, ServiceError, VersionAction, VersionRead, VersionRecord,
};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::{VaultError, bad_request, envelope, namespace_and_credentials};
use crate::AppState;
use crate::json_body::{JsonObject, read_object, wipe_value};
use crate::render;
use crate::reveal::SecretJson;

/// `GET /v1/secret/data/{path}`.
pub(crate) async fn read(
    State(app): State<AppState>,
    Path(path): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
) -> Result<Response, VaultError> {
    let (parts, _) = request.into_parts();
    let (ns, creds) = namespace_and_credentials(&app, &parts).await?;
    let name = secret_name(&path)?;
    let version = match query.get("version").map(String::as_str) {
        None | Some("") | Some("0") => None,
        Some(v) => Some(v.parse::<u64>().map_err(|_| bad_request("version must be a whole number"))?),
    };
    match app.hush.read_secret_version(&creds, &ns, &name, version).await? {
        VersionRead::Value(secret) => Ok(reveal(&secret)),
        VersionRead::Gone { record, version } => {
            let metadata = version_metadata(&record, version.version, version.created_at, &version);
            let mut response = envelope(json!({ "data": null, "metadata": metadata }));
            *response.status_mut() = StatusCode::NOT_FOUND;
            Ok(response)
        }
    }
}

/// `PUT|POST /v1/secret/data/{path}`: a new version; 200 with its metadata.
pub(crate) async fn write(
    State(app): State<AppState>,
    Path(path): Path<String>,
    request: Request,
) -> Result<Response, VaultError> {
    let (parts, body) = request.into_parts();
    let (ns, creds) = namespace_and_credentials(&app, &parts).await?;
    let name = secret_name(&path)?;
    let (mut data, cas) = parse_write(&app, body).await?;
    let result = write_as(&app, &creds, &ns, &name, &data, cas).await;
    wipe_value(&mut data);
    let record = result?;
    Ok(envelope(written_metadata(&record)))
}

/// `PATCH /v1/secret/data/{path}`: merges `data` into the current data
/// (a `null` removes a key) and writes the result as a new version, with
/// `cas` set to the version that was patched (or the `cas` given).
pub(crate) async fn patch(
    State(app): State<AppState>,
    Path(path): Path<String>,
    request: Request,
) -> Result<Response, VaultError> {
    let (parts, body) = request.into_parts();
    let content_type = parts.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !content_type.starts_with(MERGE_PATCH) {
        return Err(VaultError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            vec![format!("PATCH requires Content-Type: {MERGE_PATCH}")],
        ));
    }
    let (ns, creds) = namespace_and_credentials(&app, &parts).await?;
    let name = secret_name(&path)?;
    let (patch, cas) = parse_write(&app, body).await?;
    let current = match app.hush.read_secret_version(&creds, &ns, &name, None).await {
        Ok(VersionRead::Value(secret)) => secret,
        Ok(VersionRead::Gone { .. }) | Err(ServiceError::NotFound(_)) => {
            return Err(VaultError::new(StatusCode::NOT_FOUND, Vec::new()));
        }
        Err(e) => return Err(e.into()),
    };
    let mut data = data_of(&current.value);
    merge_patch(&mut data, patch);
    let cas = cas.unwrap_or(current.version.version);
    let result = write_as(&app, &creds, &ns, &name, &data, Some(cas)).await;
    wipe_value(&mut data);
    Ok(envelope(written_metadata(&result?)))
}

/// `DELETE /v1/secret/data/{path}`: marks the current version deleted; 204.
pub(crate) async fn delete_latest(
    State(app): State<AppState>,
    Path(path): Path<String>,
    request: Request,
) -> Result<Response, VaultError> {
    let (parts, _) = request.into_parts();
    let (ns, creds) = namespace_and_credentials(&app, &parts).await?;
    let name = secret_name(&path)?;
    app.hush.change_versions(&creds, &ns, &name, &[], VersionAction::Delete).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The content type Vault requires of a data `PATCH`.
const MERGE_PATCH: &str = "application/merge-patch+json";

/// Applies a JSON merge patch (RFC 7396) to `target`, wiping what it
/// replaces. Written here because the crates that do it (json-patch) would
/// drop replaced strings without wiping them.
fn merge_patch(target: &mut Value, patch: Value) {
    let Value::Object(patch) = patch else {
        let mut old = std::mem::replace(target, patch);
        wipe_value(&mut old);
        return;
    };
    if !target.is_object() {
        let mut old = std::mem::replace(target, Value::Object(Default::default()));
        wipe_value(&mut old);
    }
    let map = target.as_object_mut().expect("made an object above");
    for (key, value) in patch {
        if value.is_null() {
            if let Some(mut old) = map.remove(&key) {
                wipe_value(&mut old);
            }
        } else {
            merge_patch(map.entry(key).or_insert(Value::Null), value);
        }
    }
}

/// A value as KV data (the inverse of [`generic_value`] and [`typed_value`]),
/// for a patch to merge into; the caller wipes it.
fn data_of(value: &SecretValue) -> Value {
    let text = |t: &str| Value::String(t.to_owned());
    match value {
        SecretValue::Git { username, token, url } => {
            json!({ "username": text(username), "token": text(token.expose_secret()), "url": text(url) })
        }
        SecretValue::Registry { username, password, server_address } => json!({
            "username": text(username),
            "password": text(password.expose_secret()),
            "server_address": text(server_address),
        }),
        SecretValue::Generic(bytes) => match std::str::from_utf8(bytes.expose_secret()) {
            Ok(t) if is_json_object(t) => serde_json::from_str(t).unwrap_or_else(|_| json!({})),
            Ok(t) => json!({ "value": text(t) }),
            Err(_) => json!({ "value_base64": STANDARD.encode(bytes.expose_secret()) }),
        },
    }
}

/// Writes `data` as a generic value; if the secret exists with a typed
/// value, writes it as that type instead.
async fn write_as(
    app: &AppState,
    creds: &Credentials,
    ns: &hush_core::NamespaceName,
    name: &SecretName,
    data: &Value,
    cas: Option<u64>,
) -> Result<SecretRecord, VaultError> {
    match app.hush.put_secret(creds, ns, name, generic_value(data)?, cas).await {
        Err(ServiceError::TypeConflict { existing }) => {
            Ok(app.hush.put_secret(creds, ns, name, typed_value(existing, data)?, cas).await?)
        }
        other => Ok(other?),
    }
}

async fn parse_write(app: &AppState, body: Body) -> Result<(Value, Option<u64>), VaultError> {
    let mut obj: JsonObject = read_object(body, app.body_limit).await.map_err(VaultError::from)?;
    let options = obj.take_value("options");
    let data = obj.take_value("data");
    let data_was_given = data.is_some();
    obj.ignore_rest();
    let cas = match options.as_ref().and_then(|o| o.get("cas")) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n.as_u64().map(Some).ok_or(()),
        Some(Value::String(s)) => s.parse().map(Some).map_err(|_| ()),
        Some(_) => Err(()),
    };
    match (data, cas) {
        (Some(d @ Value::Object(_)), Ok(cas)) => Ok((d, cas)),
        (data, cas) => {
            if let Some(mut data) = data {
                wipe_value(&mut data);
            }
            Err(bad_request(match cas {
                Err(()) => "options.cas must be a whole number",
                Ok(_) if data_was_given => "'data' must be an object",
                Ok(_) => "no data provided",
            }))
        }
    }
}

/// `data` as a generic value: `{"value": text}` and `{"value_base64": …}`
/// alone are the value itself; any other map is stored as its JSON text.
fn generic_value(data: &Value) -> Result<SecretValue, VaultError> {
    let map = data.as_object().expect("checked to be an object");
    if map.len() == 1 {
        if let Some(Value::String(text)) = map.get("value") {
            return Ok(SecretValue::Generic(SecretBytes::copy_from(text.as_bytes())));
        }
        if let Some(Value::String(encoded)) = map.get("value_base64") {
            let bytes = STANDARD.decode(encoded).map_err(|_| bad_request("data.value_base64 is not valid base64"))?;
            return Ok(SecretValue::Generic(SecretBytes::new(bytes)));
        }
    }
    // Sized first, so the zeroizing buffer never reallocates (and leaves
    // an unwiped copy behind) while the values are written into it.
    let mut counter = ByteCount(0);
    serde_json::to_writer(&mut counter, data).map_err(|_| bad_request("data could not be encoded"))?;
    let mut text = Zeroizing::new(Vec::with_capacity(counter.0));
    serde_json::to_writer(&mut *text, data).map_err(|_| bad_request("data could not be encoded"))?;
    Ok(SecretValue::Generic(SecretBytes::copy_from(&text)))
}

/// A writer that only counts the bytes written to it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// `data` as the fields of a git or registry secret.
fn typed_value(existing: SecretType, data: &Value) -> Result<SecretValue, VaultError> {
    let map = data.as_object().expect("checked to be an object");
    let (required, optional): (&[&str], &str) = match existing {
        SecretType::Git => (&["username", "token"], "url"),
        SecretType::Registry => (&["username", "password"], "server_address"),
        SecretType::Generic => unreachable!("a generic write does not conflict with a generic secret"),
    };
    let field = |key: &str| map.get(key).and_then(Value::as_str);
    let unknown: Vec<&str> =
        map.keys().map(String::as_str).filter(|k| !required.contains(k) && *k != optional).collect();
    if required.iter().any(|k| field(k).is_none()) || !unknown.is_empty() {
        return Err(bad_request(&format!(
            "this is a {existing} secret: data must have the string fields {} (and optionally {optional}), and no others",
            required.join(" and ")
        )));
    }
    let extra = field(optional).unwrap_or_default().to_owned();
    Ok(match existing {
        SecretType::Git => SecretValue::Git {
            username: field("username").unwrap_or_default().to_owned(),
            token: SecretString::copy_from(field("token").unwrap_or_default()),
            url: extra,
        },
        _ => SecretValue::Registry {
            username: field("username").unwrap_or_default().to_owned(),
            password: SecretString::copy_from(field("password").unwrap_or_default()),
            server_address: extra,
        },
    })
}

pub(crate) fn secret_name(path: &str) -> Result<SecretName, VaultError> {
    SecretName::parse(path.trim_end_matches('/')).map_err(|e| bad_request(&e.to_string()))
}

/// A version's metadata as KV v2 shows it.
fn version_metadata(record: &SecretRecord, version: u64, created_at: i64, state: &VersionRecord) -> Value {
    json!({
        "created_time": render::time(created_at),
        "custom_metadata": custom_metadata(record),
        "deletion_time": state.deleted_at.map(render::time).unwrap_or_default(),
        "destroyed": state.destroyed,
        "version": version,
    })
}

/// The metadata of the version a write just made.
fn written_metadata(record: &SecretRecord) -> Value {
    json!({
        "created_time": render::time(record.updated_at),
        "custom_metadata": custom_metadata(record),
        "deletion_time": "",
        "destroyed": false,
        "version": record.version,
    })
}

/// A secret's custom metadata as JSON (`null` if it has none).
pub(crate) fn custom_metadata(record: &SecretRecord) -> Value {
    record.custom_metadata.as_deref().and_then(|m| serde_json::from_str(m).ok()).unwrap_or(Value::Null)
}

/// The read's answer: the envelope around `{"data": DATA, "metadata": …}`.
fn reveal(secret: &RevealedSecret) -> Response {
    let metadata = version_metadata(&secret.record, secret.version.version, secret.version.created_at, &secret.version);
    let metadata = serde_json::to_vec(&metadata).unwrap_or_default();
    let head = serde_json::to_vec(&json!({
        "request_id": super::request_id(),
        "lease_id": "",
        "renewable": false,
        "lease_duration": 0,
        "wrap_info": null,
        "warnings": null,
        "auth": null,
    }))
    .unwrap_or_default();
    // `head` is an object: drop its `}` to add `"data"` after the rest.
    let open = &head[..head.len().saturating_sub(1)];
    // A typed secret's fields; `None` for a generic value.
    let fields = match &secret.value {
        SecretValue::Generic(_) => None,
        SecretValue::Git { username, token, url } => {
            Some([("username", username.as_str()), ("token", token.expose_secret()), ("url", url.as_str())])
        }
        SecretValue::Registry { username, password, server_address } => Some([
            ("username", username.as_str()),
            ("password", password.expose_secret()),
            ("server_address", server_address.as_str()),
        ]),
    };
    let size = match (&secret.value, &fields) {
        (_, Some(fields)) => fields.iter().map(|(n, v)| n.len() + v.len() + 6).sum(),
        (SecretValue::Generic(v), None) => v.expose_secret().len() * 4 / 3 + 32,
        _ => 0,
    };
    let mut body = SecretJson::with_capacity(size, head.len() + metadata.len() + 32);
    body.raw(open).raw(b",\"data\":{\"metadata\":").raw(&metadata).raw(b",\"data\":");
    match (&secret.value, fields) {
        (_, Some(fields)) => {
            body.raw(b"{");
            for (name, text) in fields {
                body.field(name, text);
            }
            body.raw(b"}");
        }
        (SecretValue::Generic(v), None) => match std::str::from_utf8(v.expose_secret()) {
            Ok(text) if is_json_object(text) => {
                body.raw(text.as_bytes());
            }
            Ok(text) => {
                body.raw(b"{").field("value", text).raw(b"}");
            }
            Err(_) => {
                let encoded = Zeroizing::new(STANDARD.encode(v.expose_secret()));
                body.raw(b"{").field("value_base64", &encoded).raw(b"}");
            }
        },
        _ => {
            body.raw(b"{}");
        }
    }
    body.raw(b"}}");
    body.into_response()
}

/// Whether `text` is one JSON object (checked without copying its strings).
fn is_json_object(text: &str) -> bool {
    text.trim_start().starts_with('{') && serde_json::from_str::<serde::de::IgnoredAny>(text).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generic(data: Value) -> Vec<u8> {
        match generic_value(&data).unwrap() {
            SecretValue::Generic(b) => b.expose_secret().to_vec(),
            _ => unreachable!(),
        }
    }

    #[test]
    fn kv_maps_become_generic_values_and_back() {
        assert_eq!(generic(json!({"value": "plain"})), b"plain");
        assert_eq!(generic(json!({"value_base64": "AP8="})), [0u8, 255]);
        for map in [json!({"user": "a", "password": "b"}), json!({"value": "x", "other": "y"}), json!({"value": 1})] {
            assert_eq!(serde_json::from_slice::<Value>(&generic(map.clone())).unwrap(), map);
        }
        assert!(is_json_object(r#" {"a":1}"#));
        for text in ["plain", "[1]", "{not json", "\"{}\""] {
            assert!(!is_json_object(text), "{text}");
        }
    }

    #[test]
    fn merge_patch_follows_rfc_7396() {
        // RFC 7396, appendix A (the cases that apply to objects).
        let table = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": "b", "b": "c"}), json!({"a": null}), json!({"b": "c"})),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": {"b": "c"}}), json!({"a": {"b": "d", "c": null}}), json!({"a": {"b": "d"}})),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
            (json!({}), json!({"a": {"bb": {"ccc": null}}}), json!({"a": {"bb": {}}})),
        ];
        for (mut target, patch, expected) in table {
            merge_patch(&mut target, patch.clone());
            assert_eq!(target, expected, "{patch}");
        }
    }

    #[test]
    fn values_read_back_as_the_data_they_were_written_from() {
        for data in [json!({"value": "plain"}), json!({"value_base64": "AP8="}), json!({"user": "a", "n": 1})] {
            assert_eq!(data_of(&generic_value(&data).unwrap()), data);
        }
        let git = typed_value(SecretType::Git, &json!({"username": "u", "token": "t"})).unwrap();
        assert_eq!(data_of(&git), json!({"username": "u", "token": "t", "url": ""}));
    }

    #[test]
    fn typed_secrets_need_their_fields() {
        let ok = typed_value(SecretType::Git, &json!({"username": "u", "token": "t"})).unwrap();
        assert!(matches!(ok, SecretValue::Git { .. }));
        for data in [json!({"username": "u"}), json!({"value": "x"}), json!({"username": "u", "token": "t", "x": "y"})]
        {
            let err = typed_value(SecretType::Git, &data).unwrap_err();
            assert!(format!("{err:?}").contains("username and token"), "{err:?}");
        }
    }
}
