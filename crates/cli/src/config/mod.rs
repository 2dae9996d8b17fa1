//! `hush serve`'s configuration: each option from, in increasing order of
//! precedence, its default, a TOML config file (`--config FILE`,
//! `HUSH_CONFIG`), its environment variable and its flag; and
//! `--print-config`, which shows each value with the layer it came from.
//!
//! clap declares every option once (`args.rs`: name, type, default,
//! variable, help, and whether it is secret). A config file's keys are the
//! long flag names, so every flag is a key with nothing more to write.
//! Other commands parse as they always did.

mod file;
mod layers;
mod mask;
mod print;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches};

pub(crate) use layers::{Effective, Layer, Shown};
pub(crate) use print::print;

use crate::args::{Cli, Command};
use crate::{exit_code, output};

/// Why the command line could not be parsed.
#[derive(Debug)]
pub(crate) enum ParseError {
    /// clap refused it (or was asked for help); with the flags a config file gave, if any.
    Clap(clap::Error, Option<String>),
    /// The config file could not be read, or holds something wrong.
    Config(anyhow::Error),
}

impl ParseError {
    /// Prints the error (or the help) and returns the exit code.
    fn report(self) -> ExitCode {
        match self {
            ParseError::Clap(e, from_file) => {
                let _ = e.print();
                if let (Some(from_file), true) = (from_file, e.use_stderr()) {
                    output::note(&format!("note: the config file gave {from_file}"));
                }
                ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(exit_code::USAGE))
            }
            ParseError::Config(e) => {
                output::error(&format_args!("{e:#}"));
                exit_code::for_error(&e)
            }
        }
    }
}

/// Parses this process's command line, with a config file's values layered
/// in for `hush serve`; on failure, prints why and gives the exit code.
pub(crate) fn parse_command_line() -> Result<Cli, ExitCode> {
    parse_from(std::env::args_os().collect()).map_err(ParseError::report)
}

/// Parses `argv` (program name first).
pub(crate) fn parse_from(argv: Vec<OsString>) -> Result<Cli, ParseError> {
    // A first look, forgiving errors: is it `serve`, with which config file,
    // and which options did the flags and variables already give? (A flag
    // whose partner is in the file, such as --tls-key, is not yet an error.)
    let peek = Cli::command().ignore_errors(true).try_get_matches_from(&argv).ok();
    let peek = peek.as_ref().and_then(|m| m.subcommand_matches("serve"));
    let config_path = peek.and_then(|m| m.try_get_one::<PathBuf>("config").ok().flatten()).cloned();
    let mut command = Cli::command();
    command.build();
    let serve = command.find_subcommand("serve").expect("hush has a serve command");
    let (argv, file) = match (config_path, peek) {
        (Some(path), Some(peek)) => {
            let file = file::ConfigFile::read(&path).map_err(ParseError::Config)?;
            let flags = layers::file_flags(serve, &file, |id| peek.value_source(id))
                .map_err(|e| ParseError::Config(e.into()))?;
            warn_if_others_can_read(&path, &layers::secret_keys(serve, &file));
            ([argv, flags.args].concat(), Some(flags.layer))
        }
        _ => (argv, None),
    };
    let matches = Cli::command()
        .try_get_matches_from(&argv)
        .map_err(|e| ParseError::Clap(e, file.as_ref().map(layers::FileLayer::describe)))?;
    let mut cli = Cli::from_arg_matches(&matches).map_err(|e| ParseError::Clap(e, None))?;
    if let (Command::Serve(args), Some(matches)) = (&mut cli.command, matches.subcommand_matches("serve")) {
        args.effective = Effective::new(serve, matches, file.as_ref());
    }
    Ok(cli)
}

/// Warns when a config file that holds a secret (a database URL with its
/// password) is readable by other users.
fn warn_if_others_can_read(path: &Path, secret_keys: &[String]) {
    use std::os::unix::fs::PermissionsExt;
    let Some(key) = secret_keys.first() else { return };
    let Ok(meta) = std::fs::metadata(path) else { return };
    if meta.permissions().mode() & 0o077 != 0 {
        output::warn(&format!(
            "the config file {} sets `{key}` and other users can read it: chmod 600 it",
            path.display()
        ));
    }
}

#[cfg(test)]
mod tests;
