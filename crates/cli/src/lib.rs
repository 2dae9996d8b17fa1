//! The `hush` command. `main.rs` calls [`main`]; everything else is here so
//! tests can drive it too.
//!
//! Client commands talk to a server through `hush-client` (`HUSH_ADDR`,
//! `HUSH_TOKEN`); `serve` and `init` open the stores through
//! `hush-service`'s bootstrap and, for `serve`, run `hush-server`.

mod args;
mod commands;
mod config;
pub mod exit_code;
mod helpers;
mod interrupt;
mod logging;
mod output;
mod partial_file;
mod private_file;
mod progress;
mod value_input;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Command, LogFormat};

/// Parses the command line, runs the command, and returns the exit code.
/// Started as `docker-credential-hush` or `git-credential-hush` (links to
/// this binary), it is that credential helper.
pub fn main() -> ExitCode {
    if std::env::args_os().nth(1).is_some_and(|a| a == commands::workflow::JQ_WORKER) {
        return commands::workflow::jq_worker();
    }
    let argv0 = std::env::args_os().next().unwrap_or_default();
    let started_as = std::path::Path::new(&argv0).file_name().and_then(|n| n.to_str()).unwrap_or("").to_owned();
    let command = match started_as.as_str() {
        "docker-credential-hush" => {
            let args = args::DockerHelperCli::parse();
            Command::CredentialHelper(args::HelperCommand::Docker { operation: args.operation })
        }
        "git-credential-hush" => {
            let args = args::GitHelperCli::parse();
            Command::CredentialHelper(args::HelperCommand::Git { secret: args.secret, operation: args.operation })
        }
        _ => match config::parse_command_line() {
            Ok(cli) => cli.command,
            Err(code) => return code,
        },
    };
    let (default_log, format) = match &command {
        Command::Serve(a) => ("info", a.log_format),
        Command::Init(_) => ("info", LogFormat::Text),
        _ => ("warn", LogFormat::Text),
    };
    logging::init(default_log, format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(exit_code::ERROR);
        }
    };
    match runtime.block_on(run(command)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            output::error(&format_args!("{e:#}"));
            exit_code::for_error(&e)
        }
    }
}

/// Runs a command; returns the exit code (0, or the child's for `hush run`).
async fn run(command: Command) -> anyhow::Result<u8> {
    match command {
        Command::Serve(args) => commands::serve::serve(*args).await,
        Command::Init(args) => commands::serve::init(args).await,
        Command::Namespace(cmd) => commands::namespace::run(cmd).await,
        Command::Secret(cmd) => commands::secret::run(cmd).await,
        Command::Token(cmd) => commands::token::run(cmd).await,
        Command::Audit(cmd) => commands::audit::run(cmd).await,
        Command::Auth(cmd) => commands::auth::run(cmd).await,
        Command::Login(args) => commands::auth::login(args).await,
        Command::Redact(args) => commands::redact::run(args).await,
        Command::Run(args) => return commands::run::run(args).await,
        Command::CacheKey(args) => commands::cache_key::run(args).await,
        Command::Registry(cmd) => return commands::registry::run(cmd).await,
        Command::CredentialHelper(cmd) => match cmd {
            args::HelperCommand::Docker { operation } => return Ok(helpers::docker::run(&operation).await),
            args::HelperCommand::Git { secret, operation } => {
                return Ok(helpers::git::run(secret.as_deref(), &operation).await);
            }
            args::HelperCommand::Install { dir, force } => helpers::install::install(dir, force),
        },
        Command::Workflow(cmd) => return commands::workflow::run(cmd).await,
        Command::Admin(cmd) => commands::admin::run(cmd).await,
        Command::Tls(cmd) => commands::tls::run(cmd).await,
        Command::Health(args) => commands::health::run(args).await,
    }?;
    Ok(exit_code::OK)
}
