//! Backups: both stores, one consistent snapshot of each, as rows
//! ([`hush_store::dump`]) in an encrypted, framed stream
//! ([`crate::backup_format`]), so a backup of a SQLite installation
//! restores into PostgreSQL and the other way round ([`crate::restore`]).
//!
//! A backup holds every ciphertext, token hash, the audit log, and the
//! wrapped keys; it does not hold the root key (or anything of the KMS):
//! restoring needs the same root key file, `HUSH_ROOT_KEY` or KMS.
//!
//! The file is produced as it is sent: memory stays at a frame (1 MiB)
//! whatever the store holds. The backup's audit event is written before
//! its first byte leaves.

use std::sync::Arc;

use hush_core::Scope;
use hush_crypto::envelope;
use hush_store::AuditAction;
use hush_store::dump::{DumpItem, TABLES};
use tokio::sync::mpsc;
use zeroize::Zeroizing;

use crate::backup_format::{FRAME_PLAINTEXT, KEY_BINDING, MAGIC, encode_row, frame, frame_binding};
use crate::{Credentials, Hush, ServiceError};

pub use crate::restore::{RestoreError, RestoreProgress, RestoreReport, restore};

/// Dumped rows in flight between a store and the framing.
const ROWS_IN_FLIGHT: usize = 4096;
/// Frames in flight between the framing and the connection.
const FRAMES_IN_FLIGHT: usize = 4;

/// A backup as it is produced: the file's bytes, piece by piece. A store
/// failure mid-way ends it with an error, so the receiver never takes a
/// cut file for a whole one (the file's last frame says it is the last).
#[derive(Debug)]
pub struct BackupStream {
    pieces: mpsc::Receiver<Result<Vec<u8>, ServiceError>>,
}

impl BackupStream {
    /// The next piece of the file; `None` after the last.
    pub async fn next(&mut self) -> Option<Result<Vec<u8>, ServiceError>> {
        self.pieces.recv().await
    }
}

impl Hush {
    /// A backup of both stores, encrypted, streamed. Needs an `admin` token
    /// bound to all namespaces.
    pub async fn backup(self: &Arc<Self>, creds: &Credentials) -> Result<BackupStream, ServiceError> {
        let mut event = self.event(creds, AuditAction::Backup, None, None);
        let authorized = self.authorize_global(creds, &mut event, Scope::Admin, "a backup").await;
        self.finish(event, authorized).await?;
        let (pieces, rx) = mpsc::channel(FRAMES_IN_FLIGHT);
        let hush = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = hush.write_backup(&pieces).await {
                if pieces.is_closed() {
                    tracing::info!("a backup stopped: its receiver went away");
                    return;
                }
                if let ServiceError::Internal(cause) = &e {
                    tracing::error!(error = %cause, "the backup failed");
                }
                let _ = pieces.send(Err(e)).await;
            }
        });
        Ok(BackupStream { pieces: rx })
    }

    async fn write_backup(&self, pieces: &mpsc::Sender<Result<Vec<u8>, ServiceError>>) -> Result<(), ServiceError> {
        // From before the backup key is wrapped until both snapshots are
        // taken, no key is created or re-wrapped and no prune checkpoint
        // moves: the backup key and the key store then open under the same
        // root, every namespace in the data snapshot has its key, and the
        // audit anchor and checkpoint match the data snapshot's log. The
        // key store is read whole first (it is small), so the lock never
        // waits on the client; it goes once the data store's first item
        // says its snapshot is taken.
        let no_new_keys = self.rotation_lock.write().await;
        let backup_key = Zeroizing::new(hush_crypto::random_bytes::<32>()?);
        let wrapped = self.root().wrap(&backup_key, KEY_BINDING).await.map_err(ServiceError::internal)?;
        let keys = self.key_rows().await?;
        let mut head = MAGIC.to_vec();
        head.extend_from_slice(&(wrapped.len() as u32).to_be_bytes());
        head.extend_from_slice(&wrapped);
        let header = serde_json::json!({
            "hush_backup": 2,
            "installation_id": self.data.installation_id().await?,
            "created_at": crate::audit_line::rfc3339(hush_store::now_millis()),
        });
        let mut out = Framer { key: backup_key, pieces, number: 0, plain: Zeroizing::new(Vec::new()) };
        let (rows, from_data) = mpsc::channel(ROWS_IN_FLIGHT);
        let dump = self.data.dump(rows);
        let frame = async {
            // Owned here: if the client goes away, the receiver goes with
            // this future and the dump stops at its next row.
            let mut from_data = from_data;
            let first = from_data.recv().await;
            drop(no_new_keys);
            out.send(head).await?;
            out.line(&header).await?;
            for item in keys {
                out.item(item).await?;
            }
            let mut next = first;
            while let Some(item) = next {
                out.item(item).await?;
                next = from_data.recv().await;
            }
            Ok::<_, ServiceError>(())
        };
        let (dumped, framed) = tokio::join!(dump, frame);
        framed?;
        dumped?;
        // The last frame only after the dump said it is complete.
        out.finish().await
    }

    /// Every item of the key store's dump.
    async fn key_rows(&self) -> Result<Vec<DumpItem>, ServiceError> {
        let (tx, mut rx) = mpsc::channel(ROWS_IN_FLIGHT);
        let mut items = Vec::new();
        let collect = async {
            while let Some(item) = rx.recv().await {
                items.push(item);
            }
        };
        let (dumped, ()) = tokio::join!(self.keys.dump(tx), collect);
        dumped?;
        Ok(items)
    }
}

/// Seals plaintext into numbered frames and hands them on.
struct Framer<'a> {
    key: Zeroizing<[u8; 32]>,
    pieces: &'a mpsc::Sender<Result<Vec<u8>, ServiceError>>,
    number: u64,
    plain: Zeroizing<Vec<u8>>,
}

impl Framer<'_> {
    async fn send(&self, piece: Vec<u8>) -> Result<(), ServiceError> {
        self.pieces.send(Ok(piece)).await.map_err(|_| {
            ServiceError::internal(std::io::Error::new(
                std::io::ErrorKind::BrokenPipe,
                "the backup's receiver went away",
            ))
        })
    }

    async fn line(&mut self, value: &serde_json::Value) -> Result<(), ServiceError> {
        serde_json::to_writer(&mut *self.plain, value).map_err(ServiceError::internal)?;
        self.plain.push(b'\n');
        self.maybe_seal().await
    }

    async fn maybe_seal(&mut self) -> Result<(), ServiceError> {
        if self.plain.len() >= FRAME_PLAINTEXT { self.seal(false).await } else { Ok(()) }
    }

    async fn seal(&mut self, last: bool) -> Result<(), ServiceError> {
        let sealed = envelope::seal(&self.key, &frame_binding(self.number, last), &self.plain)?;
        self.plain.clear();
        self.number += 1;
        self.send(frame(last, &sealed)).await
    }

    async fn item(&mut self, item: DumpItem) -> Result<(), ServiceError> {
        match item {
            DumpItem::Table { table, rows } => {
                let (name, store) = (TABLES[table].name, TABLES[table].store.as_str());
                self.line(&serde_json::json!({ "table": name, "store": store, "rows": rows })).await
            }
            DumpItem::Row(cells) => {
                encode_row(&cells, &mut self.plain);
                self.maybe_seal().await
            }
        }
    }

    async fn finish(mut self) -> Result<(), ServiceError> {
        self.seal(true).await
    }
}
