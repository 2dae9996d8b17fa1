//! What a certificate says about itself: subject, names and validity, for
//! log lines at start and reload and for the audit record of a client
//! certificate. Parsing is x509-cert's.

use std::net::IpAddr;
use std::time::SystemTime;

use x509_cert::Certificate;
use x509_cert::der::Decode;
use x509_cert::ext::pkix::SubjectAltName;
use x509_cert::ext::pkix::name::GeneralName;

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
    pub fn parse(der: &[u8]) -> Result<Self, String> {
        let cert = Certificate::from_der(der).map_err(|e| format!("not an X.509 certificate: {e}"))?;
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
    }
}
