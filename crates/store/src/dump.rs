//! Both stores as plain rows, the same on every backend: what a backup
//! holds (`hush admin backup`) and a restore loads, so a store dumped from
//! SQLite loads into PostgreSQL and back.
//!
//! [`TABLES`] names every table and column a dump carries, in the order a
//! load needs them (a namespace before its secrets, a secret before its
//! versions). A test compares it with both backends' schemas, so a column
//! added by a migration cannot be left out of backups unnoticed. The rows
//! hold what the stores hold: ciphertexts, wrapped keys, token hashes and
//! MACs, never a plaintext value.
//!
//! A dump sends each table's row count, counted in the same snapshot,
//! before its rows, so a restore shows its progress and can tell a
//! complete table from a cut one.

use async_trait::async_trait;

use crate::StoreError;
use crate::rows::{Columns, undecodable};

/// Which of the two stores a table lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    /// The data store (secrets, tokens, audit).
    Data,
    /// The key store (wrapped keys, audit anchor and checkpoint).
    Keys,
}

impl StoreKind {
    /// Its name in a backup (`data`, `keys`).
    pub fn as_str(self) -> &'static str {
        match self {
            StoreKind::Data => "data",
            StoreKind::Keys => "keys",
        }
    }
}

/// What a column holds, the same on every backend (SQLite INTEGER and
/// PostgreSQL BIGINT are both `Int`). Every column may be NULL in a row;
/// the schema's own constraints decide on load.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A 64-bit integer (times in milliseconds, versions, flags).
    Int,
    /// UTF-8 text.
    Text,
    /// Bytes (ciphertexts, wrapped keys, hashes, MACs).
    Bytes,
}

/// One table as a dump carries it.
#[derive(Debug)]
pub struct TableSpec {
    /// Its name on every backend.
    pub name: &'static str,
    /// The store it lives in.
    pub store: StoreKind,
    /// Its columns, in the order a row's cells come.
    pub columns: &'static [(&'static str, Kind)],
}

use Kind::{Bytes, Int, Text};

/// Every table of both stores, in load order: the key store's, then the
/// data store's. (SQLite's `audit_text` and `audit_namespaces` are its own
/// encoding of `audit_events`, which dumps as the `audit_log` view reads.)
pub const TABLES: &[TableSpec] = &[
    TableSpec {
        name: "installation",
        store: StoreKind::Keys,
        columns: &[
            ("id", Text),
            ("wrapped_audit_key", Bytes),
            ("wrapped_token_key", Bytes),
            ("created_at", Int),
            ("completed_at", Int),
        ],
    },
    TableSpec {
        name: "namespace_keys",
        store: StoreKind::Keys,
        columns: &[("namespace_id", Text), ("version", Int), ("wrapped", Bytes), ("created_at", Int)],
    },
    TableSpec { name: "audit_anchor", store: StoreKind::Keys, columns: &[("id", Int), ("seq", Int), ("mac", Bytes)] },
    TableSpec {
        name: "audit_checkpoint",
        store: StoreKind::Keys,
        columns: &[
            ("id", Int),
            ("seq", Int),
            ("mac", Bytes),
            ("before_at", Int),
            ("made_at", Int),
            ("signature", Bytes),
        ],
    },
    TableSpec { name: "audit_exported", store: StoreKind::Keys, columns: &[("id", Int), ("through_seq", Int)] },
    TableSpec { name: "installation", store: StoreKind::Data, columns: &[("id", Text), ("created_at", Int)] },
    TableSpec {
        name: "namespaces",
        store: StoreKind::Data,
        columns: &[
            ("id", Text),
            ("name", Text),
            ("created_at", Int),
            ("kv_max_versions", Int),
            ("kv_cas_required", Int),
            ("kv_delete_version_after", Int),
        ],
    },
    TableSpec {
        name: "secrets",
        store: StoreKind::Data,
        columns: &[
            ("namespace_id", Text),
            ("name", Text),
            ("id", Text),
            ("type", Text),
            ("version", Int),
            ("created_at", Int),
            ("updated_at", Int),
            ("last_read_at", Int),
            ("custom_metadata", Text),
            ("max_versions", Int),
            ("cas_required", Int),
            ("delete_version_after", Int),
        ],
    },
    TableSpec {
        name: "secret_versions",
        store: StoreKind::Data,
        columns: &[
            ("secret_id", Text),
            ("version", Int),
            ("key_version", Int),
            ("ciphertext", Bytes),
            ("created_at", Int),
            ("deleted_at", Int),
            ("destroyed", Int),
        ],
    },
    TableSpec {
        name: "tokens",
        store: StoreKind::Data,
        columns: &[
            ("id", Text),
            ("hash", Bytes),
            ("description", Text),
            ("all_namespaces", Int),
            ("namespace_ids", Text),
            ("scopes", Text),
            ("created_at", Int),
            ("expires_at", Int),
            ("revoked_at", Int),
            ("created_by", Text),
            ("mac", Bytes),
            ("identity", Text),
        ],
    },
    TableSpec {
        name: "login_roles",
        store: StoreKind::Data,
        columns: &[("name", Text), ("definition", Text), ("created_at", Int), ("created_by", Text), ("mac", Bytes)],
    },
    TableSpec {
        name: "audit_events",
        store: StoreKind::Data,
        columns: &[
            ("seq", Int),
            ("at", Int),
            ("token_id", Text),
            ("action", Text),
            ("namespace", Text),
            ("namespace_id", Text),
            ("name", Text),
            ("version", Int),
            ("outcome", Text),
            ("context", Text),
            ("mac", Bytes),
            ("client_cert", Text),
            ("client_addr", Text),
            ("refused_count", Int),
            ("refused_first", Int),
            ("refused_last", Int),
            ("refused_reasons", Text),
            ("identity", Text),
            ("reason", Text),
        ],
    },
];

/// The tables of one store, with their positions in [`TABLES`].
pub fn tables_of(store: StoreKind) -> impl Iterator<Item = (usize, &'static TableSpec)> {
    TABLES.iter().enumerate().filter(move |(_, t)| t.store == store)
}

/// The position in [`TABLES`] of `store`'s table `name`.
pub fn table_index(store: StoreKind, name: &str) -> Option<usize> {
    tables_of(store).find(|(_, t)| t.name == name).map(|(i, _)| i)
}

/// One column's value.
#[derive(Clone, PartialEq, Eq)]
pub enum Cell {
    /// NULL.
    Null,
    /// An integer.
    Int(i64),
    /// Text.
    Text(String),
    /// Bytes.
    Bytes(Vec<u8>),
}

/// Bytes show as their length: they are ciphertexts, keys and MACs.
impl std::fmt::Debug for Cell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cell::Null => f.write_str("NULL"),
            Cell::Int(v) => write!(f, "{v}"),
            Cell::Text(t) => write!(f, "{t:?}"),
            Cell::Bytes(b) => write!(f, "<{} bytes>", b.len()),
        }
    }
}

/// What a dump sends, in order: for each table, its row count, then its rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DumpItem {
    /// The table at this position in [`TABLES`] follows, with this many rows.
    Table {
        /// Its position in [`TABLES`].
        table: usize,
        /// How many rows follow.
        rows: u64,
    },
    /// One row of the table announced last: one cell per column.
    Row(Vec<Cell>),
}

/// Where a dump sends its items. A dump stops (with [`StoreError::Closed`])
/// when the receiver is dropped.
pub type DumpSender = tokio::sync::mpsc::Sender<DumpItem>;

/// Sends from a blocking thread (SQLite's readers).
pub(crate) fn send_blocking(out: &DumpSender, item: DumpItem) -> Result<(), StoreError> {
    out.blocking_send(item).map_err(|_| StoreError::Closed)
}

/// Loads a dump into a fresh store, all or nothing: nothing is visible
/// until [`commit`](StoreLoader::commit), and a loader dropped before it
/// leaves the store as it found it. Two stores are restored together:
/// both are [prepared](StoreLoader::prepare) (everything that can fail
/// slowly), then committed one after the other, and if the second commit
/// fails the first is [undone](StoreLoader::undo_commit).
#[async_trait]
pub trait StoreLoader: Send {
    /// Inserts rows of `table` (its position in [`TABLES`]; a table of this loader's store).
    async fn load(&mut self, table: usize, rows: Vec<Vec<Cell>>) -> Result<(), StoreError>;

    /// Makes everything loaded durable, still invisible.
    async fn prepare(&mut self) -> Result<(), StoreError>;

    /// Makes everything loaded visible (after [`prepare`](StoreLoader::prepare)).
    async fn commit(&mut self) -> Result<(), StoreError>;

    /// Empties the store again after a commit (the other store's failed).
    async fn undo_commit(&mut self) -> Result<(), StoreError>;
}

/// A row with its table's column names: decodes through the same
/// [`Columns`] rules as a stored row (SQLite's loader appends audit events
/// through its writer's own encoding this way).
pub(crate) struct NamedCells<'a> {
    pub spec: &'static TableSpec,
    pub cells: &'a [Cell],
}

impl NamedCells<'_> {
    fn cell(&self, column: &str) -> Result<&Cell, StoreError> {
        let at = self.spec.columns.iter().position(|(c, _)| *c == column).ok_or_else(|| undecodable(column))?;
        self.cells.get(at).ok_or_else(|| undecodable(column))
    }
}

impl Columns for NamedCells<'_> {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        self.opt_text(column)?.ok_or_else(|| undecodable(column))
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        match self.cell(column)? {
            Cell::Null => Ok(None),
            Cell::Text(t) => Ok(Some(t.clone())),
            _ => Err(undecodable(column)),
        }
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        self.opt_int(column)?.ok_or_else(|| undecodable(column))
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        match self.cell(column)? {
            Cell::Null => Ok(None),
            Cell::Int(v) => Ok(Some(*v)),
            _ => Err(undecodable(column)),
        }
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError> {
        match self.cell(column)? {
            Cell::Bytes(b) => Ok(b.clone()),
            _ => Err(undecodable(column)),
        }
    }
}

/// Checks that `cells` fit `spec` (one per column, each of its kind or
/// NULL): a damaged or foreign dump is refused before it reaches SQL.
pub fn check_row(spec: &TableSpec, cells: &[Cell]) -> Result<(), StoreError> {
    if cells.len() != spec.columns.len() {
        return Err(StoreError::corrupt(format!(
            "a row of {} has {} values, not {}",
            spec.name,
            cells.len(),
            spec.columns.len()
        )));
    }
    for ((column, kind), cell) in spec.columns.iter().zip(cells) {
        let fits = matches!(
            (kind, cell),
            (_, Cell::Null) | (Kind::Int, Cell::Int(_)) | (Kind::Text, Cell::Text(_)) | (Kind::Bytes, Cell::Bytes(_))
        );
        if !fits {
            return Err(StoreError::corrupt(format!("{}.{column} holds a value of the wrong type", spec.name)));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_unique_per_store_and_indexed() {
        for store in [StoreKind::Data, StoreKind::Keys] {
            for (i, t) in tables_of(store) {
                assert_eq!(table_index(store, t.name), Some(i), "{}", t.name);
            }
        }
        assert_eq!(table_index(StoreKind::Data, "namespace_keys"), None);
    }

    #[test]
    fn rows_are_checked_against_their_table() {
        let spec = &TABLES[table_index(StoreKind::Keys, "audit_exported").unwrap()];
        let cases: &[(&[Cell], bool)] = &[
            (&[Cell::Int(1), Cell::Int(7)], true),
            (&[Cell::Int(1), Cell::Null], true),
            (&[Cell::Int(1)], false),
            (&[Cell::Int(1), Cell::Int(7), Cell::Int(8)], false),
            (&[Cell::Int(1), Cell::Text("7".into())], false),
            (&[Cell::Bytes(vec![1]), Cell::Int(7)], false),
        ];
        for (cells, ok) in cases {
            assert_eq!(check_row(spec, cells).is_ok(), *ok, "{cells:?}");
        }
    }

    #[test]
    fn bytes_never_print() {
        assert_eq!(format!("{:?}", Cell::Bytes(b"wrapped-key".to_vec())), "<11 bytes>");
    }

    #[test]
    fn named_cells_decode_by_column() {
        let spec = &TABLES[table_index(StoreKind::Keys, "audit_anchor").unwrap()];
        let cells = [Cell::Int(1), Cell::Int(9), Cell::Bytes(vec![0; 32])];
        let row = NamedCells { spec, cells: &cells };
        assert_eq!(row.int("seq").unwrap(), 9);
        assert_eq!(row.bytes("mac").unwrap().len(), 32);
        assert!(row.text("seq").is_err());
        assert!(row.int("nope").is_err());
    }
}
