//! The limit hush's reads are measured against: an axum server that answers
//! every GET with the same bytes, as `application/json`, and does nothing
//! else (no routing, no token, no store, no audit).
//!
//! `bench/run` saves one of hush's own answers to a file and starts this
//! with it, so both servers send bodies of the same size over the same
//! framework, runtime and allocator settings, in the same run:
//!
//! ```text
//! hush-bench-bare-axum 127.0.0.1:38290 /tmp/answer.json
//! ```

use std::net::SocketAddr;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(addr), Some(body_file)) = (args.next(), args.next()) else {
        eprintln!("usage: hush-bench-bare-axum ADDR BODY_FILE");
        std::process::exit(2);
    };
    let addr: SocketAddr = addr.parse().unwrap_or_else(|e| {
        eprintln!("ADDR {addr}: {e}");
        std::process::exit(2)
    });
    let body = std::fs::read(&body_file).unwrap_or_else(|e| {
        eprintln!("BODY_FILE {body_file}: {e}");
        std::process::exit(2)
    });
    let body = axum::body::Bytes::from(body);
    let app = Router::new().fallback(get(move || {
        let body = body.clone();
        async move { ([(CONTENT_TYPE, "application/json")], body) }
    }));
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap_or_else(|e| {
        eprintln!("bind {addr}: {e}");
        std::process::exit(1)
    });
    axum::serve(listener, app).await.unwrap_or_else(|e| {
        eprintln!("serve: {e}");
        std::process::exit(1)
    });
}
