use hush_store::sqlite::KEYS_FILE;
use hush_store::{AuditAnchor, Conflict, Installation, StoreError};

async fn keys_by_version_and_destroyed_for_good(f: crate::Fixture) {
    let marker_v1 = b"WRAPPED-KEY-MARKER-ONE-0123456789".to_vec();
    let marker_v2 = b"WRAPPED-KEY-MARKER-TWO-0123456789".to_vec();
    f.keys.put_namespace_key("ns1", 1, &marker_v1).await.unwrap();
    f.keys.put_namespace_key("ns1", 2, &marker_v2).await.unwrap();
    f.keys.put_namespace_key("ns2", 1, b"other").await.unwrap();
    let err = f.keys.put_namespace_key("ns1", 2, b"again").await.unwrap_err();
    assert!(matches!(err, StoreError::Conflict(Conflict::AlreadyExists)));
    assert_eq!(f.keys.current_namespace_key("ns1").await.unwrap(), Some((2, marker_v2.clone())));
    assert_eq!(f.keys.namespace_key("ns1", 1).await.unwrap(), Some(marker_v1.clone()));

    f.keys.destroy_namespace_keys("ns1").await.unwrap();
    assert_eq!(f.keys.current_namespace_key("ns1").await.unwrap(), None);
    assert_eq!(f.keys.namespace_key("ns2", 1).await.unwrap(), Some(b"other".to_vec()));

    // SQLite: secure_delete + checkpoint, so the bytes are gone from the files on disk.
    // (PostgreSQL leaves them until VACUUM; docs/operations.md.)
    if let Some(dir) = &f.dir {
        for entry in std::fs::read_dir(dir.path()).unwrap() {
            let path = entry.unwrap().path();
            if path.file_name().unwrap().to_string_lossy().starts_with(KEYS_FILE) {
                let bytes = std::fs::read(&path).unwrap();
                for marker in [&marker_v1, &marker_v2] {
                    assert!(
                        !bytes.windows(marker.len()).any(|w| w == marker.as_slice()),
                        "{} still holds a destroyed key",
                        path.display()
                    );
                }
            }
        }
    }
}

async fn installation_and_anchor(f: crate::Fixture) {
    assert!(f.keys.installation().await.unwrap().is_none());
    let inst = Installation {
        id: "inst".into(),
        wrapped_audit_key: b"audit".to_vec(),
        wrapped_token_key: b"token".to_vec(),
        completed: false,
    };
    f.keys.initialize(&inst).await.unwrap();
    let again = Installation { id: "inst2".into(), ..inst.clone() };
    assert!(matches!(f.keys.initialize(&again).await, Err(StoreError::Conflict(Conflict::AlreadyExists))));
    assert_eq!(f.keys.installation().await.unwrap(), Some(inst.clone()));
    f.keys.mark_completed().await.unwrap();
    assert_eq!(f.keys.installation().await.unwrap(), Some(Installation { completed: true, ..inst }));
    f.keys.set_audit_anchor(&AuditAnchor { seq: 5, mac: vec![5] }).await.unwrap();
    f.keys.set_audit_anchor(&AuditAnchor { seq: 3, mac: vec![3] }).await.unwrap();
    assert_eq!(f.keys.audit_anchor().await.unwrap(), Some(AuditAnchor { seq: 5, mac: vec![5] }));
}

async fn wrapped_keys_are_replaced_in_one_go(f: crate::Fixture) {
    let inst = Installation {
        id: "i1".into(),
        wrapped_audit_key: b"audit-old".to_vec(),
        wrapped_token_key: b"token-old".to_vec(),
        completed: true,
    };
    f.keys.initialize(&inst).await.unwrap();
    f.keys.put_namespace_key("ns1", 1, b"ns1-v1-old").await.unwrap();
    f.keys.put_namespace_key("ns1", 2, b"ns1-v2-old").await.unwrap();
    let mut keys = f.keys.wrapped_keys().await.unwrap();
    assert_eq!(
        (keys.audit_key.as_slice(), keys.token_key.as_slice()),
        (b"audit-old".as_slice(), b"token-old".as_slice())
    );
    assert_eq!(
        keys.namespace_keys,
        vec![("ns1".to_owned(), 1, b"ns1-v1-old".to_vec()), ("ns1".to_owned(), 2, b"ns1-v2-old".to_vec())]
    );
    keys.audit_key = b"audit-new".to_vec();
    keys.token_key = b"token-new".to_vec();
    keys.namespace_keys = vec![("ns1".to_owned(), 2, b"ns1-v2-new".to_vec())];
    f.keys.replace_wrapped_keys(&keys).await.unwrap();
    let after = f.keys.installation().await.unwrap().unwrap();
    assert_eq!(
        (after.wrapped_audit_key.as_slice(), after.wrapped_token_key.as_slice()),
        (b"audit-new".as_slice(), b"token-new".as_slice())
    );
    assert_eq!(f.keys.namespace_key("ns1", 2).await.unwrap(), Some(b"ns1-v2-new".to_vec()));
    assert_eq!(f.keys.namespace_key("ns1", 1).await.unwrap(), Some(b"ns1-v1-old".to_vec()), "keys not listed stay");
}

crate::on_both_backends!(
    wrapped_keys_are_replaced_in_one_go,
    keys_by_version_and_destroyed_for_good,
    installation_and_anchor
);
