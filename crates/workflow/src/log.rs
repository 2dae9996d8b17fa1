//! The instance log: every line an instance writes (state progress,
//! function stderr, errors, subflows' lines) goes through the instance
//! tree's [`SecretSet`] before it is written, as text or as JSON lines.
//!
//! Function output streams are scrubbed as streams ([`LogStream`]), so a
//! value split across reads is still masked, then cut into lines.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::SystemTime;

use hush_redact::Scrubber;
use serde_json::json;

use crate::failure::Failure;
use crate::secrets::SecretSet;

/// Longest line kept whole; longer output is cut into lines this long.
pub const MAX_LINE_BYTES: usize = 16 * 1024;

/// How lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// `TIME LEVEL workflow[state] message`.
    Text,
    /// One JSON object per line.
    Json,
}

/// A line's level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    /// Details.
    Debug,
    /// Progress.
    Info,
    /// Something the user should look at.
    Warn,
    /// A failure.
    Error,
}

impl Level {
    fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

struct Sink {
    out: Mutex<Box<dyn Write + Send>>,
    format: LogFormat,
    min_level: Level,
    secrets: SecretSet,
}

/// A log for one instance; subflows get their own labels over the same sink.
#[derive(Clone)]
pub struct Log {
    sink: Arc<Sink>,
    workflow: String,
    instance: String,
}

impl std::fmt::Debug for Log {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Log").field("workflow", &self.workflow).field("instance", &self.instance).finish()
    }
}

impl Log {
    /// A log writing to `out`, scrubbed with `secrets`.
    pub fn new(out: Box<dyn Write + Send>, format: LogFormat, min_level: Level, secrets: SecretSet) -> Log {
        Log {
            sink: Arc::new(Sink { out: Mutex::new(out), format, min_level, secrets }),
            workflow: String::new(),
            instance: String::new(),
        }
    }

    /// The same sink, labelled for an instance.
    pub fn for_instance(&self, workflow: &str, instance: &str) -> Log {
        Log { sink: Arc::clone(&self.sink), workflow: workflow.to_owned(), instance: instance.to_owned() }
    }

    /// The secrets lines are scrubbed with.
    pub fn secrets(&self) -> &SecretSet {
        &self.sink.secrets
    }

    /// Writes one line (several if `message` has line breaks).
    pub fn line(&self, level: Level, state: Option<&str>, message: &str) {
        self.write(level, state, message, None);
    }

    /// Logs an instance's failure, with its code as a field of JSON lines.
    pub fn failure(&self, failure: &Failure) {
        self.write(Level::Error, None, &failure.to_string(), Some(&failure.code));
    }

    fn write(&self, level: Level, state: Option<&str>, message: &str, code: Option<&str>) {
        if level < self.sink.min_level {
            return;
        }
        let time = humantime::format_rfc3339_millis(SystemTime::now()).to_string();
        let mut text = String::new();
        for part in message.lines() {
            let line = match self.sink.format {
                LogFormat::Text => {
                    let at = match state {
                        Some(s) => format!("{}[{s}] ", self.workflow),
                        None if self.workflow.is_empty() => String::new(),
                        None => format!("{} ", self.workflow),
                    };
                    format!("{time} {:<5} {at}{part}\n", level.as_str().to_uppercase())
                }
                LogFormat::Json => {
                    // Scrubbed before encoding too: escaping can hide a short value.
                    let mut v = json!({
                        "time": time, "level": level.as_str(), "workflow": self.workflow,
                        "instance": self.instance, "msg": self.sink.secrets.scrub(part),
                    });
                    if let Some(s) = state {
                        v["state"] = json!(s);
                    }
                    if let Some(c) = code {
                        v["code"] = json!(c);
                    }
                    format!("{v}\n")
                }
            };
            text.push_str(&line);
        }
        let scrubbed = self.sink.secrets.scrub(&text);
        let mut out = self.sink.out.lock().unwrap_or_else(PoisonError::into_inner);
        // A log that cannot be written (a closed stderr) must not fail the instance.
        let _ = out.write_all(scrubbed.as_bytes());
        let _ = out.flush();
    }

    /// Info line.
    pub fn info(&self, state: Option<&str>, message: &str) {
        self.line(Level::Info, state, message);
    }

    /// Warning line.
    pub fn warn(&self, state: Option<&str>, message: &str) {
        self.line(Level::Warn, state, message);
    }

    /// A stream (a function's stderr) logged line by line.
    pub fn stream(&self, state: &str, prefix: &str) -> LogStream {
        LogStream {
            log: self.clone(),
            state: state.to_owned(),
            prefix: prefix.to_owned(),
            scrubber: self.sink.secrets.redactor().map(|r| r.scrubber()),
            pending: Vec::new(),
        }
    }
}

/// Bytes of a stream becoming log lines, scrubbed as a stream.
pub struct LogStream {
    log: Log,
    state: String,
    prefix: String,
    scrubber: Option<Scrubber>,
    pending: Vec<u8>,
}

impl std::fmt::Debug for LogStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogStream").field("state", &self.state).finish_non_exhaustive()
    }
}

impl LogStream {
    /// Takes more bytes of the stream.
    pub fn write(&mut self, chunk: &[u8]) {
        match &mut self.scrubber {
            Some(s) => {
                let _ = s.write(chunk, &mut self.pending);
            }
            None => self.pending.extend_from_slice(chunk),
        }
        self.emit_lines(false);
    }

    /// The stream ended: the rest is written.
    pub fn finish(mut self) {
        if let Some(s) = &mut self.scrubber {
            let _ = s.finish(&mut self.pending);
        }
        self.emit_lines(true);
    }

    fn emit_lines(&mut self, all: bool) {
        loop {
            let cut = match self.pending.iter().position(|b| *b == b'\n') {
                Some(i) => i + 1,
                None if self.pending.len() >= MAX_LINE_BYTES => MAX_LINE_BYTES,
                None if all && !self.pending.is_empty() => self.pending.len(),
                None => return,
            };
            let line: Vec<u8> = self.pending.drain(..cut).collect();
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\n', '\r']);
            self.log.info(Some(&self.state), &format!("{}{text}", self.prefix));
        }
    }
}

/// A log destination in memory, readable while it is written (tests,
/// embedding the runner).
#[derive(Debug, Clone, Default)]
pub struct SharedBuffer(Arc<Mutex<Vec<u8>>>);

impl Write for SharedBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner).extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl SharedBuffer {
    /// What was written so far, as text.
    pub fn contents(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use hush_core::SecretBytes;

    use super::*;

    fn log(format: LogFormat) -> (Log, SharedBuffer) {
        let captured = SharedBuffer::default();
        let secrets = SecretSet::default();
        secrets.add([&SecretBytes::copy_from(b"s3cr3t-value")]).unwrap();
        let log = Log::new(Box::new(captured.clone()), format, Level::Info, secrets).for_instance("wf", "i1");
        (log, captured)
    }

    #[test]
    fn lines_are_scrubbed_in_both_formats() {
        for format in [LogFormat::Text, LogFormat::Json] {
            let (log, out) = log(format);
            log.info(Some("st"), "token is s3cr3t-value\nand again s3cr3t-value");
            log.line(Level::Debug, None, "hidden s3cr3t-value");
            let text = out.contents();
            assert!(!text.contains("s3cr3t"), "{text}");
            assert_eq!(text.lines().count(), 2, "{text}");
            if format == LogFormat::Json {
                for line in text.lines() {
                    let v: serde_json::Value = serde_json::from_str(line).unwrap();
                    assert_eq!(v["state"], "st");
                    assert_eq!(v["workflow"], "wf");
                }
            } else {
                assert!(text.contains("INFO  wf[st] token is ***"), "{text}");
            }
        }
    }

    #[test]
    fn streams_are_scrubbed_across_reads() {
        let (log, out) = log(LogFormat::Text);
        let mut stream = log.stream("st", "fn: ");
        for chunk in [&b"one s3c"[..], b"r3t-va", b"lue two\nthree", b" s3cr3t-value"] {
            stream.write(chunk);
        }
        stream.finish();
        let text = out.contents();
        assert!(!text.contains("s3cr3t"), "{text}");
        assert!(text.contains("fn: one *** two\n"), "{text}");
        assert!(text.contains("fn: three ***\n"), "{text}");
    }

    #[test]
    fn long_lines_are_cut() {
        let (log, out) = log(LogFormat::Text);
        let mut stream = log.stream("st", "");
        stream.write(&vec![b'x'; MAX_LINE_BYTES * 2 + 10]);
        stream.finish();
        assert_eq!(out.contents().lines().count(), 3);
    }
}
