//! dodil ignite's HTTP shape of the SecretService, for its clients:
//!
//! - `POST /v1/ignite/secrets` `{"name","value":{"gitSecret":{…}}}` → metadata;
//! - `GET /v1/ignite/secrets` → `{"secrets":[metadata…]}`, never a value;
//! - `GET /v1/ignite/secrets/{name}` → `{"metadata":{…},"value":{…}}`;
//! - `DELETE /v1/ignite/secrets/{name}` → `{}`, whether or not it existed.
//!
//! Metadata is `{"name","type","createdAtMs","updatedAtMs"}` (int64 as
//! strings, as protobuf JSON writes them). The organization is the
//! `X-Hush-Namespace` header's namespace, or the token's only one. The rules
//! are the gRPC service's (`crate::dodil`).

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hush_core::{NamespaceName, SecretValue};
use hush_service::{AuditAction, Credentials};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::json_body::{read_object, wipe_value};
use crate::request_credentials::RequestCredentials;
use crate::reveal::SecretJson;
use crate::{ApiError, AppState, dodil};

async fn caller(
    app: &AppState,
    headers: &HeaderMap,
    RequestCredentials(creds): RequestCredentials,
    action: AuditAction,
    name: Option<&str>,
) -> Result<(Credentials, NamespaceName), ApiError> {
    let ns = dodil::organization(&app.hush, headers, &creds, action, name).await?;
    Ok((creds, ns))
}

/// `POST /v1/ignite/secrets`: create, or overwrite with a new version.
pub(crate) async fn create(
    State(app): State<AppState>,
    creds: RequestCredentials,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let mut body = read_object(body, app.body_limit).await?;
    let mut raw_value = body.take_value("value");
    let parsed = dodil::value_from_json(raw_value.as_ref());
    if let Some(v) = &mut raw_value {
        wipe_value(v);
    }
    let name = body.take_string("name")?.unwrap_or_default();
    let cas = body.take_u64("cas")?;
    body.ignore_rest();
    let (creds, ns) = caller(&app, &headers, creds, AuditAction::SecretWrite, Some(&name)).await?;
    let name = dodil::slot_name(&name)?;
    let value = dodil::to_hush(parsed?)?;
    let record = app.hush.put_secret(&creds, &ns, &name, value, cas).await?;
    Ok(Json(dodil::metadata_json(&dodil::metadata(&record))).into_response())
}

/// `GET /v1/ignite/secrets`.
pub(crate) async fn list(
    State(app): State<AppState>,
    creds: RequestCredentials,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (creds, ns) = caller(&app, &headers, creds, AuditAction::SecretList, None).await?;
    let all = app.hush.list_all_secrets(&creds, &ns).await?;
    let secrets: Vec<Value> = all.iter().map(|s| dodil::metadata_json(&dodil::metadata(s))).collect();
    Ok(Json(json!({ "secrets": secrets })).into_response())
}

/// `GET /v1/ignite/secrets/{name}`: metadata and value.
pub(crate) async fn get(
    State(app): State<AppState>,
    Path(name): Path<String>,
    creds: RequestCredentials,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (creds, ns) = caller(&app, &headers, creds, AuditAction::SecretRead, Some(&name)).await?;
    let name = dodil::slot_name(&name)?;
    let secret = app.hush.get_secret(&creds, &ns, &name, None).await?;
    let meta = serde_json::to_vec(&json!({"metadata": dodil::metadata_json(&dodil::metadata(&secret.record))}))
        .unwrap_or_else(|_| b"{}".to_vec());
    let (kind, fields): (&str, Vec<(&str, Zeroizing<String>)>) = match &secret.value {
        SecretValue::Generic(v) => {
            ("genericSecret", vec![("value", Zeroizing::new(STANDARD.encode(v.expose_secret())))])
        }
        SecretValue::Git { username, token, .. } => (
            "gitSecret",
            vec![
                ("username", Zeroizing::new(username.clone())),
                ("token", Zeroizing::new(token.expose_secret().to_owned())),
            ],
        ),
        SecretValue::Registry { username, password, server_address } => (
            "registrySecret",
            vec![
                ("username", Zeroizing::new(username.clone())),
                ("password", Zeroizing::new(password.expose_secret().to_owned())),
                ("serverAddress", Zeroizing::new(server_address.clone())),
            ],
        ),
    };
    let secret_len: usize = fields.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    let mut out = SecretJson::with_capacity(secret_len, meta.len() + kind.len() + 16);
    out.open_with(&meta).raw(b",\"value\":{").string(kind).raw(b":{");
    for (field, text) in &fields {
        out.field(field, text);
    }
    out.raw(b"}}}");
    Ok(out.into_response())
}

/// `DELETE /v1/ignite/secrets/{name}`: `{}` whether or not it existed.
pub(crate) async fn delete(
    State(app): State<AppState>,
    Path(name): Path<String>,
    creds: RequestCredentials,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let (creds, ns) = caller(&app, &headers, creds, AuditAction::SecretDelete, Some(&name)).await?;
    let name = dodil::slot_name(&name)?;
    app.hush.delete_secret(&creds, &ns, &name).await?;
    Ok(Json(json!({})).into_response())
}
