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

/// A row with its statement's column names, read once. rusqlite finds a
/// column by name by reading every column's name again (a `strlen` and a
/// UTF-8 check each), so decoding a secret's 17 columns read about 150
/// names: 5% of a read's CPU time (docs/benchmarks.md).
struct NamedRow<'r, 's> {
    row: &'r Row<'s>,
    names: Vec<&'r str>,
}

impl<'r, 's> NamedRow<'r, 's> {
    fn new(row: &'r Row<'s>) -> Self {
        let statement = row.as_ref();
        let names = (0..statement.column_count()).map(|i| statement.column_name(i).unwrap_or("")).collect();
        NamedRow { row, names }
    }

    fn get<T: FromSql>(&self, column: &str) -> Result<T, StoreError> {
        let index = self.names.iter().position(|name| name.eq_ignore_ascii_case(column));
        index.and_then(|i| self.row.get(i).ok()).ok_or_else(|| undecodable(column))
    }
}

impl Columns for NamedRow<'_, '_> {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        self.get(column)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        self.get(column)
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        self.get(column)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        self.get(column)
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError> {
        self.get(column)
    }
}

// Plain functions over rusqlite rows, to pass to `collect`.

pub(crate) fn namespace(row: &Row<'_>) -> Result<NamespaceRecord, StoreError> {
    crate::rows::namespace(&NamedRow::new(row))
}

pub(crate) fn secret(row: &Row<'_>) -> Result<SecretRecord, StoreError> {
    crate::rows::secret(&NamedRow::new(row))
}

pub(crate) fn version(row: &Row<'_>, created_column: &str) -> Result<VersionRecord, StoreError> {
    crate::rows::version(&NamedRow::new(row), created_column)
}

pub(crate) fn sealed(row: &Row<'_>) -> Result<SealedVersion, StoreError> {
    crate::rows::sealed(&NamedRow::new(row))
}

pub(crate) fn audit(row: &Row<'_>) -> Result<AuditRecord, StoreError> {
    crate::rows::audit(&NamedRow::new(row))
}

pub(crate) fn role(row: &Row<'_>) -> Result<crate::RoleRecord, StoreError> {
    crate::rows::role(&NamedRow::new(row))
}

/// Collects the rows of a prepared query through a decoder.
pub(crate) fn collect<T>(
    rows: rusqlite::Rows<'_>,
    decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    collect_into(Vec::new(), rows, decode)
}

/// [`collect`], appending to `out` (one reserved for the rows expected).
pub(crate) fn collect_into<T>(
    mut out: Vec<T>,
    mut rows: rusqlite::Rows<'_>,
    decode: impl Fn(&Row<'_>) -> Result<T, StoreError>,
) -> Result<Vec<T>, StoreError> {
    while let Some(row) = rows.next()? {
        out.push(decode(row)?);
    }
    Ok(out)
}
