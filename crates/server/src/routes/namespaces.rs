//! `/v1/namespaces[/{ns}]`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::namespace_name;
use crate::json_body::read_object;
use crate::query_params::QueryParams;
use crate::request_credentials::credentials;
use crate::{ApiError, AppState, render};

/// `POST /v1/namespaces` with `{"name": …}` → 201.
pub(crate) async fn create(State(app): State<AppState>, headers: HeaderMap, body: Body) -> Result<Response, ApiError> {
    let creds = credentials(&headers)?;
    let mut obj = read_object(body, app.body_limit).await?;
    let name =
        obj.take_string("name")?.ok_or_else(|| ApiError::bad_request("malformed_body", "field 'name' is required"))?;
    obj.finish(&["name"])?;
    let ns = app.hush.create_namespace(&creds, &namespace_name(&name)?).await?;
    Ok((StatusCode::CREATED, Json(render::namespace(&ns))).into_response())
}

/// `GET /v1/namespaces`: the namespaces the token may act in.
pub(crate) async fn list(State(app): State<AppState>, headers: HeaderMap, raw: RawQuery) -> Result<Response, ApiError> {
    let creds = credentials(&headers)?;
    QueryParams::parse(&raw)?.finish(&[])?;
    let list = app.hush.list_namespaces(&creds).await?;
    let namespaces: Vec<Value> = list.iter().map(render::namespace).collect();
    Ok(Json(json!({ "namespaces": namespaces })).into_response())
}

/// `DELETE /v1/namespaces/{ns}` → 204; its keys and secrets are destroyed.
pub(crate) async fn delete(
    State(app): State<AppState>,
    Path(ns): Path<String>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let creds = credentials(&headers)?;
    app.hush.delete_namespace(&creds, &namespace_name(&ns)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
