//! `/v1/namespaces[/{ns}]`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::namespace_name;
use crate::json_body::read_object;
use crate::query_params::QueryParams;
use crate::request_credentials::RequestCredentials;
use crate::{ApiError, AppState, render};

/// `POST /v1/namespaces` with `{"name": …}` → 201.
pub(crate) async fn create(
    State(app): State<AppState>,
    RequestCredentials(creds): RequestCredentials,
    body: Body,
) -> Result<Response, ApiError> {
    let mut obj = read_object(body, app.body_limit).await?;
    let name =
        obj.take_string("name")?.ok_or_else(|| ApiError::bad_request("malformed_body", "field 'name' is required"))?;
    obj.finish(&["name"])?;
    let ns = app.hush.create_namespace(&creds, &namespace_name(&name)?).await?;
    Ok((StatusCode::CREATED, Json(render::namespace(&ns))).into_response())
}

/// `GET /v1/namespaces`: the namespaces the token may act in.
pub(crate) async fn list(
    State(app): State<AppState>,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    QueryParams::parse(&raw)?.finish(&[])?;
    let list = app.hush.list_namespaces(&creds).await?;
    let namespaces: Vec<Value> = list.iter().map(render::namespace).collect();
    Ok(Json(json!({ "namespaces": namespaces })).into_response())
}

/// `DELETE /v1/namespaces/{ns}` → 204; its keys and secrets are destroyed.
pub(crate) async fn delete(
    State(app): State<AppState>,
    Path(ns): Path<String>,
    RequestCredentials(creds): RequestCredentials,
) -> Result<Response, ApiError> {
    app.hush.delete_namespace(&creds, &namespace_name(&ns)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v1/namespaces/{ns}/rotate-key`: a new data key version for new writes.
pub(crate) async fn rotate_key(
    State(app): State<AppState>,
    Path(ns): Path<String>,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    QueryParams::parse(&raw)?.finish(&[])?;
    let ns = namespace_name(&ns)?;
    let version = app.hush.rotate_namespace_key(&creds, &ns).await?;
    Ok(Json(json!({ "namespace": ns.as_str(), "key_version": version })).into_response())
}

/// `POST /v1/namespaces/{ns}/rewrap?limit=N`: re-encrypts up to N versions
/// (default 100) sealed with an older key; call again while `remaining` > 0.
pub(crate) async fn rewrap(
    State(app): State<AppState>,
    Path(ns): Path<String>,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let mut q = QueryParams::parse(&raw)?;
    let limit = q.take_u64("limit")?.unwrap_or(100).min(u64::from(hush_service::MAX_REWRAP_BATCH)) as u32;
    q.finish(&["limit"])?;
    let ns = namespace_name(&ns)?;
    let batch = app.hush.rewrap_namespace(&creds, &ns, limit).await?;
    Ok(Json(json!({
        "namespace": ns.as_str(),
        "key_version": batch.key_version,
        "rewrapped": batch.rewrapped,
        "remaining": batch.remaining,
    }))
    .into_response())
}
