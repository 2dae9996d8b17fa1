//! Reading SQLite rows: how a column is read ([`Columns`] for rusqlite's
//! rows); what the columns mean is `crate::rows`, shared with PostgreSQL.

use rusqlite::Row;
use rusqlite::types::FromSql;

use crate::rows::undecodable;
pub(crate) use crate::rows::{Columns, namespace_name, scopes, u64_of};
use crate::{AuditRecord, NamespaceRecord, SealedVersion, SecretRecord, StoreError, VersionRecord};

pub(crate) fn get<T: FromSql>(row: &Row<'_>, column: &str) -> Result<T, StoreError> {
    row.get(column).map_err(|_| undecodable(column))
}

impl Columns for Row<'_> {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        get(self, column)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        get(self, column)
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        get(self, column)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        get(self, column)
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError> {
        get(self, column)
    }
}

// Plain functions over rusqlite rows, to pass to `collect`.

pub(crate) fn namespace(row: &Row<'_>) -> Result<NamespaceRecord, StoreError> {
    crate::rows::namespace(row)
}

pub(crate) fn secret(row: &Row<'_>) -> Result<SecretRecord, StoreError> {
    crate::rows::secret(row)
}

pub(crate) fn version(row: &Row<'_>, created_column: &str) -> Result<VersionRecord, StoreError> {
    crate::rows::version(row, created_column)
}

pub(crate) fn sealed(row: &Row<'_>) -> Result<SealedVersion, StoreError> {
    crate::rows::sealed(row)
}

pub(crate) fn audit(row: &Row<'_>) -> Result<AuditRecord, StoreError> {
    crate::rows::audit(row)
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
