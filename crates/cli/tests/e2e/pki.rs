//! Certificates for the TLS tests, made per test with hush-tls (rcgen): a
//! CA, server certificates (valid, expired, for other names) and client
//! certificates, written as PEM files in a temporary directory.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

use hush_tls::CertificateAuthority;

pub const DAY: Duration = Duration::from_secs(86_400);

/// A certificate and key on disk.
#[derive(Clone)]
pub struct Pair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// A test CA and the files it signed.
pub struct Pki {
    pub dir: tempfile::TempDir,
    ca: CertificateAuthority,
    /// The CA certificate (PEM).
    pub ca_file: PathBuf,
}

impl Pki {
    pub fn new() -> Pki {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let ca = CertificateAuthority::new_unique("hush test CA", now - DAY, now + 30 * DAY).unwrap();
        let ca_file = dir.path().join("ca.pem");
        std::fs::write(&ca_file, ca.cert_pem()).unwrap();
        Pki { dir, ca, ca_file }
    }

    fn write(&self, name: &str, issued: &hush_tls::IssuedCertificate) -> Pair {
        let pair = Pair {
            cert: self.dir.path().join(format!("{name}.pem")),
            key: self.dir.path().join(format!("{name}-key.pem")),
        };
        std::fs::write(&pair.cert, &issued.cert_pem).unwrap();
        std::fs::write(&pair.key, issued.key_pem.as_bytes()).unwrap();
        pair
    }

    /// A server certificate for `hosts`, valid from `from` to `until`.
    pub fn server_valid(&self, name: &str, hosts: &[&str], from: SystemTime, until: SystemTime) -> Pair {
        let hosts: Vec<String> = hosts.iter().map(|h| (*h).to_owned()).collect();
        self.write(name, &self.ca.issue_server(&hosts, from, until).unwrap())
    }

    /// A server certificate for 127.0.0.1 and localhost, valid now.
    pub fn server(&self, name: &str) -> Pair {
        let now = SystemTime::now();
        self.server_valid(name, &["127.0.0.1", "localhost"], now - DAY, now + DAY)
    }

    /// A client certificate `CN=name,O=hush client`.
    pub fn client(&self, name: &str) -> Pair {
        let now = SystemTime::now();
        self.write(name, &self.ca.issue_client(name, now - DAY, now + DAY).unwrap())
    }
}

/// The DER bytes of the first certificate in a PEM file.
pub fn der_of(pem_file: &std::path::Path) -> Vec<u8> {
    hush_tls::read_certificates(pem_file).unwrap()[0].to_vec()
}

/// The certificate the server at `addr` (host:port) presents, read with a
/// TLS handshake that trusts `ca` (blocking rustls).
pub fn served_certificate(addr: &str, ca: &std::path::Path) -> Vec<u8> {
    use std::io::Write;
    use std::sync::Arc;
    let roots = hush_tls::read_roots(ca).unwrap();
    let config = hush_tls::rustls::ClientConfig::builder_with_provider(hush_tls::crypto_provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let name = hush_tls::rustls::pki_types::ServerName::try_from("localhost").unwrap();
    let mut conn = hush_tls::rustls::ClientConnection::new(Arc::new(config), name).unwrap();
    let mut tcp = std::net::TcpStream::connect(addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = hush_tls::rustls::Stream::new(&mut conn, &mut tcp);
    tls.write_all(b"GET /v1/health HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n").unwrap();
    tls.flush().unwrap();
    conn.peer_certificates().unwrap()[0].to_vec()
}
