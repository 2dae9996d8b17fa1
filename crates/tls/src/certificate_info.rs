//! What a certificate says about itself: subject, names and validity, for
//! log lines at start and reload and for the audit record of a client
//! certificate. Parsing is x509-cert's.

use std::net::IpAddr;
use std::time::SystemTime;

use sha2::{Digest, Sha256};
use x509_cert::certificate::{CertificateInner, Raw};
use x509_cert::der::Decode;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

/// Longest client certificate subject recorded as it is (as long as an audit context).
pub const MAX_CLIENT_IDENTITY: usize = 256;

/// A certificate's subject, alternative names and validity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The subject as an RFC 4514 string, e.g. `CN=runner-1,O=ci`.
    pub subject: String,
    /// DNS names and IP addresses it is valid for.
    pub names: Vec<String>,
    /// Not valid before.
    pub not_before: SystemTime,
    /// Not valid after.
    pub not_after: SystemTime,
}

impl CertificateInfo {
    /// Reads a DER certificate; the error says what could not be read.
    /// Leniently (x509-cert's `Raw` profile), as webpki verifies: a serial
    /// number longer than RFC 5280 allows, say, still reads.
    pub fn parse(der: &[u8]) -> Result<Self, String> {
        let cert = CertificateInner::<Raw>::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let tbs = cert.tbs_certificate();
        let mut names = Vec::new();
        if let Ok(Some((_, SubjectAltName(general)))) = tbs.get_extension::<SubjectAltName>() {
            for name in general {
                match name {
                    GeneralName::DnsName(dns) => names.push(dns.to_string()),
                    GeneralName::IpAddress(octets) => {
                        let bytes = octets.as_bytes();
                        let ip = <[u8; 4]>::try_from(bytes)
                            .map(IpAddr::from)
                            .or_else(|_| <[u8; 16]>::try_from(bytes).map(IpAddr::from));
                        if let Ok(ip) = ip {
                            names.push(ip.to_string());
                        }
                    }
                    _ => {}
                }
            }
        }
        Ok(CertificateInfo {
            subject: tbs.subject().to_string(),
            names,
            not_before: tbs.validity().not_before.to_system_time(),
            not_after: tbs.validity().not_after.to_system_time(),
        })
    }

    /// How the audit log names the client that presented `der`: its subject
    /// (RFC 4514), or `sha256:` and the certificate's fingerprint when the
    /// subject cannot be read, is empty, or is longer than
    /// [`MAX_CLIENT_IDENTITY`] bytes. Never nothing: a verified client
    /// certificate is always on record.
    pub fn client_identity(der: &[u8]) -> String {
        match CertificateInfo::parse(der) {
            Ok(info) if !info.subject.is_empty() && info.subject.len() <= MAX_CLIENT_IDENTITY => info.subject,
            _ => format!("sha256:{}", Sha256::digest(der).iter().map(|b| format!("{b:02x}")).collect::<String>()),
        }
    }

    /// Whether `now` is past its end.
    pub fn expired_at(&self, now: SystemTime) -> bool {
        now > self.not_after
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::{SelfSigned, SelfSignedRequest};

    #[test]
    fn reads_subject_names_and_validity() {
        let pki = SelfSigned::generate(&SelfSignedRequest {
            clients: vec!["runner-1".into()],
            ..SelfSignedRequest::for_hosts(&["hush.internal", "127.0.0.1", "::1"])
        })
        .unwrap();
        let server = CertificateInfo::parse(pki.server.der()).unwrap();
        assert_eq!(server.subject, "CN=hush.internal");
        assert_eq!(server.names, ["hush.internal", "127.0.0.1", "::1"]);
        let now = SystemTime::now();
        assert!(server.not_before < now && now < server.not_after);
        assert!(!server.expired_at(now));
        assert!(server.expired_at(now + Duration::from_secs(400 * 86_400)));

        let client = CertificateInfo::parse(pki.clients[0].der()).unwrap();
        assert_eq!(client.subject, "CN=runner-1,O=hush client");
        assert!(CertificateInfo::parse(b"not der").unwrap_err().contains("not an X.509 certificate"));

        // The audit log's name for a client: its subject, else its fingerprint.
        assert_eq!(CertificateInfo::client_identity(pki.clients[0].der()), "CN=runner-1,O=hush client");
        let unreadable = CertificateInfo::client_identity(b"not der");
        assert!(unreadable.starts_with("sha256:") && unreadable.len() == 7 + 64, "{unreadable}");
        let long = SelfSigned::generate(&SelfSignedRequest {
            clients: vec!["x".repeat(300)],
            ..SelfSignedRequest::for_hosts(&["localhost"])
        });
        if let Ok(long) = long {
            assert!(CertificateInfo::client_identity(long.clients[0].der()).starts_with("sha256:"));
        }
    }
}
