//! `GET|POST /v1/secret/config`: the KV defaults of the request's namespace
//! (`max_versions`, `cas_required`, `delete_version_after`), which every
//! secret in it falls back to. Reading needs `secrets:list`; setting them
//! changes how every secret there is written, so it needs `namespaces:manage`.

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hush_service::KvSettings;
use serde_json::json;

use super::kv_metadata::{go_duration, take_settings};
use super::{VaultError, envelope, namespace_and_credentials};
use crate::AppState;
use crate::json_body::read_object;

/// `GET /v1/secret/config`.
pub(crate) async fn read(State(app): State<AppState>, request: Request) -> Result<Response, VaultError> {
    let (parts, _) = request.into_parts();
    let (ns, creds) = namespace_and_credentials(&app, &parts).await?;
    let kv = app.hush.namespace_kv(&creds, &ns).await?.kv;
    Ok(envelope(json!({
        "cas_required": kv.cas_required,
        "delete_version_after": go_duration(kv.delete_version_after),
        "max_versions": kv.max_versions,
    })))
}

/// `POST|PUT /v1/secret/config`: the fields given change, the rest stay; 204.
pub(crate) async fn write(State(app): State<AppState>, request: Request) -> Result<Response, VaultError> {
    let (parts, body) = request.into_parts();
    let (ns, creds) = namespace_and_credentials(&app, &parts).await?;
    let mut obj = read_object(body, app.body_limit).await?;
    let given = take_settings(&mut obj)?;
    obj.ignore_rest();
    let old = app.hush.namespace_kv(&creds, &ns).await?.kv;
    let kv = KvSettings {
        max_versions: given.max_versions.unwrap_or(old.max_versions),
        cas_required: given.cas_required.unwrap_or(old.cas_required),
        delete_version_after: given.delete_version_after.unwrap_or(old.delete_version_after),
    };
    app.hush.set_namespace_kv(&creds, &ns, kv).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
