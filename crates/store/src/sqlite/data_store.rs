//! The SQLite data store: a pool of read-only connections for reads, and one
//! writer connection behind a group-commit queue for every change.

use std::path::Path;

use async_trait::async_trait;
use hush_core::{NamespaceName, SecretName};
use hush_crypto::AuditKey;
use sqlx::sqlite::{SqlitePool, SqlitePoolOptions, SqliteRow};
use sqlx::{ConnectOptions, Row};
use tokio::sync::{mpsc, oneshot};

use super::connect::{migrator, options};
use super::group_commit::{self, Job};
use super::rows::{self, get};
use crate::{
    AuditQuery, AuditRecord, DataStore, NamespaceRecord, NamespaceRef, SealedVersion, SecretQuery, SecretRecord,
    StoreError, TokenNamespaces, TokenRecord, VersionRecord, WriteOutcome, WriteRequest,
};

const MIGRATIONS: &[(i64, &str, &str)] = &[(1, "initial", include_str!("../../migrations/data/0001_initial.sql"))];

/// How many requests wait for the writer before new ones are pushed back on.
const QUEUE_DEPTH: usize = 4096;

/// The SQLite data store. Cheap to clone; clones share the pool and writer.
#[derive(Debug, Clone)]
pub struct SqliteDataStore {
    read: SqlitePool,
    writer: mpsc::Sender<Job>,
}

impl SqliteDataStore {
    /// Opens (creating and migrating if needed) the data store at `path`.
    /// `audit_key` chains the audit events this store appends.
    pub async fn open(path: &Path, audit_key: AuditKey) -> Result<Self, StoreError> {
        let opts = options(path);
        let mut conn = opts.connect().await?;
        migrator(MIGRATIONS).run(&mut conn).await?;
        let readers = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2).clamp(2, 8) as u32 * 2;
        let read = SqlitePoolOptions::new()
            .max_connections(readers)
            .min_connections(1)
            .connect_with(opts.read_only(true))
            .await?;
        let (writer, rx) = mpsc::channel(QUEUE_DEPTH);
        tokio::spawn(group_commit::run(conn, rx, audit_key));
        Ok(Self { read, writer })
    }

    /// Closes the pool; the writer stops once every clone is dropped.
    pub async fn close(&self) {
        self.read.close().await;
    }

    async fn token_namespaces(&self, token_id: &str) -> Result<Vec<NamespaceRef>, StoreError> {
        let rows = sqlx::query(
            "SELECT n.id, n.name FROM token_namespaces t JOIN namespaces n ON n.id = t.namespace_id \
             WHERE t.token_id = ? ORDER BY n.name",
        )
        .bind(token_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(NamespaceRef {
                    id: get(r, "id")?,
                    name: NamespaceName::parse(&get::<String>(r, "name")?)
                        .map_err(|_| StoreError::corrupt("namespaces.name is not a valid name"))?,
                })
            })
            .collect()
    }

    async fn token_from_row(&self, row: &SqliteRow) -> Result<TokenRecord, StoreError> {
        let id: String = get(row, "id")?;
        let namespaces = if get::<i64>(row, "all_namespaces")? != 0 {
            TokenNamespaces::All
        } else {
            TokenNamespaces::Only(self.token_namespaces(&id).await?)
        };
        Ok(TokenRecord {
            hash: get(row, "hash")?,
            description: get(row, "description")?,
            namespaces,
            scopes: rows::scopes(&get::<String>(row, "scopes")?)?,
            created_at: get(row, "created_at")?,
            expires_at: get(row, "expires_at")?,
            revoked_at: get(row, "revoked_at")?,
            created_by: get(row, "created_by")?,
            id,
        })
    }
}

/// Names sort bytewise and use only `[A-Za-z0-9._/-]`, all below DEL, so
/// `prefix <= name < prefix || DEL` selects a prefix through the primary key.
const AFTER_ALL_NAME_CHARACTERS: char = '\u{7f}';

#[async_trait]
impl DataStore for SqliteDataStore {
    async fn installation_id(&self) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT id FROM installation").fetch_optional(&self.read).await?;
        row.map(|r| get(&r, "id")).transpose()
    }

    async fn initialize(&self, installation_id: &str) -> Result<(), StoreError> {
        group_commit::submit_initialize(&self.writer, installation_id.to_owned()).await
    }

    async fn write(&self, request: WriteRequest) -> Result<WriteOutcome, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.writer.send(Job::Write { request, reply }).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn namespace(&self, name: &NamespaceName) -> Result<Option<NamespaceRecord>, StoreError> {
        let row = sqlx::query("SELECT id, name, created_at FROM namespaces WHERE name = ?")
            .bind(name.as_str())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(rows::namespace).transpose()
    }

    async fn namespaces(&self) -> Result<Vec<NamespaceRecord>, StoreError> {
        let rows =
            sqlx::query("SELECT id, name, created_at FROM namespaces ORDER BY name").fetch_all(&self.read).await?;
        rows.iter().map(rows::namespace).collect()
    }

    async fn secret(&self, namespace_id: &str, name: &SecretName) -> Result<Option<SecretRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM secrets WHERE namespace_id = ? AND name = ?")
            .bind(namespace_id)
            .bind(name.as_str())
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(rows::secret).transpose()
    }

    async fn sealed_version(
        &self,
        namespace_id: &str,
        name: &SecretName,
        version: Option<u64>,
    ) -> Result<Option<SealedVersion>, StoreError> {
        let row = sqlx::query(
            "SELECT s.*, v.version AS v_version, v.key_version, v.ciphertext, v.created_at AS v_created_at \
             FROM secrets s JOIN secret_versions v ON v.secret_id = s.id \
             WHERE s.namespace_id = ? AND s.name = ? AND v.version = COALESCE(?, s.version)",
        )
        .bind(namespace_id)
        .bind(name.as_str())
        .bind(version.map(|v| v as i64))
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        Ok(Some(SealedVersion {
            secret: rows::secret(&row)?,
            version: rows::version(&row, "v_created_at")?,
            ciphertext: get(&row, "ciphertext")?,
        }))
    }

    async fn secrets(&self, namespace_id: &str, query: &SecretQuery) -> Result<Vec<SecretRecord>, StoreError> {
        let prefix = query.prefix.clone().unwrap_or_default();
        let upper = format!("{prefix}{AFTER_ALL_NAME_CHARACTERS}");
        let rows = sqlx::query(
            "SELECT * FROM secrets WHERE namespace_id = ? AND name >= ? AND name < ? AND name > ? \
             ORDER BY name LIMIT ?",
        )
        .bind(namespace_id)
        .bind(&prefix)
        .bind(&upper)
        .bind(query.after.as_deref().unwrap_or(""))
        .bind(i64::from(query.limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(rows::secret).collect()
    }

    async fn versions(&self, secret_id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT version AS v_version, key_version, created_at FROM secret_versions \
             WHERE secret_id = ? ORDER BY version DESC",
        )
        .bind(secret_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(|r| rows::version(r, "created_at")).collect()
    }

    async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM tokens WHERE id = ?").bind(id).fetch_optional(&self.read).await?;
        match row {
            Some(row) => Ok(Some(self.token_from_row(&row).await?)),
            None => Ok(None),
        }
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM tokens ORDER BY created_at DESC, id").fetch_all(&self.read).await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.token_from_row(row).await?);
        }
        Ok(out)
    }

    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        // The namespace filter is a list of names; SQLite has no array binding,
        // so it is passed as JSON and unpacked with json_each. Namespace names
        // are validated to [A-Za-z0-9._-], so quoting them needs no escaping.
        let namespaces = query.namespaces.as_ref().map(|list| {
            let quoted: Vec<String> = list.iter().map(|n| format!("\"{n}\"")).collect();
            format!("[{}]", quoted.join(","))
        });
        let rows = sqlx::query(
            "SELECT * FROM audit_events WHERE seq < ? \
             AND (? IS NULL OR namespace IN (SELECT value FROM json_each(?))) \
             AND (? IS NULL OR name = ?) \
             ORDER BY seq DESC LIMIT ?",
        )
        .bind(query.before.map(|b| b as i64).unwrap_or(i64::MAX))
        .bind(namespaces.as_deref())
        .bind(namespaces.as_deref())
        .bind(query.name.as_deref())
        .bind(query.name.as_deref())
        .bind(i64::from(query.limit))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(rows::audit).collect()
    }

    async fn audit_chain(&self, after_seq: u64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_events WHERE seq > ? ORDER BY seq LIMIT ?")
            .bind(after_seq as i64)
            .bind(i64::from(limit))
            .fetch_all(&self.read)
            .await?;
        rows.iter().map(rows::audit).collect()
    }

    async fn audit_head(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let row = sqlx::query("SELECT seq, mac FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.read)
            .await?;
        match row {
            Some(r) => Ok(Some((rows::u64_of(r.try_get("seq")?, "audit_events.seq")?, r.try_get("mac")?))),
            None => Ok(None),
        }
    }
}
