//! Limits and retention that the service enforces.

/// Service settings (each also a `hush serve` flag).
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Versions kept per secret; older ones are deleted on write.
    pub keep_versions: u32,
    /// Largest plaintext accepted, in bytes (all fields together).
    pub max_value_bytes: usize,
}

impl Default for ServiceConfig {
    fn default() -> Self {
        ServiceConfig { keep_versions: 10, max_value_bytes: 1024 * 1024 }
    }
}
