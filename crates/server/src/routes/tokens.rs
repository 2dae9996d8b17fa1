//! `/v1/tokens[/{id}]`.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hush_core::{Scope, ScopeSet};
use hush_service::TokenSpec;
use serde_json::{Value, json};

use super::namespace_name;
use crate::json_body::{JsonObject, read_object};
use crate::query_params::QueryParams;
use crate::request_credentials::RequestCredentials;
use crate::{ApiError, AppState, render};

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("malformed_body", message)
}

/// `{"namespaces": ["a", …] | "*", "scopes": [...], "ttl": "1h" | seconds, "description": "…"}`
fn parse_spec(mut obj: JsonObject) -> Result<TokenSpec, ApiError> {
    let namespaces = match obj.take_value("namespaces") {
        Some(Value::String(s)) if s == "*" => None,
        Some(Value::Array(items)) => Some(
            items
                .iter()
                .map(|v| v.as_str().ok_or_else(|| bad("field 'namespaces' must be \"*\" or a list of names")))
                .map(|n| n.and_then(namespace_name))
                .collect::<Result<Vec<_>, _>>()?,
        ),
        None => return Err(bad("field 'namespaces' is required: a list of namespace names, or \"*\" for all")),
        Some(_) => return Err(bad("field 'namespaces' must be \"*\" or a list of names")),
    };
    let scopes = obj.take_string_list("scopes")?.ok_or_else(|| bad("field 'scopes' is required"))?;
    let scopes = scopes
        .iter()
        .map(|s| s.parse::<Scope>().map_err(|e| ApiError::bad_request("invalid_scopes", e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let ttl = obj.take_duration("ttl")?;
    let description = obj.take_string("description")?.unwrap_or_default();
    obj.finish(&["namespaces", "scopes", "ttl", "description"])?;
    Ok(TokenSpec { namespaces, scopes: ScopeSet::of(scopes), ttl, description })
}

/// `POST /v1/tokens` → 201 with the token text, shown this once.
pub(crate) async fn create(
    State(app): State<AppState>,
    RequestCredentials(creds): RequestCredentials,
    body: Body,
) -> Result<Response, ApiError> {
    let spec = parse_spec(read_object(body, app.body_limit).await?)?;
    let new = app.hush.create_token(&creds, &spec).await?;
    let mut body = render::token(&new.record);
    // The token text leaves the server here, once; it is never stored.
    body["token"] = Value::String(new.token.expose_secret().to_owned());
    let mut response = (StatusCode::CREATED, Json(body)).into_response();
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /v1/tokens`
pub(crate) async fn list(
    State(app): State<AppState>,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    QueryParams::parse(&raw)?.finish(&[])?;
    let tokens = app.hush.list_tokens(&creds).await?;
    let tokens: Vec<Value> = tokens.iter().map(render::token).collect();
    Ok(Json(json!({ "tokens": tokens })).into_response())
}

/// `DELETE /v1/tokens/{id}` → 204.
pub(crate) async fn revoke(
    State(app): State<AppState>,
    Path(id): Path<String>,
    RequestCredentials(creds): RequestCredentials,
) -> Result<Response, ApiError> {
    if id.len() != 16 || !id.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_request("invalid_token_id", "a token id is 16 hex characters (see hush token list)"));
    }
    app.hush.revoke_token(&creds, &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
