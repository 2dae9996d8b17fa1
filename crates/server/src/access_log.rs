//! One log line per request: method, path, status, duration. Never headers,
//! query strings or bodies (they carry tokens and values).
//!
//! Successful requests log at `debug` (the audit log is the record of every
//! call; a line per request at `info` cost a few percent of throughput and
//! mostly noise), client errors at `info`, server errors at `warn`.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

/// Middleware that logs each request at `info` once it is answered.
pub(crate) async fn access_log(request: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let micros = started.elapsed().as_micros() as u64;
    match status {
        500.. => tracing::warn!(%method, %path, status, micros, "request"),
        400.. => tracing::info!(%method, %path, status, micros, "request"),
        _ => tracing::debug!(%method, %path, status, micros, "request"),
    }
    response
}
