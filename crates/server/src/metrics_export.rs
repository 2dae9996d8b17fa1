//! Prometheus metrics: the recorder, what each metric means, and the
//! `/metrics` answer in the Prometheus text format.
//!
//! The crates report through the `metrics` facade (`hush_store::metric_names`,
//! `hush_service::metric_names` and [`HTTP_REQUESTS`] here); this module
//! installs the process's one recorder the first time it is asked for, with
//! histogram buckets, and renders it. A thread folds recorded samples into
//! the histograms every few seconds, so memory stays flat when nobody
//! scrapes.
//!
//! No label holds a secret's, namespace's or token's name, or anything else
//! a client chooses: routes are the router's templates
//! (`/v1/namespaces/{ns}/secrets/{*name}`), statuses are classes (`2xx`).

use std::sync::OnceLock;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::request_credentials::RequestCredentials;
use crate::{ApiError, AppState};

/// Requests answered, labelled `surface`, `route`, `method` and `status` (class).
pub const HTTP_REQUESTS: &str = "hush_http_requests_total";
/// Seconds from a request's arrival to its answer, labelled `surface`, `route`, `method`.
pub const HTTP_DURATION: &str = "hush_http_request_duration_seconds";
/// Connections open now.
pub const OPEN_CONNECTIONS: &str = "hush_open_connections";
/// Always 1, labelled with the `version`.
pub const BUILD_INFO: &str = "hush_build_info";

/// How often recorded samples are folded into the histograms.
const UPKEEP: Duration = Duration::from_secs(5);

/// Request latency buckets, in seconds: 100 µs to 30 s (the request limit).
const LATENCY_BUCKETS: &[f64] =
    &[0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];
/// Audit sync buckets, in seconds: 50 µs to 1 s.
const SYNC_BUCKETS: &[f64] = &[0.00005, 0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0];
/// Events per group commit.
const BATCH_BUCKETS: &[f64] = &[1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0];

/// The process's recorder, installed on first use; `None` if another
/// recorder was installed first (then `/metrics` says so).
pub fn handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE.get_or_init(install).as_ref()
}

fn install() -> Option<PrometheusHandle> {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), LATENCY_BUCKETS)
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full(hush_service::metric_names::AUDIT_SYNC_SECONDS.into()), SYNC_BUCKETS)
        })
        .and_then(|b| {
            b.set_buckets_for_metric(Matcher::Full(hush_service::metric_names::AUDIT_BATCH_SIZE.into()), BATCH_BUCKETS)
        });
    let handle = match builder.map(PrometheusBuilder::install_recorder) {
        Ok(Ok(handle)) => handle,
        Ok(Err(error)) | Err(error) => {
            tracing::warn!(%error, "metrics are off: could not install the recorder");
            return None;
        }
    };
    describe();
    metrics::gauge!(BUILD_INFO, "version" => env!("CARGO_PKG_VERSION")).set(1.0);
    let upkeep = handle.clone();
    let started = std::thread::Builder::new().name("hush-metrics".into()).spawn(move || {
        loop {
            std::thread::sleep(UPKEEP);
            upkeep.run_upkeep();
        }
    });
    if let Err(error) = started {
        tracing::warn!(%error, "could not start the metrics upkeep thread; histograms fold at each scrape only");
    }
    Some(handle)
}

/// The help text of every metric, for the exposition's `# HELP` lines.
fn describe() {
    use hush_service::metric_names::{
        AUDIT_BATCH_SIZE, AUDIT_EVENTS, AUDIT_SYNC_SECONDS, CACHE_LOOKUPS, LOGINS, STORE_ERRORS,
    };
    use metrics::Unit;
    metrics::describe_counter!(HTTP_REQUESTS, "Requests answered, by surface, route template, method and status class");
    metrics::describe_histogram!(HTTP_DURATION, Unit::Seconds, "Time from a request's arrival to its answer");
    metrics::describe_gauge!(OPEN_CONNECTIONS, "Client connections open now");
    metrics::describe_gauge!(BUILD_INFO, "Always 1; the version is a label");
    metrics::describe_counter!(AUDIT_EVENTS, "Audit events made durable (SQLite), by path: journal or database");
    metrics::describe_histogram!(AUDIT_BATCH_SIZE, "Audit events per group commit (one sync)");
    metrics::describe_histogram!(AUDIT_SYNC_SECONDS, Unit::Seconds, "Time a group commit's write and sync took");
    metrics::describe_counter!(CACHE_LOOKUPS, "Cache lookups of tokens, namespaces and namespace keys, hit or miss");
    metrics::describe_counter!(LOGINS, "Workload logins (JWT), by outcome: ok, refused or error");
    metrics::describe_counter!(STORE_ERRORS, "Data or key store failures a caller saw as an internal error");
}

/// The Prometheus text exposition.
fn exposition() -> Response {
    match handle() {
        Some(handle) => {
            handle.run_upkeep();
            let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
            ([(header::CONTENT_TYPE, content_type)], handle.render()).into_response()
        }
        None => ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "metrics are off (see the server log)")
            .into_response(),
    }
}

/// `GET /metrics` on the main port: a token with `metrics:read` (or `admin`).
pub(crate) async fn metrics(
    State(app): State<AppState>,
    RequestCredentials(creds): RequestCredentials,
) -> Result<Response, ApiError> {
    app.hush.check_metrics_access(&creds).await?;
    Ok(exposition())
}

/// Serves `GET /metrics` without a token on `listener` (`--metrics-listen`:
/// bind it where only the scraper reaches) until `shutdown` completes.
pub async fn run_metrics(
    listener: tokio::net::TcpListener,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = axum::Router::new().route("/metrics", axum::routing::get(|| async { exposition() }));
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await
}

/// Which API a request is for, as the `surface` label.
pub(crate) fn surface(request: &Request, vault_mount: &crate::VaultMount) -> &'static str {
    let path = request.uri().path();
    if crate::grpc::is_grpc(request) {
        "grpc"
    } else if crate::vault::is_vault_path(path, vault_mount) {
        "vault"
    } else if path.starts_with("/api/functions/") || path.starts_with("/api/v2/") {
        "direktiv"
    } else if path.starts_with("/v1/ignite/") || path == "/v1/ignite" {
        "dodil"
    } else if path == "/ui" || path.starts_with("/ui/") {
        "ui"
    } else {
        "rest"
    }
}

/// A status as its class label.
pub(crate) fn status_class(status: StatusCode) -> &'static str {
    match status.as_u16() {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The route a request is counted under.
pub(crate) enum RouteLabel {
    /// The router's template of the route that answered.
    Matched(axum::extract::MatchedPath),
    /// A gRPC method that answered (a path of a known service).
    Grpc(String),
    /// No route: a path the client made up.
    Unmatched,
}

/// A request series' counter and histogram.
type RequestHandles = (metrics::Counter, metrics::Histogram);

/// A matched request series: the route template's address, surface, method, status class.
type SeriesKey = (usize, &'static str, &'static str, &'static str);

thread_local! {
    /// Handles by (route template's address, surface, method, status
    /// class): the router hands every request of a route the same template
    /// string, so after its first request a route's series cost a hash of
    /// four words instead of building a key with its labels and looking it
    /// up in the registry (that cost about 5% of a read's CPU).
    // Each entry keeps its template alive, so no other string can take its address.
    static MATCHED: std::cell::RefCell<std::collections::HashMap<SeriesKey, (axum::extract::MatchedPath, RequestHandles)>> =
        Default::default();
}

fn request_handles(surface: &'static str, route: String, method: &'static str, status: &'static str) -> RequestHandles {
    let counter = metrics::counter!(HTTP_REQUESTS, "surface" => surface, "route" => route.clone(), "method" => method, "status" => status);
    let histogram = metrics::histogram!(HTTP_DURATION, "surface" => surface, "route" => route, "method" => method);
    (counter, histogram)
}

/// Counts one answered request.
pub(crate) fn record(
    surface: &'static str,
    route: RouteLabel,
    method: &axum::http::Method,
    status: StatusCode,
    elapsed: Duration,
) {
    let method = match *method {
        axum::http::Method::GET => "GET",
        axum::http::Method::PUT => "PUT",
        axum::http::Method::POST => "POST",
        axum::http::Method::DELETE => "DELETE",
        axum::http::Method::PATCH => "PATCH",
        axum::http::Method::HEAD => "HEAD",
        axum::http::Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let status = status_class(status);
    let count = |(counter, histogram): &RequestHandles| {
        counter.increment(1);
        histogram.record(elapsed.as_secs_f64());
    };
    match route {
        RouteLabel::Matched(route) => MATCHED.with(|cache| {
            let template = route.as_str();
            let key = (template.as_ptr() as usize, surface, method, status);
            let mut cache = cache.borrow_mut();
            let (_, handles) = cache
                .entry(key)
                .or_insert_with(|| (route.clone(), request_handles(surface, template.to_owned(), method, status)));
            count(handles);
        }),
        RouteLabel::Grpc(path) => count(&request_handles(surface, path, method, status)),
        RouteLabel::Unmatched => count(&request_handles(surface, "unmatched".to_owned(), method, status)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classes_and_surfaces_a_fixed_set() {
        assert_eq!(status_class(StatusCode::OK), "2xx");
        assert_eq!(status_class(StatusCode::NOT_FOUND), "4xx");
        assert_eq!(status_class(StatusCode::SERVICE_UNAVAILABLE), "5xx");
        let mount = crate::VaultMount::default();
        let surface_of = |path: &str| surface(&Request::get(path).body(axum::body::Body::empty()).unwrap(), &mount);
        assert_eq!(surface_of("/v1/secret/data/app"), "vault");
        assert_eq!(surface_of("/v1/sys/health"), "vault");
        assert_eq!(surface_of("/v1/namespaces/default/secrets/x"), "rest");
        assert_eq!(surface_of("/api/functions/registries/global"), "direktiv");
        assert_eq!(surface_of("/api/v2/namespaces"), "direktiv");
        assert_eq!(surface_of("/v1/ignite/secrets/x"), "dodil");
        assert_eq!(surface_of("/ui/app.js"), "ui");
    }
}
