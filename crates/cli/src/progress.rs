//! Progress on standard error for operations that can run for minutes
//! (backup, restore, rewrap, `audit verify`, `audit export`, `audit prune`):
//! a bar with the count, rate and time left when the total is known, a
//! running count with its rate when it is not.
//!
//! Shown only when standard error is a terminal and the caller did not ask
//! for `--json` or `--quiet`: a script piping the output sees nothing of it.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// What is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unit {
    /// Items (events, versions, rows), with a noun such as "events".
    Items(&'static str),
    /// Bytes, shown as KiB/MiB.
    Bytes,
}

/// One operation's progress. Hidden (and every call a no-op) off a terminal.
pub(crate) struct Progress {
    bar: ProgressBar,
    unit: Unit,
}

impl Progress {
    /// Progress of `what` (e.g. "verifying"), with `total` if known.
    /// `quiet` (for `--json`, `--quiet`) hides it as well.
    pub(crate) fn new(what: &str, unit: Unit, total: Option<u64>, quiet: bool) -> Self {
        let shown = !quiet && std::io::stderr().is_terminal();
        let target = if shown { ProgressDrawTarget::stderr_with_hz(10) } else { ProgressDrawTarget::hidden() };
        let bar = ProgressBar::with_draw_target(total, target);
        let progress = Progress { bar, unit };
        progress.restyle(total.is_some());
        progress.bar.set_prefix(what.to_owned());
        if shown {
            progress.bar.enable_steady_tick(Duration::from_millis(200));
        }
        progress
    }

    fn restyle(&self, known_total: bool) {
        let (count, rate) = match self.unit {
            Unit::Items(noun) => (
                if known_total {
                    format!("{{human_pos}}/{{human_len}} {noun}")
                } else {
                    format!("{{human_pos}} {noun}")
                },
                "{per_sec}",
            ),
            Unit::Bytes => {
                (if known_total { "{bytes}/{total_bytes}".to_owned() } else { "{bytes}".to_owned() }, "{bytes_per_sec}")
            }
        };
        let template = if known_total {
            format!("{{prefix}} [{{bar:30}}] {count} ({rate}, {{eta}} left) {{msg}}")
        } else {
            format!("{{spinner}} {{prefix}} {count} ({rate}, {{elapsed}}) {{msg}}")
        };
        // The templates are fixed above: a failure is a bug here, and the
        // default style is still a usable fallback.
        if let Ok(style) = ProgressStyle::with_template(&template) {
            self.bar.set_style(style.progress_chars("#>-"));
        }
    }

    /// The total became known (or changed).
    pub(crate) fn set_total(&self, total: u64) {
        if self.bar.length().is_none() {
            self.restyle(true);
        }
        self.bar.set_length(total);
    }

    /// `n` more to do (totals learnt piece by piece).
    pub(crate) fn grow_total(&self, n: u64) {
        self.set_total(self.bar.length().unwrap_or(0) + n);
    }

    /// Done so far (a count the other side keeps).
    pub(crate) fn set_position(&self, done: u64) {
        self.bar.set_position(done);
    }

    /// `n` more done.
    pub(crate) fn add(&self, n: u64) {
        self.bar.inc(n);
    }

    /// A short note after the counts (e.g. the namespace, the time reached).
    pub(crate) fn note(&self, message: impl Into<String>) {
        self.bar.set_message(message.into());
    }

    /// Done: the bar stays with its final counts.
    pub(crate) fn finish(&self) {
        self.bar.finish();
    }
}

impl Drop for Progress {
    /// An operation that returns early (an error, `?`) leaves no half-drawn line.
    fn drop(&mut self) {
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_progress_counts_without_drawing() {
        let p = Progress::new("testing", Unit::Items("events"), None, true);
        assert!(p.bar.is_hidden());
        p.add(3);
        p.set_total(10);
        p.add(2);
        assert_eq!((p.bar.position(), p.bar.length()), (5, Some(10)));
        p.finish();
        assert!(p.bar.is_finished());
    }
}
