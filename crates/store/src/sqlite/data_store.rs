//! The SQLite data store: pooled read-only connections for reads, and one
//! writer thread behind a group-commit queue for every change (with the
//! audit journal beside the database file for events that change nothing
//! else).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use hush_core::{NamespaceName, SecretName, SecretType};
use hush_crypto::AuditKey;
use rusqlite::{OptionalExtension, params};
use tokio::sync::{mpsc, oneshot};

use super::audit_dictionary::{lookup_namespaces, lookup_text};
use super::checkpointer::{CHECKPOINT_AT, Checkpointer};
use super::connect::{Access, migrate, open};
use super::current_versions::CurrentVersions;
use super::group_commit::{Job, Writer};
use super::read_pool::ReadPool;
use super::recent_reads::RecentReads;
use super::rows::{self, collect, collect_into, get};
use crate::name_range::NameRange;
use crate::{
    AuditAction, AuditObserver, AuditQuery, AuditRecord, DataStore, NamespaceRecord, NamespaceRef, Outcome, RoleRecord,
    SealedVersion, SecretQuery, SecretRecord, StoreError, TokenNamespaces, TokenRecord, VersionRecord, WriteOutcome,
    WriteRequest,
};

pub(crate) const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/data/0001_initial.sql"),
    include_str!("../../migrations/data/0002_audit_client_cert.sql"),
    include_str!("../../migrations/data/0003_audit_refusals.sql"),
    include_str!("../../migrations/data/0004_login_roles.sql"),
    include_str!("../../migrations/data/0005_kv_versions.sql"),
    include_str!("../../migrations/data/0006_compact_audit.sql"),
    include_str!("../../migrations/data/0007_audit_prune_action.sql"),
];

/// How many requests wait for the writer before new ones are pushed back on.
const QUEUE_DEPTH: usize = 4096;

/// The SQLite data store. Cheap to clone; clones share the pool and writer,
/// and the writer thread ends when the last clone is dropped.
#[derive(Debug, Clone)]
pub struct SqliteDataStore {
    read: Arc<ReadPool>,
    writer: mpsc::Sender<Job>,
    recent_reads: Arc<RecentReads>,
    current: Arc<CurrentVersions>,
}

impl SqliteDataStore {
    /// Opens (creating and migrating if needed) the data store at `path`.
    /// `audit_key` chains the audit events this store appends.
    pub async fn open(path: &Path, audit_key: AuditKey) -> Result<Self, StoreError> {
        Self::open_observed(path, audit_key, None).await
    }

    /// [`SqliteDataStore::open`], with audit sinks told of every committed
    /// batch before it is answered.
    pub async fn open_observed(
        path: &Path,
        audit_key: AuditKey,
        observer: Option<Arc<dyn AuditObserver>>,
    ) -> Result<Self, StoreError> {
        Self::open_with(path, audit_key, observer, CHECKPOINT_AT)
    }

    /// [`SqliteDataStore::open`], with the write-ahead log copied back into
    /// the database file whenever a commit leaves it at `log_pages` pages
    /// or more, instead of hush's 16,000 (tests of the log's length use it
    /// to keep their writes small).
    pub async fn open_with_log_pages(path: &Path, audit_key: AuditKey, log_pages: u32) -> Result<Self, StoreError> {
        Self::open_with(path, audit_key, None, log_pages)
    }

    fn open_with(
        path: &Path,
        audit_key: AuditKey,
        observer: Option<Arc<dyn AuditObserver>>,
        log_pages: u32,
    ) -> Result<Self, StoreError> {
        let mut conn = open(path, Access::ReadWrite, false)?;
        migrate(&mut conn, path, MIGRATIONS)?;
        let recent_reads = Arc::new(RecentReads::default());
        let current = Arc::new(CurrentVersions::default());
        let (writer, rx) = mpsc::channel(QUEUE_DEPTH);
        let checkpointer = match open(path, Access::ReadWrite, false)
            .and_then(|c| Checkpointer::spawn(c, log_pages).map_err(|e| StoreError::Database(Box::new(e))))
        {
            Ok(checkpointer) => {
                checkpointer.watch(&mut conn)?;
                Some(checkpointer)
            }
            Err(error) => {
                tracing::warn!(%error, "could not start checkpointing in the background; the writer checkpoints");
                None
            }
        };
        let state = Writer::open(
            conn,
            audit_key,
            path,
            Arc::clone(&recent_reads),
            Arc::clone(&current),
            observer,
            checkpointer.as_ref(),
        )?;
        let read = ReadPool::new(path)?;
        std::thread::Builder::new()
            .name("hush-writer".into())
            .spawn(move || state.run(rx))
            .map_err(|e| StoreError::Database(Box::new(e)))?;
        Ok(Self { read, writer, recent_reads, current })
    }

    /// Waits until every journaled audit event is in SQLite, so a query of
    /// the audit log sees every event acknowledged before it.
    async fn flush(&self) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.writer.send(Job::Flush { reply }).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    /// A secret row as fetched, with the newest read still in the journal.
    fn with_recent_read(&self, mut record: SecretRecord) -> SecretRecord {
        self.recent_reads.apply(&mut record);
        record
    }
}

/// The audit journal's files of the data store at `path`: `hush.db-audit-N`
/// beside `hush.db` (named like SQLite's own `-wal` and `-shm` files, which
/// belong to it the same way).
pub fn journal_files(path: &Path) -> Vec<PathBuf> {
    (0..super::audit_journal::LEGACY_FILES).map(|i| super::audit_journal::journal_path(path, i)).collect()
}

fn token_from_row(conn: &rusqlite::Connection, row: &rusqlite::Row<'_>) -> Result<TokenRecord, StoreError> {
    let issued: Vec<String> = get::<String>(row, "namespace_ids")?.split_whitespace().map(str::to_owned).collect();
    let namespaces = if get::<i64>(row, "all_namespaces")? != 0 {
        TokenNamespaces::All
    } else {
        // The namespaces it was issued for that still exist, by name.
        let mut stmt = conn.prepare_cached(
            "SELECT id, name FROM namespaces WHERE id IN (SELECT value FROM json_each(?)) ORDER BY name",
        )?;
        let ids = json_list(&issued);
        let refs = collect(stmt.query([ids])?, |r| {
            Ok(NamespaceRef { id: get(r, "id")?, name: rows::namespace_name(&get::<String>(r, "name")?)? })
        })?;
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

/// A JSON array of strings for `json_each`. Only used for ids and names
/// that were validated to `[A-Za-z0-9._-]`, so they need no escaping.
fn json_list(items: impl IntoIterator<Item = impl AsRef<str>>) -> String {
    let quoted: Vec<String> = items.into_iter().map(|i| format!("\"{}\"", i.as_ref())).collect();
    format!("[{}]", quoted.join(","))
}

#[async_trait]
impl DataStore for SqliteDataStore {
    async fn installation_id(&self) -> Result<Option<String>, StoreError> {
        self.read.read(|c| Ok(c.query_row("SELECT id FROM installation", [], |r| r.get(0)).optional()?))
    }

    async fn initialize(&self, installation_id: &str) -> Result<(), StoreError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Job::Initialize { id: installation_id.to_owned(), reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn write(&self, request: WriteRequest) -> Result<WriteOutcome, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.writer.send(Job::Write { request, reply }).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn namespace(&self, name: &NamespaceName) -> Result<Option<NamespaceRecord>, StoreError> {
        self.read.read(|c| {
            let mut stmt = c.prepare_cached("SELECT * FROM namespaces WHERE name = ?")?;
            let mut rows = stmt.query([name.as_str()])?;
            rows.next()?.map(rows::namespace).transpose()
        })
    }

    async fn namespaces(&self) -> Result<Vec<NamespaceRecord>, StoreError> {
        self.read
            .scan(|c| {
                let mut stmt = c.prepare_cached("SELECT * FROM namespaces ORDER BY name")?;
                collect(stmt.query([])?, rows::namespace)
            })
            .await
    }

    async fn secret(&self, namespace_id: &str, name: &SecretName) -> Result<Option<SecretRecord>, StoreError> {
        self.read
            .read(|c| {
                let mut stmt = c.prepare_cached("SELECT * FROM secrets WHERE namespace_id = ? AND name = ?")?;
                let mut rows = stmt.query([namespace_id, name.as_str()])?;
                rows.next()?.map(rows::secret).transpose()
            })
            .map(|found| found.map(|r| self.with_recent_read(r)))
    }

    async fn sealed_version(
        &self,
        namespace_id: &str,
        name: &SecretName,
        version: Option<u64>,
    ) -> Result<Option<SealedVersion>, StoreError> {
        // The current version of a secret read recently comes from memory
        // (`current_versions.rs`); `last_read_at` is laid over it as over a row.
        let cached = if version.is_none() { self.current.get(namespace_id, name.as_str()) } else { None };
        let found = match cached {
            Some(sealed) => Some(sealed),
            None => {
                let stamp = self.current.stamp();
                let found = self.read.read(|c| {
                    let mut stmt = c.prepare_cached(
                        "SELECT s.*, v.version AS v_version, v.key_version, v.ciphertext, v.created_at AS v_created_at, \
                     v.deleted_at, v.destroyed \
                     FROM secrets s JOIN secret_versions v ON v.secret_id = s.id \
                     WHERE s.namespace_id = ? AND s.name = ? AND v.version = COALESCE(?, s.version)",
                    )?;
                    let mut rows = stmt.query(params![namespace_id, name.as_str(), version.map(|v| v as i64)])?;
                    rows.next()?.map(rows::sealed).transpose()
                })?;
                if let (None, Some(sealed)) = (version, &found) {
                    self.current.keep(stamp, sealed);
                }
                found
            }
        };
        Ok(found.map(|s| SealedVersion { secret: self.with_recent_read(s.secret), ..s }))
    }

    async fn current_of_type(
        &self,
        namespace_id: &str,
        secret_type: SecretType,
    ) -> Result<Vec<SealedVersion>, StoreError> {
        let (namespace_id, secret_type) = (namespace_id.to_owned(), secret_type.as_str());
        self.read
            .scan(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT s.*, v.version AS v_version, v.key_version, v.ciphertext, v.created_at AS v_created_at, \
                 v.deleted_at, v.destroyed \
                     FROM secrets s JOIN secret_versions v ON v.secret_id = s.id AND v.version = s.version \
                     WHERE s.namespace_id = ? AND s.type = ? ORDER BY s.name",
                )?;
                collect(stmt.query(params![namespace_id, secret_type])?, rows::sealed)
            })
            .await
            .map(|found| {
                found.into_iter().map(|s| SealedVersion { secret: self.with_recent_read(s.secret), ..s }).collect()
            })
    }

    async fn secrets(&self, namespace_id: &str, query: &SecretQuery) -> Result<Vec<SecretRecord>, StoreError> {
        // One lower bound, so the page is a seek on the primary key (name_range.rs).
        let NameRange { lower, lower_inclusive, upper } = NameRange::of(query);
        let (namespace_id, limit) = (namespace_id.to_owned(), i64::from(query.limit));
        self.read
            .scan(move |c| {
                let mut stmt = c.prepare_cached(if lower_inclusive {
                    "SELECT * FROM secrets WHERE namespace_id = ? AND name >= ? AND name < ? ORDER BY name LIMIT ?"
                } else {
                    "SELECT * FROM secrets WHERE namespace_id = ? AND name > ? AND name < ? ORDER BY name LIMIT ?"
                })?;
                collect(stmt.query(params![namespace_id, lower, upper, limit])?, rows::secret)
            })
            .await
            .map(|found| found.into_iter().map(|r| self.with_recent_read(r)).collect())
    }

    async fn stale_versions(
        &self,
        namespace_id: &str,
        key_version: u32,
        limit: u32,
    ) -> Result<Vec<SealedVersion>, StoreError> {
        let namespace_id = namespace_id.to_owned();
        self.read
            .scan(move |c| {
                let mut stmt = c.prepare_cached(
                    "SELECT s.*, v.version AS v_version, v.key_version, v.ciphertext, v.created_at AS v_created_at, \
                 v.deleted_at, v.destroyed \
                     FROM secrets s JOIN secret_versions v ON v.secret_id = s.id \
                     WHERE s.namespace_id = ? AND v.key_version < ? AND v.destroyed = 0 ORDER BY s.name, v.version LIMIT ?",
                )?;
                collect(stmt.query(params![namespace_id, i64::from(key_version), i64::from(limit)])?, rows::sealed)
            })
            .await
    }

    async fn count_stale_versions(&self, namespace_id: &str, key_version: u32) -> Result<u64, StoreError> {
        self.read.read(|c| {
            let n: i64 = c.query_row(
                "SELECT COUNT(*) FROM secrets s JOIN secret_versions v ON v.secret_id = s.id \
                 WHERE s.namespace_id = ? AND v.key_version < ? AND v.destroyed = 0",
                params![namespace_id, i64::from(key_version)],
                |r| r.get(0),
            )?;
            rows::u64_of(n, "count")
        })
    }

    async fn dump(&self, out: crate::dump::DumpSender) -> Result<(), StoreError> {
        // Every journaled event into SQLite first, so the dump's log holds
        // every event acknowledged before it (and the key store's anchor,
        // dumped before, is never ahead of it).
        self.flush().await?;
        self.read
            .scan(move |c| {
                super::dump::dump_tables(c, crate::dump::StoreKind::Data, |item| crate::dump::send_blocking(&out, item))
            })
            .await
    }

    async fn versions(&self, secret_id: &str) -> Result<Vec<VersionRecord>, StoreError> {
        self.read.read(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT version AS v_version, key_version, created_at, deleted_at, destroyed FROM secret_versions \
                 WHERE secret_id = ? ORDER BY version DESC",
            )?;
            collect(stmt.query([secret_id])?, |r| rows::version(r, "created_at"))
        })
    }

    async fn token(&self, id: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.read.read(|c| {
            let mut stmt = c.prepare_cached("SELECT * FROM tokens WHERE id = ?")?;
            let mut rows = stmt.query([id])?;
            rows.next()?.map(|row| token_from_row(c, row)).transpose()
        })
    }

    async fn tokens(&self) -> Result<Vec<TokenRecord>, StoreError> {
        self.read
            .scan(|c| {
                let mut stmt = c.prepare_cached("SELECT * FROM tokens ORDER BY created_at DESC, id")?;
                collect(stmt.query([])?, |row| token_from_row(c, row))
            })
            .await
    }

    async fn role(&self, name: &str) -> Result<Option<RoleRecord>, StoreError> {
        let name = name.to_owned();
        self.read.read(move |c| {
            let mut stmt = c.prepare_cached("SELECT * FROM login_roles WHERE name = ?")?;
            let mut rows = stmt.query([name])?;
            rows.next()?.map(rows::role).transpose()
        })
    }

    async fn roles(&self) -> Result<Vec<RoleRecord>, StoreError> {
        self.read.read(|c| {
            let mut stmt = c.prepare_cached("SELECT * FROM login_roles ORDER BY name")?;
            collect(stmt.query([])?, rows::role)
        })
    }

    async fn audit_events(&self, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
        self.flush().await?;
        let query = query.clone();
        self.read.scan(move |c| audit_page(c, &query)).await
    }

    async fn audit_chain(&self, after_seq: u64, limit: u32) -> Result<Vec<AuditRecord>, StoreError> {
        self.flush().await?;
        self.read
            .scan(move |c| {
                let mut stmt = c.prepare_cached(AUDIT_CHAIN)?;
                let records = Vec::with_capacity(limit.min(AUDIT_CHAIN_RESERVE) as usize);
                collect_into(records, stmt.query(params![after_seq as i64, i64::from(limit)])?, rows::audit)
            })
            .await
    }

    async fn audit_head(&self) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        self.flush().await?;
        self.read.read(|c| {
            let head = c
                .query_row("SELECT seq, mac FROM audit_events ORDER BY seq DESC LIMIT 1", [], |r| {
                    Ok((r.get::<_, i64>(0)?, r.get::<_, Vec<u8>>(1)?))
                })
                .optional()?;
            head.map(|(seq, mac)| Ok((rows::u64_of(seq, "audit_events.seq")?, mac))).transpose()
        })
    }

    async fn audit_oldest(&self) -> Result<Option<u64>, StoreError> {
        self.read.read(|c| {
            let seq: Option<i64> = c.query_row("SELECT MIN(seq) FROM audit_events", [], |r| r.get(0))?;
            seq.map(|s| rows::u64_of(s, "audit_events.seq")).transpose()
        })
    }

    async fn audit_first_at_or_after(&self, at: crate::Millis) -> Result<Option<u64>, StoreError> {
        self.read.read(move |c| {
            let seq: Option<i64> = c
                .query_row("SELECT seq FROM audit_events WHERE at >= ? ORDER BY seq LIMIT 1", [at], |r| r.get(0))
                .optional()?;
            seq.map(|s| rows::u64_of(s, "audit_events.seq")).transpose()
        })
    }

    async fn prune_audit(&self, through_seq: u64, limit: u32) -> Result<u64, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.writer
            .send(Job::PruneAudit { through: through_seq, limit, reply })
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

/// The newest events below `?1` that match the numbers of the filters
/// (`?2` name, `?3` action, `?4` outcome, `?5` token id), at most `?6`.
const AUDIT_NEWEST: &str = "SELECT seq FROM audit_events WHERE seq < ?1 \
    AND (?2 IS NULL OR name = ?2) AND (?3 IS NULL OR action = ?3) \
    AND (?4 IS NULL OR outcome = ?4) AND (?5 IS NULL OR token_id = ?5) \
    ORDER BY seq DESC LIMIT ?6";

/// [`AUDIT_NEWEST`] in the namespace numbered `?7`.
const AUDIT_NEWEST_IN_NAMESPACE: &str = "SELECT seq FROM audit_events WHERE namespace = ?7 AND seq < ?1 \
    AND (?2 IS NULL OR name = ?2) AND (?3 IS NULL OR action = ?3) \
    AND (?4 IS NULL OR outcome = ?4) AND (?5 IS NULL OR token_id = ?5) \
    ORDER BY seq DESC LIMIT ?6";

/// The events with the sequence numbers listed in `?` (JSON), whole, newest first.
const AUDIT_ROWS: &str = "SELECT * FROM audit_log WHERE seq IN (SELECT value FROM json_each(?)) ORDER BY seq DESC";

/// The events after `?1`, whole, oldest first, at most `?2`.
const AUDIT_CHAIN: &str = "SELECT * FROM audit_log WHERE seq > ?1 ORDER BY seq LIMIT ?2";
/// A page of the chain is collected into a vector this long from the start
/// (verification reads pages of a few thousand events): grown by doubling,
/// it left a trail of freed megabyte-sized blocks behind each page.
const AUDIT_CHAIN_RESERVE: u32 = 10_000;

/// One page of [`DataStore::audit_events`]. The filters become the numbers
/// the rows hold (`audit_dictionary.rs`); a filter naming a string no event
/// holds matches nothing, so the page is empty without a scan. With a
/// namespace filter, each matching namespace's events are read newest first
/// from its index, up to a page each, and the newest of them kept (an `IN`
/// over several would read all of them and sort); without one, the events
/// are scanned newest first. Then the page's rows are read whole, all in
/// one read transaction so that the steps see the same log.
fn audit_page(c: &rusqlite::Connection, query: &AuditQuery) -> Result<Vec<AuditRecord>, StoreError> {
    let tx = c.unchecked_transaction()?;
    let number = |text: Option<&str>| -> Result<Option<Option<i64>>, StoreError> {
        match text {
            None => Ok(Some(None)),
            Some(t) => Ok(lookup_text(&tx, t)?.map(Some)),
        }
    };
    let (Some(name), Some(action), Some(outcome), Some(token_id)) = (
        number(query.name.as_deref())?,
        number(query.action.map(AuditAction::as_str))?,
        number(query.outcome.map(Outcome::as_str))?,
        number(query.token_id.as_deref())?,
    ) else {
        return Ok(Vec::new());
    };
    let before = query.before.map(|b| b.min(i64::MAX as u64) as i64).unwrap_or(i64::MAX);
    let limit = i64::from(query.limit);
    let mut seqs: Vec<i64> = Vec::new();
    if query.namespace.is_none() && query.namespace_ids.is_none() {
        let mut stmt = tx.prepare_cached(AUDIT_NEWEST)?;
        let found = stmt.query_map(params![before, name, action, outcome, token_id, limit], |r| r.get(0))?;
        seqs = found.collect::<Result<_, _>>()?;
    } else {
        let namespace = query.namespace.as_ref().map(|n| n.to_string());
        let ids = query.namespace_ids.as_ref().map(json_list);
        let mut stmt = tx.prepare_cached(AUDIT_NEWEST_IN_NAMESPACE)?;
        for ns in lookup_namespaces(&tx, namespace.as_deref(), ids.as_deref())? {
            let found = stmt.query_map(params![before, name, action, outcome, token_id, limit, ns], |r| r.get(0))?;
            for seq in found {
                seqs.push(seq?);
            }
        }
        seqs.sort_unstable_by(|a, b| b.cmp(a));
        seqs.truncate(query.limit as usize);
    }
    if seqs.is_empty() {
        return Ok(Vec::new());
    }
    let mut stmt = tx.prepare_cached(AUDIT_ROWS)?;
    let page = collect(stmt.query([json_numbers(&seqs)])?, rows::audit)?;
    drop(stmt);
    tx.commit()?;
    Ok(page)
}

/// A JSON array of numbers for `json_each`.
fn json_numbers(numbers: &[i64]) -> String {
    let listed: Vec<String> = numbers.iter().map(i64::to_string).collect();
    format!("[{}]", listed.join(","))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// How SQLite runs each audit statement on a migrated store: every step
    /// by key or index, none sorting in a temporary B-tree or scanning a
    /// whole table where that would grow with the log.
    #[test]
    fn audit_statements_use_their_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(crate::sqlite::DATA_FILE);
        let mut conn = open(&path, Access::ReadWrite, false).unwrap();
        migrate(&mut conn, &path, MIGRATIONS).unwrap();
        let plan = |sql: &str| -> String {
            let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
            let nulls = std::iter::repeat_n(rusqlite::types::Null, stmt.parameter_count());
            let steps = stmt.query_map(rusqlite::params_from_iter(nulls), |r| r.get::<_, String>(3)).unwrap();
            steps.map(Result::unwrap).collect::<Vec<_>>().join("; ")
        };
        let cases = [
            (AUDIT_NEWEST, "SEARCH audit_events USING INTEGER PRIMARY KEY (rowid<?)"),
            (
                AUDIT_NEWEST_IN_NAMESPACE,
                "SEARCH audit_events USING INDEX audit_events_by_namespace (namespace=? AND rowid<?)",
            ),
            (AUDIT_ROWS, "SEARCH e USING INTEGER PRIMARY KEY (rowid=?)"),
            (AUDIT_CHAIN, "SEARCH e USING INTEGER PRIMARY KEY (rowid>?)"),
            (
                "SELECT id FROM audit_text WHERE text = ?",
                "SEARCH audit_text USING COVERING INDEX sqlite_autoindex_audit_text_1 (text=?)",
            ),
            (
                "SELECT id FROM audit_namespaces WHERE name IS ? AND namespace_id IS ?",
                "SEARCH audit_namespaces USING COVERING INDEX audit_namespaces_by_name (name=? AND namespace_id=?)",
            ),
        ];
        for (sql, first_step) in cases {
            let plan = plan(sql);
            assert!(plan.contains(first_step), "{sql}\n  runs as: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{sql}\n  sorts: {plan}");
            assert!(!plan.contains("SCAN audit_events") && !plan.contains("SCAN e "), "{sql}\n  scans: {plan}");
        }
        // The view reads each string by its number.
        let joins = plan(AUDIT_CHAIN);
        assert_eq!(joins.matches("USING INTEGER PRIMARY KEY (rowid=?) LEFT-JOIN").count(), 8, "{joins}");
    }
}
