//! What the server knows about the connection a request arrived on: the
//! peer's address, whether it is TLS, and the subject of the client
//! certificate the handshake verified. The listener puts one in every
//! request's extensions; handlers read it through `RequestCredentials`.

use std::net::SocketAddr;
use std::sync::Arc;

/// The connection behind a request.
#[derive(Debug, Clone)]
pub struct ConnectionInfo {
    /// The peer's address as the socket reports it.
    pub peer: SocketAddr,
    /// Whether the connection is TLS.
    pub tls: bool,
    /// The verified client certificate's subject (RFC 4514), under mutual TLS.
    pub client_certificate: Option<Arc<str>>,
}
