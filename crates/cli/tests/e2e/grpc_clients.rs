//! The gRPC SecretService on the REST port, driven by clients nobody here
//! wrote: Python `grpcio` with stubs generated from the project's `.proto`,
//! and `grpcurl` through reflection, both over TLS (h2 by ALPN) as off this
//! machine, and grpcurl in plain text (h2c) too. Every RPC, NOT_FOUND,
//! UNAUTHENTICATED, PERMISSION_DENIED, FAILED_PRECONDITION, the health
//! service, and the values the same secrets have through REST.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::components::python_clients;
use crate::harness::{Hush, contains, show};

fn proto_dir() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto/proto")
}

/// grpcurl for `h`: `-plaintext` on http://, the test CA on https://.
fn grpcurl_command(venv: &Path, h: &Hush, token: Option<&str>) -> Command {
    let mut cmd = Command::new(venv.join("bin/grpcurl"));
    match h.client_env.iter().find(|(k, _)| k == "HUSH_CACERT") {
        Some((_, ca)) => cmd.args(["-cacert", ca]),
        None => cmd.arg("-plaintext"),
    };
    if let Some(t) = token {
        cmd.args(["-H", &format!("authorization: Bearer {t}")]);
    }
    cmd
}

fn grpcurl(venv: &Path, h: &Hush, token: Option<&str>, args: &[&str]) -> Output {
    grpcurl_command(venv, h, token).arg(h.host_port()).args(args).output().unwrap()
}

fn grpcurl_call(venv: &Path, h: &Hush, token: Option<&str>, extra: &[&str], method: &str, body: &str) -> Output {
    grpcurl_command(venv, h, token).args(extra).args(["-d", body]).arg(h.host_port()).arg(method).output().unwrap()
}

#[test]
fn python_grpcio_stubs_drive_every_rpc() {
    let Some(venv) = python_clients("python_grpcio_stubs_drive_every_rpc") else { return };
    // Over mutual TLS: the channel presents a client certificate.
    let pki = crate::pki::Pki::new();
    let pair = pki.server("hush");
    let client = pki.client("grpc-client");
    let cli_client = pki.client("cli-client");
    let mut h = Hush::init();
    let (cert, key, ca) = (pair.cert.to_str().unwrap(), pair.key.to_str().unwrap(), pki.ca_file.to_str().unwrap());
    h.start(&[("HUSH_LOG", "trace")], &["--tls-cert", cert, "--tls-key", key, "--tls-client-ca", ca]);
    h.client_env = vec![
        ("HUSH_CACERT".into(), ca.to_owned()),
        ("HUSH_CLIENT_CERT".into(), cli_client.cert.display().to_string()),
        ("HUSH_CLIENT_KEY".into(), cli_client.key.display().to_string()),
    ];
    assert_eq!(h.cli(&["namespace", "create", "team"]).status.code(), Some(0));
    let token = h.token(&["team"], &["secrets:list", "secrets:read", "secrets:write", "secrets:delete"]);
    let list_only = h.token(&["team"], &["secrets:list"]);
    let out_dir = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/grpc_client.py");
    let out = Command::new(venv.join("bin/python"))
        .arg(script)
        .arg(proto_dir())
        .arg(out_dir.path())
        .arg(h.addr.replace("https://127.0.0.1", "localhost"))
        .arg(&token)
        .arg(&list_only)
        .arg(&pki.ca_file)
        .arg(&client.cert)
        .arg(&client.key)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let r: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&out)));

    let meta = &r["create_git"]["ok"];
    assert_eq!((meta["name"].as_str(), meta["type"].as_str()), (Some("git-slot"), Some("git_secret")), "{r}");
    let created: i64 = meta["created_at_ms"].as_str().unwrap().parse().unwrap();
    assert!(created > 1_700_000_000_000, "{meta}");
    assert_eq!(r["create_registry"]["ok"]["type"], "registry_secret");
    assert_eq!(r["create_generic"]["ok"]["type"], "generic_secret");
    assert_eq!(r["rotate_git"]["ok"]["created_at_ms"], meta["created_at_ms"], "rotation keeps the creation time");
    for (step, code) in [
        ("type_change", "FAILED_PRECONDITION"),
        ("cas_conflict", "FAILED_PRECONDITION"),
        ("bad_name", "INVALID_ARGUMENT"),
        ("no_value", "INVALID_ARGUMENT"),
        ("get_missing", "NOT_FOUND"),
        ("unauthenticated", "UNAUTHENTICATED"),
        ("permission_denied", "PERMISSION_DENIED"),
        ("get_deleted", "NOT_FOUND"),
        ("unknown_method", "UNIMPLEMENTED"),
    ] {
        assert_eq!(r[step]["code"], code, "{step}: {}", r[step]);
    }
    assert!(r["bad_name"]["details"].as_str().unwrap().contains("position 4"), "{}", r["bad_name"]);
    assert_eq!(r["get_git"]["ok"]["value"], json!({"git_secret": {"username": "bot", "token": "GRPC-git-token-32"}}));
    assert_eq!(r["get_git"]["ok"]["metadata"]["name"], "git-slot");
    assert_eq!(
        r["get_registry"]["ok"]["value"],
        json!({"registry_secret": {"username": "puller", "password": "GRPC-reg-pw-77"}}),
        "an empty server_address (Docker Hub) is proto3's default, left out"
    );
    assert_eq!(r["generic_bytes_hex"], hex(b"\x00\xffGRPC-bytes"));
    let names: Vec<&str> =
        r["list"]["ok"]["secrets"].as_array().unwrap().iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, vec!["blob", "git-slot", "reg_slot"]);
    assert!(r["list"]["ok"].to_string().find("GRPC-").is_none(), "a listing carries no value: {}", r["list"]);
    assert_eq!(r["list_with_list_only"]["ok"]["secrets"].as_array().unwrap().len(), 3);
    assert_eq!(r["delete"]["ok"], json!({}));
    assert_eq!(r["delete_again"]["ok"], json!({}), "delete is idempotent");
    // A plain-text channel to the TLS port gets nowhere, nor does TLS without a client certificate.
    assert_eq!(r["plaintext_to_tls"]["code"], "UNAVAILABLE", "{}", r["plaintext_to_tls"]);
    assert_eq!(r["no_client_certificate"]["code"], "UNAVAILABLE", "{}", r["no_client_certificate"]);

    // The same secrets through REST: one store, one set of rules.
    let rest = h.cli(&["secret", "get", "git-slot", "-n", "team", "--field", "token"]);
    assert_eq!(String::from_utf8_lossy(&rest.stdout).trim(), "GRPC-git-token-32", "{}", show(&rest));
    // And the audit log has every call, never a value.
    let audit = h.cli(&["audit", "list", "--json", "--limit", "200"]);
    assert!(!contains(&audit.stdout, b"GRPC-"), "{}", show(&audit));
    assert!(String::from_utf8_lossy(&audit.stdout).contains("\"secret.read\""), "{}", show(&audit));
    // Each call's event names the client certificate it came with: the gRPC
    // client's for GetSecret, the CLI's for its own read of the same secret.
    let page: Value = serde_json::from_slice(&audit.stdout).unwrap();
    let reads: Vec<&str> = page["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "secret.read" && e["name"] == "git-slot" && e["outcome"] == "ok")
        .map(|e| e["client_cert"].as_str().unwrap_or("none"))
        .collect();
    assert_eq!(reads, ["CN=cli-client,O=hush client", "CN=grpc-client,O=hush client"], "newest first");
    // The server's trace-level log saw every call: no value, no token.
    let log = h.log.lock().unwrap().clone();
    assert!(log.contains("/hush.v1.SecretService/GetSecret"), "the access log records gRPC calls");
    for secret in ["GRPC-git-token", "GRPC-reg-pw", "GRPC-bytes", token.as_str(), list_only.as_str()] {
        assert!(!log.contains(secret), "the server log holds {secret}");
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[test]
fn grpcurl_finds_the_service_by_reflection_and_calls_it() {
    let Some(venv) = python_clients("grpcurl_finds_the_service_by_reflection_and_calls_it") else { return };
    // Plain text (h2c) first, as behind a TLS-terminating proxy.
    let plain = Hush::running();
    let listing = grpcurl(&venv, &plain, None, &["list"]);
    assert!(String::from_utf8_lossy(&listing.stdout).contains("hush.v1.SecretService"), "{}", show(&listing));
    drop(plain);
    // Then everything over TLS.
    let pki = crate::pki::Pki::new();
    let mut h = Hush::init();
    h.start_tls(&pki, &pki.server("hush"), &[]);
    // grpcurl checks the certificate: without the CA it refuses.
    let untrusting = Command::new(venv.join("bin/grpcurl")).arg(h.host_port()).arg("list").output().unwrap();
    assert!(!untrusting.status.success(), "{}", show(&untrusting));
    assert!(String::from_utf8_lossy(&untrusting.stderr).contains("certificate"), "{}", show(&untrusting));
    let listing = grpcurl(&venv, &h, None, &["list"]);
    assert!(listing.status.success(), "{}", show(&listing));
    let services = String::from_utf8_lossy(&listing.stdout);
    for s in ["hush.v1.SecretService", "grpc.health.v1.Health", "grpc.reflection."] {
        assert!(services.contains(s), "{s} not in {services}");
    }
    let described = grpcurl(&venv, &h, None, &["describe", "hush.v1.SecretService"]);
    assert!(
        String::from_utf8_lossy(&described.stdout)
            .contains("rpc GetSecret ( .hush.v1.GetSecretRequest ) returns ( .hush.v1.Secret );"),
        "{}",
        show(&described)
    );

    let health = grpcurl_call(&venv, &h, None, &[], "grpc.health.v1.Health/Check", "{}");
    assert!(String::from_utf8_lossy(&health.stdout).contains("SERVING"), "{}", show(&health));
    let named =
        grpcurl_call(&venv, &h, None, &[], "grpc.health.v1.Health/Check", r#"{"service":"hush.v1.SecretService"}"#);
    assert!(String::from_utf8_lossy(&named.stdout).contains("SERVING"), "{}", show(&named));

    // The admin token may act in every namespace: the call names one.
    let ns = ["-H", "x-hush-namespace: default"];
    let body = r#"{"name":"curl-slot","value":{"registrySecret":{"username":"u","password":"GRPCURL-pw-1","serverAddress":"ghcr.io"}}}"#;
    let created = grpcurl_call(&venv, &h, Some(&h.token), &ns, "hush.v1.SecretService/CreateSecret", body);
    assert!(created.status.success(), "{}", show(&created));
    let meta: Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!((meta["name"].as_str(), meta["type"].as_str()), (Some("curl-slot"), Some("registry_secret")), "{meta}");
    assert!(meta["createdAtMs"].is_string(), "int64 as a JSON string: {meta}");
    let got =
        grpcurl_call(&venv, &h, Some(&h.token), &ns, "hush.v1.SecretService/GetSecret", r#"{"name":"curl-slot"}"#);
    let got: Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!(
        got["value"],
        json!({"registrySecret": {"username": "u", "password": "GRPCURL-pw-1", "serverAddress": "ghcr.io"}})
    );
    let listed = grpcurl_call(&venv, &h, Some(&h.token), &ns, "hush.v1.SecretService/ListSecrets", "{}");
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("curl-slot") && !contains(&listed.stdout, b"GRPCURL-pw"),
        "{}",
        show(&listed)
    );

    let no_ns = grpcurl_call(&venv, &h, Some(&h.token), &[], "hush.v1.SecretService/ListSecrets", "{}");
    assert!(!no_ns.status.success(), "{}", show(&no_ns));
    let text = String::from_utf8_lossy(&no_ns.stderr);
    assert!(text.contains("InvalidArgument") && text.contains("x-hush-namespace"), "{text}");
    let missing = grpcurl_call(&venv, &h, Some(&h.token), &ns, "hush.v1.SecretService/GetSecret", r#"{"name":"nope"}"#);
    assert!(String::from_utf8_lossy(&missing.stderr).contains("NotFound"), "{}", show(&missing));
    let anonymous = grpcurl_call(&venv, &h, None, &ns, "hush.v1.SecretService/ListSecrets", "{}");
    assert!(String::from_utf8_lossy(&anonymous.stderr).contains("Unauthenticated"), "{}", show(&anonymous));
    let deleted =
        grpcurl_call(&venv, &h, Some(&h.token), &ns, "hush.v1.SecretService/DeleteSecret", r#"{"name":"curl-slot"}"#);
    assert!(deleted.status.success(), "{}", show(&deleted));
    assert_eq!(String::from_utf8_lossy(&deleted.stdout).trim(), "{\n  \n}");
}
