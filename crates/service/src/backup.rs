//! Backups: a consistent snapshot of both stores in one file, encrypted,
//! and its restore onto fresh directories.
//!
//! File format: `HUSHBAK1`, the length (u32, big-endian) and bytes of a
//! fresh backup key wrapped by the installation's wrapping key (root key or
//! KMS), then one envelope (XChaCha20-Poly1305, bound to the magic) holding
//! the data store's and the key store's SQLite snapshots, each behind its
//! length (u64).
//!
//! A backup holds every ciphertext, token hash, the audit log, and the
//! wrapped keys; it does not hold the root key (or anything of the KMS):
//! restoring needs the same root key file, `HUSH_ROOT_KEY` or KMS.

use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

use hush_core::{Scope, SecretBytes};
use hush_crypto::envelope;
use hush_store::sqlite::{DATA_FILE, KEYS_FILE};
use hush_store::{AuditAction, Mutation, StoreError, WriteRequest};
use zeroize::Zeroizing;

use crate::bootstrap::{OpenError, OpenOptions, open, wrapper_for};
use crate::{Credentials, Hush, ServiceError};

/// The file's first bytes.
pub const BACKUP_MAGIC: &[u8; 8] = b"HUSHBAK1";
const BACKUP_KEY_BINDING: &[u8] = b"hush/backup-key/v1";

/// What a restore put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// The installation restored.
    pub installation_id: String,
    /// Namespaces in it (registry scopes not counted).
    pub namespaces: usize,
}

fn framed(parts: &[&[u8]]) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(parts.iter().map(|p| p.len() + 8).sum()));
    for p in parts {
        out.extend_from_slice(&(p.len() as u64).to_be_bytes());
        out.extend_from_slice(p);
    }
    out
}

fn unframed(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut parts = Vec::new();
    while !bytes.is_empty() {
        let (len, rest) = bytes.split_first_chunk::<8>()?;
        let len = usize::try_from(u64::from_be_bytes(*len)).ok()?;
        if rest.len() < len {
            return None;
        }
        parts.push(&rest[..len]);
        bytes = &rest[len..];
    }
    Some(parts)
}

impl Hush {
    /// A backup of both stores, encrypted. Needs an `admin` token bound to all namespaces.
    pub async fn backup(&self, creds: &Credentials) -> Result<Vec<u8>, ServiceError> {
        let mut event = self.event(creds, AuditAction::Backup, None, None);
        let result = async {
            self.authorize_global(creds, &mut event, Scope::Admin, "a backup").await?;
            let dir = tempfile::Builder::new().prefix("hush-backup-").tempdir().map_err(ServiceError::internal)?;
            let (data_file, keys_file) = (dir.path().join(DATA_FILE), dir.path().join(KEYS_FILE));
            let unsupported = |e: StoreError| match e {
                StoreError::Unsupported(what) => ServiceError::invalid("unsupported", format!("not supported: {what}")),
                other => other.into(),
            };
            // No key is created or re-wrapped while the copies are taken. The
            // key store first: its audit anchor is then never ahead of the
            // data copy's log, and every namespace in the data copy has its key.
            let _no_new_keys = self.rotation_lock.write().await;
            self.keys.snapshot_to(&keys_file).await.map_err(unsupported)?;
            self.data.snapshot_to(&data_file).await.map_err(unsupported)?;
            let data = Zeroizing::new(fs::read(&data_file).map_err(ServiceError::internal)?);
            let keys = Zeroizing::new(fs::read(&keys_file).map_err(ServiceError::internal)?);
            drop(dir);
            let backup_key = Zeroizing::new(hush_crypto::random_bytes::<32>()?);
            let wrapped = self.root().wrap(&backup_key, BACKUP_KEY_BINDING).await.map_err(ServiceError::internal)?;
            let sealed = envelope::seal(&backup_key, BACKUP_MAGIC, &framed(&[&data, &keys]))?;
            let mut out = Vec::with_capacity(12 + wrapped.len() + sealed.len());
            out.extend_from_slice(BACKUP_MAGIC);
            out.extend_from_slice(&(wrapped.len() as u32).to_be_bytes());
            out.extend_from_slice(&wrapped);
            out.extend_from_slice(&sealed);
            let audit = event.for_write();
            self.data.write(WriteRequest { mutation: Mutation::AuditOnly, audit }).await?;
            Ok(out)
        }
        .await;
        self.finish(event, result).await
    }
}

/// Why a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The file is not a hush backup, or is damaged.
    #[error("{0}")]
    Bad(&'static str),
    /// The target directories already hold stores.
    #[error("{0} already holds a store; restore onto fresh directories")]
    NotEmpty(String),
    /// Opening the restored installation failed (wrong root key, KMS, …).
    #[error(transparent)]
    Open(#[from] OpenError),
}

/// Writes the stores in `backup` into `opts`' (fresh) directories, then
/// opens them to prove they work with the root key or KMS `opts` names.
pub async fn restore(backup: &[u8], opts: OpenOptions) -> Result<RestoreReport, RestoreError> {
    if opts.database_url.is_some() || opts.keystore_url.is_some() {
        return Err(RestoreError::Bad(
            "a backup restores onto SQLite directories; for PostgreSQL stores use PostgreSQL's own backups",
        ));
    }
    let rest = backup.strip_prefix(BACKUP_MAGIC.as_slice()).ok_or(RestoreError::Bad("not a hush backup"))?;
    let (len, rest) = rest.split_first_chunk::<4>().ok_or(RestoreError::Bad("the backup is truncated"))?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err(RestoreError::Bad("the backup is truncated"));
    }
    let (wrapped, sealed) = rest.split_at(len);
    let (wrapper, origin) = wrapper_for(&opts)?;
    let wrapper = wrapper.ok_or(RestoreError::Bad(
        "no root key: put the installation's root.key in --key-dir, or set HUSH_ROOT_KEY or --root-key-file, or name its KMS",
    ))?;
    let backup_key = wrapper.unwrap(wrapped, BACKUP_KEY_BINDING).await.map_err(|e| {
        tracing::warn!(origin = %origin, error = %e, "the backup key does not unwrap");
        RestoreError::Bad("the backup does not open with this root key or KMS (another installation's, or damaged)")
    })?;
    let plain = SecretBytes::new(
        envelope::open(&backup_key, BACKUP_MAGIC, sealed)
            .map_err(|_| RestoreError::Bad("the backup is damaged (it does not authenticate)"))?
            .expose_secret()
            .to_vec(),
    );
    let parts = unframed(plain.expose_secret()).ok_or(RestoreError::Bad("the backup is damaged"))?;
    let [data, keys] = parts[..] else { return Err(RestoreError::Bad("the backup is damaged")) };
    let targets = [(&opts.data_dir, DATA_FILE, data), (&opts.key_dir, KEYS_FILE, keys)];
    // Every target is checked before anything is written: a refusal leaves nothing half-restored.
    for (dir, file, _) in &targets {
        let journal = hush_store::sqlite::journal_files(&dir.join(file));
        let sqlite = ["", "-wal", "-shm"].map(|suffix| dir.join(format!("{file}{suffix}")));
        if sqlite.iter().chain(&journal).any(|p| p.exists()) {
            return Err(RestoreError::NotEmpty(dir.display().to_string()));
        }
    }
    for (dir, file, bytes) in targets {
        let io = |source| OpenError::Io { path: dir.clone(), source };
        fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io)?;
        let path = dir.join(file);
        let write = || -> std::io::Result<()> {
            let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            fs::File::open(dir)?.sync_all()
        };
        write().map_err(|source| OpenError::Io { path: path.clone(), source })?;
    }
    let opened = open(opts).await?;
    let installation_id = opened.hush.data.installation_id().await.map_err(OpenError::from)?.unwrap_or_default();
    let namespaces =
        opened.hush.data.namespaces().await.map_err(OpenError::from)?.iter().filter(|n| !n.name.is_reserved()).count();
    Ok(RestoreReport { installation_id, namespaces })
}
