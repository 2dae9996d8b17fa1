//! Where secret values come from: a flag (warned about), stdin, a file, or a
//! hidden prompt on a terminal. Values read from stdin or a file are kept
//! byte for byte; a password or token read from stdin loses one trailing
//! newline, as `docker login --password-stdin` does.

use std::io::{IsTerminal, Read};
use std::path::Path;

use anyhow::Context;
use hush_core::SecretBytes;
use zeroize::Zeroizing;

use crate::exit_code::usage;
use crate::output;

/// Warns that a value given as a flag can be seen by other local users.
pub fn warn_flag(flag: &str, instead: &str) {
    output::warn(&format!(
        "a value given with {flag} can be seen by other local users (process list, shell history); prefer {instead}"
    ));
}

/// All of stdin, exactly.
pub fn stdin_bytes() -> anyhow::Result<SecretBytes> {
    let mut buf = Zeroizing::new(Vec::new());
    std::io::stdin().lock().read_to_end(&mut buf).context("cannot read stdin")?;
    Ok(SecretBytes::copy_from(&buf))
}

/// A line-like secret from stdin: one trailing newline (LF or CRLF) dropped.
pub fn stdin_line() -> anyhow::Result<SecretBytes> {
    let bytes = stdin_bytes()?;
    let b = bytes.expose_secret();
    let trimmed = b.strip_suffix(b"\n").map(|b| b.strip_suffix(b"\r").unwrap_or(b)).unwrap_or(b);
    Ok(SecretBytes::copy_from(trimmed))
}

/// A file's contents, exactly.
pub fn file_bytes(path: &Path) -> anyhow::Result<SecretBytes> {
    let bytes = Zeroizing::new(std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?);
    Ok(SecretBytes::copy_from(&bytes))
}

/// Asks on the terminal without echo, if stdin is a terminal.
pub fn prompt(label: &str, alternatives: &str) -> anyhow::Result<SecretBytes> {
    if !std::io::stdin().is_terminal() {
        return usage(format!("no {label} given: use {alternatives}"));
    }
    let text =
        Zeroizing::new(rpassword::prompt_password(format!("{label}: ")).context("cannot read from the terminal")?);
    Ok(SecretBytes::copy_from(text.as_bytes()))
}

/// Text from secret bytes, or a usage error naming the field.
pub fn utf8(bytes: &SecretBytes, what: &str) -> anyhow::Result<String> {
    match std::str::from_utf8(bytes.expose_secret()) {
        Ok(t) => Ok(t.to_owned()),
        Err(_) => usage(format!("the {what} is not valid UTF-8")),
    }
}
