//! Exit codes, documented in `hush --help` and docs/cli.md.

use std::process::ExitCode;

use hush_client::ClientError;

/// Success.
pub const OK: u8 = 0;
/// Any other failure (server unreachable, I/O, internal error).
pub const ERROR: u8 = 1;
/// Bad usage or input (also clap's code for argument errors).
pub const USAGE: u8 = 2;
/// No valid token, or the token lacks a scope (HTTP 401/403).
pub const DENIED: u8 = 3;
/// Namespace, secret, version or token not found (HTTP 404).
pub const NOT_FOUND: u8 = 4;
/// cas mismatch, type change or already exists (HTTP 409).
pub const CONFLICT: u8 = 5;
/// `hush audit verify` found an edited or removed event.
pub const AUDIT_FAILED: u8 = 6;

/// Stopped by Ctrl-C (128 + SIGINT, as shells report it).
pub const INTERRUPTED: u8 = 130;

/// An error that is the user's input, not a failure (exit 2).
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for UsageError {}

/// Fails with a usage error (exit 2).
pub fn usage<T>(message: impl Into<String>) -> anyhow::Result<T> {
    Err(UsageError(message.into()).into())
}

/// The audit chain did not verify (exit 6).
#[derive(Debug)]
pub struct AuditFailed;

impl std::fmt::Display for AuditFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("audit verification failed")
    }
}
impl std::error::Error for AuditFailed {}

/// The exit code for an error.
pub fn for_error(e: &anyhow::Error) -> ExitCode {
    if e.downcast_ref::<UsageError>().is_some() {
        return ExitCode::from(USAGE);
    }
    if e.downcast_ref::<crate::interrupt::Interrupted>().is_some() {
        return ExitCode::from(INTERRUPTED);
    }
    if e.downcast_ref::<AuditFailed>().is_some() {
        return ExitCode::from(AUDIT_FAILED);
    }
    // No JWT to log in with (or the platform would not give one).
    if matches!(e.downcast_ref::<ClientError>(), Some(ClientError::Login(_))) {
        return ExitCode::from(USAGE);
    }
    let status = e
        .downcast_ref::<ClientError>()
        .and_then(ClientError::status)
        .or_else(|| e.downcast_ref::<hush_inject::ResolveError>().and_then(hush_inject::ResolveError::status));
    let code = match status {
        Some(400 | 413) => USAGE,
        Some(401 | 403) => DENIED,
        Some(404) => NOT_FOUND,
        Some(409) => CONFLICT,
        _ => ERROR,
    };
    ExitCode::from(code)
}
