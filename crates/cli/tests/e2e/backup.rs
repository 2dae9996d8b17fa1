//! Backups: `hush admin backup` while the server runs, then `hush admin
//! restore` onto fresh directories, verified by reading secrets back
//! through a server on the restored stores.

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use crate::harness::{HUSH, Hush, contains, show};

fn restore(
    file: &std::path::Path,
    data: &std::path::Path,
    keys: &std::path::Path,
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut cmd = Command::new(HUSH);
    cmd.args(["admin", "restore"])
        .arg(file)
        .arg("--data-dir")
        .arg(data)
        .arg("--key-dir")
        .arg(keys)
        .env_remove("HUSH_ROOT_KEY");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

#[test]
fn a_backup_restores_onto_fresh_directories() {
    let h = Hush::running();
    assert_eq!(h.cli(&["namespace", "create", "team"]).status.code(), Some(0));
    for (args, stdin) in [
        (vec!["secret", "create", "db", "--value-stdin"], &b"BACKUP-db-value"[..]),
        (vec!["secret", "create", "forge", "--type", "git", "--username", "u", "--token-stdin"], b"BACKUP-git-token"),
        (vec!["secret", "create", "deploy", "-n", "team", "--value-stdin"], b"BACKUP-team-value"),
    ] {
        let out = h.cli_stdin(&args, stdin);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    }
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("hush.backup");
    let out = h.cli(&["admin", "backup", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(std::fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o600);
    let bytes = std::fs::read(&file).unwrap();
    let root_key = std::fs::read_to_string(h.key_dir().join("root.key")).unwrap();
    for needle in [&b"BACKUP-"[..], root_key.trim().as_bytes(), b"SQLite format"] {
        assert!(!contains(&bytes, needle), "the backup holds {:?} in the clear", String::from_utf8_lossy(needle));
    }
    let out = h.cli(&["admin", "backup", file.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0), "an existing file is not replaced without --force");

    // Changes after the backup are not in it.
    assert_eq!(h.cli_stdin(&["secret", "create", "later", "--value-stdin"], b"x").status.code(), Some(0));
    assert_eq!(h.cli(&["secret", "delete", "db"]).status.code(), Some(0));

    // Restore needs the root key: the installation's key file in the new key directory.
    let restored_dir = tempfile::tempdir().unwrap();
    let (data, keys) = (restored_dir.path().join("data"), restored_dir.path().join("keys"));
    let out = restore(&file, &data, &keys, &[]);
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no root key"), "{}", show(&out));
    let wrong = restore(&file, &data, &keys, &[("HUSH_ROOT_KEY", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")]);
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("does not open with this root key"), "{}", show(&wrong));
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::copy(h.key_dir().join("root.key"), keys.join("root.key")).unwrap();
    let mut damaged = bytes.clone();
    let last = damaged.len() - 1;
    damaged[last] ^= 1;
    let damaged_file = work.path().join("damaged.backup");
    std::fs::write(&damaged_file, &damaged).unwrap();
    let out = restore(&damaged_file, &data, &keys, &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("damaged"), "{}", show(&out));

    let out = restore(&file, &data, &keys, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("(2 namespaces)"), "{}", show(&out));
    let again = restore(&file, &data, &keys, &[]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a store"), "{}", show(&again));

    // A server on the restored stores has exactly what the backup had.
    let mut restored = Hush::adopt(restored_dir, h.token.clone());
    restored.start(&[], &[]);
    assert_eq!(restored.cli(&["secret", "get", "db"]).stdout, b"BACKUP-db-value");
    assert_eq!(restored.cli(&["secret", "get", "forge", "--field", "token"]).stdout, b"BACKUP-git-token");
    assert_eq!(restored.cli(&["secret", "get", "deploy", "-n", "team"]).stdout, b"BACKUP-team-value");
    assert_eq!(restored.cli(&["secret", "get", "later"]).status.code(), Some(4));
    let out = restored.cli(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // Only an admin token for every namespace may take one.
    let lister = h.token(&["default"], &["secrets:list"]);
    let out = h.cli_as(&lister, &["admin", "backup", work.path().join("x").to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
}
