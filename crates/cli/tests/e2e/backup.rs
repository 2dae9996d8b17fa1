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
    assert!(String::from_utf8_lossy(&out.stdout).contains("(2 namespaces, 3 secrets"), "{}", show(&out));
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

fn json_of(out: &std::process::Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{}", show(out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {}", show(out)))
}

/// What a store holds, read through a server on it: every secret's
/// current and first value, the versions, the registries, the login role,
/// an old token's access, and the audit log's verification.
fn contents(h: &Hush, reader: &str) -> Vec<String> {
    let mut seen = Vec::new();
    for (args, token) in [
        (vec!["secret", "get", "db"], &h.token),
        (vec!["secret", "get", "db", "--version", "1"], &h.token),
        (vec!["secret", "get", "forge", "--field", "token"], &h.token),
        (vec!["secret", "get", "deploy", "-n", "team"], &h.token),
        (vec!["secret", "get", "db"], &reader.to_owned()),
    ] {
        let out = h.cli_as(token, &args, None);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", show(&out));
        seen.push(String::from_utf8(out.stdout).unwrap());
    }
    let versions = json_of(&h.cli(&["secret", "versions", "db", "--json"]));
    seen.push(versions["versions"].as_array().unwrap().len().to_string());
    let registries = json_of(&h.cli(&["registry", "list", "--json", "-n", "team"]));
    let mut urls: Vec<String> =
        registries["registries"].as_array().unwrap().iter().map(|r| r["url"].as_str().unwrap().to_owned()).collect();
    urls.sort();
    seen.extend(urls);
    let roles = json_of(&h.cli(&["auth", "role", "list", "--json"]));
    seen.push(roles.to_string().contains("\"deployer\"").to_string());
    // The reader may read and nothing more.
    let out = h.cli_as(reader, &["secret", "create", "x", "--value", "v"], None);
    assert_eq!(out.status.code(), Some(3), "{}", show(&out));
    let verified = json_of(&h.cli(&["audit", "verify", "--json"]));
    assert_eq!(verified["ok"], true, "{verified}");
    seen.push(format!("checkpoint {}", verified["checkpoint_seq"]));
    seen
}

/// The restore report's row counts, by table.
fn restored_rows(out: &std::process::Output) -> serde_json::Map<String, serde_json::Value> {
    json_of(out)["rows"].as_object().unwrap().clone()
}

fn pg_env<'a>(data: &'a str, keys: &'a str) -> [(&'static str, &'a str); 2] {
    [("HUSH_DATABASE_URL", data), ("HUSH_KEYSTORE_URL", keys)]
}

#[test]
fn a_store_moves_from_sqlite_to_postgresql_and_back() {
    let test = "a_store_moves_from_sqlite_to_postgresql_and_back";
    let Some(pg_data) = crate::components::postgres_database(test) else { return };
    let pg_keys = crate::components::postgres_database(test).unwrap();
    let h = Hush::running();
    assert_eq!(h.cli(&["namespace", "create", "team"]).status.code(), Some(0));
    for (args, stdin) in [
        (vec!["secret", "create", "db", "--value-stdin"], &b"MOVE-db-v1"[..]),
        (vec!["secret", "create", "db", "--value-stdin"], b"MOVE-db-v2"),
        (vec!["secret", "create", "db", "--value-stdin"], b"MOVE-db-v3"),
        (vec!["secret", "create", "forge", "--type", "git", "--username", "u", "--token-stdin"], b"MOVE-git-token"),
        (vec!["secret", "create", "deploy", "-n", "team", "--value-stdin"], b"MOVE-team-value"),
        (vec!["registry", "create", "127.0.0.1:5000", "--username", "bot", "--password-stdin", "-n", "team"], b"pw\n"),
        (vec!["registry", "create", "ghcr.io", "--username", "bot", "--password-stdin", "-n", "team"], b"pw\n"),
    ] {
        let out = h.cli_stdin(&args, stdin);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", show(&out));
    }
    let role = [
        "auth",
        "role",
        "create",
        "deployer",
        "-n",
        "default",
        "--scope",
        "secrets:read",
        "--audience",
        "hush",
        "--issuer",
        "https://issuer.invalid",
        "--bound-claim",
        "sub=ci",
    ];
    assert_eq!(h.cli(&role).status.code(), Some(0), "{}", show(&h.cli(&["auth", "role", "list", "-n", "default"])));
    let reader = h.token(&["default"], &["secrets:read"]);
    // A checkpoint and an export mark, so the key store's audit rows move too.
    let cut = humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string();
    assert_eq!(h.cli(&["secret", "get", "db"]).status.code(), Some(0));
    assert_eq!(h.cli(&["audit", "export", "--format", "jsonl"]).status.code(), Some(0));
    let out = h.cli(&["admin", "audit", "prune", "--before", &cut, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let original = contents(&h, &reader);
    assert!(original.iter().any(|s| s.starts_with("checkpoint ") && s != "checkpoint null"), "{original:?}");

    let work = tempfile::tempdir().unwrap();
    let from_sqlite = work.path().join("from-sqlite.backup");
    let out = h.cli(&["admin", "backup", from_sqlite.to_str().unwrap(), "--json"]);
    assert_eq!(json_of(&out)["bytes"].as_u64(), Some(std::fs::metadata(&from_sqlite).unwrap().len()));

    // Into PostgreSQL. A cut file is refused and leaves the databases empty: the full one then goes in.
    let on_pg = tempfile::tempdir().unwrap();
    let keys = on_pg.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::copy(h.key_dir().join("root.key"), keys.join("root.key")).unwrap();
    let bytes = std::fs::read(&from_sqlite).unwrap();
    let cut_file = work.path().join("cut.backup");
    std::fs::write(&cut_file, &bytes[..bytes.len() - 100]).unwrap();
    let env = pg_env(&pg_data, &pg_keys);
    let out = restore(&cut_file, &on_pg.path().join("data"), &keys, &env);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cut off"), "{}", show(&out));
    let restore_json =
        |file: &std::path::Path, data: &std::path::Path, keys: &std::path::Path, env: &[(&str, &str)]| {
            let mut cmd = Command::new(HUSH);
            cmd.args(["admin", "restore", "--json"]).arg(file).arg("--data-dir").arg(data).arg("--key-dir").arg(keys);
            cmd.env_remove("HUSH_ROOT_KEY").env_remove("HUSH_DATABASE_URL").env_remove("HUSH_KEYSTORE_URL");
            cmd.envs(env.iter().copied());
            cmd.output().unwrap()
        };
    let into_pg = restored_rows(&restore_json(&from_sqlite, &on_pg.path().join("data"), &keys, &env));
    for (table, at_least) in [
        ("data.secrets", 5),
        ("data.secret_versions", 7),
        ("data.tokens", 2),
        ("data.login_roles", 1),
        ("keys.audit_checkpoint", 1),
        ("keys.audit_exported", 1),
        ("keys.namespace_keys", 2),
    ] {
        assert!(into_pg[table].as_u64().unwrap() >= at_least, "{table}: {into_pg:?}");
    }
    let again = restore(&from_sqlite, &on_pg.path().join("data"), &keys, &env);
    assert!(String::from_utf8_lossy(&again.stderr).contains("already holds a store"), "{}", show(&again));
    assert!(!on_pg.path().join("data").join("hush.db").exists(), "PostgreSQL held the data, not SQLite");

    let mut pg = Hush::adopt(on_pg, h.token.clone());
    pg.start(&env, &[]);
    assert_eq!(contents(&pg, &reader), original, "the store reads the same on PostgreSQL");

    // And back to SQLite, from a backup taken on PostgreSQL.
    let from_pg = work.path().join("from-pg.backup");
    let out = pg.cli(&["admin", "backup", from_pg.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let back = tempfile::tempdir().unwrap();
    let (data, keys) = (back.path().join("data"), back.path().join("keys"));
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::copy(h.key_dir().join("root.key"), keys.join("root.key")).unwrap();
    let into_sqlite = restored_rows(&restore_json(&from_pg, &data, &keys, &[]));
    for (table, rows) in &into_pg {
        if table != "data.audit_events" {
            assert_eq!(&into_sqlite[table], rows, "{table}");
        }
    }
    assert!(into_sqlite["data.audit_events"].as_u64() > into_pg["data.audit_events"].as_u64());
    let mut sqlite = Hush::adopt(back, h.token.clone());
    sqlite.start(&[], &[]);
    assert_eq!(contents(&sqlite, &reader), original, "the store reads the same back on SQLite");
}

#[test]
fn a_backup_cut_off_or_interrupted_leaves_no_file() {
    let h = Hush::running();
    assert_eq!(h.cli_stdin(&["secret", "create", "db", "--value-stdin"], b"v").status.code(), Some(0));
    let work = tempfile::tempdir().unwrap();
    // A server that cannot be reached: no file, and no partial one either.
    let file = work.path().join("hush.backup");
    let out = h.cli_as(&h.token, &["admin", "backup", file.to_str().unwrap(), "--addr", "http://127.0.0.1:9"], None);
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(std::fs::read_dir(work.path()).unwrap().count(), 0, "nothing is left behind");
    // A whole backup restores; the same bytes with a frame dropped do not.
    let out = h.cli(&["admin", "backup", file.to_str().unwrap(), "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(out.stderr.is_empty(), "--quiet and piped: no progress: {}", show(&out));
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..8], b"HUSHBAK2");
    let restored = tempfile::tempdir().unwrap();
    let keys = restored.path().join("keys");
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::copy(h.key_dir().join("root.key"), keys.join("root.key")).unwrap();
    let spliced = work.path().join("spliced.backup");
    let wrapped_len = u32::from_be_bytes(bytes[8..12].try_into().unwrap()) as usize;
    let first_frame = 12 + wrapped_len;
    let frame_len = u32::from_be_bytes(bytes[first_frame + 1..first_frame + 5].try_into().unwrap()) as usize;
    // The one frame of this small backup is its last; mark it "more follows".
    let mut not_last = bytes.clone();
    not_last[first_frame] = 0;
    std::fs::write(&spliced, &not_last).unwrap();
    let out = restore(&spliced, &restored.path().join("data"), &keys, &[]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("does not authenticate"), "{}", show(&out));
    assert_eq!(first_frame + 5 + frame_len, bytes.len(), "one frame");
    assert!(!restored.path().join("data").join("hush.db").exists());
    let out = restore(&file, &restored.path().join("data"), &keys, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[test]
fn a_version_1_backup_still_restores_onto_sqlite() {
    let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/backup-v1");
    let file = fixture.join("hush.backup");
    let restored = tempfile::tempdir().unwrap();
    let (data, keys) = (restored.path().join("data"), restored.path().join("keys"));
    std::fs::create_dir_all(&keys).unwrap();
    std::fs::copy(fixture.join("root.key"), keys.join("root.key")).unwrap();
    // Not into PostgreSQL: the message says how to move it there.
    let pg = restore(&file, &data, &keys, &[("HUSH_DATABASE_URL", "postgres://nobody@127.0.0.1:9/none")]);
    assert_eq!(pg.status.code(), Some(1), "{}", show(&pg));
    assert!(String::from_utf8_lossy(&pg.stderr).contains("take a new backup"), "{}", show(&pg));
    let out = restore(&file, &data, &keys, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let token = std::fs::read_to_string(fixture.join("admin.token")).unwrap().trim().to_owned();
    let mut h = Hush::adopt(restored, token);
    h.start(&[], &[]);
    for (args, value) in [
        (&["secret", "get", "db"][..], &b"V1-db-value-2"[..]),
        (&["secret", "get", "db", "--version", "1"], b"V1-db-value"),
        (&["secret", "get", "forge", "--field", "token"], b"V1-git-token"),
        (&["secret", "get", "deploy", "-n", "team"], b"V1-team-value"),
    ] {
        let out = h.cli(args);
        assert_eq!(out.stdout, value, "{args:?}: {}", show(&out));
    }
    let out = h.cli(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}
