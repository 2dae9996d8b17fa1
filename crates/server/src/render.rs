//! JSON shapes of records in responses. Metadata only: values are rendered
//! in `reveal.rs` and nowhere else.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hush_service::{
    AuditRecord, NamespaceRecord, RegistryEntry, SecretRecord, TokenNamespaces, TokenRecord, VersionRecord,
};
use serde_json::{Value, json};

/// The last millisecond RFC 3339 can show (9999-12-31T23:59:59.999Z).
const LATEST_MS: i64 = 253_402_300_799_999;

/// Milliseconds since the epoch as RFC 3339 with milliseconds, UTC. Values
/// outside years 1970–9999 (only an edited row could hold one) are clamped,
/// so formatting never fails.
pub fn time(ms: i64) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(ms.clamp(0, LATEST_MS) as u64);
    humantime::format_rfc3339_millis(at).to_string()
}

fn opt_time(ms: Option<i64>) -> Value {
    ms.map(|m| Value::String(time(m))).unwrap_or(Value::Null)
}

/// A secret's metadata.
pub fn secret(s: &SecretRecord) -> Value {
    json!({
        "name": s.name.as_str(),
        "type": s.secret_type.as_str(),
        "version": s.version,
        "created_at": time(s.created_at),
        "updated_at": time(s.updated_at),
        "last_read_at": opt_time(s.last_read_at),
    })
}

/// A registry entry (never a password; the user obfuscated).
pub fn registry(e: &RegistryEntry) -> Value {
    json!({
        "scope": e.scope,
        "id": e.id,
        "url": e.url,
        "key": e.key,
        "user": e.user,
        "name": e.record.name.as_str(),
        "version": e.record.version,
        "created_at": time(e.record.created_at),
        "updated_at": time(e.record.updated_at),
        "last_read_at": opt_time(e.record.last_read_at),
    })
}

/// One version's metadata: `deleted_at` is when it was (or, under a KV
/// `delete_version_after`, will be) deleted; a destroyed version's value is gone.
pub fn version(v: &VersionRecord) -> Value {
    json!({
        "version": v.version,
        "created_at": time(v.created_at),
        "key_version": v.key_version,
        "deleted_at": opt_time(v.deleted_at),
        "destroyed": v.destroyed,
    })
}

/// A namespace.
pub fn namespace(n: &NamespaceRecord) -> Value {
    json!({ "name": n.name.as_str(), "created_at": time(n.created_at) })
}

fn token_namespaces(n: &TokenNamespaces) -> Value {
    match n {
        TokenNamespaces::All => json!("*"),
        TokenNamespaces::Only(list) => list.iter().map(|r| json!(r.name.as_str())).collect(),
    }
}

/// A token's record (never the token).
pub fn token(t: &TokenRecord) -> Value {
    json!({
        "id": t.id,
        "description": t.description,
        "namespaces": token_namespaces(&t.namespaces),
        "scopes": t.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
        "created_at": time(t.created_at),
        "expires_at": opt_time(t.expires_at),
        "revoked_at": opt_time(t.revoked_at),
        "created_by": t.created_by,
        "identity": identity(t.identity.as_deref()),
    })
}

/// A stored identity (JSON) as an object; text that does not parse (an
/// edited row) is shown as it is.
fn identity(stored: Option<&str>) -> Value {
    stored.map(|text| serde_json::from_str::<Value>(text).unwrap_or_else(|_| json!(text))).unwrap_or(Value::Null)
}

/// A login role.
pub fn role(r: &hush_service::LoginRole) -> Value {
    use hush_service::hush_identity::KeySource;
    let keys = match &r.rules.keys {
        KeySource::Discovery => {
            json!({"discovery": format!("{}/.well-known/openid-configuration", r.rules.issuer.trim_end_matches('/'))})
        }
        KeySource::JwksUrl(url) => json!({"jwks_url": url}),
        KeySource::Jwks(set) => json!({"jwks": set}),
    };
    json!({
        "name": r.name,
        "issuer": r.rules.issuer,
        "audience": r.rules.audience,
        "bound_claims": r.rules.bound_claims.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "record_claims": r.rules.recorded_claims(),
        "keys": keys,
        "namespaces": r.namespaces.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(),
        "scopes": r.scopes.split_whitespace().collect::<Vec<_>>(),
        "ttl": r.ttl_secs,
        "max_ttl": r.max_ttl_secs,
        "max_jwt_lifetime": r.rules.max_jwt_lifetime_secs,
        "created_at": time(r.created_at),
    })
}

/// An audit event.
pub fn audit(r: &AuditRecord) -> Value {
    let e = &r.event;
    json!({
        "seq": r.seq,
        "at": time(e.at),
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
            "first_at": time(r.first_at),
            "last_at": time(r.last_at),
            "reasons": r.reason_counts().into_iter().map(|(k, v)| (k.to_owned(), json!(v))).collect::<serde_json::Map<String, Value>>(),
        })),
    })
}

/// Now, for health output.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_never_fail_to_format() {
        assert_eq!(time(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(time(-5), "1970-01-01T00:00:00.000Z");
        assert_eq!(time(i64::MAX), "9999-12-31T23:59:59.999Z");
        assert_eq!(time(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
