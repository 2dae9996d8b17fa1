//! The JSON shape of an audit event: the same in `GET /v1/audit`, in
//! `hush audit export` and in the audit sinks' lines, and stable (fields
//! are only ever added). It holds what happened to which name, never a
//! value. docs/operations.md lists the fields.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Value, json};

use crate::AuditRecord;

/// The last millisecond RFC 3339 can show (9999-12-31T23:59:59.999Z).
const LATEST_MS: i64 = 253_402_300_799_999;

/// Milliseconds since the epoch as RFC 3339 with milliseconds, UTC. Values
/// outside years 1970–9999 (only an edited row could hold one) are clamped,
/// so formatting never fails.
pub fn rfc3339(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(ms.clamp(0, LATEST_MS) as u64);
    humantime::format_rfc3339_millis(at).to_string()
}

/// Recorded identities (of events and tokens) are compact JSON; shown as objects.
pub fn identity(stored: Option<&str>) -> Value {
    stored.map(|text| serde_json::from_str::<Value>(text).unwrap_or_else(|_| json!(text))).unwrap_or(Value::Null)
}

/// An audit event as JSON.
pub fn audit_json(r: &AuditRecord) -> Value {
    let e = &r.event;
    json!({
        "seq": r.seq,
        "at": rfc3339(e.at),
        "token_id": e.token_id,
        "action": e.action.as_str(),
        "namespace": e.namespace,
        "name": e.name,
        "version": e.version,
        "outcome": e.outcome.as_str(),
        "context": e.context,
        "client_cert": e.client_cert,
        "client_addr": e.client_addr,
        "identity": identity(e.identity.as_deref()),
        "reason": e.reason,
        "refusals": e.refusals.as_ref().map(|r| json!({
            "count": r.count,
            "first_at": rfc3339(r.first_at),
            "last_at": rfc3339(r.last_at),
            "reasons": r.reason_counts().into_iter().map(|(k, v)| (k.to_owned(), json!(v))).collect::<serde_json::Map<String, Value>>(),
        })),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_never_fail_to_format() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(-5), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(i64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
