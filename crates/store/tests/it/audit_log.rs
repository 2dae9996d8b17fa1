//! The audit log reads back exactly what was appended, on both backends
//! (SQLite stores an event's strings as numbers since migration 0006;
//! PostgreSQL as they are), and its filters pick the same events.

use hush_crypto::{AUDIT_GENESIS, AuditKey};
use hush_store::{
    AuditAction, AuditEvent, AuditQuery, AuditRecord, DataStore, Mutation, Outcome, RefusalSummary, WriteRequest,
};

/// Events covering every field set and unset, odd values included.
pub fn every_kind_of_event() -> Vec<AuditEvent> {
    let bare = AuditEvent { at: 1_765_000_000_000, ..AuditEvent::new(AuditAction::SecretRead, None, None) };
    let read = AuditEvent {
        token_id: Some("3f9a2c7d81b04e6a".into()),
        namespace: Some("default".into()),
        namespace_id: Some("8c1e4f7a2b9d06e35a7c1f4e8b2d9a60".into()),
        name: Some("svc-042/key-0001234".into()),
        version: Some(1),
        client_addr: Some("10.1.2.3".into()),
        ..bare.clone()
    };
    let full = AuditEvent {
        action: AuditAction::Login,
        outcome: Outcome::Denied,
        context: Some("workflow deploy, run 7 ✓".into()),
        client_cert: Some("CN=runner-1,O=ci".into()),
        refusals: Some(RefusalSummary {
            count: 42,
            first_at: 1_765_000_000_001,
            last_at: 1_765_000_059_999,
            reasons: "invalid_token=2,no_token=40".into(),
        }),
        identity: Some(
            r#"{"role":"ci","iss":"https://issuer.example","sub":"repo:o/r","claims":{"run_id":"7"}}"#.into(),
        ),
        reason: Some("expired".into()),
        ..read.clone()
    };
    let mut events = vec![
        bare.clone(),
        read.clone(),
        full.clone(),
        // Each optional field alone.
        AuditEvent { token_id: Some("t".into()), ..bare.clone() },
        AuditEvent { namespace: Some("asked-for".into()), outcome: Outcome::NotFound, ..bare.clone() },
        AuditEvent { namespace_id: Some("only-an-id".into()), ..bare.clone() },
        AuditEvent { name: Some("a".into()), ..bare.clone() },
        AuditEvent { version: Some(0), ..bare.clone() },
        AuditEvent { version: Some(u64::MAX), ..bare.clone() },
        AuditEvent { context: Some("ctx".into()), ..bare.clone() },
        AuditEvent { client_cert: Some("CN=x".into()), ..bare.clone() },
        AuditEvent { client_addr: Some("2001:db8::/64".into()), ..bare.clone() },
        AuditEvent {
            action: AuditAction::AuthRefused,
            outcome: Outcome::Unauthenticated,
            client_addr: Some("*".into()),
            refusals: Some(RefusalSummary { count: 0, first_at: -1, last_at: i64::MAX, reasons: String::new() }),
            ..bare.clone()
        },
        AuditEvent { identity: Some("{}".into()), ..bare.clone() },
        AuditEvent { reason: Some("bad_audience".into()), ..bare.clone() },
        // Every text field empty rather than missing.
        AuditEvent {
            token_id: Some(String::new()),
            namespace: Some(String::new()),
            namespace_id: Some(String::new()),
            name: Some(String::new()),
            context: Some(String::new()),
            client_cert: Some(String::new()),
            client_addr: Some(String::new()),
            identity: Some(String::new()),
            reason: Some(String::new()),
            ..bare.clone()
        },
        // One string in several fields.
        AuditEvent {
            token_id: Some("same".into()),
            name: Some("same".into()),
            namespace: Some("same".into()),
            client_addr: Some("same".into()),
            ..bare.clone()
        },
        AuditEvent { at: i64::MIN, ..bare.clone() },
    ];
    for action in AuditAction::ALL {
        events.push(AuditEvent { action, ..read.clone() });
    }
    for outcome in Outcome::ALL {
        events.push(AuditEvent { outcome, ..full.clone() });
    }
    events
}

/// Checks that `records` are 1..=n with every MAC chaining from the genesis.
pub fn assert_chain(key: &AuditKey, records: &[AuditRecord]) {
    let mut mac = AUDIT_GENESIS;
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r.seq, i as u64 + 1, "sequence without gaps");
        assert!(key.verify(&mac, &r.event.canonical(r.seq), &r.mac), "event {} chains", r.seq);
        mac = r.mac.as_slice().try_into().unwrap();
    }
}

/// Appends `event` as a read does (`AuditOnly`: on SQLite through the
/// journal) or with a change (an empty rewrap: through a transaction).
async fn append(data: &dyn DataStore, event: AuditEvent, with_a_change: bool) {
    let mutation = if with_a_change { Mutation::Rewrap(Vec::new()) } else { Mutation::AuditOnly };
    data.write(WriteRequest { mutation, audit: event }).await.unwrap();
}

async fn every_field_round_trips(f: crate::Fixture) {
    let events = every_kind_of_event();
    for with_a_change in [false, true] {
        for event in &events {
            append(&*f.data, event.clone(), with_a_change).await;
        }
    }
    let chain = f.data.audit_chain(0, 10_000).await.unwrap();
    assert_eq!(chain.len(), 2 * events.len());
    assert_chain(&f.audit_key, &chain);
    for (i, record) in chain.iter().enumerate() {
        assert_eq!(record.event, events[i % events.len()], "event {}", record.seq);
    }
    // The listing reads the same rows, newest first.
    let listed = f.data.audit_events(&AuditQuery { limit: 10_000, ..Default::default() }).await.unwrap();
    let mut newest_first = chain.clone();
    newest_first.reverse();
    assert_eq!(listed, newest_first);
    let head = f.data.audit_head().await.unwrap().unwrap();
    assert_eq!(head, (chain.len() as u64, chain.last().unwrap().mac.clone()));
}

/// What `query` must return from `all` (oldest first): the reference the
/// stores are checked against.
fn expected(all: &[AuditRecord], query: &AuditQuery) -> Vec<AuditRecord> {
    let matches = |r: &&AuditRecord| {
        let e = &r.event;
        query.before.is_none_or(|b| r.seq < b)
            && query.namespace_ids.as_ref().is_none_or(|ids| e.namespace_id.as_ref().is_some_and(|i| ids.contains(i)))
            && query.namespace.as_ref().is_none_or(|n| e.namespace.as_deref() == Some(n.as_str()))
            && query.name.as_ref().is_none_or(|n| e.name.as_ref() == Some(n))
            && query.action.is_none_or(|a| e.action == a)
            && query.outcome.is_none_or(|o| e.outcome == o)
            && query.token_id.as_ref().is_none_or(|t| e.token_id.as_ref() == Some(t))
    };
    all.iter().rev().filter(matches).take(query.limit as usize).cloned().collect()
}

async fn filters_pick_the_same_events(f: crate::Fixture) {
    // Namespace `default` under two ids (deleted and made again), a
    // `default` that was not found (no id), others; three tokens, a few
    // names, actions and outcomes, spread so every filter has work to do.
    let namespaces: [(Option<&str>, Option<&str>); 6] = [
        (Some("default"), Some("id-default-1")),
        (Some("default"), Some("id-default-2")),
        (Some("default"), None),
        (Some("other"), Some("id-other")),
        (None, Some("id-other")),
        (None, None),
    ];
    let tokens = [Some("tok-a"), Some("tok-b"), None];
    let names = [Some("db/password"), Some("api-key"), None];
    let actions = [AuditAction::SecretRead, AuditAction::SecretWrite, AuditAction::SecretList];
    let outcomes = [Outcome::Ok, Outcome::Denied, Outcome::NotFound];
    for i in 0..150usize {
        let (namespace, namespace_id) = namespaces[(i * 7) % namespaces.len()];
        let mut e = AuditEvent::new(actions[i % 3], tokens[(i / 3) % 3].map(Into::into), None);
        e.outcome = outcomes[(i / 5) % 3];
        e.namespace = namespace.map(Into::into);
        e.namespace_id = namespace_id.map(Into::into);
        e.name = names[(i / 2) % 3].map(Into::into);
        append(&*f.data, e, i % 10 == 0).await;
    }
    let all = f.data.audit_chain(0, 10_000).await.unwrap();
    assert_eq!(all.len(), 150);

    let ids = |list: &[&str]| Some(list.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    let mut queries = Vec::new();
    for namespace_ids in [None, ids(&[]), ids(&["id-default-1"]), ids(&["id-default-2", "id-other"]), ids(&["nope"])] {
        for namespace in [None, Some("default"), Some("other"), Some("nowhere")] {
            for limit in [1, 7, 1000] {
                queries.push(AuditQuery {
                    namespace_ids: namespace_ids.clone(),
                    namespace: namespace.map(|n| hush_core::NamespaceName::parse(n).unwrap()),
                    limit,
                    ..Default::default()
                });
            }
        }
    }
    let base = AuditQuery { limit: 1000, ..Default::default() };
    for name in ["db/password", "api-key", "nothing"] {
        queries.push(AuditQuery { name: Some(name.into()), ..base.clone() });
    }
    for token in ["tok-a", "tok-b", "hush_nobody"] {
        queries.push(AuditQuery { token_id: Some(token.into()), ..base.clone() });
    }
    for action in [AuditAction::SecretRead, AuditAction::SecretWrite, AuditAction::TokenList] {
        queries.push(AuditQuery { action: Some(action), ..base.clone() });
    }
    for outcome in [Outcome::Ok, Outcome::Denied, Outcome::Conflict] {
        queries.push(AuditQuery { outcome: Some(outcome), ..base.clone() });
    }
    for before in [0, 1, 2, 75, 151, u64::MAX] {
        queries.push(AuditQuery { before: Some(before), limit: 5, ..Default::default() });
    }
    queries.push(AuditQuery {
        namespace_ids: ids(&["id-default-1", "id-default-2", "id-other"]),
        namespace: Some(hush_core::NamespaceName::parse("default").unwrap()),
        name: Some("db/password".into()),
        action: Some(AuditAction::SecretRead),
        outcome: Some(Outcome::Ok),
        token_id: Some("tok-a".into()),
        before: Some(140),
        limit: 1000,
    });
    for query in &queries {
        let want = expected(&all, query);
        assert_eq!(f.data.audit_events(query).await.unwrap(), want, "{query:?}");
    }
    // Paging through several namespaces' events, a few at a time, sees
    // each event once, newest first.
    for namespace_ids in [ids(&["id-default-1", "id-default-2", "id-other"]), None] {
        let query = AuditQuery {
            namespace_ids: namespace_ids.clone(),
            namespace: Some(hush_core::NamespaceName::parse("default").unwrap()),
            limit: 4,
            ..Default::default()
        };
        let mut paged = Vec::new();
        let mut before = None;
        loop {
            let page = f.data.audit_events(&AuditQuery { before, ..query.clone() }).await.unwrap();
            let Some(last) = page.last() else { break };
            before = Some(last.seq);
            paged.extend(page);
        }
        assert_eq!(paged, expected(&all, &AuditQuery { limit: 1000, ..query }));
    }
}

crate::on_both_backends!(every_field_round_trips, filters_pick_the_same_events);
