//! Opening hush: directories, the lock, the root key, both stores, and the
//! first-start initialisation (a `default` namespace and an admin token).
//!
//! The checks here are what stop hush from starting on the wrong keys: a
//! root key that does not unwrap the audit key is refused, and so is a data
//! store and key store pair from different installations.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hush_core::{NamespaceName, Scope, ScopeSet, SecretString};
use hush_crypto::{AuditKey, KeyParseError, RootKey, random_id};
use hush_store::sqlite::{DATA_FILE, KEYS_FILE, SqliteDataStore, SqliteKeyStore};
use hush_store::{AuditAction, AuditEvent, DataStore, KeyStore, StoreError, TokenNamespaces};

use crate::{Hush, ServiceConfig, ServiceError};

/// File name of the root key inside the key directory.
pub const ROOT_KEY_FILE: &str = "root.key";
/// File name of the lock inside the data directory.
pub const LOCK_FILE: &str = "hush.lock";

/// Where and how to open hush.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Directory of the data store.
    pub data_dir: PathBuf,
    /// Directory of the key store (and, by default, the root key file).
    pub key_dir: PathBuf,
    /// The root key as base64 (`HUSH_ROOT_KEY`); otherwise the key file is used.
    pub root_key: Option<SecretString>,
    /// Limits and retention.
    pub config: ServiceConfig,
}

/// An open service, and what the first start created, if this was it.
#[derive(Debug)]
pub struct Opened {
    /// The service.
    pub hush: Arc<Hush>,
    /// Set on the first start only.
    pub first_start: Option<FirstStart>,
}

/// What the first start created. The admin token exists nowhere else.
#[derive(Debug)]
pub struct FirstStart {
    /// The admin token, to print once.
    pub admin_token: SecretString,
    /// The root key file written, if the key did not come from the environment.
    pub root_key_file: Option<PathBuf>,
}

/// Why hush could not open.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// A directory or file could not be created or read.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The cause.
        source: io::Error,
    },
    /// Another process holds the data directory.
    #[error("another hush process is using the data directory {0}")]
    Locked(PathBuf),
    /// The key store is initialised but there is no root key.
    #[error(
        "no root key: the key store in {key_dir} is initialised but {file} does not exist and HUSH_ROOT_KEY is not set"
    )]
    RootKeyMissing {
        /// Key directory.
        key_dir: PathBuf,
        /// Expected key file.
        file: PathBuf,
    },
    /// The root key text does not decode.
    #[error("the root key from {origin} is unusable: {source}")]
    RootKeyInvalid {
        /// `HUSH_ROOT_KEY` or the file path.
        origin: String,
        /// What is wrong.
        source: KeyParseError,
    },
    /// The root key is not the one this installation was created with.
    #[error(
        "the root key from {origin} (fingerprint {fingerprint}) does not match the key store in {key_dir}; \
         refusing to start. Use the root key this installation was created with"
    )]
    WrongRootKey {
        /// Where the key came from.
        origin: String,
        /// Its public fingerprint.
        fingerprint: String,
        /// Key directory.
        key_dir: PathBuf,
    },
    /// The data store and key store belong to different installations.
    #[error(
        "the data store in {data_dir} belongs to installation {data_id} but the key store in {key_dir} belongs to {key_id}"
    )]
    Mismatch {
        /// Data directory.
        data_dir: PathBuf,
        /// Its installation.
        data_id: String,
        /// Key directory.
        key_dir: PathBuf,
        /// Its installation.
        key_id: String,
    },
    /// The data store is initialised but the key store is empty.
    #[error(
        "the data store in {data_dir} is initialised (installation {data_id}) but the key store in {key_dir} is empty; \
         is --key-dir right?"
    )]
    KeysMissing {
        /// Data directory.
        data_dir: PathBuf,
        /// Its installation.
        data_id: String,
        /// Key directory.
        key_dir: PathBuf,
    },
    /// A store failed.
    #[error("cannot open the stores: {0}")]
    Store(#[from] StoreError),
    /// Initialisation failed.
    #[error("initialisation failed: {0}")]
    Init(#[from] ServiceError),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> OpenError + '_ {
    move |source| OpenError::Io { path: path.to_owned(), source }
}

/// Creates `dir` (mode 0700) if it does not exist.
fn private_dir(dir: &Path) -> Result<(), OpenError> {
    fs::DirBuilder::new().recursive(true).mode(0o700).create(dir).map_err(io_err(dir))
}

/// Takes the data directory's lock, so two processes never write one store.
fn lock(data_dir: &Path) -> Result<fs::File, OpenError> {
    let path = data_dir.join(LOCK_FILE);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(io_err(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(OpenError::Locked(data_dir.to_owned())),
        Err(fs::TryLockError::Error(source)) => Err(OpenError::Io { path, source }),
    }
}

/// Reads the root key file, warning if others can read it.
fn read_root_key(path: &Path) -> Result<Option<RootKey>, OpenError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => SecretString::new(t),
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(OpenError::Io { path: path.to_owned(), source: e }),
    };
    if let Ok(meta) = fs::metadata(path)
        && meta.permissions().mode() & 0o077 != 0
    {
        tracing::warn!(file = %path.display(), mode = format!("{:o}", meta.permissions().mode() & 0o777),
            "the root key file is readable by other users; run chmod 600 on it");
    }
    RootKey::from_base64(text.expose_secret())
        .map(Some)
        .map_err(|source| OpenError::RootKeyInvalid { origin: path.display().to_string(), source })
}

/// Writes a new root key file with mode 0600, durably: temp file, fsync, rename, fsync dir.
fn write_root_key(path: &Path, key: &RootKey) -> Result<(), OpenError> {
    let tmp = path.with_extension("key.tmp");
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(io_err(&tmp))?;
    let text = key.to_base64();
    file.write_all(text.expose_secret().as_bytes()).map_err(io_err(&tmp))?;
    file.write_all(b"\n").map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    fs::rename(&tmp, path).map_err(io_err(path))?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))?;
    }
    Ok(())
}

/// Opens hush, initialising it on first start.
pub async fn open(opts: OpenOptions) -> Result<Opened, OpenError> {
    private_dir(&opts.data_dir)?;
    private_dir(&opts.key_dir)?;
    if fs::canonicalize(&opts.data_dir).ok() == fs::canonicalize(&opts.key_dir).ok() {
        tracing::warn!(dir = %opts.data_dir.display(),
            "the data store and the key store share one directory; a copy of it holds both, so keep them apart");
    }
    let lock = lock(&opts.data_dir)?;
    let keys = SqliteKeyStore::open(&opts.key_dir.join(KEYS_FILE)).await?;
    let key_file = opts.key_dir.join(ROOT_KEY_FILE);

    let (root, origin) = match &opts.root_key {
        Some(text) => (
            Some(
                RootKey::from_base64(text.expose_secret())
                    .map_err(|source| OpenError::RootKeyInvalid { origin: "HUSH_ROOT_KEY".into(), source })?,
            ),
            "HUSH_ROOT_KEY".to_owned(),
        ),
        None => (read_root_key(&key_file)?, key_file.display().to_string()),
    };

    let installation = keys.installation().await?;
    let (installation_id, audit_key, root, new_key_file) = match installation {
        Some((id, wrapped)) => {
            let root = root
                .ok_or_else(|| OpenError::RootKeyMissing { key_dir: opts.key_dir.clone(), file: key_file.clone() })?;
            let audit_key = AuditKey::unwrap(&root, &wrapped).map_err(|_| OpenError::WrongRootKey {
                origin: origin.clone(),
                fingerprint: root.fingerprint(),
                key_dir: opts.key_dir.clone(),
            })?;
            (id, audit_key, root, None)
        }
        None => {
            // A fresh key store. Check the data store is fresh too before writing anything.
            let audit_key = AuditKey::generate().map_err(ServiceError::from)?;
            let data = SqliteDataStore::open(&opts.data_dir.join(DATA_FILE), audit_key.clone()).await?;
            if let Some(data_id) = data.installation_id().await? {
                return Err(OpenError::KeysMissing {
                    data_dir: opts.data_dir.clone(),
                    data_id,
                    key_dir: opts.key_dir.clone(),
                });
            }
            data.close().await;
            let (root, written) = match root {
                Some(root) => (root, None),
                None => {
                    let root = RootKey::generate().map_err(ServiceError::from)?;
                    write_root_key(&key_file, &root)?;
                    (root, Some(key_file.clone()))
                }
            };
            let id = random_id().map_err(ServiceError::from)?;
            keys.initialize(&id, &audit_key.wrap(&root).map_err(ServiceError::from)?).await?;
            (id, audit_key, root, written)
        }
    };

    let data = SqliteDataStore::open(&opts.data_dir.join(DATA_FILE), audit_key.clone()).await?;
    let data_id = data.installation_id().await?;
    if let Some(data_id) = &data_id
        && *data_id != installation_id
    {
        return Err(OpenError::Mismatch {
            data_dir: opts.data_dir.clone(),
            data_id: data_id.clone(),
            key_dir: opts.key_dir.clone(),
            key_id: installation_id,
        });
    }
    let hush = Arc::new(Hush::new(Arc::new(data), Arc::new(keys), root, audit_key, opts.config, Some(lock)));
    let first_start = match data_id {
        Some(_) => None,
        None => Some(initialize(&hush, &installation_id, new_key_file).await?),
    };
    Ok(Opened { hush, first_start })
}

/// Creates the `default` namespace and an admin token, then marks the data
/// store initialised. Each step tolerates a previous, interrupted attempt.
async fn initialize(
    hush: &Hush,
    installation_id: &str,
    root_key_file: Option<PathBuf>,
) -> Result<FirstStart, OpenError> {
    let default = NamespaceName::parse("default").expect("a valid name");
    let context = Some("first start".to_owned());
    let mut ns_event = AuditEvent::new(AuditAction::NamespaceCreate, None, context.clone());
    ns_event.namespace = Some(default.to_string());
    match hush.create_namespace_unchecked(&default, ns_event).await {
        Ok(_) | Err(ServiceError::AlreadyExists(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let mut event = AuditEvent::new(AuditAction::Init, None, context);
    let admin = hush
        .issue_token(TokenNamespaces::All, ScopeSet::of([Scope::Admin]), None, "admin (first start)", None, &mut event)
        .await?;
    hush.data.initialize(installation_id).await?;
    tracing::info!(installation = installation_id, admin_token_id = %admin.record.id, "initialised");
    Ok(FirstStart { admin_token: admin.token, root_key_file })
}

/// Whether `data_dir` holds an initialised data store (without opening keys).
pub async fn is_initialized(key_dir: &Path) -> Result<bool, OpenError> {
    if !key_dir.join(KEYS_FILE).exists() {
        return Ok(false);
    }
    let keys = SqliteKeyStore::open(&key_dir.join(KEYS_FILE)).await?;
    let found = keys.installation().await?.is_some();
    keys.close().await;
    Ok(found)
}
