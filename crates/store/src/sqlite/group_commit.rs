//! The single writer: group commit for every change to the data store.
//!
//! Requests queue on a channel. The writer takes whatever is waiting (up to
//! [`MAX_BATCH`]), applies each in order inside one transaction, appends each
//! request's audit event to the MAC chain, commits once (one fsync for the
//! whole batch), and only then answers every request. Under load, batches grow
//! and the cost of durability is shared; when idle, a lone request commits at
//! once, with no timer to wait for.
//!
//! Every mutation checks everything before it writes anything, so a refused
//! one (a conflict, a missing namespace) leaves no trace but its audit event.
//! A database failure aborts the whole batch; its requests are then retried
//! one by one, so one bad request cannot fail its neighbours.

use hush_crypto::{AUDIT_GENESIS, AuditKey};
use sqlx::sqlite::SqliteConnection;
use sqlx::{Connection, Row, SqliteConnection as Conn};
use tokio::sync::{mpsc, oneshot};

use super::rows::{self, get};
use crate::{
    AuditEvent, Conflict, Mutation, NamespaceRecord, Outcome, PutVersion, StoreError, TokenNamespaces, TokenRecord,
    VersionSlot, WriteOutcome, WriteRequest, now_millis,
};

/// Most requests committed in one transaction.
const MAX_BATCH: usize = 512;

type Reply<T> = oneshot::Sender<Result<T, StoreError>>;

/// Work for the writer. `Initialize` happens once per installation, so the
/// size difference between the variants costs nothing worth a box per write.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Job {
    /// A change with its audit event.
    Write {
        /// The request.
        request: WriteRequest,
        /// Where the answer goes.
        reply: Reply<WriteOutcome>,
    },
    /// Record the installation id (first start only).
    Initialize {
        /// The id.
        id: String,
        /// Where the answer goes.
        reply: Reply<()>,
    },
}

pub(crate) async fn submit_initialize(writer: &mpsc::Sender<Job>, id: String) -> Result<(), StoreError> {
    let (reply, rx) = oneshot::channel();
    writer.send(Job::Initialize { id, reply }).await.map_err(|_| StoreError::Closed)?;
    rx.await.map_err(|_| StoreError::Closed)?
}

/// Runs until every sender is dropped.
pub(crate) async fn run(mut conn: SqliteConnection, mut rx: mpsc::Receiver<Job>, key: AuditKey) {
    let mut batch: Vec<(WriteRequest, Reply<WriteOutcome>)> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(job) = next.take() {
            match job {
                Job::Write { request, reply } => batch.push((request, reply)),
                Job::Initialize { id, reply } => {
                    let _ = reply.send(initialize(&mut conn, &id).await);
                }
            }
            if batch.len() < MAX_BATCH {
                next = rx.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            commit(&mut conn, &key, &mut batch).await;
        }
    }
    let _ = conn.close().await;
}

async fn initialize(conn: &mut Conn, id: &str) -> Result<(), StoreError> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    if sqlx::query("SELECT id FROM installation").fetch_optional(&mut *tx).await?.is_some() {
        return Err(StoreError::Conflict(Conflict::AlreadyExists));
    }
    sqlx::query("INSERT INTO installation (id, created_at) VALUES (?, ?)")
        .bind(id)
        .bind(now_millis())
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Commits `batch` and answers every request in it.
async fn commit(conn: &mut Conn, key: &AuditKey, batch: &mut Vec<(WriteRequest, Reply<WriteOutcome>)>) {
    let requests: Vec<&WriteRequest> = batch.iter().map(|(r, _)| r).collect();
    match apply_batch(conn, key, &requests).await {
        Ok(results) => {
            tracing::trace!(size = batch.len(), "group commit");
            for ((_, reply), result) in batch.drain(..).zip(results) {
                let _ = reply.send(result);
            }
        }
        Err(error) if batch.len() > 1 => {
            tracing::warn!(%error, size = batch.len(), "batch failed; retrying its requests one by one");
            for (request, reply) in batch.drain(..) {
                let result = match apply_batch(conn, key, &[&request]).await {
                    Ok(mut results) => results.pop().unwrap_or(Err(StoreError::Closed)),
                    Err(e) => Err(StoreError::Database(e)),
                };
                let _ = reply.send(result);
            }
        }
        Err(error) => {
            tracing::error!(%error, "write failed");
            if let Some((_, reply)) = batch.pop() {
                let _ = reply.send(Err(StoreError::Database(error)));
            }
        }
    }
}

/// Applies every request in one transaction. `Err` means nothing was committed.
async fn apply_batch(
    conn: &mut Conn,
    key: &AuditKey,
    requests: &[&WriteRequest],
) -> Result<Vec<Result<WriteOutcome, StoreError>>, sqlx::Error> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let head =
        sqlx::query("SELECT seq, mac FROM audit_events ORDER BY seq DESC LIMIT 1").fetch_optional(&mut *tx).await?;
    let (mut seq, mut mac): (u64, [u8; 32]) = match head {
        Some(row) => {
            let seq: i64 = row.try_get("seq")?;
            let mac: Vec<u8> = row.try_get("mac")?;
            (seq as u64, mac.as_slice().try_into().unwrap_or(AUDIT_GENESIS))
        }
        None => (0, AUDIT_GENESIS),
    };
    let mut results = Vec::with_capacity(requests.len());
    for request in requests {
        let result = match apply(&mut tx, &request.mutation).await {
            Err(StoreError::Database(e)) => return Err(e),
            other => other,
        };
        let mut event = request.audit.clone();
        match &result {
            Ok(WriteOutcome::Secret(secret)) => event.version = Some(secret.version),
            Ok(_) => {}
            Err(StoreError::Conflict(_)) => event.outcome = Outcome::Conflict,
            Err(StoreError::NotFound) => event.outcome = Outcome::NotFound,
            Err(_) => event.outcome = Outcome::Error,
        }
        seq += 1;
        mac = key.chain(&mac, &event.canonical(seq));
        append_audit(&mut tx, seq, &event, &mac).await?;
        results.push(result);
    }
    tx.commit().await?;
    Ok(results)
}

async fn append_audit(conn: &mut Conn, seq: u64, e: &AuditEvent, mac: &[u8; 32]) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO audit_events (seq, at, token_id, action, namespace, name, version, outcome, context, mac) \
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    )
    .bind(seq as i64)
    .bind(e.at)
    .bind(e.token_id.as_deref())
    .bind(e.action.as_str())
    .bind(e.namespace.as_deref())
    .bind(e.name.as_deref())
    .bind(e.version.map(|v| v as i64))
    .bind(e.outcome.as_str())
    .bind(e.context.as_deref())
    .bind(mac.as_slice())
    .execute(conn)
    .await?;
    Ok(())
}

async fn apply(conn: &mut Conn, mutation: &Mutation) -> Result<WriteOutcome, StoreError> {
    match mutation {
        Mutation::AuditOnly => Ok(WriteOutcome::Done),
        Mutation::CreateNamespace(ns) => create_namespace(conn, ns).await,
        Mutation::DeleteNamespace { id } => {
            let done = sqlx::query("DELETE FROM namespaces WHERE id = ?").bind(id).execute(conn).await?;
            if done.rows_affected() == 0 { Err(StoreError::NotFound) } else { Ok(WriteOutcome::Done) }
        }
        Mutation::PutVersion(put) => put_version(conn, put).await,
        Mutation::DeleteSecret { namespace_id, name } => {
            let done = sqlx::query("DELETE FROM secrets WHERE namespace_id = ? AND name = ?")
                .bind(namespace_id)
                .bind(name.as_str())
                .execute(conn)
                .await?;
            Ok(WriteOutcome::Deleted(done.rows_affected() > 0))
        }
        Mutation::RecordRead { secret_id, at } => {
            sqlx::query("UPDATE secrets SET last_read_at = ? WHERE id = ?")
                .bind(at)
                .bind(secret_id)
                .execute(conn)
                .await?;
            Ok(WriteOutcome::Done)
        }
        Mutation::CreateToken(token) => create_token(conn, token).await,
        Mutation::RevokeToken { id, at } => {
            let row =
                sqlx::query("SELECT revoked_at FROM tokens WHERE id = ?").bind(id).fetch_optional(&mut *conn).await?;
            let Some(row) = row else {
                return Err(StoreError::NotFound);
            };
            if get::<Option<i64>>(&row, "revoked_at")?.is_none() {
                sqlx::query("UPDATE tokens SET revoked_at = ? WHERE id = ?").bind(at).bind(id).execute(conn).await?;
            }
            Ok(WriteOutcome::Done)
        }
    }
}

async fn namespace_exists(conn: &mut Conn, id: &str) -> Result<bool, StoreError> {
    Ok(sqlx::query("SELECT 1 FROM namespaces WHERE id = ?").bind(id).fetch_optional(conn).await?.is_some())
}

async fn create_namespace(conn: &mut Conn, ns: &NamespaceRecord) -> Result<WriteOutcome, StoreError> {
    let taken = sqlx::query("SELECT 1 FROM namespaces WHERE name = ? OR id = ?")
        .bind(ns.name.as_str())
        .bind(&ns.id)
        .fetch_optional(&mut *conn)
        .await?;
    if taken.is_some() {
        return Err(StoreError::Conflict(Conflict::AlreadyExists));
    }
    sqlx::query("INSERT INTO namespaces (id, name, created_at) VALUES (?, ?, ?)")
        .bind(&ns.id)
        .bind(ns.name.as_str())
        .bind(ns.created_at)
        .execute(conn)
        .await?;
    Ok(WriteOutcome::Done)
}

async fn put_version(conn: &mut Conn, p: &PutVersion) -> Result<WriteOutcome, StoreError> {
    if !namespace_exists(conn, &p.namespace_id).await? {
        return Err(StoreError::NotFound);
    }
    let row = sqlx::query("SELECT * FROM secrets WHERE namespace_id = ? AND name = ?")
        .bind(&p.namespace_id)
        .bind(p.name.as_str())
        .fetch_optional(&mut *conn)
        .await?;
    let existing = row.as_ref().map(rows::secret).transpose()?;
    let current = existing.as_ref().map_or(0, |s| s.version);
    if let Some(s) = &existing
        && s.secret_type != p.secret_type
    {
        return Err(StoreError::Conflict(Conflict::Type { existing: s.secret_type }));
    }
    if p.expected_version.is_some_and(|expected| expected != current) {
        return Err(StoreError::Conflict(Conflict::Version { current }));
    }
    let version = current + 1;
    let secret_id = existing.as_ref().map_or(p.new_secret_id.as_str(), |s| s.id.as_str()).to_owned();
    // Sealed here, inside the transaction, for exactly the slot being written.
    let ciphertext = (p.seal)(VersionSlot { secret_id: &secret_id, version }).map_err(StoreError::Seal)?;
    let mut record = match existing {
        None => {
            sqlx::query(
                "INSERT INTO secrets (namespace_id, name, id, type, version, created_at, updated_at) \
                 VALUES (?, ?, ?, ?, 1, ?, ?)",
            )
            .bind(&p.namespace_id)
            .bind(p.name.as_str())
            .bind(&secret_id)
            .bind(p.secret_type.as_str())
            .bind(p.at)
            .bind(p.at)
            .execute(&mut *conn)
            .await?;
            crate::SecretRecord {
                id: secret_id.clone(),
                namespace_id: p.namespace_id.clone(),
                name: p.name.clone(),
                secret_type: p.secret_type,
                version,
                created_at: p.at,
                updated_at: p.at,
                last_read_at: None,
            }
        }
        Some(s) => {
            sqlx::query("UPDATE secrets SET version = ?, updated_at = ? WHERE id = ?")
                .bind(version as i64)
                .bind(p.at)
                .bind(&s.id)
                .execute(&mut *conn)
                .await?;
            s
        }
    };
    sqlx::query(
        "INSERT INTO secret_versions (secret_id, version, key_version, ciphertext, created_at) VALUES (?, ?, ?, ?, ?)",
    )
    .bind(&secret_id)
    .bind(version as i64)
    .bind(i64::from(p.key_version))
    .bind(ciphertext.as_slice())
    .bind(p.at)
    .execute(&mut *conn)
    .await?;
    let keep = u64::from(p.keep_versions.max(1));
    if version > keep {
        sqlx::query("DELETE FROM secret_versions WHERE secret_id = ? AND version <= ?")
            .bind(&secret_id)
            .bind((version - keep) as i64)
            .execute(conn)
            .await?;
    }
    record.version = version;
    record.updated_at = p.at;
    Ok(WriteOutcome::Secret(record))
}

async fn create_token(conn: &mut Conn, t: &TokenRecord) -> Result<WriteOutcome, StoreError> {
    if let TokenNamespaces::Only(list) = &t.namespaces {
        for ns in list {
            if !namespace_exists(conn, &ns.id).await? {
                return Err(StoreError::NotFound);
            }
        }
    }
    sqlx::query(
        "INSERT INTO tokens (id, hash, description, all_namespaces, scopes, created_at, expires_at, revoked_at, created_by) \
         VALUES (?, ?, ?, ?, ?, ?, ?, NULL, ?)",
    )
    .bind(&t.id)
    .bind(t.hash.as_slice())
    .bind(&t.description)
    .bind(matches!(t.namespaces, TokenNamespaces::All) as i64)
    .bind(t.scopes.to_list())
    .bind(t.created_at)
    .bind(t.expires_at)
    .bind(t.created_by.as_deref())
    .execute(&mut *conn)
    .await?;
    if let TokenNamespaces::Only(list) = &t.namespaces {
        for ns in list {
            sqlx::query("INSERT INTO token_namespaces (token_id, namespace_id) VALUES (?, ?)")
                .bind(&t.id)
                .bind(&ns.id)
                .execute(&mut *conn)
                .await?;
        }
    }
    Ok(WriteOutcome::Done)
}
