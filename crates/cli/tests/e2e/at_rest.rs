//! Encryption at rest: no plaintext in either store, ciphertexts bound to
//! their rows, and a deleted namespace unreadable even from a backup.

use crate::harness::{Hush, contains, show};

const VALUES: &[&str] = &["PLAINTEXT-generic-4f1c", "PLAINTEXT-token-9a2b", "PLAINTEXT-password-77e3"];

#[test]
fn no_plaintext_in_either_store() {
    let mut h = Hush::running();
    let multi = "PLAINTEXT-multi-line-1\nPLAINTEXT-multi-line-2\n";
    assert_eq!(h.cli_stdin(&["secret", "create", "g", "--value-stdin"], VALUES[0].as_bytes()).status.code(), Some(0));
    assert_eq!(h.cli_stdin(&["secret", "create", "m", "--value-stdin"], multi.as_bytes()).status.code(), Some(0));
    assert_eq!(
        h.cli_stdin(
            &["secret", "create", "git", "--type", "git", "--username", "PLAINTEXT-user-1", "--token-stdin"],
            VALUES[1].as_bytes()
        )
        .status
        .code(),
        Some(0)
    );
    assert_eq!(
        h.cli_stdin(
            &[
                "secret",
                "create",
                "reg",
                "--type",
                "registry",
                "--username",
                "u",
                "--server-address",
                "PLAINTEXT-host.example",
                "--password-stdin"
            ],
            VALUES[2].as_bytes()
        )
        .status
        .code(),
        Some(0)
    );
    // Read them all too (reads write audit rows and last-read times).
    for name in ["g", "m", "git", "reg"] {
        assert_eq!(h.cli(&["secret", "get", name]).status.code(), Some(0));
    }
    let root_key_text = std::fs::read_to_string(h.key_dir().join("root.key")).unwrap();
    let check = |h: &Hush| {
        for dir in [h.data_dir(), h.key_dir()] {
            for (path, bytes) in Hush::all_bytes(&dir) {
                if path.ends_with("root.key") {
                    continue;
                }
                for needle in ["PLAINTEXT", root_key_text.trim()] {
                    assert!(!contains(&bytes, needle.as_bytes()), "{} contains {needle:?}", path.display());
                }
            }
        }
    };
    check(&h);
    h.stop();
    check(&h);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ciphertext_moved_to_another_row_or_namespace_does_not_open() {
    let mut h = tokio::task::block_in_place(Hush::running);
    let run = |args: &[&str]| tokio::task::block_in_place(|| h.cli(args));
    assert_eq!(run(&["namespace", "create", "other"]).status.code(), Some(0));
    for (name, ns, value) in
        [("a", "default", "value-of-a"), ("b", "default", "value-of-b"), ("c", "other", "value-of-c")]
    {
        assert_eq!(run(&["secret", "create", name, "-n", ns, "--value", value]).status.code(), Some(0));
    }
    assert_eq!(run(&["secret", "create", "a", "--value", "value-of-a-v2"]).status.code(), Some(0));
    let copy = |from: &str, to: &str, to_version: u32| {
        format!(
            "UPDATE secret_versions SET ciphertext = (SELECT v.ciphertext FROM secret_versions v JOIN secrets s ON s.id = v.secret_id \
             WHERE s.name = '{from}' AND v.version = 1) WHERE version = {to_version} AND secret_id = (SELECT s.id FROM secrets s \
             JOIN namespaces n ON n.id = s.namespace_id WHERE s.name = '{to}' AND n.name = 'default')"
        )
    };
    // b's ciphertext into a's row; c's (another namespace) into b's; a's v1 into a's v2.
    h.sql(&copy("b", "a", 2));
    let out = run(&["secret", "get", "a"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("value-of"), "{}", show(&out));
    h.sql(&copy("c", "b", 1));
    assert_eq!(run(&["secret", "get", "b"]).status.code(), Some(1));
    h.sql(&copy("a", "a", 2));
    assert_eq!(run(&["secret", "get", "a"]).status.code(), Some(1));
    assert_eq!(run(&["secret", "get", "a", "--version", "1"]).stdout, b"value-of-a");
    let log = h.log.lock().unwrap().clone();
    assert!(log.contains("does not open"), "{log}");
    assert!(!log.contains("value-of"), "{log}");
    h.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_namespace_is_unreadable_even_from_a_backup() {
    let mut h = tokio::task::block_in_place(Hush::running);
    let run = |h: &Hush, args: &[&str]| tokio::task::block_in_place(|| h.cli(args));
    assert_eq!(run(&h, &["namespace", "create", "doomed"]).status.code(), Some(0));
    assert_eq!(run(&h, &["secret", "create", "s", "-n", "doomed", "--value", "DOOMED-VALUE"]).status.code(), Some(0));
    assert_eq!(run(&h, &["secret", "create", "s", "--value", "KEPT-VALUE"]).status.code(), Some(0));
    tokio::task::block_in_place(|| h.stop());

    // The wrapped keys of the namespace, as stored.
    let wrapped: Vec<Vec<u8>> = {
        let data = rusqlite::Connection::open(h.data_dir().join("hush.db")).unwrap();
        let ns_id: String =
            data.query_row("SELECT id FROM namespaces WHERE name = 'doomed'", [], |r| r.get(0)).unwrap();
        let keys = rusqlite::Connection::open(h.key_dir().join("keys.db")).unwrap();
        let mut stmt = keys.prepare("SELECT wrapped FROM namespace_keys WHERE namespace_id = ?").unwrap();
        stmt.query_map([ns_id], |r| r.get::<_, Vec<u8>>(0)).unwrap().map(Result::unwrap).collect()
    };
    assert_eq!(wrapped.len(), 1);

    // A backup of the data directory, taken while the namespace existed.
    let backup = h.dir.path().join("backup");
    std::fs::create_dir(&backup).unwrap();
    for (path, bytes) in Hush::all_bytes(&h.data_dir()) {
        std::fs::write(backup.join(path.file_name().unwrap()), bytes).unwrap();
    }

    tokio::task::block_in_place(|| h.start(&[], &[]));
    let out = run(&h, &["namespace", "delete", "doomed"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    tokio::task::block_in_place(|| h.stop());
    for (path, bytes) in Hush::all_bytes(&h.key_dir()) {
        assert!(!contains(&bytes, &wrapped[0]), "{} still holds the destroyed key", path.display());
    }

    // Restore the backup: the namespace and its ciphertext are back, its key is not.
    std::fs::remove_dir_all(h.data_dir()).unwrap();
    std::fs::create_dir(h.data_dir()).unwrap();
    for (path, bytes) in Hush::all_bytes(&backup) {
        std::fs::write(h.data_dir().join(path.file_name().unwrap()), bytes).unwrap();
    }
    tokio::task::block_in_place(|| h.start(&[], &[]));
    let out = run(&h, &["secret", "get", "s", "-n", "doomed"]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(!String::from_utf8_lossy(&out.stdout).contains("DOOMED"));
    assert_eq!(run(&h, &["secret", "get", "s"]).stdout, b"KEPT-VALUE");
}
