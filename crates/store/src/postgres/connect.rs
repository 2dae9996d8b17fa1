//! Connecting to PostgreSQL and applying the embedded migrations.
//!
//! Each store lives in a schema of its own (`hush_data`, `hush_keys`), so
//! both may share a database when an operator wants that, and a store never
//! sees the other's tables. Migrations are embedded SQL applied in order
//! under an advisory lock, so replicas starting together apply each once; a
//! database newer than the binary is refused.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{Executor, Row};

use crate::StoreError;

/// Connections per replica and store.
const MAX_CONNECTIONS: u32 = 16;

/// Which store a pool serves.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StoreSchema {
    /// Schema name.
    pub name: &'static str,
    /// Advisory lock id for its migrations.
    pub migration_lock: i64,
}

pub(crate) const DATA: StoreSchema = StoreSchema { name: "hush_data", migration_lock: 0x6875_7368_0001 };
pub(crate) const KEYS: StoreSchema = StoreSchema { name: "hush_keys", migration_lock: 0x6875_7368_0002 };

/// The URL without its password, for messages.
pub(crate) fn shown(url: &str) -> String {
    match url.parse::<PgConnectOptions>() {
        Ok(o) => format!(
            "postgres://{}@{}:{}/{}",
            o.get_username(),
            o.get_host(),
            o.get_port(),
            o.get_database().unwrap_or("")
        ),
        Err(_) => "(an invalid PostgreSQL URL)".to_owned(),
    }
}

/// A pool on `url` whose connections use `schema`, after its migrations.
pub(crate) async fn open(url: &str, schema: StoreSchema, migrations: &[&str]) -> Result<PgPool, StoreError> {
    let options: PgConnectOptions = url.parse().map_err(|e: sqlx::Error| {
        StoreError::Database(format!("{} is not a PostgreSQL URL: {e}", shown(url)).into())
    })?;
    let name = schema.name;
    let pool = PgPoolOptions::new()
        .max_connections(MAX_CONNECTIONS)
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _| {
            Box::pin(async move {
                // A constant schema name, not input.
                conn.execute(sqlx::AssertSqlSafe(format!("SET search_path TO {name}"))).await?;
                Ok(())
            })
        })
        .connect_with(options)
        .await
        .map_err(|e| StoreError::Database(format!("cannot connect to {}: {e}", shown(url)).into()))?;
    migrate(&pool, schema, migrations).await?;
    Ok(pool)
}

async fn migrate(pool: &PgPool, schema: StoreSchema, migrations: &[&str]) -> Result<(), StoreError> {
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(schema.migration_lock).execute(&mut *tx).await?;
    tx.execute(sqlx::AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS {}", schema.name))).await?;
    tx.execute("CREATE TABLE IF NOT EXISTS schema_version (only_one BOOLEAN PRIMARY KEY DEFAULT TRUE CHECK (only_one), version BIGINT NOT NULL)")
        .await?;
    let found: i64 = sqlx::query("SELECT version FROM schema_version")
        .fetch_optional(&mut *tx)
        .await?
        .map(|r| r.try_get::<i64, _>("version"))
        .transpose()?
        .unwrap_or(0);
    let known = migrations.len() as i64;
    if found > known {
        return Err(StoreError::SchemaTooNew { path: format!("schema {}", schema.name), found, known });
    }
    for sql in migrations.iter().skip(found as usize) {
        // Embedded migration files, not input.
        sqlx::raw_sql(sqlx::AssertSqlSafe(*sql)).execute(&mut *tx).await?;
    }
    sqlx::query("INSERT INTO schema_version (version) VALUES ($1) ON CONFLICT (only_one) DO UPDATE SET version = $1")
        .bind(known)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}
