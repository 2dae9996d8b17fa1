//! KV v2 metadata routes, `/v1/secret/metadata/{path}`:
//!
//! - listing, as Go clients send it (`GET …?list=true`) and as hvac does
//!   (the HTTP method `LIST`). Keys are one level deep, folders end in `/`,
//!   and an empty listing is `404 {"errors":[]}`, as Vault answers;
//! - `GET`: the secret's settings, custom metadata and every stored
//!   version's state (`current_version: 0` for a record with no data yet);
//! - `PUT|POST`: settings and `custom_metadata` (replaced whole), creating
//!   a record with no data if there is none (External Secrets Operator tags
//!   a path it will own this way before it writes); `PATCH`: the same, but
//!   `custom_metadata` is merged key by key (`null` removes one);
//! - `DELETE`: the secret with every version and its metadata; 204.
//!
//! Custom metadata has Vault's limits: at most 64 keys, keys of 1 to 128
//! bytes, values up to 512 bytes, all strings.

use std::collections::{BTreeSet, HashMap};

use axum::extract::{Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use hush_service::{ListSecrets, SecretMetadataUpdate, SecretRecord, VersionRecord};
use serde_json::{Value, json};

use super::{VaultError, bad_request, envelope, namespace_and_credentials};
use crate::json_body::{JsonObject, read_object};
use crate::{AppState, render};

/// Most names a listing reads (pages of 1000); a larger folder answers 400.
const MAX_LISTED: usize = 100_000;

/// Any method on `/v1/secret/metadata[/{prefix}]`.
pub(crate) async fn metadata(
    State(app): State<AppState>,
    Query(query): Query<HashMap<String, String>>,
    request: Request,
) -> Result<Response, VaultError> {
    let listing = request.method().as_str() == "LIST"
        || (request.method() == Method::GET && query.get("list").is_some_and(|v| v == "true" || v == "1"));
    let base = format!("/v1/{}/metadata", app.vault_mount.as_str());
    let path = request.uri().path().strip_prefix(&base).unwrap_or("").trim_start_matches('/').to_owned();
    if listing {
        return list(app, path, request).await;
    }
    let (parts, body) = request.into_parts();
    if path.is_empty() {
        return Err(VaultError::new(StatusCode::METHOD_NOT_ALLOWED, vec!["unsupported operation".to_owned()]));
    }
    let name = super::kv_data::secret_name(&path)?;
    let (ns, creds) = namespace_and_credentials(&app, &parts).await?;
    match parts.method {
        Method::GET => {
            let (record, versions) = app.hush.secret_versions(&creds, &ns, &name).await?;
            Ok(envelope(describe(&record, &versions)))
        }
        Method::PUT | Method::POST | Method::PATCH => {
            let mut obj = read_object(body, app.body_limit).await?;
            let settings = take_settings(&mut obj)?;
            let custom = obj.take_value("custom_metadata");
            obj.ignore_rest();
            let custom_metadata = match custom {
                None => None,
                Some(given) if parts.method == Method::PATCH => {
                    let old = match app.hush.secret_versions(&creds, &ns, &name).await {
                        Ok((record, _)) => super::kv_data::custom_metadata(&record),
                        Err(hush_service::ServiceError::NotFound(_)) => Value::Null,
                        Err(e) => return Err(e.into()),
                    };
                    Some(check_custom_metadata(merge_custom(old, given)?)?)
                }
                Some(given) => Some(check_custom_metadata(given)?),
            };
            let update = SecretMetadataUpdate { custom_metadata, ..settings };
            app.hush.put_secret_metadata(&creds, &ns, &name, update).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        Method::DELETE => {
            app.hush.delete_secret(&creds, &ns, &name).await?;
            Ok(StatusCode::NO_CONTENT.into_response())
        }
        _ => Err(VaultError::new(StatusCode::METHOD_NOT_ALLOWED, vec!["unsupported operation".to_owned()])),
    }
}

/// The listing of a folder (`path` without the mount).
async fn list(app: AppState, path: String, request: Request) -> Result<Response, VaultError> {
    let (parts, _) = request.into_parts();
    let (ns, creds) = namespace_and_credentials(&app, &parts).await?;
    let folder = path.trim_matches('/');
    let prefix = if folder.is_empty() { None } else { Some(format!("{folder}/")) };

    let mut keys = BTreeSet::new();
    let mut seen = 0usize;
    let mut after = None;
    loop {
        let page = app
            .hush
            .list_secrets(&creds, &ns, &ListSecrets { prefix: prefix.clone(), after: after.take(), limit: Some(1000) })
            .await?;
        seen += page.secrets.len();
        if seen > MAX_LISTED {
            return Err(bad_request(&format!("the folder has more than {MAX_LISTED} secrets; list a deeper one")));
        }
        for secret in &page.secrets {
            let rest = &secret.name.as_str()[prefix.as_deref().map_or(0, str::len)..];
            keys.insert(match rest.find('/') {
                Some(slash) => rest[..=slash].to_owned(),
                None => rest.to_owned(),
            });
        }
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    if keys.is_empty() {
        return Err(VaultError::new(StatusCode::NOT_FOUND, Vec::new()));
    }
    Ok(envelope(json!({ "keys": keys })))
}

/// The metadata `GET` answer.
fn describe(record: &SecretRecord, versions: &[VersionRecord]) -> Value {
    let states: serde_json::Map<String, Value> = versions
        .iter()
        .map(|v| {
            let state = json!({
                "created_time": render::time(v.created_at),
                "deletion_time": v.deleted_at.map(render::time).unwrap_or_default(),
                "destroyed": v.destroyed,
            });
            (v.version.to_string(), state)
        })
        .collect();
    json!({
        "cas_required": record.kv.cas_required,
        "created_time": render::time(record.created_at),
        "current_version": record.version,
        "custom_metadata": super::kv_data::custom_metadata(record),
        "delete_version_after": go_duration(record.kv.delete_version_after),
        "max_versions": record.kv.max_versions,
        "oldest_version": versions.iter().map(|v| v.version).min().unwrap_or(0),
        "updated_time": render::time(record.updated_at),
        "versions": states,
    })
}

/// Takes `max_versions`, `cas_required` and `delete_version_after` (a number
/// of seconds or a duration such as `"3h25m19s"`), each left `None` if absent.
pub(crate) fn take_settings(obj: &mut JsonObject) -> Result<SecretMetadataUpdate, VaultError> {
    let max_versions = obj
        .take_u64("max_versions")?
        .map(|n| u32::try_from(n).map_err(|_| bad_request("max_versions is too large")))
        .transpose()?;
    let cas_required = match obj.take_value("cas_required") {
        None | Some(Value::Null) => None,
        Some(Value::Bool(b)) => Some(b),
        Some(Value::String(s)) if s == "true" || s == "false" => Some(s == "true"),
        Some(_) => return Err(bad_request("cas_required must be true or false")),
    };
    let delete_version_after = obj
        .take_duration("delete_version_after")?
        .map(|d| i64::try_from(d.as_millis()).map_err(|_| bad_request("delete_version_after is too long")))
        .transpose()?;
    Ok(SecretMetadataUpdate { max_versions, cas_required, delete_version_after, custom_metadata: None })
}

/// `old` with `patch`'s keys set (a `null` removes one).
fn merge_custom(old: Value, patch: Value) -> Result<Value, VaultError> {
    let Value::Object(patch) = patch else { return Err(bad_request("custom_metadata must be an object")) };
    let mut map = match old {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            map.remove(&key);
        } else {
            map.insert(key, value);
        }
    }
    Ok(Value::Object(map))
}

/// Checks custom metadata against Vault's limits; returns it as JSON text.
fn check_custom_metadata(value: Value) -> Result<String, VaultError> {
    let Value::Object(map) = &value else { return Err(bad_request("custom_metadata must be an object")) };
    let fail = |why: String| Err(bad_request(&format!("custom_metadata validation failed: {why}")));
    if map.len() > MAX_CUSTOM_KEYS {
        return fail(format!("{} keys; at most {MAX_CUSTOM_KEYS}", map.len()));
    }
    for (key, value) in map {
        let shown: String = key.chars().take(40).collect();
        if key.is_empty() || key.len() > MAX_CUSTOM_KEY_BYTES || key.chars().any(char::is_control) {
            return fail(format!("key {shown:?}: keys are 1 to {MAX_CUSTOM_KEY_BYTES} printable bytes"));
        }
        match value {
            Value::String(v) if v.len() <= MAX_CUSTOM_VALUE_BYTES && !v.chars().any(char::is_control) => {}
            Value::String(_) => {
                return fail(format!(
                    "the value of {shown:?} is longer than {MAX_CUSTOM_VALUE_BYTES} bytes or not printable"
                ));
            }
            _ => return fail(format!("the value of {shown:?} must be a string")),
        }
    }
    Ok(value.to_string())
}

/// Vault's limits on custom metadata.
const MAX_CUSTOM_KEYS: usize = 64;
const MAX_CUSTOM_KEY_BYTES: usize = 128;
const MAX_CUSTOM_VALUE_BYTES: usize = 512;

/// Milliseconds as Go prints a duration (`0s`, `90s` → `1m30s`, `3h25m19s`),
/// the form Vault clients show and parse. Written here: Go's layout is not
/// what Rust's duration formatters print (humantime puts spaces between units).
pub(crate) fn go_duration(ms: i64) -> String {
    let ms = ms.max(0);
    let (hours, minutes, seconds, millis) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let seconds = if millis == 0 { format!("{seconds}s") } else { format!("{seconds}.{millis:03}s") };
    match (hours, minutes) {
        (0, 0) => seconds,
        (0, m) => format!("{m}m{seconds}"),
        (h, m) => format!("{h}h{m}m{seconds}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_print_as_go_does() {
        let table = [
            (0, "0s"),
            (1000, "1s"),
            (90_000, "1m30s"),
            (3_600_000, "1h0m0s"),
            (12_319_000, "3h25m19s"),
            (1500, "1.500s"),
        ];
        for (ms, text) in table {
            assert_eq!(go_duration(ms), text, "{ms}");
        }
    }

    #[test]
    fn custom_metadata_has_vaults_limits() {
        assert_eq!(
            check_custom_metadata(json!({"managed-by": "external-secrets"})).unwrap(),
            r#"{"managed-by":"external-secrets"}"#
        );
        let many: serde_json::Map<String, Value> = (0..65).map(|i| (format!("k{i}"), json!("v"))).collect();
        for bad in [
            json!("text"),
            json!({"": "v"}),
            json!({"k".repeat(129): "v"}),
            json!({"k": "v".repeat(513)}),
            json!({"k": 1}),
            json!({"k": "line
break"}),
            Value::Object(many),
        ] {
            assert!(check_custom_metadata(bad.clone()).is_err(), "{bad}");
        }
        let merged = merge_custom(json!({"a": "1", "b": "2"}), json!({"b": null, "c": "3"})).unwrap();
        assert_eq!(merged, json!({"a": "1", "c": "3"}));
    }
}
