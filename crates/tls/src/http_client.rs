//! The one place outbound HTTP clients are built: hush's own client, the
//! credential helpers, `vault://`, the Transit KMS, registry connection
//! tests and workflow HTTP requests all start from [`http_client`].
//!
//! Servers are checked against the system's roots (rustls-platform-verifier,
//! which on Linux reads the system store and honours `SSL_CERT_FILE`), or
//! only against a given CA file. There is no way to skip verification.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::{TlsError, TlsProblem, install_crypto_provider, read_ca_certificates};

/// The names a client's TLS settings go by, for messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SettingNames {
    /// The CA file setting.
    pub ca_cert: &'static str,
    /// The client certificate setting.
    pub client_cert: &'static str,
    /// The client key setting.
    pub client_key: &'static str,
}

/// Whom a client trusts and how it proves who it is.
#[derive(Debug, Clone)]
pub struct ClientTls {
    /// Trust only the CA certificates in this PEM file, instead of the system's roots.
    pub ca_cert: Option<PathBuf>,
    /// A client certificate (PEM, with its chain) for mutual TLS.
    pub client_cert: Option<PathBuf>,
    /// The client certificate's private key (PEM).
    pub client_key: Option<PathBuf>,
    /// What these settings are called where they were given.
    pub names: SettingNames,
}

impl Default for ClientTls {
    fn default() -> Self {
        ClientTls::system_roots(ClientTls::HUSH)
    }
}

fn env_path(name: &str) -> Option<PathBuf> {
    std::env::var_os(name).filter(|v| !v.is_empty()).map(PathBuf::from)
}

impl ClientTls {
    /// hush's own settings.
    pub const HUSH: SettingNames = SettingNames {
        ca_cert: "HUSH_CACERT (--ca-cert)",
        client_cert: "HUSH_CLIENT_CERT (--client-cert)",
        client_key: "HUSH_CLIENT_KEY (--client-key)",
    };

    /// Vault's and OpenBao's client variables.
    pub const VAULT: SettingNames =
        SettingNames { ca_cert: "VAULT_CACERT", client_cert: "VAULT_CLIENT_CERT", client_key: "VAULT_CLIENT_KEY" };

    /// The system's roots and no client certificate.
    pub fn system_roots(names: SettingNames) -> Self {
        ClientTls { ca_cert: None, client_cert: None, client_key: None, names }
    }

    /// From `HUSH_CACERT`, `HUSH_CLIENT_CERT` and `HUSH_CLIENT_KEY` (the credential helpers).
    pub fn hush_from_env() -> Self {
        ClientTls {
            ca_cert: env_path("HUSH_CACERT"),
            client_cert: env_path("HUSH_CLIENT_CERT"),
            client_key: env_path("HUSH_CLIENT_KEY"),
            names: ClientTls::HUSH,
        }
    }

    /// From `VAULT_CACERT`, `VAULT_CLIENT_CERT` and `VAULT_CLIENT_KEY`, as
    /// Vault's own clients read them (`vault://` and the Transit KMS).
    pub fn vault_from_env() -> Self {
        ClientTls {
            ca_cert: env_path("VAULT_CACERT"),
            client_cert: env_path("VAULT_CLIENT_CERT"),
            client_key: env_path("VAULT_CLIENT_KEY"),
            names: ClientTls::VAULT,
        }
    }

    /// What to tell a user about a failed connection: the certificate
    /// problem in words, with the setting that fixes it, or the error's
    /// own innermost message.
    pub fn explain(&self, error: &(dyn std::error::Error + 'static)) -> String {
        match crate::tls_problem(error) {
            Some(problem @ TlsProblem::UnknownIssuer) => {
                format!("{problem}; point {} at the CA's certificate", self.names.ca_cert)
            }
            Some(problem @ TlsProblem::ClientCertificateRequired) => {
                format!("{problem}; set {} and {}", self.names.client_cert, self.names.client_key)
            }
            Some(problem) => problem.to_string(),
            None if closed_after_handshake(error) => {
                let cause = crate::describe_connect_error(error);
                match self.client_cert {
                    None => format!(
                        "{cause}: the server closed the connection; if it requires a client certificate (mutual \
                         TLS), set {} and {}",
                        self.names.client_cert, self.names.client_key
                    ),
                    Some(_) => format!(
                        "{cause}: the server closed the connection; it may have refused this client's certificate"
                    ),
                }
            }
            None => crate::describe_connect_error(error),
        }
    }
}

/// Under TLS 1.3 a server checks the client's certificate after the
/// client's side of the handshake is done; its refusal (an alert, then the
/// close) can reach the HTTP client before the request is written, and then
/// surfaces as a closed connection without the alert. Other closes look
/// the same (a proxy dropping a kept-alive connection), so `explain` keeps
/// the cause and words the client certificate as a possibility.
fn closed_after_handshake(error: &(dyn std::error::Error + 'static)) -> bool {
    let Some(request) = error.downcast_ref::<reqwest::Error>() else { return false };
    if request.url().is_none_or(|u| u.scheme() != "https") {
        return false;
    }
    crate::diagnosis::chain(error).any(|e| {
        let text = e.to_string();
        ["connection was not ready", "channel closed", "connection closed before message completed"]
            .iter()
            .any(|m| text.contains(m))
    })
}

fn identity_pem(cert: &Path, key: &Path) -> Result<Zeroizing<Vec<u8>>, TlsError> {
    use zeroize::Zeroize;
    // Checked as the server's files are, so errors name the file and what it lacks.
    let key_pem = crate::pem_files::read(crate::pem_files::KEY_FILE, key)?;
    crate::pem_files::parse_private_key(key, &key_pem)?.zeroize();
    let cert_pem = crate::pem_files::read(crate::pem_files::CERT_FILE, cert)?;
    crate::pem_files::parse_certificates(cert, &cert_pem)?;
    // Sized up front: growing would free a copy of the key unwiped.
    let mut pem = Zeroizing::new(Vec::with_capacity(key_pem.len() + 1 + cert_pem.len()));
    pem.extend_from_slice(&key_pem);
    pem.push(b'\n');
    pem.extend_from_slice(&cert_pem);
    Ok(pem)
}

/// A reqwest client builder with TLS set up from `tls`; callers add their
/// timeouts, redirect policy and user agent, then build.
///
/// Clients that present a client certificate to a known server (hush's
/// own, Vault's) add `http1_only()`: under TLS 1.3 a server refuses a
/// missing or unknown client certificate after the client's side of the
/// handshake is done, and over HTTP/2 that refusal reaches the caller as
/// "connection closed", over HTTP/1.1 as the alert, which
/// [`ClientTls::explain`] names.
pub fn http_client(tls: &ClientTls) -> Result<reqwest::ClientBuilder, TlsError> {
    install_crypto_provider();
    let mut builder = reqwest::Client::builder().tls_backend_rustls();
    if let Some(ca) = &tls.ca_cert {
        let certs = read_ca_certificates(ca)?
            .iter()
            .map(|der| reqwest::Certificate::from_der(der))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| TlsError::Invalid { what: "CA certificate file", path: ca.clone(), reason: e.to_string() })?;
        builder = builder.tls_certs_only(certs);
    }
    match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => {
            let pem = identity_pem(cert, key)?;
            let identity = reqwest::Identity::from_pem(&pem).map_err(|e| TlsError::Invalid {
                what: "client certificate and key",
                path: cert.clone(),
                reason: e.to_string(),
            })?;
            builder = builder.identity(identity);
        }
        (Some(_), None) => {
            return Err(TlsError::Settings(format!(
                "{} is set but {} is not: a client certificate needs its key",
                tls.names.client_cert, tls.names.client_key
            )));
        }
        (None, Some(_)) => {
            return Err(TlsError::Settings(format!(
                "{} is set but {} is not: a client key needs its certificate",
                tls.names.client_key, tls.names.client_cert
            )));
        }
        (None, None) => {}
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::{Duration, SystemTime};

    use rustls::server::WebPkiClientVerifier;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;
    use crate::{CertificateAuthority, IssuedCertificate, crypto_provider, read_roots};

    const DAY: Duration = Duration::from_secs(86_400);

    fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// A TLS server on a loopback port that answers every request with 200,
    /// optionally requiring a client certificate from `client_ca`.
    async fn server(leaf: &IssuedCertificate, client_ca: Option<&Path>) -> u16 {
        use rustls::pki_types::pem::PemObject;
        let key = rustls::pki_types::PrivateKeyDer::from_pem_slice(leaf.key_pem.as_bytes()).unwrap();
        let builder = rustls::ServerConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()
            .unwrap();
        let builder = match client_ca {
            Some(ca) => builder.with_client_cert_verifier(
                WebPkiClientVerifier::builder_with_provider(Arc::new(read_roots(ca).unwrap()), crypto_provider())
                    .build()
                    .unwrap(),
            ),
            None => builder.with_no_client_auth(),
        };
        let config = builder.with_single_cert(vec![leaf.der().to_vec().into()], key).unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let acceptor = acceptor.clone();
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else { return };
                    let mut buf = [0u8; 4096];
                    let _ = tls.read(&mut buf).await;
                    let _ = tls.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok").await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        port
    }

    async fn plain_server() -> u16 {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut tcp, _)) = listener.accept().await {
                let mut buf = [0u8; 4096];
                let _ = tcp.read(&mut buf).await;
                let _ = tcp.write_all(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").await;
            }
        });
        port
    }

    async fn get(tls: &ClientTls, url: &str) -> Result<(), String> {
        let client = http_client(tls).map_err(|e| e.to_string())?.build().unwrap();
        match client.get(url).send().await {
            Ok(r) => r.error_for_status().map(drop).map_err(|e| e.to_string()),
            Err(e) => Err(tls.explain(&e)),
        }
    }

    #[tokio::test]
    async fn each_certificate_problem_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let now = SystemTime::now();
        let ca = CertificateAuthority::new("test CA", now - DAY, now + DAY).unwrap();
        let other_ca = CertificateAuthority::new("other CA", now - DAY, now + DAY).unwrap();
        let ca_file = write(&dir, "ca.pem", ca.cert_pem());
        let hosts = vec!["localhost".to_owned()];
        let good = server(&ca.issue_server(&hosts, now - DAY, now + DAY).unwrap(), None).await;
        let expired = server(&ca.issue_server(&hosts, now - 3 * DAY, now - 2 * DAY).unwrap(), None).await;
        let mutual = server(&ca.issue_server(&hosts, now - DAY, now + DAY).unwrap(), Some(&ca_file)).await;
        let plain = plain_server().await;
        let trusting = ClientTls { ca_cert: Some(ca_file.clone()), ..ClientTls::default() };
        let client = ca.issue_client("runner-1", now - DAY, now + DAY).unwrap();
        let stranger = other_ca.issue_client("stranger", now - DAY, now + DAY).unwrap();
        let with_identity = |c: &IssuedCertificate, name: &str| ClientTls {
            client_cert: Some(write(&dir, &format!("{name}.pem"), &c.cert_pem)),
            client_key: Some(write(&dir, &format!("{name}-key.pem"), &c.key_pem)),
            ..trusting.clone()
        };

        assert_eq!(get(&trusting, &format!("https://localhost:{good}/")).await, Ok(()));
        let cases: Vec<(ClientTls, String, &str)> = vec![
            (ClientTls::default(), format!("https://localhost:{good}/"), "unknown issuer"),
            (trusting.clone(), format!("https://localhost:{expired}/"), "has expired"),
            (trusting.clone(), format!("https://127.0.0.1:{good}/"), "wrong host name"),
            (trusting.clone(), format!("https://localhost:{mutual}/"), "requires a client certificate"),
            (with_identity(&stranger, "stranger"), format!("https://localhost:{mutual}/"), "refused this client"),
            (trusting.clone(), format!("https://localhost:{plain}/"), "did not answer in TLS"),
        ];
        for (tls, url, expected) in cases {
            let error = get(&tls, &url).await.expect_err(&url);
            assert!(error.contains(expected), "{url}: {error:?} should contain {expected:?}");
        }
        let error = get(&ClientTls::default(), &format!("https://localhost:{good}/")).await.unwrap_err();
        assert!(error.contains("HUSH_CACERT (--ca-cert)"), "{error}");
        assert_eq!(get(&with_identity(&client, "runner"), &format!("https://localhost:{mutual}/")).await, Ok(()));

        // A CA constrained to some names vouches for nothing else.
        let constrained =
            CertificateAuthority::new_unique_for("constrained", Some(&["localhost".to_owned()]), now - DAY, now + DAY)
                .unwrap();
        let constrained_file = write(&dir, "constrained.pem", constrained.cert_pem());
        let within = server(&constrained.issue_server(&hosts, now - DAY, now + DAY).unwrap(), None).await;
        let beyond =
            server(&constrained.issue_server(&["127.0.0.1".to_owned()], now - DAY, now + DAY).unwrap(), None).await;
        let trusting_constrained = ClientTls { ca_cert: Some(constrained_file), ..ClientTls::default() };
        assert_eq!(get(&trusting_constrained, &format!("https://localhost:{within}/")).await, Ok(()));
        let error = get(&trusting_constrained, &format!("https://127.0.0.1:{beyond}/")).await.unwrap_err();
        assert!(error.contains("TLS: "), "{error}");
        // And one constrained to an address vouches for no DNS name.
        let by_address =
            CertificateAuthority::new_unique_for("by address", Some(&["127.0.0.1".to_owned()]), now - DAY, now + DAY)
                .unwrap();
        let by_address_file = write(&dir, "by-address.pem", by_address.cert_pem());
        let named = server(&by_address.issue_server(&hosts, now - DAY, now + DAY).unwrap(), None).await;
        let trusting_by_address = ClientTls { ca_cert: Some(by_address_file), ..ClientTls::default() };
        let error = get(&trusting_by_address, &format!("https://localhost:{named}/")).await.unwrap_err();
        assert!(error.contains("TLS: "), "{error}");

        let half = ClientTls { client_cert: Some(ca_file.clone()), ..ClientTls::system_roots(ClientTls::VAULT) };
        let error = http_client(&half).unwrap_err().to_string();
        assert!(error.contains("VAULT_CLIENT_CERT is set but VAULT_CLIENT_KEY is not"), "{error}");
        assert!(crate::tls_problem(&std::io::Error::other("x")).is_none());
    }
}
