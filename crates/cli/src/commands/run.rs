//! `hush run`: resolve references, then run a command with them injected and
//! its output scrubbed.

use std::ffi::OsString;

use anyhow::Context as _;
use hush_core::SecretBytes;
use hush_inject::dotenv::{self, EnvValue};
use hush_inject::process::{self, Injection};
use hush_redact::Redactor;

use super::references;
use crate::args::RunArgs;
use crate::exit_code::usage;

/// Where a resolved value goes.
enum Target {
    Env(String),
    File(String),
}

/// Runs the command; returns its exit code.
pub(crate) async fn run(args: RunArgs) -> anyhow::Result<u8> {
    // One target per reference, in the same order.
    let mut targets: Vec<Target> = Vec::new();
    let mut labeled: Vec<(String, hush_inject::Reference)> = Vec::new();
    let mut plain_env: Vec<(String, OsString)> = Vec::new();
    for path in &args.env_files {
        let text = zeroize::Zeroizing::new(
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?,
        );
        let entries = match dotenv::parse(&text) {
            Ok(entries) => entries,
            Err(e) => return usage(format!("{}: {e}", path.display())),
        };
        for (var, value) in entries {
            match value {
                EnvValue::Literal(v) => plain_env.push((var, OsString::from(v.as_str()))),
                EnvValue::Reference(r) => {
                    labeled.push((format!("{} {var}", path.display()), r));
                    targets.push(Target::Env(var));
                }
            }
        }
    }
    for (flag, items, file) in [("--env", &args.env, false), ("--file", &args.files, true)] {
        for text in items {
            let (var, reference) = references::assignment(flag, text)?;
            let reference = references::parse(&format!("{flag} {var}"), reference)?;
            labeled.push((format!("{flag} {var}"), reference));
            targets.push(if file { Target::File(var.to_owned()) } else { Target::Env(var.to_owned()) });
        }
    }

    let resolver = references::resolver(&args.ns, &args.conn, labeled.iter().map(|(_, r)| r))?;
    let values = references::resolve_all(&resolver, &labeled).await?;

    // The child inherits our environment, HUSH_TOKEN included: mask it too.
    let token = args.conn.auth_token.as_deref().unwrap_or_default().as_bytes();
    let redactor = Redactor::builder().secrets(values.iter().map(SecretBytes::expose_secret)).secret(token).build()?;
    // (The token, added last, is ignored when unset: no warning for it.)
    for &i in redactor.ignored().iter().filter(|&&i| i < labeled.len()) {
        crate::output::warn(&format!("{} is empty or whitespace-only and is not masked", labeled[i].0));
    }
    let mut injection = Injection { plain_env, ..Injection::default() };
    for (target, value) in targets.into_iter().zip(values) {
        match target {
            Target::Env(var) => injection.env.push((var, value)),
            Target::File(var) => injection.files.push((var, value)),
        }
    }
    match process::run(&args.command, injection, redactor).await {
        Ok(code) => Ok(u8::try_from(code).unwrap_or(u8::MAX)),
        Err(e) => match e.shell_status() {
            Some(status) => {
                crate::output::error(&e);
                Ok(status)
            }
            None => Err(e.into()),
        },
    }
}
