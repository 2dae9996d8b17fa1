//! The PostgreSQL data store, shared by any number of `hush serve` replicas.
//!
//! Every write is one transaction that first takes a transaction-scoped
//! advisory lock: writers on every replica are serialized there, so the
//! audit chain (each event's MAC covers the previous one) stays one chain,
//! and two writes with the same `cas` have exactly one winner. Reads take no
//! lock and see every committed write at once, whichever replica made it
//! (a read that returns a value records it with a write, so it waits its turn).

use std::sync::Arc;

use async_trait::async_trait;
use hush_core::{NamespaceName, SecretName, SecretType};
use hush_crypto::{AUDIT_GENESIS, AuditKey};
use sqlx::postgres::{PgPool, PgRow};
use sqlx::{Postgres, Row, Transaction};

use super::connect::{self, DATA};
use crate::name_range::NameRange;
use crate::rows::{self, Columns};
use crate::write_rules::{prune_at_or_below, put_record, put_slot, record_outcome};
use crate::{
    AuditAction, AuditObserver, AuditQuery, AuditRecord, Conflict, DataStore, KvSettings, Mutation, NamespaceRecord,
    NamespaceRef, Outcome, PutVersion, RoleRecord, SealedVersion, SecretMetadataChange, SecretQuery, SecretRecord,
    StoreError, TokenNamespaces, TokenRecord, VersionChange, VersionRecord, VersionSlot, WriteOutcome, WriteRequest,
    now_millis,
};

pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/postgres/data/0001_initial.sql"),
    include_str!("../../migrations/postgres/data/0002_audit_client_cert.sql"),
    include_str!("../../migrations/postgres/data/0003_audit_refusals.sql"),
    include_str!("../../migrations/postgres/data/0004_login_roles.sql"),
    include_str!("../../migrations/postgres/data/0005_kv_versions.sql"),
];

/// The advisory lock every write holds for its transaction.
const WRITE_LOCK: i64 = 0x6875_7368_0010;

/// The PostgreSQL data store. Cheap to clone; clones share the pool.
#[derive(Debug, Clone)]
pub struct PgDataStore {
    pool: PgPool,
    audit_key: AuditKey,
    observer: Option<Arc<dyn AuditObserver>>,
}

impl PgDataStore {
    /// Connects to `url` (migrating if needed). `audit_key` chains the audit
    /// events this store appends.
    pub async fn open(url: &str, audit_key: AuditKey) -> Result<Self, StoreError> {
        Self::open_observed(url, audit_key, None).await
    }

    /// [`PgDataStore::open`], with audit sinks told of every committed
    /// write before it is answered.
    pub async fn open_observed(
        url: &str,
        audit_key: AuditKey,
        observer: Option<Arc<dyn AuditObserver>>,
    ) -> Result<Self, StoreError> {
        Ok(Self { pool: connect::open(url, DATA, MIGRATIONS).await?, audit_key, observer })
    }
}

fn get<'r, T: sqlx::Decode<'r, Postgres> + sqlx::Type<Postgres>>(
    row: &'r PgRow,
    column: &str,
) -> Result<T, StoreError> {
    row.try_get(column).map_err(|_| rows::undecodable(column))
}

impl Columns for PgRow {
    fn text(&self, column: &str) -> Result<String, StoreError> {
        get(self, column)
    }
    fn opt_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        get(self, column)
    }
    fn int(&self, column: &str) -> Result<i64, StoreError> {
        get(self, column)
    }
    fn opt_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        get(self, column)
    }
    fn bytes(&self, column: &str) -> Result<Vec<u8>, StoreError> {
        get(self, column)
    }
}

impl PgDataStore {
    async fn token_from_row(&self, row: &PgRow) -> Result<TokenRecord, StoreError> {
        let issued: Vec<String> = get::<String>(row, "namespace_ids")?.split_whitespace().map(str::to_owned).collect();
        let namespaces = if get::<i64>(row, "all_namespaces")? != 0 {
            TokenNamespaces::All
        } else {
            let rows = sqlx::query("SELECT id, name FROM namespaces WHERE id = ANY($1) ORDER BY name")
                .bind(&issued)
                .fetch_all(&self.pool)
                .await?;
            let refs = rows
                .iter()
                .map(|r| {
                    Ok(NamespaceRef { id: get(r, "id")?, name: rows::namespace_name(&get::<String>(r, "name")?)? })
                })
                .collect::<Result<Vec<_>, StoreError>>()?;
            TokenNamespaces::Only(refs)
        };
        Ok(TokenRecord {
            hash: get(row, "hash")?,
            description: get(row, "description")?,
            namespaces,
            issued_namespace_ids: issued,
            scopes: rows::scopes(&get::<String>(row, "scopes")?)?,
            created_at: get(row, "created_at")?,
            expires_at: get(row, "expires_at")?,
            revoked_at: get(row, "revoked_at")?,
            created_by: get(row, "created_by")?,
            identity: get(row, "identity")?,
            mac: get(row, "mac")?,
            id: get(row, "id")?,
        })
    }
}

type Tx = Transaction<'static, Postgres>;

async fn namespace_exists(tx: &mut Tx, id: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query("SELECT 1 FROM namespaces WHERE id = $1").bind(id).fetch_optional(&mut **tx).await?.is_some())
}

/// Applies one mutation inside the write transaction. Everything is checked
/// before anything is written, so a refusal leaves only its audit event.
async fn apply(tx: &mut Tx, mutation: &Mutation) -> Result<WriteOutcome, StoreError> {
    match mutation {
        Mutation::AuditOnly => Ok(WriteOutcome::Done),
        Mutation::CreateNamespace(ns) => {
            let taken = sqlx::query("SELECT 1 FROM namespaces WHERE name = $1 OR id = $2")
                .bind(ns.name.as_str())
                .bind(&ns.id)
                .fetch_optional(&mut **tx)
                .await?;
            if taken.is_some() {
                return Err(StoreError::Conflict(Conflict::AlreadyExists));
            }
            sqlx::query("INSERT INTO namespaces (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(&ns.id)
                .bind(ns.name.as_str())
                .bind(ns.created_at)
                .execute(&mut **tx)
                .await?;
            Ok(WriteOutcome::Done)
        }
        Mutation::DeleteNamespace { id } => {
            let deleted = sqlx::query("DELETE FROM namespaces WHERE id = $1").bind(id).execute(&mut **tx).await?;
            if deleted.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(WriteOutcome::Done) }
        }
        Mutation::PutVersion(put) => put_version(tx, put).await,
        Mutation::DeleteSecret { namespace_id, name } => {
            let deleted = sqlx::query("DELETE FROM secrets WHERE namespace_id = $1 AND name = $2")
                .bind(namespace_id)
                .bind(name.as_str())
                .execute(&mut **tx)
                .await?;
            Ok(WriteOutcome::Deleted(deleted.rows_affected() > 0))
        }
        Mutation::RecordRead { secret_id, at } => {
            sqlx::query("UPDATE secrets SET last_read_at = GREATEST(COALESCE(last_read_at, 0), $1) WHERE id = $2")
                .bind(at)
                .bind(secret_id)
                .execute(&mut **tx)
                .await?;
            Ok(WriteOutcome::Done)
        }
        Mutation::CreateToken(t) => {
            for id in &t.issued_namespace_ids {
                if !namespace_exists(tx, id).await? {
                    return Err(StoreError::NotFound);
                }
            }
            sqlx::query(
                "INSERT INTO tokens (id, hash, description, all_namespaces, namespace_ids, scopes, created_at, \
                 expires_at, revoked_at, created_by, identity, mac) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(&t.id)
            .bind(&t.hash)
            .bind(&t.description)
            .bind(i64::from(t.all_namespaces()))
            .bind(t.issued_namespace_ids.join(" "))
            .bind(t.scopes.to_list())
            .bind(t.created_at)
            .bind(t.expires_at)
            .bind(t.revoked_at)
            .bind(&t.created_by)
            .bind(&t.identity)
            .bind(&t.mac)
            .execute(&mut **tx)
            .await?;
            Ok(WriteOutcome::Done)
        }
        Mutation::CreateRole(role) => {
            let inserted = sqlx::query(
                "INSERT INTO login_roles (name, definition, created_at, created_by, mac) VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (name) DO NOTHING",
            )
            .bind(&role.name)
            .bind(&role.definition)
            .bind(role.created_at)
            .bind(&role.created_by)
            .bind(&role.mac)
            .execute(&mut **tx)
            .await?;
            if inserted.rows_affected() == 0 {
                return Err(StoreError::Conflict(Conflict::AlreadyExists));
            }
            Ok(WriteOutcome::Done)
        }
        Mutation::DeleteRole { name } => {
            let deleted = sqlx::query("DELETE FROM login_roles WHERE name = $1").bind(name).execute(&mut **tx).await?;
            if deleted.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(WriteOutcome::Done) }
        }
        Mutation::Rewrap(versions) => {
            let mut replaced = 0;
            for v in versions {
                let done = sqlx::query(
                    "UPDATE secret_versions SET ciphertext = $1, key_version = $2 \
                     WHERE secret_id = $3 AND version = $4 AND key_version = $5",
                )
                .bind(&v.ciphertext)
                .bind(i64::from(v.to_key_version))
                .bind(&v.secret_id)
                .bind(v.version as i64)
                .bind(i64::from(v.from_key_version))
                .execute(&mut **tx)
                .await?;
                replaced += done.rows_affected() as usize;
            }
            Ok(WriteOutcome::Rewrapped(replaced))
        }
        Mutation::PutSecretMetadata(change) => put_secret_metadata(tx, change).await,
        Mutation::ChangeVersions { namespace_id, name, versions, change } => {
            let secret = existing_secret(tx, namespace_id, name.as_str()).await?.ok_or(StoreError::NotFound)?;
            let versions: Vec<i64> = versions.iter().map(|v| *v as i64).collect();
            let query = match change {
                VersionChange::Delete { at } => sqlx::query(
                    "UPDATE secret_versions SET deleted_at = $3 WHERE secret_id = $1 AND version = ANY($2) \
                     AND destroyed = 0 AND (deleted_at IS NULL OR deleted_at > $3)",
                )
                .bind(&secret.id)
                .bind(&versions)
                .bind(at),
                VersionChange::Undelete => sqlx::query(
                    "UPDATE secret_versions SET deleted_at = NULL \
                     WHERE secret_id = $1 AND version = ANY($2) AND destroyed = 0",
                )
                .bind(&secret.id)
                .bind(&versions),
                VersionChange::Destroy => sqlx::query(
                    "UPDATE secret_versions SET destroyed = 1, ciphertext = ''::bytea \
                     WHERE secret_id = $1 AND version = ANY($2)",
                )
                .bind(&secret.id)
                .bind(&versions),
            };
            query.execute(&mut **tx).await?;
            Ok(WriteOutcome::Done)
        }
        Mutation::SetNamespaceKv { id, kv } => {
            let changed = sqlx::query(
                "UPDATE namespaces SET kv_max_versions = $1, kv_cas_required = $2, kv_delete_version_after = $3 \
                 WHERE id = $4",
            )
            .bind(i64::from(kv.max_versions))
            .bind(i64::from(kv.cas_required))
            .bind(kv.delete_version_after)
            .bind(id)
            .execute(&mut **tx)
            .await?;
            if changed.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(WriteOutcome::Done) }
        }
        Mutation::RevokeToken { id, at, mac } => {
            let row =
                sqlx::query("SELECT revoked_at FROM tokens WHERE id = $1").bind(id).fetch_optional(&mut **tx).await?;
            match row.map(|r| get::<Option<i64>>(&r, "revoked_at")).transpose()? {
                None => Err(StoreError::NotFound),
                Some(Some(_)) => Ok(WriteOutcome::Done),
                Some(None) => {
                    sqlx::query("UPDATE tokens SET revoked_at = $1, mac = $2 WHERE id = $3")
                        .bind(at)
                        .bind(mac)
                        .bind(id)
                        .execute(&mut **tx)
                        .await?;
                    Ok(WriteOutcome::Done)
                }
            }
        }
    }
}

/// A namespace's KV defaults, if it exists.
async fn namespace_kv(tx: &mut Tx, id: &str) -> Result<Option<KvSettings>, StoreError> {
    let row = sqlx::query("SELECT * FROM namespaces WHERE id = $1").bind(id).fetch_optional(&mut **tx).await?;
    Ok(row.map(|r| rows::namespace(&r)).transpose()?.map(|ns| ns.kv))
}

async fn existing_secret(tx: &mut Tx, namespace_id: &str, name: &str) -> Result<Option<SecretRecord>, StoreError> {
    sqlx::query("SELECT * FROM secrets WHERE namespace_id = $1 AND name = $2")
        .bind(namespace_id)
        .bind(name)
        .fetch_optional(&mut **tx)
        .await?
        .map(|r| rows::secret(&r))
        .transpose()
}

async fn put_secret_metadata(tx: &mut Tx, c: &SecretMetadataChange) -> Result<WriteOutcome, StoreError> {
    if !namespace_exists(tx, &c.namespace_id).await? {
        return Err(StoreError::NotFound);
    }
    if existing_secret(tx, &c.namespace_id, c.name.as_str()).await?.is_none() {
        sqlx::query(
            "INSERT INTO secrets (namespace_id, name, id, type, version, created_at, updated_at) \
             VALUES ($1, $2, $3, 'generic', 0, $4, $4)",
        )
        .bind(&c.namespace_id)
        .bind(c.name.as_str())
        .bind(&c.new_secret_id)
        .bind(c.at)
        .execute(&mut **tx)
        .await?;
    }
    sqlx::query(
        "UPDATE secrets SET max_versions = COALESCE($1, max_versions), cas_required = COALESCE($2, cas_required), \
         delete_version_after = COALESCE($3, delete_version_after), \
         custom_metadata = COALESCE($4, custom_metadata), updated_at = $5 WHERE namespace_id = $6 AND name = $7",
    )
    .bind(c.max_versions.map(i64::from))
    .bind(c.cas_required.map(i64::from))
    .bind(c.delete_version_after)
    .bind(&c.custom_metadata)
    .bind(c.at)
    .bind(&c.namespace_id)
    .bind(c.name.as_str())
    .execute(&mut **tx)
    .await?;
    Ok(WriteOutcome::Done)
}

async fn put_version(tx: &mut Tx, p: &PutVersion) -> Result<WriteOutcome, StoreError> {
    let namespace_kv = namespace_kv(tx, &p.namespace_id).await?.ok_or(StoreError::NotFound)?;
    let existing = existing_secret(tx, &p.namespace_id, p.name.as_str()).await?;
    let slot = put_slot(existing.as_ref(), namespace_kv, p)?;
    let (secret_id, version) = (slot.secret_id.as_str(), slot.version);
    let ciphertext = (p.seal)(VersionSlot { secret_id, version }).map_err(StoreError::Seal)?;
    if existing.is_none() {
        sqlx::query(
            "INSERT INTO secrets (namespace_id, name, id, type, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, 1, $5, $5)",
        )
        .bind(&p.namespace_id)
        .bind(p.name.as_str())
        .bind(secret_id)
        .bind(p.secret_type.as_str())
        .bind(p.at)
        .execute(&mut **tx)
        .await?;
    } else {
        sqlx::query("UPDATE secrets SET version = $1, updated_at = $2 WHERE id = $3")
            .bind(version as i64)
            .bind(p.at)
            .bind(secret_id)
            .execute(&mut **tx)
            .await?;
    }
    sqlx::query(
        "INSERT INTO secret_versions (secret_id, version, key_version, ciphertext, created_at, deleted_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(secret_id)
    .bind(version as i64)
    .bind(i64::from(p.key_version))
    .bind(&ciphertext)
    .bind(p.at)
    .bind(slot.deleted_at)
    .execute(&mut **tx)
    .await?;
    if let Some(oldest_gone) = prune_at_or_below(version, slot.keep) {
        sqlx::query("DELETE FROM secret_versions WHERE secret_id = $1 AND version <= $2")
            .bind(secret_id)
            .bind(oldest_gone as i64)
            .execute(&mut **tx)
            .await?;
    }
    Ok(WriteOutcome::Secret(put_record(existing, p, slot.secret_id, version)))
}

#[async_trait]
impl DataStore for PgDataStore {
    async fn dump(&self, out: crate::dump::DumpSender) -> Result<(), StoreError> {
        super::dump::dump_tables(&self.pool, crate::dump::StoreKind::Data, &out).await
    }

    async fn installation_id(&self) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT id FROM installation").fetch_optional(&self.pool).await?;
        row.map(|r| get(&r, "id")).transpose()
    }

    async fn initialize(&self, installation_id: &str) -> Result<(), StoreError> {
        let inserted = sqlx::query("INSERT INTO installation (id, created_at) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(installation_id)
            .bind(now_millis())
            .execute(&self.pool)
            .await?;
        if inserted.rows_affected() == 0 {
            return Err(StoreError::Conflict(Conflict::AlreadyExists));
        }
        Ok(())
    }

    async fn write(&self, request: WriteRequest) -> Result<WriteOutcome, StoreError> {
        let mut tx = self.pool.begin().await?;
        // The chain head and cas checks must see every commit made before the
        // lock was granted, whatever the server's default isolation.
        sqlx::query("SET TRANSACTION ISOLATION LEVEL READ COMMITTED").execute(&mut *tx).await?;
        sqlx::query("SELECT pg_advisory_xact_lock($1)").bind(WRITE_LOCK).execute(&mut *tx).await?;
        let head =
            sqlx::query("SELECT seq, mac FROM audit_events ORDER BY seq DESC LIMIT 1").fetch_optional(&mut *tx).await?;
        let (seq, mac): (u64, [u8; 32]) = match head {
            Some(r) => (
                rows::u64_of(get(&r, "seq")?, "audit_events.seq")?,
                get::<Vec<u8>>(&r, "mac")?.as_slice().try_into().unwrap_or(AUDIT_GENESIS),
            ),
            None => (0, AUDIT_GENESIS),
        };
        let result = match apply(&mut tx, &request.mutation).await {
            Err(e @ StoreError::Database(_)) => return Err(e),
            other => other,
        };
        let mut event = request.audit;
        record_outcome(&mut event, &result);
        let seq = seq + 1;
        let mac = self.audit_key.chain(&mac, &event.canonical(seq));
        sqlx::query(
            "INSERT INTO audit_events (seq, at, token_id, action, namespace, namespace_id, name, version, outcome, \
             context, client_cert, client_addr, refused_count, refused_first, refused_last, refused_reasons, \
             identity, reason, mac) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)",
        )
        .bind(seq as i64)
        .bind(event.at)
        .bind(&event.token_id)
        .bind(event.action.as_str())
        .bind(&event.namespace)
        .bind(&event.namespace_id)
        .bind(&event.name)
        .bind(event.version.map(|v| v as i64))
        .bind(event.outcome.as_str())
        .bind(&event.context)
        .bind(&event.client_cert)
        .bind(&event.client_addr)
        .bind(event.refusals.as_ref().map(|r| r.count as i64))
        .bind(event.refusals.as_ref().map(|r| r.first_at))
        .bind(event.refusals.as_ref().map(|r| r.last_at))
        .bind(event.refusals.as_ref().map(|r| r.reasons.clone()))
        .bind(&event.identity)
        .bind(&event.reason)
        .bind(mac.as_slice())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        if let Some(observer) = &self.observer {
            let observer = Arc::clone(observer);
            let record = AuditRecord { seq, event, mac: mac.to_vec() };
            tokio::task::spawn_blocking(move || observer.committed(&[&record]))
                .await
                .map_err(|e| StoreError::Database(Box::new(e)))?
                .map_err(|e| {
                    tracing::error!(error = %e, "the audit sink failed; the call fails");
                    StoreError::AuditSink(e)
                })?;
        }
        result
    }

    async fn namespace(&self, name: &NamespaceName) -> Result<Option<NamespaceRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM namespaces WHERE name = $1")
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| rows::namespace(&r)).transpose()
    }

    async fn namespaces(&self) -> Result<Vec<NamespaceRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM namespaces ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter().map(rows::namespace).collect()
    }

    async fn secret(&self, namespace_id: &str, name: &SecretName) -> Result<Option<SecretRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM secrets WHERE namespace_id = $1 AND name = $2")
            .bind(namespace_id)
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| rows::secret(&r)).transpose()
    }

    async fn sealed_version(
        &self,
        namespace_id: &str,
        name: &SecretName,
        version: Option<u64>,
    ) -> Result<Option<SealedVersion>, StoreError> {
        let row = sqlx::query(
            "SELECT s.*, v.version AS v_version, v.key_version, v.ciphertext, v.created_at AS v_created_at, \
                 v.deleted_at, v.destroyed \
             FROM secrets s JOIN secret_versions v ON v.secret_id = s.id \
             WHERE s.namespace_id = $1 AND s.name = $2 AND v.version = COALESCE($3, s.version)",
        )
        .bind(namespace_id)
        .bind(name.as_str())
        .bind(version.map(|v| v as i64))
        .fetch_optional(&self.pool)
        .await?;
        row.map(|r| rows::sealed(&r)).transpose()
    }

    async fn current_of_type(
        &self,
        namespace_id: &str,
        secret_type: SecretType,
    ) -> Result<Vec<SealedVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.*, v.version AS v_version, v.key_version, v.ciphertext, v.created_at AS v_created_at, \
                 v.deleted_at, v.destroyed \
             FROM secrets s JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.version \
             WHERE s.namespace_id = $1 AND s.type = $2 ORDER BY s.name",
        )
        .bind(namespace_id)
        .bind(secret_type.as_str())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::sealed).collect()
    }

    async fn secrets(&self, namespace_id: &str, query: &SecretQuery) -> Result<Vec<SecretRecord>, StoreError> {
        // Names sort bytewise here too (COLLATE "C"); one lower bound, as
        // for SQLite (name_range.rs), so the page is one index range.
        let NameRange { lower, lower_inclusive, upper } = NameRange::of(query);
        let rows = sqlx::query(if lower_inclusive {
            "SELECT * FROM secrets WHERE namespace_id = $1 AND name >= $2 AND name < $3 ORDER BY name LIMIT $4"
        } else {
            "SELECT * FROM secrets WHERE namespace_id = $1 AND name > $2 AND name < $3 ORDER BY name LIMIT $4"
        })
        .bind(namespace_id)
        .bind(&lower)
        .bind(&upper)
        .bind(i64::from(query.limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::secret).collect()
    }

    async fn stale_versions(
        &self,
        namespace_id: &str,
        key_version: u32,
        limit: u32,
    ) -> Result<Vec<SealedVersion>, StoreError> {
        let rows = sqlx::query(
            "SELECT s.*, v.version AS v_version, v.key_version, v.ciphertext, v.created_at AS v_created_at, \
                 v.deleted_at, v.destroyed \
             FROM secrets s JOIN secret_versions v ON v.secret_id = s.id \
             WHERE s.namespace_id = $1 AND v.key_version < $2 AND v.destroyed = 0 ORDER BY s.name, v.version LIMIT $3",
        )
        .bind(namespace_id)
        .bind(i64::from(key_version))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::sealed).collect()
    }

    async fn count_stale_versions(&self, namespace_id: &str, key_version: u32) -> Result<u64, StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM secrets s JOIN secret_versions v ON v.secret_id = s.id \
             WHERE s.namespace_id = $1 AND v.key_version < $2 AND v.destroyed = 0",
        )
        .bind(namespace_id)
        .bind(i64::from(key_version))
        .fetch_one(&self.pool)
        .await?;
        rows::u64_of(get(&row, "n")?, "count")
    }

    async fn versions(&self, secret_id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT version AS v_version, key_version, created_at, deleted_at, destroyed FROM secret_versions WHERE secret_id = $1 \
             ORDER BY version DESC",
        )
        .bind(secret_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(|r| rows::version(r, "created_at")).collect()
    }

    async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        let row = sqlx::query("SELECT * FROM tokens WHERE id = $1").bind(id).fetch_optional(&self.pool).await?;
        match row {
            Some(r) => Ok(Some(self.token_from_row(&r).await?)),
            None => Ok(None),
        }
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM tokens ORDER BY created_at DESC, id").fetch_all(&self.pool).await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.token_from_row(r).await?);
        }
        Ok(out)
    }

    async fn role(&self, name: &str) -> Result<Option<RoleRecord>, StoreError> {
        let row =
            sqlx::query("SELECT * FROM login_roles WHERE name = $1").bind(name).fetch_optional(&self.pool).await?;
        row.as_ref().map(rows::role).transpose()
    }

    async fn roles(&self) -> Result<Vec<RoleRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM login_roles ORDER BY name").fetch_all(&self.pool).await?;
        rows.iter().map(rows::role).collect()
    }

    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        let before = query.before.map(|b| b.min(i64::MAX as u64) as i64).unwrap_or(i64::MAX);
        let rows = sqlx::query(
            "SELECT * FROM audit_events WHERE seq < $1 \
             AND ($2::text[] IS NULL OR namespace_id = ANY($2)) \
             AND ($3::text IS NULL OR namespace = $3) \
             AND ($4::text IS NULL OR name = $4) \
             AND ($6::text IS NULL OR action = $6) \
             AND ($7::text IS NULL OR outcome = $7) \
             AND ($8::text IS NULL OR token_id = $8) \
             ORDER BY seq DESC LIMIT $5",
        )
        .bind(before)
        .bind(query.namespace_ids.clone())
        .bind(query.namespace.as_ref().map(|n| n.to_string()))
        .bind(query.name.clone())
        .bind(i64::from(query.limit))
        .bind(query.action.map(AuditAction::as_str))
        .bind(query.outcome.map(Outcome::as_str))
        .bind(query.token_id.clone())
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(rows::audit).collect()
    }

    async fn audit_chain(&self, after_seq: u64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2")
            .bind(after_seq as i64)
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(rows::audit).collect()
    }

    async fn audit_head(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        let row = sqlx::query("SELECT seq, mac FROM audit_events ORDER BY seq DESC LIMIT 1")
            .fetch_optional(&self.pool)
            .await?;
        row.map(|r| Ok((rows::u64_of(get(&r, "seq")?, "audit_events.seq")?, get(&r, "mac")?))).transpose()
    }

    async fn audit_oldest(&self) -> Result<Option<u64>, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT MIN(seq) FROM audit_events").fetch_one(&self.pool).await?;
        seq.map(|s| rows::u64_of(s, "audit_events.seq")).transpose()
    }

    async fn audit_first_at_or_after(&self, at: crate::Millis) -> Result<Option<u64>, StoreError> {
        let seq: Option<i64> = sqlx::query_scalar("SELECT seq FROM audit_events WHERE at >= $1 ORDER BY seq LIMIT 1")
            .bind(at)
            .fetch_optional(&self.pool)
            .await?;
        seq.map(|s| rows::u64_of(s, "audit_events.seq")).transpose()
    }

    async fn prune_audit(&self, through_seq: u64, limit: u32) -> Result<u64, StoreError> {
        let done =
            sqlx::query("DELETE FROM audit_events WHERE seq <= $1 AND seq < (SELECT MIN(seq) FROM audit_events) + $2")
                .bind(through_seq as i64)
                .bind(i64::from(limit))
                .execute(&self.pool)
                .await?;
        Ok(done.rows_affected())
    }
}
