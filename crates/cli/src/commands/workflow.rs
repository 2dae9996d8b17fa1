//! `hush workflow run|check`: Direktiv-style workflow files, run against a
//! namespace through the server (crates/workflow does the work).

use std::collections::BTreeSet;
use std::io::Read;
use std::sync::Arc;

use anyhow::Context;
use hush_workflow::functions::container::Podman;
use hush_workflow::jq_sandbox::{Limits as JqLimits, Sandbox};
use hush_workflow::{Level, Log, LogFormat, Runner, SecretSet, SecretSource, ServerSource};
use serde_json::{Value, json};

use crate::args::{self, WorkflowCheckArgs, WorkflowCommand, WorkflowRunArgs};
use crate::commands::client;
use crate::exit_code::{self, usage};
use crate::output;

/// Runs a `workflow` subcommand; returns the exit code.
pub(crate) async fn run(cmd: WorkflowCommand) -> anyhow::Result<u8> {
    match cmd {
        WorkflowCommand::Run(args) => run_workflow(args).await,
        WorkflowCommand::Check(args) => check(args).await,
    }
}

/// The instance input from `--input`: JSON text, `@FILE` or `@-`.
fn read_input(arg: Option<&str>) -> anyhow::Result<Value> {
    let Some(arg) = arg else { return Ok(json!({})) };
    let (text, source) = match arg.strip_prefix('@') {
        Some("-") => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("cannot read --input from stdin")?;
            (text, "stdin".to_owned())
        }
        Some(path) => (
            std::fs::read_to_string(path).with_context(|| format!("cannot read --input file {path}"))?,
            path.to_owned(),
        ),
        None => (arg.to_owned(), "--input".to_owned()),
    };
    match serde_json::from_str(&text) {
        Ok(v) => Ok(v),
        Err(e) => usage(format!("the input ({source}) is not JSON: {e}")),
    }
}

fn load(path: &std::path::Path) -> anyhow::Result<Arc<hush_workflow::Workflow>> {
    match hush_workflow::load(path) {
        Ok(w) => Ok(w),
        Err(e) => usage(format!("the workflow is not valid:\n{e}")),
    }
}

async fn run_workflow(args: WorkflowRunArgs) -> anyhow::Result<u8> {
    let workflow = load(&args.file)?;
    let input = read_input(args.input.as_deref())?;
    let format = match args.log_format {
        args::LogFormat::Text => LogFormat::Text,
        args::LogFormat::Json => LogFormat::Json,
    };
    let level = if args.quiet { Level::Warn } else { Level::Info };
    // Functions run as this user; a non-dumpable process keeps them (unless
    // root) from reading this one's memory and /proc/PID/environ, where the token is.
    if let Err(e) = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable) {
        output::warn(&format!("cannot protect this process from its functions (prctl): {e}"));
    }
    // jq runs in limited worker processes (this binary, as JQ_WORKER).
    let limits = JqLimits { time: args.jq_timeout, memory_bytes: args.jq_memory as u64, ..JqLimits::default() };
    let program = std::env::current_exe().context("cannot find this program to start jq workers")?;
    let worker_args = vec![JQ_WORKER.to_owned(), limits.memory_bytes.to_string(), limits.output_bytes.to_string()];
    hush_workflow::jq_sandbox::install(Sandbox::new(program, worker_args, limits));
    let secrets = SecretSet::default();
    if let Some(token) = &args.conn.auth_token {
        // The runner's own token is masked wherever it might be printed.
        let _ = secrets.add([&hush_core::SecretBytes::copy_from(token.as_bytes())]);
    }
    let log = Log::new(Box::new(std::io::stderr()), format, level, secrets);
    let source = Arc::new(ServerSource::new(client(&args.conn)?, &args.ns.namespace));
    let runner = Runner::new(source, log.clone(), Podman::from_env())
        .map_err(|f| anyhow::anyhow!("{f}"))?
        .with_max_parallel(usize::from(args.max_parallel))
        .with_max_states(args.max_states as usize);
    match runner.run(&workflow, input, args.strict).await {
        Ok(outcome) => {
            output::json(&outcome.output);
            Ok(exit_code::OK)
        }
        Err(failure) => {
            log.failure(&failure);
            Ok(exit_code::ERROR)
        }
    }
}

async fn check(args: WorkflowCheckArgs) -> anyhow::Result<u8> {
    let mut problems = Vec::new();
    let mut files = Vec::new();
    for path in &args.files {
        match hush_workflow::load(path) {
            Ok(w) => {
                for file in w.files() {
                    if !files.iter().any(|f: &Arc<hush_workflow::Workflow>| f.path == file.path) {
                        files.push(file);
                    }
                }
            }
            Err(e) => problems.push(e.to_string()),
        }
    }
    if !problems.is_empty() {
        return usage(format!("not valid:\n{}", problems.join("\n")));
    }
    let source = ServerSource::new(client(&args.conn)?, &args.ns.namespace);
    let wanted: BTreeSet<&str> = files.iter().flat_map(|f| f.secrets()).collect();
    let mut missing = Vec::new();
    for name in &wanted {
        if !source.exists(name).await.map_err(|e| anyhow::anyhow!("{e}"))? {
            missing.push(*name);
        }
    }
    if args.json {
        let files: Vec<Value> = files
            .iter()
            .map(|f| json!({"path": f.path.display().to_string(), "workflow": f.id, "secrets": f.secrets()}))
            .collect();
        output::json(&json!({"namespace": args.ns.namespace, "files": files, "missing": missing}));
    } else {
        let rows: Vec<Vec<String>> = files
            .iter()
            .map(|f| {
                let names: Vec<String> = f
                    .secrets()
                    .into_iter()
                    .map(|n| if missing.contains(&n) { format!("{n} (missing)") } else { n.to_owned() })
                    .collect();
                vec![
                    f.path.display().to_string(),
                    f.id.clone(),
                    if names.is_empty() { "-".into() } else { names.join(", ") },
                ]
            })
            .collect();
        output::table(&["FILE", "WORKFLOW", "SECRETS"], &rows);
    }
    if missing.is_empty() {
        return Ok(exit_code::OK);
    }
    output::error(&format_args!(
        "{} secret{} missing in namespace {:?}: {}",
        missing.len(),
        if missing.len() == 1 { " is" } else { "s are" },
        args.ns.namespace,
        missing.join(", ")
    ));
    Ok(exit_code::NOT_FOUND)
}

/// The hidden first argument that makes this binary a jq worker.
pub const JQ_WORKER: &str = "__jq-worker";

/// `hush __jq-worker MEMORY_BYTES OUTPUT_BYTES`: evaluates jq for `hush
/// workflow run` (see `hush_workflow::jq_sandbox`) until its stdin closes.
pub fn jq_worker() -> std::process::ExitCode {
    let number = |i: usize| std::env::args().nth(i).and_then(|a| a.parse::<u64>().ok());
    let defaults = JqLimits::default();
    let limits = JqLimits {
        memory_bytes: number(2).unwrap_or(defaults.memory_bytes),
        output_bytes: number(3).and_then(|n| usize::try_from(n).ok()).unwrap_or(defaults.output_bytes),
        ..defaults
    };
    match hush_workflow::jq_sandbox::serve_worker(limits) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(_) => std::process::ExitCode::from(exit_code::ERROR),
    }
}
