//! Workload identity: `/v1/auth/jwt/roles[/{name}]` (login roles, with
//! `tokens:manage`), `POST /v1/auth/jwt/login` (a JWT for a hush token) and
//! `GET /v1/auth/jwt/audience?role=` (what audience to ask the platform for).

use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, Path, RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hush_core::{Scope, ScopeSet, SecretString};
use hush_service::hush_identity::{BoundClaim, DEFAULT_MAX_JWT_LIFETIME, KeySource, LoginRules};
use hush_service::{DEFAULT_ROLE_MAX_TTL, DEFAULT_ROLE_TTL, RoleSpec, ServiceError};
use serde_json::{Value, json};

use super::namespace_name;
use crate::admission::LoginGate;
use crate::json_body::{JsonObject, read_object, wipe_value};
use crate::query_params::QueryParams;
use crate::request_credentials::{RequestCredentials, credentials};
use crate::{ApiError, AppState, render};

/// Largest login body read, in bytes: a JWT is at most 16 KiB, and the
/// route is open to anyone, so it does not get the value-sized limit.
const LOGIN_BODY_LIMIT: usize = 64 * 1024;

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request("malformed_body", message)
}

const ROLE_FIELDS: [&str; 13] = [
    "name",
    "namespaces",
    "scopes",
    "issuer",
    "audience",
    "bound_claims",
    "record_claims",
    "ttl",
    "max_ttl",
    "max_jwt_lifetime",
    "jwks_url",
    "jwks",
    "description",
];

/// The body of `POST /v1/auth/jwt/roles`.
fn parse_role(mut obj: JsonObject) -> Result<RoleSpec, ApiError> {
    let required = |v: Option<String>, field: &str| v.ok_or_else(|| bad(format!("field '{field}' is required")));
    let name = required(obj.take_string("name")?, "name")?;
    let namespaces = obj
        .take_string_list("namespaces")?
        .ok_or_else(|| bad("field 'namespaces' is required: the namespaces a login's token may act in"))?
        .iter()
        .map(|n| namespace_name(n))
        .collect::<Result<Vec<_>, _>>()?;
    let scopes = obj
        .take_string_list("scopes")?
        .ok_or_else(|| bad("field 'scopes' is required"))?
        .iter()
        .map(|s| s.parse::<Scope>().map_err(|e| ApiError::bad_request("invalid_scopes", e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let issuer = required(obj.take_string("issuer")?, "issuer")?;
    let audience = required(obj.take_string("audience")?, "audience")?;
    let bound_claims = obj
        .take_string_list("bound_claims")?
        .unwrap_or_default()
        .iter()
        .map(|b| b.parse::<BoundClaim>().map_err(|e| ApiError::bad_request("invalid_role", e.to_string())))
        .collect::<Result<Vec<_>, _>>()?;
    let record_claims = obj.take_string_list("record_claims")?.unwrap_or_default();
    let ttl = obj.take_duration("ttl")?.unwrap_or(DEFAULT_ROLE_TTL);
    let max_ttl = obj.take_duration("max_ttl")?.unwrap_or(DEFAULT_ROLE_MAX_TTL.max(ttl));
    let max_jwt_lifetime = obj.take_duration("max_jwt_lifetime")?.unwrap_or(DEFAULT_MAX_JWT_LIFETIME);
    let keys = match (obj.take_string("jwks_url")?, obj.take_value("jwks")) {
        (Some(_), Some(v)) if !v.is_null() => return Err(bad("give 'jwks_url' or 'jwks', not both")),
        (Some(url), _) => KeySource::JwksUrl(url),
        (None, None | Some(Value::Null)) => KeySource::Discovery,
        (None, Some(set)) => KeySource::Jwks(serde_json::from_value(set).map_err(|e| {
            ApiError::bad_request(
                "invalid_role",
                format!("field 'jwks' is not a JWKS document ({{\"keys\": [...]}}): {e}"),
            )
        })?),
    };
    obj.take_string("description")?;
    obj.finish(&ROLE_FIELDS)?;
    let rules = LoginRules {
        issuer,
        audience,
        bound_claims,
        record_claims,
        keys,
        max_jwt_lifetime_secs: max_jwt_lifetime.as_secs(),
    };
    Ok(RoleSpec { name, namespaces, scopes: ScopeSet::of(scopes), rules, ttl, max_ttl })
}

/// `POST /v1/auth/jwt/roles` → 201 with the role.
pub(crate) async fn create_role(
    State(app): State<AppState>,
    RequestCredentials(creds): RequestCredentials,
    body: Body,
) -> Result<Response, ApiError> {
    let spec = parse_role(read_object(body, app.body_limit).await?)?;
    let role = app.hush.create_role(&creds, &spec).await?;
    Ok((StatusCode::CREATED, Json(render::role(&role))).into_response())
}

/// `GET /v1/auth/jwt/roles`
pub(crate) async fn list_roles(
    State(app): State<AppState>,
    RequestCredentials(creds): RequestCredentials,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    QueryParams::parse(&raw)?.finish(&[])?;
    let roles = app.hush.list_roles(&creds).await?;
    Ok(Json(json!({ "roles": roles.iter().map(render::role).collect::<Vec<_>>() })).into_response())
}

/// `GET /v1/auth/jwt/roles/{name}`
pub(crate) async fn get_role(
    State(app): State<AppState>,
    Path(name): Path<String>,
    RequestCredentials(creds): RequestCredentials,
) -> Result<Response, ApiError> {
    let role = app.hush.get_role(&creds, &name).await?;
    Ok(Json(render::role(&role)).into_response())
}

/// `DELETE /v1/auth/jwt/roles/{name}` → 204.
pub(crate) async fn delete_role(
    State(app): State<AppState>,
    Path(name): Path<String>,
    RequestCredentials(creds): RequestCredentials,
) -> Result<Response, ApiError> {
    app.hush.delete_role(&creds, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /v1/auth/jwt/login {"role", "jwt", "ttl"?}` → 200 with a token,
/// shown this once. A failed login is a 401 that says nothing more, and it
/// spends the client address's budget of failed authentications.
pub(crate) async fn login(
    State(app): State<AppState>,
    Extension(gate): Extension<LoginGate>,
    request: axum::extract::Request,
) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    let creds = credentials(&parts.headers, &parts.extensions)?;
    let mut obj = read_object(body, LOGIN_BODY_LIMIT).await?;
    // The JWT leaves the JSON value for a zeroizing string at once.
    let jwt = match obj.take_value("jwt") {
        Some(Value::String(text)) => SecretString::new(text),
        Some(mut other) => {
            wipe_value(&mut other);
            return Err(bad("field 'jwt' must be a string: the JWT your platform issued"));
        }
        None => return Err(bad("field 'jwt' is required: the JWT your platform issued")),
    };
    let role = obj.take_string("role")?.ok_or_else(|| bad("field 'role' is required"))?;
    let ttl = obj.take_duration("ttl")?;
    obj.finish(&["role", "jwt", "ttl"])?;
    let issued = match app.hush.login_with_jwt(&creds, &role, &jwt, ttl).await {
        Ok(issued) => issued,
        Err(e @ ServiceError::Unauthenticated(_)) => {
            gate.failed();
            return Err(e.into());
        }
        Err(e) => return Err(e.into()),
    };
    let mut body = render::token(&issued.record);
    body["token"] = Value::String(issued.token.expose_secret().to_owned());
    let mut response = Json(body).into_response();
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

/// `GET /v1/auth/jwt/audience?role=NAME` → `{"role", "audience"}`: what a
/// workload asks its platform to put in the JWT's `aud`. Needs no token
/// (the audience is not a secret); a role that does not exist is a 404 and
/// counts as a failed authentication, so names cannot be probed quickly.
pub(crate) async fn audience(
    State(app): State<AppState>,
    Extension(gate): Extension<LoginGate>,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let mut query = QueryParams::parse(&raw)?;
    let role = query.take("role").ok_or_else(|| ApiError::bad_request("missing_role", "name the role: ?role=NAME"))?;
    query.finish(&["role"])?;
    match app.hush.role_audience(&role).await? {
        Some(audience) => Ok(Json(json!({ "role": role, "audience": audience })).into_response()),
        None => {
            gate.failed();
            Err(ServiceError::NotFound(hush_service::Missing::Role).into())
        }
    }
}
