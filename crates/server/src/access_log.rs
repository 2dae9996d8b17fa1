//! One log line per request: method, path, status, duration. Never headers,
//! query strings or bodies (they carry tokens and values).
//!
//! Successful requests log at `debug` (the audit log is the record of every
//! call; a line per request at `info` cost a few percent of throughput and
//! mostly noise), client errors at `info`, server errors at `warn`. Refused
//! authentications (401, 429) log at `debug` too: anyone can send thousands
//! a second, and the audit log counts them (`auth.refused`), so a line each
//! at `info` would only let a flood fill the disk through the log instead.

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
    // A gRPC call that fails before its body answers HTTP 200 with
    // `grpc-status` in the headers; its level follows that code.
    let grpc_status =
        response.headers().get("grpc-status").and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u16>().ok());
    match (status, grpc_status) {
        (500.., _) | (_, Some(13 | 14 | 15 | 2)) => {
            tracing::warn!(%method, %path, status, grpc_status, micros, "request")
        }
        (401 | 429, _) | (_, Some(16 | 8)) => {
            tracing::debug!(%method, %path, status, grpc_status, micros, "request")
        }
        (400.., _) | (_, Some(1..)) => tracing::info!(%method, %path, status, grpc_status, micros, "request"),
        _ => tracing::debug!(%method, %path, status, grpc_status, micros, "request"),
    }
    response
}
