//! Real registry clients get their credentials only from
//! `docker-credential-hush`: skopeo pushes and pulls against a private
//! registry with htpasswd auth (with hush serving over TLS, as it would off
//! this machine), `docker manifest inspect` reads through it, and
//! `hush registry test` (CLI and REST) tries credentials against it.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

use crate::components::{helper_bin, image, path_with, registry, require};
use crate::harness::{Hush, contains, show};

const USER: &str = "alice";
const PASSWORD: &str = "wonder:land$%*";

fn put(h: &Hush, url: &str, password: &str, scope: &[&str]) {
    let mut args = vec!["registry", "create", url, "--username", USER, "--password-stdin"];
    args.extend_from_slice(scope);
    let out = h.cli_stdin(&args, password.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

/// skopeo with an auth file that names only the helper, and hush's environment.
fn skopeo(h: &Hush, bin: &Path, authfile: &Path, namespace: &str, args: &[&str]) -> Output {
    skopeo_as(h, &h.token, bin, authfile, namespace, args, None)
}

fn skopeo_as(
    h: &Hush,
    token: &str,
    bin: &Path,
    authfile: &Path,
    namespace: &str,
    args: &[&str],
    stdin: Option<&[u8]>,
) -> Output {
    let mut child = Command::new("skopeo")
        .args(args)
        .arg("--authfile")
        .arg(authfile)
        .env("PATH", path_with(bin))
        .env("HUSH_ADDR", &h.addr)
        .env("HUSH_TOKEN", token)
        .env("HUSH_NAMESPACE", namespace)
        .envs(h.client_env.iter().map(|(k, v)| (k, v)))
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("HUSH_HELPER_WRITABLE")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or_default()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn secret_version(h: &Hush, ns: &str, name: &str) -> u64 {
    let out = h.cli(&["secret", "versions", name, "-n", ns, "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    serde_json::from_slice::<Value>(&out.stdout).unwrap()["version"].as_u64().unwrap()
}

#[test]
fn skopeo_pushes_and_pulls_with_credentials_only_from_the_helper() {
    if !require("skopeo_pushes_and_pulls", &["docker-registry", "skopeo", "htpasswd", "umoci"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(&dir.path().join("registry"), &[(USER, PASSWORD)]);
    let layout = image(dir.path());
    let bin = helper_bin(dir.path());
    let pki = crate::pki::Pki::new();
    let mut h = Hush::init();
    h.start_tls(&pki, &pki.server("hush"), &[]);
    for ns in ["team", "other"] {
        assert_eq!(h.cli(&["namespace", "create", ns]).status.code(), Some(0));
    }
    // The namespace's entry is right; the global one, used by other namespaces, is wrong.
    put(&h, &reg.addr, PASSWORD, &["-n", "team"]);
    put(&h, &format!("http://{}", reg.addr), "not-the-password", &["--global"]);
    let authfile = dir.path().join("auth.json");
    let auth_config = format!(r#"{{"credHelpers":{{"{}":"hush"}}}}"#, reg.addr);
    std::fs::write(&authfile, &auth_config).unwrap();

    let oci = format!("oci:{}:v1", layout.display());
    let remote = format!("docker://{}/team/app:v1", reg.addr);
    let out = skopeo(&h, &bin, &authfile, "team", &["copy", "--dest-tls-verify=false", &oci, &remote]);
    assert!(out.status.success(), "push: {}", show(&out));
    let out = skopeo(&h, &bin, &authfile, "team", &["inspect", "--tls-verify=false", &remote]);
    assert!(out.status.success(), "inspect: {}", show(&out));
    let inspected: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(inspected["Name"], format!("{}/team/app", reg.addr));
    let pulled = dir.path().join("pulled");
    let out = skopeo(
        &h,
        &bin,
        &authfile,
        "team",
        &["copy", "--src-tls-verify=false", &remote, &format!("dir:{}", pulled.display())],
    );
    assert!(out.status.success(), "pull: {}", show(&out));
    assert!(pulled.join("manifest.json").is_file());

    // Another namespace falls back to the global entry, whose password is wrong:
    // skopeo's own clean unauthorized error.
    let out = skopeo(&h, &bin, &authfile, "other", &["inspect", "--tls-verify=false", &remote]);
    assert!(!out.status.success(), "{}", show(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unauthorized") || stderr.contains("authentication required"), "{stderr}");
    // Without an entry anywhere, skopeo tries anonymously and is refused.
    let none = h.token(&["other"], &["secrets:list"]);
    let out = skopeo_as(&h, &none, &bin, &authfile, "other", &["inspect", "--tls-verify=false", &remote], None);
    assert!(!out.status.success(), "{}", show(&out));

    // A client's login (store) and logout (erase) change nothing in hush.
    let args = ["login", "--tls-verify=false", "-u", USER, "--password-stdin", &reg.addr];
    let login = skopeo_as(&h, &h.token, &bin, &authfile, "team", &args, Some(PASSWORD.as_bytes()));
    assert!(login.status.success(), "login: {}", show(&login));
    let out = skopeo(&h, &bin, &authfile, "team", &["logout", &reg.addr]);
    assert!(out.status.success(), "logout: {}", show(&out));
    let name = format!("registries/{}", reg.addr.replace(':', "_"));
    assert_eq!(secret_version(&h, "team", &name), 1);
    let out = skopeo(&h, &bin, &authfile, "team", &["inspect", "--tls-verify=false", &remote]);
    assert!(out.status.success(), "after logout: {}", show(&out));
    // Nothing was written to the client's own auth file.
    let after = std::fs::read_to_string(&authfile).unwrap();
    assert!(!after.contains(PASSWORD) && !after.contains("\"auth\""), "{after}");
    // The pulls are in the audit log, naming the entry.
    let audit = String::from_utf8_lossy(&h.cli(&["audit", "list", "-n", "team", "--json", "--limit", "200"]).stdout)
        .into_owned();
    assert!(audit.contains("registry.read") && audit.contains(&name), "{audit}");
    assert!(!audit.contains(PASSWORD));
}

#[test]
fn docker_manifest_inspect_reads_through_the_helper() {
    if !require("docker_manifest_inspect", &["docker-registry", "skopeo", "htpasswd", "umoci", "docker"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(&dir.path().join("registry"), &[(USER, PASSWORD)]);
    let layout = image(dir.path());
    let bin = helper_bin(dir.path());
    let h = Hush::running();
    put(&h, &reg.addr, PASSWORD, &[]);
    let remote = format!("{}/team/app:v1", reg.addr);
    // Pushed with explicit credentials: docker's part is only the read.
    let push = Command::new("skopeo")
        .args(["copy", "--dest-tls-verify=false", "--dest-creds", &format!("{USER}:{PASSWORD}")])
        .arg(format!("oci:{}:v1", layout.display()))
        .arg(format!("docker://{remote}"))
        .output()
        .unwrap();
    assert!(push.status.success(), "{}", show(&push));

    let docker_config = dir.path().join("docker");
    std::fs::create_dir_all(&docker_config).unwrap();
    std::fs::write(docker_config.join("config.json"), format!(r#"{{"credHelpers":{{"{}":"hush"}}}}"#, reg.addr))
        .unwrap();
    let inspect = |token: &str| {
        Command::new("docker")
            .args(["manifest", "inspect", "--insecure", &remote])
            .env("DOCKER_CONFIG", &docker_config)
            .env("PATH", path_with(&bin))
            .env("HUSH_ADDR", &h.addr)
            .env("HUSH_TOKEN", token)
            .env_remove("HUSH_NAMESPACE")
            .output()
            .unwrap()
    };
    let out = inspect(&h.token);
    assert!(out.status.success(), "{}", show(&out));
    let manifest: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(manifest["schemaVersion"], 2);
    // With a token that cannot read registries, docker gets nothing and is refused.
    let weak = h.token(&["default"], &["secrets:list"]);
    let out = inspect(&weak);
    assert!(!out.status.success(), "{}", show(&out));
    let config = std::fs::read_to_string(docker_config.join("config.json")).unwrap();
    assert!(!config.contains(PASSWORD), "{config}");
}

#[tokio::test]
async fn registry_test_says_ok_unauthorized_or_unreachable() {
    if !require("registry_test", &["docker-registry", "htpasswd"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let reg = registry(&dir.path().join("registry"), &[(USER, PASSWORD)]);
    let h = Hush::running();
    let dead = format!("127.0.0.1:{}", crate::components::free_port());
    // The CLI tries from this machine.
    for (addr, password, code, word) in [
        (reg.addr.as_str(), PASSWORD, 0, "ok"),
        (reg.addr.as_str(), "wrong", 3, "unauthorized"),
        (dead.as_str(), PASSWORD, 1, "unreachable"),
    ] {
        let out = h.cli_stdin(
            &["registry", "test", addr, "--username", USER, "--password-stdin", "--json"],
            password.as_bytes(),
        );
        assert_eq!(out.status.code(), Some(code), "{}", show(&out));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(report["result"], word, "{report}");
        assert!(!contains(&out.stdout, PASSWORD.as_bytes()) && !contains(&out.stderr, PASSWORD.as_bytes()));
    }
    // The server tries given credentials, or a stored entry's.
    let http = h.http();
    let given = |password: &str| serde_json::json!({"url": reg.addr, "username": USER, "password": password});
    for (password, word) in [(PASSWORD, "ok"), ("wrong", "unauthorized")] {
        let r =
            http.post(h.url("/v1/registries/test")).bearer_auth(&h.token).json(&given(password)).send().await.unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.json::<Value>().await.unwrap()["result"], word);
    }
    put(&h, &reg.addr, PASSWORD, &[]);
    let r = http
        .post(h.url("/v1/namespaces/default/registries/test"))
        .bearer_auth(&h.token)
        .json(&serde_json::json!({"url": format!("http://{}/", reg.addr)}))
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    assert_eq!((report["result"].as_str(), report["status"].as_u64()), (Some("ok"), Some(200)), "{report}");
    // A stored entry is tried at its own address, whatever spelling the caller
    // sends: stored as https, it is not sent over plain HTTP.
    put(&h, &format!("https://{}", reg.addr), PASSWORD, &[]);
    let r = http
        .post(h.url("/v1/namespaces/default/registries/test"))
        .bearer_auth(&h.token)
        .json(&serde_json::json!({"url": format!("http://{}", reg.addr)}))
        .send()
        .await
        .unwrap();
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["result"], "unreachable", "{report}");
    assert!(report["endpoint"].as_str().unwrap().starts_with("https://"), "{report}");
    // A test makes the server connect out: it needs registries:write, and
    // testing unstored credentials (any address) a token bound to all namespaces.
    let writer = h.token(&["default"], &["registries:read", "registries:write"]);
    let r = http.post(h.url("/v1/registries/test")).bearer_auth(&writer).json(&given(PASSWORD)).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(h.url("/v1/namespaces/default/registries/test"))
        .bearer_auth(&writer)
        .json(&serde_json::json!({"url": reg.addr}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Never a link-local (cloud metadata) address.
    let metadata = serde_json::json!({"url": "http://169.254.169.254", "username": "u", "password": "p"});
    let r = http.post(h.url("/v1/registries/test")).bearer_auth(&h.token).json(&metadata).send().await.unwrap();
    let report: Value = r.json().await.unwrap();
    assert_eq!(report["result"], "error", "{report}");
    assert!(report["message"].as_str().unwrap().contains("link-local"), "{report}");
    let reader = h.token(&["default"], &["registries:read"]);
    let r = http.post(h.url("/v1/registries/test")).bearer_auth(&reader).json(&given(PASSWORD)).send().await.unwrap();
    assert_eq!(r.status(), 403);
    let r = http
        .post(h.url("/v1/namespaces/default/registries/test"))
        .bearer_auth(&reader)
        .json(&serde_json::json!({"url": reg.addr}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
}
