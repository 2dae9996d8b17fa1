//! Restoring a backup into fresh stores, SQLite or PostgreSQL, whichever
//! backend the backup came from; then opening them to prove they work with
//! the root key or KMS the options name.
//!
//! A version-2 backup ([`crate::backup_format`]) is read frame by frame
//! and loaded in batches, all or nothing per store: SQLite files are built
//! beside their place and renamed into it at the end, PostgreSQL loads in
//! one transaction. Every table's row count is checked against the count
//! the backup announced, and the file must end with its last frame, so a
//! cut or spliced file is refused, not half-restored. Version-1 backups
//! (`HUSHBAK1`, SQLite snapshots) still restore onto SQLite directories.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::Path;

use hush_crypto::envelope;
use hush_store::dump::{Cell, StoreKind, StoreLoader, TABLES, table_index};
use hush_store::postgres::PgLoader;
use hush_store::sqlite::{DATA_FILE, KEYS_FILE, SqliteLoader};
use hush_store::{Conflict, StoreError};
use serde_json::Value;
use zeroize::Zeroizing;

use crate::backup_format::{self, MAX_FRAME, decode_row, frame_binding};
use crate::bootstrap::{OpenError, OpenOptions, open, wrapper_for};

/// The first bytes of a version-1 backup.
const V1_MAGIC: &[u8; 8] = b"HUSHBAK1";
const V1_KEY_BINDING: &[u8] = b"hush/backup-key/v1";
/// A wrapped backup key is under 100 bytes (root key) or a KMS ciphertext
/// of a few hundred; a longer length is damage, not a key.
const MAX_WRAPPED_KEY: usize = 4096;
/// Rows loaded per batch.
const BATCH: usize = 2_000;

/// What a restore put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreReport {
    /// The installation restored.
    pub installation_id: String,
    /// Namespaces in it (registry scopes not counted).
    pub namespaces: usize,
    /// Rows restored, by table (`keys.installation`, `data.secrets`, …); empty for a version-1 backup.
    pub rows: Vec<(String, u64)>,
}

/// How far a restore is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreProgress {
    /// A table with this many rows is next.
    Table(u64),
    /// This many more rows are in.
    Rows(u64),
}

/// Why a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    /// The file is not a hush backup, or is damaged.
    #[error("{0}")]
    Bad(&'static str),
    /// The backup's content does not fit (a row of the wrong shape, a count that does not match).
    #[error("the backup is damaged: {0}")]
    Damaged(String),
    /// The target already holds a store.
    #[error("{0} already holds a store; restore onto fresh directories or empty databases")]
    NotEmpty(String),
    /// Reading the file failed.
    #[error("cannot read the backup: {0}")]
    Read(#[source] io::Error),
    /// Loading into a store failed.
    #[error("cannot load the {0} store: {1}")]
    Load(&'static str, #[source] StoreError),
    /// Opening the restored installation failed (wrong root key, KMS, …).
    #[error(transparent)]
    Open(#[from] OpenError),
}

/// Reads exactly `buf.len()` bytes; `Ok(false)` at a clean end of file before any.
fn read_or_end(file: &mut impl Read, buf: &mut [u8]) -> Result<bool, RestoreError> {
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Ok(false),
            Ok(0) => return Err(RestoreError::Bad("the backup is cut off (it does not end with its last frame)")),
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(RestoreError::Read(e)),
        }
    }
    Ok(true)
}

fn read_exact(file: &mut impl Read, buf: &mut [u8]) -> Result<(), RestoreError> {
    if read_or_end(file, buf)? {
        Ok(())
    } else {
        Err(RestoreError::Bad("the backup is cut off (it does not end with its last frame)"))
    }
}

/// Writes the backup in `file` into the (fresh) stores `opts` names, then
/// opens them. `progress` hears how far it is.
pub async fn restore(
    file: &mut (impl Read + Send),
    opts: OpenOptions,
    progress: &mut (dyn FnMut(RestoreProgress) + Send),
) -> Result<RestoreReport, RestoreError> {
    let mut magic = [0u8; 8];
    read_exact(file, &mut magic).map_err(|_| RestoreError::Bad("not a hush backup"))?;
    let rows = match &magic {
        backup_format::MAGIC => restore_rows(file, &opts, progress).await?,
        V1_MAGIC => {
            let mut rest = Zeroizing::new(Vec::new());
            file.read_to_end(&mut rest).map_err(RestoreError::Read)?;
            restore_v1(&rest, &opts).await?;
            Vec::new()
        }
        _ => return Err(RestoreError::Bad("not a hush backup")),
    };
    let opened = open(opts).await?;
    let installation_id = opened.hush.data.installation_id().await.map_err(OpenError::from)?.unwrap_or_default();
    let namespaces =
        opened.hush.data.namespaces().await.map_err(OpenError::from)?.iter().filter(|n| !n.name.is_reserved()).count();
    Ok(RestoreReport { installation_id, namespaces, rows })
}

/// The backup key, unwrapped by the root key or KMS of `opts`.
async fn backup_key(wrapped: &[u8], binding: &[u8], opts: &OpenOptions) -> Result<Zeroizing<[u8; 32]>, RestoreError> {
    let (wrapper, origin) = wrapper_for(opts)?;
    let wrapper = wrapper.ok_or(RestoreError::Bad(
        "no root key: put the installation's root.key in --key-dir, or set HUSH_ROOT_KEY or --root-key-file, or name its KMS",
    ))?;
    wrapper.unwrap(wrapped, binding).await.map_err(|e| {
        tracing::warn!(origin = %origin, error = %e, "the backup key does not unwrap");
        RestoreError::Bad("the backup does not open with this root key or KMS (another installation's, or damaged)")
    })
}

/// Where each store goes: SQLite files must not exist yet (PostgreSQL's
/// loader checks its tables itself). Checked before anything is written.
fn check_sqlite_targets(opts: &OpenOptions) -> Result<(), RestoreError> {
    let targets = [
        (opts.database_url.is_none(), &opts.data_dir, DATA_FILE),
        (opts.keystore_url.is_none(), &opts.key_dir, KEYS_FILE),
    ];
    for (_, dir, file) in targets.iter().filter(|(sqlite, _, _)| *sqlite) {
        let journal = hush_store::sqlite::journal_files(&dir.join(file));
        let sqlite = ["", "-wal", "-shm"].map(|suffix| dir.join(format!("{file}{suffix}")));
        if sqlite.iter().chain(&journal).any(|p| p.exists()) {
            return Err(RestoreError::NotEmpty(dir.display().to_string()));
        }
    }
    for (_, dir, _) in targets.iter().filter(|(sqlite, _, _)| *sqlite) {
        fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|source| OpenError::Io { path: dir.to_path_buf(), source })?;
    }
    Ok(())
}

async fn loader(opts: &OpenOptions, store: StoreKind) -> Result<Box<dyn StoreLoader>, RestoreError> {
    let (url, dir, file, name) = match store {
        StoreKind::Data => (&opts.database_url, &opts.data_dir, DATA_FILE, "data"),
        StoreKind::Keys => (&opts.keystore_url, &opts.key_dir, KEYS_FILE, "key"),
    };
    let refused = |e: StoreError, shown: String| match e {
        StoreError::Conflict(Conflict::AlreadyExists) => RestoreError::NotEmpty(shown),
        other => RestoreError::Load(name, other),
    };
    Ok(match url {
        Some(url) => {
            let shown = hush_store::postgres::redacted_url(url.expose_secret());
            Box::new(PgLoader::begin(url.expose_secret(), store).await.map_err(|e| refused(e, shown))?)
        }
        None => {
            Box::new(SqliteLoader::create(&dir.join(file), store).map_err(|e| refused(e, dir.display().to_string()))?)
        }
    })
}

/// A table being read: its position, the rows announced, the rows seen.
struct Current {
    table: usize,
    announced: u64,
    seen: u64,
    batch: Vec<Vec<Cell>>,
}

struct Loaders {
    data: Box<dyn StoreLoader>,
    keys: Box<dyn StoreLoader>,
}

impl Loaders {
    async fn load(&mut self, table: usize, rows: Vec<Vec<Cell>>) -> Result<(), RestoreError> {
        match TABLES[table].store {
            StoreKind::Data => self.data.load(table, rows).await.map_err(|e| RestoreError::Load("data", e)),
            StoreKind::Keys => self.keys.load(table, rows).await.map_err(|e| RestoreError::Load("key", e)),
        }
    }
}

async fn restore_rows(
    file: &mut (impl Read + Send),
    opts: &OpenOptions,
    progress: &mut (dyn FnMut(RestoreProgress) + Send),
) -> Result<Vec<(String, u64)>, RestoreError> {
    let mut length = [0u8; 4];
    read_exact(file, &mut length)?;
    let length = u32::from_be_bytes(length) as usize;
    if length > MAX_WRAPPED_KEY {
        return Err(RestoreError::Bad("the backup is damaged (its key is too long)"));
    }
    let mut wrapped = vec![0u8; length];
    read_exact(file, &mut wrapped)?;
    let key = backup_key(&wrapped, backup_format::KEY_BINDING, opts).await?;
    check_sqlite_targets(opts)?;
    let mut loaders =
        Loaders { data: loader(opts, StoreKind::Data).await?, keys: loader(opts, StoreKind::Keys).await? };

    let mut header_seen = false;
    let mut current: Option<Current> = None;
    let mut done: Vec<(String, u64)> = Vec::new();
    let mut pending = Zeroizing::new(Vec::new()); // a line that crosses frames
    for number in 0u64.. {
        let mut head = [0u8; 5];
        if !read_or_end(file, &mut head)? {
            return Err(RestoreError::Bad("the backup is cut off (it does not end with its last frame)"));
        }
        let last = match head[0] {
            0 => false,
            1 => true,
            _ => return Err(RestoreError::Bad("the backup has a damaged frame")),
        };
        let size = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        if size > MAX_FRAME {
            return Err(RestoreError::Bad("the backup has a damaged frame"));
        }
        let mut sealed = vec![0u8; size];
        read_exact(file, &mut sealed)?;
        let plain = envelope::open(&key, &frame_binding(number, last), &sealed)
            .map_err(|_| RestoreError::Bad("the backup is damaged (a frame does not authenticate)"))?;
        pending.extend_from_slice(plain.expose_secret());
        let complete = pending.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let lines: Zeroizing<Vec<u8>> = Zeroizing::new(pending.drain(..complete).collect());
        for line in lines.split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
            let value: Value =
                serde_json::from_slice(line).map_err(|_| RestoreError::Damaged("a line is not JSON".into()))?;
            if !header_seen {
                if value.get("hush_backup").and_then(Value::as_u64) != Some(2) {
                    return Err(RestoreError::Damaged("it does not start with its header".into()));
                }
                header_seen = true;
                continue;
            }
            if value.is_array() {
                let cur = current.as_mut().ok_or_else(|| RestoreError::Damaged("a row before its table".into()))?;
                let spec = &TABLES[cur.table];
                let cells = decode_row(spec, &value)
                    .ok_or_else(|| RestoreError::Damaged(format!("a row of {} does not fit its columns", spec.name)))?;
                cur.batch.push(cells);
                cur.seen += 1;
                if cur.batch.len() >= BATCH {
                    let n = cur.batch.len() as u64;
                    loaders.load(cur.table, std::mem::take(&mut cur.batch)).await?;
                    progress(RestoreProgress::Rows(n));
                }
                continue;
            }
            if let Some(cur) = current.take() {
                close_table(cur, &mut loaders, &mut done, progress).await?;
            }
            current = Some(open_table(&value, &done)?);
            progress(RestoreProgress::Table(current.as_ref().map_or(0, |c| c.announced)));
        }
        if last {
            break;
        }
    }
    if !pending.is_empty() || !header_seen {
        return Err(RestoreError::Damaged("it ends inside a line".into()));
    }
    let mut trailing = [0u8; 1];
    if read_or_end(file, &mut trailing)? {
        return Err(RestoreError::Bad("the backup has data after its last frame"));
    }
    if let Some(cur) = current.take() {
        close_table(cur, &mut loaders, &mut done, progress).await?;
    }
    if done.len() != TABLES.len() {
        return Err(RestoreError::Damaged(format!("it holds {} of {} tables", done.len(), TABLES.len())));
    }
    // Both made durable first; then the data store, then the key store
    // (the key store's installation is what makes a store exist). If the
    // key store's commit fails, the data store is emptied again.
    loaders.data.prepare().await.map_err(|e| RestoreError::Load("data", e))?;
    loaders.keys.prepare().await.map_err(|e| RestoreError::Load("key", e))?;
    loaders.data.commit().await.map_err(|e| RestoreError::Load("data", e))?;
    if let Err(e) = loaders.keys.commit().await {
        if let Err(undo) = loaders.data.undo_commit().await {
            tracing::error!(error = %undo, "the restored data store could not be emptied again; empty it before retrying");
        }
        return Err(RestoreError::Load("key", e));
    }
    Ok(done)
}

/// Reads a table line (`{"table", "store", "rows"}`); each table comes once, in order.
fn open_table(value: &Value, done: &[(String, u64)]) -> Result<Current, RestoreError> {
    let damaged = || RestoreError::Damaged("a line is neither a table nor a row".into());
    let name = value.get("table").and_then(Value::as_str).ok_or_else(damaged)?;
    let named = value.get("store").and_then(Value::as_str);
    let store =
        [StoreKind::Data, StoreKind::Keys].into_iter().find(|s| Some(s.as_str()) == named).ok_or_else(damaged)?;
    let announced = value.get("rows").and_then(Value::as_u64).ok_or_else(damaged)?;
    let table = table_index(store, name).ok_or_else(|| RestoreError::Damaged(format!("unknown table {name}")))?;
    if table != done.len() {
        return Err(RestoreError::Damaged(format!("table {name} out of order")));
    }
    Ok(Current { table, announced, seen: 0, batch: Vec::new() })
}

async fn close_table(
    mut cur: Current,
    loaders: &mut Loaders,
    done: &mut Vec<(String, u64)>,
    progress: &mut (dyn FnMut(RestoreProgress) + Send),
) -> Result<(), RestoreError> {
    let spec = &TABLES[cur.table];
    if cur.seen != cur.announced {
        return Err(RestoreError::Damaged(format!(
            "{} has {} rows where {} were announced",
            spec.name, cur.seen, cur.announced
        )));
    }
    if !cur.batch.is_empty() {
        let n = cur.batch.len() as u64;
        loaders.load(cur.table, std::mem::take(&mut cur.batch)).await?;
        progress(RestoreProgress::Rows(n));
    }
    done.push((format!("{}.{}", spec.store.as_str(), spec.name), cur.seen));
    Ok(())
}

/// A version-1 backup (`HUSHBAK1`, after its magic): SQLite snapshots of
/// both stores, written into fresh SQLite directories.
async fn restore_v1(rest: &[u8], opts: &OpenOptions) -> Result<(), RestoreError> {
    if opts.database_url.is_some() || opts.keystore_url.is_some() {
        return Err(RestoreError::Bad(
            "a version-1 backup restores onto SQLite directories only: restore it there, then take a new backup \
             (version 2) to move to PostgreSQL",
        ));
    }
    let (len, rest) = rest.split_first_chunk::<4>().ok_or(RestoreError::Bad("the backup is truncated"))?;
    let len = u32::from_be_bytes(*len) as usize;
    if rest.len() < len {
        return Err(RestoreError::Bad("the backup is truncated"));
    }
    let (wrapped, sealed) = rest.split_at(len);
    let backup_key = backup_key(wrapped, V1_KEY_BINDING, opts).await?;
    let plain = envelope::open(&backup_key, V1_MAGIC, sealed)
        .map_err(|_| RestoreError::Bad("the backup is damaged (it does not authenticate)"))?;
    let parts = unframed(plain.expose_secret()).ok_or(RestoreError::Bad("the backup is damaged"))?;
    let [data, keys] = parts[..] else { return Err(RestoreError::Bad("the backup is damaged")) };
    check_sqlite_targets(opts)?;
    for (dir, file, bytes) in [(&opts.data_dir, DATA_FILE, data), (&opts.key_dir, KEYS_FILE, keys)] {
        let path = dir.join(file);
        write_new(&path, dir, bytes).map_err(|source| OpenError::Io { path: path.clone(), source })?;
    }
    Ok(())
}

fn write_new(path: &Path, dir: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut f = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(path)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    fs::File::open(dir)?.sync_all()
}

/// Version 1's framing: each part behind its length (u64).
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
