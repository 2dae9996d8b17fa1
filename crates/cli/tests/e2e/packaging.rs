//! Packaging: the container image (contrib/container) built, run, restarted
//! and health-checked with podman; the systemd unit
//! (contrib/systemd/hush.service) checked by systemd-analyze and served
//! under its system call filter; and `hush health`, which the image's
//! HEALTHCHECK runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::components::{Podman, free_port, require};
use crate::harness::{HUSH, Hush, cli_with, show};
use crate::pki::Pki;

/// The repository's root (contrib/ is there).
fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn health(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(HUSH)
        .arg("health")
        .args(args)
        .env_remove("HUSH_ADDR")
        .env_remove("HUSH_TOKEN")
        .env_remove("HUSH_CACERT")
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

#[test]
fn hush_health_says_whether_a_server_answers_without_a_token() {
    let h = Hush::running();
    let out = health(&["--addr", &h.addr], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let expected = format!("ok: hush {} at {}\n", env!("CARGO_PKG_VERSION"), h.addr);
    assert_eq!(String::from_utf8_lossy(&out.stdout), expected);
    let out = health(&["--json"], &[("HUSH_ADDR", &h.addr)]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(answer["status"], "ok", "{answer}");

    // Nothing listening, something that is not hush's health route (a 404:
    // still exit 1, not 4), and a server that accepts but never answers.
    let closed = format!("http://127.0.0.1:{}", free_port());
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_addr = format!("http://{}", silent.local_addr().unwrap());
    let not_health = format!("{}/elsewhere", h.addr);
    let table: &[(&[&str], &str)] = &[
        (&["--addr", &closed], "the health check failed: cannot reach hush at"),
        (&["--addr", &not_health], "the health check failed: no such route"),
        (&["--addr", &silent_addr, "--timeout", "300ms"], "did not answer within 300ms"),
    ];
    for (args, expected) in table {
        let out = health(args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {}", show(&out));
        assert!(String::from_utf8_lossy(&out.stderr).contains(expected), "{args:?}: {}", show(&out));
        assert!(out.stdout.is_empty(), "{args:?}: {}", show(&out));
    }

    // Over TLS the certificate is checked as by every client.
    let pki = Pki::new();
    let mut tls = Hush::init();
    tls.start_tls(&pki, &pki.server("server"), &[]);
    let localhost = tls.addr.replace("127.0.0.1", "localhost");
    let ca = pki.ca_file.display().to_string();
    let out = health(&["--addr", &localhost, "--ca-cert", &ca], &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = health(&[], &[("HUSH_ADDR", &localhost), ("HUSH_CACERT", &ca)]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = health(&["--addr", &localhost], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("unknown issuer"), "{}", show(&out));
    let plain = tls.addr.replace("https://", "http://");
    let out = health(&["--addr", &plain], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("this port speaks TLS"), "{}", show(&out));
}

/// The unit file with ExecStart pointing at the binary under test
/// (systemd-analyze verify wants the program to exist), in `dir`.
fn unit_copy(dir: &Path, edit: impl Fn(&str) -> String) -> PathBuf {
    let text = std::fs::read_to_string(repo().join("contrib/systemd/hush.service")).unwrap();
    assert!(text.contains("\nExecStart=/usr/local/bin/hush serve\n"), "{text}");
    let text = text.replace("\nExecStart=/usr/local/bin/hush ", &format!("\nExecStart={HUSH} "));
    let path = dir.join("hush.service");
    std::fs::write(&path, edit(&text)).unwrap();
    path
}

/// What `systemd-analyze verify` says about the unit: its exit status and
/// every line that names the unit (warnings about other units on the
/// machine, which verify also loads, are not the unit's).
fn verify(unit: &Path) -> (Option<i32>, Vec<String>) {
    let out =
        Command::new("systemd-analyze").arg("verify").arg(unit).current_dir(unit.parent().unwrap()).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code(), text.lines().filter(|l| l.contains("hush.service")).map(str::to_owned).collect())
}

#[test]
fn the_systemd_unit_verifies_without_a_warning_and_is_sandboxed() {
    if !require("the_systemd_unit_verifies_without_a_warning_and_is_sandboxed", &["systemd-analyze"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let unit = unit_copy(dir.path(), str::to_owned);
    assert_eq!(verify(&unit), (Some(0), Vec::new()));

    // The check sees what verify only warns about (its exit status is 0 for
    // an unknown key or a bad value): a misspelt option, a bad value.
    let bad = tempfile::tempdir().unwrap();
    let broken = unit_copy(bad.path(), |t| {
        t.replace("ProtectSystem=strict", "ProtectSytem=strict").replace("AF_INET6 AF_UNIX", "AF_INET6 AF_UNIXX")
    });
    let (status, lines) = verify(&broken);
    assert_eq!(status, Some(0), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("Unknown key") && l.contains("ProtectSytem")), "{lines:?}");
    assert!(lines.iter().any(|l| l.contains("address family")), "{lines:?}");

    // systemd's own rating of the sandbox: "1.2 OK" when this was written;
    // a dropped option shows as a higher number.
    let out = Command::new("systemd-analyze").args(["security", "--offline=yes"]).arg(&unit).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let level: f64 = text
        .lines()
        .find_map(|l| l.split("Overall exposure level for hush.service: ").nth(1))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no exposure level in:\n{}", show(&out)));
    assert!(level <= 1.2, "exposure {level}:\n{text}");
    for line in [
        "NoNewPrivileges=yes",
        "ProtectSystem=strict",
        "ReadWritePaths=/var/lib/hush",
        "PrivateTmp=yes",
        "MemoryDenyWriteExecute=yes",
        "SystemCallFilter=@system-service",
        "CapabilityBoundingSet=",
        // The root key comes in as a credential, and hush reads it from there.
        "LoadCredential=root.key:/etc/hush/root.key",
        "Environment=HUSH_ROOT_KEY_FILE=%d/root.key",
    ] {
        assert!(std::fs::read_to_string(&unit).unwrap().lines().any(|l| l == line), "{line} missing");
    }
}

/// A process killed when dropped (if it is still running).
struct Running(std::process::Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Waits until `hush health` passes against `addr`, or the process ends.
fn wait_serving(process: &mut Running, addr: &str, ca: &str, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while health(&["--addr", addr, "--ca-cert", ca, "--timeout", "1s"], &[]).status.code() != Some(0) {
        let ended = process.0.try_wait().unwrap();
        assert!(
            ended.is_none() && Instant::now() < deadline,
            "hush serve did not start ({ended:?}):\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn hush_serves_under_the_units_system_call_filter_and_memory_deny_write_execute() {
    let test = "hush_serves_under_the_units_system_call_filter_and_memory_deny_write_execute";
    if !require(test, &["systemd-analyze", "python3"]) {
        return;
    }
    let unit = repo().join("contrib/systemd/hush.service");
    let sandbox = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/unit_sandbox.py");
    let sandboxed = |program: &str| {
        let mut cmd = Command::new("python3");
        cmd.arg(&sandbox).arg(&unit).arg("--").arg(program);
        cmd
    };

    // The sandbox is live: writable and executable memory and a call
    // outside the filter are refused to a program under it.
    let probe = "import mmap, os\n\
        try:\n    mmap.mmap(-1, 4096, prot=mmap.PROT_WRITE | mmap.PROT_EXEC); print('wx allowed')\n\
        except PermissionError: print('wx refused')\n\
        try:\n    os.setpriority(os.PRIO_PROCESS, 0, 5); print('setpriority allowed')\n\
        except PermissionError: print('setpriority refused')\n";
    let out = sandboxed("python3").args(["-c", probe]).output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "wx refused\nsetpriority refused\n", "{}", show(&out));

    // The unit's way of giving the root key: a file hush only reads.
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("root.key");
    std::fs::write(&key_file, "YmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmJiYmI=\n").unwrap();
    let key = key_file.display().to_string();
    let h = Hush::init_with(&[("HUSH_ROOT_KEY_FILE", &key)]);
    let pki = Pki::new();
    let server = pki.server("server");
    let log = dir.path().join("serve.log");
    let port = free_port();
    let mut serve = sandboxed(HUSH);
    serve
        .args(["serve", "--listen", &format!("127.0.0.1:{port}"), "--root-key-file", &key, "--data-dir"])
        .arg(h.data_dir())
        .arg("--key-dir")
        .arg(h.key_dir())
        .arg("--tls-cert")
        .arg(&server.cert)
        .arg("--tls-key")
        .arg(&server.key)
        .env_remove("HUSH_ROOT_KEY")
        .env("HUSH_LOG", "info")
        .stdout(std::fs::File::create(dir.path().join("serve.out")).unwrap())
        .stderr(std::fs::File::create(&log).unwrap());
    let mut process = Running(serve.spawn().unwrap());
    let addr = format!("https://127.0.0.1:{port}");
    let ca = pki.ca_file.display().to_string();
    wait_serving(&mut process, &addr, &ca, &log);

    // Reads, writes, tokens, the audit chain and a backup: the calls and the
    // memory a real server uses.
    let client = [("HUSH_CACERT", ca.as_str())];
    let cli = |token: &str, args: &[&str], stdin: Option<&[u8]>| cli_with(&addr, token, args, stdin, &client);
    let out = cli(&h.token, &["secret", "create", "db/password", "--value-stdin"], Some(b"sandboxed-value"));
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let out = cli(&h.token, &["token", "create", "-n", "default", "--scope", "secrets:read"], None);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let reader = String::from_utf8(out.stdout).unwrap().trim().to_owned();
    let out = cli(&reader, &["secret", "get", "db/password"], None);
    assert_eq!(out.stdout, b"sandboxed-value", "{}", show(&out));
    let out = cli(&h.token, &["audit", "verify"], None);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let backup = dir.path().join("hush.backup");
    let out = cli(&h.token, &["admin", "backup", backup.to_str().unwrap()], None);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // SIGTERM: a clean stop, and nothing refused along the way.
    let stopped = Command::new("kill").args(["-TERM", &process.0.id().to_string()]).status().unwrap();
    assert!(stopped.success());
    let status = process.0.wait().unwrap();
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(status.success(), "{status}:\n{text}");
    let applied = "unit_sandbox.py: applied NoNewPrivileges, RestrictAddressFamilies, MemoryDenyWriteExecute, \
                   SystemCallFilter";
    assert!(text.contains(applied) && text.contains("stopped"), "{text}");
    for refused in ["Operation not permitted", "EPERM", "panicked", "ERROR"] {
        assert!(!text.contains(refused), "{refused}:\n{text}");
    }
}

/// Polls the container's HEALTHCHECK (`podman healthcheck run`: there is no
/// systemd here to run it on a timer) until it passes.
fn wait_healthy(podman: &Podman, name: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let out = podman.command(&["healthcheck", "run", name]).output().unwrap();
        if out.status.success() {
            return;
        }
        if Instant::now() > deadline {
            let logs = podman.command(&["logs", name]).output().unwrap();
            panic!("{name} never became healthy: {}\n--- its log\n{}", show(&out), show(&logs));
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

fn podman_ok(podman: &Podman, args: &[&str]) -> String {
    let out = podman.command(args).output().unwrap();
    assert!(out.status.success(), "podman {args:?}: {}", show(&out));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn the_container_image_runs_as_hush_and_keeps_a_secret_across_a_restart() {
    let test = "the_container_image_runs_as_hush_and_keeps_a_secret_across_a_restart";
    if !require(test, &["podman", "runc", "ldd"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let podman = Podman::new(dir.path());
    let tag = format!("localhost/hush-e2e-{}:test", std::process::id());

    // The image, from the binary under test.
    let out = Command::new(repo().join("contrib/container/build"))
        .args(["--binary", HUSH, "--tag", &tag])
        .envs(podman.env())
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let inspected: serde_json::Value = serde_json::from_str(&podman_ok(&podman, &["image", "inspect", &tag])).unwrap();
    let config = &inspected[0]["Config"];
    assert_eq!(config["User"], "10001:10001", "{config}");
    assert_eq!(config["Entrypoint"], serde_json::json!(["/usr/local/bin/hush"]), "{config}");
    assert_eq!(config["Cmd"], serde_json::json!(["serve"]), "{config}");
    let volumes: Vec<&String> = config["Volumes"].as_object().unwrap().keys().collect();
    assert_eq!(volumes, ["/data", "/keys"], "{config}");
    let check = &inspected[0]["Healthcheck"]["Test"];
    assert_eq!(check, &serde_json::json!(["CMD", "/usr/local/bin/hush", "health", "--timeout", "5s"]), "{inspected}");
    // Nothing but hush to run in it: no shell.
    let out = podman.command(&["run", "--rm", "--entrypoint", "/bin/sh", &tag, "-c", "true"]).output().unwrap();
    assert!(!out.status.success(), "{}", show(&out));

    // The stores on volumes (host directories here, handed to the image's
    // user with :U), the root key as a podman secret, TLS from a directory.
    let data = dir.path().join("data");
    let keys = dir.path().join("keys");
    let tls = dir.path().join("tls");
    for d in [&data, &keys] {
        std::fs::create_dir(d).unwrap();
    }
    let out = Command::new(HUSH)
        .args(["tls", "self-signed", "--host", "localhost", "--host", "127.0.0.1", "--out"])
        .arg(&tls)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let key_file = dir.path().join("root.key");
    std::fs::write(&key_file, "Y2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2NjY2M=\n").unwrap();
    let secret = format!("hush-root-key-{}", std::process::id());
    podman_ok(&podman, &["secret", "create", &secret, key_file.to_str().unwrap()]);
    let volumes = [
        format!("{}:/data:U", data.display()),
        format!("{}:/keys:U", keys.display()),
        format!("{}:/tls:ro,U", tls.display()),
    ];
    let mut common: Vec<String> = Vec::new();
    for v in &volumes {
        common.extend(["-v".into(), v.clone()]);
    }
    common.extend(["--secret".into(), format!("{secret},uid=10001,gid=10001,mode=0400")]);
    common.extend(["-e".into(), format!("HUSH_ROOT_KEY_FILE=/run/secrets/{secret}")]);
    let common: Vec<&str> = common.iter().map(String::as_str).collect();

    // hush init in a container of its own: the admin token on the last line.
    let out = podman.command(&[&["run", "--rm"][..], &common, &[&tag, "init"]].concat()).output().unwrap();
    assert!(out.status.success(), "{}", show(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let token = stdout.lines().last().unwrap().to_owned();
    assert!(token.starts_with("hush_"), "{stdout}");
    assert!(stdout.contains(&format!("root key:   from /run/secrets/{secret}")), "{stdout}");

    // hush serve over TLS, published on loopback only; the healthcheck asks
    // https://localhost:8270 inside the container.
    let port = free_port();
    let name = format!("hush-e2e-{}", std::process::id());
    let publish = format!("127.0.0.1:{port}:8270");
    let serve_env = [
        "HUSH_TLS_CERT=/tls/server.pem",
        "HUSH_TLS_KEY=/tls/server-key.pem",
        "HUSH_ADDR=https://localhost:8270",
        "HUSH_CACERT=/tls/ca.pem",
    ];
    let mut run: Vec<&str> = vec!["run", "-d", "--name", &name, "-p", &publish];
    for e in &serve_env {
        run.extend(["-e", e]);
    }
    run.extend(&common);
    run.push(&tag);
    podman_ok(&podman, &run);
    wait_healthy(&podman, &name);
    assert_eq!(podman_ok(&podman, &["inspect", &name, "--format", "{{.State.Health.Status}}"]), "healthy");
    // Its one process is hush, as the image's user.
    let top = podman_ok(&podman, &["top", &name, "huser", "args"]);
    assert!(
        top.lines().nth(1).is_some_and(|l| l.starts_with("10001") && l.contains("/usr/local/bin/hush serve")),
        "{top}"
    );

    let addr = format!("https://127.0.0.1:{port}");
    let ca = tls.join("ca.pem").display().to_string();
    let client = [("HUSH_CACERT", ca.as_str())];
    let out = cli_with(
        &addr,
        &token,
        &["secret", "create", "db/password", "--value-stdin"],
        Some(b"in-a-container"),
        &client,
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // SIGTERM (podman stop) ends hush cleanly; started again on the same
    // volumes and secret, it has the secret.
    podman_ok(&podman, &["stop", "--time", "20", &name]);
    assert_eq!(podman_ok(&podman, &["inspect", &name, "--format", "{{.State.ExitCode}}"]), "0");
    podman_ok(&podman, &["start", &name]);
    wait_healthy(&podman, &name);
    let out = cli_with(&addr, &token, &["secret", "get", "db/password"], None, &client);
    assert_eq!(out.stdout, b"in-a-container", "{}", show(&out));
    let out = cli_with(&addr, &token, &["audit", "verify"], None, &client);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // The key volume holds the key store, not the root key.
    let names: Vec<String> =
        std::fs::read_dir(&keys).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert!(names.iter().any(|n| n == "keys.db"), "{names:?}");
    assert!(!names.iter().any(|n| n.starts_with("root.key")), "{names:?}");
    assert!(std::fs::read_dir(&data).unwrap().any(|e| e.unwrap().file_name() == "hush.db"));
}
