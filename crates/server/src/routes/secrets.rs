//! `/v1/namespaces/{ns}/secrets[/{name}[/versions]]`.
//!
//! Secret names may contain `/`. The item routes read the raw request path
//! so that `…/secrets/a/versions` (the versions of `a`) and
//! `…/secrets/a%2Fversions` (the secret named `a/versions`) stay distinct;
//! clients that percent-encode `/` in names never meet the ambiguity.

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hush_core::{NamespaceName, SecretName};
use hush_service::ListSecrets;
use serde_json::{Value, json};

use super::namespace_name;
use crate::json_body::read_object;
use crate::query_params::QueryParams;
use crate::request_credentials::RequestCredentials;
use crate::reveal::{ValueEncoding, reveal_response};
use crate::secret_body::parse_secret_write;
use crate::{ApiError, AppState, render};

/// What an item path names.
struct SecretPath {
    namespace: NamespaceName,
    name: SecretName,
    versions: bool,
}

fn parse_path(uri: &Uri) -> Result<SecretPath, ApiError> {
    let bad = || ApiError::bad_request("invalid_name", "the path must be /v1/namespaces/{namespace}/secrets/{name}");
    let rest = uri.path().strip_prefix("/v1/namespaces/").ok_or_else(bad)?;
    let (ns_raw, rest) = rest.split_once('/').ok_or_else(bad)?;
    let name_raw = rest.strip_prefix("secrets/").ok_or_else(bad)?;
    let (name_raw, versions) = match name_raw.strip_suffix("/versions") {
        Some(n) => (n, true),
        None => (name_raw, false),
    };
    let decode = |raw: &str| {
        percent_encoding::percent_decode_str(raw)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| ApiError::bad_request("invalid_name", "the path is not valid UTF-8 once decoded"))
    };
    let namespace = namespace_name(&decode(ns_raw)?)?;
    let name =
        SecretName::parse(&decode(name_raw)?).map_err(|e| ApiError::bad_request("invalid_name", e.to_string()))?;
    Ok(SecretPath { namespace, name, versions })
}

/// The path of a `PUT` or `DELETE`: a secret (versions are read-only), no query.
fn writable_item(uri: &Uri, raw: &RawQuery) -> Result<SecretPath, ApiError> {
    let path = parse_path(uri)?;
    if path.versions {
        return Err(ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed", "versions are read-only"));
    }
    QueryParams::parse(raw)?.finish(&[])?;
    Ok(path)
}

/// `GET /v1/namespaces/{ns}/secrets?prefix=&after=&limit=`
pub(crate) async fn list(
    State(app): State<AppState>,
    Path(ns): Path<String>,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let ns = namespace_name(&ns)?;
    let mut q = QueryParams::parse(&raw)?;
    let query = ListSecrets {
        prefix: q.take("prefix").filter(|p| !p.is_empty()),
        after: q.take("after").filter(|a| !a.is_empty()),
        limit: q.take_u64("limit")?.map(|l| u32::try_from(l).unwrap_or(u32::MAX)),
    };
    q.finish(&["prefix", "after", "limit"])?;
    let page = app.hush.list_secrets(&creds, &ns, &query).await?;
    let secrets: Vec<Value> = page.secrets.iter().map(render::secret).collect();
    Ok(Json(json!({ "secrets": secrets, "next": page.next })).into_response())
}

/// `GET …/secrets/{name}[?version=N&encoding=base64]` and `GET …/secrets/{name}/versions`
pub(crate) async fn get(
    State(app): State<AppState>,
    uri: Uri,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let path = parse_path(&uri)?;
    let mut q = QueryParams::parse(&raw)?;
    if path.versions {
        q.finish(&[])?;
        let (secret, versions) = app.hush.secret_versions(&creds, &path.namespace, &path.name).await?;
        let mut body = render::secret(&secret);
        body["versions"] = versions.iter().map(render::version).collect();
        return Ok(Json(body).into_response());
    }
    let version = q.take_u64("version")?;
    let encoding = match q.take("encoding").as_deref() {
        None | Some("auto") => ValueEncoding::Auto,
        Some("base64") => ValueEncoding::Base64,
        Some(_) => {
            return Err(ApiError::bad_request("invalid_query", "query parameter 'encoding' must be auto or base64"));
        }
    };
    q.finish(&["version", "encoding"])?;
    let secret = app.hush.get_secret(&creds, &path.namespace, &path.name, version).await?;
    Ok(reveal_response(&secret, encoding))
}

/// `PUT …/secrets/{name}` with a typed value: create, or write a new version.
pub(crate) async fn put(
    State(app): State<AppState>,
    uri: Uri,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
    body: Body,
) -> Result<Response, ApiError> {
    let path = writable_item(&uri, &raw)?;
    let write = parse_secret_write(read_object(body, app.body_limit).await?)?;
    let record = app.hush.put_secret(&creds, &path.namespace, &path.name, write.value, write.cas).await?;
    let status = if record.version == 1 { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(render::secret(&record))).into_response())
}

/// `DELETE …/secrets/{name}`: 204 whether or not it existed.
pub(crate) async fn delete(
    State(app): State<AppState>,
    uri: Uri,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let path = writable_item(&uri, &raw)?;
    app.hush.delete_secret(&creds, &path.namespace, &path.name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
