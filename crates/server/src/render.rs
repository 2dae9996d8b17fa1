//! JSON shapes of records in responses. Metadata only: values are rendered
//! in `reveal.rs` and nowhere else.

use std::time::SystemTime;

use hush_service::audit_line::identity;

use hush_service::{NamespaceRecord, RegistryEntry, SecretRecord, TokenNamespaces, TokenRecord, VersionRecord};
use serde_json::{Value, json};

/// Milliseconds since the epoch as RFC 3339 with milliseconds, UTC.
pub use hush_service::audit_line::rfc3339 as time;

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

/// An audit event (the shape the audit sinks write, too).
pub use hush_service::audit_line::audit_json as audit;

/// Now, for health output.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}
