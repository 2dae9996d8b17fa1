//! Audit events and their canonical encoding for the MAC chain.
//!
//! An event says who (token id), what (action, namespace, secret name,
//! version), when, with what outcome, and an optional caller-supplied context
//! (a workflow or run id). It never holds a value: there is no field for one.

use std::fmt;

use crate::Millis;

/// What was attempted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum AuditAction {
    /// A secret was created or rotated.
    SecretWrite,
    /// A secret value was read.
    SecretRead,
    /// Secrets were listed (metadata only).
    SecretList,
    /// A secret's versions were listed.
    SecretVersions,
    /// A secret was deleted.
    SecretDelete,
    /// A namespace was created.
    NamespaceCreate,
    /// A namespace (with its keys and secrets) was deleted.
    NamespaceDelete,
    /// Namespaces were listed.
    NamespaceList,
    /// A token was issued.
    TokenCreate,
    /// A token was revoked.
    TokenRevoke,
    /// Tokens were listed.
    TokenList,
    /// The audit log was read.
    AuditList,
    /// The audit chain was verified.
    AuditVerify,
    /// Old audit events were removed behind a checkpoint (retention).
    AuditPrune,
    /// hush was initialised (first start).
    Init,
    /// A login role was created.
    RoleCreate,
    /// A login role was deleted.
    RoleDelete,
    /// Login roles were listed or one was read.
    RoleRead,
    /// A workload logged in with a JWT (or was refused: see `reason`).
    Login,
    /// A registry entry was created or its credentials rotated.
    RegistryWrite,
    /// Registry entries were listed (URLs and obfuscated users).
    RegistryList,
    /// A registry entry was deleted.
    RegistryDelete,
    /// A registry entry was picked for an image or server (no password).
    RegistryResolve,
    /// A registry entry's credentials were returned (a pull, a credential helper).
    RegistryRead,
    /// Every registry entry's credentials were returned at once (dockerconfig).
    RegistryExport,
    /// Credentials were tried against a registry.
    RegistryTest,
    /// A git secret was picked for a URL and its token returned.
    GitCredential,
    /// A namespace got a new data key version for new writes.
    NamespaceRotateKey,
    /// A batch of a namespace's versions was re-encrypted under its current key.
    NamespaceRewrap,
    /// A backup of both stores was taken.
    Backup,
    /// Every key in the key store was re-wrapped under a new root key.
    RootRotate,
    /// A secret's KV settings or custom metadata were written (Vault's metadata write).
    SecretMetadata,
    /// A secret version was marked deleted (it can be undeleted).
    SecretVersionDelete,
    /// A deleted secret version was restored.
    SecretVersionUndelete,
    /// A secret version's ciphertext was erased for good.
    SecretVersionDestroy,
    /// A namespace's KV defaults were set (Vault's `config`).
    NamespaceKvConfig,
    /// Requests from one client address were refused before they reached a
    /// call (no token, or none hush issued; or too many such): one event per
    /// address per period, counting them (see [`RefusalSummary`]).
    AuthRefused,
    /// A stored action hush does not know (an edited row; its MAC will not verify).
    Unrecognized,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 37] = [
        AuditAction::SecretWrite,
        AuditAction::SecretRead,
        AuditAction::SecretList,
        AuditAction::SecretVersions,
        AuditAction::SecretDelete,
        AuditAction::NamespaceCreate,
        AuditAction::NamespaceDelete,
        AuditAction::NamespaceList,
        AuditAction::TokenCreate,
        AuditAction::TokenRevoke,
        AuditAction::TokenList,
        AuditAction::AuditList,
        AuditAction::AuditVerify,
        AuditAction::AuditPrune,
        AuditAction::Init,
        AuditAction::RegistryWrite,
        AuditAction::RegistryList,
        AuditAction::RegistryDelete,
        AuditAction::RegistryResolve,
        AuditAction::RegistryRead,
        AuditAction::RegistryExport,
        AuditAction::RegistryTest,
        AuditAction::GitCredential,
        AuditAction::NamespaceRotateKey,
        AuditAction::NamespaceRewrap,
        AuditAction::Backup,
        AuditAction::RootRotate,
        AuditAction::AuthRefused,
        AuditAction::RoleCreate,
        AuditAction::RoleDelete,
        AuditAction::RoleRead,
        AuditAction::Login,
        AuditAction::SecretMetadata,
        AuditAction::SecretVersionDelete,
        AuditAction::SecretVersionUndelete,
        AuditAction::SecretVersionDestroy,
        AuditAction::NamespaceKvConfig,
    ];

    /// The stored name, e.g. `secret.read`.
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::SecretWrite => "secret.write",
            AuditAction::SecretRead => "secret.read",
            AuditAction::SecretList => "secret.list",
            AuditAction::SecretVersions => "secret.versions",
            AuditAction::SecretDelete => "secret.delete",
            AuditAction::NamespaceCreate => "namespace.create",
            AuditAction::NamespaceDelete => "namespace.delete",
            AuditAction::NamespaceList => "namespace.list",
            AuditAction::TokenCreate => "token.create",
            AuditAction::TokenRevoke => "token.revoke",
            AuditAction::TokenList => "token.list",
            AuditAction::AuditList => "audit.list",
            AuditAction::AuditVerify => "audit.verify",
            AuditAction::AuditPrune => "audit.prune",
            AuditAction::Init => "init",
            AuditAction::RegistryWrite => "registry.write",
            AuditAction::RegistryList => "registry.list",
            AuditAction::RegistryDelete => "registry.delete",
            AuditAction::RegistryResolve => "registry.resolve",
            AuditAction::RegistryRead => "registry.read",
            AuditAction::RegistryExport => "registry.export",
            AuditAction::RegistryTest => "registry.test",
            AuditAction::GitCredential => "git.credential",
            AuditAction::NamespaceRotateKey => "namespace.rotate-key",
            AuditAction::NamespaceRewrap => "namespace.rewrap",
            AuditAction::Backup => "admin.backup",
            AuditAction::RootRotate => "admin.rotate-root",
            AuditAction::AuthRefused => "auth.refused",
            AuditAction::RoleCreate => "role.create",
            AuditAction::RoleDelete => "role.delete",
            AuditAction::RoleRead => "role.read",
            AuditAction::Login => "auth.login",
            AuditAction::SecretMetadata => "secret.metadata",
            AuditAction::SecretVersionDelete => "secret.version.delete",
            AuditAction::SecretVersionUndelete => "secret.version.undelete",
            AuditAction::SecretVersionDestroy => "secret.version.destroy",
            AuditAction::NamespaceKvConfig => "namespace.kv-config",
            AuditAction::Unrecognized => "unrecognized",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

impl fmt::Display for AuditAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Outcome {
    /// Done.
    Ok,
    /// No valid token.
    Unauthenticated,
    /// The token lacks a scope.
    Denied,
    /// The namespace, secret, version or token does not exist (or is not visible).
    NotFound,
    /// A `cas` or type conflict, or the thing already exists.
    Conflict,
    /// The request was malformed or too large.
    Invalid,
    /// The server failed.
    Error,
    /// A stored outcome hush does not know (an edited row; its MAC will not verify).
    Unrecognized,
}

impl Outcome {
    /// Every outcome.
    pub const ALL: [Outcome; 7] = [
        Outcome::Ok,
        Outcome::Unauthenticated,
        Outcome::Denied,
        Outcome::NotFound,
        Outcome::Conflict,
        Outcome::Invalid,
        Outcome::Error,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Unauthenticated => "unauthenticated",
            Outcome::Denied => "denied",
            Outcome::NotFound => "not_found",
            Outcome::Conflict => "conflict",
            Outcome::Invalid => "invalid",
            Outcome::Error => "error",
            Outcome::Unrecognized => "unrecognized",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One audit event, before it is numbered and chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    /// When.
    pub at: Millis,
    /// Which token (its public id), if one was presented and well-formed.
    pub token_id: Option<String>,
    /// What.
    pub action: AuditAction,
    /// In which namespace, by name (as the caller gave it).
    pub namespace: Option<String>,
    /// The namespace's id, once it was found; visibility of events follows
    /// it, so a re-created namespace of the same name does not see them.
    pub namespace_id: Option<String>,
    /// Which secret (or token id, for token actions).
    pub name: Option<String>,
    /// Which version, where one applies.
    pub version: Option<u64>,
    /// How it ended.
    pub outcome: Outcome,
    /// The caller's `X-Hush-Context`, e.g. a workflow and run id.
    pub context: Option<String>,
    /// The subject of the client certificate the call came with (mutual
    /// TLS), e.g. `CN=runner-1,O=ci`. Set by the server from the verified
    /// connection, never from anything the caller writes.
    pub client_cert: Option<String>,
    /// The client's address (IP), as the server saw it or, behind a trusted
    /// proxy, as the proxy reported it.
    pub client_addr: Option<String>,
    /// For [`AuditAction::AuthRefused`]: the refusals this event stands for.
    pub refusals: Option<RefusalSummary>,
    /// Who the token stands for when it was earned by a workload's login
    /// (compact JSON: role, issuer, subject, and claims such as the
    /// repository and run, or the pod); for a login, who tried.
    pub identity: Option<String>,
    /// Why the attempt was refused, where more can be said than the outcome
    /// (a login: which check failed, e.g. `expired`).
    pub reason: Option<String>,
}

/// Refused requests from one client address over a period, recorded as one
/// event instead of one each, so an anonymous flood cannot grow the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefusalSummary {
    /// How many requests were refused.
    pub count: u64,
    /// When the first was.
    pub first_at: Millis,
    /// When the last was.
    pub last_at: Millis,
    /// How many for each reason, as `reason=count` pairs joined by commas in
    /// reason order, e.g. `invalid_token=3,rate_limited=40`.
    pub reasons: String,
}

impl RefusalSummary {
    /// The `(reason, count)` pairs of [`RefusalSummary::reasons`]; a pair that
    /// does not parse (an edited row) is skipped.
    pub fn reason_counts(&self) -> Vec<(&str, u64)> {
        self.reasons
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .filter_map(|(reason, count)| Some((reason, count.parse().ok()?)))
            .collect()
    }
}

impl AuditEvent {
    /// A new event with outcome `Ok`, to be filled in.
    pub fn new(action: AuditAction, token_id: Option<String>, context: Option<String>) -> Self {
        AuditEvent {
            at: crate::now_millis(),
            token_id,
            action,
            namespace: None,
            namespace_id: None,
            name: None,
            version: None,
            outcome: Outcome::Ok,
            context,
            client_cert: None,
            client_addr: None,
            refusals: None,
            identity: None,
            reason: None,
        }
    }

    /// The bytes the chain MAC covers for this event at position `seq`.
    /// Length prefixes and presence bytes make the encoding unambiguous.
    pub fn canonical(&self, seq: u64) -> Vec<u8> {
        use crate::canonical::{integer, text};
        let mut out = Vec::with_capacity(128);
        out.extend_from_slice(CANONICAL_PREFIX);
        out.extend_from_slice(&seq.to_be_bytes());
        out.extend_from_slice(&self.at.to_be_bytes());
        text(&mut out, self.token_id.as_deref());
        text(&mut out, Some(self.action.as_str()));
        text(&mut out, self.namespace.as_deref());
        text(&mut out, self.namespace_id.as_deref());
        text(&mut out, self.name.as_deref());
        integer(&mut out, self.version.map(|v| v as i64));
        text(&mut out, Some(self.outcome.as_str()));
        text(&mut out, self.context.as_deref());
        // Fields added later are appended only when present, each behind its
        // own tag byte: events written before a field existed encode (and
        // verify) exactly as they did, and two added fields never collide.
        if let Some(subject) = &self.client_cert {
            out.push(TAG_CLIENT_CERT);
            text(&mut out, Some(subject));
        }
        if let Some(addr) = &self.client_addr {
            out.push(TAG_CLIENT_ADDR);
            text(&mut out, Some(addr));
        }
        if let Some(refusals) = &self.refusals {
            out.push(TAG_REFUSALS);
            out.extend_from_slice(&refusals.count.to_be_bytes());
            out.extend_from_slice(&refusals.first_at.to_be_bytes());
            out.extend_from_slice(&refusals.last_at.to_be_bytes());
            text(&mut out, Some(&refusals.reasons));
        }
        if let Some(identity) = &self.identity {
            out.push(TAG_IDENTITY);
            text(&mut out, Some(identity));
        }
        if let Some(reason) = &self.reason {
            out.push(TAG_REASON);
            text(&mut out, Some(reason));
        }
        out
    }
}

impl AuditEvent {
    /// Reads back [`AuditEvent::canonical`]: the position and the event, or
    /// `None` if `bytes` are not exactly one encoded event (cut short, an
    /// unknown action or outcome, an unknown tag, bytes left over).
    pub fn from_canonical(bytes: &[u8]) -> Option<(u64, AuditEvent)> {
        let mut r = crate::canonical::Reader::new(bytes);
        if r.take(CANONICAL_PREFIX.len())? != CANONICAL_PREFIX {
            return None;
        }
        let seq = r.u64()?;
        let at = r.i64()?;
        let token_id = r.text()?;
        let action = AuditAction::parse(&r.text()??)?;
        let namespace = r.text()?;
        let namespace_id = r.text()?;
        let name = r.text()?;
        let version = r.integer()?.map(|v| v as u64);
        let outcome = Outcome::parse(&r.text()??)?;
        let context = r.text()?;
        let mut event = AuditEvent::new(action, token_id, context);
        (event.at, event.namespace, event.namespace_id, event.name) = (at, namespace, namespace_id, name);
        (event.version, event.outcome) = (version, outcome);
        // Tags come in the order `canonical` writes them, each at most once.
        let mut last_tag = 0;
        while !r.is_empty() {
            let tag = r.byte()?;
            if tag <= last_tag {
                return None;
            }
            last_tag = tag;
            match tag {
                TAG_CLIENT_CERT => event.client_cert = Some(r.text()??),
                TAG_CLIENT_ADDR => event.client_addr = Some(r.text()??),
                TAG_REFUSALS => {
                    let (count, first_at, last_at) = (r.u64()?, r.i64()?, r.i64()?);
                    event.refusals = Some(RefusalSummary { count, first_at, last_at, reasons: r.text()?? });
                }
                TAG_IDENTITY => event.identity = Some(r.text()??),
                TAG_REASON => event.reason = Some(r.text()??),
                _ => return None,
            }
        }
        Some((seq, event))
    }
}

/// What every canonical encoding starts with (the format's name and version).
const CANONICAL_PREFIX: &[u8] = b"hush/audit/v1\0";

/// The tag of `client_cert` in the canonical encoding (the first field added
/// after `hush/audit/v1`).
const TAG_CLIENT_CERT: u8 = 1;
/// The tag of `client_addr`.
const TAG_CLIENT_ADDR: u8 = 2;
/// The tag of `refusals`.
const TAG_REFUSALS: u8 = 3;
/// The tag of `identity`.
const TAG_IDENTITY: u8 = 4;
/// The tag of `reason`.
const TAG_REASON: u8 = 5;

/// A stored event: numbered and chained.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Position in the chain, from 1, without gaps.
    pub seq: u64,
    /// The event.
    pub event: AuditEvent,
    /// `HMAC(audit key, previous mac || canonical(event, seq))`.
    pub mac: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for a in AuditAction::ALL {
            assert_eq!(AuditAction::parse(a.as_str()), Some(a));
        }
        for o in Outcome::ALL {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
    }

    #[test]
    fn canonical_is_unambiguous() {
        let base = AuditEvent {
            at: 1,
            token_id: Some("t".into()),
            action: AuditAction::SecretRead,
            namespace: Some("ns".into()),
            namespace_id: Some("id".into()),
            name: Some("a".into()),
            version: Some(1),
            outcome: Outcome::Ok,
            context: None,
            client_cert: None,
            client_addr: None,
            refusals: None,
            identity: None,
            reason: None,
        };
        let refusals = RefusalSummary { count: 2, first_at: 1, last_at: 2, reasons: "invalid_token=2".into() };
        let variants = [
            AuditEvent { namespace: Some("nsa".into()), name: Some("".into()), ..base.clone() },
            AuditEvent { token_id: None, ..base.clone() },
            AuditEvent { namespace_id: None, ..base.clone() },
            AuditEvent { version: None, ..base.clone() },
            AuditEvent { context: Some(String::new()), ..base.clone() },
            AuditEvent { outcome: Outcome::Denied, ..base.clone() },
            AuditEvent { client_cert: Some(String::new()), ..base.clone() },
            AuditEvent { client_cert: Some("CN=a".into()), context: Some(String::new()), ..base.clone() },
            AuditEvent { at: 2, ..base.clone() },
            AuditEvent { client_addr: Some("127.0.0.1".into()), ..base.clone() },
            AuditEvent { client_addr: Some(String::new()), ..base.clone() },
            AuditEvent { client_cert: Some("127.0.0.1".into()), ..base.clone() },
            AuditEvent { refusals: Some(refusals.clone()), ..base.clone() },
            AuditEvent { refusals: Some(RefusalSummary { count: 3, ..refusals.clone() }), ..base.clone() },
            AuditEvent { refusals: Some(RefusalSummary { first_at: 2, ..refusals.clone() }), ..base.clone() },
            AuditEvent { refusals: Some(RefusalSummary { reasons: "x=2".into(), ..refusals.clone() }), ..base.clone() },
            AuditEvent { identity: Some("{}".into()), ..base.clone() },
            AuditEvent { reason: Some("{}".into()), ..base.clone() },
            AuditEvent { identity: Some(String::new()), reason: Some(String::new()), ..base.clone() },
            AuditEvent { client_addr: Some("{}".into()), ..base.clone() },
        ];
        // Every pair differs, not only each from the base.
        for (i, a) in variants.iter().enumerate() {
            for b in &variants[i + 1..] {
                assert_ne!(a.canonical(1), b.canonical(1), "{a:?} / {b:?}");
            }
        }
        for v in &variants {
            assert_ne!(v.canonical(1), base.canonical(1), "{v:?}");
        }
        assert_ne!(base.canonical(1), base.canonical(2));
    }

    #[test]
    fn canonical_reads_back() {
        let full = AuditEvent {
            at: -5,
            token_id: Some("t".into()),
            action: AuditAction::AuthRefused,
            namespace: Some("ns".into()),
            namespace_id: Some("id".into()),
            name: Some("a/b".into()),
            version: Some(u64::MAX >> 1),
            outcome: Outcome::Denied,
            context: Some("run 7".into()),
            client_cert: Some("CN=x".into()),
            client_addr: Some("10.0.0.1".into()),
            refusals: Some(RefusalSummary { count: 9, first_at: 1, last_at: 2, reasons: "no_token=9".into() }),
            identity: Some("{\"sub\":\"x\"}".into()),
            reason: Some("expired".into()),
        };
        let bare = AuditEvent::new(AuditAction::SecretRead, None, None);
        let some = AuditEvent { client_addr: Some("::1".into()), reason: Some(String::new()), ..bare.clone() };
        for (seq, event) in [(1, full), (u64::MAX, bare), (42, some)] {
            let bytes = event.canonical(seq);
            assert_eq!(AuditEvent::from_canonical(&bytes), Some((seq, event.clone())));
            // A cut never reads back as the whole event (a cut between
            // tagged fields is a valid, smaller event), and a dangling tag
            // is refused.
            for cut in 0..bytes.len() {
                assert_ne!(AuditEvent::from_canonical(&bytes[..cut]), Some((seq, event.clone())), "cut at {cut}");
            }
            let mut longer = bytes.clone();
            longer.push(TAG_CLIENT_CERT);
            assert_eq!(AuditEvent::from_canonical(&longer), None);
        }
    }

    #[test]
    fn refusal_reasons_parse_and_skip_what_is_odd() {
        let summary =
            RefusalSummary { count: 5, first_at: 1, last_at: 2, reasons: "invalid_token=3,no_token=2,junk,x=y".into() };
        assert_eq!(summary.reason_counts(), vec![("invalid_token", 3), ("no_token", 2)]);
    }

    /// Events written before `client_cert` existed still verify: without a
    /// client certificate the encoding is what it always was.
    #[test]
    fn canonical_without_a_client_certificate_is_unchanged() {
        let event = AuditEvent::new(AuditAction::SecretRead, Some("t".into()), Some("ctx".into()));
        let mut expected = b"hush/audit/v1\0".to_vec();
        expected.extend_from_slice(&7u64.to_be_bytes());
        expected.extend_from_slice(&event.at.to_be_bytes());
        for text in [Some("t"), Some("secret.read"), None, None, None] {
            crate::canonical::text(&mut expected, text);
        }
        crate::canonical::integer(&mut expected, None);
        crate::canonical::text(&mut expected, Some("ok"));
        crate::canonical::text(&mut expected, Some("ctx"));
        assert_eq!(event.canonical(7), expected);
    }
}
