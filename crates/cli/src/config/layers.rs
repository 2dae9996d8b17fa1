//! The layers of `hush serve`'s options: defaults < config file <
//! environment < flags.
//!
//! clap already layers defaults < environment < flags. A file's value is
//! handed to clap as a flag when neither that flag nor its variable was
//! given, so clap's own parsers and checks (ranges, possible values,
//! `requires`) judge it exactly as they judge the flag; this module
//! remembers which flags came from the file, and at which line, so that
//! `--print-config` can say so.
//!
//! Nothing is declared twice: the keys, their types and which are secret
//! come from clap's `Command` (long name, whether the flag takes a value or
//! several, `hide_env_values`).

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::path::PathBuf;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::parser::ValueSource;
use clap::{Arg, ArgMatches, Command};

use super::file::{ConfigFile, FileValue};
use super::mask;

/// Options that say what to do with the configuration rather than being
/// part of it: not keys of a config file, not shown by `--print-config`
/// (`config` is shown, but is not a key).
const NOT_KEYS: [&str; 4] = ["config", "print-config", "json", "help"];
const NOT_SHOWN: [&str; 3] = ["print-config", "json", "help"];

/// Where an option's value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Layer {
    /// Its default (or no value, when it has none).
    Default,
    /// A config file, at this line.
    File { path: PathBuf, line: usize },
    /// This environment variable.
    Env(String),
    /// Its flag on the command line.
    Flag,
}

impl Layer {
    /// `default`, `file`, `env` or `flag`.
    pub fn name(&self) -> &'static str {
        match self {
            Layer::Default => "default",
            Layer::File { .. } => "file",
            Layer::Env(_) => "env",
            Layer::Flag => "flag",
        }
    }
}

impl std::fmt::Display for Layer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Layer::File { path, line } => write!(f, "file {}:{line}", path.display()),
            Layer::Env(var) => write!(f, "env {var}"),
            other => f.write_str(other.name()),
        }
    }
}

/// The keys of a config file that took effect (not overridden by a flag
/// or a variable): by argument id, the key and its line.
#[derive(Debug, Default)]
pub(crate) struct FileLayer {
    path: PathBuf,
    keys: HashMap<String, (String, usize)>,
}

impl FileLayer {
    /// `key (FILE:LINE), …`, in the order of the file.
    pub fn describe(&self) -> String {
        let mut keys: Vec<&(String, usize)> = self.keys.values().collect();
        keys.sort_by_key(|(_, line)| *line);
        let path = self.path.display();
        keys.iter().map(|(key, line)| format!("{key} ({path}:{line})")).collect::<Vec<_>>().join(", ")
    }
}

/// The keys of `file` whose values are secret.
pub(crate) fn secret_keys(serve: &Command, file: &ConfigFile) -> Vec<String> {
    file.entries.iter().filter(|e| key_arg(serve, &e.key).is_some_and(mask::is_secret)).map(|e| e.key.clone()).collect()
}

/// How a config file's keys become flags. No `Debug`: the flags may hold a
/// database password.
pub(crate) struct FileFlags {
    /// To append to the command line.
    pub args: Vec<OsString>,
    /// What they were, for `--print-config`.
    pub layer: FileLayer,
}

/// Checks every key of `file` against `serve` (built), and returns the flags
/// that give clap the values whose flag and variable were not given
/// (`given(id)` says where clap found a value without the file). Every
/// problem of the file is reported, one per line, as a usage error.
pub(crate) fn file_flags(
    serve: &Command,
    file: &ConfigFile,
    given: impl Fn(&str) -> Option<ValueSource>,
) -> Result<FileFlags, crate::exit_code::UsageError> {
    let mut args = Vec::new();
    let mut keys = HashMap::new();
    let mut problems = Vec::new();
    for entry in &file.entries {
        let at = format!("{}:{}", file.path.display(), entry.line);
        let Some(arg) = key_arg(serve, &entry.key) else {
            problems.push(format!("{at}: {}", unknown_key(serve, &entry.key)));
            continue;
        };
        let flag_values = match flag_values(serve, arg, &entry.key, &entry.value) {
            Ok(values) => values,
            Err(problem) => {
                problems.push(format!("{at}: {problem}"));
                continue;
            }
        };
        let id = arg.get_id().as_str();
        if matches!(given(id), Some(ValueSource::CommandLine | ValueSource::EnvVariable)) {
            continue;
        }
        keys.insert(id.to_owned(), (entry.key.clone(), entry.line));
        match flag_values {
            FlagValues::Switch(on) => args.extend(on.then(|| OsString::from(format!("--{}", entry.key)))),
            FlagValues::Values(values) => {
                args.extend(values.into_iter().map(|v| OsString::from(format!("--{}={v}", entry.key))));
            }
        }
    }
    if !problems.is_empty() {
        return Err(crate::exit_code::UsageError(problems.join("\n")));
    }
    Ok(FileFlags { args, layer: FileLayer { path: file.path.clone(), keys } })
}

/// The argument a config key sets.
fn key_arg<'a>(serve: &'a Command, key: &str) -> Option<&'a Arg> {
    serve.get_arguments().find(|a| a.get_long() == Some(key) && !NOT_KEYS.contains(&key))
}

/// "unknown key", with the key it probably meant: `tls_cert` or
/// `HUSH_TLS_CERT` for `tls-cert`, `trusted-proxies` for `trusted-proxy`.
fn unknown_key(serve: &Command, key: &str) -> String {
    if NOT_KEYS.contains(&key) {
        return format!("`{key}` cannot be set in a config file");
    }
    let as_flag = key.to_ascii_lowercase().replace('_', "-");
    let as_env = format!("HUSH_{}", key.to_ascii_uppercase().replace('-', "_"));
    let meant = serve.get_arguments().filter(|a| !NOT_KEYS.contains(&a.get_long().unwrap_or("help"))).find(|a| {
        a.get_long() == Some(as_flag.as_str())
            || a.get_env().is_some_and(|env| env == OsStr::new(&as_env) || env == OsStr::new(key))
    });
    match meant.and_then(Arg::get_long) {
        Some(long) => format!("unknown key `{key}` (did you mean `{long}`?)"),
        None => format!("unknown key `{key}`: the keys are hush serve's long flag names (hush serve --help)"),
    }
}

/// What one key gives clap.
enum FlagValues {
    /// A flag without a value: given or not.
    Switch(bool),
    /// Values for `--key=VALUE`, once each.
    Values(Vec<String>),
}

/// The key's value as what its flag takes, each value checked by the flag's
/// own parser. The message names the key; a secret's value is never shown.
fn flag_values(serve: &Command, arg: &Arg, key: &str, value: &FileValue) -> Result<FlagValues, String> {
    let repeatable = matches!(arg.get_action(), clap::ArgAction::Append);
    let values = match value {
        FileValue::Bool(on) if !arg.get_action().takes_values() => return Ok(FlagValues::Switch(*on)),
        _ if !arg.get_action().takes_values() => {
            return Err(format!("`{key}` must be true or false, not {}", value.type_name()));
        }
        FileValue::Text(text) => vec![text.clone()],
        FileValue::List(items) if repeatable => items.clone(),
        FileValue::List(_) => return Err(format!("`{key}` takes one value, not an array")),
        FileValue::Bool(_) | FileValue::Other(_) if repeatable => {
            return Err(format!("`{key}` must be a string or an array of strings, not {}", value.type_name()));
        }
        FileValue::Bool(_) | FileValue::Other(_) => {
            return Err(format!("`{key}` must be a string or an integer, not {}", value.type_name()));
        }
    };
    for value in &values {
        // A variable's list is split at the delimiter by clap; so is the file's.
        let parts: Vec<&str> = match arg.get_value_delimiter() {
            Some(d) => value.split(d).collect(),
            None => vec![value],
        };
        for part in parts {
            if let Err(e) = check_value(serve, arg, part) {
                return Err(if mask::is_secret(arg) {
                    format!("`{key}`: its value is not valid (not shown: it is secret)")
                } else {
                    format!("`{key}`: {}", clap_message(&e))
                });
            }
        }
    }
    Ok(FlagValues::Values(values))
}

/// Whether the flag of `arg` takes `value`: clap parses `serve --LONG=VALUE`
/// (its value parsers are not public on their own). Only a refusal of this
/// very value counts; other errors of that parse (a `requires` partner
/// missing) are the command line's to report.
fn check_value(serve: &Command, arg: &Arg, value: &str) -> Result<(), clap::Error> {
    let long = arg.get_long().unwrap_or_default();
    let argv = [OsString::from(serve.get_name()), OsString::from(format!("--{long}={value}"))];
    match serve.clone().try_get_matches_from(argv) {
        Err(e) if matches!(e.kind(), ErrorKind::ValueValidation | ErrorKind::InvalidValue) => {
            let this_arg = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(flag)) => flag.split(['=', ' ']).next() == Some(&format!("--{long}")),
                _ => false,
            };
            if this_arg { Err(e) } else { Ok(()) }
        }
        _ => Ok(()),
    }
}

/// clap's message for an error, without its `error: ` prefix and its tips.
fn clap_message(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let text = text.split("\n\n").next().unwrap_or_default().trim();
    text.strip_prefix("error: ").unwrap_or(text).to_owned()
}

/// Every option of `hush serve`, its value (secrets masked) and its layer.
#[derive(Debug, Clone, Default)]
pub(crate) struct Effective {
    /// In the order of `hush serve --help`.
    pub settings: Vec<Setting>,
}

/// One option. Derives `Debug`: a secret's value is masked before it gets here.
#[derive(Debug, Clone)]
pub(crate) struct Setting {
    /// The long flag name, which is also its config key.
    pub key: String,
    pub value: Shown,
    pub layer: Layer,
}

/// An option's value as shown, secrets masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Shown {
    /// No value and no default.
    Unset,
    /// A flag without a value.
    Switch(bool),
    /// One value.
    One(String),
    /// A repeatable option's values.
    Many(Vec<String>),
}

impl Effective {
    /// The options of `serve` (built) in `matches`, their layers told apart
    /// with `file` (what a config file gave as flags).
    pub fn new(serve: &Command, matches: &ArgMatches, file: Option<&FileLayer>) -> Effective {
        let settings = serve
            .get_arguments()
            .filter_map(|arg| Some((arg, arg.get_long()?)))
            .filter(|(_, long)| !NOT_SHOWN.contains(long))
            .map(|(arg, long)| {
                let id = arg.get_id().as_str();
                let from_file = file.and_then(|f| Some(Layer::File { path: f.path.clone(), line: f.keys.get(id)?.1 }));
                let layer = match matches.value_source(id) {
                    Some(ValueSource::EnvVariable) => {
                        Layer::Env(arg.get_env().map(|e| e.to_string_lossy().into_owned()).unwrap_or_default())
                    }
                    Some(ValueSource::CommandLine) => from_file.unwrap_or(Layer::Flag),
                    // A `false` in the file gives clap nothing: it is the default, set by the file.
                    _ => from_file.unwrap_or(Layer::Default),
                };
                Setting { key: long.to_owned(), value: shown(arg, matches), layer }
            })
            .collect();
        Effective { settings }
    }
}

/// The value of `arg` in `matches`, masked if it is secret.
fn shown(arg: &Arg, matches: &ArgMatches) -> Shown {
    let id = arg.get_id().as_str();
    if !arg.get_action().takes_values() {
        // Through its parser: a variable may say `yes` or `1`.
        return Shown::Switch(matches.try_get_one::<bool>(id).ok().flatten().copied().unwrap_or(false));
    }
    let raw: Vec<String> = matches
        .get_raw(id)
        .map(|values| values.map(|v| v.to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    let secret = mask::is_secret(arg);
    let show = |v: &String| if secret { mask::masked(v) } else { v.clone() };
    match raw.as_slice() {
        [] => Shown::Unset,
        [one] if !matches!(arg.get_action(), clap::ArgAction::Append) => Shown::One(show(one)),
        many => Shown::Many(many.iter().map(show).collect()),
    }
}
