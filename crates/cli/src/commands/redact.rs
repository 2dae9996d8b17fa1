//! `hush redact`: standard input to standard output with secrets masked.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::Path;

use anyhow::Context as _;
use hush_core::SecretBytes;
use hush_redact::Redactor;
use serde_json::Value;

use super::references;
use crate::args::RedactArgs;
use crate::exit_code::usage;

pub(crate) async fn run(args: RedactArgs) -> anyhow::Result<()> {
    if args.secrets_file.is_none() && args.secret_refs.is_empty() {
        return usage("nothing to mask: give --secrets-file FILE and/or --secret-ref REF");
    }
    let mut labels = Vec::new();
    let mut values = Vec::new();
    if let Some(path) = &args.secrets_file {
        for (i, value) in read_secrets_file(path)?.into_iter().enumerate() {
            labels.push(format!("secret {} of {}", i + 1, path.display()));
            values.push(value);
        }
    }
    let mut refs = Vec::new();
    for (i, text) in args.secret_refs.iter().enumerate() {
        let reference = references::parse("--secret-ref", text)?;
        refs.push((format!("--secret-ref {} ({reference})", i + 1), reference));
    }
    if !refs.is_empty() {
        let resolver = references::resolver(&args.ns, &args.conn, refs.iter().map(|(_, r)| r))?;
        values.extend(references::resolve_all(&resolver, &refs).await?);
        labels.extend(refs.into_iter().map(|(label, _)| label));
    }
    let redactor = Redactor::builder()
        .secrets(values.iter().map(SecretBytes::expose_secret))
        .replacement(args.replacement.into_bytes())
        .encodings(!args.no_encodings)
        .build()?;
    drop(values);
    for &i in redactor.ignored() {
        crate::output::warn(&format!("{} is empty or whitespace-only and is not masked", labels[i]));
    }
    // Our own descriptors, unbuffered: output is written as soon as it is safe.
    let stdin = File::from(std::io::stdin().as_fd().try_clone_to_owned().context("standard input")?);
    let stdout = File::from(std::io::stdout().as_fd().try_clone_to_owned().context("standard output")?);
    // Where they are pipes, larger pipe buffers mean fewer, larger reads and
    // writes (64 KiB is Linux's default). Not being allowed is no matter.
    for fd in [stdin.as_fd(), stdout.as_fd()] {
        let _ = rustix::pipe::fcntl_setpipe_size(fd, PIPE_BUFFER);
    }
    tokio::task::spawn_blocking(move || match redactor.copy(stdin, stdout) {
        Ok(_) => Ok(()),
        // The reader went away (`| head`): not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(anyhow::Error::new(e).context("copying standard input to standard output")),
    })
    .await?
}

/// Pipe buffer size asked for: 1 MiB, the default limit for unprivileged users.
const PIPE_BUFFER: usize = 1024 * 1024;

/// A JSON array of strings. Errors name the position, never the content.
fn read_secrets_file(path: &Path) -> anyhow::Result<Vec<SecretBytes>> {
    let bytes = zeroize::Zeroizing::new(std::fs::read(path).with_context(|| format!("reading {}", path.display()))?);
    let parsed: Value = match serde_json::from_slice(&bytes) {
        Ok(v) => v,
        Err(e) => {
            return usage(format!("{}: not valid JSON (line {}, column {})", path.display(), e.line(), e.column()));
        }
    };
    let Value::Array(mut items) = parsed else {
        return usage(format!("{}: expected a JSON array of strings", path.display()));
    };
    let mut secrets = Vec::with_capacity(items.len());
    let mut bad = None;
    for (i, item) in items.iter_mut().enumerate() {
        match item {
            Value::String(s) => secrets.push(SecretBytes::new(std::mem::take(s).into_bytes())),
            _ => bad = bad.or(Some(i + 1)),
        }
    }
    for item in &mut items {
        hush_client::wipe(item);
    }
    if let Some(position) = bad {
        return usage(format!("{}: element {position} is not a string", path.display()));
    }
    Ok(secrets)
}
