//! Tokens and scopes: isolation between namespaces, scope checks, no
//! escalation, revocation and expiry.

use crate::harness::{Hush, show};

#[test]
fn a_token_sees_only_its_namespaces_and_scopes() {
    let h = Hush::running();
    assert_eq!(h.cli(&["namespace", "create", "a"]).status.code(), Some(0));
    assert_eq!(h.cli(&["namespace", "create", "b"]).status.code(), Some(0));
    assert_eq!(h.cli(&["secret", "create", "s", "-n", "a", "--value", "in-a"]).status.code(), Some(0));
    assert_eq!(h.cli(&["secret", "create", "s", "-n", "b", "--value", "in-b"]).status.code(), Some(0));

    let reader_a = h.token(&["a"], &["secrets:list", "secrets:read"]);
    assert_eq!(h.cli_as(&reader_a, &["secret", "get", "s", "-n", "a"], None).stdout, b"in-a");
    // Namespace b: not found, exactly as for a namespace that does not exist.
    let other = h.cli_as(&reader_a, &["secret", "get", "s", "-n", "b"], None);
    let missing = h.cli_as(&reader_a, &["secret", "get", "s", "-n", "no-such-ns"], None);
    assert_eq!(other.status.code(), Some(4), "{}", show(&other));
    assert_eq!(other.stderr, missing.stderr);
    assert_eq!(h.cli_as(&reader_a, &["secret", "list", "-n", "b"], None).status.code(), Some(4));
    // It lists only its own namespace.
    let out = h.cli_as(&reader_a, &["namespace", "list", "--json"], None);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["namespaces"].as_array().unwrap().len(), 1);
    assert_eq!(v["namespaces"][0]["name"], "a");
    // No write scope.
    let out = h.cli_as(&reader_a, &["secret", "create", "s", "-n", "a", "--value", "x"], None);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("secrets:write"), "{}", show(&out));

    // A list-only token gets 403 reading a value, but lists.
    let lister = h.token(&["a"], &["secrets:list"]);
    let out = h.cli_as(&lister, &["secret", "get", "s", "-n", "a"], None);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("secrets:read"));
    assert_eq!(h.cli_as(&lister, &["secret", "list", "-n", "a"], None).status.code(), Some(0));
}

#[test]
fn tokens_cannot_escalate() {
    let h = Hush::running();
    assert_eq!(h.cli(&["namespace", "create", "a"]).status.code(), Some(0));
    assert_eq!(h.cli(&["namespace", "create", "b"]).status.code(), Some(0));
    let manager = h.token(&["a"], &["tokens:manage", "secrets:list"]);
    let table: &[&[&str]] = &[
        &["token", "create", "-n", "a", "--scope", "secrets:read"],
        &["token", "create", "-n", "a", "--scope", "admin"],
        &["token", "create", "--all-namespaces", "--scope", "secrets:list"],
    ];
    for args in table {
        let out = h.cli_as(&manager, args, None);
        assert_eq!(out.status.code(), Some(3), "{args:?}: {}", show(&out));
    }
    let out = h.cli_as(&manager, &["token", "create", "-n", "b", "--scope", "secrets:list"], None);
    assert_eq!(out.status.code(), Some(4), "{}", show(&out));
    let out = h.cli_as(&manager, &["token", "create", "-n", "a", "--scope", "secrets:list"], None);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    // Namespace creation needs an all-namespace token.
    let ns_manager = h.token(&["a"], &["namespaces:manage"]);
    assert_eq!(h.cli_as(&ns_manager, &["namespace", "create", "c"], None).status.code(), Some(3));
}

#[test]
fn the_token_is_shown_once_stored_as_a_hash_and_revocable() {
    let h = Hush::running();
    let out = h.cli(&["token", "create", "-n", "default", "--scope", "secrets:list", "--description", "ci job"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "the token alone on stdout: {stdout}");
    let token = stdout.trim().to_owned();
    // After "hush_", 16 hex characters and '_' (the secret may itself contain '_').
    let secret_part = token[22..].to_owned();
    assert_eq!(secret_part.len(), 43);
    assert!(token.starts_with("hush_"));
    assert_eq!(h.cli_as(&token, &["secret", "list"], None).status.code(), Some(0));

    let out = h.cli(&["token", "list", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let text = v.to_string();
    assert!(!text.contains(&secret_part), "token list shows the token");
    let id = v["tokens"].as_array().unwrap().iter().find(|t| t["description"] == "ci job").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // Only a hash is stored.
    for (path, bytes) in Hush::all_bytes(&h.data_dir()).into_iter().chain(Hush::all_bytes(&h.key_dir())) {
        assert!(!crate::harness::contains(&bytes, secret_part.as_bytes()), "{} holds the token", path.display());
    }
    assert_eq!(h.cli(&["token", "revoke", &id]).status.code(), Some(0));
    let out = h.cli_as(&token, &["secret", "list"], None);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("revoked"), "{}", show(&out));
    // Revoking again is fine; a tampered token is not valid.
    assert_eq!(h.cli(&["token", "revoke", &id]).status.code(), Some(0));
    let mut tampered = h.token.clone();
    tampered.replace_range(tampered.len() - 2.., "zz");
    let out = h.cli_as(&tampered, &["secret", "list"], None);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not valid"), "{}", show(&out));
}

#[test]
fn tokens_expire() {
    let h = Hush::running();
    let out = h.cli(&["token", "create", "-n", "default", "--scope", "secrets:list", "--ttl", "1s"]);
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(h.cli_as(&token, &["secret", "list"], None).status.code(), Some(0));
    std::thread::sleep(std::time::Duration::from_millis(1300));
    let out = h.cli_as(&token, &["secret", "list"], None);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("expired"), "{}", show(&out));
    // A child token never outlives its issuer.
    let out = h.cli(&[
        "token",
        "create",
        "-n",
        "default",
        "--scope",
        "tokens:manage",
        "--scope",
        "secrets:list",
        "--ttl",
        "1h",
        "--json",
    ]);
    let issuer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let out = h.cli_as(
        issuer["token"].as_str().unwrap(),
        &["token", "create", "-n", "default", "--scope", "secrets:list", "--json"],
        None,
    );
    let child: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(child["expires_at"], issuer["expires_at"], "{}", show(&out));
}

/// Someone who can write to the data store cannot plant a token, widen one,
/// or bring a revoked one back: token rows are MACed under a key that lives
/// in the key store.
#[test]
fn token_rows_edited_in_the_data_store_do_not_work() {
    let h = Hush::running();
    let lister = h.token(&["default"], &["secrets:list"]);
    let lister_id = lister[5..21].to_owned();
    assert_eq!(h.cli_as(&lister, &["secret", "list"], None).status.code(), Some(0));
    let revoked = h.token(&["default"], &["secrets:list"]);
    assert_eq!(h.cli(&["token", "revoke", &revoked[5..21]]).status.code(), Some(0));

    // Widen an existing token to admin on all namespaces.
    h.sql(&format!("UPDATE tokens SET scopes = 'admin', all_namespaces = 1 WHERE id = '{lister_id}'"));
    // Plant a token: copy a real row under a new id (the attacker cannot compute a keyed hash).
    let planted = "hush_00000000000000aa_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    let admin_id = &h.token[5..21];
    h.sql(&format!(
        "INSERT INTO tokens (id, hash, description, all_namespaces, namespace_ids, scopes, created_at, expires_at, \
         revoked_at, created_by, mac, identity) SELECT '00000000000000aa', hash, description, all_namespaces, \
         namespace_ids, scopes, created_at, expires_at, revoked_at, NULL, mac, identity FROM tokens WHERE id = '{admin_id}'"
    ));
    // Un-revoke.
    h.sql(&format!("UPDATE tokens SET revoked_at = NULL WHERE id = '{}'", &revoked[5..21]));
    // Token records are cached for a second; after that the edits are read, and refused.
    std::thread::sleep(std::time::Duration::from_millis(1200));

    for (what, token) in [("widened", lister.as_str()), ("planted", planted), ("un-revoked", revoked.as_str())] {
        let out = h.cli_as(token, &["secret", "list"], None);
        assert_eq!(out.status.code(), Some(3), "{what}: {}", show(&out));
    }
    // The admin token is untouched and works; the server logged the tampering.
    assert_eq!(h.cli(&["secret", "list"]).status.code(), Some(0));
    let log = h.log.lock().unwrap().clone();
    assert!(log.contains("failed its integrity check"), "{log}");
}

#[test]
fn revoking_a_token_revokes_the_tokens_it_issued() {
    let h = Hush::running();
    let manager = h.token(&["default"], &["tokens:manage", "secrets:list"]);
    let out = h.cli_as(&manager, &["token", "create", "-n", "default", "--scope", "secrets:list"], None);
    let child = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert_eq!(h.cli_as(&child, &["secret", "list"], None).status.code(), Some(0));
    assert_eq!(h.cli(&["token", "revoke", &manager[5..21]]).status.code(), Some(0));
    let out = h.cli_as(&child, &["secret", "list"], None);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("issued this token has been revoked"), "{}", show(&out));
}

#[test]
fn a_recreated_namespace_does_not_see_its_predecessors_audit_events() {
    let h = Hush::running();
    assert_eq!(h.cli(&["namespace", "create", "team"]).status.code(), Some(0));
    assert_eq!(h.cli(&["secret", "create", "old-tenant-secret", "-n", "team", "--value", "v"]).status.code(), Some(0));
    assert_eq!(h.cli(&["namespace", "delete", "team"]).status.code(), Some(0));
    assert_eq!(h.cli(&["namespace", "create", "team"]).status.code(), Some(0));
    let auditor = h.token(&["team"], &["audit:read", "secrets:list"]);
    assert_eq!(h.cli_as(&auditor, &["secret", "list", "-n", "team"], None).status.code(), Some(0));
    let out = h.cli_as(&auditor, &["audit", "list", "--json"], None);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(!text.contains("old-tenant-secret"), "{text}");
    assert!(text.contains("secret.list"), "{text}");
    // The admin (all namespaces) still sees the whole history by name.
    let out = h.cli(&["audit", "list", "-n", "team", "--json"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("old-tenant-secret"));
}
