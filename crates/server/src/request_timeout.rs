//! How long a REST call may take before the server answers 408 and drops it.
//!
//! Every call gets [`REQUEST_TIMEOUT`], except the few whose work grows with
//! the whole store: verifying the audit log reads every event (about 3 µs
//! each, so ten million events take longer than 30 s) and a backup copies
//! every page. Those get [`LONG_REQUEST_TIMEOUT`]; both need the `admin` or
//! `audit:read` rights of an all-namespace token, so no stranger can hold a
//! call open that long.

use std::time::Duration;

/// How long one request may take before the server gives up on it.
pub(crate) const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The limit of the calls whose work grows with the store.
pub const LONG_REQUEST_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The routes (as matched) that get [`LONG_REQUEST_TIMEOUT`].
const LONG_ROUTES: &[&str] = &["/v1/audit/verify", "/v1/admin/backup"];

/// The limit for a request to `route` (applied by `route_gate`).
pub(crate) fn limit_for(route: Option<&str>) -> Duration {
    match route {
        Some(route) if LONG_ROUTES.contains(&route) => LONG_REQUEST_TIMEOUT,
        _ => REQUEST_TIMEOUT,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_store_wide_calls_get_the_long_limit() {
        assert_eq!(limit_for(Some("/v1/audit/verify")), LONG_REQUEST_TIMEOUT);
        assert_eq!(limit_for(Some("/v1/admin/backup")), LONG_REQUEST_TIMEOUT);
        assert_eq!(limit_for(Some("/v1/audit")), REQUEST_TIMEOUT);
        assert_eq!(limit_for(Some("/v1/namespaces/{ns}/secrets/{*name}")), REQUEST_TIMEOUT);
        assert_eq!(limit_for(None), REQUEST_TIMEOUT);
    }
}
