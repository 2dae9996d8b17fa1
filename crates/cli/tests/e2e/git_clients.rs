//! Real git clones and pushes over authenticated HTTP with credentials only
//! from `git-credential-hush`, against `git http-backend` behind Basic auth.
//! hush itself serves over TLS here, as it would off this machine.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::components::{git_server, helper_bin, path_with, require, run_ok};
use crate::harness::{Hush, contains, show};

const USER: &str = "bob";
const TOKEN: &str = "ghp_t0k:en$%*";

/// A bare repository `root/repo.git` with one commit.
fn seed(dir: &Path) -> PathBuf {
    let root = dir.join("root");
    let bare = root.join("repo.git");
    run_ok(Command::new("git").args(["init", "-q", "--bare", "-b", "main"]).arg(&bare));
    let seed = dir.join("seed");
    run_ok(Command::new("git").args(["init", "-q", "-b", "main"]).arg(&seed));
    std::fs::write(seed.join("README"), "hello from a private repository\n").unwrap();
    let git = |args: &[&str]| {
        run_ok(Command::new("git").arg("-C").arg(&seed).args(["-c", "user.name=t", "-c", "user.email=t@t"]).args(args))
    };
    git(&["add", "README"]);
    git(&["commit", "-q", "-m", "first"]);
    git(&["push", "-q", bare.to_str().unwrap(), "main"]);
    root
}

/// git with a private global config naming only our helper, no prompts.
struct Git<'a> {
    h: &'a Hush,
    bin: PathBuf,
    config: PathBuf,
    home: PathBuf,
}

impl Git<'_> {
    fn configure(&self, helper: &str, use_http_path: bool) {
        std::fs::write(
            &self.config,
            format!(
                "[user]\n\tname = t\n\temail = t@t\n[credential]\n\thelper = {helper}\n\tuseHttpPath = {use_http_path}\n"
            ),
        )
        .unwrap();
    }

    fn run(&self, cwd: &Path, args: &[&str]) -> Output {
        Command::new("git")
            .current_dir(cwd)
            .args(args)
            .env("PATH", path_with(&self.bin))
            .env("HOME", &self.home)
            .env("GIT_CONFIG_GLOBAL", &self.config)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "")
            .env("SSH_ASKPASS", "")
            .env("HUSH_ADDR", &self.h.addr)
            .env("HUSH_TOKEN", &self.h.token)
            .envs(self.h.client_env.iter().map(|(k, v)| (k, v)))
            .env_remove("HUSH_NAMESPACE")
            .env_remove("HUSH_HELPER_WRITABLE")
            .output()
            .unwrap()
    }
}

fn git_secret(h: &Hush, name: &str, token: &str, url: Option<&str>) {
    let mut args = vec!["secret", "create", name, "--type", "git", "--username", USER, "--token-stdin"];
    if let Some(u) = url {
        args.extend(["--url", u]);
    }
    let out = h.cli_stdin(&args, token.as_bytes());
    assert_eq!(out.status.code(), Some(0), "{}", show(&out));
}

#[test]
fn git_clones_and_pushes_with_credentials_only_from_the_helper() {
    if !require("git_clones_and_pushes", &["git", "python3"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let root = seed(dir.path());
    let server = git_server(dir.path(), &root, USER, TOKEN);
    let pki = crate::pki::Pki::new();
    let mut h = Hush::init();
    h.start_tls(&pki, &pki.server("hush"), &[]);
    let home = dir.path().join("home");
    std::fs::create_dir_all(&home).unwrap();
    let git = Git { h: &h, bin: helper_bin(dir.path()), config: dir.path().join("gitconfig"), home };
    let base = format!("http://{}/", server.addr);
    let remote = format!("http://{}/repo.git", server.addr);
    git_secret(&h, "gh-clone", TOKEN, Some(&base));
    git.configure("hush", false);

    // Clone, commit, push.
    let out = git.run(dir.path(), &["clone", "-q", &remote, "work"]);
    assert!(out.status.success(), "clone: {}", show(&out));
    let work = dir.path().join("work");
    assert_eq!(std::fs::read_to_string(work.join("README")).unwrap(), "hello from a private repository\n");
    std::fs::write(work.join("CHANGE"), "pushed through hush\n").unwrap();
    run_ok(Command::new("git").arg("-C").arg(&work).args([
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "add",
        "CHANGE",
    ]));
    run_ok(Command::new("git").arg("-C").arg(&work).args([
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "commit",
        "-q",
        "-m",
        "second",
    ]));
    let out = git.run(&work, &["push", "-q", "origin", "main"]);
    assert!(out.status.success(), "push: {}", show(&out));
    let log = run_ok(Command::new("git").arg("--git-dir").arg(root.join("repo.git")).args(["log", "--format=%s"]));
    assert_eq!(log, "second\nfirst\n");
    // Nothing was written to git's own configuration or a credential store.
    let config = std::fs::read_to_string(&git.config).unwrap();
    assert!(!config.contains(TOKEN), "{config}");
    assert!(!git.home.join(".git-credentials").exists());

    // A pinned secret (no url needed): credential.helper = hush --secret NAME.
    git_secret(&h, "pinned", TOKEN, None);
    git.configure("hush --secret pinned", false);
    let out = git.run(dir.path(), &["clone", "-q", &remote, "pinned-work"]);
    assert!(out.status.success(), "pinned clone: {}", show(&out));

    // The longest url prefix wins when git sends the path.
    git_secret(&h, "gh-clone", "wrong-forge-token", Some(&base));
    git_secret(&h, "repo-token", TOKEN, Some(&remote));
    git.configure("hush", true);
    let out = git.run(dir.path(), &["clone", "-q", &remote, "by-path"]);
    assert!(out.status.success(), "clone by path: {}", show(&out));
    // Without the path, only host-wide secrets match: the forge's wrong token.
    git.configure("hush", false);
    let out = git.run(dir.path(), &["clone", "-q", &remote, "rejected"]);
    assert!(!out.status.success(), "{}", show(&out));
    assert!(!contains(&out.stderr, b"wrong-forge-token") && !contains(&out.stderr, TOKEN.as_bytes()), "{}", show(&out));
    let server_log = std::fs::read_to_string(dir.path().join("git-server.log")).unwrap();
    assert!(server_log.contains("auth rejected"), "git never presented the stored token:\n{server_log}");

    // git called erase for the rejected password: the stored secret is intact.
    let got = h.cli(&["secret", "get", "gh-clone", "--json"]);
    let got: serde_json::Value = serde_json::from_slice(&got.stdout).unwrap();
    assert_eq!((got["version"].as_u64(), got["token"].as_str()), (Some(2), Some("wrong-forge-token")));
    let audit = String::from_utf8_lossy(&h.cli(&["audit", "list", "--json", "--limit", "200"]).stdout).into_owned();
    assert!(audit.contains("git.credential") && !audit.contains(TOKEN), "{audit}");
}
