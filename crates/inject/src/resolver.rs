//! Turning references into values: reading the environment or a file,
//! running a command, or asking the hush server, Vault/OpenBao or 1Password.

use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::path::PathBuf;
use std::process::Stdio;

use hush_client::{Client, ClientError};
use hush_core::SecretBytes;
use zeroize::Zeroizing;

use crate::reference::{Reference, Source};

/// The largest value a `file://` or `cmd://` reference may produce.
pub const MAX_VALUE_BYTES: usize = 16 * 1024 * 1024;

/// Why a reference could not be resolved. Messages name the reference as
/// [`Reference`]'s `Display` shows it, and never a value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ResolveError {
    /// `env://NAME` names a variable that is not set.
    #[error("{0}: the environment variable is not set")]
    EnvNotSet(String),
    /// `file://PATH` could not be read.
    #[error("{reference}: cannot read the file: {kind}")]
    File {
        /// The reference, as shown in messages.
        reference: String,
        /// What went wrong (the I/O error's kind, without the path again).
        kind: std::io::ErrorKind,
    },
    /// `~` was used but `HOME` is not set.
    #[error("{0}: cannot expand ~ because HOME is not set")]
    NoHome(String),
    /// `cmd://` could not start `sh`.
    #[error("{0}: cannot run sh: {1}")]
    CommandSpawn(String, std::io::ErrorKind),
    /// `cmd://` exited unsuccessfully.
    #[error("{reference}: the command failed ({status})")]
    CommandFailed {
        /// The reference, as shown in messages.
        reference: String,
        /// Its exit status.
        status: std::process::ExitStatus,
    },
    /// The value is larger than [`MAX_VALUE_BYTES`].
    #[error("{0}: the value is larger than {MAX_VALUE_BYTES} bytes")]
    TooLarge(String),
    /// `hush://` was used without a server connection.
    #[error("{0}: no hush server to ask (set HUSH_TOKEN, and HUSH_ADDR if not the default)")]
    NoServer(String),
    /// The server refused or failed.
    #[error("{reference}: {source}")]
    Server {
        /// The reference, as shown in messages.
        reference: String,
        /// The client's error.
        #[source]
        source: Box<ClientError>,
    },
    /// Vault or OpenBao refused, failed, or is not configured.
    #[error("{reference}: {reason}")]
    Vault {
        /// The reference, as shown in messages.
        reference: String,
        /// What went wrong.
        reason: String,
    },
    /// 1Password (Connect or the `op` CLI) refused, failed, or is not configured.
    #[error("{reference}: {reason}")]
    OnePassword {
        /// The reference, as shown in messages.
        reference: String,
        /// What went wrong.
        reason: String,
    },
    /// The secret has no such field.
    #[error("{reference}: the secret has no field {field:?} (it has: {available})")]
    NoField {
        /// The reference, as shown in messages.
        reference: String,
        /// The field asked for.
        field: String,
        /// The fields it has.
        available: String,
    },
}

impl ResolveError {
    /// The HTTP status, when the server answered with an error.
    pub fn status(&self) -> Option<u16> {
        match self {
            ResolveError::Server { source, .. } => source.status(),
            _ => None,
        }
    }
}

/// Resolves references. `hush://` needs a [`Client`].
#[derive(Debug, Clone)]
pub struct Resolver {
    client: Option<Client>,
    namespace: String,
}

impl Resolver {
    /// A resolver whose `hush://NAME` references (without a namespace) look
    /// in `namespace`.
    pub fn new(namespace: impl Into<String>, client: Option<Client>) -> Resolver {
        Resolver { client, namespace: namespace.into() }
    }

    /// The value `reference` stands for.
    pub async fn resolve(&self, reference: &Reference) -> Result<SecretBytes, ResolveError> {
        match &reference.source {
            Source::Env(name) => match std::env::var_os(name) {
                Some(value) => Ok(SecretBytes::new(value.into_vec())),
                None => Err(ResolveError::EnvNotSet(reference.to_string())),
            },
            Source::File(path) => read_file(reference, &expand_home(reference, path)?),
            Source::Command(command) => run_command(reference, command).await,
            Source::Vault { mount, path, field } => {
                crate::vault::read(&reference.to_string(), mount.as_deref(), path, field).await
            }
            Source::OnePassword { vault, item, section, field } => {
                crate::onepassword::read(&reference.to_string(), vault, item, section.as_deref(), field).await
            }
            Source::Hush { namespace, name, field } => {
                let client = self.client.as_ref().ok_or_else(|| ResolveError::NoServer(reference.to_string()))?;
                let namespace = namespace.as_deref().unwrap_or(&self.namespace);
                let revealed = client.get_secret(namespace, name, None).await.map_err(|source| {
                    ResolveError::Server { reference: reference.to_string(), source: Box::new(source) }
                })?;
                let field = field.clone().unwrap_or_else(|| default_field(revealed.secret_type()).to_owned());
                match revealed.field(&field) {
                    Some(value) => Ok(SecretBytes::copy_from(value.expose_secret())),
                    None => Err(ResolveError::NoField {
                        reference: reference.to_string(),
                        field,
                        available: revealed.fields.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", "),
                    }),
                }
            }
        }
    }
}

/// The field a `hush://` reference without `#field` means: the credential
/// part of each type.
fn default_field(secret_type: &str) -> &'static str {
    match secret_type {
        "git" => "token",
        "registry" => "password",
        _ => "value",
    }
}

fn expand_home(reference: &Reference, path: &str) -> Result<PathBuf, ResolveError> {
    let rest = match path.strip_prefix('~') {
        Some(rest) if rest.is_empty() || rest.starts_with('/') => rest,
        _ => return Ok(PathBuf::from(path)),
    };
    let home = std::env::var_os("HOME").ok_or_else(|| ResolveError::NoHome(reference.to_string()))?;
    let mut expanded = PathBuf::from(home);
    expanded.push(rest.trim_start_matches('/'));
    Ok(expanded)
}

fn read_file(reference: &Reference, path: &PathBuf) -> Result<SecretBytes, ResolveError> {
    let file_error = |e: std::io::Error| ResolveError::File { reference: reference.to_string(), kind: e.kind() };
    let file = std::fs::File::open(path).map_err(file_error)?;
    let mut value = Zeroizing::new(Vec::new());
    file.take(MAX_VALUE_BYTES as u64 + 1).read_to_end(&mut value).map_err(file_error)?;
    if value.len() > MAX_VALUE_BYTES {
        return Err(ResolveError::TooLarge(reference.to_string()));
    }
    Ok(SecretBytes::copy_from(&value))
}

/// Runs `sh -c COMMAND`; its standard output, less one trailing newline, is
/// the value. Its standard error goes to ours (it may prompt or explain).
async fn run_command(reference: &Reference, command: &str) -> Result<SecretBytes, ResolveError> {
    let mut child = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(command)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| ResolveError::CommandSpawn(reference.to_string(), e.kind()))?;
    let mut stdout = child.stdout.take().expect("stdout is piped");
    let mut value = Zeroizing::new(Vec::new());
    let read = {
        use tokio::io::AsyncReadExt;
        (&mut stdout).take(MAX_VALUE_BYTES as u64 + 1).read_to_end(&mut value).await
    };
    drop(stdout);
    let status = child.wait().await.map_err(|e| ResolveError::CommandSpawn(reference.to_string(), e.kind()))?;
    if value.len() > MAX_VALUE_BYTES {
        return Err(ResolveError::TooLarge(reference.to_string()));
    }
    read.map_err(|e| ResolveError::CommandSpawn(reference.to_string(), e.kind()))?;
    if !status.success() {
        return Err(ResolveError::CommandFailed { reference: reference.to_string(), status });
    }
    if value.last() == Some(&b'\n') {
        value.pop();
    }
    Ok(SecretBytes::copy_from(&value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolver() -> Resolver {
        Resolver::new("default", None)
    }

    async fn resolve(text: &str) -> Result<Vec<u8>, ResolveError> {
        resolver().resolve(&Reference::parse(text).unwrap()).await.map(|v| v.expose_secret().to_vec())
    }

    #[tokio::test]
    async fn env_file_and_cmd_resolve() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token");
        std::fs::write(&path, b"file-value\n").unwrap();
        assert_eq!(resolve(&format!("file://{}", path.display())).await.unwrap(), b"file-value\n");
        assert_eq!(resolve("cmd://printf 'a b\\n\\n'").await.unwrap(), b"a b\n");
        assert_eq!(resolve("cmd://printf abc").await.unwrap(), b"abc");
        assert_eq!(resolve("env://PATH").await.unwrap(), std::env::var("PATH").unwrap().as_bytes());
    }

    #[tokio::test]
    async fn failures_name_the_reference_not_the_value() {
        let e = resolve("env://HUSH_TEST_SURELY_UNSET_VARIABLE").await.unwrap_err();
        assert_eq!(e.to_string(), "env://HUSH_TEST_SURELY_UNSET_VARIABLE: the environment variable is not set");
        let e = resolve("file:///nonexistent/hush/file").await.unwrap_err();
        assert!(e.to_string().contains("file:///nonexistent/hush/file: cannot read the file"), "{e}");
        let e = resolve("cmd://echo hunter2; exit 3").await.unwrap_err();
        assert!(e.to_string().starts_with("cmd://echo …: the command failed"), "{e}");
        assert!(!e.to_string().contains("hunter2"));
        let e = resolve("hush://db").await.unwrap_err();
        assert!(matches!(e, ResolveError::NoServer(_)), "{e}");
    }

    #[test]
    fn tilde_expands_to_home() {
        let r = Reference::parse("file://~/x").unwrap();
        let home = std::env::var("HOME").unwrap();
        assert_eq!(expand_home(&r, "~/x").unwrap(), PathBuf::from(home).join("x"));
        assert_eq!(expand_home(&r, "~user/x").unwrap(), PathBuf::from("~user/x"));
        assert_eq!(expand_home(&r, "/abs").unwrap(), PathBuf::from("/abs"));
    }
}
