//! dotenv files for `hush run --env-file`: `KEY=VALUE` lines whose values may
//! be references.
//!
//! Why by hand: the dotenv crates quote the offending line in their parse
//! errors (which may hold a value) and substitute `$VARS` from the
//! environment implicitly. This reader reports errors by line number only and
//! substitutes nothing.
//!
//! Accepted: blank lines and `#` comments; an optional `export ` prefix; keys
//! of letters, digits and `_` not starting with a digit; unquoted values
//! (trimmed, ending at ` #`), single-quoted values (literal), double-quoted
//! values (`\n`, `\r`, `\t`, `\"`, `\\` escapes); quoted values may span lines.

use zeroize::Zeroizing;

use crate::reference::{Reference, ReferenceError};

/// One entry's value.
pub enum EnvValue {
    /// A plain value, set as it is (not treated as a secret).
    Literal(Zeroizing<String>),
    /// A reference to resolve.
    Reference(Reference),
}

impl std::fmt::Debug for EnvValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EnvValue::Literal(_) => f.write_str("Literal([REDACTED])"),
            EnvValue::Reference(r) => write!(f, "Reference({r})"),
        }
    }
}

/// Why a dotenv file could not be read; names a line, never its text.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DotenvError {
    /// A line is not `KEY=VALUE`.
    #[error("line {0}: expected KEY=VALUE")]
    NotAnAssignment(usize),
    /// The key is not a valid variable name.
    #[error("line {0}: the key must be letters, digits and _, not starting with a digit")]
    BadKey(usize),
    /// A quoted value has no closing quote.
    #[error("line {0}: the quoted value is not closed")]
    Unclosed(usize),
    /// Something follows the closing quote.
    #[error("line {0}: unexpected text after the closing quote")]
    TrailingText(usize),
    /// The value looks like a reference but is not a valid one.
    #[error("line {line}: {source}")]
    BadReference {
        /// The line.
        line: usize,
        /// What is wrong with it.
        #[source]
        source: ReferenceError,
    },
}

/// Parses a dotenv file's text into `(key, value)` pairs in file order.
pub fn parse(text: &str) -> Result<Vec<(String, EnvValue)>, DotenvError> {
    let mut entries = Vec::new();
    let lines: Vec<&str> = text.split('\n').map(|l| l.strip_suffix('\r').unwrap_or(l)).collect();
    let mut i = 0;
    while i < lines.len() {
        let number = i + 1;
        let line = lines[i].trim_start();
        i += 1;
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let (key, rest) = line.split_once('=').ok_or(DotenvError::NotAnAssignment(number))?;
        let key = key.trim_end();
        if !is_key(key) {
            return Err(DotenvError::BadKey(number));
        }
        let rest = rest.trim_start();
        let value = match rest.chars().next() {
            Some(quote @ ('"' | '\'')) => {
                // The value runs to the matching quote, possibly on a later line.
                let mut raw = Zeroizing::new(rest[1..].to_owned());
                let close = loop {
                    if let Some(at) = closing_quote(&raw, quote) {
                        break at;
                    }
                    if i >= lines.len() {
                        return Err(DotenvError::Unclosed(number));
                    }
                    raw.push('\n');
                    raw.push_str(lines[i]);
                    i += 1;
                };
                let after = raw[close + 1..].trim_start();
                if !(after.is_empty() || after.starts_with('#')) {
                    return Err(DotenvError::TrailingText(number));
                }
                let inner = &raw[..close];
                if quote == '"' { unescape(inner) } else { Zeroizing::new(inner.to_owned()) }
            }
            _ => {
                let end = rest.find(" #").unwrap_or(rest.len());
                Zeroizing::new(rest[..end].trim_end().to_owned())
            }
        };
        let value = if Reference::looks_like_reference(&value) {
            EnvValue::Reference(
                Reference::parse(&value).map_err(|source| DotenvError::BadReference { line: number, source })?,
            )
        } else {
            EnvValue::Literal(value)
        };
        entries.push((key.to_owned(), value));
    }
    Ok(entries)
}

/// Whether `key` can be an environment variable name.
pub fn is_key(key: &str) -> bool {
    !key.is_empty()
        && !key.starts_with(|c: char| c.is_ascii_digit())
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn closing_quote(raw: &str, quote: char) -> Option<usize> {
    let mut escaped = false;
    for (at, c) in raw.char_indices() {
        match c {
            '\\' if quote == '"' && !escaped => escaped = true,
            c if c == quote && !escaped => return Some(at),
            _ => escaped = false,
        }
    }
    None
}

fn unescape(inner: &str) -> Zeroizing<String> {
    let mut out = Zeroizing::new(String::with_capacity(inner.len()));
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('t') => out.push('\t'),
            Some(other) => out.push(other),
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn literal(v: &EnvValue) -> &str {
        match v {
            EnvValue::Literal(s) => s,
            EnvValue::Reference(r) => panic!("expected a literal, got {r}"),
        }
    }

    #[test]
    fn parses_the_common_forms() {
        let text = "# comment\n\nPLAIN=value # note\nexport EXPORTED = spaced \nSINGLE='a $b # c'\n\
                    DOUBLE=\"l1\\nl2 \\\"q\\\"\"\nMULTI=\"first\nsecond\"\r\nEMPTY=\nREF=env://HOME\n";
        let entries = parse(text).unwrap();
        let keys: Vec<&str> = entries.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(keys, ["PLAIN", "EXPORTED", "SINGLE", "DOUBLE", "MULTI", "EMPTY", "REF"]);
        assert_eq!(literal(&entries[0].1), "value");
        assert_eq!(literal(&entries[1].1), "spaced");
        assert_eq!(literal(&entries[2].1), "a $b # c");
        assert_eq!(literal(&entries[3].1), "l1\nl2 \"q\"");
        assert_eq!(literal(&entries[4].1), "first\nsecond");
        assert_eq!(literal(&entries[5].1), "");
        assert!(matches!(&entries[6].1, EnvValue::Reference(r) if r.to_string() == "env://HOME"));
    }

    #[test]
    fn errors_name_the_line_only() {
        let table: &[(&str, &str)] = &[
            ("A=1\nhunter2\n", "line 2: expected KEY=VALUE"),
            ("1BAD=hunter2", "line 1: the key"),
            ("A=\"hunter2\n", "line 1: the quoted value is not closed"),
            ("A='hunter2' x", "line 1: unexpected text"),
            ("\n\nA=vault://hunter2", "line 3: vault:// reference is malformed: name a field"),
            ("A=op://hunter2/x", "line 1: op:// reference is malformed: expected op://VAULT/ITEM/FIELD"),
        ];
        for (text, want) in table {
            let message = parse(text).unwrap_err().to_string();
            assert!(message.starts_with(want), "{text:?}: {message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }
}
