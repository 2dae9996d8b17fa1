//! The server's TLS settings, reloadable while serving.
//!
//! A certificate, its key and optionally a client CA (mutual TLS) are read
//! into a rustls `ServerConfig` (TLS 1.2 and 1.3, ALPN `h2` and
//! `http/1.1`, the ring provider). Each new connection takes the config in
//! force when it arrives; connections already open keep theirs, except
//! that a new client CA retires connections verified against the old one
//! (see `client_ca_changes`). A reload builds a whole new config and swaps
//! it in only if every file reads and the key matches the certificate: a
//! bad new pair leaves the old in use.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::SystemTime;

use hush_tls::rustls::RootCertStore;
use hush_tls::rustls::server::WebPkiClientVerifier;
use hush_tls::rustls::{self, ServerConfig};
use hush_tls::{CertificateInfo, TlsError, crypto_provider, read_ca_certificates, read_certificates, read_private_key};
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

/// Where the server's TLS material is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate, followed by its chain (PEM).
    pub cert: PathBuf,
    /// Its private key (PEM).
    pub key: PathBuf,
    /// CA certificates that sign acceptable client certificates; with it,
    /// every client must present one (mutual TLS).
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    fn paths(&self) -> impl Iterator<Item = &Path> {
        [Some(self.cert.as_path()), Some(self.key.as_path()), self.client_ca.as_deref()].into_iter().flatten()
    }
}

/// What identifies a file's version: modification and change times, size
/// and inode. A file replaced by a rename (how most tools rotate) gets a
/// new inode; a `chmod` or `chown` after writing changes the change time,
/// so a key that could not be read yet is tried again once it can be.
type Stamp = Vec<Option<(SystemTime, i64, i64, u64, u64)>>;

fn stamp(files: &TlsFiles) -> Stamp {
    use std::os::unix::fs::MetadataExt;
    files
        .paths()
        .map(|p| {
            std::fs::metadata(p)
                .ok()
                .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.ctime(), m.ctime_nsec(), m.len(), m.ino()))
        })
        .collect()
}

struct Loaded {
    config: Arc<ServerConfig>,
    certificate: Option<CertificateInfo>,
    /// The client CAs trusted (DER), to tell whether a reload took one away.
    client_cas: Option<BTreeSet<Vec<u8>>>,
    stamp: Stamp,
}

/// The server's TLS configuration, swapped whole on reload.
pub struct ServerTls {
    files: TlsFiles,
    loaded: RwLock<Loaded>,
    /// Counts reloads that took a client CA away.
    client_ca_generation: watch::Sender<u64>,
}

impl std::fmt::Debug for ServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerTls").field("files", &self.files).finish_non_exhaustive()
    }
}

fn build(files: &TlsFiles) -> Result<Loaded, TlsError> {
    let chain = read_certificates(&files.cert)?;
    let key = read_private_key(&files.key)?;
    // For log lines only: a certificate rustls takes is served even if its details do not read.
    let certificate = CertificateInfo::parse(&chain[0]).ok();
    let provider = crypto_provider();
    let builder = ServerConfig::builder_with_provider(Arc::clone(&provider))
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| TlsError::Settings(format!("TLS versions: {e}")))?;
    let (builder, client_cas) = match &files.client_ca {
        Some(ca) => {
            // Read once: the CAs compared on reload are the CAs trusted.
            let cas = read_ca_certificates(ca)?;
            let mut roots = RootCertStore::empty();
            roots.add_parsable_certificates(cas.iter().cloned());
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError::Invalid { what: "client CA file", path: ca.clone(), reason: e.to_string() })?;
            (builder.with_client_cert_verifier(verifier), Some(cas.iter().map(|c| c.to_vec()).collect()))
        }
        None => (builder.with_no_client_auth(), None),
    };
    let mut config = builder.with_single_cert(chain, key).map_err(|e| {
        let reason = match e {
            rustls::Error::InconsistentKeys(_) => "the private key does not belong to the certificate".to_owned(),
            other => other.to_string(),
        };
        TlsError::Invalid { what: "certificate and key pair", path: files.key.clone(), reason }
    })?;
    // h2 first: gRPC clients need it, and browsers and curl prefer it.
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Loaded { config: Arc::new(config), certificate, client_cas, stamp: Stamp::new() })
}

impl ServerTls {
    /// Reads the files; fails if any is missing, unreadable or does not fit.
    pub fn load(files: TlsFiles) -> Result<Self, TlsError> {
        let stamp = stamp(&files);
        let loaded = Loaded { stamp, ..build(&files)? };
        Ok(ServerTls { files, loaded: RwLock::new(loaded), client_ca_generation: watch::Sender::new(0) })
    }

    /// Whether clients must present a certificate.
    pub fn mutual(&self) -> bool {
        self.files.client_ca.is_some()
    }

    /// An acceptor with the configuration in force now and, under mutual
    /// TLS, what changes once a reload takes away a client CA this
    /// configuration trusts: a connection it verified should then end.
    /// Taken together, so no reload falls between them.
    pub fn acceptor_and_retirement(&self) -> (TlsAcceptor, Option<watch::Receiver<u64>>) {
        let loaded = self.loaded.read().unwrap_or_else(|e| e.into_inner());
        let retirement = self.mutual().then(|| self.client_ca_generation.subscribe());
        (TlsAcceptor::from(Arc::clone(&loaded.config)), retirement)
    }

    /// The certificate served now, if its details could be read.
    pub fn certificate(&self) -> Option<CertificateInfo> {
        self.loaded.read().unwrap_or_else(|e| e.into_inner()).certificate.clone()
    }

    /// Whether any file changed since it was last read.
    pub fn files_changed(&self) -> bool {
        stamp(&self.files) != self.loaded.read().unwrap_or_else(|e| e.into_inner()).stamp
    }

    /// Reads the files again. On success the new configuration serves every
    /// new connection; on failure the old one stays in force (and the files
    /// as they are now count as seen, so the same failure is not retried
    /// until they change again).
    pub fn reload(&self) -> Result<Option<CertificateInfo>, TlsError> {
        let stamp = stamp(&self.files);
        let built = build(&self.files);
        let mut loaded = self.loaded.write().unwrap_or_else(|e| e.into_inner());
        loaded.stamp = stamp.clone();
        let new = built?;
        // Adding a CA (the first step of an overlapping rotation) ends
        // nothing; taking one away ends the connections it may have verified.
        let ca_removed = match (&loaded.client_cas, &new.client_cas) {
            (Some(old), Some(new)) => !old.is_subset(new),
            _ => false,
        };
        let certificate = new.certificate.clone();
        *loaded = Loaded { stamp, ..new };
        if ca_removed {
            // Under the lock: a connection takes its configuration and its
            // subscription together (`acceptor_and_retirement`), so it is
            // retired exactly when its configuration trusted the CA removed.
            self.client_ca_generation.send_modify(|generation| *generation += 1);
            tracing::info!("a client CA was removed: connections verified before are closing");
        }
        Ok(certificate)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hush_tls::{SelfSigned, SelfSignedRequest};

    fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Two sets (for first.test and second.test), the first written into `dir`.
    fn two_sets(dir: &Path, mutual: bool) -> (SelfSigned, SelfSigned, TlsFiles) {
        let first = SelfSigned::generate(&SelfSignedRequest::for_hosts(&["first.test"])).unwrap();
        let second = SelfSigned::generate(&SelfSignedRequest::for_hosts(&["second.test"])).unwrap();
        let files = TlsFiles {
            cert: write(dir, "cert.pem", &first.server.cert_pem),
            key: write(dir, "key.pem", &first.server.key_pem),
            client_ca: mutual.then(|| write(dir, "ca.pem", &first.ca_pem)),
        };
        (first, second, files)
    }

    #[test]
    fn a_bad_new_pair_keeps_the_old_one() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second, files) = two_sets(dir.path(), false);
        let tls = ServerTls::load(files.clone()).unwrap();
        assert_eq!(tls.certificate().unwrap().names, ["first.test"]);
        assert!(!tls.files_changed());

        // The new certificate with the old key: refused, the old pair stays.
        write(dir.path(), "cert.pem", &second.server.cert_pem);
        assert!(tls.files_changed());
        let error = tls.reload().unwrap_err().to_string();
        assert!(error.contains("the private key does not belong to the certificate"), "{error}");
        assert_eq!(tls.certificate().unwrap().names, ["first.test"]);
        assert!(!tls.files_changed(), "a refused version is not retried until the files change again");

        // Then its key too: taken.
        write(dir.path(), "key.pem", &second.server.key_pem);
        assert!(tls.files_changed());
        assert_eq!(tls.reload().unwrap().unwrap().names, ["second.test"]);
        assert_eq!(tls.certificate().unwrap().names, ["second.test"]);

        // A missing file is refused as well.
        std::fs::remove_file(&files.key).unwrap();
        let error = tls.reload().unwrap_err().to_string();
        assert!(error.contains("cannot read private key file"), "{error}");
        assert_eq!(tls.certificate().unwrap().names, ["second.test"]);

        // A key that cannot be read yet (mode 000, as a tool writes it before
        // its chmod) is tried again once its mode changes, with nothing else changed.
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(&files.key, first.server.key_pem.as_bytes()).unwrap();
        write(dir.path(), "cert.pem", &first.server.cert_pem);
        let unreadable = std::fs::Permissions::from_mode(0o000);
        std::fs::set_permissions(&files.key, unreadable).unwrap();
        let running_as_root = std::fs::read(&files.key).is_ok();
        if !running_as_root {
            assert!(tls.reload().is_err());
            assert!(!tls.files_changed());
        }
        std::fs::set_permissions(&files.key, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(tls.files_changed(), "a mode change counts as a change");
        assert_eq!(tls.reload().unwrap().unwrap().names, ["first.test"]);
    }

    #[test]
    fn a_new_client_ca_is_announced_and_a_new_server_certificate_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let (first, second, files) = two_sets(dir.path(), true);
        let tls = ServerTls::load(files).unwrap();
        let mut changes = tls.acceptor_and_retirement().1.expect("mutual TLS");
        // A new server certificate: connections stay.
        write(dir.path(), "cert.pem", &second.server.cert_pem);
        write(dir.path(), "key.pem", &second.server.key_pem);
        tls.reload().unwrap();
        assert!(!changes.has_changed().unwrap());
        // A second client CA beside the first (an overlapping rotation): connections stay.
        write(dir.path(), "ca.pem", &format!("{}{}", first.ca_pem, second.ca_pem));
        tls.reload().unwrap();
        assert!(!changes.has_changed().unwrap());
        // The first taken away: connections verified before are told to end.
        write(dir.path(), "ca.pem", &second.ca_pem);
        tls.reload().unwrap();
        assert!(changes.has_changed().unwrap());
        changes.mark_unchanged();
        // A refused reload announces nothing.
        write(dir.path(), "ca.pem", "not a certificate");
        assert!(tls.reload().is_err());
        assert!(!changes.has_changed().unwrap());
    }

    #[test]
    fn load_names_what_is_wrong() {
        let dir = tempfile::tempdir().unwrap();
        let pki = SelfSigned::generate(&SelfSignedRequest::for_hosts(&["localhost"])).unwrap();
        let cert = write(dir.path(), "cert.pem", &pki.server.cert_pem);
        let key = write(dir.path(), "key.pem", &pki.server.key_pem);
        let cases = [
            (TlsFiles { cert: key.clone(), key: key.clone(), client_ca: None }, "key.pem holds no certificate"),
            (TlsFiles { cert: cert.clone(), key: cert.clone(), client_ca: None }, "cert.pem holds no private key"),
            (
                TlsFiles { cert: cert.clone(), key: key.clone(), client_ca: Some(dir.path().join("nope.pem")) },
                "cannot read CA certificate file",
            ),
        ];
        for (files, expected) in cases {
            let error = ServerTls::load(files).unwrap_err().to_string();
            assert!(error.contains(expected), "{error:?} should contain {expected:?}");
        }
        let mutual =
            ServerTls::load(TlsFiles { cert, key, client_ca: Some(write(dir.path(), "ca.pem", &pki.ca_pem)) }).unwrap();
        assert!(mutual.mutual());
    }
}
