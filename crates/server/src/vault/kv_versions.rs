//! KV v2 version state: `POST /v1/secret/delete/{path}`, `…/undelete/…` and
//! `…/destroy/…` with `{"versions":[…]}`. The `bao` CLI sends the versions
//! as strings, hvac as integers; both are taken. Each answers 204.

use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use hush_service::VersionAction;
use serde_json::Value;

use super::{VaultError, bad_request, namespace_and_credentials};
use crate::AppState;
use crate::json_body::read_object;

/// Most versions one call names.
const MAX_VERSIONS: usize = 1000;

/// `POST /v1/secret/delete/{path}`.
pub(crate) async fn delete(
    state: State<AppState>,
    path: Path<String>,
    request: Request,
) -> Result<Response, VaultError> {
    change(state, path, request, VersionAction::Delete).await
}

/// `POST /v1/secret/undelete/{path}`.
pub(crate) async fn undelete(
    state: State<AppState>,
    path: Path<String>,
    request: Request,
) -> Result<Response, VaultError> {
    change(state, path, request, VersionAction::Undelete).await
}

/// `PUT|POST /v1/secret/destroy/{path}`.
pub(crate) async fn destroy(
    state: State<AppState>,
    path: Path<String>,
    request: Request,
) -> Result<Response, VaultError> {
    change(state, path, request, VersionAction::Destroy).await
}

async fn change(
    State(app): State<AppState>,
    Path(path): Path<String>,
    request: Request,
    action: VersionAction,
) -> Result<Response, VaultError> {
    let (parts, body) = request.into_parts();
    let (ns, creds) = namespace_and_credentials(&app, &parts).await?;
    let name = super::kv_data::secret_name(&path)?;
    let versions = parse_versions(&app, body).await?;
    app.hush.change_versions(&creds, &ns, &name, &versions, action).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn parse_versions(app: &AppState, body: Body) -> Result<Vec<u64>, VaultError> {
    let mut obj = read_object(body, app.body_limit).await?;
    let versions = obj.take_value("versions");
    obj.ignore_rest();
    versions_of(versions)
}

/// `versions` as numbers: integers or strings of digits, at least one.
fn versions_of(versions: Option<Value>) -> Result<Vec<u64>, VaultError> {
    let items = match versions {
        Some(Value::Array(items)) if !items.is_empty() => items,
        Some(Value::Array(_)) | None | Some(Value::Null) => return Err(bad_request("no version number provided")),
        Some(_) => return Err(bad_request("versions must be a list of version numbers")),
    };
    if items.len() > MAX_VERSIONS {
        return Err(bad_request(&format!("at most {MAX_VERSIONS} versions at once")));
    }
    items
        .iter()
        .map(|v| match v {
            Value::Number(n) => n.as_u64(),
            Value::String(s) => s.trim().parse().ok(),
            _ => None,
        })
        .map(|v| v.filter(|v| *v > 0).ok_or_else(|| bad_request("versions must be whole numbers from 1")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn versions_come_as_strings_or_integers() {
        assert_eq!(versions_of(Some(json!(["1", "2"]))).unwrap(), vec![1, 2]);
        assert_eq!(versions_of(Some(json!([3, 4]))).unwrap(), vec![3, 4]);
        assert_eq!(versions_of(Some(json!([5, "6"]))).unwrap(), vec![5, 6]);
        for bad in [None, Some(json!([])), Some(json!("1")), Some(json!([0])), Some(json!(["x"])), Some(json!([1.5]))] {
            assert!(versions_of(bad.clone()).is_err(), "{bad:?}");
        }
    }
}
