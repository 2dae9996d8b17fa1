//! hush's HTTP API: the REST routes under `/v1`, over [`hush_service::Hush`].
//!
//! This crate owns the wire: connections (plain, or TLS with an optional
//! client certificate), paths, query strings, JSON bodies, headers, status
//! codes and the error shape `{"error":{"code","message"}}`. The rules (who
//! may do what, encryption, audit) are the service's. [`app`] builds the
//! router (for in-process tests); [`run`] and [`run_tls`] serve it on a
//! bound listener until a shutdown future completes.

mod access_log;
mod admission;
mod api_error;
mod certificate_reload;
mod client_address;
mod connection_info;
mod connection_slots;
mod connection_watchdog;
mod dodil;
pub mod grpc;
mod json_body;
mod limits;
mod listener;
pub mod metrics_export;
mod query_params;
mod rate_limits;
mod render;
mod request_credentials;
mod request_timeout;
mod reveal;
mod route_gate;
mod routes;
mod secret_body;
mod server_tls;
mod streamed_body;
mod vault;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::get;
use hush_service::Hush;
use tokio::net::TcpListener;

pub use api_error::ApiError;
pub use certificate_reload::{keep_certificate_fresh, log_certificate};
pub use client_address::ClientAddress;
pub use connection_info::ConnectionInfo;
pub use limits::{ForwardedHeader, MEMORY_BUDGET, ServerLimits, WORST_CONNECTION_BYTES, default_max_connections};
pub use request_credentials::CONTEXT_HEADER;
pub use request_timeout::LONG_REQUEST_TIMEOUT;
pub use routes::meta::OPENAPI;
pub use server_tls::{ServerTls, TlsFiles};
pub use vault::VaultMount;

/// What every handler shares.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The service.
    pub hush: Arc<Hush>,
    /// Largest request body accepted, in bytes.
    pub body_limit: usize,
    /// Timeouts, connection caps and rate limits.
    pub limits: Arc<ServerLimits>,
    /// Where the Vault KV v2 API is mounted (`/v1/{mount}/…`).
    pub vault_mount: VaultMount,
}

impl AppState {
    /// State for `hush`, with a body limit that fits its largest value in any encoding.
    pub fn new(hush: Arc<Hush>) -> Self {
        // JSON escaping can grow a value six-fold; base64 by 4/3. Leave room for the rest.
        let body_limit = hush.config().max_value_bytes.saturating_mul(6).saturating_add(64 * 1024);
        AppState { hush, body_limit, limits: Arc::new(ServerLimits::default()), vault_mount: VaultMount::default() }
    }

    /// The same state with the Vault KV v2 API under another mount.
    pub fn with_vault_mount(mut self, mount: VaultMount) -> Self {
        self.vault_mount = mount;
        self
    }

    /// The same state under other limits.
    pub fn with_limits(mut self, limits: ServerLimits) -> Self {
        self.limits = Arc::new(limits);
        self
    }
}

/// Every route, as `(method, path)` in OpenAPI form; the OpenAPI test checks
/// the document against this list.
pub const ROUTES: &[(&str, &str)] = &[
    ("get", "/v1/health"),
    ("get", "/metrics"),
    ("get", "/v1/openapi.json"),
    ("get", "/v1/namespaces"),
    ("post", "/v1/namespaces"),
    ("delete", "/v1/namespaces/{namespace}"),
    ("post", "/v1/namespaces/{namespace}/rotate-key"),
    ("post", "/v1/namespaces/{namespace}/rewrap"),
    ("get", "/v1/namespaces/{namespace}/secrets"),
    ("get", "/v1/namespaces/{namespace}/secrets/{name}"),
    ("put", "/v1/namespaces/{namespace}/secrets/{name}"),
    ("delete", "/v1/namespaces/{namespace}/secrets/{name}"),
    ("get", "/v1/namespaces/{namespace}/secrets/{name}/versions"),
    ("get", "/v1/namespaces/{namespace}/registries"),
    ("post", "/v1/namespaces/{namespace}/registries"),
    ("delete", "/v1/namespaces/{namespace}/registries"),
    ("get", "/v1/namespaces/{namespace}/registries/resolve"),
    ("get", "/v1/namespaces/{namespace}/registries/credentials"),
    ("get", "/v1/namespaces/{namespace}/registries/dockerconfig"),
    ("post", "/v1/namespaces/{namespace}/registries/test"),
    ("get", "/v1/registries/{scope}"),
    ("post", "/v1/registries/{scope}"),
    ("delete", "/v1/registries/{scope}"),
    ("get", "/v1/registries/{scope}/resolve"),
    ("get", "/v1/registries/{scope}/credentials"),
    ("get", "/v1/registries/{scope}/dockerconfig"),
    ("post", "/v1/registries/{scope}/test"),
    ("post", "/v1/registries/test"),
    ("get", "/v1/namespaces/{namespace}/git-credentials"),
    ("get", "/api/functions/registries/namespaces/{namespace}"),
    ("post", "/api/functions/registries/namespaces/{namespace}"),
    ("delete", "/api/functions/registries/namespaces/{namespace}"),
    ("get", "/api/functions/registries/global"),
    ("post", "/api/functions/registries/global"),
    ("delete", "/api/functions/registries/global"),
    ("get", "/api/functions/registries/private"),
    ("post", "/api/functions/registries/private"),
    ("delete", "/api/functions/registries/private"),
    ("get", "/v1/tokens"),
    ("post", "/v1/tokens"),
    ("delete", "/v1/tokens/{id}"),
    ("get", "/v1/auth/jwt/roles"),
    ("post", "/v1/auth/jwt/roles"),
    ("get", "/v1/auth/jwt/roles/{name}"),
    ("delete", "/v1/auth/jwt/roles/{name}"),
    ("post", "/v1/auth/jwt/login"),
    ("get", "/v1/auth/jwt/audience"),
    ("get", "/v1/audit"),
    ("get", "/v1/audit/export"),
    ("get", "/v1/audit/verify"),
    ("post", "/v1/audit/prune"),
    ("get", "/v1/admin/backup"),
    ("post", "/v1/admin/rotate-root"),
    ("get", "/api/v2/namespaces"),
    ("post", "/api/v2/namespaces"),
    ("get", "/api/v2/namespaces/{namespace}/secrets"),
    ("post", "/api/v2/namespaces/{namespace}/secrets"),
    ("get", "/api/v2/namespaces/{namespace}/secrets/{name}"),
    ("patch", "/api/v2/namespaces/{namespace}/secrets/{name}"),
    ("delete", "/api/v2/namespaces/{namespace}/secrets/{name}"),
    ("get", "/api/v2/namespaces/{namespace}/registries"),
    ("post", "/api/v2/namespaces/{namespace}/registries"),
    ("delete", "/api/v2/namespaces/{namespace}/registries/{id}"),
    ("get", "/ui"),
    ("get", "/ui/"),
    ("get", "/ui/app.js"),
    ("get", "/ui/style.css"),
    ("get", "/v1/ignite/secrets"),
    ("post", "/v1/ignite/secrets"),
    ("get", "/v1/ignite/secrets/{name}"),
    ("delete", "/v1/ignite/secrets/{name}"),
    ("get", "/v1/sys/health"),
    ("get", "/v1/sys/seal-status"),
    ("get", "/v1/sys/leader"),
    ("get", "/v1/sys/internal/ui/mounts/{path}"),
    ("get", "/v1/auth/token/lookup-self"),
    ("post", "/v1/auth/token/revoke-self"),
    ("put", "/v1/auth/token/revoke-self"),
    ("get", "/v1/secret/data/{path}"),
    ("put", "/v1/secret/data/{path}"),
    ("post", "/v1/secret/data/{path}"),
    ("patch", "/v1/secret/data/{path}"),
    ("delete", "/v1/secret/data/{path}"),
    ("get", "/v1/secret/metadata/{path}"),
    ("put", "/v1/secret/metadata/{path}"),
    ("post", "/v1/secret/metadata/{path}"),
    ("patch", "/v1/secret/metadata/{path}"),
    ("delete", "/v1/secret/metadata/{path}"),
    ("post", "/v1/secret/delete/{path}"),
    ("put", "/v1/secret/delete/{path}"),
    ("post", "/v1/secret/undelete/{path}"),
    ("put", "/v1/secret/undelete/{path}"),
    ("post", "/v1/secret/destroy/{path}"),
    ("put", "/v1/secret/destroy/{path}"),
    ("get", "/v1/secret/config"),
    ("post", "/v1/secret/config"),
    ("put", "/v1/secret/config"),
];

/// The router.
pub fn app(state: AppState) -> Router {
    use axum::routing::post;
    use routes::{
        audit, auth, direktiv, direktiv_v2 as v2, git_credentials, ignite, meta, namespaces, registries, secrets,
        tokens, ui,
    };
    let registry_routes = |base: &str, router: Router<AppState>| {
        router
            .route(base, get(registries::list).post(registries::create).delete(registries::delete))
            .route(&format!("{base}/resolve"), get(registries::resolve))
            .route(&format!("{base}/credentials"), get(registries::credentials_for))
            .route(&format!("{base}/dockerconfig"), get(registries::dockerconfig))
            .route(&format!("{base}/test"), post(registries::test_stored))
    };
    let direktiv_routes = || get(direktiv::list).post(direktiv::create).delete(direktiv::delete);
    let admission =
        admission::Admission::new(Arc::clone(&state.hush), Arc::clone(&state.limits), state.vault_mount.clone());
    let router = registry_routes("/v1/namespaces/{ns}/registries", Router::new());
    let router = registry_routes("/v1/registries/{scope}", router);
    let router = vault::routes(router, &state.vault_mount);
    let rest: Router = router
        .route("/v1/health", get(meta::health))
        .route("/metrics", get(metrics_export::metrics))
        .route("/v1/openapi.json", get(meta::openapi))
        .route("/v1/namespaces", get(namespaces::list).post(namespaces::create))
        .route("/v1/namespaces/{ns}", axum::routing::delete(namespaces::delete))
        .route("/v1/namespaces/{ns}/rotate-key", post(namespaces::rotate_key))
        .route("/v1/namespaces/{ns}/rewrap", post(namespaces::rewrap))
        .route("/v1/namespaces/{ns}/secrets", get(secrets::list))
        .route("/v1/namespaces/{ns}/secrets/{*name}", get(secrets::get).put(secrets::put).delete(secrets::delete))
        .route("/v1/registries/test", post(registries::test_given))
        .route("/v1/namespaces/{ns}/git-credentials", get(git_credentials::get))
        .route("/api/functions/registries/namespaces/{ns}", direktiv_routes())
        .route("/api/functions/registries/global", direktiv_routes())
        .route("/api/functions/registries/private", direktiv_routes())
        .route("/v1/tokens", get(tokens::list).post(tokens::create))
        .route("/v1/tokens/{id}", axum::routing::delete(tokens::revoke))
        .route("/v1/auth/jwt/roles", get(auth::list_roles).post(auth::create_role))
        .route("/v1/auth/jwt/roles/{name}", get(auth::get_role).delete(auth::delete_role))
        .route("/v1/auth/jwt/login", post(auth::login))
        .route("/v1/auth/jwt/audience", get(auth::audience))
        .route("/v1/audit", get(audit::list))
        .route("/v1/audit/export", get(audit::export))
        .route("/v1/audit/verify", get(audit::verify))
        .route("/v1/audit/prune", post(audit::prune))
        .route("/v1/admin/backup", get(meta::backup))
        .route("/v1/admin/rotate-root", post(meta::rotate_root))
        .route("/api/v2/namespaces", get(v2::list_namespaces).post(v2::create_namespace))
        .route("/api/v2/namespaces/{ns}/secrets", get(v2::list_secrets).post(v2::create_secret))
        .route(
            "/api/v2/namespaces/{ns}/secrets/{*name}",
            get(v2::get_secret).patch(v2::update_secret).delete(v2::delete_secret),
        )
        .route("/api/v2/namespaces/{ns}/registries", get(v2::list_registries).post(v2::create_registry))
        .route("/api/v2/namespaces/{ns}/registries/{id}", axum::routing::delete(v2::delete_registry))
        .route("/ui", get(ui::root))
        .route("/ui/", get(ui::index))
        .route("/ui/app.js", get(ui::script))
        .route("/ui/style.css", get(ui::style))
        .route("/v1/ignite/secrets", get(ignite::list).post(ignite::create))
        .route("/v1/ignite/secrets/{name}", get(ignite::get).delete(ignite::delete))
        // Before a route reads a body: the time limit (30 s, or longer for
        // the calls whose work grows with the store), the gate (see
        // `admission`) and which route answered, in one layer
        // (`route_gate`). Only matched routes pass it; an unknown one is a
        // 404 whatever the token.
        .route_layer(axum::middleware::from_fn_with_state(Arc::clone(&admission), route_gate::gate))
        // Bodies are read by `json_body::read_object` under `body_limit`, with a JSON 413.
        .layer(DefaultBodyLimit::disable())
        .fallback(meta::not_found)
        .method_not_allowed_fallback(meta::method_not_allowed)
        .with_state(state.clone());
    // gRPC on the same listener, routed by content type: an unknown gRPC
    // method gets gRPC's UNIMPLEMENTED, not REST's JSON 404.
    let vault_mount = state.vault_mount.clone();
    let grpc = grpc::router(state);
    rest.layer(axum::middleware::from_fn(move |mut request: axum::extract::Request, next: axum::middleware::Next| {
        let grpc = grpc.clone();
        let admission = Arc::clone(&admission);
        async move {
            if !grpc::is_grpc(&request) {
                return next.run(request).await;
            }
            match admission::check(&admission, &mut request).await {
                Some(refused) => refused,
                None => grpc::call(grpc, request, request_timeout::REQUEST_TIMEOUT).await,
            }
        }
    }))
    .layer(axum::middleware::from_fn_with_state(vault_mount, access_log::access_log))
}

/// Serves the API on `listener` (HTTP/1.1 and cleartext HTTP/2) until
/// `shutdown` completes, then finishes the requests in flight.
pub async fn run(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Arc::clone(&state.limits);
    listener::serve(listener, app(state), None, limits, shutdown).await
}

/// Serves the API over TLS on `listener` (HTTP/1.1 and HTTP/2 by ALPN, REST,
/// gRPC and the settings page alike) until `shutdown` completes. `tls` may
/// be reloaded meanwhile; each new connection uses the configuration in
/// force when it arrives.
pub async fn run_tls(
    listener: TcpListener,
    state: AppState,
    tls: Arc<ServerTls>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let limits = Arc::clone(&state.limits);
    listener::serve(listener, app(state), Some(tls), limits, shutdown).await
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_openapi_document_lists_exactly_the_served_routes() {
        let doc: serde_json::Value = serde_json::from_str(OPENAPI).expect("openapi.json is JSON");
        let documented: BTreeSet<(String, String)> = doc["paths"]
            .as_object()
            .unwrap()
            .iter()
            .flat_map(|(path, ops)| ops.as_object().unwrap().keys().map(move |m| (m.clone(), path.clone())))
            .collect();
        let served: BTreeSet<(String, String)> = ROUTES.iter().map(|(m, p)| (m.to_string(), p.to_string())).collect();
        assert_eq!(documented, served);
        // Every $ref resolves.
        let text = OPENAPI.to_owned();
        for part in text.split("#/components/schemas/").skip(1) {
            let name: String = part.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(doc["components"]["schemas"][&name].is_object(), "unresolved $ref {name}");
        }
    }
}
