//! Starting up: first start, a wrong or malformed root key, a missing key
//! file, mismatched directories, a second process on the same directory.

use std::process::Command;

use serde_json::json;

use crate::harness::{HUSH, Hush, option, print_config, show};

/// `hush serve` on these directories, expected to exit rather than serve.
fn serve_once(data_dir: &std::path::Path, key_dir: &std::path::Path) -> std::process::Output {
    Command::new(HUSH)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .arg("--key-dir")
        .arg(key_dir)
        .env_remove("HUSH_ROOT_KEY")
        .output()
        .unwrap()
}

fn serve_fails(h: &mut Hush, env: &[(&str, &str)], expected: &str) {
    let err = h.spawn(env, &[]).expect_err("hush serve should have refused to start");
    assert!(err.contains(expected), "expected {expected:?} in:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_wrong_root_key_refuses_to_start() {
    let mut h = Hush::init();
    let other = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="; // 32 zero bytes
    serve_fails(&mut h, &[("HUSH_ROOT_KEY", other)], "does not match the key store");
    serve_fails(&mut h, &[("HUSH_ROOT_KEY", "not-base64!")], "not valid base64");
    serve_fails(&mut h, &[("HUSH_ROOT_KEY", "AAAA")], "decodes to 3 bytes");
    // A damaged key file.
    let key_file = h.key_dir().join("root.key");
    let good = std::fs::read(&key_file).unwrap();
    std::fs::write(&key_file, other).unwrap();
    serve_fails(&mut h, &[], "does not match the key store");
    std::fs::remove_file(&key_file).unwrap();
    serve_fails(&mut h, &[], "no root key");
    std::fs::write(&key_file, &good).unwrap();
    // The right key, given in the environment instead of the file, works.
    let text = String::from_utf8(good).unwrap();
    std::fs::remove_file(&key_file).unwrap();
    h.start(&[("HUSH_ROOT_KEY", text.trim())], &[]);
    assert_eq!(h.cli(&["secret", "list"]).status.code(), Some(0));
}

#[test]
fn the_root_key_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let h = Hush::init();
    let mode = std::fs::metadata(h.key_dir().join("root.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let dir_mode = std::fs::metadata(h.key_dir()).unwrap().permissions().mode();
    assert_eq!(dir_mode & 0o777, 0o700);
    assert_eq!(std::fs::read_to_string(h.key_dir().join("root.key")).unwrap().trim().len(), 44);
}

#[test]
fn print_config_masks_the_root_key() {
    let root_key = "c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3I=";
    let out = Command::new(HUSH).args(["serve", "--print-config"]).env("HUSH_ROOT_KEY", root_key).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("HUSH_ROOT_KEY (set; value hidden)"), "{text}");
    assert!(!text.contains("c2VjcmV0"), "{text}");
    let env = [
        ("HUSH_ROOT_KEY", root_key),
        ("HUSH_TRUSTED_PROXIES", "10.0.0.0/8,fd00::/8"),
        ("HUSH_MAX_CONNECTIONS_PER_IP", "64"),
    ];
    let config = print_config(&["--header-read-timeout", "3s", "--rate-limit-per-token", "50"], &env);
    assert_eq!(config["in_force"]["root_key"], "HUSH_ROOT_KEY (set; value hidden)");
    assert!(!config.to_string().contains("c2VjcmV0"), "{config}");
    // The limits in force, from flags, variables and defaults.
    let table = [
        ("listen", json!("127.0.0.1:8270"), "default"),
        ("trusted-proxy", json!(["10.0.0.0/8", "fd00::/8"]), "env"),
        ("max-connections-per-ip", json!("64"), "env"),
        ("header-read-timeout", json!("3s"), "flag"),
        ("rate-limit-per-token", json!("50"), "flag"),
        ("failed-auth-per-second", json!("10"), "default"),
        ("failed-auth-burst", json!("20"), "default"),
    ];
    for (key, value, layer) in table {
        let o = option(&config, key);
        assert_eq!((&o["value"], o["layer"].as_str()), (&value, Some(layer)), "{key}: {o}");
    }
    assert!(config["in_force"]["max_connections"].as_u64().is_some_and(|n| n > 0), "{config}");
}

#[test]
fn bad_limits_are_refused_by_name() {
    let cases: [(&[&str], &str); 5] = [
        (&["--header-read-timeout", "0s"], "--header-read-timeout"),
        (&["--idle-timeout", "soon"], "--idle-timeout"),
        (&["--trusted-proxy", "proxy.internal"], "--trusted-proxy"),
        (&["--max-connections-per-ip", "0"], "--max-connections-per-ip"),
        (&["--failed-auth-burst=-1"], "--failed-auth-burst"),
    ];
    for (args, flag) in cases {
        let out = Command::new(HUSH).args(["serve", "--print-config"]).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
}

#[test]
fn serve_initialises_on_first_start_and_prints_the_token_once() {
    let mut h = Hush::init();
    std::fs::remove_dir_all(h.data_dir()).unwrap();
    std::fs::remove_dir_all(h.key_dir()).unwrap();
    h.start(&[], &[]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !h.stdout_log.lock().unwrap().contains("hush_") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let stdout = h.stdout_log.lock().unwrap().clone();
    let token = stdout.lines().last().unwrap_or_default().to_owned();
    assert!(token.starts_with("hush_"), "{stdout}");
    h.token = token;
    assert_eq!(h.cli(&["secret", "list"]).status.code(), Some(0));
    h.stop();
    h.start(&[], &[]);
    assert!(!h.stdout_log.lock().unwrap().contains("hush_"), "the token was printed twice");
}

#[test]
fn init_twice_and_a_second_server_are_refused() {
    let mut h = Hush::init();
    let out = Command::new(HUSH)
        .args(["init", "--data-dir", h.data_dir().to_str().unwrap(), "--key-dir", h.key_dir().to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already initialised"), "{}", show(&out));
    h.start(&[], &[]);
    let out = serve_once(&h.data_dir(), &h.key_dir());
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another hush process"), "{}", show(&out));
}

#[test]
fn stores_from_different_installations_are_refused() {
    let a = Hush::init();
    let b = Hush::init();
    let out = serve_once(&a.data_dir(), &b.key_dir());
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("belongs to installation"), "{}", show(&out));
    let empty_keys = a.dir.path().join("empty-keys");
    let out = serve_once(&a.data_dir(), &empty_keys);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is --key-dir right?"), "{}", show(&out));
    assert!(!empty_keys.join("root.key").exists(), "a root key was written for a refused start");
}

#[test]
fn an_empty_data_store_beside_keys_in_use_is_refused() {
    let mut h = Hush::running();
    h.stop();
    std::fs::remove_dir_all(h.data_dir()).unwrap();
    let out = serve_once(&h.data_dir(), &h.key_dir());
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("is --data-dir right"), "{}", show(&out));
}

#[test]
fn a_lost_admin_token_can_be_replaced_with_the_server_stopped() {
    let mut h = Hush::running();
    assert_eq!(h.cli(&["secret", "create", "k", "--value", "v"]).status.code(), Some(0));
    let (data_dir, key_dir) = (h.data_dir(), h.key_dir());
    let recover = || {
        Command::new(HUSH)
            .args(["init", "--recover-admin-token", "--data-dir"])
            .arg(&data_dir)
            .arg("--key-dir")
            .arg(&key_dir)
            .env_remove("HUSH_ROOT_KEY")
            .output()
            .unwrap()
    };
    let out = recover();
    assert_eq!(out.status.code(), Some(1), "refused while the server runs: {}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("another hush process"), "{}", show(&out));
    h.stop();
    let out = recover();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let token = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    assert!(token.starts_with("hush_") && token != h.token);
    h.start(&[], &[]);
    assert_eq!(h.cli_as(&token, &["secret", "get", "k"], None).stdout, b"v");
}

#[test]
fn a_busy_port_on_first_start_does_not_lose_the_admin_token() {
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = busy.local_addr().unwrap().port().to_string();
    let dir = tempfile::tempdir().unwrap();
    let serve = |listen: &str| {
        Command::new(HUSH)
            .args(["serve", "--listen", listen, "--data-dir"])
            .arg(dir.path().join("d"))
            .arg("--key-dir")
            .arg(dir.path().join("k"))
            .env_remove("HUSH_ROOT_KEY")
            .output()
            .unwrap()
    };
    let out = serve(&format!("127.0.0.1:{port}"));
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot listen"), "{}", show(&out));
    // Nothing was initialised, so `hush init` still makes (and shows) the admin token.
    let out = Command::new(HUSH)
        .args(["init", "--data-dir"])
        .arg(dir.path().join("d"))
        .arg("--key-dir")
        .arg(dir.path().join("k"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).lines().last().unwrap().starts_with("hush_"));
}

#[test]
fn a_root_key_file_is_read_and_never_written() {
    // What a systemd credential (%d/root.key) or a container secret holds.
    let secrets = tempfile::tempdir().unwrap();
    let key_file = secrets.path().join("root.key");
    let key_text = "ZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGRkZGQ=\n";
    std::fs::write(&key_file, key_text).unwrap();
    let key = key_file.to_str().unwrap();

    // hush init takes the key from the file (here by its variable) and
    // writes no root.key of its own.
    let mut h = Hush::init_with(&[("HUSH_ROOT_KEY_FILE", key)]);
    assert!(!h.key_dir().join("root.key").exists());
    h.start(&[], &["--root-key-file", key]);
    assert_eq!(h.cli(&["secret", "create", "k", "--value", "v"]).status.code(), Some(0));
    // hush cannot change a file it only reads: no online root rotation.
    let out = h.cli(&["admin", "rotate-root"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--root-key-file"), "{}", show(&out));
    h.stop();
    assert_eq!(std::fs::read_to_string(&key_file).unwrap(), key_text);
    assert!(!h.key_dir().join("root.key").exists() && !h.key_dir().join("root.key.next").exists());

    // Without the file it does not start; nor with another key in it, nor
    // with the key given twice. Each message names the file or the clash.
    serve_fails(&mut h, &[], "no root key");
    let missing = secrets.path().join("absent.key");
    serve_fails(&mut h, &[("HUSH_ROOT_KEY_FILE", missing.to_str().unwrap())], "(--root-key-file) does not exist");
    let other = secrets.path().join("other.key");
    std::fs::write(&other, "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=").unwrap();
    let err = h.spawn(&[("HUSH_ROOT_KEY_FILE", other.to_str().unwrap())], &[]).expect_err("a wrong key is refused");
    assert!(err.contains(&format!("the root key from {}", other.display())), "{err}");
    assert!(err.contains("does not match the key store"), "{err}");
    let both = Command::new(HUSH)
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(h.data_dir())
        .arg("--key-dir")
        .arg(h.key_dir())
        .args(["--root-key-file", key])
        .env("HUSH_ROOT_KEY", key_text.trim())
        .output()
        .unwrap();
    assert_eq!(both.status.code(), Some(2), "{}", show(&both));
    assert!(String::from_utf8_lossy(&both.stderr).contains("both give the root key"), "{}", show(&both));

    let shown = Command::new(HUSH).args(["serve", "--print-config", "--root-key-file", key]).output().unwrap();
    let text = String::from_utf8_lossy(&shown.stdout);
    assert!(text.contains(&format!("file {key} (--root-key-file; read, never written)")), "{}", show(&shown));
    assert!(!text.contains(key_text.trim()), "{text}");

    h.start(&[("HUSH_ROOT_KEY_FILE", key)], &[]);
    assert_eq!(h.cli(&["secret", "get", "k"]).stdout, b"v");
}
