//! The token routes: `POST /v1/auth/token/revoke-self` (a client giving up
//! its own token, 204; no scope needed) and `GET /v1/auth/token/lookup-self`:
//! what a Vault client learns of its own token. External Secrets Operator validates its token with it and reads
//! `type`, an integer `ttl` and `expire_time` (null for a token that does
//! not expire). `id` is the token's public id only, never its secret part;
//! `policies` are the token's hush scopes.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use hush_service::Caller;
use serde_json::{Value, json};

use super::{VaultError, caller, envelope, vault_credentials};
use crate::{AppState, render};

/// `GET /v1/auth/token/lookup-self`.
pub(crate) async fn lookup_self(State(app): State<AppState>, headers: HeaderMap) -> Result<Response, VaultError> {
    let caller = caller(&app, &headers).await?;
    Ok(envelope(describe(&caller)))
}

/// `POST|PUT /v1/auth/token/revoke-self`: 204, and the token (with every
/// token it issued) stops working.
pub(crate) async fn revoke_self(State(app): State<AppState>, request: Request) -> Result<Response, VaultError> {
    let (parts, _) = request.into_parts();
    caller(&app, &parts.headers).await?;
    let creds = vault_credentials(&parts)?;
    app.hush.revoke_own_token(&creds).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

fn describe(caller: &Caller) -> Value {
    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0);
    let ttl = caller.expires_at.map(|at| at.saturating_sub(now_ms).max(0) / 1000).unwrap_or(0);
    let policies: Vec<String> = caller.scopes.iter().map(|s| s.as_str().to_owned()).collect();
    json!({
        "accessor": "",
        "display_name": "token",
        "entity_id": "",
        "expire_time": caller.expires_at.map(render::time),
        "explicit_max_ttl": 0,
        "id": format!("hush_{}", caller.token_id),
        "meta": null,
        "num_uses": 0,
        "orphan": true,
        "path": "auth/token/create",
        "policies": policies,
        "renewable": false,
        "ttl": ttl,
        "type": "service",
    })
}
