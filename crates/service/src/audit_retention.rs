//! Audit retention: `hush admin audit prune --before TIME` removes old
//! events behind a **checkpoint**, the chain head at the cut (the last
//! removed event's sequence number and MAC) signed with the audit key and
//! kept in the key store. `audit verify` then starts from the checkpoint.
//!
//! Before it writes a checkpoint, prune verifies the chain up to the cut: a
//! checkpoint vouches for what it replaced, so it never launders an edited
//! event. It never removes the newest event (the chain's head, which the
//! anchor follows). The removal runs in steps of at most `limit` events,
//! oldest first, each its own transaction: an interrupted prune leaves the
//! checkpoint and the newer events intact, verify still passes (it says
//! how many older events remain), and running prune again finishes it.
//!
//! With an audit sink configured, prune refuses to remove events that were
//! never delivered to a sink or handed out by a complete `hush audit export`
//! (`KeyStore::audit_exported`), unless forced.

use hush_core::Scope;
use hush_crypto::AUDIT_GENESIS;
use hush_store::{AuditAction, AuditCheckpoint, now_millis};

use crate::{Credentials, Hush, ServiceError};

/// Events removed per call by default, and at most.
const PRUNE_STEP: u32 = 50_000;
const PRUNE_STEP_MAX: u32 = 500_000;

const CHECKPOINT_BINDING: &[u8] = b"hush/audit-checkpoint/v1";

/// What to prune.
#[derive(Debug, Clone, Default)]
pub struct PruneRequest {
    /// Remove events recorded before this time (milliseconds since the epoch).
    pub before: i64,
    /// Remove them even if they were never delivered to a sink or exported.
    pub force: bool,
    /// At most this many in this call (default 50,000, at most 500,000).
    pub limit: Option<u32>,
}

/// What a prune call did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PruneReport {
    /// The checkpoint in force (`None`: nothing was old enough to prune).
    pub checkpoint: Option<AuditCheckpoint>,
    /// Events removed by this call.
    pub removed: u64,
    /// Events at or before the checkpoint still stored (call again).
    pub remaining: u64,
}

fn checkpoint_fields(seq: u64, before_at: i64, made_at: i64) -> Vec<u8> {
    let mut bytes = CHECKPOINT_BINDING.to_vec();
    bytes.extend_from_slice(&seq.to_be_bytes());
    bytes.extend_from_slice(&before_at.to_be_bytes());
    bytes.extend_from_slice(&made_at.to_be_bytes());
    bytes
}

fn chain_head(mac: &[u8]) -> Option<[u8; 32]> {
    mac.try_into().ok()
}

impl Hush {
    /// The checkpoint, if one was made, after checking its signature.
    pub(crate) async fn audit_checkpoint(&self) -> Result<Option<AuditCheckpoint>, ServiceError> {
        let Some(checkpoint) = self.keys.audit_checkpoint().await? else { return Ok(None) };
        let fields = checkpoint_fields(checkpoint.seq, checkpoint.before_at, checkpoint.made_at);
        let signed = chain_head(&checkpoint.mac)
            .is_some_and(|head| self.audit_key.verify(&head, &fields, &checkpoint.signature));
        if !signed {
            return Err(ServiceError::Refused {
                code: "audit_checkpoint_altered",
                message: format!(
                    "the audit checkpoint (event {}) does not match its signature: the key store was edited",
                    checkpoint.seq
                ),
            });
        }
        Ok(Some(checkpoint))
    }

    /// Every event up to this one reached a sink or an export: the stored
    /// mark, moved up to the sinks' run if that run starts at or before it.
    pub(crate) async fn audit_exported_through(&self) -> Result<u64, ServiceError> {
        let stored = self.keys.audit_exported().await?;
        Ok(match self.audit_sinks.as_ref().and_then(|s| s.delivered()) {
            Some((first, through)) if first <= stored + 1 => stored.max(through),
            _ => stored,
        })
    }

    /// Records what the sinks delivered (called with the anchor, every second).
    pub(crate) async fn save_audit_delivery(&self) -> Result<(), ServiceError> {
        if self.audit_sinks.is_some() {
            let through = self.audit_exported_through().await?;
            if through > 0 {
                self.keys.set_audit_exported(through).await?;
            }
        }
        Ok(())
    }

    /// Removes audit events recorded before `request.before`, behind a
    /// checkpoint. Needs an `admin` token bound to all namespaces.
    pub async fn prune_audit(&self, creds: &Credentials, request: &PruneRequest) -> Result<PruneReport, ServiceError> {
        let mut event = self.event(creds, AuditAction::AuditPrune, None, None);
        let result = async {
            self.authorize_global(creds, &mut event, Scope::Admin, "pruning the audit log").await?;
            let limit = request.limit.unwrap_or(PRUNE_STEP);
            if !(1..=PRUNE_STEP_MAX).contains(&limit) {
                return Err(ServiceError::invalid("invalid_limit", format!("limit must be 1 to {PRUNE_STEP_MAX}")));
            }
            // A backup's two snapshots never fall between a checkpoint and its cut.
            let _not_between_backup_snapshots = self.rotation_lock.read().await;
            let mut checkpoint = self.audit_checkpoint().await?;
            if let Some(cut) = self.prune_cut(request.before).await?
                && checkpoint.as_ref().is_none_or(|c| cut > c.seq)
            {
                checkpoint = Some(self.make_checkpoint(cut, request, checkpoint.as_ref()).await?);
            }
            let Some(checkpoint) = checkpoint else {
                return Ok(PruneReport { checkpoint: None, removed: 0, remaining: 0 });
            };
            event.event.version = Some(checkpoint.seq);
            let removed = self.data.prune_audit(checkpoint.seq, limit).await?;
            let remaining = match self.data.audit_oldest().await? {
                Some(oldest) if oldest <= checkpoint.seq => checkpoint.seq - oldest + 1,
                _ => 0,
            };
            tracing::info!(checkpoint = checkpoint.seq, removed, remaining, "pruned the audit log");
            Ok(PruneReport { checkpoint: Some(checkpoint), removed, remaining })
        }
        .await;
        self.finish(event, result).await
    }

    /// The last event to remove for `before`: the one before the first
    /// event at or after it, never the newest event. `None`: nothing to cut.
    async fn prune_cut(&self, before: i64) -> Result<Option<u64>, ServiceError> {
        // The anchor follows the head; it moves first so it never points
        // below the cut (advance checks the anchored event is intact).
        self.advance_audit_anchor().await?;
        let Some((head, _)) = self.data.audit_head().await? else { return Ok(None) };
        let cut = match self.data.audit_first_at_or_after(before).await? {
            Some(first_kept) => first_kept.saturating_sub(1),
            None => head,
        };
        let cut = cut.min(head.saturating_sub(1));
        Ok((cut > 0).then_some(cut))
    }

    /// Checks the events up to `cut` (from the previous checkpoint) and the
    /// export rule, then signs and stores the new checkpoint.
    async fn make_checkpoint(
        &self,
        cut: u64,
        request: &PruneRequest,
        previous: Option<&AuditCheckpoint>,
    ) -> Result<AuditCheckpoint, ServiceError> {
        if self.audit_sinks.is_some() && !request.force {
            let exported = self.audit_exported_through().await?;
            if exported < cut {
                return Err(ServiceError::Refused {
                    code: "audit_not_exported",
                    message: format!(
                        "events {} to {cut} were never delivered to an audit sink or exported; export them \
                         (hush audit export, without --namespace) or prune with --force",
                        exported + 1
                    ),
                });
            }
        }
        let start = match previous {
            Some(c) => (c.seq, chain_head(&c.mac).unwrap_or(AUDIT_GENESIS)),
            None => (0, AUDIT_GENESIS),
        };
        let checked = self.check_chain(start, Some(cut), None, &|_| {}).await?;
        if let Some((seq, problem)) = checked.problem {
            return Err(ServiceError::Refused {
                code: "audit_chain_broken",
                message: format!("the audit log does not verify at event {seq} ({problem}); nothing was pruned"),
            });
        }
        if checked.last_seq != cut {
            return Err(ServiceError::Refused {
                code: "audit_chain_broken",
                message: format!(
                    "the audit log ends at event {} before the cut {cut}; nothing was pruned",
                    checked.last_seq
                ),
            });
        }
        let made_at = now_millis();
        let signature =
            self.audit_key.chain(&checked.last_mac, &checkpoint_fields(cut, request.before, made_at)).to_vec();
        let checkpoint =
            AuditCheckpoint { seq: cut, mac: checked.last_mac.to_vec(), before_at: request.before, made_at, signature };
        self.keys.set_audit_checkpoint(&checkpoint).await?;
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_fields_bind_every_field() {
        let base = checkpoint_fields(10, 1_000, 2_000);
        for other in [
            checkpoint_fields(11, 1_000, 2_000),
            checkpoint_fields(10, 1_001, 2_000),
            checkpoint_fields(10, 1_000, 2_001),
        ] {
            assert_ne!(base, other);
        }
        assert!(base.starts_with(CHECKPOINT_BINDING));
    }
}
