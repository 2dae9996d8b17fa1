//! Printing: aligned tables for people, JSON for scripts, colour only on a
//! terminal (anstream strips styles otherwise and honours NO_COLOR).

use std::io::Write;

use anstyle::{AnsiColor, Style};
use serde_json::Value;

const HEADER: Style = Style::new().bold();
const WARN: Style = AnsiColor::Yellow.on_default().bold();

/// Shows control characters (newlines, escape sequences) as `\u{..}`, so a
/// field a server or an attacker filled in cannot forge table rows or
/// drive the terminal.
fn printable(cell: &str) -> String {
    if !cell.chars().any(char::is_control) {
        return cell.to_owned();
    }
    cell.chars().map(|c| if c.is_control() { c.escape_unicode().to_string() } else { c.to_string() }).collect()
}

/// Prints rows as aligned columns under a bold header.
pub fn table(headers: &[&str], rows: &[Vec<String>]) {
    let rows: Vec<Vec<String>> = rows.iter().map(|r| r.iter().map(|c| printable(c)).collect()).collect();
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = anstream::stdout().lock();
    let line = |cells: Vec<String>| {
        let last = cells.len().saturating_sub(1);
        cells
            .into_iter()
            .enumerate()
            .map(|(i, c)| if i == last { c } else { format!("{c:<w$}", w = widths[i]) })
            .collect::<Vec<_>>()
            .join("  ")
    };
    let head = line(headers.iter().map(|h| h.to_string()).collect());
    let _ = writeln!(out, "{HEADER}{head}{HEADER:#}");
    for row in &rows {
        let _ = writeln!(out, "{}", line(row.clone()));
    }
}

/// Prints a JSON value, pretty, on stdout.
pub fn json(value: &Value) {
    let mut out = anstream::stdout().lock();
    let _ = writeln!(out, "{}", serde_json::to_string_pretty(value).unwrap_or_default());
}

/// Prints an error on stderr (`error:` in red on a terminal).
pub fn error(message: &dyn std::fmt::Display) {
    let mut err = anstream::stderr().lock();
    let style = anstyle::AnsiColor::Red.on_default().bold();
    let _ = writeln!(err, "{style}error:{style:#} {message}");
}

/// Prints a warning on stderr.
pub fn warn(message: &str) {
    let mut err = anstream::stderr().lock();
    let _ = writeln!(err, "{WARN}warning:{WARN:#} {message}");
}

/// Prints a note for people on stderr (stdout stays clean for scripts).
pub fn note(message: &str) {
    let mut err = anstream::stderr().lock();
    let _ = writeln!(err, "{message}");
}

/// A JSON field as display text ("-" when absent).
pub fn field(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".into(),
        Some(other) => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_shown_not_obeyed() {
        assert_eq!(printable("plain"), "plain");
        assert_eq!(printable("a\nb"), "a\\u{a}b");
        assert_eq!(printable("\u{1b}[31mred"), "\\u{1b}[31mred");
    }
}
