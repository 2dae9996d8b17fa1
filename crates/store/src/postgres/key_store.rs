//! The PostgreSQL key store: single-row operations on a small pool. Unlike
//! SQLite's `secure_delete`, PostgreSQL leaves a deleted row's bytes in its
//! page until VACUUM reuses it (docs/operations.md says how to run it after
//! deleting a namespace).

use async_trait::async_trait;
use sqlx::Row;
use sqlx::postgres::PgPool;

use super::connect::{self, KEYS};
use crate::{AuditAnchor, AuditCheckpoint, Conflict, Installation, KeyStore, StoreError, WrappedKeys, now_millis};

pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/keys/0001_initial.sql"),
    include_str!("../../migrations/postgres/keys/0002_audit_retention.sql"),
];

/// The PostgreSQL key store.
#[derive(Debug, Clone)]
pub struct PgKeyStore {
    pool: PgPool,
}

impl PgKeyStore {
    /// Connects to `url` (migrating if needed).
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Ok(Self { pool: connect::open(url, KEYS, MIGRATIONS).await? })
    }
}

/// The advisory lock a start holds while it initialises or checks the installation.
const START_LOCK: i64 = 0x6875_7368_0020;

/// Ends the start lock by closing its connection (in the background, as
/// closing is async).
struct StartGuard(Option<sqlx::postgres::PgConnection>);

impl Drop for StartGuard {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                use sqlx::Connection;
                let _ = conn.close().await;
            });
        }
    }
}

fn is_unique_violation(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(d) if d.code().as_deref() == Some("23505"))
}

fn column<T>(r: Result<T, sqlx::Error>, name: &str) -> Result<T, StoreError> {
    r.map_err(|_| crate::rows::undecodable(name))
}

#[async_trait]
impl KeyStore for PgKeyStore {
    async fn dump(&self, out: crate::dump::DumpSender) -> Result<(), StoreError> {
        super::dump::dump_tables(&self.pool, crate::dump::StoreKind::Keys, &out).await
    }

    async fn installation(&self) -> Result<Option<Installation>, StoreError> {
        let row = sqlx::query(
            "SELECT id, wrapped_audit_key, wrapped_token_key, completed_at IS NOT NULL AS completed FROM installation",
        )
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            Ok(Installation {
                id: column(r.try_get("id"), "id")?,
                wrapped_audit_key: column(r.try_get("wrapped_audit_key"), "wrapped_audit_key")?,
                wrapped_token_key: column(r.try_get("wrapped_token_key"), "wrapped_token_key")?,
                completed: column(r.try_get("completed"), "completed_at")?,
            })
        })
        .transpose()
    }

    async fn initialize(&self, installation: &Installation) -> Result<(), StoreError> {
        let inserted = sqlx::query(
            "INSERT INTO installation (id, wrapped_audit_key, wrapped_token_key, created_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT DO NOTHING",
        )
        .bind(&installation.id)
        .bind(&installation.wrapped_audit_key)
        .bind(&installation.wrapped_token_key)
        .bind(now_millis())
        .execute(&self.pool)
        .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Conflict(Conflict::AlreadyExists));
        }
        Ok(())
    }

    async fn mark_completed(&self) -> Result<(), StoreError> {
        sqlx::query("UPDATE installation SET completed_at = $1 WHERE completed_at IS NULL")
            .bind(now_millis())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn put_namespace_key(&self, namespace_id: &str, version: u32, wrapped: &[u8]) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO namespace_keys (namespace_id, version, wrapped, created_at) VALUES ($1, $2, $3, $4)")
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
        let row = sqlx::query("SELECT wrapped FROM namespace_keys WHERE namespace_id = $1 AND version = $2")
            .bind(namespace_id)
            .bind(i64::from(version))
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| column(r.try_get("wrapped"), "wrapped")).transpose()
    }

    async fn current_namespace_key(&self, namespace_id: &str) -> Result<Option<(u32, Vec<u8>)>, StoreError> {
        let row = sqlx::query(
            "SELECT version, wrapped FROM namespace_keys WHERE namespace_id = $1 ORDER BY version DESC LIMIT 1",
        )
        .bind(namespace_id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| {
            let version: i64 = column(r.try_get("version"), "version")?;
            let version =
                u32::try_from(version).map_err(|_| StoreError::corrupt("namespace_keys.version is out of range"))?;
            Ok((version, column(r.try_get("wrapped"), "wrapped")?))
        })
        .transpose()
    }

    async fn destroy_namespace_keys(&self, namespace_id: &str) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM namespace_keys WHERE namespace_id = $1")
            .bind(namespace_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    async fn start_guard(&self) -> Result<Option<Box<dyn Send + Sync>>, StoreError> {
        // A session lock on a connection of its own; closing that connection
        // (when the guard is dropped) releases it.
        let mut conn = self.pool.acquire().await?.detach();
        sqlx::query("SELECT pg_advisory_lock($1)").bind(START_LOCK).execute(&mut conn).await?;
        Ok(Some(Box::new(StartGuard(Some(conn)))))
    }

    async fn wrapped_keys(&self) -> Result<WrappedKeys, StoreError> {
        let row =
            sqlx::query("SELECT wrapped_audit_key, wrapped_token_key FROM installation").fetch_one(&self.pool).await?;
        let rows =
            sqlx::query("SELECT namespace_id, version, wrapped FROM namespace_keys ORDER BY namespace_id, version")
                .fetch_all(&self.pool)
                .await?;
        let mut namespace_keys = Vec::with_capacity(rows.len());
        for r in rows {
            let version: i64 = column(r.try_get("version"), "version")?;
            let version =
                u32::try_from(version).map_err(|_| StoreError::corrupt("namespace_keys.version is out of range"))?;
            namespace_keys.push((
                column(r.try_get("namespace_id"), "namespace_id")?,
                version,
                column(r.try_get("wrapped"), "wrapped")?,
            ));
        }
        Ok(WrappedKeys {
            audit_key: column(row.try_get("wrapped_audit_key"), "wrapped_audit_key")?,
            token_key: column(row.try_get("wrapped_token_key"), "wrapped_token_key")?,
            namespace_keys,
        })
    }

    async fn replace_wrapped_keys(&self, keys: &WrappedKeys) -> Result<(), StoreError> {
        let mut tx = self.pool.begin().await?;
        sqlx::query("UPDATE installation SET wrapped_audit_key = $1, wrapped_token_key = $2")
            .bind(&keys.audit_key)
            .bind(&keys.token_key)
            .execute(&mut *tx)
            .await?;
        for (ns, version, wrapped) in &keys.namespace_keys {
            sqlx::query("UPDATE namespace_keys SET wrapped = $1 WHERE namespace_id = $2 AND version = $3")
                .bind(wrapped)
                .bind(ns)
                .bind(i64::from(*version))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    async fn audit_anchor(&self) -> Result<Option<AuditAnchor>, StoreError> {
        let row = sqlx::query("SELECT seq, mac FROM audit_anchor WHERE id = 1").fetch_optional(&self.pool).await?;
        row.map(|r| {
            let seq: i64 = column(r.try_get("seq"), "seq")?;
            let seq = u64::try_from(seq).map_err(|_| StoreError::corrupt("audit_anchor.seq is negative"))?;
            Ok(AuditAnchor { seq, mac: column(r.try_get("mac"), "mac")? })
        })
        .transpose()
    }

    async fn set_audit_anchor(&self, anchor: &AuditAnchor) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_anchor (id, seq, mac) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac WHERE excluded.seq > audit_anchor.seq",
        )
        .bind(anchor.seq as i64)
        .bind(&anchor.mac)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn audit_checkpoint(&self) -> Result<Option<AuditCheckpoint>, StoreError> {
        let row = sqlx::query("SELECT seq, mac, before_at, made_at, signature FROM audit_checkpoint WHERE id = 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| {
            let seq: i64 = column(r.try_get("seq"), "seq")?;
            Ok(AuditCheckpoint {
                seq: u64::try_from(seq).map_err(|_| StoreError::corrupt("audit_checkpoint.seq is negative"))?,
                mac: column(r.try_get("mac"), "mac")?,
                before_at: column(r.try_get("before_at"), "before_at")?,
                made_at: column(r.try_get("made_at"), "made_at")?,
                signature: column(r.try_get("signature"), "signature")?,
            })
        })
        .transpose()
    }

    async fn set_audit_checkpoint(&self, checkpoint: &AuditCheckpoint) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_checkpoint (id, seq, mac, before_at, made_at, signature) VALUES (1, $1, $2, $3, $4, $5) \
             ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, before_at = excluded.before_at, \
             made_at = excluded.made_at, signature = excluded.signature WHERE excluded.seq > audit_checkpoint.seq",
        )
        .bind(checkpoint.seq as i64)
        .bind(&checkpoint.mac)
        .bind(checkpoint.before_at)
        .bind(checkpoint.made_at)
        .bind(&checkpoint.signature)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn audit_exported(&self) -> Result<u64, StoreError> {
        let row = sqlx::query("SELECT through_seq FROM audit_exported WHERE id = 1").fetch_optional(&self.pool).await?;
        match row {
            Some(r) => {
                let seq: i64 = column(r.try_get("through_seq"), "through_seq")?;
                u64::try_from(seq).map_err(|_| StoreError::corrupt("audit_exported.through_seq is negative"))
            }
            None => Ok(0),
        }
    }

    async fn set_audit_exported(&self, through_seq: u64) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO audit_exported (id, through_seq) VALUES (1, $1) \
             ON CONFLICT (id) DO UPDATE SET through_seq = excluded.through_seq \
             WHERE excluded.through_seq > audit_exported.through_seq",
        )
        .bind(through_seq as i64)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
