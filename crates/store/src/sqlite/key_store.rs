//! The SQLite key store: one connection behind a mutex (it is written when a
//! namespace is created or deleted and read when a key is first needed), with
//! `secure_delete` so destroyed keys are overwritten, and a WAL checkpoint
//! after each destruction so no copy lingers in the write-ahead log either.

use std::path::Path;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::connect::{Access, migrate, open};
use super::rows::u64_of;
use crate::{AuditAnchor, AuditCheckpoint, Conflict, Installation, KeyStore, StoreError, WrappedKeys, now_millis};

pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/keys/0001_initial.sql"),
    include_str!("../../migrations/keys/0002_audit_retention.sql"),
];

/// The SQLite key store.
#[derive(Debug, Clone)]
pub struct SqliteKeyStore {
    conn: Arc<Mutex<Connection>>,
}

impl SqliteKeyStore {
    /// Opens (creating and migrating if needed) the key store at `path`.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let mut conn = open(path, Access::ReadWrite, true)?;
        migrate(&mut conn, path, MIGRATIONS)?;
        Ok(Self { conn: Arc::new(Mutex::new(conn)) })
    }

    /// Runs `f` on the connection. Most key store operations are single-row
    /// and rare, so they run inline rather than on another thread.
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let mut conn = self.conn.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut conn)
    }

    /// Runs `f` on the connection on tokio's blocking pool: for the writes
    /// that come often enough to matter (the audit anchor, every second)
    /// or take long (a snapshot). Each waits for an fsync; inline, that
    /// held one of the runtime's threads, and every request queued on it,
    /// for milliseconds.
    async fn with_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let conn = Arc::clone(&self.conn);
        tokio::task::spawn_blocking(move || {
            let mut conn = conn.lock().unwrap_or_else(|e| e.into_inner());
            f(&mut conn)
        })
        .await
        .map_err(|e| StoreError::Database(Box::new(e)))?
    }
}

fn is_unique_violation(e: &rusqlite::Error) -> bool {
    matches!(e, rusqlite::Error::SqliteFailure(f, _) if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
        || f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE)
}

#[async_trait]
impl KeyStore for SqliteKeyStore {
    async fn installation(&self) -> Result<Option<Installation>, StoreError> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT id, wrapped_audit_key, wrapped_token_key, completed_at IS NOT NULL FROM installation",
                [],
                |r| {
                    Ok(Installation {
                        id: r.get(0)?,
                        wrapped_audit_key: r.get(1)?,
                        wrapped_token_key: r.get(2)?,
                        completed: r.get(3)?,
                    })
                },
            )
            .optional()?)
        })
    }

    async fn initialize(&self, installation: &Installation) -> Result<(), StoreError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if tx.query_row("SELECT 1 FROM installation", [], |_| Ok(())).optional()?.is_some() {
                return Err(StoreError::Conflict(Conflict::AlreadyExists));
            }
            tx.execute(
                "INSERT INTO installation (id, wrapped_audit_key, wrapped_token_key, created_at) VALUES (?, ?, ?, ?)",
                params![installation.id, installation.wrapped_audit_key, installation.wrapped_token_key, now_millis()],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    async fn mark_completed(&self) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute("UPDATE installation SET completed_at = ? WHERE completed_at IS NULL", [now_millis()])?;
            Ok(())
        })
    }

    async fn put_namespace_key(&self, namespace_id: &str, version: u32, wrapped: &[u8]) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute(
                "INSERT INTO namespace_keys (namespace_id, version, wrapped, created_at) VALUES (?, ?, ?, ?)",
                params![namespace_id, i64::from(version), wrapped, now_millis()],
            )
            .map_err(|e| {
                if is_unique_violation(&e) { StoreError::Conflict(Conflict::AlreadyExists) } else { e.into() }
            })?;
            Ok(())
        })
    }

    async fn namespace_key(&self, namespace_id: &str, version: u32) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(|c| {
            Ok(c.prepare_cached("SELECT wrapped FROM namespace_keys WHERE namespace_id = ? AND version = ?")?
                .query_row(params![namespace_id, i64::from(version)], |r| r.get(0))
                .optional()?)
        })
    }

    async fn current_namespace_key(&self, namespace_id: &str) -> Result<Option<(u32, Vec<u8>)>, StoreError> {
        self.with(|c| {
            let row: Option<(i64, Vec<u8>)> = c
                .prepare_cached(
                    "SELECT version, wrapped FROM namespace_keys WHERE namespace_id = ? ORDER BY version DESC LIMIT 1",
                )?
                .query_row([namespace_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            row.map(|(version, wrapped)| {
                let version = u32::try_from(version)
                    .map_err(|_| StoreError::corrupt("namespace_keys.version is out of range"))?;
                Ok((version, wrapped))
            })
            .transpose()
        })
    }

    async fn destroy_namespace_keys(&self, namespace_id: &str) -> Result<(), StoreError> {
        self.with(|c| {
            c.execute("DELETE FROM namespace_keys WHERE namespace_id = ?", [namespace_id])?;
            // Move the overwritten pages out of the WAL into the main file and
            // truncate the WAL, so the old key bytes are gone from both files.
            // If another connection (a backup tool, say) holds the file, the
            // checkpoint cannot finish: report it, so the caller retries.
            let busy: i64 = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            if busy != 0 {
                return Err(StoreError::Database(
                    "the key store is in use by another process; the destroyed key may remain in its write-ahead log until a retry succeeds"
                        .into(),
                ));
            }
            Ok(())
        })
    }

    async fn wrapped_keys(&self) -> Result<WrappedKeys, StoreError> {
        self.with(|c| {
            let (audit_key, token_key): (Vec<u8>, Vec<u8>) =
                c.query_row("SELECT wrapped_audit_key, wrapped_token_key FROM installation", [], |r| {
                    Ok((r.get(0)?, r.get(1)?))
                })?;
            let mut stmt =
                c.prepare("SELECT namespace_id, version, wrapped FROM namespace_keys ORDER BY namespace_id, version")?;
            let rows =
                stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?, r.get::<_, Vec<u8>>(2)?)))?;
            let mut namespace_keys = Vec::new();
            for row in rows {
                let (ns, version, wrapped) = row?;
                let version = u32::try_from(version)
                    .map_err(|_| StoreError::corrupt("namespace_keys.version is out of range"))?;
                namespace_keys.push((ns, version, wrapped));
            }
            Ok(WrappedKeys { audit_key, token_key, namespace_keys })
        })
    }

    async fn replace_wrapped_keys(&self, keys: &WrappedKeys) -> Result<(), StoreError> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "UPDATE installation SET wrapped_audit_key = ?, wrapped_token_key = ?",
                params![keys.audit_key, keys.token_key],
            )?;
            for (ns, version, wrapped) in &keys.namespace_keys {
                tx.execute(
                    "UPDATE namespace_keys SET wrapped = ? WHERE namespace_id = ? AND version = ?",
                    params![wrapped, ns, i64::from(*version)],
                )?;
            }
            tx.commit()?;
            // The old wrapped forms are overwritten (secure_delete); move them out of the WAL too.
            let _: i64 = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))?;
            Ok(())
        })
    }

    async fn dump(&self, out: crate::dump::DumpSender) -> Result<(), StoreError> {
        // Read whole (the key store is small), then sent: a slow receiver
        // must not hold the connection that every key lookup needs.
        let items = self
            .with_blocking(|c| {
                let mut items = Vec::new();
                super::dump::dump_tables(c, crate::dump::StoreKind::Keys, |item| {
                    items.push(item);
                    Ok(())
                })?;
                Ok(items)
            })
            .await?;
        for item in items {
            out.send(item).await.map_err(|_| StoreError::Closed)?;
        }
        Ok(())
    }

    async fn audit_anchor(&self) -> Result<Option<AuditAnchor>, StoreError> {
        self.with(|c| {
            let row: Option<(i64, Vec<u8>)> = c
                .query_row("SELECT seq, mac FROM audit_anchor WHERE id = 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()?;
            row.map(|(seq, mac)| Ok(AuditAnchor { seq: u64_of(seq, "audit_anchor.seq")?, mac })).transpose()
        })
    }

    async fn set_audit_anchor(&self, anchor: &AuditAnchor) -> Result<(), StoreError> {
        let AuditAnchor { seq, mac } = anchor.clone();
        self.with_blocking(move |c| {
            c.execute(
                "INSERT INTO audit_anchor (id, seq, mac) VALUES (1, ?, ?) \
                 ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac WHERE excluded.seq > audit_anchor.seq",
                params![seq as i64, mac],
            )?;
            Ok(())
        })
        .await
    }

    async fn audit_checkpoint(&self) -> Result<Option<AuditCheckpoint>, StoreError> {
        self.with(|c| {
            let row: Option<(i64, Vec<u8>, i64, i64, Vec<u8>)> = c
                .query_row(
                    "SELECT seq, mac, before_at, made_at, signature FROM audit_checkpoint WHERE id = 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
                )
                .optional()?;
            row.map(|(seq, mac, before_at, made_at, signature)| {
                Ok(AuditCheckpoint { seq: u64_of(seq, "audit_checkpoint.seq")?, mac, before_at, made_at, signature })
            })
            .transpose()
        })
    }

    async fn set_audit_checkpoint(&self, checkpoint: &AuditCheckpoint) -> Result<(), StoreError> {
        let AuditCheckpoint { seq, mac, before_at, made_at, signature } = checkpoint.clone();
        self.with_blocking(move |c| {
            c.execute(
                "INSERT INTO audit_checkpoint (id, seq, mac, before_at, made_at, signature) VALUES (1, ?, ?, ?, ?, ?) \
                 ON CONFLICT (id) DO UPDATE SET seq = excluded.seq, mac = excluded.mac, before_at = excluded.before_at, \
                 made_at = excluded.made_at, signature = excluded.signature WHERE excluded.seq > audit_checkpoint.seq",
                params![seq as i64, mac, before_at, made_at, signature],
            )?;
            Ok(())
        })
        .await
    }

    async fn audit_exported(&self) -> Result<u64, StoreError> {
        self.with(|c| {
            let seq: Option<i64> =
                c.query_row("SELECT through_seq FROM audit_exported WHERE id = 1", [], |r| r.get(0)).optional()?;
            seq.map_or(Ok(0), |s| u64_of(s, "audit_exported.through_seq"))
        })
    }

    async fn set_audit_exported(&self, through_seq: u64) -> Result<(), StoreError> {
        self.with_blocking(move |c| {
            c.execute(
                "INSERT INTO audit_exported (id, through_seq) VALUES (1, ?) \
                 ON CONFLICT (id) DO UPDATE SET through_seq = excluded.through_seq \
                 WHERE excluded.through_seq > audit_exported.through_seq",
                params![through_seq as i64],
            )?;
            Ok(())
        })
        .await
    }
}
