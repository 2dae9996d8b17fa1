//! The `hush` command. `main.rs` calls [`main`]; everything else is here so
//! tests can drive it too.
//!
//! Client commands talk to a server through `hush-client` (`HUSH_ADDR`,
//! `HUSH_TOKEN`); `serve` and `init` open the stores through
//! `hush-service`'s bootstrap and, for `serve`, run `hush-server`.

mod args;
mod commands;
pub mod exit_code;
mod logging;
mod output;
mod value_input;

use std::process::ExitCode;

use clap::Parser;

use crate::args::{Cli, Command, LogFormat};

/// Parses the command line, runs the command, and returns the exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let (default_log, format) = match &cli.command {
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
    match runtime.block_on(run(cli.command)) {
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
        Command::Serve(args) => commands::serve::serve(args).await,
        Command::Init(args) => commands::serve::init(args).await,
        Command::Namespace(cmd) => commands::namespace::run(cmd).await,
        Command::Secret(cmd) => commands::secret::run(cmd).await,
        Command::Token(cmd) => commands::token::run(cmd).await,
        Command::Audit(cmd) => commands::audit::run(cmd).await,
        Command::Redact(args) => commands::redact::run(args).await,
        Command::Run(args) => return commands::run::run(args).await,
        Command::CacheKey(args) => commands::cache_key::run(args).await,
    }?;
    Ok(exit_code::OK)
}
