//! TLS for hush, in one place: reading certificates and keys from PEM files,
//! the one builder of outbound HTTP clients (rustls with the ring provider,
//! the system's roots or a given CA, an optional client certificate),
//! naming a certificate problem in words a user can act on, reading a
//! certificate's subject and validity, and self-signed certificates for a
//! quick private setup.
//!
//! It does not serve: the server's listener, its reloading certificate and
//! its client-certificate check are `hush-server`'s, built on what is here.

mod certificate_info;
mod diagnosis;
mod error;
mod http_client;
mod pem_files;
mod provider;
mod self_signed;

pub use certificate_info::{CertificateInfo, MAX_CLIENT_IDENTITY};
pub use diagnosis::{TlsProblem, describe_connect_error, tls_problem};
pub use error::TlsError;
pub use http_client::{ClientTls, SettingNames, http_client};
pub use pem_files::{read_ca_certificates, read_certificates, read_private_key, read_roots};
pub use provider::{crypto_provider, install_crypto_provider};
pub use self_signed::{CertificateAuthority, IssuedCertificate, SelfSigned, SelfSignedRequest};

/// rustls and its PEM types, re-exported so users of this crate need no
/// second copy of the version choice.
pub use rustls;
