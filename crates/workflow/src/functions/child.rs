//! Running a child process with the JSON stdin/stdout protocol: the input
//! written to stdin, stdout read as the output (at most
//! [`MAX_OUTPUT_BYTES`]), stderr logged line by line through the scrubber.
//!
//! The child gets the runner's environment without any `HUSH_*` variable,
//! so a function never holds the runner's token.

use std::path::Path;
use std::process::Stdio;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::process::Command;
use zeroize::Zeroizing;

use crate::failure::{Failure, code};
use crate::log::LogStream;

/// Largest output read from a function's stdout.
pub const MAX_OUTPUT_BYTES: usize = 16 << 20;

/// `program` as a function: spawned in `dir`, fed `input` as JSON, its
/// stdout parsed. `what` names the function in messages.
pub async fn run_json(
    program: &Path,
    args: &[String],
    dir: &Path,
    input: &Value,
    stderr_log: LogStream,
    what: &str,
) -> Result<Value, Failure> {
    let body = Zeroizing::new(serde_json::to_vec(input).unwrap_or_default());
    let out = run(program, args, dir, &body, stderr_log, what).await?;
    parse_output(&out, what)
}

/// Runs `program`, writing `stdin` to it and logging its stderr; its
/// stdout, if it succeeded.
pub async fn run(
    program: &Path,
    args: &[String],
    dir: &Path,
    stdin_bytes: &[u8],
    mut stderr_log: LogStream,
    what: &str,
) -> Result<Zeroizing<Vec<u8>>, Failure> {
    // A relative path with a directory in it is the workflow's, not the caller's.
    let program =
        if program.is_relative() && program.components().count() > 1 { dir.join(program) } else { program.to_owned() };
    let mut cmd = Command::new(&program);
    cmd.args(args).current_dir(dir).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    cmd.kill_on_drop(true);
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("HUSH_") {
            cmd.env_remove(key);
        }
    }
    let mut child = cmd
        .spawn()
        .map_err(|e| Failure::new(code::FUNCTION_FAILED, format!("{what}: cannot start {}: {e}", program.display())))?;
    let mut stdin = child.stdin.take();
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();

    let feed = async {
        if let Some(mut pipe) = stdin.take() {
            // A function that does not read its input closes the pipe early; that is its business.
            let _ = pipe.write_all(stdin_bytes).await;
            let _ = pipe.shutdown().await;
        }
    };
    let read_out = async {
        let mut out = Zeroizing::new(Vec::new());
        let mut too_long = false;
        if let Some(pipe) = stdout.as_mut() {
            let mut buf = [0u8; 8192];
            loop {
                match pipe.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) if too_long || out.len() + n > MAX_OUTPUT_BYTES => too_long = true,
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                }
            }
        }
        (out, too_long)
    };
    let read_err = async {
        if let Some(pipe) = stderr.as_mut() {
            let mut buf = [0u8; 8192];
            loop {
                match pipe.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => stderr_log.write(&buf[..n]),
                }
            }
        }
        stderr_log
    };
    let ((), (out, too_long), stderr_log) = tokio::join!(feed, read_out, read_err);
    stderr_log.finish();
    let status = child
        .wait()
        .await
        .map_err(|e| Failure::new(code::FUNCTION_FAILED, format!("{what}: cannot wait for it: {e}")))?;
    if !status.success() {
        let how = match status.code() {
            Some(c) => format!("exited with status {c}"),
            None => "was killed by a signal".to_owned(),
        };
        return Err(Failure::new(code::FUNCTION_FAILED, format!("{what} {how} (its stderr is in the log)")));
    }
    if too_long {
        return Err(Failure::new(code::FUNCTION_OUTPUT, format!("{what} printed more than {MAX_OUTPUT_BYTES} bytes")));
    }
    Ok(out)
}

/// A function's stdout as JSON: empty output is `null`.
pub fn parse_output(out: &[u8], what: &str) -> Result<Value, Failure> {
    if out.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(out).map_err(|e| {
        Failure::new(
            code::FUNCTION_OUTPUT,
            format!("{what} printed {} bytes that are not JSON ({e}); functions print their output as JSON", out.len()),
        )
    })
}
