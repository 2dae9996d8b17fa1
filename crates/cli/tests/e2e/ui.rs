//! The settings page in a real browser: Playwright (Python) driving
//! Debian's Chromium against a real server over TLS (the browser trusts
//! exactly the test certificate, by its public key hash) and a real
//! registry. Screenshots of each page are kept under
//! `target/ui-screenshots/` (CI artifacts).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::components::{python_clients, registry, require};
use crate::harness::{Hush, show};

fn screenshots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    let dir = target.join("ui-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The base64 SHA-256 of a certificate's public key, as Chromium's
/// `--ignore-certificate-errors-spki-list` takes it (computed by openssl).
fn spki_sha256(cert: &Path) -> String {
    let out = Command::new("sh")
        .arg("-c")
        .arg(
            "openssl x509 -in \"$1\" -pubkey -noout | openssl pkey -pubin -outform der \
             | openssl dgst -sha256 -binary | base64",
        )
        .arg("sh")
        .arg(cert)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn the_settings_page_works_in_a_real_browser() {
    let Some(venv) = python_clients("the_settings_page_works_in_a_real_browser") else { return };
    if !require("the_settings_page_works_in_a_real_browser", &["chromium", "docker-registry", "htpasswd", "openssl"]) {
        return;
    }
    let ok = Command::new(venv.join("bin/python"))
        .args(["-c", "import playwright"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        let message = "the_settings_page_works_in_a_real_browser: SKIPPED, not run: playwright is not in the test venv (scripts/test installs it)";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}; in CI it must run");
        eprintln!("\n!!!!!!!! {message} !!!!!!!!\n");
        return;
    }
    let pki = crate::pki::Pki::new();
    let server = pki.server("hush");
    let mut h = Hush::init();
    h.start_tls(&pki, &server, &[]);
    assert_eq!(h.cli(&["namespace", "create", "team"]).status.code(), Some(0));
    // More than one page (100) of the namespace's audit events.
    for _ in 0..110 {
        assert_eq!(h.cli(&["secret", "list"]).status.code(), Some(0));
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(&dir.path().join("registry"), &[("alice", "UI-registry-pw")]);
    let shots = screenshots_dir();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/ui_browser.py");
    let out = Command::new(venv.join("bin/python"))
        .arg(script)
        .arg(&h.addr)
        .arg(&h.token)
        .arg(&shots)
        .arg(&reg.addr)
        .arg(spki_sha256(&server.cert))
        .env("HOME", dir.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains("ui ok"), "{}", show(&out));
    for shot in
        ["01-sign-in", "02-secrets", "03-revealed", "04-versions", "05-xss-is-text", "06-registries", "07-audit"]
    {
        assert!(shots.join(format!("{shot}.png")).is_file(), "no screenshot {shot}");
    }
    // What the browser wrote went through the API: the server has it.
    assert_eq!(h.cli(&["secret", "get", "app/db/password"]).stdout, b"UI-rotated");
    assert_eq!(h.cli(&["secret", "get", "cert"]).stdout, b"\x00\x01UI-file\xff");
    assert_eq!(h.cli(&["secret", "get", "pull"]).status.code(), Some(4), "deleted in the browser");
}
