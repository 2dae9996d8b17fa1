//! A client for hush's REST API.
//!
//! Metadata comes back as JSON values; secret values come back as
//! [`RevealedValue`], whose fields are zeroizing types. The raw response
//! bytes are wiped once parsed. Errors keep the server's error code and
//! message, which never carry a value.

mod workload_login;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use hush_core::{SecretBytes, SecretString, zeroizing_bytes};
use hush_tls::ClientTls;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::{Method, StatusCode};
use serde_json::{Map, Value, json};
use zeroize::Zeroize;

/// Calls whose work grows with the whole store (every audit event, every
/// page): the server gives them 30 minutes instead of 30 s, and so does the
/// client instead of its usual 60 s.
const LONG_CALLS: &[&str] = &["/v1/audit/verify", "/v1/admin/backup"];
/// A little more than the server's limit, so that its 408 arrives first.
const LONG_CALL_TIMEOUT: Duration = Duration::from_secs(31 * 60);

/// Characters escaped in a path segment: everything but unreserved ones.
/// `/` in a secret name is escaped too, so names like `a/versions` are unambiguous.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'_').remove(b'.').remove(b'~');

fn segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// Where registry calls go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RegistryScope {
    /// A namespace's registries (lookups fall back to `global`).
    Namespace(String),
    /// The shared `global` registries.
    Global,
    /// `global-private`, for global services (lookups fall back to `global`).
    GlobalPrivate,
}

impl RegistryScope {
    /// The scope a namespace setting names: `global` and `global-private`
    /// are the shared scopes, anything else a namespace.
    pub fn from_namespace(ns: &str) -> Self {
        match ns {
            "global" => RegistryScope::Global,
            "global-private" => RegistryScope::GlobalPrivate,
            other => RegistryScope::Namespace(other.to_owned()),
        }
    }

    /// The scope's name.
    pub fn name(&self) -> &str {
        match self {
            RegistryScope::Namespace(ns) => ns,
            RegistryScope::Global => "global",
            RegistryScope::GlobalPrivate => "global-private",
        }
    }

    fn path(&self, suffix: &str) -> String {
        match self {
            RegistryScope::Namespace(ns) => format!("/v1/namespaces/{}/registries{suffix}", segment(ns)),
            other => format!("/v1/registries/{}{suffix}", other.name()),
        }
    }
}

/// What a registry lookup is for.
#[derive(Debug, Clone, Copy)]
pub enum RegistryTarget<'a> {
    /// An image reference.
    Image(&'a str),
    /// A server address as a credential helper gets it.
    Server(&'a str),
}

impl RegistryTarget<'_> {
    fn query(&self) -> String {
        match self {
            RegistryTarget::Image(i) => format!("image={}", segment(i)),
            RegistryTarget::Server(s) => format!("server={}", segment(s)),
        }
    }
}

/// A failed call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The server could not be reached or the connection broke.
    #[error("cannot reach hush at {addr}: {reason}")]
    Unreachable {
        /// The address tried.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The server answered with an error.
    #[error("{message} ({code})")]
    Api {
        /// HTTP status.
        status: u16,
        /// hush's error code.
        code: String,
        /// hush's message.
        message: String,
    },
    /// The answer was not what hush sends.
    #[error("unexpected response from {addr}: {reason}")]
    Protocol {
        /// The address.
        addr: String,
        /// What was wrong.
        reason: String,
    },
    /// The address is not a usable URL.
    #[error("HUSH_ADDR {0:?} is not an http:// or https:// URL")]
    BadAddress(String),
    /// Plain HTTP to a host other than this one: the token would cross the network in clear.
    #[error(
        "HUSH_ADDR {0:?} is plain HTTP to another machine: the token would cross the network in clear; \
         use https:// (or set HUSH_ALLOW_PLAIN_HTTP=true on a network you trust)"
    )]
    PlainHttpOffLoopback(String),
    /// The TLS settings cannot be used (a missing or unreadable file, a certificate without its key).
    #[error(transparent)]
    Tls(#[from] hush_tls::TlsError),
    /// A workload login could not start: no JWT, or the platform would not give one.
    #[error("{0}")]
    Login(String),
}

pub use workload_login::{JwtSource, WorkloadLogin};

impl ClientError {
    /// The HTTP status of an API error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }
}

/// A secret value returned by the server, with its metadata.
pub struct RevealedValue {
    /// Metadata fields (`name`, `type`, `version`, …).
    pub metadata: Map<String, Value>,
    /// Value fields by name (`value`, `username`, `token`, …), decoded.
    pub fields: Vec<(String, SecretBytes)>,
}

impl fmt::Debug for RevealedValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names: Vec<&str> = self.fields.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("RevealedValue").field("metadata", &self.metadata).field("fields", &names).finish()
    }
}

impl RevealedValue {
    /// One field's bytes.
    pub fn field(&self, name: &str) -> Option<&SecretBytes> {
        self.fields.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    /// The secret's type.
    pub fn secret_type(&self) -> &str {
        self.metadata.get("type").and_then(Value::as_str).unwrap_or("")
    }
}

/// hush's REST client.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    tls: ClientTls,
    base: String,
    token: Option<SecretString>,
    context: Option<String>,
    /// Logs in on the first call that needs a token, when none was given.
    login: Option<Arc<PendingLogin>>,
}

/// A workload login done at most once per client, its token kept in memory.
#[derive(Debug)]
struct PendingLogin {
    login: WorkloadLogin,
    token: tokio::sync::OnceCell<SecretString>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .finish()
    }
}

impl Client {
    /// A client for the server at `addr`: `https://…` anywhere, verified as
    /// `tls` says (an https:// server is only ever reached over verified
    /// TLS: there is no fallback to plain HTTP), or `http://…` on this
    /// machine (`127.0.0.1`, `[::1]`, `localhost`).
    pub fn new(addr: &str, token: Option<SecretString>, tls: &ClientTls) -> Result<Self, ClientError> {
        Self::connect(addr, token, tls, false)
    }

    /// As [`Client::new`], but plain `http://` to any host too (a network
    /// the operator trusts, `HUSH_ALLOW_PLAIN_HTTP`).
    pub fn new_allowing_plain_http(
        addr: &str,
        token: Option<SecretString>,
        tls: &ClientTls,
    ) -> Result<Self, ClientError> {
        Self::connect(addr, token, tls, true)
    }

    fn connect(
        addr: &str,
        token: Option<SecretString>,
        tls: &ClientTls,
        allow_plain_http: bool,
    ) -> Result<Self, ClientError> {
        let url = reqwest::Url::parse(addr).map_err(|_| ClientError::BadAddress(addr.to_owned()))?;
        let host = url.host_str().unwrap_or_default().trim_start_matches('[').trim_end_matches(']');
        if !matches!(url.scheme(), "http" | "https") || host.is_empty() {
            return Err(ClientError::BadAddress(addr.to_owned()));
        }
        let on_this_machine =
            host.eq_ignore_ascii_case("localhost") || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        if url.scheme() == "http" && !on_this_machine && !allow_plain_http {
            return Err(ClientError::PlainHttpOffLoopback(addr.to_owned()));
        }
        let base = addr.trim_end_matches('/').to_owned();
        let http = hush_tls::http_client(tls)?
            .connect_timeout(Duration::from_secs(10))
            .timeout(Duration::from_secs(60))
            .user_agent(concat!("hush/", env!("CARGO_PKG_VERSION")))
            // A refused client certificate is named only over HTTP/1.1 (see hush_tls::http_client).
            .http1_only()
            // The token goes to HUSH_ADDR and nowhere else: no proxy, no redirects.
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| ClientError::Unreachable { addr: base.clone(), reason: e.to_string() })?;
        Ok(Client { http, tls: tls.clone(), base, token, context: None, login: None })
    }

    /// The same client with this token (or none).
    pub fn with_token(mut self, token: Option<SecretString>) -> Self {
        self.token = token;
        self
    }

    /// Logs in with `login` on the first call, unless a token was given:
    /// every call then uses the token it earned.
    pub fn with_workload_login(mut self, login: WorkloadLogin) -> Self {
        self.login = Some(Arc::new(PendingLogin { login, token: tokio::sync::OnceCell::new() }));
        self
    }

    /// The token calls are made with: the one given, or the workload login's.
    async fn bearer(&self) -> Result<Option<&SecretString>, ClientError> {
        if let Some(token) = &self.token {
            return Ok(Some(token));
        }
        let Some(pending) = &self.login else { return Ok(None) };
        let token = pending.token.get_or_try_init(|| async { self.log_in(&pending.login, None).await.map(|(t, _)| t) });
        token.await.map(Some)
    }

    /// Exchanges the workload's JWT for a token: the token and its record.
    pub async fn log_in(&self, login: &WorkloadLogin, ttl: Option<&str>) -> Result<(SecretString, Value), ClientError> {
        let audience = if login.source.needs_audience() { Some(self.role_audience(&login.role).await?) } else { None };
        let jwt = login.source.jwt(audience.as_deref()).await?;
        self.login_with_jwt(&login.role, &jwt, ttl).await
    }

    /// Sends `X-Hush-Context` with every call (recorded in the audit log).
    pub fn with_context(mut self, context: impl Into<String>) -> Self {
        self.context = Some(context.into());
        self
    }

    /// The server address.
    pub fn addr(&self) -> &str {
        &self.base
    }

    async fn send(&self, method: Method, path: &str, body: Option<&Value>) -> Result<(StatusCode, Bytes), ClientError> {
        let token = self.bearer().await?;
        self.send_as(token, method, path, body).await
    }

    async fn send_as(
        &self,
        token: Option<&SecretString>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let response = self.start(token, method, path, body).await?;
        let status = response.status();
        let bytes = response.bytes().await.map_err(|e| self.broke_off(&e))?;
        Ok((status, bytes))
    }

    fn broke_off(&self, e: &reqwest::Error) -> ClientError {
        ClientError::Unreachable { addr: self.base.clone(), reason: self.tls.explain(e) }
    }

    /// Sends a request; a success is returned with its body still to read.
    async fn start(
        &self,
        token: Option<&SecretString>,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<reqwest::Response, ClientError> {
        let mut request = self.http.request(method, format!("{}{}", self.base, path));
        if LONG_CALLS.contains(&path.split('?').next().unwrap_or(path)) {
            request = request.timeout(LONG_CALL_TIMEOUT);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token.expose_secret());
        }
        if let Some(context) = &self.context {
            request = request.header("x-hush-context", context);
        }
        if let Some(body) = body {
            let bytes = serde_json::to_vec(body).unwrap_or_default();
            request = request.header("content-type", "application/json").body(zeroizing_bytes(bytes));
        }
        let unreachable =
            |e: reqwest::Error| ClientError::Unreachable { addr: self.base.clone(), reason: self.tls.explain(&e) };
        let response = request.send().await.map_err(unreachable)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let bytes = response.bytes().await.map_err(unreachable)?;
        let parsed: Option<Value> = serde_json::from_slice(&bytes).ok();
        let error = parsed.as_ref().and_then(|v| v.get("error"));
        let text = |k: &str| error.and_then(|e| e.get(k)).and_then(Value::as_str).map(str::to_owned);
        Err(ClientError::Api {
            status: status.as_u16(),
            code: text("code").unwrap_or_else(|| "http_error".into()),
            message: text("message").unwrap_or_else(|| format!("HTTP {status}")),
        })
    }

    async fn json(&self, method: Method, path: &str, body: Option<&Value>) -> Result<Value, ClientError> {
        let (status, bytes) = self.send(method, path, body).await?;
        if status == StatusCode::NO_CONTENT {
            return Ok(Value::Null);
        }
        serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Protocol { addr: self.base.clone(), reason: format!("invalid JSON: {e}") })
    }

    /// `GET /v1/health`.
    pub async fn health(&self) -> Result<Value, ClientError> {
        self.json(Method::GET, "/v1/health", None).await
    }

    /// `GET /v1/namespaces`.
    pub async fn namespaces(&self) -> Result<Value, ClientError> {
        self.json(Method::GET, "/v1/namespaces", None).await
    }

    /// `POST /v1/namespaces`.
    pub async fn create_namespace(&self, name: &str) -> Result<Value, ClientError> {
        self.json(Method::POST, "/v1/namespaces", Some(&json!({ "name": name }))).await
    }

    /// `DELETE /v1/namespaces/{ns}`.
    pub async fn delete_namespace(&self, name: &str) -> Result<(), ClientError> {
        self.json(Method::DELETE, &format!("/v1/namespaces/{}", segment(name)), None).await.map(drop)
    }

    /// `PUT /v1/namespaces/{ns}/secrets/{name}` with a body built by the caller.
    /// The body's strings are wiped after sending.
    pub async fn put_secret(&self, ns: &str, name: &str, mut body: Value) -> Result<Value, ClientError> {
        let path = format!("/v1/namespaces/{}/secrets/{}", segment(ns), segment(name));
        let result = self.json(Method::PUT, &path, Some(&body)).await;
        wipe(&mut body);
        result
    }

    /// `GET /v1/namespaces/{ns}/secrets/{name}?encoding=base64[&version=N]`.
    pub async fn get_secret(&self, ns: &str, name: &str, version: Option<u64>) -> Result<RevealedValue, ClientError> {
        let mut path = format!("/v1/namespaces/{}/secrets/{}?encoding=base64", segment(ns), segment(name));
        if let Some(v) = version {
            path.push_str(&format!("&version={v}"));
        }
        self.reveal(&path).await
    }

    /// A response holding secret fields: the raw bytes are wiped once parsed
    /// and every known value field moves into a zeroizing container.
    async fn reveal(&self, path: &str) -> Result<RevealedValue, ClientError> {
        let (_, bytes) = self.send(Method::GET, path, None).await?;
        let parsed = serde_json::from_slice::<Value>(&bytes);
        wipe_bytes(bytes);
        let Ok(Value::Object(mut map)) = parsed else {
            return Err(ClientError::Protocol {
                addr: self.base.clone(),
                reason: "the secret response is not a JSON object".into(),
            });
        };
        let mut fields = Vec::new();
        for name in ["value_base64", "value", "username", "token", "password", "server_address", "url"] {
            let Some(v) = map.remove(name) else { continue };
            let Value::String(mut text) = v else { continue };
            let decoded = if name == "value_base64" {
                let bytes = STANDARD.decode(&text).map_err(|_| ClientError::Protocol {
                    addr: self.base.clone(),
                    reason: "value_base64 is not base64".into(),
                });
                text.zeroize();
                ("value".to_owned(), SecretBytes::new(bytes?))
            } else {
                let bytes = SecretBytes::copy_from(text.as_bytes());
                text.zeroize();
                (name.to_owned(), bytes)
            };
            fields.push(decoded);
        }
        Ok(RevealedValue { metadata: map, fields })
    }

    /// `GET /v1/namespaces/{ns}/git-credentials?url=URL`: the git secret
    /// whose url covers `url`, with `username` and `token`.
    pub async fn git_credential(&self, ns: &str, url: &str) -> Result<RevealedValue, ClientError> {
        self.reveal(&format!("/v1/namespaces/{}/git-credentials?url={}", segment(ns), segment(url))).await
    }

    /// `GET /v1/admin/backup`: the encrypted backup, as the server streams it.
    pub async fn backup(&self) -> Result<Download<'_>, ClientError> {
        let token = self.bearer().await?;
        let response = self.start(token, Method::GET, "/v1/admin/backup", None).await?;
        Ok(Download { client: self, response })
    }

    /// `POST /v1/admin/rotate-root`.
    pub async fn rotate_root(&self) -> Result<Value, ClientError> {
        self.json(Method::POST, "/v1/admin/rotate-root", None).await
    }

    /// `POST /v1/namespaces/{ns}/rotate-key`.
    pub async fn rotate_namespace_key(&self, ns: &str) -> Result<Value, ClientError> {
        self.json(Method::POST, &format!("/v1/namespaces/{}/rotate-key", segment(ns)), None).await
    }

    /// `POST /v1/namespaces/{ns}/rewrap?limit=N`: one batch.
    pub async fn rewrap(&self, ns: &str, limit: u32) -> Result<Value, ClientError> {
        self.json(Method::POST, &format!("/v1/namespaces/{}/rewrap?limit={limit}", segment(ns)), None).await
    }

    /// `GET {scope}/registries`.
    pub async fn list_registries(&self, scope: &RegistryScope) -> Result<Value, ClientError> {
        self.json(Method::GET, &scope.path(""), None).await
    }

    /// `POST {scope}/registries`. The body's strings are wiped after sending.
    pub async fn put_registry(
        &self,
        scope: &RegistryScope,
        url: &str,
        username: &str,
        password: &SecretString,
    ) -> Result<Value, ClientError> {
        let mut body = json!({ "url": url, "username": username, "password": password.expose_secret() });
        let result = self.json(Method::POST, &scope.path(""), Some(&body)).await;
        wipe(&mut body);
        result
    }

    /// `DELETE {scope}/registries?url=URL`.
    pub async fn delete_registry(&self, scope: &RegistryScope, url: &str) -> Result<(), ClientError> {
        self.json(Method::DELETE, &format!("{}?url={}", scope.path(""), segment(url)), None).await.map(drop)
    }

    /// `GET {scope}/registries/resolve?image=IMAGE` (or `server=`).
    pub async fn resolve_registry(
        &self,
        scope: &RegistryScope,
        target: &RegistryTarget<'_>,
    ) -> Result<Value, ClientError> {
        self.json(Method::GET, &format!("{}?{}", scope.path("/resolve"), target.query()), None).await
    }

    /// `GET {scope}/registries/credentials?server=HOST` (or `image=`): the
    /// entry a pull would use, with `username` and `password`.
    pub async fn registry_credentials(
        &self,
        scope: &RegistryScope,
        target: &RegistryTarget<'_>,
    ) -> Result<RevealedValue, ClientError> {
        self.reveal(&format!("{}?{}", scope.path("/credentials"), target.query())).await
    }

    /// `GET {scope}/registries/dockerconfig`: the body, exactly, in a zeroizing buffer.
    pub async fn dockerconfig(&self, scope: &RegistryScope) -> Result<SecretBytes, ClientError> {
        let (_, bytes) = self.send(Method::GET, &scope.path("/dockerconfig"), None).await?;
        let out = SecretBytes::copy_from(&bytes);
        wipe_bytes(bytes);
        Ok(out)
    }

    /// `GET /v1/namespaces/{ns}/secrets` (one page).
    pub async fn list_secrets(
        &self,
        ns: &str,
        prefix: Option<&str>,
        after: Option<&str>,
        limit: Option<u32>,
    ) -> Result<Value, ClientError> {
        let mut path = format!("/v1/namespaces/{}/secrets?", segment(ns));
        if let Some(p) = prefix {
            path.push_str(&format!("prefix={}&", segment(p)));
        }
        if let Some(a) = after {
            path.push_str(&format!("after={}&", segment(a)));
        }
        if let Some(l) = limit {
            path.push_str(&format!("limit={l}&"));
        }
        self.json(Method::GET, path.trim_end_matches(['&', '?']), None).await
    }

    /// `GET …/secrets/{name}/versions`.
    pub async fn secret_versions(&self, ns: &str, name: &str) -> Result<Value, ClientError> {
        self.json(Method::GET, &format!("/v1/namespaces/{}/secrets/{}/versions", segment(ns), segment(name)), None)
            .await
    }

    /// `DELETE …/secrets/{name}`.
    pub async fn delete_secret(&self, ns: &str, name: &str) -> Result<(), ClientError> {
        self.json(Method::DELETE, &format!("/v1/namespaces/{}/secrets/{}", segment(ns), segment(name)), None)
            .await
            .map(drop)
    }

    /// `POST /v1/tokens`. The response holds the token text.
    pub async fn create_token(&self, body: &Value) -> Result<Value, ClientError> {
        self.json(Method::POST, "/v1/tokens", Some(body)).await
    }

    /// `GET /v1/tokens`.
    pub async fn tokens(&self) -> Result<Value, ClientError> {
        self.json(Method::GET, "/v1/tokens", None).await
    }

    /// `DELETE /v1/tokens/{id}`.
    pub async fn revoke_token(&self, id: &str) -> Result<(), ClientError> {
        self.json(Method::DELETE, &format!("/v1/tokens/{}", segment(id)), None).await.map(drop)
    }

    /// `GET /v1/auth/jwt/roles`.
    pub async fn roles(&self) -> Result<Value, ClientError> {
        self.json(Method::GET, "/v1/auth/jwt/roles", None).await
    }

    /// `POST /v1/auth/jwt/roles`.
    pub async fn create_role(&self, body: &Value) -> Result<Value, ClientError> {
        self.json(Method::POST, "/v1/auth/jwt/roles", Some(body)).await
    }

    /// `GET /v1/auth/jwt/roles/{name}`.
    pub async fn role(&self, name: &str) -> Result<Value, ClientError> {
        self.json(Method::GET, &format!("/v1/auth/jwt/roles/{}", segment(name)), None).await
    }

    /// `DELETE /v1/auth/jwt/roles/{name}`.
    pub async fn delete_role(&self, name: &str) -> Result<(), ClientError> {
        self.json(Method::DELETE, &format!("/v1/auth/jwt/roles/{}", segment(name)), None).await.map(drop)
    }

    /// `GET /v1/auth/jwt/audience?role=NAME`: the audience to ask the platform for.
    pub async fn role_audience(&self, role: &str) -> Result<String, ClientError> {
        let (_, bytes) =
            self.send_as(None, Method::GET, &format!("/v1/auth/jwt/audience?role={}", segment(role)), None).await?;
        let answer: Value = serde_json::from_slice(&bytes).unwrap_or_default();
        answer.get("audience").and_then(Value::as_str).map(str::to_owned).ok_or_else(|| ClientError::Protocol {
            addr: self.base.clone(),
            reason: "the audience answer has no 'audience'".into(),
        })
    }

    /// `POST /v1/auth/jwt/login`: the token a JWT earns with `role`, and
    /// the token's record (id, namespaces, scopes, expiry, identity).
    pub async fn login_with_jwt(
        &self,
        role: &str,
        jwt: &SecretString,
        ttl: Option<&str>,
    ) -> Result<(SecretString, Value), ClientError> {
        let mut body = serde_json::json!({ "role": role, "jwt": jwt.expose_secret() });
        if let Some(ttl) = ttl {
            body["ttl"] = Value::String(ttl.to_owned());
        }
        let sent = self.send_as(None, Method::POST, "/v1/auth/jwt/login", Some(&body)).await;
        wipe(&mut body);
        let (_, bytes) = sent?;
        let parsed = serde_json::from_slice::<Value>(&bytes);
        wipe_bytes(bytes);
        let protocol = |reason: &str| ClientError::Protocol { addr: self.base.clone(), reason: reason.to_owned() };
        let Ok(Value::Object(mut record)) = parsed else {
            return Err(protocol("the login answer is not a JSON object"));
        };
        let Some(Value::String(mut text)) = record.remove("token") else {
            return Err(protocol("the login answer has no token"));
        };
        let token = SecretString::new(std::mem::take(&mut text));
        Ok((token, Value::Object(record)))
    }

    /// `GET /v1/audit` with the filters given.
    pub async fn audit(&self, filter: &AuditListing<'_>) -> Result<Value, ClientError> {
        let texts = [
            ("namespace", filter.namespace),
            ("name", filter.name),
            ("action", filter.action),
            ("outcome", filter.outcome),
            ("token", filter.token),
        ];
        let numbers = [("before", filter.before), ("limit", filter.limit.map(u64::from))];
        self.json(Method::GET, &with_query("/v1/audit", &texts, &numbers), None).await
    }

    /// `GET /v1/audit/export`: a page of events oldest first, with `next`
    /// to pass as `after` (null at the log's end).
    pub async fn audit_export(&self, filter: &AuditExport<'_>) -> Result<Value, ClientError> {
        let texts = [("namespace", filter.namespace), ("since", filter.since), ("until", filter.until)];
        let numbers = [("after", filter.after), ("limit", filter.limit.map(u64::from))];
        self.json(Method::GET, &with_query("/v1/audit/export", &texts, &numbers), None).await
    }

    /// `GET /v1/audit/verify`.
    pub async fn audit_verify(&self) -> Result<Value, ClientError> {
        self.json(Method::GET, "/v1/audit/verify", None).await
    }

    /// `GET /v1/audit/verify?progress=true`: the same report, with
    /// `progress(checked, total)` called as the server goes.
    pub async fn audit_verify_with_progress(&self, mut progress: impl FnMut(u64, u64)) -> Result<Value, ClientError> {
        let token = self.bearer().await?;
        let mut response = self.start(token, Method::GET, "/v1/audit/verify?progress=true", None).await?;
        let protocol = |reason: &str| ClientError::Protocol { addr: self.base.clone(), reason: reason.to_owned() };
        let mut pending = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| self.broke_off(&e))? {
            pending.extend_from_slice(&chunk);
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let value: Value =
                    serde_json::from_slice(&line).map_err(|_| protocol("a progress line is not JSON"))?;
                if let Some(result) = value.get("result") {
                    return Ok(result.clone());
                }
                if let Some(error) = value.get("error") {
                    let text = |k: &str| error.get(k).and_then(Value::as_str).unwrap_or_default().to_owned();
                    return Err(ClientError::Api { status: 500, code: text("code"), message: text("message") });
                }
                progress(value["checked"].as_u64().unwrap_or(0), value["total"].as_u64().unwrap_or(0));
            }
        }
        Err(protocol("the verification ended without its result"))
    }

    /// `POST /v1/audit/prune?before=&force=&limit=`: one step of a prune
    /// (call again while `remaining` is above 0).
    pub async fn audit_prune(&self, before: &str, force: bool, limit: u32) -> Result<Value, ClientError> {
        let texts = [("before", Some(before)), ("force", force.then_some("true"))];
        let numbers = [("limit", Some(u64::from(limit)))];
        self.json(Method::POST, &with_query("/v1/audit/prune", &texts, &numbers), None).await
    }
}

/// Which audit events to list (`GET /v1/audit`); `None` is no filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditListing<'a> {
    /// Only this namespace.
    pub namespace: Option<&'a str>,
    /// Only this secret name.
    pub name: Option<&'a str>,
    /// Only this action, e.g. `secret.read`.
    pub action: Option<&'a str>,
    /// Only this outcome, e.g. `denied`.
    pub outcome: Option<&'a str>,
    /// Only this token, by its public id.
    pub token: Option<&'a str>,
    /// Only events older than this sequence number.
    pub before: Option<u64>,
    /// At most this many.
    pub limit: Option<u32>,
}

/// Which audit events to export (`GET /v1/audit/export`); `None` is no filter.
#[derive(Debug, Clone, Copy, Default)]
pub struct AuditExport<'a> {
    /// Only this namespace.
    pub namespace: Option<&'a str>,
    /// Only events at or after this RFC 3339 time.
    pub since: Option<&'a str>,
    /// Only events before this RFC 3339 time.
    pub until: Option<&'a str>,
    /// Only events after this sequence number (the previous page's `next`).
    pub after: Option<u64>,
    /// At most this many.
    pub limit: Option<u32>,
}

/// `path` with the given query parameters (escaped texts, then numbers);
/// `None` values are left out.
fn with_query(path: &str, texts: &[(&str, Option<&str>)], numbers: &[(&str, Option<u64>)]) -> String {
    let texts = texts.iter().filter_map(|(k, v)| v.map(|v| format!("{k}={}", segment(v))));
    let numbers = numbers.iter().filter_map(|(k, v)| v.map(|v| format!("{k}={v}")));
    let query: Vec<String> = texts.chain(numbers).collect();
    if query.is_empty() { path.to_owned() } else { format!("{path}?{}", query.join("&")) }
}

/// Overwrites a response body once this is its only holder.
fn wipe_bytes(bytes: Bytes) {
    if let Ok(mut owned) = bytes.try_into_mut() {
        owned.as_mut().zeroize();
    }
}

/// Wipes every string inside a JSON value.
pub fn wipe(v: &mut Value) {
    match v {
        Value::String(s) => s.zeroize(),
        Value::Array(items) => items.iter_mut().for_each(wipe),
        Value::Object(map) => map.iter_mut().for_each(|(_, v)| wipe(v)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_on_this_machine() {
        let tls = ClientTls::default();
        for ok in ["http://127.0.0.1:8270", "http://localhost:1", "http://[::1]:8270/", "https://hush.example:8270"] {
            assert!(Client::new(ok, None, &tls).is_ok(), "{ok}");
        }
        for off in ["http://hush.example:8270", "http://10.0.0.5:8270", "http://127.0.0.1.example.com"] {
            let e = Client::new(off, None, &tls).unwrap_err();
            assert!(matches!(e, ClientError::PlainHttpOffLoopback(_)), "{off}: {e}");
            assert!(e.to_string().contains("HUSH_ALLOW_PLAIN_HTTP"), "{e}");
            assert!(Client::new_allowing_plain_http(off, None, &tls).is_ok(), "{off}");
        }
        for bad in ["127.0.0.1:8270", "ftp://x", "http://", ""] {
            assert!(matches!(Client::new(bad, None, &tls), Err(ClientError::BadAddress(_))), "{bad}");
        }
    }
}

/// A response body read as it arrives (`HushClient::backup`).
#[derive(Debug)]
pub struct Download<'a> {
    client: &'a Client,
    response: reqwest::Response,
}

impl Download<'_> {
    /// The next piece of the body; `None` at its end. A connection that
    /// breaks off is an error, so a cut download is never taken for whole.
    pub async fn chunk(&mut self) -> Result<Option<Bytes>, ClientError> {
        self.response.chunk().await.map_err(|e| self.client.broke_off(&e))
    }
}
