//! `GET /v1/namespaces/{ns}/git-credentials?url=protocol://host/path`: the
//! git secret whose `url` covers a remote (what `git-credential-hush` asks).

use axum::extract::{Path, RawQuery, State};
use axum::response::Response;
use hush_core::Location;
use serde_json::json;

use super::namespace_name;
use crate::query_params::QueryParams;
use crate::request_credentials::RequestCredentials;
use crate::reveal::fields_response;
use crate::{ApiError, AppState, render};

/// → `{"name","type","version",…,"url","username","token"}`; 404
/// `credential_not_found` when no git secret's url covers it.
pub(crate) async fn get(
    State(app): State<AppState>,
    Path(ns): Path<String>,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let ns = namespace_name(&ns)?;
    let mut q = QueryParams::parse(&raw)?;
    let url =
        q.take("url").ok_or_else(|| ApiError::bad_request("invalid_query", "query parameter 'url' is required"))?;
    q.finish(&["url"])?;
    let target = Location::parse_url(&url).map_err(|e| ApiError::bad_request("invalid_query", e.to_string()))?;
    let found = app.hush.git_credential(&creds, &ns, &target).await?;
    let mut meta = render::secret(&found.record);
    meta["url"] = json!(found.url);
    Ok(fields_response(&meta, &[("username", &found.username), ("token", found.token.expose_secret())]))
}
