//! The service's rules in-process, over real SQLite stores in a temporary directory.
#![allow(missing_debug_implementations)]

mod read_cost;

use std::sync::Arc;

use hush_core::{NamespaceName, Scope, ScopeSet, SecretBytes, SecretName, SecretString, SecretValue};
use hush_service::bootstrap::{OpenOptions, open};
use hush_service::{Credentials, Hush, ListSecrets, ServiceConfig, ServiceError, TokenSpec};

struct Fixture {
    dir: tempfile::TempDir,
    hush: Arc<Hush>,
    admin: Credentials,
}

async fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let opened = open(OpenOptions::in_dirs(dir.path().join("data"), dir.path().join("keys"), ServiceConfig::default()))
        .await
        .unwrap();
    let admin = Credentials::bearer(opened.first_start.unwrap().admin_token);
    Fixture { dir, hush: opened.hush, admin }
}

fn ns(n: &str) -> NamespaceName {
    NamespaceName::parse(n).unwrap()
}

fn name(n: &str) -> SecretName {
    SecretName::parse(n).unwrap()
}

fn generic(v: &str) -> SecretValue {
    SecretValue::Generic(SecretBytes::copy_from(v.as_bytes()))
}

async fn token(f: &Fixture, namespaces: &[&str], scopes: &[Scope]) -> Credentials {
    let spec = TokenSpec {
        namespaces: Some(namespaces.iter().map(|n| ns(n)).collect()),
        scopes: ScopeSet::of(scopes.iter().copied()),
        ttl: None,
        description: String::new(),
    };
    Credentials::bearer(f.hush.create_token(&f.admin, &spec).await.unwrap().token)
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_writes_without_cas_all_land_as_distinct_versions() {
    let f = fixture().await;
    let mut tasks = Vec::new();
    for i in 0..40 {
        let hush = Arc::clone(&f.hush);
        let admin = f.admin.clone();
        tasks.push(tokio::spawn(async move {
            hush.put_secret(&admin, &ns("default"), &name("hot"), generic(&format!("v{i}")), None).await
        }));
    }
    let mut versions = Vec::new();
    for t in tasks {
        versions.push(t.await.unwrap().unwrap().version);
    }
    versions.sort();
    assert_eq!(versions, (1..=40).collect::<Vec<u64>>());
    let current = f.hush.get_secret(&f.admin, &ns("default"), &name("hot"), None).await.unwrap();
    assert_eq!(current.record.version, *versions.last().unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn racing_cas_writes_have_exactly_one_winner() {
    let f = fixture().await;
    f.hush.put_secret(&f.admin, &ns("default"), &name("k"), generic("v1"), None).await.unwrap();
    for round in 1..=5u64 {
        let mut tasks = Vec::new();
        for i in 0..10 {
            let hush = Arc::clone(&f.hush);
            let admin = f.admin.clone();
            tasks.push(tokio::spawn(async move {
                hush.put_secret(&admin, &ns("default"), &name("k"), generic(&format!("r{round}-{i}")), Some(round))
                    .await
            }));
        }
        let mut winners = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(rec) => {
                    winners += 1;
                    assert_eq!(rec.version, round + 1);
                }
                Err(ServiceError::CasMismatch { current }) => assert_eq!(current, round + 1),
                Err(e) => panic!("{e:?}"),
            }
        }
        assert_eq!(winners, 1, "round {round}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn scope_matrix() {
    let f = fixture().await;
    f.hush.put_secret(&f.admin, &ns("default"), &name("s"), generic("v"), None).await.unwrap();
    let all = [
        Scope::SecretsList,
        Scope::SecretsRead,
        Scope::SecretsWrite,
        Scope::SecretsDelete,
        Scope::TokensManage,
        Scope::NamespacesManage,
        Scope::AuditRead,
    ];
    for scope in all {
        let c = token(&f, &["default"], &[scope]).await;
        let h = &f.hush;
        let d = ns("default");
        let checks: Vec<(Scope, Result<(), ServiceError>)> = vec![
            (Scope::SecretsList, h.list_secrets(&c, &d, &ListSecrets::default()).await.map(drop)),
            (Scope::SecretsList, h.secret_versions(&c, &d, &name("s")).await.map(drop)),
            (Scope::SecretsRead, h.get_secret(&c, &d, &name("s"), None).await.map(drop)),
            (Scope::SecretsWrite, h.put_secret(&c, &d, &name("w"), generic("x"), None).await.map(drop)),
            (Scope::SecretsDelete, h.delete_secret(&c, &d, &name("gone")).await.map(drop)),
            (Scope::TokensManage, h.list_tokens(&c).await.map(drop)),
            (Scope::AuditRead, h.audit_events(&c, &Default::default()).await.map(drop)),
        ];
        for (needed, result) in checks {
            if needed == scope {
                assert!(result.is_ok(), "{scope} should allow: {result:?}");
            } else {
                assert!(
                    matches!(result, Err(ServiceError::Forbidden(_))),
                    "{scope} should not allow {needed}: {result:?}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn verifying_the_audit_log_needs_an_all_namespace_token() {
    let f = fixture().await;
    let bound = token(&f, &["default"], &[Scope::AuditRead]).await;
    assert!(matches!(f.hush.verify_audit(&bound).await, Err(ServiceError::Forbidden(_))));
    assert!(f.hush.verify_audit(&f.admin).await.unwrap().ok());
}

/// Verification reads the next page while it checks the MACs of this one
/// (issue 20): over several pages (5,000 events each) every event is
/// checked once, none skipped or counted twice.
#[tokio::test(flavor = "multi_thread")]
async fn verifying_a_log_of_several_pages_checks_every_event_once() {
    let f = fixture().await;
    many_events(&f, 12_800).await;
    let report = f.hush.verify_audit(&f.admin).await.unwrap();
    assert!(report.ok(), "{report:?}");
    assert!(report.events > 12_800, "{report:?}");
    assert_eq!(report.events, report.last_seq, "every event from 1 on, once");
}

/// `n` audit events or more: listings, from 64 tasks at once.
async fn many_events(f: &Fixture, n: usize) {
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let (hush, admin) = (Arc::clone(&f.hush), f.admin.clone());
        tasks.spawn(async move {
            for _ in 0..n.div_ceil(64) {
                hush.list_namespaces(&admin).await.unwrap();
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
}

/// The verification reads several pages at once, each a range of event
/// numbers: a gap is reported at its first missing event wherever it lies,
/// within a page, across the edge between two, or over whole pages (pages
/// of 2,000 events: (0, 2000], (2000, 4000], …).
#[tokio::test(flavor = "multi_thread")]
async fn a_gap_is_reported_at_its_first_missing_event_wherever_it_lies() {
    for (first, last) in [(7_000_i64, 7_000_i64), (4_500, 4_600), (3_990, 4_010), (2_000, 11_000)] {
        let f = fixture().await;
        many_events(&f, 12_000).await;
        // Every event is in SQLite once a verification has read them.
        assert!(f.hush.verify_audit(&f.admin).await.unwrap().ok());
        let db = rusqlite::Connection::open(f.dir.path().join("data").join("hush.db")).unwrap();
        let removed = db.execute("DELETE FROM audit_events WHERE seq BETWEEN ?1 AND ?2", [first, last]).unwrap();
        assert_eq!(removed as i64, last - first + 1);
        let report = f.hush.verify_audit(&f.admin).await.unwrap();
        assert_eq!(
            report.problem,
            Some((first as u64, format!("events {first} to {last} are missing"))),
            "gap {first}-{last}: {report:?}"
        );
        assert_eq!(report.last_seq, first as u64 - 1);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn revoking_a_token_revokes_what_it_issued() {
    let f = fixture().await;
    let manager = token(&f, &["default"], &[Scope::TokensManage, Scope::SecretsList]).await;
    let child_spec = TokenSpec {
        namespaces: Some(vec![ns("default")]),
        scopes: ScopeSet::of([Scope::SecretsList]),
        ttl: None,
        description: String::new(),
    };
    let child = Credentials::bearer(f.hush.create_token(&manager, &child_spec).await.unwrap().token);
    let grandchild = Credentials::bearer(
        f.hush
            .create_token(
                &manager,
                &TokenSpec { scopes: ScopeSet::of([Scope::SecretsList, Scope::TokensManage]), ..child_spec.clone() },
            )
            .await
            .unwrap()
            .token,
    );
    let great = Credentials::bearer(f.hush.create_token(&grandchild, &child_spec).await.unwrap().token);
    for c in [&child, &grandchild, &great] {
        f.hush.list_secrets(c, &ns("default"), &ListSecrets::default()).await.unwrap();
    }
    let manager_id = manager.token().unwrap().expose_secret()[5..21].to_owned();
    f.hush.revoke_token(&f.admin, &manager_id).await.unwrap();
    for c in [&child, &grandchild, &great] {
        let err = f.hush.list_secrets(c, &ns("default"), &ListSecrets::default()).await.unwrap_err();
        assert!(matches!(err, ServiceError::Unauthenticated(m) if m.contains("issued this token")), "{err:?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn values_and_errors_never_print_plaintext() {
    let f = fixture().await;
    let v = SecretValue::Registry {
        username: "u".into(),
        password: SecretString::copy_from("PRINTED-PASSWORD"),
        server_address: "r.example".into(),
    };
    f.hush.put_secret(&f.admin, &ns("default"), &name("r"), v, None).await.unwrap();
    let revealed = f.hush.get_secret(&f.admin, &ns("default"), &name("r"), None).await.unwrap();
    let printed = format!("{revealed:?} {:?} {:#?}", revealed.value, revealed);
    assert!(!printed.contains("PRINTED-PASSWORD"), "{printed}");
    let err =
        f.hush.put_secret(&f.admin, &ns("default"), &name("r"), generic("PRINTED-PASSWORD"), None).await.unwrap_err();
    assert!(!format!("{err} {err:?}").contains("PRINTED-PASSWORD"));
}

#[tokio::test(flavor = "multi_thread")]
async fn the_registry_scopes_are_not_namespaces_to_any_other_call() {
    let f = fixture().await;
    let (login, pw) = ("bot".to_owned(), || SecretString::copy_from("pw"));
    use hush_service::{RegistryScope, RegistryTarget};
    f.hush.put_registry(&f.admin, &RegistryScope::Global, "ghcr.io", login.clone(), pw()).await.unwrap();
    for reserved in ["global", "global-private"] {
        let r = ns(reserved);
        let not_found = |e: ServiceError| matches!(e, ServiceError::NotFound(hush_service::Missing::Namespace));
        assert!(not_found(f.hush.list_secrets(&f.admin, &r, &ListSecrets::default()).await.unwrap_err()), "{reserved}");
        assert!(not_found(f.hush.get_secret(&f.admin, &r, &name("registries/ghcr.io"), None).await.unwrap_err()));
        assert!(not_found(f.hush.put_secret(&f.admin, &r, &name("x"), generic("v"), None).await.unwrap_err()));
        assert!(not_found(f.hush.delete_namespace(&f.admin, &r).await.unwrap_err()), "{reserved}");
        let spec = TokenSpec {
            namespaces: Some(vec![r.clone()]),
            scopes: ScopeSet::of([Scope::SecretsRead]),
            ttl: None,
            description: String::new(),
        };
        assert!(not_found(f.hush.create_token(&f.admin, &spec).await.unwrap_err()), "{reserved}");
        assert!(matches!(f.hush.create_namespace(&f.admin, &r).await, Err(ServiceError::Invalid { .. })));
    }
    let listed = f.hush.list_namespaces(&f.admin).await.unwrap();
    assert_eq!(listed.iter().map(|n| n.name.as_str()).collect::<Vec<_>>(), ["default"]);
    // The global entry survived all of that and is still found from a namespace.
    let found = f
        .hush
        .registry_credentials(
            &f.admin,
            &RegistryScope::Namespace(ns("default")),
            &RegistryTarget::Image("ghcr.io/o/a".into()),
        )
        .await
        .unwrap();
    assert_eq!((found.entry.scope.as_str(), found.password.expose_secret()), ("global", "pw"));
    // A namespace token reads it, but cannot write or delete it.
    let team = token(&f, &["default"], &[Scope::RegistriesRead, Scope::RegistriesWrite]).await;
    let g = RegistryScope::Global;
    assert!(f.hush.list_registries(&team, &g).await.is_ok());
    let denied = |r: Result<_, ServiceError>| matches!(r, Err(ServiceError::Forbidden(_)));
    assert!(denied(f.hush.put_registry(&team, &g, "ghcr.io", login.clone(), pw()).await.map(drop)));
    let selector = hush_service::RegistrySelector::Url("ghcr.io".into());
    assert!(denied(f.hush.delete_registry(&team, &g, &selector).await.map(drop)));
    assert!(denied(f.hush.list_registries(&team, &RegistryScope::GlobalPrivate).await.map(drop)));
    assert!(denied(f.hush.authorize_registry_test(&team, "ghcr.io").await));
}

#[tokio::test(flavor = "multi_thread")]
async fn listing_everything_crosses_pages_in_one_audited_call() {
    let f = fixture().await;
    let mut tasks = Vec::new();
    for i in 0..1005 {
        let hush = Arc::clone(&f.hush);
        let admin = f.admin.clone();
        tasks.push(tokio::spawn(async move {
            hush.put_secret(&admin, &ns("default"), &name(&format!("s{i:04}")), generic("v"), None).await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let all = f.hush.list_all_secrets(&f.admin, &ns("default")).await.unwrap();
    assert_eq!(all.len(), 1005);
    assert!(all.windows(2).all(|w| w[0].name.as_str() < w[1].name.as_str()), "sorted, no duplicates");
    let after = f
        .hush
        .audit_events(&f.admin, &hush_service::AuditFilter { limit: Some(2), ..Default::default() })
        .await
        .unwrap();
    let newest = &after.events[0];
    assert_eq!(newest.event.action.as_str(), "secret.list");
    let previous = &after.events[1];
    assert_eq!(previous.event.action.as_str(), "secret.write", "one event for the whole listing: {previous:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_streamed_verification_reports_progress_then_the_same_result() {
    let f = fixture().await;
    // More events than one page of the verification (5,000), written by concurrent calls.
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (hush, admin) = (Arc::clone(&f.hush), f.admin.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..400 {
                hush.list_namespaces(&admin).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let mut updates = f.hush.verify_audit_streamed(&f.admin).await.unwrap();
    let mut seen = Vec::new();
    let report = loop {
        match updates.recv().await.expect("the stream ends with Done") {
            hush_service::VerifyUpdate::Checked { events, of } => seen.push((events, of)),
            hush_service::VerifyUpdate::Done(result) => break result.unwrap(),
        }
    };
    assert!(report.ok() && report.events > 12_800, "{report:?}");
    assert!(seen.len() >= 2, "a page at a time: {seen:?}");
    assert!(seen.windows(2).all(|w| w[0].0 < w[1].0), "counts only grow: {seen:?}");
    assert_eq!(seen.last().map(|(events, _)| *events), Some(report.events));
    assert!(seen.iter().all(|(_, of)| *of >= 12_800 && *of <= report.events), "{seen:?}");
    let plain = f.hush.verify_audit(&f.admin).await.unwrap();
    assert_eq!((plain.ok(), plain.last_seq > report.last_seq), (true, true), "each verification is an event too");

    // A token without audit:read is refused at once, with no stream.
    let reader = token(&f, &["default"], &[Scope::SecretsRead]).await;
    assert!(matches!(f.hush.verify_audit_streamed(&reader).await, Err(ServiceError::Forbidden(_))));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_whose_reader_goes_away_stops_and_lets_go() {
    let f = fixture().await;
    // More rows than the backup keeps in flight (4,096), so its dump must notice the reader left.
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let (hush, admin) = (Arc::clone(&f.hush), f.admin.clone());
        tasks.push(tokio::spawn(async move {
            for _ in 0..300 {
                hush.list_namespaces(&admin).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let holders = Arc::strong_count(&f.hush);
    let mut stream = f.hush.backup(&f.admin).await.unwrap();
    assert!(stream.next().await.unwrap().is_ok(), "the file's head");
    drop(stream);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while Arc::strong_count(&f.hush) > holders {
        assert!(std::time::Instant::now() < deadline, "the backup's task never ended");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Nothing is left held: keys can be made and a whole backup taken.
    f.hush.create_namespace(&f.admin, &ns("after")).await.unwrap();
    let mut stream = f.hush.backup(&f.admin).await.unwrap();
    let mut bytes = 0;
    while let Some(piece) = stream.next().await {
        bytes += piece.unwrap().len();
    }
    assert!(bytes > 100_000, "{bytes}");
}
