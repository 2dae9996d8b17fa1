//! The process's rustls crypto provider: ring, everywhere.
//!
//! rustls needs one provider per process before any config is built
//! (reqwest panics otherwise). aws-lc-rs, rustls's default, is kept out of
//! the build (its C build would double build times), so ring is installed
//! here, once, by whoever needs TLS first.

use std::sync::Arc;

use rustls::crypto::CryptoProvider;

/// Installs ring as the process-wide provider; later calls do nothing.
pub fn install_crypto_provider() {
    // Err means a provider is already installed: ring, by an earlier call.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The provider, for configs built by hand (the server's).
pub fn crypto_provider() -> Arc<CryptoProvider> {
    install_crypto_provider();
    CryptoProvider::get_default().cloned().unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}
