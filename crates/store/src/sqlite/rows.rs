//! Decoding rows into records. A row that does not decode is reported as
//! corrupt data, naming the column, never as a panic.

use hush_core::{NamespaceName, ScopeSet, SecretName, SecretType};
use rusqlite::Row;
use rusqlite::types::FromSql;

use crate::{
    AuditAction, AuditEvent, AuditRecord, NamespaceRecord, Outcome, SealedVersion, SecretRecord, StoreError,
    VersionRecord,
};

pub(crate) fn get<T: FromSql>(row: &Row<'_>, column: &str) -> Result<T, StoreError> {
    row.get(column).map_err(|_| StoreError::corrupt(format!("column {column} does not decode")))
}

pub(crate) fn u64_of(value: i64, column: &str) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::corrupt(format!("column {column} is negative")))
}

pub(crate) fn namespace_name(text: &str) -> Result<NamespaceName, StoreError> {
    NamespaceName::parse(text).map_err(|_| StoreError::corrupt("a stored namespace name is not valid"))
}

pub(crate) fn namespace(row: &Row<'_>) -> Result<NamespaceRecord, StoreError> {
    Ok(NamespaceRecord {
        id: get(row, "id")?,
        name: namespace_name(&get::<String>(row, "name")?)?,
        created_at: get(row, "created_at")?,
    })
}

pub(crate) fn secret(row: &Row<'_>) -> Result<SecretRecord, StoreError> {
    Ok(SecretRecord {
        id: get(row, "id")?,
        namespace_id: get(row, "namespace_id")?,
        name: SecretName::parse(&get::<String>(row, "name")?)
            .map_err(|_| StoreError::corrupt("secrets.name is not a valid name"))?,
        secret_type: get::<String>(row, "type")?
            .parse::<SecretType>()
            .map_err(|_| StoreError::corrupt("secrets.type is not a known type"))?,
        version: u64_of(get(row, "version")?, "secrets.version")?,
        created_at: get(row, "created_at")?,
        updated_at: get(row, "updated_at")?,
        last_read_at: get(row, "last_read_at")?,
    })
}

pub(crate) fn version(row: &Row<'_>, created_column: &str) -> Result<VersionRecord, StoreError> {
    Ok(VersionRecord {
        version: u64_of(get(row, "v_version")?, "secret_versions.version")?,
        key_version: u32::try_from(get::<i64>(row, "key_version")?)
            .map_err(|_| StoreError::corrupt("secret_versions.key_version is out of range"))?,
        created_at: get(row, created_column)?,
    })
}

/// A secret row joined with one version row (`v_version`, `key_version`,
/// `ciphertext`, `v_created_at`).
pub(crate) fn sealed(row: &Row<'_>) -> Result<SealedVersion, StoreError> {
    Ok(SealedVersion {
        secret: secret(row)?,
        version: version(row, "v_created_at")?,
        ciphertext: get(row, "ciphertext")?,
    })
}

pub(crate) fn scopes(text: &str) -> Result<ScopeSet, StoreError> {
    ScopeSet::parse_list(text).map_err(|_| StoreError::corrupt("tokens.scopes has an unknown scope"))
}

/// Audit rows are decoded without judging their values: the MAC chain is what
/// says whether a row is genuine, and one odd row must not make the log
/// unreadable. Integers are read back by bit pattern, as they were stored.
pub(crate) fn audit(row: &Row<'_>) -> Result<AuditRecord, StoreError> {
    let version: Option<i64> = get(row, "version")?;
    Ok(AuditRecord {
        seq: get::<i64>(row, "seq")? as u64,
        event: AuditEvent {
            at: get(row, "at")?,
            token_id: get(row, "token_id")?,
            action: AuditAction::parse(&get::<String>(row, "action")?).unwrap_or(AuditAction::Unrecognized),
            namespace: get(row, "namespace")?,
            namespace_id: get(row, "namespace_id")?,
            name: get(row, "name")?,
            version: version.map(|v| v as u64),
            outcome: Outcome::parse(&get::<String>(row, "outcome")?).unwrap_or(Outcome::Unrecognized),
            context: get(row, "context")?,
        },
        mac: get(row, "mac")?,
    })
}

/// Collects the rows of a prepared query through a decoder.
pub(crate) fn collect<T>(
    mut rows: rusqlite::Rows<'_>,
    decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}
