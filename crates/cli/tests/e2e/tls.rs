//! hush over TLS with real clients: curl, the CLI, `hush run`, `hush
//! redact`, `hush cache-key`, a workflow, both credential helpers; mutual
//! TLS with the client certificate's subject in the audit log; certificate
//! problems named (unknown issuer, expired, wrong host, no client
//! certificate) with no fallback to plain HTTP; certificate rotation under
//! load; and the refusal to serve plain HTTP off loopback.
//!
//! skopeo and git over a TLS hush are in registry_clients.rs and
//! git_clients.rs; gRPC clients over TLS in grpc_clients.rs; the browser in
//! ui.rs.

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;

use crate::components::{helper_bin, path_with, require};
use crate::harness::{HUSH, Hush, cli_with, option, print_config, show};
use crate::pki::{DAY, Pki, der_of, served_certificate};

fn curl(args: &[&str]) -> Output {
    Command::new("curl").args(["-sS", "--max-time", "20"]).args(args).output().unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn create(h: &Hush, name: &str, value: &str) {
    let out = h.cli_stdin(&["secret", "create", name, "--value-stdin"], value.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[test]
fn curl_reads_a_secret_over_tls_only_when_it_trusts_the_ca() {
    if !require("curl_reads_a_secret_over_tls", &["curl"]) {
        return;
    }
    let pki = Pki::new();
    let mut h = Hush::init();
    h.start_tls(&pki, &pki.server("hush"), &[]);
    create(&h, "db", "tls-value-7e1");
    let url = h.url("/v1/namespaces/default/secrets/db");
    let bearer = format!("Authorization: Bearer {}", h.token);
    let ca = pki.ca_file.to_str().unwrap();

    let out = curl(&["-i", "--cacert", ca, "-H", &bearer, &url]);
    assert!(out.status.success(), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(text.contains("\"value\":\"tls-value-7e1\""), "{text}");
    assert!(text.contains("strict-transport-security: max-age=31536000"), "{text}");
    // HTTP/2 by ALPN, and HTTP/1.1 when asked.
    assert!(text.starts_with("http/2 200"), "{text}");
    let out = curl(&["-i", "--http1.1", "--cacert", ca, "-H", &bearer, &url]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("HTTP/1.1 200"), "{}", show(&out));

    // Without the CA, curl refuses the certificate (exit 60) and sends nothing.
    let out = curl(&["-H", &bearer, &url]);
    assert_eq!(out.status.code(), Some(60), "{}", show(&out));
    // Plain HTTP to the TLS port: a 400 that says what to do, nothing served.
    let plain = url.replace("https://", "http://");
    let out = curl(&["-i", "-H", &bearer, &plain]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.starts_with("HTTP/1.1 400"), "{}", show(&out));
    assert!(text.contains("\"code\":\"tls_required\"") && text.contains("use https://"), "{text}");
    assert!(!text.contains("tls-value-7e1"));
    // So does the CLI: no fallback, a clear message, exit 2 (bad usage).
    let out = cli_with(&plain, &h.token, &["secret", "get", "db"], None, &[("HUSH_CACERT", ca)]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    assert!(stderr(&out).contains("this port speaks TLS: use https://"), "{}", show(&out));
}

#[test]
fn mutual_tls_needs_a_client_certificate_and_a_token_and_audits_its_subject() {
    if !require("mutual_tls", &["curl"]) {
        return;
    }
    let pki = Pki::new();
    let client = pki.client("runner-1");
    let stranger_pki = Pki::new();
    let stranger = stranger_pki.client("runner-1");
    let mut h = Hush::init();
    let ca = pki.ca_file.to_str().unwrap().to_owned();
    h.start_tls(&pki, &pki.server("hush"), &["--tls-client-ca", &ca, "--audit-refusals-every", "100ms"]);
    let url = h.url("/v1/namespaces/default/secrets/db");
    let bearer = format!("Authorization: Bearer {}", h.token);
    let (cert, key) = (client.cert.to_str().unwrap(), client.key.to_str().unwrap());
    let with_cert = [("HUSH_CACERT", ca.as_str()), ("HUSH_CLIENT_CERT", cert), ("HUSH_CLIENT_KEY", key)];

    // The CLI without a client certificate: refused at the handshake, named.
    let out = h.cli_stdin(&["secret", "create", "db", "--value-stdin"], b"mtls-value-3c9");
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(stderr(&out).contains("requires a client certificate"), "{}", show(&out));
    assert!(stderr(&out).contains("HUSH_CLIENT_CERT"), "{}", show(&out));
    // With one from another CA (of the same name): refused, named.
    let env = [
        ("HUSH_CACERT", ca.as_str()),
        ("HUSH_CLIENT_CERT", stranger.cert.to_str().unwrap()),
        ("HUSH_CLIENT_KEY", stranger.key.to_str().unwrap()),
    ];
    let out = cli_with(&h.addr, &h.token, &["secret", "list"], None, &env);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    assert!(stderr(&out).contains("refused this client's certificate"), "{}", show(&out));
    // With the right one, through flags this time.
    let out = cli_with(
        &h.addr,
        &h.token,
        &["secret", "create", "db", "--value-stdin", "--client-cert", cert, "--client-key", key],
        Some(b"mtls-value-3c9"),
        &[("HUSH_CACERT", ca.as_str())],
    );
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));

    // curl: no certificate, no connection (the handshake fails; with
    // HTTP/1.1 curl shows TLS 1.3's alert).
    let out = curl(&["--http1.1", "--cacert", &ca, "-H", &bearer, &url]);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(stderr(&out).contains("alert certificate required"), "{}", show(&out));
    // A certificate does not replace the token.
    let out = curl(&["-o", "/dev/null", "-w", "%{http_code}", "--cacert", &ca, "--cert", cert, "--key", key, &url]);
    assert_eq!(String::from_utf8_lossy(&out.stdout), "401", "{}", show(&out));
    // Both: the value.
    let out = curl(&["--cacert", &ca, "--cert", cert, "--key", key, "-H", &bearer, &url]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"value\":\"mtls-value-3c9\""), "{}", show(&out));

    // The audit log names the certificate of each call made with one, and
    // the chain (which covers it) verifies.
    let out = cli_with(&h.addr, &h.token, &["audit", "list", "--json"], None, &with_cert);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let page: Value = serde_json::from_slice(&out.stdout).unwrap();
    let events = page["events"].as_array().unwrap();
    let reads: Vec<&Value> =
        events.iter().filter(|e| e["action"] == "secret.read" && e["name"] == "db" && e["outcome"] == "ok").collect();
    assert_eq!(reads.len(), 1, "{page:#}");
    assert_eq!(reads[0]["client_cert"], "CN=runner-1,O=hush client");
    // The tokenless curl is counted in an auth.refused event for its address
    // and certificate (written every 100 ms here).
    let refused = wait_for_refusals(&h, &with_cert);
    assert_eq!(refused["client_cert"], "CN=runner-1,O=hush client", "{refused:#}");
    assert_eq!(refused["client_addr"], "127.0.0.1", "{refused:#}");
    assert_eq!(refused["refusals"]["count"], 1, "{refused:#}");
    assert_eq!(refused["refusals"]["reasons"]["no_token"], 1, "{refused:#}");
    let out = cli_with(&h.addr, &h.token, &["audit", "verify"], None, &with_cert);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    // The table shows it too.
    let out = cli_with(&h.addr, &h.token, &["audit", "list"], None, &with_cert);
    assert!(String::from_utf8_lossy(&out.stdout).contains("CN=runner-1,O=hush client"), "{}", show(&out));
}

#[test]
fn certificate_problems_are_named_and_never_fall_back_to_plain_http() {
    let pki = Pki::new();
    let now = SystemTime::now();
    let expired = pki.server_valid("expired", &["127.0.0.1", "localhost"], now - 3 * DAY, now - 2 * DAY);
    let elsewhere = pki.server_valid("elsewhere", &["hush.example.net"], now - DAY, now + DAY);
    let ca = pki.ca_file.to_str().unwrap();
    let with_ca = [("HUSH_CACERT", ca)];
    let cases = [
        (pki.server("fine"), &[][..], "signed by an unknown issuer"),
        (expired.clone(), &with_ca[..], "certificate has expired"),
        (elsewhere.clone(), &with_ca[..], "wrong host name: the server's certificate is not valid for 127.0.0.1"),
    ];
    for (pair, env, expected) in cases {
        let mut h = Hush::init();
        h.start_tls(&pki, &pair, &[]);
        let out = cli_with(&h.addr, &h.token, &["namespace", "list"], None, env);
        assert_eq!(out.status.code(), Some(1), "{expected}: {}", show(&out));
        assert!(stderr(&out).contains(expected), "{expected}: {}", show(&out));
        // The server logged no request: nothing was sent in clear instead.
        assert!(!h.log.lock().unwrap().contains("/v1/namespaces"), "{}", h.log.lock().unwrap());
        if pair.cert == expired.cert {
            assert!(h.log.lock().unwrap().contains("it has EXPIRED"), "{}", h.log.lock().unwrap());
        }
    }
    // curl agrees about the expired one and the wrong name.
    if require("curl_sees_the_same_problems", &["curl"]) {
        for (pair, code) in [(&expired, 60), (&elsewhere, 60)] {
            let mut h = Hush::init();
            h.start_tls(&pki, pair, &[]);
            let out = curl(&["--cacert", ca, &h.url("/v1/health")]);
            assert_eq!(out.status.code(), Some(code), "{}", show(&out));
        }
    }
}

#[test]
fn serve_refuses_plain_http_off_loopback_and_bad_tls_files() {
    let h = Hush::init();
    let serve = |args: &[&str]| {
        Command::new(HUSH)
            .arg("serve")
            .arg("--data-dir")
            .arg(h.data_dir())
            .arg("--key-dir")
            .arg(h.key_dir())
            .args(args)
            .env_remove("HUSH_ROOT_KEY")
            .env_remove("HUSH_LISTEN")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    };
    let out = serve(&["--listen", "0.0.0.0:0"]);
    assert_eq!(out.status.code(), Some(2), "{}", show(&out));
    for part in ["refusing to serve plain HTTP", "--tls-cert", "--tls-key", "--insecure-no-tls"] {
        assert!(stderr(&out).contains(part), "{part}: {}", show(&out));
    }

    let pki = Pki::new();
    let pair = pki.server("hush");
    let (cert, key) = (pair.cert.to_str().unwrap(), pair.key.to_str().unwrap());
    let missing = pki.dir.path().join("missing.pem");
    let other_key = pki.client("c").key;
    let table: &[(&[&str], i32, &str)] = &[
        (&["--tls-cert", cert], 2, "--tls-key"),
        (&["--tls-cert", cert, "--tls-key", cert], 1, "holds no private key"),
        (&["--tls-cert", missing.to_str().unwrap(), "--tls-key", key], 1, "cannot read certificate file"),
        (&["--tls-cert", cert, "--tls-key", other_key.to_str().unwrap()], 1, "does not belong"),
        (&["--tls-cert", cert, "--tls-key", key, "--insecure-no-tls"], 2, "contradicts --tls-cert"),
    ];
    for (args, code, expected) in table {
        let out = serve(&[&["--listen", "127.0.0.1:0"], *args].concat());
        assert_eq!(out.status.code(), Some(*code), "{args:?}: {}", show(&out));
        assert!(stderr(&out).contains(expected), "{args:?}: {}", show(&out));
    }

    // --print-config names the files and never prints their content.
    let ca = pki.ca_file.to_str().unwrap();
    let config = print_config(&["--tls-cert", cert, "--tls-key", key, "--tls-client-ca", ca], &[]);
    assert_eq!(option(&config, "tls-key")["value"], key);
    assert!(config["in_force"]["tls"].as_str().unwrap().starts_with("on, mutual"), "{config}");
    assert!(!config.to_string().contains("BEGIN"), "{config}");
    // The variables work as the flags do.
    let config = print_config(&[], &[("HUSH_TLS_CERT", cert), ("HUSH_TLS_KEY", key)]);
    assert_eq!(option(&config, "tls-cert")["value"], cert);
    assert_eq!(option(&config, "tls-cert")["env"], "HUSH_TLS_CERT");

    // Behind a TLS-terminating proxy: --insecure-no-tls serves plain HTTP on any address.
    let mut h = h;
    h.start(&[], &["--listen", "0.0.0.0:0", "--insecure-no-tls"]);
    let port = h.addr.rsplit(':').next().unwrap().to_owned();
    let out = cli_with(&format!("http://127.0.0.1:{port}"), &h.token, &["namespace", "list"], None, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    assert!(h.log.lock().unwrap().contains("--insecure-no-tls"), "{}", h.log.lock().unwrap());
    // SIGHUP (systemctl reload) does not stop a server without TLS.
    assert!(Command::new("kill").arg("-HUP").arg(h.pid().to_string()).status().unwrap().success());
    wait_until("the SIGHUP is logged", Duration::from_secs(10), || {
        h.log.lock().unwrap().contains("SIGHUP: nothing to reload (no TLS)")
    });
    let out = cli_with(&format!("http://127.0.0.1:{port}"), &h.token, &["namespace", "list"], None, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[test]
fn hush_tls_self_signed_writes_a_working_set() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("tls");
    let make = |extra: &[&str]| {
        Command::new(HUSH)
            .args([
                "tls",
                "self-signed",
                "--host",
                "localhost",
                "--host",
                "127.0.0.1",
                "--client",
                "ci-runner",
                "--out",
            ])
            .arg(&out_dir)
            .args(extra)
            .output()
            .unwrap()
    };
    let out = make(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("HUSH_CACERT=") && text.contains("--tls-client-ca"), "{text}");
    for name in ["ca.pem", "server.pem", "server-key.pem", "ci-runner.pem", "ci-runner-key.pem"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out_dir.join(name)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{name}");
    }
    // No key is printed.
    let key = std::fs::read_to_string(out_dir.join("server-key.pem")).unwrap();
    assert!(!text.contains(key.lines().nth(1).unwrap()));
    // It refuses to overwrite, and names the file.
    let again = make(&[]);
    assert_eq!(again.status.code(), Some(2), "{}", show(&again));
    assert!(stderr(&again).contains("ca.pem exists"), "{}", show(&again));
    assert_eq!(make(&["--force"]).status.code(), Some(0));
    let bad_dir = dir.path().join("bad");
    for (args, expected) in [
        (&["--host", "bad host!"][..], "\"bad host!\" is neither a DNS name nor an IP address"),
        (&["--host", "ok.example", "--client", "../x"][..], "--client \"../x\""),
        (&["--host", "ok.example", "--client", "ca"][..], "taken by the CA's or the server's files"),
        (&["--host", "hush.example."][..], "without its trailing dot"),
    ] {
        let bad = Command::new(HUSH).args(["tls", "self-signed", "--out"]).arg(&bad_dir).args(args).output().unwrap();
        assert_eq!(bad.status.code(), Some(2), "{}", show(&bad));
        assert!(stderr(&bad).contains(expected), "{expected}: {}", show(&bad));
        assert!(!bad_dir.exists(), "nothing is written");
    }

    // The set works: a server with it, the CLI with the CA and client certificate.
    let mut h = Hush::init();
    let ca = out_dir.join("ca.pem").display().to_string();
    let cert = out_dir.join("server.pem").display().to_string();
    let key = out_dir.join("server-key.pem").display().to_string();
    h.start(&[], &["--tls-cert", &cert, "--tls-key", &key, "--tls-client-ca", &ca]);
    let client_cert = out_dir.join("ci-runner.pem").display().to_string();
    let client_key = out_dir.join("ci-runner-key.pem").display().to_string();
    let env = [("HUSH_CACERT", ca.as_str()), ("HUSH_CLIENT_CERT", &client_cert), ("HUSH_CLIENT_KEY", &client_key)];
    let localhost = h.addr.replace("127.0.0.1", "localhost");
    for addr in [&h.addr, &localhost] {
        let out = cli_with(addr, &h.token, &["namespace", "list"], None, &env);
        assert_eq!(out.status.code(), Some(0), "{addr}: {}", show(&out));
    }
}

/// Requests on fresh connections (each a TLS handshake) and on one kept
/// open, counted until `stop`.
fn keep_requesting(
    addr: String,
    ca: &Path,
    stop: Arc<AtomicBool>,
    ok: Arc<AtomicU64>,
    failed: Arc<std::sync::Mutex<Vec<String>>>,
) -> std::thread::JoinHandle<()> {
    let tls = hush_tls::ClientTls { ca_cert: Some(ca.to_owned()), ..hush_tls::ClientTls::default() };
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async move {
            let fresh = hush_tls::http_client(&tls).unwrap().pool_max_idle_per_host(0).build().unwrap();
            let kept = hush_tls::http_client(&tls).unwrap().build().unwrap();
            while !stop.load(Ordering::Relaxed) {
                for client in [&fresh, &kept] {
                    match client.get(format!("{addr}/v1/health")).send().await {
                        Ok(r) if r.status().is_success() => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => failed.lock().unwrap().push(format!("HTTP {}", r.status())),
                        Err(e) => failed.lock().unwrap().push(tls.explain(&e)),
                    }
                }
            }
        });
    })
}

fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Replaces a file the way rotation tools do: a new file renamed over the old.
fn install(from: &Path, to: &Path) {
    let staged = to.with_extension("new");
    std::fs::copy(from, &staged).unwrap();
    std::fs::rename(&staged, to).unwrap();
}

#[test]
fn certificates_rotate_on_sighup_and_on_change_without_failed_requests() {
    let pki = Pki::new();
    let first = pki.server("first");
    let second = pki.server("second");
    let third = pki.server("third");
    let fourth = pki.server("fourth");
    // The server reads these paths; the test installs pairs into them.
    let live = crate::pki::Pair { cert: pki.dir.path().join("live.pem"), key: pki.dir.path().join("live-key.pem") };
    install(&first.cert, &live.cert);
    install(&first.key, &live.key);
    let mut h = Hush::init();
    h.start_tls(&pki, &live, &[]);
    let served = || served_certificate(h.host_port(), &pki.ca_file);
    assert_eq!(served(), der_of(&first.cert));

    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(std::sync::Mutex::new(Vec::new()));
    let load = keep_requesting(h.addr.clone(), &pki.ca_file, Arc::clone(&stop), Arc::clone(&ok), Arc::clone(&failed));
    wait_until("requests flow", Duration::from_secs(10), || ok.load(Ordering::Relaxed) > 20);

    // SIGHUP after installing the second pair.
    install(&second.key, &live.key);
    install(&second.cert, &live.cert);
    let status = Command::new("kill").arg("-HUP").arg(h.pid().to_string()).status().unwrap();
    assert!(status.success());
    wait_until("the second certificate is served", Duration::from_secs(10), || served() == der_of(&second.cert));
    // (The log is read from the server's stderr by another thread: wait for it too.)
    wait_until("the SIGHUP is logged", Duration::from_secs(10), || {
        h.log.lock().unwrap().contains("SIGHUP: reloading the TLS certificate")
    });

    // No signal: the files changing is enough.
    install(&third.key, &live.key);
    install(&third.cert, &live.cert);
    wait_until("the third certificate is served", Duration::from_secs(15), || served() == der_of(&third.cert));

    // A bad new pair (a certificate without its key) is refused; the third stays.
    install(&fourth.cert, &live.cert);
    wait_until("the bad pair is refused", Duration::from_secs(15), || {
        h.log.lock().unwrap().contains("the new TLS certificate was refused; the previous one stays in use")
    });
    assert_eq!(served(), der_of(&third.cert));
    let before = ok.load(Ordering::Relaxed);
    wait_until("requests still flow", Duration::from_secs(10), || ok.load(Ordering::Relaxed) > before + 20);

    stop.store(true, Ordering::Relaxed);
    load.join().unwrap();
    let failed = failed.lock().unwrap();
    assert!(
        failed.is_empty(),
        "{} requests failed during rotation: {:?}",
        failed.len(),
        &failed[..failed.len().min(5)]
    );
    assert!(ok.load(Ordering::Relaxed) > 60, "only {} requests", ok.load(Ordering::Relaxed));
}

#[test]
fn every_client_works_against_an_https_server() {
    let pki = Pki::new();
    let client = pki.client("ci");
    let mut h = Hush::init();
    let ca = pki.ca_file.to_str().unwrap().to_owned();
    // Mutual TLS on: every client below must present HUSH_CLIENT_CERT too.
    h.start_tls(&pki, &pki.server("hush"), &["--tls-client-ca", &ca]);
    h.client_env.push(("HUSH_CLIENT_CERT".into(), client.cert.display().to_string()));
    h.client_env.push(("HUSH_CLIENT_KEY".into(), client.key.display().to_string()));
    let ok = |out: Output| {
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    create(&h, "db", "over-tls-5d2");
    ok(h.cli_stdin(
        &[
            "secret",
            "create",
            "forge",
            "--type",
            "git",
            "--username",
            "u",
            "--token-stdin",
            "--url",
            "https://git.example.com/",
        ],
        b"ghp_over_tls",
    ));
    ok(h.cli_stdin(
        &["registry", "create", "registry.example.com", "--username", "bot", "--password-stdin"],
        b"reg-pass-over-tls",
    ));

    assert_eq!(ok(h.cli(&["secret", "get", "db"])), "over-tls-5d2");
    let out =
        ok(h.cli(&["run", "--env", "DB=hush://db", "--", "sh", "-c", "test \"$DB\" = over-tls-5d2 && echo same: $DB"]));
    assert_eq!(out, "same: ***\n");
    assert_eq!(ok(h.cli_stdin(&["redact", "--secret-ref", "hush://db"], b"pw=over-tls-5d2\n")), "pw=***\n");
    assert!(ok(h.cli(&["cache-key", "hush://db"])).starts_with("argon2id:"));

    // A workflow whose action reads the secret.
    let dir = tempfile::tempdir().unwrap();
    let flow = dir.path().join("flow.yaml");
    std::fs::write(
        &flow,
        "functions: [{id: echo, type: process, cmd: [cat]}]\nstates:\n- id: greet\n  type: action\n  action: \
         {function: echo, secrets: [db], input: {auth: 'pw=jq(.secrets.db)'}}\n  transform: {length: 'jq(.return.auth | length)'}\n",
    )
    .unwrap();
    let out = ok(h.cli(&["workflow", "run", flow.to_str().unwrap(), "-q"]));
    assert_eq!(serde_json::from_str::<Value>(&out).unwrap(), serde_json::json!({"length": 15}));

    // Both credential helpers, by their own names.
    let bin = helper_bin(dir.path());
    let helper_as = |name: &str, arg: &str, input: &str, env: &[(String, String)]| {
        let mut child = Command::new(bin.join(name))
            .arg(arg)
            .env("PATH", path_with(&bin))
            .env("HUSH_ADDR", &h.addr)
            .env("HUSH_TOKEN", &h.token)
            .env_remove("HUSH_CLIENT_CERT")
            .env_remove("HUSH_CLIENT_KEY")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .env_remove("HUSH_NAMESPACE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let helper = |name: &str, arg: &str, input: &str| helper_as(name, arg, input, &h.client_env);
    let out = ok(helper("docker-credential-hush", "get", "registry.example.com"));
    let answer: Value = serde_json::from_str(&out).unwrap();
    assert_eq!((answer["Username"].as_str(), answer["Secret"].as_str()), (Some("bot"), Some("reg-pass-over-tls")));
    let out = ok(helper("git-credential-hush", "get", "protocol=https\nhost=git.example.com\n\n"));
    assert!(out.contains("username=u\n") && out.contains("password=ghp_over_tls\n"), "{out}");

    // Without the client certificate, a helper gets a clear refusal, not a miss.
    let out = helper_as("docker-credential-hush", "get", "registry.example.com", &[("HUSH_CACERT".into(), ca.clone())]);
    assert_eq!(out.status.code(), Some(1), "{}", show(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("requires a client certificate"), "{}", show(&out));
    assert!(!text.contains("credentials not found"), "{}", show(&out));
}

/// The test PostgreSQL server runs with `ssl = on` and a certificate from a
/// CA `scripts/test` made (`HUSH_TEST_POSTGRES_CA`).
fn postgres_ca(test: &str) -> Option<String> {
    match std::env::var("HUSH_TEST_POSTGRES_CA") {
        Ok(ca) => Some(ca),
        Err(_) => {
            let message = format!("{test}: SKIPPED, not run: HUSH_TEST_POSTGRES_CA is not set (scripts/test sets it)");
            assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}; in CI it must run");
            eprintln!("\n!!!!!!!! {message} !!!!!!!!\n");
            None
        }
    }
}

#[test]
fn postgresql_over_verify_full_tls_accepts_the_right_ca_only() {
    const TEST: &str = "postgresql_over_verify_full_tls";
    let Some(data) = crate::components::postgres_database(TEST) else { return };
    let Some(ca) = postgres_ca(TEST) else { return };
    let keys = crate::components::postgres_database(TEST).unwrap();
    // verify-full checks the name too: connect by the name on the certificate.
    let verified = |url: &str, root: Option<&str>| {
        let url = format!("{}?sslmode=verify-full", url.replace("@127.0.0.1:", "@localhost:"));
        match root {
            Some(root) => format!("{url}&sslrootcert={root}"),
            None => url,
        }
    };
    let wrong_ca = Pki::new();
    let wrong = wrong_ca.ca_file.to_str().unwrap();
    for (what, root) in [("a CA that did not sign the server's certificate", Some(wrong)), ("the built-in roots", None)]
    {
        let env = [("HUSH_DATABASE_URL", verified(&data, root)), ("HUSH_KEYSTORE_URL", verified(&keys, root))];
        let out = Command::new(HUSH)
            .args(["init", "--data-dir"])
            .arg(tempfile::tempdir().unwrap().path())
            .envs(env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{what}: {}", show(&out));
        assert!(stderr(&out).contains("UnknownIssuer"), "{what}: {}", show(&out));
        assert!(!String::from_utf8_lossy(&out.stdout).contains("hush_"), "no admin token was made");
    }
    // The right CA: hush initialises, serves, stores and reads.
    let env = [("HUSH_DATABASE_URL", verified(&data, Some(&ca))), ("HUSH_KEYSTORE_URL", verified(&keys, Some(&ca)))];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut h = Hush::init_with(&env);
    h.start(&env, &[]);
    create(&h, "over-pg-tls", "pg-tls-value-1b");
    assert_eq!(h.cli(&["secret", "get", "over-pg-tls"]).stdout, b"pg-tls-value-1b");
}

#[tokio::test(flavor = "multi_thread")]
async fn replacing_the_client_ca_closes_connections_verified_by_the_old_one() {
    let pki = Pki::new();
    let other = Pki::new();
    let client = pki.client("runner-1");
    let live_ca = pki.dir.path().join("live-ca.pem");
    install(&pki.ca_file, &live_ca);
    let mut h = Hush::init();
    let live = live_ca.to_str().unwrap().to_owned();
    tokio::task::block_in_place(|| h.start_tls(&pki, &pki.server("hush"), &["--tls-client-ca", &live]));
    let tls = hush_tls::ClientTls {
        ca_cert: Some(pki.ca_file.clone()),
        client_cert: Some(client.cert.clone()),
        client_key: Some(client.key.clone()),
        ..hush_tls::ClientTls::default()
    };
    // One client, one kept-alive connection.
    let http = hush_tls::http_client(&tls).unwrap().http1_only().build().unwrap();
    let health = h.url("/v1/health");
    assert!(http.get(&health).send().await.unwrap().status().is_success());

    // The client CA is replaced by one that did not sign runner-1.
    install(&other.ca_file, &live_ca);
    assert!(Command::new("kill").arg("-HUP").arg(h.pid().to_string()).status().unwrap().success());
    tokio::task::block_in_place(|| {
        wait_until("the new client CA is in force", Duration::from_secs(10), || {
            h.log.lock().unwrap().contains("a client CA was removed")
        })
    });
    // The open connection was closed; a new one is refused at the handshake.
    let error = http.get(&health).send().await.expect_err("the old connection does not carry on");
    assert!(tls.explain(&error).contains("refused this client's certificate"), "{}", tls.explain(&error));
}

/// The newest `auth.refused` event, once the server has written one.
fn wait_for_refusals(h: &Hush, env: &[(&str, &str)]) -> Value {
    for _ in 0..100 {
        let out = cli_with(&h.addr, &h.token, &["audit", "list", "--json", "--action", "auth.refused"], None, env);
        assert_eq!(out.status.code(), Some(0), "{}", show(&out));
        let page: Value = serde_json::from_slice(&out.stdout).unwrap();
        if let Some(event) = page["events"].as_array().and_then(|e| e.first()) {
            return event.clone();
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    panic!("no auth.refused event was written");
}
