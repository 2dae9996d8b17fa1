//! Decoding rows into records, the same for every database: each backend
//! says how to read a column ([`Columns`]); what the columns mean is here
//! once. A row that does not decode is reported as corrupt data, naming the
//! column, never as a panic.

use hush_core::{NamespaceName, ScopeSet, SecretName, SecretType};

use crate::{
    AuditAction, AuditEvent, AuditRecord, KvSettings, NamespaceRecord, Outcome, RefusalSummary, RoleRecord,
    SealedVersion, SecretRecord, StoreError, VersionRecord,
};

/// Typed access to a row's columns by name.
pub(crate) trait Columns {
    /// A TEXT column.
    fn text(&self, column: &str) -> Result<String, StoreError>;
    /// A nullable TEXT column.
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    /// An integer column.
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    /// A nullable integer column.
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError>;
    /// A BLOB / BYTEA column.
    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError>;
}

/// The error for a column that does not decode.
pub(crate) fn undecodable(column: &str) -> StoreError {
    StoreError::corrupt(format!("column {column} does not decode"))
}

pub(crate) fn u64_of(value: i64, column: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::corrupt(format!("column {column} is negative")))
}

pub(crate) fn namespace_name(text: &str) -> Result<NamespaceName, StoreError> {
    NamespaceName::parse(text).map_err(|_| StoreError::corrupt("a stored namespace name is not valid"))
}

pub(crate) fn scopes(text: &str) -> Result<ScopeSet, StoreError> {
    ScopeSet::parse_list(text).map_err(|_| StoreError::corrupt("tokens.scopes has an unknown scope"))
}

pub(crate) fn namespace(row: &impl Columns) -> Result<NamespaceRecord, StoreError> {
    Ok(NamespaceRecord {
        id: row.text("id")?,
        name: namespace_name(&row.text("name")?)?,
        created_at: row.int("created_at")?,
        kv: kv_settings(row, "kv_max_versions", "kv_cas_required", "kv_delete_version_after")?,
    })
}

fn kv_settings(row: &impl Columns, max: &str, cas: &str, after: &str) -> Result<KvSettings, StoreError> {
    Ok(KvSettings {
        max_versions: u32::try_from(row.int(max)?)
            .map_err(|_| StoreError::corrupt(format!("{max} is out of range")))?,
        cas_required: row.int(cas)? != 0,
        delete_version_after: row.int(after)?,
    })
}

pub(crate) fn secret(row: &impl Columns) -> Result<SecretRecord, StoreError> {
    Ok(SecretRecord {
        id: row.text("id")?,
        namespace_id: row.text("namespace_id")?,
        name: SecretName::parse(&row.text("name")?)
            .map_err(|_| StoreError::corrupt("secrets.name is not a valid name"))?,
        secret_type: row
            .text("type")?
            .parse::<SecretType>()
            .map_err(|_| StoreError::corrupt("secrets.type is not a known type"))?,
        version: u64_of(row.int("version")?, "secrets.version")?,
        created_at: row.int("created_at")?,
        updated_at: row.int("updated_at")?,
        last_read_at: row.opt_int("last_read_at")?,
        kv: kv_settings(row, "max_versions", "cas_required", "delete_version_after")?,
        custom_metadata: row.opt_text("custom_metadata")?,
    })
}

/// A version row (`v_version`, `key_version`, and its creation time in `created_column`).
pub(crate) fn version(row: &impl Columns, created_column: &str) -> Result<VersionRecord, StoreError> {
    Ok(VersionRecord {
        version: u64_of(row.int("v_version")?, "secret_versions.version")?,
        key_version: u32::try_from(row.int("key_version")?)
            .map_err(|_| StoreError::corrupt("secret_versions.key_version is out of range"))?,
        created_at: row.int(created_column)?,
        deleted_at: row.opt_int("deleted_at")?,
        destroyed: row.int("destroyed")? != 0,
    })
}

/// A secret row joined with one version row (`v_version`, `key_version`,
/// `ciphertext`, `v_created_at`).
pub(crate) fn sealed(row: &impl Columns) -> Result<SealedVersion, StoreError> {
    Ok(SealedVersion {
        secret: secret(row)?,
        version: version(row, "v_created_at")?,
        ciphertext: row.bytes("ciphertext")?,
    })
}

pub(crate) fn role(row: &impl Columns) -> Result<RoleRecord, StoreError> {
    Ok(RoleRecord {
        name: row.text("name")?,
        definition: row.text("definition")?,
        created_at: row.int("created_at")?,
        created_by: row.opt_text("created_by")?,
        mac: row.bytes("mac")?,
    })
}

/// Audit rows are decoded without judging their values: the MAC chain is what
/// says whether a row is genuine, and one odd row must not make the log
/// unreadable. Integers are read back by bit pattern, as they were stored.
/// A missing action or outcome (on SQLite, a number that refers to no
/// string) reads as unrecognized.
pub(crate) fn audit(row: &impl Columns) -> Result<AuditRecord, StoreError> {
    Ok(AuditRecord {
        seq: row.int("seq")? as u64,
        event: AuditEvent {
            at: row.int("at")?,
            token_id: row.opt_text("token_id")?,
            action: row.opt_text("action")?.and_then(|a| AuditAction::parse(&a)).unwrap_or(AuditAction::Unrecognized),
            namespace: row.opt_text("namespace")?,
            namespace_id: row.opt_text("namespace_id")?,
            name: row.opt_text("name")?,
            version: row.opt_int("version")?.map(|v| v as u64),
            outcome: row.opt_text("outcome")?.and_then(|o| Outcome::parse(&o)).unwrap_or(Outcome::Unrecognized),
            context: row.opt_text("context")?,
            client_cert: row.opt_text("client_cert")?,
            client_addr: row.opt_text("client_addr")?,
            refusals: match row.opt_int("refused_count")? {
                None => None,
                Some(count) => Some(RefusalSummary {
                    count: count as u64,
                    first_at: row.opt_int("refused_first")?.unwrap_or_default(),
                    last_at: row.opt_int("refused_last")?.unwrap_or_default(),
                    reasons: row.opt_text("refused_reasons")?.unwrap_or_default(),
                }),
            },
            identity: row.opt_text("identity")?,
            reason: row.opt_text("reason")?,
        },
        mac: row.bytes("mac")?,
    })
}
