//! Vault's `sys` routes that clients call before or beside KV:
//!
//! - `GET|HEAD /v1/sys/health` (hvac's `sys.read_health_status()`, load
//!   balancers): 200 while the data store answers, else 503 with
//!   `sealed: true` (hush has no seal; "cannot serve" is the nearest state);
//! - `GET /v1/sys/seal-status` and `GET /v1/sys/leader` (`bao status`);
//! - `GET /v1/sys/internal/ui/mounts/{path}`: the preflight every `bao kv`
//!   command makes. It must name the mount (`secret/`) and give
//!   `options.version` as the *string* `"2"` (an integer makes the CLI
//!   panic; a 404 silently switches it to KV v1). A path outside the mount
//!   is 403, which the CLI reports as an error.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

use super::{VaultError, VaultMount, caller, envelope};
use crate::AppState;

/// The version hush reports to Vault clients.
const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The cluster name Vault clients show.
const CLUSTER_NAME: &str = "hush";

/// `GET|HEAD /v1/sys/health` (axum answers HEAD with the GET's head).
pub(crate) async fn health(State(app): State<AppState>) -> Response {
    let serving = app.hush.installation_id().await;
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let status = if serving.is_ok() { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    if let Err(e) = &serving {
        tracing::warn!(error = %e, "sys/health: the data store does not answer");
    }
    let body = json!({
        "initialized": true,
        "sealed": serving.is_err(),
        "standby": false,
        "performance_standby": false,
        "replication_performance_mode": "disabled",
        "replication_dr_mode": "disabled",
        "server_time_utc": now,
        "version": VERSION,
        "cluster_name": CLUSTER_NAME,
        "cluster_id": serving.unwrap_or_default(),
    });
    (status, Json(body)).into_response()
}

/// `GET /v1/sys/seal-status`.
pub(crate) async fn seal_status(State(app): State<AppState>) -> Response {
    let serving = app.hush.installation_id().await;
    Json(json!({
        "type": "shamir",
        "initialized": true,
        "sealed": serving.is_err(),
        "t": 1,
        "n": 1,
        "progress": 0,
        "nonce": "",
        "version": VERSION,
        "build_date": "",
        "migration": false,
        "cluster_name": CLUSTER_NAME,
        "cluster_id": serving.unwrap_or_default(),
        "recovery_seal": false,
        "storage_type": "hush",
    }))
    .into_response()
}

/// `GET /v1/sys/leader`: hush replicas share one data store and have no leader.
pub(crate) async fn leader() -> Response {
    Json(json!({
        "ha_enabled": false,
        "is_self": false,
        "active_time": "0001-01-01T00:00:00Z",
        "leader_address": "",
        "leader_cluster_address": "",
        "performance_standby": false,
        "performance_standby_last_remote_wal": 0,
    }))
    .into_response()
}

/// `GET /v1/sys/internal/ui/mounts/{path}`: the KV mount, for any path under it.
pub(crate) async fn ui_mount(
    State(app): State<AppState>,
    headers: HeaderMap,
    Path(path): Path<String>,
) -> Result<Response, VaultError> {
    caller(&app, &headers).await?;
    let mount = app.vault_mount.as_str();
    let under_mount = path.trim_end_matches('/') == mount || path.starts_with(&format!("{mount}/"));
    if !under_mount {
        return Err(VaultError::permission_denied());
    }
    Ok(envelope(mount_description(&app.vault_mount)))
}

fn mount_description(mount: &VaultMount) -> Value {
    let mount = mount.as_str();
    json!({
        "accessor": format!("kv_{mount}"),
        "config": {
            "default_lease_ttl": 0,
            "force_no_cache": false,
            "max_lease_ttl": 0,
        },
        "description": "hush secrets",
        "external_entropy_access": false,
        "local": false,
        "options": { "version": "2" },
        "path": format!("{mount}/"),
        "seal_wrap": false,
        "type": "kv",
        "uuid": "",
    })
}
