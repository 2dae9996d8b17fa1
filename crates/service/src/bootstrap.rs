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

use hush_core::{NamespaceName, RESERVED_NAMESPACES, Scope, ScopeSet, SecretString};
use hush_crypto::{AUDIT_KEY_BINDING, AuditKey, KeyParseError, RootKey, TOKEN_KEY_BINDING, TokenKey, random_id};
use hush_store::postgres::{PgDataStore, PgKeyStore};
use hush_store::sqlite::{DATA_FILE, KEYS_FILE, SqliteDataStore, SqliteKeyStore};
use hush_store::{AuditAction, AuditEvent, DataStore, Installation, KeyStore, StoreError, TokenNamespaces};

use crate::key_wrapper::{KeyWrapper, RootOrigin, TransitConfig, WrapError};
use crate::{Hush, ServiceConfig, ServiceError};

/// File name of the root key inside the key directory.
pub const ROOT_KEY_FILE: &str = "root.key";
/// File name of the lock inside the data directory.
pub const DATA_LOCK_FILE: &str = "hush.lock";
/// File name of the lock inside the key directory.
pub const KEYS_LOCK_FILE: &str = "keys.lock";

/// Where and how to open hush.
#[derive(Debug, Clone)]
pub struct OpenOptions {
    /// Directory of the data store.
    pub data_dir: PathBuf,
    /// Directory of the key store (and, by default, the root key file).
    pub key_dir: PathBuf,
    /// The root key as base64 (`HUSH_ROOT_KEY`); otherwise `root_key_file`,
    /// otherwise the key file in `key_dir`.
    pub root_key: Option<SecretString>,
    /// A file holding the root key as base64, read and never written: a
    /// systemd credential (`LoadCredential=`) or a container secret. Unlike
    /// the key file in `key_dir`, it must exist, even on a first start.
    pub root_key_file: Option<PathBuf>,
    /// Limits and retention.
    pub config: ServiceConfig,
    /// A PostgreSQL URL for the data store instead of SQLite in `data_dir`.
    pub database_url: Option<SecretString>,
    /// A PostgreSQL URL for the key store instead of SQLite in `key_dir`.
    pub keystore_url: Option<SecretString>,
    /// An external KMS (Vault/OpenBao Transit) in place of a root key.
    pub kms: Option<TransitConfig>,
    /// Audit sinks (`--audit-file`, `--audit-stdout`), written before each call is answered.
    pub audit_sinks: Option<Arc<crate::audit_sink::AuditSinks>>,
}

impl OpenOptions {
    /// SQLite stores in these directories, the root key from the key file.
    pub fn in_dirs(data_dir: PathBuf, key_dir: PathBuf, config: ServiceConfig) -> Self {
        OpenOptions {
            data_dir,
            key_dir,
            root_key: None,
            root_key_file: None,
            config,
            database_url: None,
            keystore_url: None,
            kms: None,
            audit_sinks: None,
        }
    }

    /// Whether the root key is given from outside (the variable or a file of
    /// the operator's), so that hush neither writes nor replaces a key file.
    fn root_key_supplied(&self) -> bool {
        self.root_key.is_some() || self.root_key_file.is_some()
    }
}

/// Opens the key store: PostgreSQL if a URL is given, else SQLite in the key directory.
async fn open_keys(opts: &OpenOptions) -> Result<Arc<dyn KeyStore>, OpenError> {
    Ok(match &opts.keystore_url {
        Some(url) => Arc::new(PgKeyStore::open(url.expose_secret()).await?),
        None => Arc::new(SqliteKeyStore::open(&opts.key_dir.join(KEYS_FILE)).await?),
    })
}

/// Opens the data store: PostgreSQL if a URL is given, else SQLite in the data directory.
async fn open_data(opts: &OpenOptions, audit_key: &AuditKey) -> Result<Arc<dyn DataStore>, OpenError> {
    let observer = opts.audit_sinks.clone().map(|s| s as Arc<dyn hush_store::AuditObserver>);
    Ok(match &opts.database_url {
        Some(url) => Arc::new(PgDataStore::open_observed(url.expose_secret(), audit_key.clone(), observer).await?),
        None => {
            Arc::new(SqliteDataStore::open_observed(&opts.data_dir.join(DATA_FILE), audit_key.clone(), observer).await?)
        }
    })
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
    /// Another process holds the data or key directory.
    #[error("another hush process is using {0} (stop it first)")]
    Locked(PathBuf),
    /// The key store is initialised but there is no root key.
    #[error(
        "no root key: the key store in {key_dir} is initialised but {file} does not exist, HUSH_ROOT_KEY is not set \
         and no --root-key-file is given"
    )]
    RootKeyMissing {
        /// Key directory.
        key_dir: PathBuf,
        /// Expected key file.
        file: PathBuf,
    },
    /// The root key file the operator named does not exist.
    #[error(
        "the root key file {0} (--root-key-file) does not exist: hush reads that file but never creates it. \
         Put the installation's root key there (base64 of 32 bytes, e.g. the root.key that hush init wrote; \
         for a new installation `head -c 32 /dev/urandom | base64`)"
    )]
    RootKeyFileMissing(PathBuf),
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
    /// The KMS could not be reached or refused.
    #[error("cannot use {0}; refusing to start")]
    Kms(String),
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
    /// The data store is empty but the key store belongs to an installation in use.
    #[error(
        "the data store in {data_dir} is empty, but the key store in {key_dir} belongs to installation {key_id}, \
         which has been in use; is --data-dir right (or its volume mounted)? Refusing to start a new installation on these keys"
    )]
    DataMissing {
        /// Data directory.
        data_dir: PathBuf,
        /// Key directory.
        key_dir: PathBuf,
        /// The key store's installation.
        key_id: String,
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

/// Takes a directory's lock, so two processes never write one store.
fn lock(dir: &Path, file_name: &str) -> Result<fs::File, OpenError> {
    let path = dir.join(file_name);
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o600)
        .open(&path)
        .map_err(io_err(&path))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(fs::TryLockError::WouldBlock) => Err(OpenError::Locked(dir.to_owned())),
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

/// Writes a new root key file with mode 0600, durably: temp file, fsync,
/// link into place, fsync dir. Never replaces an existing file (two
/// processes starting at once, or a stale key someone still needs): that
/// fails with "already exists".
pub(crate) fn write_root_key(path: &Path, key: &RootKey) -> Result<(), OpenError> {
    let tmp = path.with_extension(format!("key.tmp.{}", std::process::id()));
    let _ = fs::remove_file(&tmp);
    let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp).map_err(io_err(&tmp))?;
    let text = key.to_base64();
    file.write_all(text.expose_secret().as_bytes()).map_err(io_err(&tmp))?;
    file.write_all(b"\n").map_err(io_err(&tmp))?;
    file.sync_all().map_err(io_err(&tmp))?;
    let linked = fs::hard_link(&tmp, path).map_err(io_err(path));
    let _ = fs::remove_file(&tmp);
    linked?;
    if let Some(dir) = path.parent() {
        fs::File::open(dir).and_then(|d| d.sync_all()).map_err(io_err(dir))?;
    }
    Ok(())
}

/// The wrapping key: the KMS when one is configured (no root key anywhere
/// on disk), else the root key from HUSH_ROOT_KEY, the operator's root key
/// file or the key file in the key directory (the last one has none
/// yet on a first start). Also says where it came from, for messages.
pub(crate) fn wrapper_for(opts: &OpenOptions) -> Result<(Option<KeyWrapper>, String), OpenError> {
    let key_file = opts.key_dir.join(ROOT_KEY_FILE);
    Ok(match &opts.kms {
        Some(config) => (
            Some(KeyWrapper::transit(config.clone()).map_err(|e| OpenError::Kms(e.to_string()))?),
            format!("the KMS (transit key {} at {})", config.key, config.addr),
        ),
        None => match (&opts.root_key, &opts.root_key_file) {
            (Some(text), _) => (
                Some(KeyWrapper::Local(
                    RootKey::from_base64(text.expose_secret())
                        .map_err(|source| OpenError::RootKeyInvalid { origin: "HUSH_ROOT_KEY".into(), source })?,
                )),
                "HUSH_ROOT_KEY".to_owned(),
            ),
            (None, Some(file)) => {
                let key = read_root_key(file)?.ok_or_else(|| OpenError::RootKeyFileMissing(file.clone()))?;
                (Some(KeyWrapper::Local(key)), file.display().to_string())
            }
            (None, None) => (read_root_key(&key_file)?.map(KeyWrapper::Local), key_file.display().to_string()),
        },
    })
}

/// A root rotation that stopped after re-wrapping the key store but before
/// renaming `root.key.next` over `root.key` leaves the new key in the
/// `.next` file: if the key file does not open the key store and that one
/// does, it is moved into place.
async fn heal_interrupted_rotation(
    wrapper: Option<KeyWrapper>,
    key_file: &Path,
    installation: &Installation,
) -> Result<Option<KeyWrapper>, OpenError> {
    let next_file = key_file.with_extension("key.next");
    if let Some(current) = &wrapper
        && current.unwrap(&installation.wrapped_audit_key, AUDIT_KEY_BINDING).await.is_ok()
    {
        return Ok(wrapper);
    }
    let Some(next) = read_root_key(&next_file)?.map(KeyWrapper::Local) else { return Ok(wrapper) };
    if next.unwrap(&installation.wrapped_audit_key, AUDIT_KEY_BINDING).await.is_err() {
        return Ok(wrapper);
    }
    fs::rename(&next_file, key_file).map_err(io_err(key_file))?;
    tracing::warn!(file = %key_file.display(), "finished an interrupted root key rotation: the new key is now the key file");
    Ok(Some(next))
}

/// Opens hush, initialising it on first start.
pub async fn open(opts: OpenOptions) -> Result<Opened, OpenError> {
    // SQLite stores are one process's: their directories are locked.
    // PostgreSQL stores are shared by replicas; the key directory is then
    // only where the root key file is (unless HUSH_ROOT_KEY or
    // --root-key-file gives the key).
    let (sqlite_data, sqlite_keys) = (opts.database_url.is_none(), opts.keystore_url.is_none());
    if sqlite_data {
        private_dir(&opts.data_dir)?;
    }
    if sqlite_keys || (!opts.root_key_supplied() && opts.kms.is_none()) {
        private_dir(&opts.key_dir)?;
    }
    let same_dir = fs::canonicalize(&opts.data_dir).ok() == fs::canonicalize(&opts.key_dir).ok();
    if same_dir && sqlite_data && sqlite_keys {
        tracing::warn!(dir = %opts.data_dir.display(),
            "the data store and the key store share one directory; a copy of it holds both, so keep them apart");
    }
    if let (Some(d), Some(k)) = (&opts.database_url, &opts.keystore_url)
        && d.expose_secret() == k.expose_secret()
    {
        tracing::warn!(
            "the data store and the key store share one PostgreSQL database; a copy of it holds both, so keep them apart"
        );
    }
    let mut locks = Vec::new();
    if sqlite_data {
        locks.push(lock(&opts.data_dir, DATA_LOCK_FILE)?);
    }
    if sqlite_keys && !(same_dir && sqlite_data) {
        locks.push(lock(&opts.key_dir, KEYS_LOCK_FILE)?);
    }
    let keys = open_keys(&opts).await?;
    // Replicas on shared stores start one at a time (initialisation included).
    let _start = keys.start_guard().await?;
    let key_file = opts.key_dir.join(ROOT_KEY_FILE);

    let (mut wrapper, origin) = wrapper_for(&opts)?;
    if opts.kms.is_none()
        && !opts.root_key_supplied()
        && let Some(installation) = keys.installation().await?
    {
        wrapper = heal_interrupted_rotation(wrapper, &key_file, &installation).await?;
    }

    let (installation, audit_key, token_key, root, new_key_file) = match keys.installation().await? {
        Some(installation) => {
            let root = wrapper
                .ok_or_else(|| OpenError::RootKeyMissing { key_dir: opts.key_dir.clone(), file: key_file.clone() })?;
            let refused = |e: WrapError| match e {
                WrapError::Kms(reason) => OpenError::Kms(reason),
                _ => OpenError::WrongRootKey {
                    origin: origin.clone(),
                    fingerprint: root.describe(),
                    key_dir: opts.key_dir.clone(),
                },
            };
            let audit_key = AuditKey::from_raw(
                root.unwrap(&installation.wrapped_audit_key, AUDIT_KEY_BINDING).await.map_err(refused)?,
            );
            let token_key = TokenKey::from_raw(
                root.unwrap(&installation.wrapped_token_key, TOKEN_KEY_BINDING).await.map_err(refused)?,
            );
            (installation, audit_key, token_key, root, None)
        }
        None => {
            // A fresh key store. Check the data store is fresh too before writing anything.
            let audit_key = AuditKey::generate().map_err(ServiceError::from)?;
            let data = open_data(&opts, &audit_key).await?;
            if let Some(data_id) = data.installation_id().await? {
                return Err(OpenError::KeysMissing {
                    data_dir: opts.data_dir.clone(),
                    data_id,
                    key_dir: opts.key_dir.clone(),
                });
            }
            // Dropped here; its writer thread ends with it.
            drop(data);
            let token_key = TokenKey::generate().map_err(ServiceError::from)?;
            let kms_error = |e: WrapError| OpenError::Kms(e.to_string());
            // With a KMS, wrap first: an unusable KMS must fail before a root key file is written.
            let (root, written) = match wrapper {
                Some(w) => (w, None),
                None => (KeyWrapper::Local(RootKey::generate().map_err(ServiceError::from)?), Some(key_file.clone())),
            };
            let installation = Installation {
                id: random_id().map_err(ServiceError::from)?,
                wrapped_audit_key: root.wrap(audit_key.raw(), AUDIT_KEY_BINDING).await.map_err(kms_error)?,
                wrapped_token_key: root.wrap(token_key.raw(), TOKEN_KEY_BINDING).await.map_err(kms_error)?,
                completed: false,
            };
            if let (Some(path), KeyWrapper::Local(key)) = (&written, &root) {
                write_root_key(path, key)?;
            }
            keys.initialize(&installation).await?;
            (installation, audit_key, token_key, root, written)
        }
    };

    let data = open_data(&opts, &audit_key).await?;
    match data.installation_id().await? {
        Some(data_id) if data_id != installation.id => {
            return Err(OpenError::Mismatch {
                data_dir: opts.data_dir.clone(),
                data_id,
                key_dir: opts.key_dir.clone(),
                key_id: installation.id,
            });
        }
        // An empty data store beside a key store that has been in use: a
        // missing volume or a wrong --data-dir, not a first start.
        None if installation.completed => {
            return Err(OpenError::DataMissing {
                data_dir: opts.data_dir.clone(),
                key_dir: opts.key_dir.clone(),
                key_id: installation.id,
            });
        }
        _ => {}
    }
    let root_origin = match (&opts.kms, opts.root_key_supplied()) {
        (Some(_), _) => RootOrigin::Kms,
        (None, true) => RootOrigin::Supplied,
        (None, false) if opts.keystore_url.is_some() => RootOrigin::SharedFile(key_file.clone()),
        (None, false) => RootOrigin::File(key_file.clone()),
    };
    let mut hush = Hush::new(data, keys, (root, root_origin), audit_key, token_key, opts.config, locks);
    hush.audit_sinks = opts.audit_sinks.clone();
    let hush = Arc::new(hush);
    let first_start = match hush.data.installation_id().await? {
        Some(_) => {
            if !installation.completed {
                hush.keys.mark_completed().await?;
            }
            None
        }
        None => Some(initialize(&hush, &installation.id, new_key_file).await?),
    };
    ensure_registry_scopes(&hush).await?;
    Ok(Opened { hush, first_start })
}

/// Creates the `default` namespace and an admin token, then marks both
/// stores initialised. Each step tolerates a previous, interrupted attempt.
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
    let admin_token = issue_admin_token(hush, "admin (first start)", "first start").await?;
    hush.data.initialize(installation_id).await?;
    hush.keys.mark_completed().await?;
    tracing::info!(installation = installation_id, "initialised");
    Ok(FirstStart { admin_token, root_key_file })
}

/// Creates the rows (and keys) of the two registry scopes, `global` and
/// `global-private`, where they do not exist yet: at the first start, and
/// on installations made before registries existed.
async fn ensure_registry_scopes(hush: &Hush) -> Result<(), OpenError> {
    for scope in RESERVED_NAMESPACES {
        let name = NamespaceName::parse(scope).expect("a valid name");
        if hush.data.namespace(&name).await?.is_some() {
            continue;
        }
        let mut event = AuditEvent::new(AuditAction::NamespaceCreate, None, Some("registry scope".to_owned()));
        event.namespace = Some(name.to_string());
        match hush.create_namespace_unchecked(&name, event).await {
            Ok(_) | Err(ServiceError::AlreadyExists(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Issues a token bound to all namespaces with the `admin` scope, audited
/// as `init` with `context`.
async fn issue_admin_token(hush: &Hush, description: &str, context: &str) -> Result<SecretString, OpenError> {
    let mut event = AuditEvent::new(AuditAction::Init, None, Some(context.to_owned()));
    let admin = hush
        .issue_token(
            TokenNamespaces::All,
            ScopeSet::of([Scope::Admin]),
            None,
            description,
            crate::tokens::TokenOrigin::Issued { by: None },
            &mut event,
        )
        .await?;
    tracing::info!(admin_token_id = %admin.record.id, context, "issued an admin token");
    Ok(admin.token)
}

/// Opens an initialised installation (the server must be stopped: it takes
/// the same locks) and issues a new admin token, for when the first one was
/// lost. Holding the root key and both directories is what authorises this.
pub async fn recover_admin_token(opts: OpenOptions) -> Result<SecretString, OpenError> {
    let opened = open(opts).await?;
    if let Some(first) = opened.first_start {
        return Ok(first.admin_token);
    }
    issue_admin_token(&opened.hush, "admin (recovered)", "admin token recovery").await
}
