//! Registry entries at three scopes: `/v1/namespaces/{ns}/registries…`,
//! `/v1/registries/global…` and `/v1/registries/global-private…`, plus a
//! connection test with given credentials at `/v1/registries/test`.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, Path, RawQuery, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hush_core::{DOCKER_HUB, RegistryAddress, SecretString};
use hush_service::{RegistryCredentials, RegistryScope, RegistrySelector, RegistryTarget};
use serde_json::{Value, json};
use zeroize::Zeroizing;

use super::namespace_name;
use crate::json_body::{JsonObject, read_object};
use crate::query_params::QueryParams;
use crate::request_credentials::RequestCredentials;
use crate::reveal::{SecretJson, fields_response};
use crate::{ApiError, AppState, render};

/// The scope a path names: `{ns}` (a namespace) or `{scope}` (`global`,
/// `global-private`).
pub(crate) struct ScopePath(pub(crate) RegistryScope);

impl<S: Send + Sync> FromRequestParts<S> for ScopePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::bad_request("invalid_name", "the path is not valid UTF-8 once decoded"))?;
        if let Some(ns) = params.get("ns") {
            return namespace_scope(ns).map(ScopePath);
        }
        shared_scope(params.get("scope").map_or("", String::as_str)).map(ScopePath)
    }
}

/// A namespace's registries; the reserved names are not namespaces.
pub(crate) fn namespace_scope(raw: &str) -> Result<RegistryScope, ApiError> {
    let ns = namespace_name(raw)?;
    if ns.is_reserved() {
        return Err(hush_service::ServiceError::NotFound(hush_service::Missing::Namespace).into());
    }
    Ok(RegistryScope::Namespace(ns))
}

/// `global` or `global-private`.
pub(crate) fn shared_scope(raw: &str) -> Result<RegistryScope, ApiError> {
    match raw {
        "global" => Ok(RegistryScope::Global),
        "global-private" => Ok(RegistryScope::GlobalPrivate),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "scope_not_found",
            "the shared registry scopes are global and global-private",
        )),
    }
}

fn required(obj: &mut JsonObject, field: &str) -> Result<String, ApiError> {
    obj.take_string(field)?
        .ok_or_else(|| ApiError::bad_request("malformed_body", format!("field '{field}' is required")))
}

/// `{"url","username","password"}`, all required, nothing else.
async fn read_credentials(body: Body, limit: usize) -> Result<(String, String, SecretString), ApiError> {
    let mut obj = read_object(body, limit).await?;
    let url = required(&mut obj, "url")?;
    let username = required(&mut obj, "username")?;
    let password = SecretString::new(required(&mut obj, "password")?);
    obj.finish(&["url", "username", "password"])?;
    Ok((url, username, password))
}

/// `GET …/registries` → `{"registries":[entry…]}`.
pub(crate) async fn list(
    State(app): State<AppState>,
    ScopePath(scope): ScopePath,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    QueryParams::parse(&raw)?.finish(&[])?;
    let entries = app.hush.list_registries(&creds, &scope).await?;
    Ok(Json(json!({ "registries": entries.iter().map(render::registry).collect::<Vec<_>>() })).into_response())
}

/// `POST …/registries` with `{"url","username","password"}` → 201 (new) or 200 (rotated).
pub(crate) async fn create(
    State(app): State<AppState>,
    ScopePath(scope): ScopePath,
    RequestCredentials(creds): RequestCredentials,
    body: Body,
) -> Result<Response, ApiError> {
    let (url, username, password) = read_credentials(body, app.body_limit).await?;
    let (entry, created) = app.hush.put_registry(&creds, &scope, &url, username, password).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    Ok((status, Json(render::registry(&entry))).into_response())
}

/// `?url=` or `?id=`, exactly one.
fn selector(q: &mut QueryParams) -> Result<RegistrySelector, ApiError> {
    match (q.take("url"), q.take("id")) {
        (Some(url), None) => Ok(RegistrySelector::Url(url)),
        (None, Some(id)) => Ok(RegistrySelector::Id(id)),
        _ => Err(ApiError::bad_request("invalid_query", "give exactly one of the query parameters 'url' and 'id'")),
    }
}

/// `DELETE …/registries?url=URL` (or `?id=`) → 204; 404 if no entry has that address.
pub(crate) async fn delete(
    State(app): State<AppState>,
    ScopePath(scope): ScopePath,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let mut q = QueryParams::parse(&raw)?;
    let selector = selector(&mut q)?;
    q.finish(&["url", "id"])?;
    app.hush.delete_registry(&creds, &scope, &selector).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `?image=` or `?server=`, exactly one.
fn target(raw: &RawQuery) -> Result<RegistryTarget, ApiError> {
    let mut q = QueryParams::parse(raw)?;
    let target = match (q.take("image"), q.take("server")) {
        (Some(image), None) => RegistryTarget::Image(image),
        (None, Some(server)) => RegistryTarget::Server(server),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_query",
                "give exactly one of the query parameters 'image' and 'server'",
            ));
        }
    };
    q.finish(&["image", "server"])?;
    Ok(target)
}

/// `GET …/registries/resolve?image=IMAGE|server=HOST` → the entry a pull would use.
pub(crate) async fn resolve(
    State(app): State<AppState>,
    ScopePath(scope): ScopePath,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let entry = app.hush.resolve_registry(&creds, &scope, &target(&raw)?).await?;
    Ok(Json(render::registry(&entry)).into_response())
}

/// `GET …/registries/credentials?image=|server=` → the entry with `username` and `password`.
pub(crate) async fn credentials_for(
    State(app): State<AppState>,
    ScopePath(scope): ScopePath,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let found = app.hush.registry_credentials(&creds, &scope, &target(&raw)?).await?;
    Ok(fields_response(
        &render::registry(&found.entry),
        &[("username", &found.entry.username), ("password", found.password.expose_secret())],
    ))
}

/// The `auths` key of an entry: Docker Hub by its traditional URL, others by `host[/path]`.
fn auths_key(key: &str) -> String {
    if key == DOCKER_HUB { "https://index.docker.io/v1/".to_owned() } else { key.to_owned() }
}

/// `GET …/registries/dockerconfig` → `{"auths":{KEY:{"username","password","auth"}}}`.
pub(crate) async fn dockerconfig(
    State(app): State<AppState>,
    ScopePath(scope): ScopePath,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    QueryParams::parse(&raw)?.finish(&[])?;
    let all = app.hush.registry_auths(&creds, &scope).await?;
    Ok(dockerconfig_body(&all).into_response())
}

fn dockerconfig_body(all: &[RegistryCredentials]) -> SecretJson {
    let secret: usize = all.iter().map(|c| 3 * (c.entry.username.len() + c.password.len()) + 64).sum();
    let other: usize = all.iter().map(|c| c.entry.key.len() + 64).sum();
    let mut body = SecretJson::with_capacity(secret, other + 32);
    body.raw(b"{\"auths\":{");
    for (i, c) in all.iter().enumerate() {
        if i > 0 {
            body.raw(b",");
        }
        let mut pair = Zeroizing::new(String::with_capacity(c.entry.username.len() + c.password.len() + 1));
        pair.push_str(&c.entry.username);
        pair.push(':');
        pair.push_str(c.password.expose_secret());
        let auth = Zeroizing::new(STANDARD.encode(pair.as_bytes()));
        body.string(&auths_key(&c.entry.key)).raw(b":{");
        body.field("username", &c.entry.username).field("password", c.password.expose_secret()).field("auth", &auth);
        body.raw(b"}");
    }
    body.raw(b"}}");
    body
}

/// `POST …/registries/test` with `{"url"}`: tries the stored entry's
/// credentials against the entry's own address.
pub(crate) async fn test_stored(
    State(app): State<AppState>,
    ScopePath(scope): ScopePath,
    RequestCredentials(creds): RequestCredentials,
    body: Body,
) -> Result<Response, ApiError> {
    let mut obj = read_object(body, app.body_limit).await?;
    let url = required(&mut obj, "url")?;
    obj.finish(&["url"])?;
    let found = app.hush.registry_test_credentials(&creds, &scope, &RegistrySelector::Url(url)).await?;
    // The entry's own address, not the caller's spelling of it: a caller
    // who may change entries but not read them must not be able to send a
    // stored password somewhere else, or over plain HTTP when it was https.
    probe_response(&found.entry.url, &found.entry.username, &found.password).await
}

/// `POST /v1/registries/test` with `{"url","username","password"}`: tries the given credentials.
pub(crate) async fn test_given(
    State(app): State<AppState>,
    RequestCredentials(creds): RequestCredentials,
    body: Body,
) -> Result<Response, ApiError> {
    let (url, username, password) = read_credentials(body, app.body_limit).await?;
    app.hush.authorize_registry_test(&creds, &url).await?;
    probe_response(&url, &username, &password).await
}

async fn probe_response(url: &str, username: &str, password: &SecretString) -> Result<Response, ApiError> {
    let address =
        RegistryAddress::parse(url).map_err(|e| ApiError::bad_request("invalid_value", format!("url: {e}")))?;
    let report = hush_registry_probe::probe(&address, username, password).await.map_err(|e| {
        tracing::error!(error = %e, "registry connection test could not start");
        ApiError::from(hush_service::ServiceError::internal(e))
    })?;
    Ok(Json::<Value>(report.to_json()).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_hub_is_keyed_as_docker_expects() {
        assert_eq!(auths_key("docker.io"), "https://index.docker.io/v1/");
        assert_eq!(auths_key("127.0.0.1:5000/ns"), "127.0.0.1:5000/ns");
    }
}
