//! Seeding through hush's service: the same calls the REST handlers make
//! (`create_namespace`, `put_secret`, `get_secret`), so every secret is
//! sealed under its namespace's key and every call leaves its real, chained
//! audit event. Many tasks call at once, so the store's group-commit writer
//! fills its batches.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Context, anyhow};
use hush_core::{NamespaceName, SecretBytes, SecretName, SecretValue};
use hush_service::{AuditFilter, Credentials, Hush, ServiceError};

use crate::layout::{self, Slot};
use crate::progress::Progress;

/// Seeds one installation.
#[derive(Debug)]
pub struct Seeder {
    hush: Arc<Hush>,
    creds: Credentials,
    tasks: usize,
    /// Varies the values and the read order from run to run.
    salt: u64,
}

impl Seeder {
    /// A seeder calling `hush` with `creds` (an admin token) from `tasks` tasks.
    pub fn new(hush: Arc<Hush>, creds: Credentials, tasks: usize) -> Self {
        let salt = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(1);
        Seeder { hush, creds, tasks: tasks.max(1), salt }
    }

    /// Creates the small namespaces that do not exist yet.
    pub async fn namespaces(&self) -> anyhow::Result<()> {
        let existing: Vec<String> =
            self.hush.list_namespaces(&self.creds).await?.into_iter().map(|n| n.name.to_string()).collect();
        for n in 0..layout::SMALL_NAMESPACES {
            let name = layout::small_namespace(n);
            if existing.contains(&name) {
                continue;
            }
            let parsed = NamespaceName::parse(&name).map_err(|e| anyhow!("namespace {name}: {e}"))?;
            match self.hush.create_namespace(&self.creds, &parsed).await {
                Ok(_) | Err(ServiceError::AlreadyExists(_)) => {}
                Err(e) => return Err(anyhow!("creating namespace {name}: {e}")),
            }
        }
        Ok(())
    }

    /// Writes secrets number `from` to `to - 1`, each with all its versions.
    /// Returns how many versions were written.
    pub async fn secrets(self: &Arc<Self>, from: u64, to: u64) -> anyhow::Result<u64> {
        let (progress, reporter) = Progress::start("secrets", to.saturating_sub(from));
        let versions = Arc::new(AtomicU64::new(0));
        let written = Arc::clone(&versions);
        let seeder = Arc::clone(self);
        let counted = Arc::clone(&progress);
        let result = self
            .parallel(from, to, move |i| {
                let (seeder, written, counted) = (Arc::clone(&seeder), Arc::clone(&written), Arc::clone(&counted));
                async move {
                    let Slot { namespace, name, versions } = layout::slot(i);
                    let namespace = NamespaceName::parse(&namespace).map_err(|e| anyhow!("{namespace}: {e}"))?;
                    let name = SecretName::parse(&name).map_err(|e| anyhow!("{name}: {e}"))?;
                    for v in 0..versions {
                        let value = seeder.value(i, v);
                        seeder
                            .hush
                            .put_secret(&seeder.creds, &namespace, &name, value, None)
                            .await
                            .with_context(|| format!("writing secret number {i}"))?;
                    }
                    written.fetch_add(u64::from(versions), Ordering::Relaxed);
                    counted.add(1);
                    Ok(())
                }
            })
            .await;
        progress.finish(reporter);
        result.map(|()| versions.load(Ordering::Relaxed))
    }

    /// Reads random secrets among the first `secrets` until the audit log's
    /// newest sequence number reaches `target`: one `secret.read` event per
    /// read. Returns how many reads it made and the newest sequence number
    /// at the end.
    pub async fn events(self: &Arc<Self>, secrets: u64, target: u64) -> anyhow::Result<(u64, u64)> {
        let head = self.audit_head().await?;
        if head >= target || secrets == 0 {
            return Ok((0, head));
        }
        let reads = target - head;
        let (progress, reporter) = Progress::start("reads (audit events)", reads);
        let seeder = Arc::clone(self);
        let counted = Arc::clone(&progress);
        let result = self
            .parallel(0, reads, move |n| {
                let (seeder, counted) = (Arc::clone(&seeder), Arc::clone(&counted));
                async move {
                    let i = layout::mix(n ^ seeder.salt) % secrets;
                    let Slot { namespace, name, .. } = layout::slot(i);
                    let namespace = NamespaceName::parse(&namespace).map_err(|e| anyhow!("{namespace}: {e}"))?;
                    let name = SecretName::parse(&name).map_err(|e| anyhow!("{name}: {e}"))?;
                    // The value is dropped (and wiped) at once: only the event matters.
                    seeder
                        .hush
                        .get_secret(&seeder.creds, &namespace, &name, None)
                        .await
                        .with_context(|| format!("reading secret number {i}"))?;
                    counted.add(1);
                    Ok(())
                }
            })
            .await;
        progress.finish(reporter);
        result?;
        Ok((reads, self.audit_head().await?))
    }

    /// The newest audit event's sequence number (0 if there is none).
    pub async fn audit_head(&self) -> anyhow::Result<u64> {
        let page =
            self.hush.audit_events(&self.creds, &AuditFilter { limit: Some(1), ..AuditFilter::default() }).await?;
        Ok(page.events.first().map(|e| e.seq).unwrap_or(0))
    }

    /// A fresh 64-character value for version `v` of secret `i`. Bench
    /// data, not a secret anyone relies on, but handled as one all the same.
    fn value(&self, i: u64, v: u32) -> SecretValue {
        let mut bytes = Vec::with_capacity(64);
        let mut state = i ^ (u64::from(v) << 48) ^ self.salt;
        while bytes.len() < 64 {
            state = layout::mix(state);
            bytes.extend(format!("{state:016x}").bytes());
        }
        SecretValue::Generic(SecretBytes::new(bytes))
    }

    /// Runs `job(i)` for every `i` in `from..to` on `self.tasks` tasks; the
    /// first error stops them all and is returned.
    async fn parallel<F, Fut>(&self, from: u64, to: u64, job: F) -> anyhow::Result<()>
    where
        F: Fn(u64) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = anyhow::Result<()>> + Send + 'static,
    {
        let next = Arc::new(AtomicU64::new(from));
        let stop = Arc::new(AtomicBool::new(false));
        let job = Arc::new(job);
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..self.tasks {
            let (next, stop, job) = (Arc::clone(&next), Arc::clone(&stop), Arc::clone(&job));
            tasks.spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= to {
                        break;
                    }
                    if let Err(e) = job(i).await {
                        stop.store(true, Ordering::Relaxed);
                        return Err(e);
                    }
                }
                Ok(())
            });
        }
        let mut first_error = None;
        while let Some(joined) = tasks.join_next().await {
            let outcome = joined.map_err(anyhow::Error::from).and_then(|r| r);
            if let Err(e) = outcome {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}
