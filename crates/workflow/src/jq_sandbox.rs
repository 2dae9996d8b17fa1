//! jq evaluation in a separate, limited process.
//!
//! jaq has no way to interrupt an evaluation or bound its memory: `def f: f;
//! f` runs forever, `[range(1e12)]` grows until memory runs out, and
//! `def f: 1 + f; f` overflows the stack, which aborts the whole process.
//! So `hush workflow run` evaluates expressions in worker processes (the
//! same binary, started as `hush __jq-worker`), each with an address-space
//! limit; a worker that does not answer within the time limit is killed,
//! one that dies is replaced, and either way the expression fails with a
//! clear message instead of taking the runner down.
//!
//! Workers are kept and reused (a pool, one per concurrent evaluation), so
//! an instance pays for a process start once, not per expression. Requests
//! and answers are one JSON line each over the worker's stdin and stdout;
//! both may hold secret values (an action's input sees `.secrets`), so the
//! buffers are wiped, and the worker makes itself non-dumpable like the
//! runner. Without an installed sandbox (library tests), [`crate::jq::Jq`]
//! evaluates in process.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::sync::{Mutex, OnceLock, PoisonError};
use std::time::Duration;

use serde_json::{Value, json};
use zeroize::Zeroizing;

use crate::jq::{Jq, JqError};

/// The limits every evaluation runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock time one expression may take.
    pub time: Duration,
    /// Address space of a worker process, in bytes.
    pub memory_bytes: u64,
    /// Largest output, as JSON text, in bytes.
    pub output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { time: Duration::from_secs(1), memory_bytes: 1 << 30, output_bytes: 16 << 20 }
    }
}

/// Starts and reuses worker processes.
#[derive(Debug)]
pub struct Sandbox {
    program: PathBuf,
    args: Vec<String>,
    limits: Limits,
    idle: Mutex<Vec<Worker>>,
}

#[derive(Debug)]
struct Worker {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<Zeroizing<String>>,
}

static INSTALLED: OnceLock<Sandbox> = OnceLock::new();

/// Makes every [`Jq::run`] of this process go through `sandbox`. Once per
/// process; a second call is ignored.
pub fn install(sandbox: Sandbox) {
    let _ = INSTALLED.set(sandbox);
}

/// The installed sandbox, if any.
pub(crate) fn installed() -> Option<&'static Sandbox> {
    INSTALLED.get()
}

impl Sandbox {
    /// Workers are `program ARGS…`, which must run [`serve_worker`].
    pub fn new(program: PathBuf, args: Vec<String>, limits: Limits) -> Sandbox {
        Sandbox { program, args, limits, idle: Mutex::new(Vec::new()) }
    }

    /// Evaluates `source` against `input` in a worker.
    pub fn run(&self, source: &str, input: &Value) -> Result<Value, JqError> {
        let taken = self.idle.lock().unwrap_or_else(PoisonError::into_inner).pop();
        let mut worker = match taken {
            Some(w) => w,
            None => self.spawn()?,
        };
        let request = Zeroizing::new(json!({ "source": source, "input": input }).to_string());
        let sent = worker.stdin.write_all(request.as_bytes()).and_then(|()| worker.stdin.write_all(b"\n"));
        if sent.is_err() {
            return Err(self.crashed(worker));
        }
        match worker.lines.recv_timeout(self.limits.time) {
            Ok(line) => {
                let answer = serde_json::from_str::<Value>(&line);
                self.idle.lock().unwrap_or_else(PoisonError::into_inner).push(worker);
                match answer {
                    Ok(Value::Object(mut map)) => match (map.remove("ok"), map.remove("err")) {
                        (Some(value), None) => Ok(value),
                        (None, Some(Value::String(message))) => Err(JqError(message)),
                        _ => Err(JqError("the jq worker answered nonsense".to_owned())),
                    },
                    _ => Err(JqError("the jq worker answered nonsense".to_owned())),
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                stop(worker);
                Err(JqError(format!(
                    "the expression took longer than {} and was stopped",
                    humantime::format_duration(self.limits.time)
                )))
            }
            Err(RecvTimeoutError::Disconnected) => Err(self.crashed(worker)),
        }
    }

    fn crashed(&self, worker: Worker) -> JqError {
        stop(worker);
        JqError(format!(
            "the expression ended its evaluator: it recursed too deep or needed more than {} MiB",
            self.limits.memory_bytes >> 20
        ))
    }

    fn spawn(&self) -> Result<Worker, JqError> {
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| JqError(format!("cannot start a jq worker: {e}")))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(JqError("cannot start a jq worker: no pipes".to_owned()));
        };
        let (tx, lines) = std::sync::mpsc::channel();
        // One reader thread per worker: it ends when the worker's stdout closes.
        std::thread::Builder::new()
            .name("jq-worker-reader".into())
            .spawn(move || {
                let mut reader = BufReader::new(stdout);
                loop {
                    let mut line = Zeroizing::new(String::new());
                    match reader.read_line(&mut line) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => {
                            if tx.send(line).is_err() {
                                break;
                            }
                        }
                    }
                }
            })
            .map_err(|e| JqError(format!("cannot start a jq worker: {e}")))?;
        Ok(Worker { child, stdin, lines })
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for worker in self.idle.get_mut().unwrap_or_else(PoisonError::into_inner).drain(..) {
            stop(worker);
        }
    }
}

fn stop(mut worker: Worker) {
    let _ = worker.child.kill();
    let _ = worker.child.wait();
}

/// The worker's side: limits itself, then answers one JSON line per
/// request line on stdin until stdin closes. Compiled expressions are
/// kept, so a `foreach` compiles each once.
pub fn serve_worker(limits: Limits) -> std::io::Result<()> {
    let _ = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable);
    let limit = rustix::process::Rlimit { current: Some(limits.memory_bytes), maximum: Some(limits.memory_bytes) };
    rustix::process::setrlimit(rustix::process::Resource::As, limit)?;
    let stdin = std::io::stdin().lock();
    let mut stdout = std::io::stdout().lock();
    let mut compiled: HashMap<String, Jq> = HashMap::new();
    for line in stdin.lines() {
        let line = Zeroizing::new(line?);
        let answer = match serde_json::from_str::<Value>(&line) {
            Ok(Value::Object(mut request)) => {
                let source = request.remove("source").and_then(|s| s.as_str().map(str::to_owned)).unwrap_or_default();
                let mut input = request.remove("input").unwrap_or(Value::Null);
                let result = match compiled.get(&source) {
                    Some(jq) => jq.run_here(&input),
                    None => Jq::compile(&source).and_then(|jq| {
                        let out = jq.run_here(&input);
                        compiled.insert(source, jq);
                        out
                    }),
                };
                hush_client::wipe(&mut input);
                match result {
                    Ok(mut value) => {
                        let text = Zeroizing::new(json!({ "ok": &value }).to_string());
                        hush_client::wipe(&mut value);
                        if text.len() > limits.output_bytes {
                            let message = format!("the output is over {} MiB", limits.output_bytes >> 20);
                            Zeroizing::new(json!({ "err": message }).to_string())
                        } else {
                            text
                        }
                    }
                    Err(JqError(message)) => Zeroizing::new(json!({ "err": message }).to_string()),
                }
            }
            _ => Zeroizing::new(json!({ "err": "the jq worker got a request it cannot read" }).to_string()),
        };
        stdout.write_all(answer.as_bytes())?;
        stdout.write_all(b"\n")?;
        stdout.flush()?;
    }
    Ok(())
}
