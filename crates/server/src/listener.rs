//! Accepting connections and serving HTTP on them, plain or TLS.
//!
//! Plain connections speak HTTP/1.1 and cleartext HTTP/2 (h2c, for gRPC).
//! TLS connections speak whatever ALPN chose (h2 or HTTP/1.1); the
//! handshake runs in the connection's own task, under a time limit, so a
//! slow handshake holds up nobody else. A client that speaks plain HTTP to
//! the TLS port gets a plain-HTTP 400 that says to use https://, instead of
//! a reset it cannot explain.
//!
//! Every request carries a [`ConnectionInfo`] (and axum's `ConnectInfo`)
//! in its extensions; over TLS, every response carries
//! `Strict-Transport-Security`. Under mutual TLS, a connection verified
//! against a client CA that has since been replaced is closed gracefully
//! (its request in flight finishes), so taking a CA out of the bundle shuts
//! out its clients' open connections too.
//!
//! A connection past the caps (all together, or from one client address)
//! is closed as soon as it is accepted. One that does nothing useful (no
//! complete request head in time, or no request for the idle timeout) is
//! closed by its watchdog (`connection_watchdog`); a request body that
//! stops arriving fails after the body timeout.
//!
//! Written on hyper-util rather than `axum::serve`, which cannot take a TLS
//! stream or pass a connection's client certificate to its requests.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, header};
use hush_tls::CertificateInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;
use tower_http::timeout::TimeoutBody;

use crate::connection_info::ConnectionInfo;
use crate::connection_slots::{ConnectionSlots, Full, Slot};
use crate::connection_watchdog::{Activity, Expiry, Watched};
use crate::limits::ServerLimits;
use crate::server_tls::ServerTls;

/// The largest HTTP/1 read buffer, which bounds a request head: 16 KiB
/// (as Node's default; a hush request's head is well under 1 KiB). What a
/// slow client can make the server hold grows with it (docs/benchmarks.md).
const HTTP1_MAX_BUFFER: usize = 16 * 1024;

/// HTTP/2: streams one connection may have open at once …
const HTTP2_MAX_STREAMS: u32 = 128;
/// … the largest header block …
const HTTP2_MAX_HEADER_LIST: u32 = 16 * 1024;
/// … and how much body data a stream and the connection may have in flight
/// before the server has read it.
const HTTP2_STREAM_WINDOW: u32 = 256 * 1024;
const HTTP2_CONNECTION_WINDOW: u32 = 1024 * 1024;

/// How often a full server says so in the log, at most.
const FULL_WARNING_PERIOD: Duration = Duration::from_secs(60);

/// How long shutdown waits for requests in flight before it stops anyway.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// How long a connection asked to end (shutdown, a client CA removed) may
/// finish what it is doing before it is dropped: a client that ignores
/// HTTP/2's GOAWAY, or a stream that never ends, cannot keep it.
const END_GRACE: Duration = Duration::from_secs(30);

/// `Strict-Transport-Security` on every TLS response: browsers then refuse
/// plain http:// to this host for a year.
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000");

/// What a plain-HTTP client on the TLS port is told.
const TLS_REQUIRED: &str = "{\"error\":{\"code\":\"tls_required\",\"message\":\"this port speaks TLS: use https://\"}}";

/// Serves `router` on `listener` until `shutdown` completes, then lets the
/// requests in flight finish (for up to 30 s).
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    tls: Option<Arc<ServerTls>>,
    limits: Arc<ServerLimits>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let slots =
        ConnectionSlots::new(limits.max_connections, limits.max_connections_per_ip, limits.trusted_proxies.clone());
    let mut warned_full: Option<tokio::time::Instant> = None;
    // `stop` tells every connection to finish; each connection task holds a
    // `running` receiver, so the sender's `closed()` is "all have ended".
    let (stop, stopping) = watch::channel(false);
    let (running_tx, running) = watch::channel(());
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    pause_after_accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let slot = match slots.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(full) => {
                // Dropping the stream closes it at once.
                drop(tcp);
                note_full(full, peer, &mut warned_full);
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let ends = Ends { stopping: stopping.clone(), retired: None, _running: running.clone() };
        let activity = Activity::new(limits.header_read_timeout, limits.idle_timeout, false);
        let limits = Arc::clone(&limits);
        match &tls {
            None => {
                let info = ConnectionInfo { peer, tls: false, client_certificate: None };
                let connection = Connection { info, ends, activity, limits, _slot: slot };
                tokio::spawn(serve_connection(tcp, router, connection));
            }
            Some(tls) => {
                // The configuration in force when the connection arrives, and
                // what ends the connection once a client CA it trusts is removed.
                let (acceptor, retired) = tls.acceptor_and_retirement();
                tokio::spawn(async move {
                    let deadline = tokio::time::Instant::now() + limits.header_read_timeout;
                    if let Some((stream, info)) = handshake(tcp, peer, acceptor, deadline).await {
                        if stream.get_ref().1.alpn_protocol() == Some(b"h2") {
                            activity.set_http2();
                        }
                        let ends = Ends { retired, ..ends };
                        let connection = Connection { info, ends, activity, limits, _slot: slot };
                        serve_connection(stream, router, connection).await;
                    }
                });
            }
        }
    }
    drop(listener);
    drop(running);
    let _ = stop.send(true);
    if tokio::time::timeout(DRAIN_TIMEOUT, running_tx.closed()).await.is_err() {
        tracing::warn!("requests still in flight after {}s; stopping anyway", DRAIN_TIMEOUT.as_secs());
    }
    Ok(())
}

/// Logs a connection turned away: at debug each time, and a warning at
/// most once a minute, since a full server is something to act on.
fn note_full(full: Full, peer: SocketAddr, warned: &mut Option<tokio::time::Instant>) {
    let which = match full {
        Full::Total => "the server's connection limit (--max-connections)",
        Full::Source => "the per-address connection limit (--max-connections-per-ip)",
    };
    tracing::debug!(%peer, "connection refused: {which} is reached");
    if warned.is_none_or(|at| at.elapsed() >= FULL_WARNING_PERIOD) {
        *warned = Some(tokio::time::Instant::now());
        tracing::warn!(%peer, "refusing connections: {which} is reached (logged once a minute)");
    }
}

/// One accepted connection: who it is, what ends it, what it is doing, and
/// its place under the connection caps (freed when it is dropped).
struct Connection {
    info: ConnectionInfo,
    ends: Ends,
    activity: Arc<Activity>,
    limits: Arc<ServerLimits>,
    _slot: Slot,
}

/// What ends a connection early: the server stopping, or (under mutual
/// TLS) the client CA it was verified against being replaced. Dropping it
/// tells the server one connection fewer is running.
struct Ends {
    stopping: watch::Receiver<bool>,
    retired: Option<watch::Receiver<u64>>,
    _running: watch::Receiver<()>,
}

impl Ends {
    /// Completes when the connection should finish what it is doing and close.
    async fn asked(&mut self) {
        let retired = async {
            match &mut self.retired {
                Some(changes) => {
                    if changes.changed().await.is_err() {
                        // No more reloads can come.
                        std::future::pending::<()>().await;
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = self.stopping.wait_for(|stop| *stop) => {}
            () = retired => {}
        }
    }
}

/// Errors of one connection (it went away before being accepted) are
/// skipped; others (out of file descriptors, say) pause accepting for a
/// second rather than spin.
async fn pause_after_accept_error(e: std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(e.kind(), ConnectionAborted | ConnectionRefused | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "cannot accept connections; retrying in 1s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

/// The TLS handshake, or `None` if the client is not speaking TLS, gave up
/// or failed it (a client certificate that does not verify, say).
/// It must be done by `deadline` (the header timeout from accepting).
async fn handshake(
    tcp: TcpStream,
    peer: SocketAddr,
    acceptor: tokio_rustls::TlsAcceptor,
    deadline: tokio::time::Instant,
) -> Option<(tokio_rustls::server::TlsStream<TcpStream>, ConnectionInfo)> {
    let mut first = [0u8; 1];
    match tokio::time::timeout_at(deadline, tcp.peek(&mut first)).await {
        Ok(Ok(1)) => {}
        _ => return None,
    }
    // Every TLS connection opens with a handshake record (content type 22).
    if first[0] != 0x16 {
        tracing::debug!(%peer, "plain HTTP on the TLS port; answered 400 tls_required");
        refuse_plain_http(tcp).await;
        return None;
    }
    let stream = match tokio::time::timeout_at(deadline, acceptor.accept(tcp)).await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            // rustls's own words (a client certificate it refused, a protocol
            // it does not speak); the client-side descriptions would mislead here.
            tracing::debug!(%peer, error = %e, "TLS handshake failed");
            return None;
        }
        Err(_) => {
            tracing::debug!(%peer, "TLS handshake timed out");
            return None;
        }
    };
    // The verifier accepted the chain; its leaf names the client.
    let client_certificate = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(|chain| chain.first())
        .map(|leaf| Arc::from(CertificateInfo::client_identity(leaf)));
    Some((stream, ConnectionInfo { peer, tls: true, client_certificate }))
}

/// Answers a plain-HTTP request on the TLS port with a 400 and closes. The
/// request is read first (briefly), so closing does not reset the
/// connection before the client has read the answer.
async fn refuse_plain_http(mut tcp: TcpStream) {
    let mut buf = [0u8; 8192];
    let _ = tokio::time::timeout(Duration::from_secs(1), tcp.read(&mut buf)).await;
    let answer = format!(
        "HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{TLS_REQUIRED}",
        TLS_REQUIRED.len()
    );
    let _ = tcp.write_all(answer.as_bytes()).await;
    let _ = tcp.shutdown().await;
    let _ =
        tokio::time::timeout(Duration::from_secs(1), async { while matches!(tcp.read(&mut buf).await, Ok(1..)) {} })
            .await;
    // What was read may hold a token sent in clear; it goes no further.
    zeroize::Zeroize::zeroize(&mut buf);
}

/// Serves HTTP/1.1 or HTTP/2 on one connection until it closes, or until
/// it is asked to end (then the request in flight finishes and it closes),
/// or until its watchdog says its time is up.
async fn serve_connection<S>(stream: S, router: Router, connection: Connection)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let Connection { info, mut ends, activity, limits, _slot } = connection;
    let tls = info.tls;
    let peer = info.peer;
    let info = Arc::new(info);
    let body_timeout = limits.body_read_timeout;
    let requests = Arc::clone(&activity);
    let service = hyper::service::service_fn(move |mut request: Request<Incoming>| {
        let in_flight = requests.begin();
        request.extensions_mut().insert(ConnectInfo(peer));
        request.extensions_mut().insert(ConnectionInfo::clone(&info));
        let router = router.clone();
        async move {
            let request = request.map(|body| Body::new(TimeoutBody::new(body_timeout, body)));
            let mut response = router.oneshot(request).await?;
            if tls {
                response.headers_mut().insert(header::STRICT_TRANSPORT_SECURITY, HSTS);
            }
            Ok::<_, Infallible>(crate::streamed_body::Streamed::hold(response, in_flight))
        }
    });
    let mut builder = auto::Builder::new(TokioExecutor::new());
    // The watchdog keeps the header and idle timeouts: hyper's own header
    // timeout would also cut idle keep-alive connections at its length.
    builder.http1().timer(TokioTimer::new()).header_read_timeout(None).max_buf_size(HTTP1_MAX_BUFFER);
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(limits.http2_keepalive_interval)
        .keep_alive_timeout(limits.http2_keepalive_timeout)
        .max_concurrent_streams(HTTP2_MAX_STREAMS)
        .max_header_list_size(HTTP2_MAX_HEADER_LIST)
        .initial_stream_window_size(HTTP2_STREAM_WINDOW)
        .initial_connection_window_size(HTTP2_CONNECTION_WINDOW);
    let io = TokioIo::new(Watched::new(stream, Arc::clone(&activity)));
    let mut connection = std::pin::pin!(builder.serve_connection(io, service));
    let result = tokio::select! {
        result = connection.as_mut() => result,
        expiry = activity.expiry() => match expiry {
            // Half a request head: nothing to finish, so dropped at once.
            Expiry::Header => {
                tracing::debug!(%peer, "no complete request head in time; connection closed");
                Ok(())
            }
            Expiry::Idle => {
                tracing::trace!(%peer, "idle; connection closed");
                connection.as_mut().graceful_shutdown();
                finish(connection).await
            }
        },
        () = ends.asked() => {
            connection.as_mut().graceful_shutdown();
            finish(connection).await
        }
    };
    if let Err(e) = result {
        tracing::trace!(%peer, error = %e, "connection ended with an error");
    }
}

/// Lets a connection asked to close finish, for up to [`END_GRACE`].
async fn finish<F: Future<Output = Result<(), E>>, E>(connection: F) -> Result<(), E> {
    // Dropping the connection closes it.
    tokio::time::timeout(END_GRACE, connection).await.unwrap_or(Ok(()))
}
