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
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use hush_core::SecretString;
use hush_service::{RegistryScope, RegistrySelector};
use serde_json::json;
use zeroize::Zeroize;

use super::registries::namespace_scope;
use crate::json_body::{JsonObject, read_object};
use crate::request_credentials::RequestCredentials;
use crate::{ApiError, AppState};

/// The scope a Direktiv path names: `…/namespaces/{ns}`, `…/global` or
/// `…/private` (hush's `global-private`).
pub(crate) struct DirektivScope(RegistryScope);

impl<S: Send + Sync> FromRequestParts<S> for DirektivScope {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        // The whole path: a namespace may be named `private` too.
        match parts.uri.path() {
            "/api/functions/registries/global" => Ok(DirektivScope(RegistryScope::Global)),
            "/api/functions/registries/private" => Ok(DirektivScope(RegistryScope::GlobalPrivate)),
            _ => {
                let Path(ns) = Path::<String>::from_request_parts(parts, state)
                    .await
                    .map_err(|_| ApiError::bad_request("invalid_name", "the path is not valid UTF-8 once decoded"))?;
                Ok(DirektivScope(namespace_scope(&ns)?))
            }
        }
    }
}

fn reg(obj: &mut JsonObject) -> Result<String, ApiError> {
    obj.take_string("reg")?
        .ok_or_else(|| ApiError::bad_request("malformed_body", "field 'reg' (the registry URL) is required"))
}

/// `POST` with `{"data":"user:password","reg":URL}` → 200 `{}`.
pub(crate) async fn create(
    State(app): State<AppState>,
    DirektivScope(scope): DirektivScope,
    RequestCredentials(creds): RequestCredentials,
    body: Body,
) -> Result<Response, ApiError> {
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

/// `GET` → `{"registries":[{"name":URL,"id":…,"user":"ad***in"}]}`.
pub(crate) async fn list(
    State(app): State<AppState>,
    DirektivScope(scope): DirektivScope,
    RequestCredentials(creds): RequestCredentials,
) -> Result<Response, ApiError> {
    let entries = app.hush.list_registries(&creds, &scope).await?;
    let registries: Vec<_> = entries.iter().map(|e| json!({ "name": e.url, "id": e.id, "user": e.user })).collect();
    Ok(Json(json!({ "registries": registries })).into_response())
}

/// `DELETE` with `{"reg":URL}` → 200 `{}`; 404 if there is no such entry.
pub(crate) async fn delete(
    State(app): State<AppState>,
    DirektivScope(scope): DirektivScope,
    RequestCredentials(creds): RequestCredentials,
    body: Body,
) -> Result<Response, ApiError> {
    let mut obj = read_object(body, app.body_limit).await?;
    let url = reg(&mut obj)?;
    obj.ignore_rest();
    app.hush.delete_registry(&creds, &scope, &RegistrySelector::Url(url)).await?;
    Ok(Json(json!({})).into_response())
}
