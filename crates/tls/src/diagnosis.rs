//! Naming what went wrong with a TLS connection, from the error a client
//! got: unknown issuer, expired, wrong host name, a client certificate the
//! server wanted or refused, or a peer that does not speak TLS at all.
//!
//! rustls's error sits somewhere down the source chain (reqwest → hyper →
//! io::Error → rustls::Error). `io::Error::source` skips the error it
//! wraps, so the walk also looks inside each `io::Error`.

use std::error::Error as StdError;
use std::fmt;

use rustls::pki_types::UnixTime;
use rustls::{AlertDescription, CertificateError, Error as RustlsError, InvalidMessage};

/// A TLS problem, in the terms a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TlsProblem {
    /// The server's certificate is not signed by a trusted CA.
    UnknownIssuer,
    /// The server's certificate has expired.
    Expired {
        /// Its end of validity (a date), if known.
        not_after: Option<String>,
    },
    /// The server's certificate is not valid yet.
    NotYetValid,
    /// The server's certificate is for other names.
    WrongHost {
        /// The name the client asked for.
        expected: Option<String>,
        /// The names the certificate holds.
        presented: Vec<String>,
    },
    /// The server wants a client certificate and got none.
    ClientCertificateRequired,
    /// The server refused the client certificate.
    ClientCertificateRejected,
    /// The peer answered, but not in TLS (plain HTTP, most likely).
    NotTls,
    /// Any other certificate or handshake failure.
    Other(String),
}

fn date(t: &UnixTime) -> Option<String> {
    let seconds = i64::try_from(t.as_secs()).ok()?;
    let at = time::OffsetDateTime::from_unix_timestamp(seconds).ok()?;
    Some(format!("{} {:02}:{:02} UTC", at.date(), at.hour(), at.minute()))
}

impl fmt::Display for TlsProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsProblem::UnknownIssuer => f.write_str(
                "TLS: the server's certificate is signed by an unknown issuer (a CA this client does not trust)",
            ),
            TlsProblem::Expired { not_after: Some(when) } => {
                write!(f, "TLS: the server's certificate has expired (it was valid until {when})")
            }
            TlsProblem::Expired { not_after: None } => f.write_str("TLS: the server's certificate has expired"),
            TlsProblem::NotYetValid => f.write_str("TLS: the server's certificate is not valid yet (check the clocks)"),
            TlsProblem::WrongHost { expected, presented } => {
                f.write_str("TLS: wrong host name: the server's certificate is not valid for ")?;
                match expected {
                    Some(name) => write!(f, "{name}")?,
                    None => f.write_str("the name connected to")?,
                }
                if !presented.is_empty() {
                    write!(f, " (it is for {})", presented.join(", "))?;
                }
                Ok(())
            }
            TlsProblem::ClientCertificateRequired => {
                f.write_str("TLS: the server requires a client certificate (mutual TLS) and none was sent")
            }
            TlsProblem::ClientCertificateRejected => {
                f.write_str("TLS: the server refused this client's certificate (not signed by a CA it trusts?)")
            }
            TlsProblem::NotTls => {
                f.write_str("TLS: the server did not answer in TLS (is it serving plain http:// on that port?)")
            }
            TlsProblem::Other(reason) => write!(f, "TLS: {reason}"),
        }
    }
}

/// webpki describes each name a certificate holds in Debug form, e.g.
/// `DnsName("localhost")`; the quoted part is the name.
fn presented_name(debug: &str) -> String {
    match (debug.find('"'), debug.rfind('"')) {
        (Some(start), Some(end)) if end > start => debug[start + 1..end].to_owned(),
        _ => debug.to_owned(),
    }
}

fn classify(e: &RustlsError) -> TlsProblem {
    use CertificateError as C;
    match e {
        RustlsError::InvalidCertificate(cert) => match cert {
            C::UnknownIssuer => TlsProblem::UnknownIssuer,
            C::Expired => TlsProblem::Expired { not_after: None },
            C::ExpiredContext { not_after, .. } => TlsProblem::Expired { not_after: date(not_after) },
            C::NotValidYet | C::NotValidYetContext { .. } => TlsProblem::NotYetValid,
            C::NotValidForName => TlsProblem::WrongHost { expected: None, presented: Vec::new() },
            C::NotValidForNameContext { expected, presented } => TlsProblem::WrongHost {
                expected: Some(expected.to_str().into_owned()),
                presented: presented.iter().map(|p| presented_name(p)).collect(),
            },
            other => TlsProblem::Other(format!("the server's certificate is not acceptable: {other:?}")),
        },
        RustlsError::AlertReceived(AlertDescription::CertificateRequired) => TlsProblem::ClientCertificateRequired,
        RustlsError::AlertReceived(
            AlertDescription::UnknownCA
            | AlertDescription::BadCertificate
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateRevoked
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::AccessDenied
            // What a server answers when the client certificate's signature
            // does not verify (a CA of the same name, but another key).
            | AlertDescription::DecryptError,
        ) => TlsProblem::ClientCertificateRejected,
        RustlsError::InvalidMessage(InvalidMessage::InvalidContentType | InvalidMessage::MessageTooLarge) => {
            TlsProblem::NotTls
        }
        other => TlsProblem::Other(other.to_string()),
    }
}

/// The next error down the chain; for an `io::Error`, the error it wraps.
fn cause<'a>(e: &'a (dyn StdError + 'static)) -> Option<&'a (dyn StdError + 'static)> {
    match e.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref) {
        Some(inner) => Some(inner),
        None => e.source(),
    }
}

/// `error` and every error behind it, looking inside `io::Error`s.
pub(crate) fn chain<'a>(error: &'a (dyn StdError + 'static)) -> impl Iterator<Item = &'a (dyn StdError + 'static)> {
    std::iter::successors(Some(error), |&e| cause(e))
}

/// The TLS problem behind `error`, if there is one.
pub fn tls_problem(error: &(dyn StdError + 'static)) -> Option<TlsProblem> {
    chain(error).find_map(|e| e.downcast_ref::<RustlsError>()).map(classify)
}

/// A one-line reason for a failed connection: the TLS problem if there is
/// one, else the innermost cause (e.g. "Connection refused (os error 111)").
pub fn describe_connect_error(error: &(dyn StdError + 'static)) -> String {
    if let Some(problem) = tls_problem(error) {
        return problem.to_string();
    }
    chain(error).last().unwrap_or(error).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_rustls_errors_inside_io_errors() {
        let rustls = RustlsError::InvalidCertificate(CertificateError::UnknownIssuer);
        let io = std::io::Error::new(std::io::ErrorKind::InvalidData, rustls);
        // As reqwest hands it over: an io::Error inside an io::Error.
        let io = std::io::Error::other(io);
        assert_eq!(tls_problem(&io), Some(TlsProblem::UnknownIssuer));
        let plain = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        assert_eq!(tls_problem(&plain), None);
        assert_eq!(describe_connect_error(&plain), "refused");
    }

    #[test]
    fn names_each_problem() {
        let table: Vec<(RustlsError, &str)> = vec![
            (RustlsError::InvalidCertificate(CertificateError::UnknownIssuer), "unknown issuer"),
            (
                RustlsError::InvalidCertificate(CertificateError::ExpiredContext {
                    time: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_700_000_000)),
                    not_after: UnixTime::since_unix_epoch(std::time::Duration::from_secs(1_600_000_000)),
                }),
                "expired (it was valid until 2020-09-13 12:26 UTC)",
            ),
            (RustlsError::InvalidCertificate(CertificateError::NotValidYet), "not valid yet"),
            (
                RustlsError::InvalidCertificate(CertificateError::NotValidForNameContext {
                    expected: rustls::pki_types::ServerName::try_from("other.example").unwrap(),
                    presented: vec!["DnsName(\"localhost\")".into()],
                }),
                "wrong host name: the server's certificate is not valid for other.example (it is for localhost)",
            ),
            (RustlsError::AlertReceived(AlertDescription::CertificateRequired), "requires a client certificate"),
            (RustlsError::AlertReceived(AlertDescription::UnknownCA), "refused this client's certificate"),
            (RustlsError::InvalidMessage(InvalidMessage::InvalidContentType), "did not answer in TLS"),
            (RustlsError::AlertReceived(AlertDescription::ProtocolVersion), "TLS: "),
        ];
        for (error, expected) in table {
            let text = classify(&error).to_string();
            assert!(text.contains(expected), "{error:?}: {text:?} should contain {expected:?}");
        }
    }
}
