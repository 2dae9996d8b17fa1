//! Safe to expose: floods, slow clients and connection storms, against the
//! real server over real sockets. Nothing here is timed: the tests count
//! responses, audit events and open connections, and compare memory as a
//! ratio.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::harness::{Hush, show};

/// A token of hush's form that hush never issued.
const BOGUS: &str = "hush_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

fn socket_addr(h: &Hush) -> SocketAddr {
    h.host_port().parse().unwrap()
}

/// A connection from `source` (any 127.0.0.0/8 address works on loopback).
async fn connect_from(source: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind(format!("{source}:0").parse().unwrap()).unwrap();
    socket.connect(to).await.unwrap()
}

/// Sends one HTTP/1.1 request and reads the status line's code, keeping
/// the connection open; `None` if the server closed it instead.
async fn request(stream: &mut TcpStream, head: &str) -> Option<u16> {
    stream.write_all(head.as_bytes()).await.ok()?;
    let mut buf = vec![0u8; 16 * 1024];
    let mut got = Vec::new();
    loop {
        let n = stream.read(&mut buf).await.ok()?;
        if n == 0 {
            return None;
        }
        got.extend_from_slice(&buf[..n]);
        let text = String::from_utf8_lossy(&got);
        // Small answers: the head and a Content-Length body.
        if let Some(end) = text.find("\r\n\r\n") {
            let length: usize = text
                .lines()
                .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
                .unwrap_or(0);
            if got.len() >= end + 4 + length {
                return text.get(9..12)?.parse().ok();
            }
        }
    }
}

const HEALTH: &str = "GET /v1/health HTTP/1.1\r\nHost: hush\r\n\r\n";

/// Whether the server has closed `stream` (EOF or reset) within `wait`.
async fn closed_by_server(stream: &mut TcpStream, wait: Duration) -> bool {
    let mut buf = [0u8; 1024];
    match tokio::time::timeout(wait, stream.read(&mut buf)).await {
        Ok(Ok(0)) | Ok(Err(_)) => true,
        Ok(Ok(_)) => false,
        Err(_) => false,
    }
}

/// The server's resident memory, from /proc.
fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// Audit events through the CLI, with filters.
fn audit(h: &Hush, filters: &[&str]) -> Vec<Value> {
    let mut args = vec!["audit", "list", "--json"];
    if !filters.contains(&"--limit") {
        args.extend(["--limit", "1000"]);
    }
    args.extend_from_slice(filters);
    let out = h.cli(&args);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    page["events"].as_array().unwrap().clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_anonymous_flood_is_counted_in_the_audit_not_written_row_by_row_and_valid_reads_go_on() {
    let mut h = Hush::init();
    tokio::task::block_in_place(|| h.start(&[], &[]));
    let out = tokio::task::block_in_place(|| h.cli(&["secret", "create", "db", "--value", "flood-canary-51a"]));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let events_before = tokio::task::block_in_place(|| audit(&h, &[])).len();

    const FLOOD: usize = 20_000;
    const WORKERS: usize = 16;
    let http = h.http();
    let url = h.url("/v1/namespaces/default/secrets/db");
    let (unauthorized, limited, other) =
        (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let retry_after_ok = Arc::new(AtomicUsize::new(0));
    let done = Arc::new(AtomicUsize::new(0));
    let mut flood = Vec::new();
    for worker in 0..WORKERS {
        let (http, url) = (http.clone(), url.clone());
        let (unauthorized, limited, other, retry_after_ok, done) =
            (unauthorized.clone(), limited.clone(), other.clone(), retry_after_ok.clone(), done.clone());
        flood.push(tokio::spawn(async move {
            for i in 0..FLOOD / WORKERS {
                // Half with a token hush never issued, half with none; with bodies.
                let mut req = http.put(&url).body(r#"{"value":"x"}"#);
                if (worker + i) % 2 == 0 {
                    req = req.bearer_auth(BOGUS);
                }
                let resp = req.send().await.unwrap();
                match resp.status().as_u16() {
                    401 => unauthorized.fetch_add(1, Ordering::Relaxed),
                    429 => {
                        let wait = resp.headers().get("retry-after").and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
                        if wait.is_some_and(|s| (1..=2).contains(&s)) {
                            retry_after_ok.fetch_add(1, Ordering::Relaxed);
                        }
                        limited.fetch_add(1, Ordering::Relaxed)
                    }
                    _ => other.fetch_add(1, Ordering::Relaxed),
                };
            }
            done.fetch_add(1, Ordering::Relaxed);
        }));
    }
    // Meanwhile, a valid client from the same address reads, and succeeds.
    let (mut reads, mut failed_reads) = (0usize, 0usize);
    while done.load(Ordering::Relaxed) < WORKERS || reads < 50 {
        let resp = http.get(&url).bearer_auth(&h.token).send().await.unwrap();
        if resp.status() == 200 && resp.text().await.unwrap().contains("flood-canary-51a") {
            reads += 1;
        } else {
            failed_reads += 1;
        }
    }
    for task in flood {
        task.await.unwrap();
    }
    let (unauthorized, limited) = (unauthorized.load(Ordering::Relaxed), limited.load(Ordering::Relaxed));
    eprintln!("flood: {unauthorized} × 401, {limited} × 429; valid reads meanwhile: {reads} ok, {failed_reads} failed");
    assert_eq!(other.load(Ordering::Relaxed), 0, "every flood request was refused with 401 or 429");
    assert_eq!(unauthorized + limited, FLOOD);
    assert!(limited > 0, "the failed-authentication limit answered 429");
    assert_eq!(retry_after_ok.load(Ordering::Relaxed), limited, "every 429 says when to retry");
    assert_eq!(failed_reads, 0, "the valid client was never refused");
    // Nor does the flood fill the server's log (at its default level).
    let log = h.log.lock().unwrap().clone();
    let lines = log.lines().count();
    assert!(lines < 100, "the server logged {lines} lines during the flood");

    // Refusals are written at the latest at shutdown; count them after a restart.
    tokio::task::block_in_place(|| {
        h.stop();
        h.start(&[], &[]);
    });
    let refused = tokio::task::block_in_place(|| audit(&h, &["--action", "auth.refused"]));
    assert!((1..=2).contains(&refused.len()), "one event per address per minute: {refused:#?}");
    let counted: u64 = refused.iter().map(|e| e["refusals"]["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, FLOOD as u64, "the events count every refused request");
    let reason = |name: &str| refused.iter().map(|e| e["refusals"]["reasons"][name].as_u64().unwrap_or(0)).sum::<u64>();
    assert_eq!(reason("rate_limited"), limited as u64);
    assert_eq!(reason("invalid_token") + reason("no_token"), unauthorized as u64);
    for e in &refused {
        assert_eq!(e["client_addr"], "127.0.0.1");
        assert_eq!(e["outcome"], "unauthenticated");
        assert_eq!(e["token_id"], Value::Null);
    }
    // Nothing else unauthenticated was written, and the log grew by the
    // valid reads and a handful of events, not by the flood.
    let unauthenticated = tokio::task::block_in_place(|| audit(&h, &["--outcome", "unauthenticated"]));
    assert_eq!(unauthenticated.len(), refused.len(), "{unauthenticated:#?}");
    let reads_audited = tokio::task::block_in_place(|| audit(&h, &["--action", "secret.read", "--name", "db"])).len();
    assert_eq!(reads_audited, reads.min(1000));
    let all = tokio::task::block_in_place(|| audit(&h, &["--limit", "1000"]));
    if reads < 900 {
        let grown = all.len() - events_before;
        assert!(grown <= reads + 10, "the log grew by {grown} events for {reads} reads");
    }
    assert_eq!(tokio::task::block_in_place(|| h.cli(&["audit", "verify"])).status.code(), Some(0), "the chain holds");
}

/// Every surface is behind the same gate: REST, Direktiv (v1 and v2), dodil's
/// REST and gRPC. Each client address gets its own budget, so each surface
/// is tried from its own loopback address.
#[tokio::test(flavor = "multi_thread")]
async fn every_surface_refuses_anonymous_calls_and_rate_limits_them() {
    let mut h = Hush::init();
    tokio::task::block_in_place(|| h.start(&[], &["--failed-auth-per-second", "1", "--failed-auth-burst", "3"]));
    let _ = rustls::crypto::ring::default_provider().install_default();
    let surfaces: [(&str, &str, &str, &str); 6] = [
        ("rest", "PUT", "/v1/namespaces/default/secrets/x", "application/json"),
        ("direktiv", "POST", "/api/functions/registries/global", "application/json"),
        ("direktiv v2", "POST", "/api/v2/namespaces/default/secrets", "application/json"),
        ("dodil rest", "POST", "/v1/ignite/secrets", "application/json"),
        ("grpc", "POST", "/hush.v1.SecretService/ListSecrets", "application/grpc"),
        ("audit", "GET", "/v1/audit", "application/json"),
    ];
    for (i, (surface, method, path, content_type)) in surfaces.into_iter().enumerate() {
        let source: std::net::IpAddr = format!("127.0.0.{}", i + 10).parse().unwrap();
        let mut builder = reqwest::Client::builder().no_proxy().local_address(source);
        if content_type == "application/grpc" {
            builder = builder.http2_prior_knowledge();
        }
        let http = builder.build().unwrap();
        let mut codes = Vec::new();
        for _ in 0..6 {
            let body: Vec<u8> = if content_type == "application/grpc" { vec![0, 0, 0, 0, 0] } else { b"{}".to_vec() };
            let resp = http
                .request(method.parse().unwrap(), h.url(path))
                .header("content-type", content_type)
                .header("te", "trailers")
                .bearer_auth(BOGUS)
                .body(body)
                .send()
                .await
                .unwrap();
            let retry = resp.headers().get("retry-after").is_some();
            let code = match resp.headers().get("grpc-status") {
                Some(status) => format!("grpc {}", status.to_str().unwrap()),
                None => resp.status().as_u16().to_string(),
            };
            codes.push((code, retry));
        }
        let (refused, limited) =
            if content_type == "application/grpc" { ("grpc 16", "grpc 8") } else { ("401", "429") };
        let expect: Vec<(String, bool)> =
            [(refused, false); 3].into_iter().chain([(limited, true); 3]).map(|(c, r)| (c.to_owned(), r)).collect();
        assert_eq!(codes, expect, "{surface}: three refusals within the burst, then 429 with Retry-After");
    }
    // A valid token is not held back by its address's failures.
    let http = reqwest::Client::builder()
        .no_proxy()
        .local_address("127.0.0.10".parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap();
    let resp = http.get(h.url("/v1/namespaces/default/secrets")).bearer_auth(&h.token).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    // Public routes need no token and are not limited.
    for path in ["/v1/health", "/v1/openapi.json", "/ui/"] {
        assert_eq!(http.get(h.url(path)).send().await.unwrap().status(), 200, "{path}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_large_body_without_a_token_is_refused_before_it_is_sent() {
    let h = tokio::task::block_in_place(Hush::running);
    for path in ["/v1/namespaces/default/secrets/big", "/api/v2/namespaces/default/secrets", "/v1/ignite/secrets"] {
        let mut stream = TcpStream::connect(socket_addr(&h)).await.unwrap();
        // The head promises 5 MB; not one byte of it is sent.
        let head = format!(
            "PUT {path} HTTP/1.1\r\nHost: hush\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            5 * 1024 * 1024
        );
        let head = head.replacen("PUT", if path.ends_with("big") { "PUT" } else { "POST" }, 1);
        let code = tokio::time::timeout(Duration::from_secs(30), request(&mut stream, &head)).await;
        assert_eq!(code, Ok(Some(401)), "{path}: answered 401 with the body unsent");
    }
    // With a token, the same request waits for its body (it would be read).
    let mut stream = TcpStream::connect(socket_addr(&h)).await.unwrap();
    let body = br#"{"value":"abc","x":1}"#;
    let head = format!(
        "PUT /v1/namespaces/default/secrets/big HTTP/1.1\r\nHost: hush\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        h.token,
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 64];
    let early = tokio::time::timeout(Duration::from_millis(500), stream.read(&mut buf)).await;
    assert!(early.is_err(), "an authenticated request is not answered before its body");
    stream.write_all(body).await.unwrap();
    let n = stream.read(&mut buf).await.unwrap();
    assert!(String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 400"), "{}", String::from_utf8_lossy(&buf[..n]));
}

#[tokio::test(flavor = "multi_thread")]
async fn half_sent_requests_are_closed_at_the_header_timeout_and_their_memory_released() {
    let mut h = Hush::init();
    let args = ["--header-read-timeout", "2s", "--max-connections-per-ip", "5000"];
    tokio::task::block_in_place(|| h.start(&[], &args));
    let addr = socket_addr(&h);
    // Warm up, then take the baseline.
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert_eq!(request(&mut s, HEALTH).await, Some(200));
    }
    let baseline = rss_kib(h.pid());

    const SLOW: usize = 2_000;
    let mut slow = Vec::with_capacity(SLOW);
    for _ in 0..SLOW {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(b"GET /v1/namespaces/default/secrets HTTP/1.1\r\nHost: hush\r\nAuthorization: Bear").await.unwrap();
        slow.push(s);
    }
    // While they hang, the health check answers on a new connection.
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(request(&mut s, HEALTH).await, Some(200), "health answers during the slow-client attack");
    let peak = rss_kib(h.pid());

    // Every one of them is closed by the server (well within a minute).
    let mut closed = 0;
    for s in &mut slow {
        if closed_by_server(s, Duration::from_secs(60)).await {
            closed += 1;
        }
    }
    assert_eq!(closed, SLOW, "the server closed every half-sent request");
    drop(slow);
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(request(&mut s, HEALTH).await, Some(200), "health answers after");
    // The allocator returns freed memory over a few seconds (jemalloc's
    // decay): wait for the state, up to a minute, while serving requests.
    let mut after = rss_kib(h.pid());
    for _ in 0..120 {
        if (after as f64) < 1.3 * baseline as f64 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
        let mut s = TcpStream::connect(addr).await.unwrap();
        assert_eq!(request(&mut s, HEALTH).await, Some(200));
        after = rss_kib(h.pid());
    }
    eprintln!(
        "RSS: baseline {baseline} KiB, {SLOW} half-sent requests {peak} KiB ({:.1} KiB each), after {after} KiB",
        (peak.saturating_sub(baseline)) as f64 / SLOW as f64
    );
    assert!(peak > baseline + SLOW as u64 * 4, "the attack did hold memory while it lasted ({peak} KiB)");
    let ratio = after as f64 / baseline as f64;
    assert!(ratio < 1.3, "memory after the connections closed is {ratio:.2}× the baseline");
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_past_the_caps_are_refused_while_open_ones_and_other_addresses_are_served() {
    let mut h = Hush::init();
    tokio::task::block_in_place(|| h.start(&[], &["--max-connections-per-ip", "8", "--max-connections", "12"]));
    let addr = socket_addr(&h);
    // Eight keep-alive connections from 127.0.0.1, each served once.
    let mut open = Vec::new();
    for _ in 0..8 {
        let mut s = connect_from("127.0.0.1", addr).await;
        assert_eq!(request(&mut s, HEALTH).await, Some(200));
        open.push(s);
    }
    // The ninth from the same address is closed at once, unanswered.
    let mut ninth = connect_from("127.0.0.1", addr).await;
    assert_eq!(request(&mut ninth, HEALTH).await, None, "past the per-address cap");
    // Another loopback address is still served …
    let mut others = Vec::new();
    for _ in 0..4 {
        let mut s = connect_from("127.0.0.2", addr).await;
        assert_eq!(request(&mut s, HEALTH).await, Some(200), "another address is served");
        others.push(s);
    }
    // … up to the server's total of 12, past which anyone is refused.
    let mut third = connect_from("127.0.0.3", addr).await;
    assert_eq!(request(&mut third, HEALTH).await, None, "past the total cap");
    // The established connections keep working.
    for s in open.iter_mut().chain(others.iter_mut()) {
        assert_eq!(request(s, HEALTH).await, Some(200), "an established connection is served");
    }
    // Closing some frees places.
    open.truncate(6);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = connect_from("127.0.0.1", addr).await;
    assert_eq!(request(&mut again, HEALTH).await, Some(200), "a freed place is used again");
}

#[tokio::test(flavor = "multi_thread")]
async fn idle_connections_and_stalled_bodies_time_out() {
    let mut h = Hush::init();
    let args = ["--idle-timeout", "1s", "--body-read-timeout", "1s", "--header-read-timeout", "1s"];
    tokio::task::block_in_place(|| h.start(&[], &args));
    let addr = socket_addr(&h);
    // A keep-alive connection is served, then closed once idle.
    let mut s = TcpStream::connect(addr).await.unwrap();
    assert_eq!(request(&mut s, HEALTH).await, Some(200));
    assert!(closed_by_server(&mut s, Duration::from_secs(30)).await, "an idle connection is closed");
    // An HTTP/2 connection that opens (preface and settings) but never asks
    // for anything: the server's own frames come, then the close.
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0").await.unwrap();
    let mut buf = [0u8; 4096];
    let mut frames = 0;
    let closed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return true,
                Ok(n) => frames += n,
            }
        }
    })
    .await;
    assert_eq!(closed, Ok(true), "an HTTP/2 connection without a request is closed");
    assert!(frames > 0, "the server spoke HTTP/2 before closing");
    // A body that stops arriving: 408, and the secret is not written.
    let mut s = TcpStream::connect(addr).await.unwrap();
    let head = format!(
        "PUT /v1/namespaces/default/secrets/stalled HTTP/1.1\r\nHost: hush\r\nAuthorization: Bearer {}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"value\":\"sta",
        h.token
    );
    assert_eq!(request(&mut s, &head).await, Some(408));
    let out = tokio::task::block_in_place(|| h.cli(&["secret", "get", "stalled"]));
    assert_eq!(out.status.code(), Some(4), "nothing was written: {}", show(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_can_be_rate_limited() {
    let mut h = Hush::init();
    tokio::task::block_in_place(|| h.start(&[], &["--rate-limit-per-token", "5"]));
    let other = tokio::task::block_in_place(|| h.token(&["default"], &["secrets:list"]));
    let http = h.http();
    let url = h.url("/v1/namespaces/default/secrets");
    let mut codes = Vec::new();
    for _ in 0..20 {
        let resp = http.get(&url).bearer_auth(&h.token).send().await.unwrap();
        codes.push(resp.status().as_u16());
        if resp.status() == 429 {
            assert!(resp.headers().get("retry-after").is_some());
            let body: Value = resp.json().await.unwrap();
            assert_eq!(body["error"]["code"], "rate_limited");
        }
    }
    // Creating the other token was one of the admin token's five.
    assert!(codes.iter().take(4).all(|c| *c == 200), "{codes:?}");
    assert!(codes.contains(&429), "{codes:?}");
    // Another token has its own budget.
    assert_eq!(http.get(&url).bearer_auth(&other).send().await.unwrap().status(), 200);
}

/// Forwarding headers name the client only when the peer is a trusted proxy.
#[tokio::test(flavor = "multi_thread")]
async fn forwarded_addresses_are_believed_only_from_a_trusted_proxy() {
    for (trusted, want) in [(false, "127.0.0.1"), (true, "203.0.113.9")] {
        let mut h = Hush::init();
        let mut args = vec!["--audit-refusals-every", "100ms"];
        if trusted {
            args.extend(["--trusted-proxy", "127.0.0.0/8"]);
        }
        tokio::task::block_in_place(|| h.start(&[], &args));
        let http = h.http();
        let url = h.url("/v1/namespaces/default/secrets");
        let resp = http.get(&url).header("x-forwarded-for", "198.51.100.1, 203.0.113.9").send().await.unwrap();
        assert_eq!(resp.status(), 401);
        let resp = http.get(&url).bearer_auth(&h.token).header("x-forwarded-for", "203.0.113.9").send().await.unwrap();
        assert_eq!(resp.status(), 200);
        let mut refused = Vec::new();
        for _ in 0..100 {
            refused = tokio::task::block_in_place(|| audit(&h, &["--action", "auth.refused"]));
            if !refused.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(refused.len(), 1, "trusted {trusted}: {refused:#?}");
        assert_eq!(refused[0]["client_addr"], want, "trusted {trusted}");
        let listed = tokio::task::block_in_place(|| audit(&h, &["--action", "secret.list"]));
        assert_eq!(listed[0]["client_addr"], want, "every event records the client's address");
    }
}

/// Requests no gate stops (unknown routes: 404 whatever the token) cannot
/// make the log grow a line each: past a budget the lines go to `debug`,
/// and the next one logged says how many were held back.
#[tokio::test(flavor = "multi_thread")]
async fn a_flood_of_unknown_routes_cannot_fill_the_log() {
    let h = tokio::task::block_in_place(Hush::running);
    let http = h.http();
    let long = "x".repeat(4000);
    for i in 0..1000 {
        let resp = http.get(h.url(&format!("/nope-{i}-{long}"))).send().await.unwrap();
        assert_eq!(resp.status(), 404);
    }
    let log = h.log.lock().unwrap().clone();
    let lines: Vec<&str> = log.lines().filter(|l| l.contains("/nope-")).collect();
    assert!(!lines.is_empty() && lines.len() <= 150, "{} request lines for 1000 requests", lines.len());
    assert!(lines.iter().all(|l| l.len() < 600), "paths are cut short in the log");
    // Once the burst is spent, a logged line says how many were held back.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(http.get(h.url("/nope-last")).send().await.unwrap().status(), 404);
    // The access log line is written as the response goes out, and the
    // harness reads the server's output on its own thread: wait for it.
    let mut last = None;
    for _ in 0..100 {
        let log = h.log.lock().unwrap().clone();
        last = log.lines().rev().find(|l| l.contains("/nope-last")).map(str::to_owned);
        if last.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let last = last.expect("the next line is logged");
    assert!(last.contains("suppressed="), "{last}");
}
