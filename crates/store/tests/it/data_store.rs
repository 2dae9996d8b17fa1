use std::collections::HashSet;

use hush_core::{NamespaceName, Scope, ScopeSet, SecretName, SecretType};
use hush_crypto::AUDIT_GENESIS;
use hush_store::{
    AuditAction, AuditEvent, AuditQuery, Conflict, KvSettings, Mutation, NamespaceRecord, NamespaceRef, Outcome,
    PutVersion, RewrapVersion, RoleRecord, SecretMetadataChange, SecretQuery, StoreError, TokenNamespaces, TokenRecord,
    VersionChange, WriteOutcome, WriteRequest, now_millis,
};

fn event(action: AuditAction) -> AuditEvent {
    AuditEvent::new(action, Some("tok".into()), None)
}

pub async fn make_namespace(data: &dyn hush_store::DataStore, name: &str) -> NamespaceRecord {
    let ns = NamespaceRecord {
        id: format!("id-{name}"),
        name: NamespaceName::parse(name).unwrap(),
        created_at: 1,
        kv: Default::default(),
    };
    data.write(WriteRequest {
        mutation: Mutation::CreateNamespace(ns.clone()),
        audit: event(AuditAction::NamespaceCreate),
    })
    .await
    .unwrap();
    ns
}

/// A write whose "ciphertext" is the given bytes (the store does not look inside).
pub fn put(ns: &NamespaceRecord, name: &str, secret_id: &str, expected: u64, ct: &[u8]) -> WriteRequest {
    put_any(ns, name, secret_id, Some(expected), ct)
}

fn put_any(ns: &NamespaceRecord, name: &str, secret_id: &str, expected: Option<u64>, ct: &[u8]) -> WriteRequest {
    let ct = ct.to_vec();
    WriteRequest {
        mutation: Mutation::PutVersion(PutVersion {
            namespace_id: ns.id.clone(),
            name: SecretName::parse(name).unwrap(),
            new_secret_id: secret_id.into(),
            secret_type: SecretType::Generic,
            expected_version: expected,
            key_version: 1,
            seal: Box::new(move |_slot| Ok(ct.clone())),
            at: now_millis(),
            keep_versions: 3,
        }),
        audit: event(AuditAction::SecretWrite),
    }
}

async fn versions_cas_types_and_pruning(f: crate::Fixture) {
    let ns = make_namespace(&*f.data, "default").await;
    let name = SecretName::parse("db/password").unwrap();

    // cas 1 on a missing secret is a conflict reporting version 0.
    let err = f.data.write(put(&ns, "db/password", "s1", 1, b"x")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(Conflict::Version { current: 0 })), "{err:?}");

    for v in 0..5u64 {
        let out = f.data.write(put(&ns, "db/password", "s1", v, format!("ct{}", v + 1).as_bytes())).await.unwrap();
        let WriteOutcome::Secret(rec) = out else { panic!("{out:?}") };
        assert_eq!(rec.version, v + 1);
    }
    // Stale expectation: conflict naming the current version; nothing written.
    let err = f.data.write(put(&ns, "db/password", "s1", 2, b"late")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(Conflict::Version { current: 5 })), "{err:?}");
    // Without cas, a write lands after whatever is current, and the sealer is
    // asked for exactly that slot.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(None));
    let mut req = put_any(&ns, "db/password", "ignored-for-existing", None, b"x");
    if let Mutation::PutVersion(p) = &mut req.mutation {
        let seen = seen.clone();
        p.seal = Box::new(move |slot| {
            *seen.lock().unwrap() = Some((slot.secret_id.to_owned(), slot.version));
            Ok(b"ct6".to_vec())
        });
    }
    let WriteOutcome::Secret(rec) = f.data.write(req).await.unwrap() else { panic!() };
    assert_eq!(rec.version, 6);
    assert_eq!(*seen.lock().unwrap(), Some(("s1".to_owned(), 6)));

    // Type is fixed at creation.
    let mut git = put_any(&ns, "db/password", "s1", None, b"x");
    if let Mutation::PutVersion(p) = &mut git.mutation {
        p.secret_type = SecretType::Git;
    }
    let err = f.data.write(git).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(Conflict::Type { existing: SecretType::Generic })), "{err:?}");

    // Only the last 3 versions are kept.
    let current = f.data.sealed_version(&ns.id, &name, None).await.unwrap().unwrap();
    assert_eq!(current.version.version, 6);
    assert_eq!(current.ciphertext, b"ct6");
    let versions: Vec<u64> = f.data.versions("s1").await.unwrap().iter().map(|v| v.version).collect();
    assert_eq!(versions, vec![6, 5, 4]);
    assert!(f.data.sealed_version(&ns.id, &name, Some(3)).await.unwrap().is_none());
    assert_eq!(f.data.sealed_version(&ns.id, &name, Some(4)).await.unwrap().unwrap().ciphertext, b"ct4");
}

async fn listing_by_prefix_and_cursor(f: crate::Fixture) {
    let ns = make_namespace(&*f.data, "default").await;
    for (i, name) in ["a", "app/db", "app/key", "app2", "b/x", "ap"].iter().enumerate() {
        f.data.write(put(&ns, name, &format!("s{i}"), 0, b"x")).await.unwrap();
    }
    let names = |q: SecretQuery| {
        let data = f.data.clone();
        let id = ns.id.clone();
        async move { data.secrets(&id, &q).await.unwrap().into_iter().map(|s| s.name.to_string()).collect::<Vec<_>>() }
    };
    assert_eq!(
        names(SecretQuery { limit: 100, ..Default::default() }).await,
        ["a", "ap", "app/db", "app/key", "app2", "b/x"]
    );
    assert_eq!(
        names(SecretQuery { prefix: Some("app/".into()), limit: 100, ..Default::default() }).await,
        ["app/db", "app/key"]
    );
    assert_eq!(
        names(SecretQuery { prefix: Some("app".into()), limit: 100, ..Default::default() }).await,
        ["app/db", "app/key", "app2"]
    );
    assert_eq!(
        names(SecretQuery { limit: 2, after: Some("ap".into()), ..Default::default() }).await,
        ["app/db", "app/key"]
    );
    assert!(names(SecretQuery { prefix: Some("zz".into()), limit: 100, ..Default::default() }).await.is_empty());
}

/// Keyset paging (issue 20: a page is one seek from the tighter of the
/// prefix and the cursor): paging with each page's last name as the next
/// cursor returns every name of the prefix exactly once, in order, for any
/// page size, and whether the first cursor lies before, inside or past the
/// prefix. The names crowd the prefix's edges.
async fn paging_by_cursor_and_prefix_returns_every_name_once(f: crate::Fixture) {
    let ns = make_namespace(&*f.data, "default").await;
    let other = make_namespace(&*f.data, "other").await;
    let mut all: Vec<String> = [
        "a", "ap", "app", "app-", "app.x", "app/-", "app/a", "app/a/b", "app/b", "app/z", "app0", "app_", "appz",
        "apq", "b", "z",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain((0..40).map(|i| format!("app/k{i:02}")))
    .collect();
    for (i, name) in all.iter().enumerate() {
        f.data.write(put(&ns, name, &format!("s{i}"), 0, b"x")).await.unwrap();
    }
    // Another namespace's names never show.
    f.data.write(put(&other, "app/other", "o1", 0, b"x")).await.unwrap();
    all.sort();
    for prefix in [None, Some("app/"), Some("app"), Some("ap"), Some("app/a"), Some("q")] {
        let wanted: Vec<&String> = all.iter().filter(|n| n.starts_with(prefix.unwrap_or(""))).collect();
        for start in [None, Some("0"), Some("a"), Some("app/"), Some("app/k19"), Some("zz")] {
            let expected: Vec<String> =
                wanted.iter().filter(|n| start.is_none_or(|s| n.as_str() > s)).map(|n| n.to_string()).collect();
            for limit in [1, 2, 7, 1000] {
                let mut got = Vec::new();
                let mut after = start.map(str::to_owned);
                loop {
                    let query = SecretQuery { prefix: prefix.map(str::to_owned), after: after.clone(), limit };
                    let page = f.data.secrets(&ns.id, &query).await.unwrap();
                    assert!(page.len() <= limit as usize);
                    got.extend(page.iter().map(|s| s.name.to_string()));
                    if page.len() < limit as usize {
                        break;
                    }
                    after = page.last().map(|s| s.name.to_string());
                }
                assert_eq!(got, expected, "prefix {prefix:?}, first cursor {start:?}, pages of {limit}");
            }
        }
    }
}

async fn delete_is_idempotent_and_namespace_delete_cascades(f: crate::Fixture) {
    let ns = make_namespace(&*f.data, "team").await;
    let other = make_namespace(&*f.data, "other").await;
    f.data.write(put(&ns, "x", "s1", 0, b"x")).await.unwrap();
    f.data.write(put(&other, "x", "s2", 0, b"y")).await.unwrap();
    let del = |name: &str| WriteRequest {
        mutation: Mutation::DeleteSecret { namespace_id: ns.id.clone(), name: SecretName::parse(name).unwrap() },
        audit: event(AuditAction::SecretDelete),
    };
    assert_eq!(f.data.write(del("x")).await.unwrap(), WriteOutcome::Deleted(true));
    assert_eq!(f.data.write(del("x")).await.unwrap(), WriteOutcome::Deleted(false));
    assert!(f.data.versions("s1").await.unwrap().is_empty());

    f.data.write(put(&ns, "y", "s3", 0, b"x")).await.unwrap();
    let token = TokenRecord {
        id: "t1".into(),
        hash: vec![1; 32],
        description: "ci".into(),
        namespaces: TokenNamespaces::Only(vec![
            NamespaceRef { id: ns.id.clone(), name: ns.name.clone() },
            NamespaceRef { id: other.id.clone(), name: other.name.clone() },
        ]),
        issued_namespace_ids: vec![ns.id.clone(), other.id.clone()],
        scopes: ScopeSet::of([Scope::SecretsRead]),
        created_at: 1,
        expires_at: None,
        revoked_at: None,
        created_by: None,
        identity: Some(r#"{"role":"ci","iss":"https://i","sub":"s"}"#.into()),
        mac: vec![7; 32],
    };
    f.data
        .write(WriteRequest { mutation: Mutation::CreateToken(token), audit: event(AuditAction::TokenCreate) })
        .await
        .unwrap();
    f.data
        .write(WriteRequest {
            mutation: Mutation::DeleteNamespace { id: ns.id.clone() },
            audit: event(AuditAction::NamespaceDelete),
        })
        .await
        .unwrap();
    assert!(f.data.namespace(&ns.name).await.unwrap().is_none());
    assert!(f.data.versions("s3").await.unwrap().is_empty());
    assert!(f.data.sealed_version(&other.id, &SecretName::parse("x").unwrap(), None).await.unwrap().is_some());
    let t = f.data.token("t1").await.unwrap().unwrap();
    assert_eq!(t.identity.as_deref(), Some(r#"{"role":"ci","iss":"https://i","sub":"s"}"#));
    assert_eq!(
        t.namespaces,
        TokenNamespaces::Only(vec![NamespaceRef { id: other.id.clone(), name: other.name.clone() }])
    );
    let err = f
        .data
        .write(WriteRequest {
            mutation: Mutation::DeleteNamespace { id: ns.id.clone() },
            audit: event(AuditAction::NamespaceDelete),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound));
}

async fn login_roles_are_stored_whole_and_named_once(f: crate::Fixture) {
    let role = |name: &str, definition: &str| RoleRecord {
        name: name.into(),
        definition: definition.into(),
        created_at: 5,
        created_by: Some("tok".into()),
        mac: vec![9; 32],
    };
    let create =
        |r: RoleRecord| WriteRequest { mutation: Mutation::CreateRole(r), audit: event(AuditAction::RoleCreate) };
    f.data.write(create(role("ci", r#"{"a":1}"#))).await.unwrap();
    f.data.write(create(role("build", "{}"))).await.unwrap();
    let err = f.data.write(create(role("ci", "{}"))).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(Conflict::AlreadyExists)), "{err:?}");
    assert_eq!(f.data.role("ci").await.unwrap(), Some(role("ci", r#"{"a":1}"#)));
    let names: Vec<String> = f.data.roles().await.unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(names, ["build", "ci"]);
    let delete = |name: &str| WriteRequest {
        mutation: Mutation::DeleteRole { name: name.into() },
        audit: event(AuditAction::RoleDelete),
    };
    f.data.write(delete("ci")).await.unwrap();
    assert!(matches!(f.data.write(delete("ci")).await.unwrap_err(), StoreError::NotFound));
    assert_eq!(f.data.role("ci").await.unwrap(), None);
    // The refused delete was audited too; the identity and reason columns round-trip.
    let mut login = event(AuditAction::Login);
    login.identity = Some(r#"{"role":"ci"}"#.into());
    login.reason = Some("expired".into());
    f.data.write(WriteRequest { mutation: Mutation::AuditOnly, audit: login.clone() }).await.unwrap();
    let newest = f.data.audit_events(&AuditQuery { limit: 1, ..Default::default() }).await.unwrap();
    assert_eq!(newest[0].event.identity, login.identity);
    assert_eq!(newest[0].event.reason, login.reason);
}

async fn concurrent_writes_are_grouped_and_all_land(f: crate::Fixture) {
    let ns = make_namespace(&*f.data, "default").await;
    let mut tasks = Vec::new();
    for i in 0..300 {
        let data = f.data.clone();
        let req = put(&ns, &format!("s{i}"), &format!("id{i}"), 0, b"x");
        tasks.push(tokio::spawn(async move { data.write(req).await }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let all = f.data.secrets(&ns.id, &SecretQuery { limit: 1000, ..Default::default() }).await.unwrap();
    assert_eq!(all.len(), 300);
    // One audit event per write, chained without gaps.
    let chain = f.data.audit_chain(0, 10_000).await.unwrap();
    assert_eq!(chain.len(), 301);
    let mut prev = AUDIT_GENESIS;
    for (i, rec) in chain.iter().enumerate() {
        assert_eq!(rec.seq, i as u64 + 1);
        assert!(f.audit_key.verify(&prev, &rec.event.canonical(rec.seq), &rec.mac), "seq {}", rec.seq);
        prev = rec.mac.as_slice().try_into().unwrap();
    }
}

async fn refused_writes_are_audited_with_their_outcome(f: crate::Fixture) {
    let ns = make_namespace(&*f.data, "default").await;
    f.data.write(put(&ns, "a", "s1", 0, b"x")).await.unwrap();
    let _ = f.data.write(put(&ns, "a", "s1", 7, b"x")).await.unwrap_err();
    let mut denied = event(AuditAction::SecretRead);
    denied.outcome = Outcome::Denied;
    denied.namespace = Some("default".into());
    f.data.write(WriteRequest { mutation: Mutation::AuditOnly, audit: denied }).await.unwrap();
    let events = f.data.audit_events(&AuditQuery { limit: 10, ..Default::default() }).await.unwrap();
    let summary: Vec<(&str, &str, Option<u64>)> =
        events.iter().map(|e| (e.event.action.as_str(), e.event.outcome.as_str(), e.event.version)).collect();
    assert_eq!(
        summary,
        [
            ("secret.read", "denied", None),
            ("secret.write", "conflict", None),
            ("secret.write", "ok", Some(1)),
            ("namespace.create", "ok", None)
        ]
    );
    let only_default =
        AuditQuery { namespace: Some(NamespaceName::parse("default").unwrap()), limit: 10, ..Default::default() };
    assert_eq!(f.data.audit_events(&only_default).await.unwrap().len(), 1);
    let seqs: HashSet<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs.len(), 4);
}

async fn rewrap_replaces_only_stale_versions(f: crate::Fixture) {
    let ns = make_namespace(&*f.data, "default").await;
    for (name, id) in [("a", "sa"), ("b", "sb")] {
        f.data.write(put(&ns, name, id, 0, b"old-1")).await.unwrap();
        f.data.write(put(&ns, name, id, 1, b"old-2")).await.unwrap();
    }
    assert_eq!(f.data.count_stale_versions(&ns.id, 2).await.unwrap(), 4);
    assert_eq!(f.data.count_stale_versions(&ns.id, 1).await.unwrap(), 0);
    let stale = f.data.stale_versions(&ns.id, 2, 3).await.unwrap();
    let seen: Vec<(String, u64)> = stale.iter().map(|s| (s.secret.name.to_string(), s.version.version)).collect();
    assert_eq!(seen, [("a".to_owned(), 1), ("a".to_owned(), 2), ("b".to_owned(), 1)]);
    let batch: Vec<RewrapVersion> = stale
        .iter()
        .map(|s| RewrapVersion {
            secret_id: s.secret.id.clone(),
            version: s.version.version,
            from_key_version: 1,
            to_key_version: 2,
            ciphertext: b"new".to_vec(),
        })
        .collect();
    let mut again = stale
        .iter()
        .take(1)
        .map(|s| RewrapVersion {
            secret_id: s.secret.id.clone(),
            version: s.version.version,
            from_key_version: 1,
            to_key_version: 2,
            ciphertext: b"stale-writer".to_vec(),
        })
        .collect::<Vec<_>>();
    let done = f
        .data
        .write(WriteRequest { mutation: Mutation::Rewrap(batch), audit: event(AuditAction::NamespaceRewrap) })
        .await;
    assert_eq!(done.unwrap(), WriteOutcome::Rewrapped(3));
    // A second rewrap of an already rewrapped version changes nothing.
    let done = f
        .data
        .write(WriteRequest {
            mutation: Mutation::Rewrap(std::mem::take(&mut again)),
            audit: event(AuditAction::NamespaceRewrap),
        })
        .await;
    assert_eq!(done.unwrap(), WriteOutcome::Rewrapped(0));
    assert_eq!(f.data.count_stale_versions(&ns.id, 2).await.unwrap(), 1);
    let a1 = f.data.sealed_version(&ns.id, &SecretName::parse("a").unwrap(), Some(1)).await.unwrap().unwrap();
    assert_eq!((a1.ciphertext.as_slice(), a1.version.key_version), (b"new".as_slice(), 2));
}

/// Vault KV settings and per-version state: metadata before data, cas and
/// max_versions from the secret or its namespace, delete/undelete/destroy,
/// and delete_version_after as a deletion time in the future.
async fn kv_metadata_and_version_state(f: crate::Fixture) {
    let ns = make_namespace(&*f.data, "default").await;
    let name = SecretName::parse("app/db").unwrap();
    let meta = |change: fn(&mut SecretMetadataChange)| {
        let mut c = SecretMetadataChange {
            namespace_id: ns.id.clone(),
            name: name.clone(),
            new_secret_id: "kv1".into(),
            at: now_millis(),
            max_versions: None,
            cas_required: None,
            delete_version_after: None,
            custom_metadata: None,
        };
        change(&mut c);
        WriteRequest { mutation: Mutation::PutSecretMetadata(c), audit: event(AuditAction::SecretWrite) }
    };
    // Metadata before any data: a record at version 0, listed, with no value.
    f.data.write(meta(|c| c.custom_metadata = Some(r#"{"owner":"ci"}"#.into()))).await.unwrap();
    let record = f.data.secret(&ns.id, &name).await.unwrap().unwrap();
    assert_eq!((record.version, record.id.as_str()), (0, "kv1"));
    assert_eq!(record.custom_metadata.as_deref(), Some(r#"{"owner":"ci"}"#));
    let listed = f.data.secrets(&ns.id, &SecretQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(f.data.sealed_version(&ns.id, &name, None).await.unwrap().is_none());

    // cas_required: a write without cas is refused; with cas 0 it lands as
    // version 1 of the same record. Fields not given stay as they were.
    f.data.write(meta(|c| c.cas_required = Some(true))).await.unwrap();
    let err = f.data.write(put_any(&ns, "app/db", "other", None, b"v1")).await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(Conflict::CasRequired)), "{err:?}");
    f.data.write(put(&ns, "app/db", "other", 0, b"v1")).await.unwrap();
    let record = f.data.secret(&ns.id, &name).await.unwrap().unwrap();
    assert_eq!((record.version, record.id.as_str(), record.kv.cas_required), (1, "kv1", true));
    assert_eq!(record.custom_metadata.as_deref(), Some(r#"{"owner":"ci"}"#));

    // max_versions on the secret wins over the write's default (3).
    f.data
        .write(meta(|c| {
            c.cas_required = Some(false);
            c.max_versions = Some(5)
        }))
        .await
        .unwrap();
    for v in 1..6u64 {
        f.data.write(put(&ns, "app/db", "other", v, format!("v{}", v + 1).as_bytes())).await.unwrap();
    }
    let versions: Vec<u64> = f.data.versions("kv1").await.unwrap().iter().map(|v| v.version).collect();
    assert_eq!(versions, vec![6, 5, 4, 3, 2]);

    // Delete, undelete, destroy; unknown versions are skipped.
    let change = |versions: Vec<u64>, change: VersionChange| WriteRequest {
        mutation: Mutation::ChangeVersions { namespace_id: ns.id.clone(), name: name.clone(), versions, change },
        audit: event(AuditAction::SecretDelete),
    };
    let now = now_millis();
    f.data.write(change(vec![6, 5, 99], VersionChange::Delete { at: now })).await.unwrap();
    let v6 = f.data.sealed_version(&ns.id, &name, None).await.unwrap().unwrap();
    assert_eq!(v6.version.deleted_at, Some(now));
    assert!(!v6.version.is_readable(now));
    f.data.write(change(vec![6], VersionChange::Undelete)).await.unwrap();
    assert!(f.data.sealed_version(&ns.id, &name, None).await.unwrap().unwrap().version.is_readable(now));
    f.data.write(change(vec![5], VersionChange::Destroy)).await.unwrap();
    let v5 = f.data.sealed_version(&ns.id, &name, Some(5)).await.unwrap().unwrap();
    assert!(v5.version.destroyed && v5.ciphertext.is_empty(), "destroy erases the ciphertext");
    // A destroyed version cannot be undeleted, and rotation skips it.
    f.data.write(change(vec![5], VersionChange::Undelete)).await.unwrap();
    assert!(!f.data.sealed_version(&ns.id, &name, Some(5)).await.unwrap().unwrap().version.is_readable(now));
    assert_eq!(f.data.count_stale_versions(&ns.id, 2).await.unwrap(), 4);
    let err = f
        .data
        .write(WriteRequest {
            mutation: Mutation::ChangeVersions {
                namespace_id: ns.id.clone(),
                name: SecretName::parse("nope").unwrap(),
                versions: vec![1],
                change: VersionChange::Destroy,
            },
            audit: event(AuditAction::SecretDelete),
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");

    // Namespace defaults: delete_version_after makes each new version read
    // as deleted from its write time plus the delay.
    let kv = KvSettings { max_versions: 0, cas_required: false, delete_version_after: 60_000 };
    f.data
        .write(WriteRequest {
            mutation: Mutation::SetNamespaceKv { id: ns.id.clone(), kv },
            audit: event(AuditAction::SecretWrite),
        })
        .await
        .unwrap();
    assert_eq!(f.data.namespace(&ns.name).await.unwrap().unwrap().kv, kv);
    f.data.write(put_any(&ns, "later", "s-later", None, b"x")).await.unwrap();
    let later = f.data.sealed_version(&ns.id, &SecretName::parse("later").unwrap(), None).await.unwrap().unwrap();
    let deleted_at = later.version.deleted_at.expect("a deletion time");
    assert_eq!(deleted_at - later.version.created_at, 60_000);
    assert!(later.version.is_readable(deleted_at - 1) && !later.version.is_readable(deleted_at));
}

/// What a read of a secret's current version returns after every kind of
/// acknowledged change, each preceded by a read of it (so that on SQLite
/// the version before the change is in the cache of current versions).
async fn a_read_after_an_acknowledged_change_sees_it(f: crate::Fixture) {
    let ns = make_namespace(&*f.data, "default").await;
    let name = SecretName::parse("app/token").unwrap();
    let current = || async { f.data.sealed_version(&ns.id, &name, None).await.unwrap() };
    let write = |mutation: Mutation| async {
        f.data.write(WriteRequest { mutation, audit: event(AuditAction::SecretWrite) }).await.unwrap()
    };
    assert!(current().await.is_none());
    f.data.write(put(&ns, "app/token", "s1", 0, b"v1")).await.unwrap();
    for _ in 0..3 {
        assert_eq!(current().await.unwrap().ciphertext, b"v1");
    }
    f.data.write(put(&ns, "app/token", "s1", 1, b"v2")).await.unwrap();
    let v2 = current().await.unwrap();
    assert_eq!((v2.ciphertext.as_slice(), v2.version.version, v2.secret.version), (b"v2".as_slice(), 2, 2));

    // Metadata, then the version's own state.
    write(Mutation::PutSecretMetadata(SecretMetadataChange {
        namespace_id: ns.id.clone(),
        name: name.clone(),
        new_secret_id: "unused".into(),
        at: now_millis(),
        max_versions: None,
        cas_required: None,
        delete_version_after: None,
        custom_metadata: Some(r#"{"team":"ci"}"#.into()),
    }))
    .await;
    assert_eq!(current().await.unwrap().secret.custom_metadata.as_deref(), Some(r#"{"team":"ci"}"#));
    let change = |change: VersionChange| Mutation::ChangeVersions {
        namespace_id: ns.id.clone(),
        name: name.clone(),
        versions: vec![2],
        change,
    };
    let at = now_millis();
    write(change(VersionChange::Delete { at })).await;
    assert_eq!(current().await.unwrap().version.deleted_at, Some(at));
    write(change(VersionChange::Undelete)).await;
    assert_eq!(current().await.unwrap().version.deleted_at, None);

    // A rewrap under a new key version.
    write(Mutation::Rewrap(vec![RewrapVersion {
        secret_id: "s1".into(),
        version: 2,
        from_key_version: 1,
        to_key_version: 2,
        ciphertext: b"v2-rewrapped".to_vec(),
    }]))
    .await;
    let rewrapped = current().await.unwrap();
    assert_eq!((rewrapped.ciphertext.as_slice(), rewrapped.version.key_version), (b"v2-rewrapped".as_slice(), 2));

    // last_read_at, from the journal and after its move into the store.
    let read_at = now_millis();
    write(Mutation::RecordRead { secret_id: "s1".into(), at: read_at }).await;
    assert_eq!(current().await.unwrap().secret.last_read_at, Some(read_at));
    f.data.audit_events(&AuditQuery { limit: 1, ..Default::default() }).await.unwrap();
    assert_eq!(current().await.unwrap().secret.last_read_at, Some(read_at));
    let later = read_at + 5;
    write(Mutation::RecordRead { secret_id: "s1".into(), at: later }).await;
    f.data.audit_events(&AuditQuery { limit: 1, ..Default::default() }).await.unwrap();
    write(Mutation::RecordRead { secret_id: "s1".into(), at: later - 1 }).await;
    f.data.audit_events(&AuditQuery { limit: 1, ..Default::default() }).await.unwrap();
    assert_eq!(current().await.unwrap().secret.last_read_at, Some(later));

    // Destroyed, deleted, deleted with its namespace.
    write(change(VersionChange::Destroy)).await;
    let destroyed = current().await.unwrap();
    assert!(destroyed.version.destroyed && destroyed.ciphertext.is_empty());
    write(Mutation::DeleteSecret { namespace_id: ns.id.clone(), name: name.clone() }).await;
    assert!(current().await.is_none());
    f.data.write(put(&ns, "app/token", "s2", 0, b"again")).await.unwrap();
    assert_eq!(current().await.unwrap().secret.id, "s2");
    write(Mutation::DeleteNamespace { id: ns.id.clone() }).await;
    assert!(current().await.is_none());
}

/// Readers running beside a writer never see a version older than the last
/// one acknowledged before their read began.
async fn concurrent_reads_never_go_back_past_an_acknowledged_write(f: crate::Fixture) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU64, Ordering};
    let ns = make_namespace(&*f.data, "default").await;
    f.data.write(put(&ns, "hot", "s1", 0, b"1")).await.unwrap();
    let acknowledged = Arc::new(AtomicU64::new(1));
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..4 {
        let (data, ns_id, acknowledged, done) =
            (Arc::clone(&f.data), ns.id.clone(), Arc::clone(&acknowledged), Arc::clone(&done));
        readers.push(tokio::spawn(async move {
            let name = SecretName::parse("hot").unwrap();
            let mut reads = 0u64;
            while !done.load(Ordering::SeqCst) {
                let floor = acknowledged.load(Ordering::SeqCst);
                let seen = data.sealed_version(&ns_id, &name, None).await.unwrap().unwrap().version.version;
                assert!(seen >= floor, "read version {seen} after version {floor} was acknowledged");
                reads += 1;
                tokio::task::yield_now().await;
            }
            reads
        }));
    }
    for v in 1..60u64 {
        f.data.write(put(&ns, "hot", "s1", v, (v + 1).to_string().as_bytes())).await.unwrap();
        acknowledged.store(v + 1, Ordering::SeqCst);
    }
    done.store(true, Ordering::SeqCst);
    for reader in readers {
        assert!(reader.await.unwrap() > 0);
    }
}

crate::on_both_backends!(
    a_read_after_an_acknowledged_change_sees_it,
    concurrent_reads_never_go_back_past_an_acknowledged_write,
    kv_metadata_and_version_state,
    rewrap_replaces_only_stale_versions,
    versions_cas_types_and_pruning,
    listing_by_prefix_and_cursor,
    paging_by_cursor_and_prefix_returns_every_name_once,
    delete_is_idempotent_and_namespace_delete_cascades,
    concurrent_writes_are_grouped_and_all_land,
    refused_writes_are_audited_with_their_outcome,
    login_roles_are_stored_whole_and_named_once
);
