//! Reading a `--config` file: TOML, one key per option, each with the line
//! it is on. What the keys mean is not known here (`layers.rs` matches them
//! to `hush serve`'s flags); this only turns TOML values into the text a
//! flag would be given, or says which TOML type a value has.
//!
//! Errors name the file, a line and a key, never a value or the text of a
//! line: the file may hold a database password.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use toml::de::{DeTable, DeValue};

use crate::exit_code::UsageError;

/// A config file larger than this is refused (a path to something else, such as a device).
const MAX_FILE_BYTES: u64 = 1024 * 1024;

/// A config file, read and parsed.
#[derive(Debug)]
pub(crate) struct ConfigFile {
    /// The path as given.
    pub path: PathBuf,
    /// Its keys, in the order of the file.
    pub entries: Vec<Entry>,
}

/// One `key = value` line.
pub(crate) struct Entry {
    /// The key as written.
    pub key: String,
    /// 1-based line of the key.
    pub line: usize,
    /// The value, as flag text.
    pub value: FileValue,
}

impl std::fmt::Debug for Entry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The value may be a database URL with its password.
        f.debug_struct("Entry").field("key", &self.key).field("line", &self.line).finish_non_exhaustive()
    }
}

/// A TOML value as what a flag could be given.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum FileValue {
    /// `true` or `false`.
    Bool(bool),
    /// A string, or an integer in decimal.
    Text(String),
    /// An array of strings or integers.
    List(Vec<String>),
    /// A TOML type no flag takes (float, date-time, table, or an array of those); its name.
    Other(&'static str),
}

impl std::fmt::Debug for FileValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Its type only: the value may be a secret.
        write!(f, "FileValue({})", self.type_name())
    }
}

impl FileValue {
    /// The TOML type's name, for messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            FileValue::Bool(_) => "a boolean",
            FileValue::Text(_) => "a string",
            FileValue::List(_) => "an array",
            FileValue::Other(name) => name,
        }
    }
}

impl ConfigFile {
    /// Reads and parses `path`. A file that cannot be read is an error
    /// (exit 1); one that is not TOML a usage error (exit 2).
    pub fn read(path: &Path) -> anyhow::Result<ConfigFile> {
        let shown = path.display();
        let file = std::fs::File::open(path).with_context(|| format!("cannot read the config file {shown}"))?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .with_context(|| format!("cannot read the config file {shown}"))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(UsageError(format!("{shown}: a config file is at most 1 MiB")).into());
        }
        let Ok(text) = String::from_utf8(bytes) else {
            return Err(UsageError(format!("{shown}: not UTF-8 text")).into());
        };
        let entries = parse(&text).map_err(|e| UsageError(format!("{shown}:{e}")))?;
        Ok(ConfigFile { path: path.to_owned(), entries })
    }
}

/// The entries of a TOML document; an error reads `LINE:COLUMN: message`.
pub(crate) fn parse(text: &str) -> Result<Vec<Entry>, String> {
    let table = DeTable::parse(text).map_err(|e| {
        // The error's Display quotes the offending line, which may hold a
        // password: give its position and description only.
        let (line, column) = e.span().map_or((1, 1), |s| line_and_column(text, s.start));
        format!("{line}:{column}: not valid TOML: {}", e.message().trim_end())
    })?;
    let mut entries: Vec<Entry> = table
        .get_ref()
        .iter()
        .map(|(key, value)| Entry {
            key: key.get_ref().to_string(),
            line: line_and_column(text, key.span().start).0,
            value: file_value(value.get_ref()),
        })
        .collect();
    entries.sort_by_key(|e| e.line);
    Ok(entries)
}

fn file_value(value: &DeValue<'_>) -> FileValue {
    let scalar = |value: &DeValue<'_>| match value {
        DeValue::String(s) => Some(s.to_string()),
        DeValue::Integer(i) => i128::from_str_radix(i.as_str(), i.radix()).ok().map(|n| n.to_string()),
        _ => None,
    };
    match value {
        DeValue::Boolean(b) => FileValue::Bool(*b),
        DeValue::String(_) | DeValue::Integer(_) => {
            scalar(value).map_or(FileValue::Other("a huge integer"), FileValue::Text)
        }
        DeValue::Array(items) => items
            .iter()
            .map(|item| scalar(item.get_ref()))
            .collect::<Option<Vec<_>>>()
            .map_or(FileValue::Other("an array of other than strings and integers"), FileValue::List),
        DeValue::Float(_) => FileValue::Other("a float"),
        DeValue::Datetime(_) => FileValue::Other("a date-time"),
        DeValue::Table(_) => FileValue::Other("a table"),
    }
}

/// 1-based line and column (in characters) of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or("").chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(text: &str) -> Vec<(String, usize, FileValue)> {
        parse(text).unwrap().into_iter().map(|e| (e.key, e.line, e.value)).collect()
    }

    #[test]
    fn values_become_flag_text_with_their_lines() {
        let text = "# hush\nlisten = \"0.0.0.0:8270\"\n\nmax-connections = 1_000\nhex = 0x10\n\
                    insecure-no-tls = true\ntrusted-proxy = [\"10.0.0.0/8\", \"fd00::/8\"]\nports = [1, 2]\n";
        let text_value = |s: &str| FileValue::Text(s.to_owned());
        assert_eq!(
            values(text),
            vec![
                ("listen".into(), 2, text_value("0.0.0.0:8270")),
                ("max-connections".into(), 4, text_value("1000")),
                ("hex".into(), 5, text_value("16")),
                ("insecure-no-tls".into(), 6, FileValue::Bool(true)),
                ("trusted-proxy".into(), 7, FileValue::List(vec!["10.0.0.0/8".into(), "fd00::/8".into()])),
                ("ports".into(), 8, FileValue::List(vec!["1".into(), "2".into()])),
            ]
        );
    }

    #[test]
    fn types_no_flag_takes_are_named() {
        for (text, name) in [
            ("a = 1.5", "a float"),
            ("a = 2026-01-01", "a date-time"),
            ("[a]\nb = 1", "a table"),
            ("a.b = 1", "a table"),
            ("a = { b = 1 }", "a table"),
            ("a = [1.5]", "an array of other than strings and integers"),
            ("a = [[\"x\"]]", "an array of other than strings and integers"),
        ] {
            let entries = parse(text).unwrap();
            assert_eq!(entries[0].value.type_name(), name, "{text}");
        }
    }

    #[test]
    fn invalid_toml_names_the_position_and_never_the_line() {
        for (text, position) in [
            ("listen = \"127.0.0.1:8270\"\ndatabase-url = postgres://u:hunter2@db/x\n", "2:16:"),
            ("a = 1\na = 2\n", "2:1:"),
            ("key-dir = \"unterminated\n", "1:24:"),
        ] {
            let e = parse(text).map(|_| ()).unwrap_err();
            assert!(e.starts_with(position), "{text:?}: {e}");
            assert!(e.contains("not valid TOML"), "{e}");
            assert!(!e.contains("hunter2") && !e.contains("postgres"), "{e}");
        }
    }

    #[test]
    fn unreadable_and_oversized_files_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.toml");
        let e = ConfigFile::read(&missing).unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_none(), "an unreadable file is not a usage error");
        assert!(format!("{e:#}").contains("missing.toml"), "{e:#}");
        let big = dir.path().join("big.toml");
        std::fs::write(&big, vec![b'#'; MAX_FILE_BYTES as usize + 1]).unwrap();
        let e = ConfigFile::read(&big).unwrap_err();
        assert!(e.downcast_ref::<UsageError>().is_some(), "{e:#}");
        let binary = dir.path().join("binary.toml");
        std::fs::write(&binary, [0xff, 0xfe]).unwrap();
        assert!(format!("{:#}", ConfigFile::read(&binary).unwrap_err()).contains("not UTF-8"));
    }
}
