//! The SQLite key store: a small pool over one file, with `secure_delete` so
//! destroyed keys are overwritten, and a WAL checkpoint after each destruction
//! so no copy lingers in the write-ahead log either.

use std::path::Path;

use async_trait::async_trait;
use sqlx::ConnectOptions;
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions};

use super::connect::{migrator, options};
use super::rows::{get, u64_of};
use crate::{AuditAnchor, Conflict, KeyStore, StoreError, now_millis};

const MIGRATIONS: &[(i64, &str, &str)] = &[(1, "initial", include_str!("../../migrations/keys/0001_initial.sql"))];

/// The SQLite key store.
#[derive(Debug, Clone)]
pub struct SqliteKeyStore {
    pool: SqlitePool,
}

impl SqliteKeyStore {
    /// Opens (creating and migrating if needed) the key store at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let opts = options(path).pragma("secure_delete", "ON");
        let mut conn = opts.clone().connect().await?;
        migrator(MIGRATIONS).run(&mut conn).await?;
        drop(conn);
        let pool = SqlitePoolOptions::new().max_connections(4).min_connections(1).connect_with(opts).await?;
        Ok(Self { pool })
    }

    /// Closes the pool.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
}

#[async_trait]
impl KeyStore for SqliteKeyStore {
    async fn installation(&self) -> Result<Option<(String, Vec<u8>)>, StoreError> {
        let row = sqlx::query("SELECT id, wrapped_audit_key FROM installation").fetch_optional(&self.pool).await?;
        row.map(|r| Ok((get(&r, "id")?, get(&r, "wrapped_audit_key")?))).transpose()
    }

    async fn initialize(&self, installation_id: &str, wrapped_audit_key: &[u8]) -> Result<(), StoreError> {
        let mut tx = self.pool.begin_with("BEGIN IMMEDIATE").await?;
        if sqlx::query("SELECT 1 FROM installation").fetch_optional(&mut *tx).await?.is_some() {
            return Err(StoreError::Conflict(Conflict::AlreadyExists));
        }
        sqlx::query("INSERT INTO installation (id, wrapped_audit_key, created_at) VALUES (?, ?, ?)")
            .bind(installation_id)
            .bind(wrapped_audit_key)
            .bind(now_millis())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn put_namespace_key(&self, namespace_id: &str, version: u32, wrapped: &[u8]) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO namespace_keys (namespace_id, version, wrapped, created_at) VALUES (?, ?, ?, ?)")
            .bind(namespace_id)
            .bind(i64::from(version))
            .bind(wrapped)
            .bind(now_millis())
            .execute(&self.pool)
            .await
            .map_err(
                |e| if is_unique_violation(&e) { StoreError::Conflict(Conflict::AlreadyExists) } else { e.into() },
            )?;
        Ok(())
    }

    async fn namespace_key(&self, namespace_id: &str, version: u32) -> Result<Option<Vec<u8>>, StoreError> {
        let row = sqlx::query("SELECT wrapped FROM namespace_keys WHERE namespace_id = ? AND version = ?")
            .bind(namespace_id)
            .bind(i64::from(version))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| get(&r, "wrapped")).transpose()
    }

    async fn current_namespace_key(&self, namespace_id: &str) -> Result<Option<(u32, Vec<u8>)>, StoreError> {
        let row = sqlx::query(
            "SELECT version, wrapped FROM namespace_keys WHERE namespace_id = ? ORDER BY version DESC LIMIT 1",
        )
        .bind(namespace_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let version = u32::try_from(get::<i64>(&r, "version")?)
                .map_err(|_| StoreError::corrupt("namespace_keys.version is out of range"))?;
            Ok((version, get(&r, "wrapped")?))
        })
        .transpose()
    }

    async fn destroy_namespace_keys(&self, namespace_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM namespace_keys WHERE namespace_id = ?").bind(namespace_id).execute(&self.pool).await?;
        // Move the overwritten pages out of the WAL into the main file and
        // truncate the WAL, so the old key bytes are gone from both files.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&self.pool).await?;
        Ok(())
    }

    async fn audit_anchor(&self) -> Result<Option<AuditAnchor>, StoreError> {
        let row = sqlx::query("SELECT seq, mac FROM audit_anchor WHERE id = 1").fetch_optional(&self.pool).await?;
        row.map(|r| Ok(AuditAnchor { seq: u64_of(get(&r, "seq")?, "audit_anchor.seq")?, mac: get(&r, "mac")? }))
            .transpose()
    }

    async fn set_audit_anchor(&self, anchor: &AuditAnchor) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_anchor (id, seq, mac) VALUES (1, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac WHERE excluded.seq > audit_anchor.seq",
        )
        .bind(anchor.seq as i64)
        .bind(anchor.mac.as_slice())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
