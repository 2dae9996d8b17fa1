//! The limits hush's reads are measured against: an axum server that answers
//! every GET with the same bytes, as `application/json`, and does nothing
//! else (no routing, no token, no store, no audit).
//!
//! `bench/run` saves one of hush's own answers to a file and starts this
//! with it, so both servers send bodies of the same size over the same
//! framework, runtime and allocator settings, in the same run:
//!
//! ```text
//! hush-bench-bare-axum 127.0.0.1:38290 /tmp/answer.json
//! hush-bench-bare-axum 127.0.0.1:38291 /tmp/answer.json --durable /tmp/bare-journal
//! ```
//!
//! With `--durable FILE` it keeps the one promise hush makes on a read and
//! nothing more: every answer waits until a record of the request is on
//! disk. A thread of its own writes the records of all requests waiting,
//! in one `pwrite`, into a file written through once at start (zeros), and
//! syncs it with `fdatasync`, the way hush's audit journal does; then it
//! lets those requests answer. That is the framework's limit for a server
//! that records every read durably before answering it. `--lanes N` (an
//! experiment) gives it N such threads, each with a file of its own
//! (`JOURNAL_FILE.laneK` after the first), whose syncs overlap.

mod durable;

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::http::header::CONTENT_TYPE;
use axum::routing::get;

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (addr, body_file, journal, lanes) = match args.as_slice() {
        [addr, body] => (addr, body, None, 1),
        [addr, body, flag, file] if flag == "--durable" => (addr, body, Some(PathBuf::from(file)), 1),
        [addr, body, flag, file, lanes_flag, lanes] if flag == "--durable" && lanes_flag == "--lanes" => {
            match lanes.parse::<usize>() {
                Ok(n) if (1..=16).contains(&n) => (addr, body, Some(PathBuf::from(file)), n),
                _ => {
                    eprintln!("--lanes {lanes}: a number from 1 to 16");
                    std::process::exit(2)
                }
            }
        }
        _ => {
            eprintln!("usage: hush-bench-bare-axum ADDR BODY_FILE [--durable JOURNAL_FILE [--lanes N]]");
            std::process::exit(2)
        }
    };
    let addr: SocketAddr = addr.parse().unwrap_or_else(|e| {
        eprintln!("ADDR {addr}: {e}");
        std::process::exit(2)
    });
    let body = std::fs::read(body_file).unwrap_or_else(|e| {
        eprintln!("BODY_FILE {body_file}: {e}");
        std::process::exit(2)
    });
    let body = axum::body::Bytes::from(body);
    let app = match journal {
        None => Router::new().fallback(get(move || {
            let body = body.clone();
            async move { ([(CONTENT_TYPE, "application/json")], body) }
        })),
        Some(path) => {
            let journal = durable::Journal::open(&path, lanes).unwrap_or_else(|e| {
                eprintln!("JOURNAL_FILE {}: {e}", path.display());
                std::process::exit(1)
            });
            Router::new().fallback(get(move || {
                let body = body.clone();
                let synced = journal.record();
                async move {
                    match synced.await {
                        Ok(()) => Ok(([(CONTENT_TYPE, "application/json")], body)),
                        Err(_) => Err(axum::http::StatusCode::SERVICE_UNAVAILABLE),
                    }
                }
            }))
        }
    };
    let listener = tokio::net::TcpListener::bind(addr).await.unwrap_or_else(|e| {
        eprintln!("bind {addr}: {e}");
        std::process::exit(1)
    });
    axum::serve(listener, app).await.unwrap_or_else(|e| {
        eprintln!("serve: {e}");
        std::process::exit(1)
    });
}
