//! Container functions, run with podman: the image is pulled (when not
//! present) with the registry credentials hush resolves for the namespace,
//! then run with the input on stdin and the output read from stdout.
//!
//! Credentials reach podman through an auth file in a private temporary
//! directory (0700, the file 0600), removed when the call ends; never on
//! the command line, where other users could read them.
//!
//! `HUSH_PODMAN` names the podman binary (default: `podman` on PATH) and
//! `HUSH_PODMAN_ARGS` adds global options (`--runtime runc`, say).

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;
use zeroize::Zeroizing;

use crate::failure::{Failure, code};
use crate::functions::child::{run, run_json};
use crate::log::LogStream;
use crate::secrets::RegistryLogin;

/// How podman is called.
#[derive(Debug, Clone)]
pub struct Podman {
    /// The binary.
    pub program: PathBuf,
    /// Global options before `run`.
    pub args: Vec<String>,
}

impl Podman {
    /// Podman as the environment configures it, if it is installed.
    pub fn from_env() -> Option<Podman> {
        let name = std::env::var_os("HUSH_PODMAN").unwrap_or_else(|| "podman".into());
        let program = find_program(Path::new(&name))?;
        let args = std::env::var("HUSH_PODMAN_ARGS")
            .map(|a| a.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        Some(Podman { program, args })
    }
}

fn find_program(name: &Path) -> Option<PathBuf> {
    if name.components().count() > 1 {
        return name.is_file().then(|| name.to_owned());
    }
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths).map(|d| d.join(name)).find(|p| p.is_file())
}

/// The auth file podman reads: the login under the image's registry host.
fn auth_file(dir: &Path, image: &str, login: &RegistryLogin) -> Result<PathBuf, Failure> {
    let host = hush_core::RegistryAddress::from_image(image)
        .map(|a| a.host().to_owned())
        .map_err(|e| Failure::new(code::FUNCTION_FAILED, format!("image {image:?}: {e}")))?;
    let mut pair = Zeroizing::new(login.username.clone().into_bytes());
    pair.push(b':');
    pair.extend_from_slice(login.password.expose_secret());
    let auth = Zeroizing::new(STANDARD.encode(&*pair));
    let mut body = Zeroizing::new(Vec::new());
    let doc = serde_json::json!({ "auths": { host: { "auth": auth.as_str() } } });
    let _ = serde_json::to_writer(&mut *body, &doc);
    let mut doc = doc;
    hush_client::wipe(&mut doc);
    let path = dir.join("auth.json");
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
        f.write_all(&body)
    };
    write().map_err(|e| Failure::new(code::FUNCTION_FAILED, format!("cannot write podman's auth file: {e}")))?;
    Ok(path)
}

/// What to run: an image, its command, and the credentials to pull it.
#[derive(Debug)]
pub struct ContainerCall<'a> {
    /// The image reference.
    pub image: &'a str,
    /// A command replacing the image's.
    pub cmd: Option<&'a [String]>,
    /// Credentials for the pull.
    pub login: Option<&'a RegistryLogin>,
}

/// Runs a container as a function.
pub async fn call(
    podman: Option<&Podman>,
    call: ContainerCall<'_>,
    input: &Value,
    dir: &Path,
    (pull_log, stderr_log): (LogStream, LogStream),
    what: &str,
) -> Result<Value, Failure> {
    let ContainerCall { image, cmd, login } = call;
    let Some(podman) = podman else {
        return Err(Failure::new(
            code::FUNCTION_UNAVAILABLE,
            format!(
                "{what} runs the container image {image:?}, which needs podman: it is not installed \
                 (apt-get install podman, or set HUSH_PODMAN to its path)"
            ),
        ));
    };
    let podman_cmd = |args: &[&str]| {
        let mut all = podman.args.clone();
        all.extend(args.iter().map(|a| (*a).to_owned()));
        all
    };
    let present = tokio::process::Command::new(&podman.program)
        .args(podman_cmd(&["image", "exists", "--", image]))
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .await
        .is_ok_and(|s| s.success());
    if !present {
        // The auth file lives only for the pull: it is gone before the
        // function starts.
        let private = private_dir()?;
        let mut pull = podman_cmd(&["pull", "--quiet"]);
        if let Some(login) = login {
            pull.push("--authfile".to_owned());
            pull.push(auth_file(private.path(), image, login)?.to_string_lossy().into_owned());
        }
        pull.push("--".to_owned());
        pull.push(image.to_owned());
        let pulled = run(&podman.program, &pull, dir, b"", pull_log, &format!("pulling {image}")).await;
        drop(private);
        if let Err(f) = pulled {
            return Err(Failure::new(
                code::FUNCTION_FAILED,
                format!("{what}: {} (podman's reason is in the log)", f.message),
            ));
        }
    }
    // Named, so a call that is cancelled (a timeout, a lost `parallel` race)
    // can have its container removed: killing `podman run` alone leaves the
    // container running under conmon.
    let name = container_name();
    let mut args = podman_cmd(&["run", "--rm", "-i", "--pull=never", "--log-driver=none", "--name", &name, "--"]);
    args.push(image.to_owned());
    args.extend(cmd.unwrap_or_default().iter().cloned());
    let mut guard = RemoveOnDrop {
        program: podman.program.clone(),
        args: podman_cmd(&["rm", "-f", "-t", "0", &name]),
        armed: true,
    };
    let result = run_json(&podman.program, &args, dir, input, stderr_log, what).await;
    // Finished (either way): `--rm` has removed it.
    guard.armed = false;
    result
}

/// A name for one call's container.
fn container_name() -> String {
    let mut bytes = [0u8; 8];
    // Only tells containers apart; a failed draw still gives a usable name.
    let _ = getrandom::fill(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("hush-fn-{hex}")
}

/// Removes a container when its call is dropped before it finished.
struct RemoveOnDrop {
    program: PathBuf,
    args: Vec<String>,
    armed: bool,
}

impl Drop for RemoveOnDrop {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        // Not waited for: drop cannot block the runtime. podman stops and
        // removes the container on its own.
        let _ = std::process::Command::new(&self.program)
            .args(&self.args)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn();
    }
}

/// A fresh 0700 directory for the auth file: under `$XDG_RUNTIME_DIR` (a
/// tmpfs, per user) when there is one, else the temporary directory.
fn private_dir() -> Result<tempfile::TempDir, Failure> {
    let mut builder = tempfile::Builder::new();
    builder.prefix("hush-podman-");
    let made = match std::env::var_os("XDG_RUNTIME_DIR").map(PathBuf::from).filter(|d| d.is_dir()) {
        Some(runtime) => builder.tempdir_in(runtime),
        None => builder.tempdir(),
    };
    made.map_err(|e| Failure::new(code::FUNCTION_FAILED, format!("cannot make a private directory: {e}")))
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use hush_core::SecretBytes;

    use super::*;

    #[test]
    fn auth_file_is_private_and_keyed_by_host() {
        let dir = tempfile::tempdir().unwrap();
        let login = RegistryLogin {
            registry: "https://127.0.0.1:5000".into(),
            username: "alice".into(),
            password: SecretBytes::copy_from(b"pw:1"),
        };
        let path = auth_file(dir.path(), "127.0.0.1:5000/fn/echo:v1", &login).unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        let v: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["auths"]["127.0.0.1:5000"]["auth"], STANDARD.encode("alice:pw:1"));
        let hub = auth_file(&dir.path().join("x"), "alpine", &login);
        assert!(hub.is_err(), "the directory does not exist");
        std::fs::create_dir(dir.path().join("h")).unwrap();
        let hub = auth_file(&dir.path().join("h"), "alpine", &login).unwrap();
        let v: Value = serde_json::from_slice(&std::fs::read(hub).unwrap()).unwrap();
        assert!(v["auths"]["docker.io"].is_object(), "{v}");
    }
}
