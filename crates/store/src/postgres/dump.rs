//! Dumping a PostgreSQL store as rows ([`crate::dump`]) and loading rows
//! into an empty one.
//!
//! A dump reads every table in one `REPEATABLE READ` transaction (one
//! snapshot, while replicas keep writing). A load runs in one transaction
//! that commits at the end, so an interrupted restore leaves the store
//! empty; it refuses a store that already holds any row.

use async_trait::async_trait;
use futures_util::TryStreamExt;
use sqlx::postgres::{PgArguments, PgPool, PgRow};
use sqlx::query::Query;
use sqlx::{AssertSqlSafe, Postgres, Row, Transaction};

use super::connect::{self, StoreSchema};
use crate::dump::{Cell, DumpItem, DumpSender, Kind, StoreKind, StoreLoader, TABLES, TableSpec, check_row, tables_of};
use crate::{Conflict, StoreError};

/// PostgreSQL takes at most 65,535 parameters a statement.
const MAX_PARAMETERS: usize = 65_535;
/// Rows a statement inserts at most.
const MAX_ROWS_PER_INSERT: usize = 1_000;

fn column_list(spec: &TableSpec) -> String {
    spec.columns.iter().map(|(c, _)| *c).collect::<Vec<_>>().join(", ")
}

/// The columns as a dump reads them: integers as BIGINT (a few, such as
/// `audit_anchor.id`, are INTEGER, which sqlx will not read as an i64).
fn select_list(spec: &TableSpec) -> String {
    let column = |(c, kind): &(&str, Kind)| match kind {
        Kind::Int => format!("{c}::BIGINT"),
        _ => (*c).to_owned(),
    };
    spec.columns.iter().map(column).collect::<Vec<_>>().join(", ")
}

fn cell(row: &PgRow, i: usize, kind: Kind) -> Result<Cell, sqlx::Error> {
    Ok(match kind {
        Kind::Int => row.try_get::<Option<i64>, _>(i)?.map_or(Cell::Null, Cell::Int),
        Kind::Text => row.try_get::<Option<String>, _>(i)?.map_or(Cell::Null, Cell::Text),
        Kind::Bytes => row.try_get::<Option<Vec<u8>>, _>(i)?.map_or(Cell::Null, Cell::Bytes),
    })
}

/// Sends every table of `store` from one snapshot.
pub(crate) async fn dump_tables(pool: &PgPool, store: StoreKind, out: &DumpSender) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY").execute(&mut *tx).await?;
    for (table, spec) in tables_of(store) {
        let count: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {}", spec.name)))
            .fetch_one(&mut *tx)
            .await?;
        out.send(DumpItem::Table { table, rows: count as u64 }).await.map_err(|_| StoreError::Closed)?;
        let order = if spec.name == "audit_events" { " ORDER BY seq" } else { "" };
        // Table and column names from TABLES, not input.
        let sql = format!("SELECT {} FROM {}{order}", select_list(spec), spec.name);
        let mut rows = sqlx::query(AssertSqlSafe(sql)).fetch(&mut *tx);
        while let Some(row) = rows.try_next().await? {
            let cells = spec
                .columns
                .iter()
                .enumerate()
                .map(|(i, (_, kind))| cell(&row, i, *kind))
                .collect::<Result<Vec<_>, _>>()?;
            out.send(DumpItem::Row(cells)).await.map_err(|_| StoreError::Closed)?;
        }
    }
    tx.commit().await?;
    Ok(())
}

fn bind<'q>(query: Query<'q, Postgres, PgArguments>, kind: Kind, cell: &Cell) -> Query<'q, Postgres, PgArguments> {
    match (kind, cell) {
        (_, Cell::Int(v)) => query.bind(*v),
        (_, Cell::Text(t)) => query.bind(t.clone()),
        (_, Cell::Bytes(b)) => query.bind(b.clone()),
        (Kind::Int, Cell::Null) => query.bind(None::<i64>),
        (Kind::Text, Cell::Null) => query.bind(None::<String>),
        (Kind::Bytes, Cell::Null) => query.bind(None::<Vec<u8>>),
    }
}

/// Loads a dump into an empty PostgreSQL store, in one transaction.
#[derive(Debug)]
pub struct PgLoader {
    /// The load's transaction, until committed.
    tx: Option<Transaction<'static, Postgres>>,
    pool: PgPool,
    store: StoreKind,
}

impl PgLoader {
    /// Connects to `url` (migrating it), and starts the load; refuses a store that holds any row.
    pub async fn begin(url: &str, store: StoreKind) -> Result<Self, StoreError> {
        let (schema, migrations): (StoreSchema, &[&str]) = match store {
            StoreKind::Data => (connect::DATA, super::data_store::MIGRATIONS),
            StoreKind::Keys => (connect::KEYS, super::key_store::MIGRATIONS),
        };
        let pool = connect::open(url, schema, migrations).await?;
        let mut tx = pool.begin().await?;
        // A server starting on this store meanwhile waits to initialise it
        // until the load ends (then finds it initialised), instead of the
        // two both filling an empty store.
        sqlx::query("LOCK TABLE installation IN EXCLUSIVE MODE").execute(&mut *tx).await?;
        for (_, spec) in tables_of(store) {
            let found: bool = sqlx::query_scalar(AssertSqlSafe(format!("SELECT EXISTS (SELECT 1 FROM {})", spec.name)))
                .fetch_one(&mut *tx)
                .await?;
            if found {
                return Err(StoreError::Conflict(Conflict::AlreadyExists));
            }
        }
        Ok(Self { tx: Some(tx), pool, store })
    }
}

#[async_trait]
impl StoreLoader for PgLoader {
    async fn load(&mut self, table: usize, rows: Vec<Vec<Cell>>) -> Result<(), StoreError> {
        let spec = TABLES.get(table).filter(|t| t.store == self.store).ok_or(StoreError::NotFound)?;
        for cells in &rows {
            check_row(spec, cells)?;
        }
        let width = spec.columns.len();
        let per_insert = (MAX_PARAMETERS / width).min(MAX_ROWS_PER_INSERT);
        for chunk in rows.chunks(per_insert) {
            let values = (0..chunk.len())
                .map(|r| {
                    let marks = (1..=width).map(|c| format!("${}", r * width + c)).collect::<Vec<_>>();
                    format!("({})", marks.join(", "))
                })
                .collect::<Vec<_>>()
                .join(", ");
            // Table and column names from TABLES, values bound.
            let sql = format!("INSERT INTO {} ({}) VALUES {values}", spec.name, column_list(spec));
            let mut query = sqlx::query(AssertSqlSafe(sql));
            for cells in chunk {
                for ((_, kind), cell) in spec.columns.iter().zip(cells) {
                    query = bind(query, *kind, cell);
                }
            }
            query.execute(&mut **self.tx.as_mut().ok_or(StoreError::Closed)?).await?;
        }
        Ok(())
    }

    async fn prepare(&mut self) -> Result<(), StoreError> {
        // PostgreSQL makes a commit durable by itself; nothing to do before it.
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), StoreError> {
        self.tx.take().ok_or(StoreError::Closed)?.commit().await?;
        Ok(())
    }

    async fn undo_commit(&mut self) -> Result<(), StoreError> {
        let tables = tables_of(self.store).map(|(_, t)| t.name).collect::<Vec<_>>().join(", ");
        // Table names from TABLES, not input.
        sqlx::query(AssertSqlSafe(format!("TRUNCATE {tables}"))).execute(&self.pool).await?;
        Ok(())
    }
}
