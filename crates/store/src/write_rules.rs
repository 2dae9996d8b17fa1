//! The rules every data store applies to a write, whatever the database:
//! what a refused `PutVersion` is refused for, where an accepted one lands,
//! and what the audit event says about the outcome. The backends only read
//! and write rows.

use crate::{AuditEvent, Conflict, KvSettings, Millis, Outcome, PutVersion, SecretRecord, StoreError, WriteOutcome};

/// The audit event of a write, with the outcome (and the version written) filled in.
pub(crate) fn record_outcome(event: &mut AuditEvent, result: &Result<WriteOutcome, StoreError>) {
    match result {
        Ok(WriteOutcome::Secret(secret)) => event.version = Some(secret.version),
        Ok(_) => {}
        Err(StoreError::Conflict(_)) => event.outcome = Outcome::Conflict,
        Err(StoreError::NotFound) => event.outcome = Outcome::NotFound,
        Err(_) => event.outcome = Outcome::Error,
    }
}

/// Where an accepted `PutVersion` lands and what comes with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PutSlot {
    /// The new version number.
    pub version: u64,
    /// The secret's id (existing or new).
    pub secret_id: String,
    /// How many versions to keep after this one is written.
    pub keep: u32,
    /// When the new version reads as deleted (`delete_version_after`).
    pub deleted_at: Option<Millis>,
}

/// Checks a `PutVersion` against the secret as it is (if it exists) and its
/// namespace's KV defaults: its type must not change, `cas` must match and
/// must be given where the secret's settings require it.
pub(crate) fn put_slot(
    existing: Option<&SecretRecord>,
    namespace_kv: KvSettings,
    p: &PutVersion,
) -> Result<PutSlot, StoreError> {
    let current = existing.map_or(0, |s| s.version);
    if let Some(s) = existing
        && s.secret_type != p.secret_type
    {
        return Err(StoreError::Conflict(Conflict::Type { existing: s.secret_type }));
    }
    let kv = existing.map_or(KvSettings::default(), |s| s.kv).or(namespace_kv);
    if kv.cas_required && p.expected_version.is_none() {
        return Err(StoreError::Conflict(Conflict::CasRequired));
    }
    if p.expected_version.is_some_and(|expected| expected != current) {
        return Err(StoreError::Conflict(Conflict::Version { current }));
    }
    let secret_id = existing.map_or(p.new_secret_id.as_str(), |s| s.id.as_str()).to_owned();
    Ok(PutSlot {
        version: current + 1,
        secret_id,
        keep: if kv.max_versions > 0 { kv.max_versions } else { p.keep_versions },
        deleted_at: (kv.delete_version_after > 0).then(|| p.at.saturating_add(kv.delete_version_after)),
    })
}

/// The secret's record after the write: the existing one moved on, or a new one.
pub(crate) fn put_record(
    existing: Option<SecretRecord>,
    p: &PutVersion,
    secret_id: String,
    version: u64,
) -> SecretRecord {
    let mut record = existing.unwrap_or_else(|| SecretRecord {
        id: secret_id,
        namespace_id: p.namespace_id.clone(),
        name: p.name.clone(),
        secret_type: p.secret_type,
        version,
        created_at: p.at,
        updated_at: p.at,
        last_read_at: None,
        kv: KvSettings::default(),
        custom_metadata: None,
    });
    record.version = version;
    record.updated_at = p.at;
    record
}

/// The oldest version kept after writing `version`, keeping `keep` of them:
/// versions at or below the returned number are pruned.
pub(crate) fn prune_at_or_below(version: u64, keep: u32) -> Option<u64> {
    let keep = u64::from(keep.max(1));
    (version > keep).then(|| version - keep)
}
