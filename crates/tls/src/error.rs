//! What can go wrong with TLS material.

use std::path::PathBuf;

/// A certificate, key or CA file that cannot be used, or a TLS setup that fails.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The file cannot be read.
    #[error("cannot read {what} {}: {error}", path.display())]
    Read {
        /// What the file was meant to hold ("the certificate file", say).
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// Why (in the message, so not also a source: it would print twice).
        error: std::io::Error,
    },
    /// The file holds no PEM block of the kind needed.
    #[error("{} holds no {what} (expected PEM: -----BEGIN {label}-----)", path.display())]
    Missing {
        /// What was looked for.
        what: &'static str,
        /// The PEM label expected.
        label: &'static str,
        /// The file.
        path: PathBuf,
    },
    /// The file's content is not what it should be.
    #[error("{} is not a usable {what}: {reason}", path.display())]
    Invalid {
        /// What it was meant to be.
        what: &'static str,
        /// The file.
        path: PathBuf,
        /// What is wrong (never the file's content).
        reason: String,
    },
    /// A setting is incomplete or contradicts another.
    #[error("{0}")]
    Settings(String),
    /// Certificates could not be generated.
    #[error("cannot generate certificates: {0}")]
    Generate(String),
    /// The HTTP client could not be set up.
    #[error("cannot set up the HTTP client: {0}")]
    Client(String),
}
