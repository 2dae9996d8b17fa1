//! One log line per request: method, path, status, duration. Never headers,
//! query strings or bodies (they carry tokens and values). Each request is
//! counted in the metrics too (`metrics_export`), by its route's template.
//!
//! Successful requests log at `debug` (the audit log is the record of every
//! call; a line per request at `info` cost a few percent of throughput and
//! mostly noise), client errors at `info`, server errors at `warn`. Refused
//! authentications (401, 429) log at `debug` too: anyone can send thousands
//! a second, and the audit log counts them (`auth.refused`), so a line each
//! at `info` would only let a flood fill the disk through the log instead.
//!
//! The lines above `debug` share a budget of 10 a second (a burst of 100):
//! past it (a flood of 404s, say) they go to `debug`, and the next line that
//! is logged says how many were held back (`suppressed`). Paths are cut at
//! 200 bytes. So no client can make the log grow faster than that.

use std::num::NonZeroU32;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use axum::extract::Request;
use axum::extract::{MatchedPath, State};
use axum::middleware::Next;
use axum::response::Response;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use tracing::Level;

use crate::VaultMount;
use crate::metrics_export::{self, RouteLabel};

/// Lines above `debug` per second, and in a burst.
const LINES_PER_SECOND: u32 = 10;
const LINES_BURST: u32 = 100;

/// The longest path written to a line, in bytes.
const MAX_PATH: usize = 200;

/// The budget of lines above `debug`, and how many were held back since the
/// last one logged.
fn budget() -> &'static (DefaultDirectRateLimiter, AtomicU64) {
    static BUDGET: OnceLock<(DefaultDirectRateLimiter, AtomicU64)> = OnceLock::new();
    BUDGET.get_or_init(|| {
        let quota = Quota::per_second(NonZeroU32::new(LINES_PER_SECOND).expect("non-zero"))
            .allow_burst(NonZeroU32::new(LINES_BURST).expect("non-zero"));
        (RateLimiter::direct(quota), AtomicU64::new(0))
    })
}

/// Whether a line above `debug` may be written now; `Some(held back since)`
/// if so.
fn within_budget() -> Option<u64> {
    let (limiter, held_back) = budget();
    match limiter.check() {
        Ok(()) => Some(held_back.swap(0, Ordering::Relaxed)),
        Err(_) => {
            held_back.fetch_add(1, Ordering::Relaxed);
            None
        }
    }
}

/// The `route` label: the router's template of the route that answered
/// (`RouteOf`), a gRPC method's path when one answered, or `unmatched`;
/// never a path a client made up.
fn route_label(response: &Response, surface: &str, path: &str, grpc_status: Option<u16>) -> RouteLabel {
    if let Some(RouteOf(route)) = response.extensions().get::<RouteOf>() {
        return RouteLabel::Matched(route.clone());
    }
    let known_grpc = path.starts_with("/hush.") || path.starts_with("/grpc.");
    // 12: no such method; 16: refused before any method was looked up.
    if surface == "grpc" && known_grpc && !matches!(grpc_status, Some(12 | 16)) && path.len() <= 100 {
        return RouteLabel::Grpc(path.to_owned());
    }
    RouteLabel::Unmatched
}

/// The route that answered, carried out to this layer on the response
/// (`route_gate` notes it).
#[derive(Debug, Clone)]
pub(crate) struct RouteOf(MatchedPath);

impl RouteOf {
    pub(crate) fn new(route: MatchedPath) -> Self {
        RouteOf(route)
    }
}

/// Middleware that logs and counts each request once it is answered.
pub(crate) async fn access_log(State(vault_mount): State<VaultMount>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let surface = metrics_export::surface(&request, &vault_mount);
    let mut path = request.uri().path().to_owned();
    if path.len() > MAX_PATH {
        let cut = (0..=MAX_PATH).rev().find(|i| path.is_char_boundary(*i)).unwrap_or(0);
        path.truncate(cut);
        path.push('…');
    }
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let micros = elapsed.as_micros() as u64;
    // A gRPC call that fails before its body answers HTTP 200 with
    // `grpc-status` in the headers; its level follows that code.
    let grpc_status =
        response.headers().get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u16>().ok());
    metrics_export::record(
        surface,
        route_label(&response, surface, &path, grpc_status),
        &method,
        response.status(),
        elapsed,
    );
    let level = match (status, grpc_status) {
        (500.., _) | (_, Some(13 | 14 | 15 | 2)) => Level::WARN,
        (401 | 429, _) | (_, Some(16 | 8)) => Level::DEBUG,
        (400.., _) | (_, Some(1..)) => Level::INFO,
        _ => Level::DEBUG,
    };
    let suppressed = if level == Level::DEBUG { None } else { within_budget() };
    match (level, suppressed) {
        (Level::WARN, Some(held_back)) => {
            let suppressed = (held_back > 0).then_some(held_back);
            tracing::warn!(%method, %path, status, grpc_status, micros, suppressed, "request")
        }
        (Level::INFO, Some(held_back)) => {
            let suppressed = (held_back > 0).then_some(held_back);
            tracing::info!(%method, %path, status, grpc_status, micros, suppressed, "request")
        }
        _ => tracing::debug!(%method, %path, status, grpc_status, micros, "request"),
    }
    response
}
