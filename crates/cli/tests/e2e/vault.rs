//! `vault://` references against a real OpenBao dev server: both spellings
//! (`[mount/]path#field` and Dagger's `path.field` with `VAULT_PATH_PREFIX`),
//! in `hush run` and `hush redact`, and errors that name the reference and
//! never a value.

use std::process::{Command, Output};

use crate::components::openbao;
use crate::harness::{HUSH, show};

fn hush_with_vault(addr: &str, args: &[&str], extra: &[(&str, &str)], stdin: &[u8]) -> Output {
    use std::io::Write;
    let mut cmd = Command::new(HUSH);
    cmd.args(args)
        .env("VAULT_ADDR", format!("http://{addr}"))
        .env("VAULT_TOKEN", "root")
        .env_remove("VAULT_PATH_PREFIX")
        .env_remove("VAULT_CACERT")
        .env_remove("VAULT_CLIENT_CERT")
        .env_remove("VAULT_CLIENT_KEY")
        .env_remove("HUSH_TOKEN")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn vault_references_resolve_from_openbao() {
    let dir = tempfile::tempdir().unwrap();
    let Some(bao) = openbao("vault_references_resolve_from_openbao", dir.path()) else { return };
    let server = &bao.server;
    bao.run(&["kv", "put", "secret/app/db", "password=VAULT-pw-8c1", "user=svc"]);
    bao.run(&["secrets", "enable", "-path=team-kv", "-version=2", "kv"]);
    bao.run(&["kv", "put", "team-kv/ci/deploy", "token=VAULT-tok-77e"]);
    let out_file = dir.path().join("seen");
    let script = format!("printf %s \"$V\" > {}; echo \"the value: $V\"", out_file.display());

    for (reference, extra, expected) in [
        ("vault://secret/app/db#password", vec![], "VAULT-pw-8c1"),
        ("vault://app/db.password", vec![], "VAULT-pw-8c1"),
        ("vault://ci/deploy.token", vec![("VAULT_PATH_PREFIX", "team-kv")], "VAULT-tok-77e"),
        ("vault://team-kv/ci/deploy#token", vec![], "VAULT-tok-77e"),
        ("vault://db#user", vec![("VAULT_PATH_PREFIX", "secret/app")], ""),
    ] {
        let _ = std::fs::remove_file(&out_file);
        let args = ["run", "--env", &format!("V={reference}"), "--", "sh", "-c", &script];
        let out = hush_with_vault(&server.addr, &args, &extra, b"");
        if expected.is_empty() {
            // A mount that does not exist: refused, named, no value.
            assert_ne!(out.status.code(), Some(0), "{reference}: {}", show(&out));
            continue;
        }
        assert_eq!(out.status.code(), Some(0), "{reference}: {}", show(&out));
        assert_eq!(std::fs::read_to_string(&out_file).unwrap(), expected, "{reference}: the child got the value");
        assert_eq!(String::from_utf8_lossy(&out.stdout), "the value: ***\n", "{reference}: scrubbed");
    }

    let out = hush_with_vault(
        &server.addr,
        &["redact", "--secret-ref", "vault://secret/app/db#password"],
        &[],
        b"log: VAULT-pw-8c1 done\n",
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), "log: *** done\n", "{}", show(&out));

    for (reference, expected) in [
        ("vault://secret/app/db#nope", "the secret has no field \"nope\" (it has: password, user)"),
        ("vault://secret/app/missing#password", "no secret at secret/app/missing"),
    ] {
        let out = hush_with_vault(&server.addr, &["run", "--env", &format!("V={reference}"), "--", "true"], &[], b"");
        assert_ne!(out.status.code(), Some(0), "{}", show(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(reference) && stderr.contains(expected), "{reference}: {stderr}");
        assert!(!stderr.contains("VAULT-pw"), "{stderr}");
    }
    let out = hush_with_vault(
        &server.addr,
        &["run", "--env", "V=vault://secret/app/db#password", "--", "true"],
        &[("VAULT_TOKEN", "wrong")],
        b"",
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("permission denied"), "{}", show(&out));
    let mut no_addr = Command::new(HUSH);
    no_addr.args(["run", "--env", "V=vault://secret/app/db#password", "--", "true"]).env_remove("VAULT_ADDR");
    let out = no_addr.output().unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("set VAULT_ADDR and VAULT_TOKEN"), "{}", show(&out));
}

#[test]
fn vault_references_and_the_kms_over_tls_honour_vault_cacert_and_client_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let pki = crate::pki::Pki::new();
    let Some(bao) = crate::components::openbao_with_tls("vault_over_tls", dir.path(), Some(&pki)) else { return };
    bao.run(&["kv", "put", "secret/app/db", "password=VAULT-tls-pw-41"]);
    bao.run(&["write", "-f", "transit/keys/hush-root"]);
    let ca = pki.ca_file.to_str().unwrap();
    let client = pki.client("hush-kms");
    let (cert, key) = (client.cert.to_str().unwrap(), client.key.to_str().unwrap());
    let (tls, mtls) = (bao.tls_url(), bao.mtls_url());
    let read = |extra: &[(&str, &str)]| {
        hush_with_vault(
            &bao.server.addr,
            &["redact", "--secret-ref", "vault://secret/app/db#password"],
            extra,
            b"VAULT-tls-pw-41\n",
        )
    };

    // vault:// over TLS: the CA from VAULT_CACERT; without it, the system's roots refuse.
    let out = read(&[("VAULT_ADDR", &tls), ("VAULT_CACERT", ca)]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert_eq!(out.stdout, b"***\n");
    let out = read(&[("VAULT_ADDR", &tls)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unknown issuer") && stderr.contains("VAULT_CACERT"), "{}", show(&out));
    // A listener that wants a client certificate: VAULT_CLIENT_CERT/KEY.
    let out =
        read(&[("VAULT_ADDR", &mtls), ("VAULT_CACERT", ca), ("VAULT_CLIENT_CERT", cert), ("VAULT_CLIENT_KEY", key)]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = read(&[("VAULT_ADDR", &mtls), ("VAULT_CACERT", ca)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("requires a client certificate") && stderr.contains("VAULT_CLIENT_CERT"), "{}", show(&out));

    // The Transit KMS over mutual TLS, the same variables.
    let init = |extra: &[(&str, &str)]| {
        Command::new(HUSH)
            .args(["init", "--data-dir"])
            .arg(dir.path().join(format!("data-{}", extra.len())))
            .arg("--key-dir")
            .arg(dir.path().join(format!("keys-{}", extra.len())))
            .args(["--kms", "transit", "--kms-addr", &mtls, "--kms-key", "hush-root"])
            .env("VAULT_TOKEN", "root")
            .env_remove("VAULT_CACERT")
            .env_remove("VAULT_CLIENT_CERT")
            .env_remove("VAULT_CLIENT_KEY")
            .envs(extra.iter().copied())
            .output()
            .unwrap()
    };
    let out = init(&[("VAULT_CACERT", ca)]);
    assert_ne!(out.status.code(), Some(0), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("requires a client certificate"), "{}", show(&out));
    let out = init(&[("VAULT_CACERT", ca), ("VAULT_CLIENT_CERT", cert), ("VAULT_CLIENT_KEY", key)]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("root key:   none: keys are wrapped by the KMS"),
        "{}",
        show(&out)
    );
}
