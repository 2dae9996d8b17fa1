//! Starts and stops `hush` processes in temporary directories.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const HUSH: &str = env!("CARGO_BIN_EXE_hush");

/// A hush installation in a temporary directory, and its server process when running.
pub struct Hush {
    pub dir: tempfile::TempDir,
    pub token: String,
    pub addr: String,
    child: Option<Child>,
    pub log: Arc<Mutex<String>>,
    pub stdout_log: Arc<Mutex<String>>,
    /// Variables every CLI call gets besides HUSH_ADDR and HUSH_TOKEN
    /// (HUSH_CACERT when the server is on TLS).
    pub client_env: Vec<(String, String)>,
}

impl Hush {
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn key_dir(&self) -> PathBuf {
        self.dir.path().join("keys")
    }

    /// `hush init` in a fresh directory; the admin token is the last line of stdout.
    pub fn init() -> Hush {
        Hush::init_with(&[])
    }

    /// `hush init` with these variables (PostgreSQL URLs, say).
    pub fn init_with(env: &[(&str, &str)]) -> Hush {
        let dir = tempfile::tempdir().unwrap();
        let mut cmd = Command::new(HUSH);
        cmd.args(["init", "--data-dir"])
            .arg(dir.path().join("data"))
            .arg("--key-dir")
            .arg(dir.path().join("keys"))
            .env_remove("HUSH_ROOT_KEY");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(out.status.success(), "init failed: {}", String::from_utf8_lossy(&out.stderr));
        let stdout = String::from_utf8(out.stdout).unwrap();
        let token = stdout.lines().last().unwrap().to_owned();
        assert!(token.starts_with("hush_"), "{stdout}");
        Hush::adopt(dir, token)
    }

    /// An installation already in `dir` (data/ and keys/), e.g. restored.
    pub fn adopt(dir: tempfile::TempDir, token: String) -> Hush {
        Hush {
            dir,
            token,
            addr: String::new(),
            child: None,
            log: Arc::default(),
            stdout_log: Arc::default(),
            client_env: Vec::new(),
        }
    }

    /// An initialised and running server.
    pub fn running() -> Hush {
        let mut h = Hush::init();
        h.start(&[], &[]);
        h
    }

    /// Starts `hush serve` on a free port and waits until it serves.
    pub fn start(&mut self, env: &[(&str, &str)], args: &[&str]) {
        self.start_command(self.serve_command(env, args));
    }

    /// Starts `hush serve` over TLS with `server` (signed by `pki`'s CA);
    /// the CLI then trusts that CA through HUSH_CACERT.
    pub fn start_tls(&mut self, pki: &crate::pki::Pki, server: &crate::pki::Pair, args: &[&str]) {
        let mut all = vec!["--tls-cert", server.cert.to_str().unwrap(), "--tls-key", server.key.to_str().unwrap()];
        all.extend_from_slice(args);
        self.start(&[], &all);
        assert!(self.addr.starts_with("https://"), "{}", self.addr);
        self.client_env = vec![("HUSH_CACERT".into(), pki.ca_file.display().to_string())];
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("the server is running").id()
    }

    /// `127.0.0.1:PORT` of the running server.
    pub fn host_port(&self) -> &str {
        self.addr.split("://").nth(1).unwrap()
    }

    /// Starts `hush serve`; on failure returns everything it printed.
    pub fn spawn(&mut self, env: &[(&str, &str)], args: &[&str]) -> Result<(Child, String), String> {
        self.spawn_command(self.serve_command(env, args))
    }

    /// `hush serve` on this installation's directories and a free loopback
    /// port (unless `args` has `--listen`).
    fn serve_command(&self, env: &[(&str, &str)], args: &[&str]) -> Command {
        let mut cmd = Command::new(HUSH);
        cmd.arg("serve");
        if !args.contains(&"--listen") {
            cmd.args(["--listen", "127.0.0.1:0"]);
        }
        cmd.arg("--data-dir")
            .arg(self.data_dir())
            .arg("--key-dir")
            .arg(self.key_dir())
            .args(args)
            .env_remove("HUSH_ROOT_KEY")
            .env("HUSH_LOG", "info");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Starts a `hush serve` command made by the caller (say, with only
    /// `--config`) and waits until it serves.
    pub fn start_command(&mut self, cmd: Command) {
        let (child, addr) = self.spawn_command(cmd).unwrap_or_else(|log| panic!("hush serve did not start:\n{log}"));
        self.child = Some(child);
        self.addr = addr;
    }

    /// Starts a `hush serve` command, capturing its output; on failure
    /// returns everything it printed.
    fn spawn_command(&mut self, mut cmd: Command) -> Result<(Child, String), String> {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        let log = Arc::clone(&self.log);
        log.lock().unwrap().clear();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut l = log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let out_log = Arc::clone(&self.stdout_log);
        out_log.lock().unwrap().clear();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let mut l = out_log.lock().unwrap();
                l.push_str(&line);
                l.push('\n');
            }
        });
        let started = Instant::now();
        loop {
            let text = self.log.lock().unwrap().clone();
            if let Some(i) = text.find("addr=http") {
                let addr: String = text[i + 5..].chars().take_while(|c| !c.is_whitespace()).collect();
                return Ok((child, addr));
            }
            if let Ok(Some(status)) = child.try_wait() {
                std::thread::sleep(Duration::from_millis(50));
                return Err(format!("exited with {status}\n{}", self.log.lock().unwrap()));
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = child.kill();
                return Err(format!("timed out\n{text}"));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM and wait.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
            let deadline = Instant::now() + Duration::from_secs(15);
            while child.try_wait().unwrap().is_none() {
                assert!(Instant::now() < deadline, "hush did not stop on SIGTERM");
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }

    /// SIGKILL, no goodbye.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().unwrap();
            child.wait().unwrap();
        }
    }

    /// The CLI with HUSH_ADDR and HUSH_TOKEN set.
    pub fn cli(&self, args: &[&str]) -> Output {
        self.cli_as(&self.token, args, None)
    }

    /// The CLI with stdin.
    pub fn cli_stdin(&self, args: &[&str], stdin: &[u8]) -> Output {
        self.cli_as(&self.token, args, Some(stdin))
    }

    /// The CLI with another token.
    pub fn cli_as(&self, token: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
        let env: Vec<(&str, &str)> = self.client_env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        cli_with(&self.addr, token, args, stdin, &env)
    }

    /// A token with these scopes in these namespaces (via the CLI).
    pub fn token(&self, namespaces: &[&str], scopes: &[&str]) -> String {
        let mut args = vec!["token", "create"];
        for ns in namespaces {
            args.extend(["-n", ns]);
        }
        for s in scopes {
            args.extend(["--scope", s]);
        }
        let out = self.cli(&args);
        assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap().lines().last().unwrap().to_owned()
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.addr, path)
    }

    pub fn http(&self) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder().no_proxy().build().unwrap()
    }

    /// Every byte of every file under `dir`.
    pub fn all_bytes(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                out.push((path.clone(), std::fs::read(&path).unwrap()));
            }
        }
        out
    }

    /// Runs SQL against the data store file (for tampering tests).
    pub fn sql(&self, statement: &str) {
        let conn = rusqlite::Connection::open(self.data_dir().join("hush.db")).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        conn.execute_batch(statement).unwrap();
    }
}

impl Drop for Hush {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The CLI against the server at `addr` with `token` (HUSH_ADDR, HUSH_TOKEN).
pub fn cli_at(addr: &str, token: &str, args: &[&str], stdin: Option<&[u8]>) -> Output {
    cli_with(addr, token, args, stdin, &[])
}

/// The CLI with more variables (HUSH_CACERT, HUSH_CLIENT_CERT, …).
pub fn cli_with(addr: &str, token: &str, args: &[&str], stdin: Option<&[u8]>, env: &[(&str, &str)]) -> Output {
    let mut child = Command::new(HUSH)
        .args(args)
        .env("HUSH_ADDR", addr)
        .env("HUSH_TOKEN", token)
        .env_remove("HUSH_NAMESPACE")
        .env_remove("HUSH_LOG")
        .env_remove("HUSH_CACERT")
        .env_remove("HUSH_CLIENT_CERT")
        .env_remove("HUSH_CLIENT_KEY")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(bytes) = stdin {
        input.write_all(bytes).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

/// `hush serve --print-config --json ARGS` with these variables added:
/// `{"options": [{"key", "value", "layer", …}], "in_force": {…}}`.
pub fn print_config(args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let out = Command::new(HUSH)
        .args(["serve", "--print-config", "--json"])
        .args(args)
        .env_remove("HUSH_ROOT_KEY")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", show(&out)))
}

/// One option of `print_config`'s answer.
pub fn option<'a>(config: &'a serde_json::Value, key: &str) -> &'a serde_json::Value {
    let options = config["options"].as_array().expect("options");
    options.iter().find(|o| o["key"] == key).unwrap_or_else(|| panic!("no option {key} in {config}"))
}

/// Exit code and both streams, for assertion messages.
pub fn show(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}
