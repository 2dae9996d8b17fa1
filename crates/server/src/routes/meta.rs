//! Health, the OpenAPI document, and the JSON answers for unknown routes.

use axum::Json;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::{ApiError, render};

/// The OpenAPI 3.1 document, written by hand beside the handlers: request
/// bodies are parsed field by field (for value-free error messages), so there
/// are no body types for a derive macro to read. A test checks it lists
/// exactly the routes the router serves.
pub const OPENAPI: &str = include_str!("../openapi.json");

/// `GET /v1/health` (no auth).
pub(crate) async fn health() -> Response {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION"), "time": render::now() })).into_response()
}

/// `GET /v1/openapi.json`
pub(crate) async fn openapi() -> Response {
    ([(header::CONTENT_TYPE, "application/json")], OPENAPI).into_response()
}

/// Unknown path.
pub(crate) async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "route_not_found", "no such route; see /v1/openapi.json")
}

/// Known path, wrong method.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "this route does not take that method")
}

/// `GET /v1/admin/backup`: both stores, snapshotted and encrypted (see
/// `hush_service::backup`). Needs an admin token bound to all namespaces.
pub(crate) async fn backup(
    axum::extract::State(app): axum::extract::State<crate::AppState>,
    crate::request_credentials::RequestCredentials(creds): crate::request_credentials::RequestCredentials,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;

    let stream = app.hush.backup(&creds).await?;
    // Sent as it is produced; a failure mid-way breaks the connection off,
    // and the file's missing last frame tells the client it is incomplete.
    let body = futures_util::stream::unfold(stream, |mut stream| async move {
        stream.next().await.map(|piece| (piece.map(bytes::Bytes::from).map_err(std::io::Error::other), stream))
    });
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/octet-stream"),
            (axum::http::header::CACHE_CONTROL, "no-store"),
            (axum::http::header::CONTENT_DISPOSITION, "attachment; filename=\"hush.backup\""),
        ],
        axum::Extension(crate::streamed_body::HoldUntilEnd),
        axum::body::Body::from_stream(body),
    )
        .into_response())
}

/// `POST /v1/admin/rotate-root`: re-wraps every key under a new root key
/// (or the KMS key's newest version). Needs an admin token for all namespaces.
pub(crate) async fn rotate_root(
    axum::extract::State(app): axum::extract::State<crate::AppState>,
    crate::request_credentials::RequestCredentials(creds): crate::request_credentials::RequestCredentials,
) -> Result<axum::response::Response, ApiError> {
    use axum::response::IntoResponse;

    // In a task of its own: a client hanging up or the request timeout must
    // not stop a rotation half-way.
    let hush = std::sync::Arc::clone(&app.hush);
    let done = tokio::spawn(async move { hush.rotate_root(&creds).await }).await.map_err(|_| {
        ApiError::new(axum::http::StatusCode::INTERNAL_SERVER_ERROR, "internal", "the rotation task failed")
    })??;
    Ok(axum::Json(serde_json::json!({
        "root_key": done.root,
        "rewrapped": done.rewrapped,
        "root_key_file": done.root_key_file.map(|p| p.display().to_string()),
    }))
    .into_response())
}
