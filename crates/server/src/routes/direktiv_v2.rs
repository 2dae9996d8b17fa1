//! Direktiv's v2 API for namespaces, secrets and registries, so its CLI,
//! UI and scripts work unchanged:
//!
//! - `GET|POST /api/v2/namespaces` (`{"name"}`);
//! - `GET|POST /api/v2/namespaces/{ns}/secrets` (`{"name","data":<base64>}`);
//! - `GET|PATCH|DELETE /api/v2/namespaces/{ns}/secrets/{name}`;
//! - `GET|POST /api/v2/namespaces/{ns}/registries` (`{"url","user","password"}`),
//!   `DELETE /api/v2/namespaces/{ns}/registries/{id}`.
//!
//! Answers are `{"data": …}`; values and passwords are never returned;
//! unknown body fields are ignored; times are RFC 3339. Secret lists are in
//! creation order, as Direktiv's are. Every secret hush holds has a value,
//! so `initialized` is always true. A registry's `user` is returned as
//! written, as Direktiv's v2 API does (only its v1 API and hush's own
//! listings obfuscate it); the password is write-only.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hush_core::{SecretBytes, SecretName, SecretString, SecretValue};
use hush_service::{NamespaceRecord, RegistryEntry, RegistryScope, RegistrySelector, SecretRecord, ServiceError};
use serde_json::{Value, json};
use zeroize::Zeroize;

use super::namespace_name;
use super::registries::namespace_scope;
use crate::json_body::{JsonObject, read_object};
use crate::request_credentials::RequestCredentials;
use crate::{ApiError, AppState, render};

/// Direktiv's code for a body it cannot use.
const BAD_BODY: &str = "request_body_not_json";

fn data<T: serde::Serialize>(value: T) -> Response {
    Json(json!({ "data": value })).into_response()
}

fn namespace_json(n: &NamespaceRecord) -> Value {
    let at = render::time(n.created_at);
    json!({ "name": n.name.as_str(), "createdAt": at, "updatedAt": at })
}

fn secret_json(s: &SecretRecord) -> Value {
    json!({
        "name": s.name.as_str(),
        "initialized": true,
        "createdAt": render::time(s.created_at),
        "updatedAt": render::time(s.updated_at),
    })
}

fn registry_json(ns: &str, e: &RegistryEntry) -> Value {
    json!({ "namespace": ns, "id": e.id, "url": e.url, "user": e.username, "createdAt": render::time(e.record.created_at) })
}

/// Direktiv answers every body it cannot use with one code.
fn body_error(e: ApiError) -> ApiError {
    if e.status() == StatusCode::BAD_REQUEST { e.with_code(BAD_BODY) } else { e }
}

async fn body_object(app: &AppState, body: Body) -> Result<JsonObject, ApiError> {
    read_object(body, app.body_limit).await.map_err(body_error)
}

fn required(obj: &mut JsonObject, field: &str) -> Result<String, ApiError> {
    obj.take_string(field)
        .map_err(body_error)?
        .ok_or_else(|| ApiError::bad_request(BAD_BODY, format!("field '{field}' is required")))
}

/// A secret's value from `data`: base64, decoded into a zeroizing buffer.
fn secret_data(obj: &mut JsonObject) -> Result<SecretValue, ApiError> {
    let mut encoded = required(obj, "data")?;
    let decoded = STANDARD.decode(encoded.as_bytes());
    encoded.zeroize();
    let bytes = decoded.map_err(|_| ApiError::bad_request(BAD_BODY, "field 'data' must be base64"))?;
    Ok(SecretValue::Generic(SecretBytes::new(bytes)))
}

fn secret_name(raw: &str) -> Result<SecretName, ApiError> {
    SecretName::parse(raw).map_err(|e| ApiError::bad_request("invalid_name", e.to_string()))
}

/// `GET /api/v2/namespaces`.
pub(crate) async fn list_namespaces(
    State(app): State<AppState>,
    RequestCredentials(creds): RequestCredentials,
) -> Result<Response, ApiError> {
    let list = app.hush.list_namespaces(&creds).await?;
    Ok(data(list.iter().map(namespace_json).collect::<Vec<_>>()))
}

/// `POST /api/v2/namespaces` with `{"name"}`.
pub(crate) async fn create_namespace(
    State(app): State<AppState>,
    RequestCredentials(creds): RequestCredentials,
    body: Body,
) -> Result<Response, ApiError> {
    let mut obj = body_object(&app, body).await?;
    let name = namespace_name(&required(&mut obj, "name")?)?;
    obj.ignore_rest();
    let created = app.hush.create_namespace(&creds, &name).await?;
    Ok(data(namespace_json(&created)))
}

/// `GET /api/v2/namespaces/{ns}/secrets`: every secret, in creation order.
pub(crate) async fn list_secrets(
    State(app): State<AppState>,
    Path(ns): Path<String>,
    RequestCredentials(creds): RequestCredentials,
) -> Result<Response, ApiError> {
    let ns = namespace_name(&ns)?;
    let mut all = app.hush.list_all_secrets(&creds, &ns).await?;
    all.sort_by(|a, b| (a.created_at, a.name.as_str()).cmp(&(b.created_at, b.name.as_str())));
    Ok(data(all.iter().map(secret_json).collect::<Vec<_>>()))
}

/// `POST /api/v2/namespaces/{ns}/secrets` with `{"name","data"}`: 409 if it exists.
pub(crate) async fn create_secret(
    State(app): State<AppState>,
    Path(ns): Path<String>,
    RequestCredentials(creds): RequestCredentials,
    body: Body,
) -> Result<Response, ApiError> {
    let ns = namespace_name(&ns)?;
    let mut obj = body_object(&app, body).await?;
    let name = secret_name(&required(&mut obj, "name")?)?;
    let value = secret_data(&mut obj)?;
    obj.ignore_rest();
    match app.hush.put_secret(&creds, &ns, &name, value, Some(0)).await {
        Ok(record) => Ok(data(secret_json(&record))),
        Err(ServiceError::CasMismatch { .. } | ServiceError::TypeConflict { .. }) => Err(ApiError::new(
            StatusCode::CONFLICT,
            "resource_already_exists",
            "a secret with this name already exists; PATCH it to change its value",
        )),
        Err(e) => Err(e.into()),
    }
}

/// `GET /api/v2/namespaces/{ns}/secrets/{name}`: metadata, never the value.
pub(crate) async fn get_secret(
    State(app): State<AppState>,
    Path((ns, name)): Path<(String, String)>,
    RequestCredentials(creds): RequestCredentials,
) -> Result<Response, ApiError> {
    let (ns, name) = (namespace_name(&ns)?, secret_name(&name)?);
    let (record, _) = app.hush.secret_versions(&creds, &ns, &name).await?;
    Ok(data(secret_json(&record)))
}

/// `PATCH /api/v2/namespaces/{ns}/secrets/{name}` with `{"data"}`: a new version; 404 if missing.
pub(crate) async fn update_secret(
    State(app): State<AppState>,
    Path((ns, name)): Path<(String, String)>,
    RequestCredentials(creds): RequestCredentials,
    body: Body,
) -> Result<Response, ApiError> {
    let (ns, name) = (namespace_name(&ns)?, secret_name(&name)?);
    let mut obj = body_object(&app, body).await?;
    let value = secret_data(&mut obj)?;
    obj.ignore_rest();
    let record = app.hush.update_secret(&creds, &ns, &name, value).await?;
    Ok(data(secret_json(&record)))
}

/// `DELETE /api/v2/namespaces/{ns}/secrets/{name}`: 404 if missing.
pub(crate) async fn delete_secret(
    State(app): State<AppState>,
    Path((ns, name)): Path<(String, String)>,
    RequestCredentials(creds): RequestCredentials,
) -> Result<Response, ApiError> {
    let (ns, name) = (namespace_name(&ns)?, secret_name(&name)?);
    if !app.hush.delete_secret(&creds, &ns, &name).await? {
        return Err(ServiceError::NotFound(hush_service::Missing::Secret).into());
    }
    Ok(Json(json!({})).into_response())
}

/// `GET /api/v2/namespaces/{ns}/registries`.
pub(crate) async fn list_registries(
    State(app): State<AppState>,
    Path(ns): Path<String>,
    RequestCredentials(creds): RequestCredentials,
) -> Result<Response, ApiError> {
    let scope = namespace_scope(&ns)?;
    let entries = app.hush.list_registries(&creds, &scope).await?;
    Ok(data(entries.iter().map(|e| registry_json(scope.as_str(), e)).collect::<Vec<_>>()))
}

/// `POST /api/v2/namespaces/{ns}/registries` with `{"url","user","password"}`.
pub(crate) async fn create_registry(
    State(app): State<AppState>,
    Path(ns): Path<String>,
    RequestCredentials(creds): RequestCredentials,
    body: Body,
) -> Result<Response, ApiError> {
    let scope = namespace_scope(&ns)?;
    let mut obj = body_object(&app, body).await?;
    let url = required(&mut obj, "url")?;
    let user = required(&mut obj, "user")?;
    let mut password = required(&mut obj, "password")?;
    obj.ignore_rest();
    let secret = SecretString::copy_from(&password);
    password.zeroize();
    let (entry, _) = app.hush.put_registry(&creds, &scope, &url, user, secret).await?;
    Ok(data(registry_json(scope.as_str(), &entry)))
}

/// `DELETE /api/v2/namespaces/{ns}/registries/{id}`: 404 if missing.
pub(crate) async fn delete_registry(
    State(app): State<AppState>,
    Path((ns, id)): Path<(String, String)>,
    RequestCredentials(creds): RequestCredentials,
) -> Result<Response, ApiError> {
    let scope: RegistryScope = namespace_scope(&ns)?;
    app.hush.delete_registry(&creds, &scope, &RegistrySelector::Id(id)).await?;
    Ok(Json(json!({})).into_response())
}
