//! Certificates, private keys and CA bundles from PEM files. Errors name the
//! file and what it should have held, never its content.

use std::path::Path;

use rustls::RootCertStore;
use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use zeroize::Zeroizing;

use crate::TlsError;

pub(crate) const CERT_FILE: &str = "certificate file";
pub(crate) const KEY_FILE: &str = "private key file";

/// The file's bytes, wiped when dropped.
pub(crate) fn read(what: &'static str, path: &Path) -> Result<Zeroizing<Vec<u8>>, TlsError> {
    std::fs::read(path).map(Zeroizing::new).map_err(|error| TlsError::Read { what, path: path.to_owned(), error })
}

fn invalid(what: &'static str, path: &Path, e: &pem::Error) -> TlsError {
    // pem::Error's Display names positions and kinds, not content.
    TlsError::Invalid { what, path: path.to_owned(), reason: e.to_string() }
}

/// Every certificate in `path`, in order: a leaf followed by its chain.
pub fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    parse_certificates(path, &read(CERT_FILE, path)?)
}

/// The certificates in `bytes`, read from `path`.
pub(crate) fn parse_certificates(path: &Path, bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_slice_iter(bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(CERT_FILE, path, &e))?;
    if certs.is_empty() {
        return Err(TlsError::Missing { what: "certificate", label: "CERTIFICATE", path: path.to_owned() });
    }
    Ok(certs)
}

/// The private key in `path` (PKCS#8, PKCS#1 RSA or SEC1 EC). The bytes
/// read are wiped. `PrivateKeyDer` does not wipe itself on drop: a caller
/// that does not hand it on to rustls calls `zeroize()` on it.
pub fn read_private_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    parse_private_key(path, &read(KEY_FILE, path)?)
}

/// The private key in `bytes`, read from `path`.
pub(crate) fn parse_private_key(path: &Path, bytes: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_slice(bytes).map_err(|e| match e {
        pem::Error::NoItemsFound => {
            TlsError::Missing { what: "private key", label: "PRIVATE KEY", path: path.to_owned() }
        }
        other => invalid(KEY_FILE, path, &other),
    })
}

/// The CA certificates in `path`, each checked to be usable as a trust anchor.
pub fn read_ca_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    const WHAT: &str = "CA certificate file";
    let certs = read_certificates(path).map_err(|e| match e {
        TlsError::Read { path, error, .. } => TlsError::Read { what: WHAT, path, error },
        other => other,
    })?;
    for cert in &certs {
        webpki_anchor(cert).map_err(|reason| TlsError::Invalid { what: WHAT, path: path.to_owned(), reason })?;
    }
    Ok(certs)
}

fn webpki_anchor(cert: &CertificateDer<'_>) -> Result<(), String> {
    let mut store = RootCertStore::empty();
    store.add(cert.clone()).map_err(|e| e.to_string())
}

/// The CA certificates in `path`, as trust anchors.
pub fn read_roots(path: &Path) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    roots.add_parsable_certificates(read_ca_certificates(path)?);
    Ok(roots)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> std::path::PathBuf {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    #[test]
    fn errors_name_the_file_and_what_was_expected() {
        let dir = tempfile::tempdir().unwrap();
        let pki = crate::SelfSigned::generate(&crate::SelfSignedRequest::for_hosts(&["localhost"])).unwrap();
        let cert = file(&dir, "cert.pem", &pki.server.cert_pem);
        let key = file(&dir, "key.pem", &pki.server.key_pem);
        let garbage = file(&dir, "garbage.pem", "not a pem file\n");
        let broken = file(&dir, "broken.pem", "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
        let missing = dir.path().join("missing.pem");

        assert_eq!(read_certificates(&cert).unwrap().len(), 1);
        assert!(read_private_key(&key).is_ok());
        assert_eq!(read_roots(&file(&dir, "ca.pem", &pki.ca_pem)).unwrap().len(), 1);

        let cases: Vec<(String, &[&str])> = vec![
            (
                read_certificates(&garbage).unwrap_err().to_string(),
                &["garbage.pem", "no certificate", "BEGIN CERTIFICATE"],
            ),
            (read_certificates(&broken).unwrap_err().to_string(), &["broken.pem", "not a usable certificate file"]),
            (read_certificates(&missing).unwrap_err().to_string(), &["cannot read certificate file", "missing.pem"]),
            (read_private_key(&cert).unwrap_err().to_string(), &["cert.pem", "no private key"]),
            (read_private_key(&missing).unwrap_err().to_string(), &["cannot read private key file"]),
            (read_roots(&missing).unwrap_err().to_string(), &["cannot read CA certificate file"]),
            (read_roots(&key).unwrap_err().to_string(), &["key.pem", "no certificate"]),
        ];
        for (message, expected) in cases {
            for part in expected {
                assert!(message.contains(part), "{message:?} should contain {part:?}");
            }
        }
        // The key's content is never in a message.
        let message = read_certificates(&key).unwrap_err().to_string();
        let body: String = pki.server.key_pem.lines().nth(1).unwrap().to_owned();
        assert!(!message.contains(&body));
    }
}
