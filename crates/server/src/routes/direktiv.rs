//! Direktiv's registry routes, as its documentation shows them, so its
//! clients and scripts work unchanged:
//!
//! - `POST /api/functions/registries/namespaces/{ns}` with
//!   `{"data":"user:password","reg":URL}` → 200 `{}`;
//! - `GET` on the same path → `{"registries":[{"name":URL,"id":…,"user":"ad***in"}]}`;
//! - `DELETE` with `{"reg":URL}` → 200 `{}` (404 if there is none);
//! - the same under `/api/functions/registries/global` and `…/private`
//!   (hush's `global-private`).
//!
//! `data` is split on the first `:` only: passwords may hold `:`, `%`,
//! `$`, `*`. Unknown body fields are ignored, as Direktiv does.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use hush_core::SecretString;
use hush_service::{RegistryScope, RegistrySelector};
use serde_json::json;
use zeroize::Zeroize;

use super::registries::namespace_scope;
use crate::json_body::{JsonObject, read_object};
use crate::request_credentials::credentials;
use crate::{ApiError, AppState};

fn reg(obj: &mut JsonObject) -> Result<String, ApiError> {
    obj.take_string("reg")?
        .ok_or_else(|| ApiError::bad_request("malformed_body", "field 'reg' (the registry URL) is required"))
}

async fn create(app: AppState, scope: RegistryScope, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let creds = credentials(&headers)?;
    let mut obj = read_object(body, app.body_limit).await?;
    let url = reg(&mut obj)?;
    let mut data = obj
        .take_string("data")?
        .ok_or_else(|| ApiError::bad_request("malformed_body", "field 'data' (\"user:password\") is required"))?;
    obj.ignore_rest();
    let split = data.split_once(':').map(|(user, password)| (user.to_owned(), SecretString::copy_from(password)));
    data.zeroize();
    let (username, password) = split.ok_or_else(|| {
        ApiError::bad_request("malformed_body", "field 'data' must be \"user:password\" (no ':' found)")
    })?;
    app.hush.put_registry(&creds, &scope, &url, username, password).await?;
    Ok(Json(json!({})).into_response())
}

async fn list(app: AppState, scope: RegistryScope, headers: HeaderMap) -> Result<Response, ApiError> {
    let creds = credentials(&headers)?;
    let entries = app.hush.list_registries(&creds, &scope).await?;
    let registries: Vec<_> = entries.iter().map(|e| json!({ "name": e.url, "id": e.id, "user": e.user })).collect();
    Ok(Json(json!({ "registries": registries })).into_response())
}

async fn delete(app: AppState, scope: RegistryScope, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let creds = credentials(&headers)?;
    let mut obj = read_object(body, app.body_limit).await?;
    let url = reg(&mut obj)?;
    obj.ignore_rest();
    app.hush.delete_registry(&creds, &scope, &RegistrySelector::Url(url)).await?;
    Ok(Json(json!({})).into_response())
}

/// `POST /api/functions/registries/namespaces/{ns}`
pub(crate) async fn create_namespace(
    State(app): State<AppState>,
    Path(ns): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    create(app, namespace_scope(&ns)?, headers, body).await
}

/// `GET /api/functions/registries/namespaces/{ns}`
pub(crate) async fn list_namespace(
    State(app): State<AppState>,
    Path(ns): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    list(app, namespace_scope(&ns)?, headers).await
}

/// `DELETE /api/functions/registries/namespaces/{ns}`
pub(crate) async fn delete_namespace(
    State(app): State<AppState>,
    Path(ns): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    delete(app, namespace_scope(&ns)?, headers, body).await
}

/// `POST /api/functions/registries/global`
pub(crate) async fn create_global(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    create(app, RegistryScope::Global, headers, body).await
}

/// `GET /api/functions/registries/global`
pub(crate) async fn list_global(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    list(app, RegistryScope::Global, headers).await
}

/// `DELETE /api/functions/registries/global`
pub(crate) async fn delete_global(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    delete(app, RegistryScope::Global, headers, body).await
}

/// `POST /api/functions/registries/private`
pub(crate) async fn create_private(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    create(app, RegistryScope::GlobalPrivate, headers, body).await
}

/// `GET /api/functions/registries/private`
pub(crate) async fn list_private(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    list(app, RegistryScope::GlobalPrivate, headers).await
}

/// `DELETE /api/functions/registries/private`
pub(crate) async fn delete_private(
    State(app): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    delete(app, RegistryScope::GlobalPrivate, headers, body).await
}
