//! Running a process with secrets injected (`hush run`): as environment
//! variables or as files in a private temporary directory, with its standard
//! output and error scrubbed, SIGINT and SIGTERM forwarded, and its exit
//! status passed back.

use std::ffi::{OsStr, OsString};
use std::fs::File;
use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Stdio};

use hush_core::SecretBytes;
use hush_redact::Redactor;
use tokio::signal::unix::{SignalKind, signal};

/// What to give the child.
#[derive(Debug, Default)]
pub struct Injection {
    /// Variables set to secret values.
    pub env: Vec<(String, SecretBytes)>,
    /// Variables set to the path of a 0600 file holding a secret value.
    pub files: Vec<(String, SecretBytes)>,
    /// Variables set to plain (non-secret) values, e.g. from a dotenv file.
    pub plain_env: Vec<(String, OsString)>,
}

/// Why the child could not be run.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RunError {
    /// No command was given.
    #[error("no command to run (give it after --)")]
    NoCommand,
    /// A value cannot be an environment variable.
    #[error("{0}: the value contains a NUL byte, which an environment variable cannot hold (use --file)")]
    NulInValue(String),
    /// The temporary directory or a file in it could not be made.
    #[error("cannot write the secret file for {var}: {source}")]
    TempFile {
        /// The variable.
        var: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The command could not be started.
    #[error("cannot start {program}: {source}")]
    Spawn {
        /// The program.
        program: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Waiting for the child or installing signal handlers failed.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl RunError {
    /// The exit status a shell would give: 127 for a command not found, 126
    /// for one that cannot be executed.
    pub fn shell_status(&self) -> Option<u8> {
        match self {
            RunError::Spawn { source, .. } if source.kind() == std::io::ErrorKind::NotFound => Some(127),
            RunError::Spawn { source, .. } if source.kind() == std::io::ErrorKind::PermissionDenied => Some(126),
            _ => None,
        }
    }
}

/// Runs `command` with `injection`, scrubbing its output with `redactor`.
/// Returns its exit code (128 + N when a signal N ended it).
pub async fn run(command: &[OsString], injection: Injection, redactor: Redactor) -> Result<i32, RunError> {
    let (program, args) = command.split_first().ok_or(RunError::NoCommand)?;
    // Handlers first: from here on SIGINT and SIGTERM reach the child, not
    // the default action that would end hush and leave its files behind.
    let mut interrupts = signal(SignalKind::interrupt())?;
    let mut terminations = signal(SignalKind::terminate())?;

    let mut child_command = Command::new(program);
    child_command.args(args).stdin(Stdio::inherit()).stdout(Stdio::piped()).stderr(Stdio::piped());
    for (var, value) in &injection.plain_env {
        child_command.env(var, value);
    }
    for (var, value) in &injection.env {
        if value.expose_secret().contains(&0) {
            return Err(RunError::NulInValue(var.clone()));
        }
        child_command.env(var, OsStr::from_bytes(value.expose_secret()));
    }
    // Removed when dropped: after the child ends, or on any error below.
    let file_dir = if injection.files.is_empty() { None } else { Some(write_files(&injection, &mut child_command)?) };

    let mut child = child_command
        .spawn()
        .map_err(|source| RunError::Spawn { program: program.to_string_lossy().into_owned(), source })?;
    let pid = child.id();
    let copiers = [
        child.stdout.take().map(|out| copier(out, std::io::stdout().as_fd().try_clone_to_owned(), &redactor)),
        child.stderr.take().map(|err| copier(err, std::io::stderr().as_fd().try_clone_to_owned(), &redactor)),
    ];
    let mut waiter = tokio::task::spawn_blocking(move || child.wait());
    let status = loop {
        tokio::select! {
            waited = &mut waiter => break waited.map_err(std::io::Error::other)??,
            _ = interrupts.recv() => forward(pid, rustix::process::Signal::INT),
            _ = terminations.recv() => forward(pid, rustix::process::Signal::TERM),
        }
    };
    for copier in copiers.into_iter().flatten() {
        let _ = tokio::task::spawn_blocking(move || copier.join()).await;
    }
    drop(file_dir);
    Ok(status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0)))
}

fn write_files(injection: &Injection, command: &mut Command) -> Result<tempfile::TempDir, RunError> {
    let first_var = injection.files.first().map(|(v, _)| v.clone()).unwrap_or_default();
    let dir = tempfile::Builder::new()
        .prefix("hush-run-")
        .permissions(std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .tempdir()
        .map_err(|source| RunError::TempFile { var: first_var, source })?;
    for (var, value) in &injection.files {
        let path = dir.path().join(var);
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .and_then(|mut f| f.write_all(value.expose_secret()));
        written.map_err(|source| RunError::TempFile { var: var.clone(), source })?;
        command.env(var, &path);
    }
    Ok(dir)
}

/// Copies one of the child's streams to ours, scrubbed, on its own thread
/// (reads block; output must appear as soon as it is safe).
fn copier(
    from: impl std::io::Read + Send + 'static,
    to: std::io::Result<std::os::fd::OwnedFd>,
    redactor: &Redactor,
) -> std::thread::JoinHandle<()> {
    let redactor = redactor.clone();
    std::thread::spawn(move || {
        let Ok(to) = to else { return };
        // Errors writing (say, our reader went away) end the copy; the child
        // then gets EPIPE or SIGPIPE, once the copy's reading thread has
        // returned from its read and closed the pipe (docs/redaction.md).
        if let Err(e) = redactor.copy(from, File::from(to)) {
            tracing::debug!(error = %e, "output copy ended");
        }
    })
}

fn forward(pid: u32, signal: rustix::process::Signal) {
    let Some(pid) = i32::try_from(pid).ok().and_then(rustix::process::Pid::from_raw) else { return };
    if let Err(e) = rustix::process::kill_process(pid, signal) {
        tracing::debug!(error = %e, "forwarding a signal failed (the child may have exited)");
    }
}
