//! Scrubbing secret values out of byte streams.
//!
//! A [`Redactor`] is compiled once from a set of secret values; each output
//! stream gets its own [`Scrubber`], which replaces every occurrence of every
//! secret with a replacement (`***` by default): split across writes,
//! overlapping or adjacent to another secret, as the whitespace-trimmed value,
//! each line of a multi-line value, and (for values of at least
//! [`MIN_ENCODED_LEN`] bytes) base64 at the three byte alignments, URL
//! encoding and JSON string escaping. Input is bytes, not text: invalid UTF-8,
//! NUL bytes and line endings pass through as they are.
//!
//! This crate knows nothing of where secrets come from or where output goes;
//! it owns the matching and the streaming. See `docs/redaction.md` for what is
//! and is not masked, and why.
//!
//! ```
//! let redactor = hush_redact::Redactor::builder().secret(b"TOP_SECRET").build().unwrap();
//! let mut scrubber = redactor.scrubber();
//! let mut out = Vec::new();
//! scrubber.write(b"hello TOP_", &mut out).unwrap();
//! assert_eq!(out, b"hello "); // "TOP_" could be the start of the secret
//! scrubber.write(b"SECRET!\n", &mut out).unwrap();
//! scrubber.finish(&mut out).unwrap();
//! assert_eq!(out, b"hello ***!\n");
//! ```

mod encodings;
mod matcher;
mod patterns;
mod read_ahead;
mod scrubber;
mod shift_table;
mod variants;
mod window_index;

use std::io::{self, Read, Write};
use std::sync::Arc;

use zeroize::Zeroizing;

pub use matcher::CompileError;
pub use scrubber::Scrubber;
pub use variants::MIN_ENCODED_LEN;

use crate::matcher::Matcher;
use crate::patterns::{PatternList, Patterns};
use crate::read_ahead::ReadAhead;

/// What a masked range is replaced with unless told otherwise.
pub const DEFAULT_REPLACEMENT: &[u8] = b"***";

/// A compiled set of secrets to mask. Cheap to clone and share across threads;
/// it holds the secrets' bytes (its patterns) for as long as it lives.
#[derive(Clone)]
pub struct Redactor {
    inner: Arc<Inner>,
}

struct Inner {
    matcher: Matcher,
    replacement: Vec<u8>,
    secrets: usize,
    ignored: Vec<usize>,
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("secrets", &self.inner.secrets)
            .field("patterns", &self.inner.matcher.pattern_count())
            .finish_non_exhaustive()
    }
}

/// Collects secrets and options for a [`Redactor`].
pub struct RedactorBuilder {
    secrets: Vec<Zeroizing<Vec<u8>>>,
    replacement: Vec<u8>,
    encodings: bool,
}

impl std::fmt::Debug for RedactorBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedactorBuilder").field("secrets", &self.secrets.len()).finish_non_exhaustive()
    }
}

impl Default for RedactorBuilder {
    fn default() -> Self {
        RedactorBuilder { secrets: Vec::new(), replacement: DEFAULT_REPLACEMENT.to_vec(), encodings: true }
    }
}

impl RedactorBuilder {
    /// Adds a secret value (copied; the copy is wiped after [`Self::build`]).
    pub fn secret(mut self, value: impl AsRef<[u8]>) -> Self {
        self.secrets.push(Zeroizing::new(value.as_ref().to_vec()));
        self
    }

    /// Adds several secret values.
    pub fn secrets<I>(mut self, values: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<[u8]>,
    {
        for value in values {
            self = self.secret(value);
        }
        self
    }

    /// What masked ranges become (default `***`).
    pub fn replacement(mut self, replacement: impl Into<Vec<u8>>) -> Self {
        self.replacement = replacement.into();
        self
    }

    /// Whether encoded forms (base64, URL, JSON) are masked too (default yes).
    pub fn encodings(mut self, yes: bool) -> Self {
        self.encodings = yes;
        self
    }

    /// Compiles the secrets. Empty and whitespace-only secrets are skipped;
    /// [`Redactor::ignored`] says which.
    pub fn build(self) -> Result<Redactor, CompileError> {
        let ignored = (0..self.secrets.len()).filter(|&i| variants::is_blank(&self.secrets[i])).collect();
        let patterns = patterns_of_all(&self.secrets, self.encodings).ok_or(CompileError::TooLarge)?;
        let matcher = Matcher::new(patterns)?;
        Ok(Redactor {
            inner: Arc::new(Inner { matcher, replacement: self.replacement, secrets: self.secrets.len(), ignored }),
        })
    }
}

/// Every form of every secret, sorted and distinct; `None` if too large.
///
/// Many secrets are split in two halves whose patterns are made and sorted
/// on two threads, then merged: making and sorting were most of the
/// start-up with 10,000 secrets (about 35 ms), which is paid before
/// `hush redact` writes its first byte and before `hush run` starts its
/// program, while the other core waits (docs/benchmarks.md, "Redaction").
fn patterns_of_all(secrets: &[Zeroizing<Vec<u8>>], encodings: bool) -> Option<Patterns> {
    if secrets.len() < TWO_THREADS_FROM {
        return patterns_on_one_thread(secrets, encodings);
    }
    let (first, second) = secrets.split_at(secrets.len() / 2);
    let (first, second) = std::thread::scope(|scope| {
        let other = std::thread::Builder::new()
            .name("hush-redact-build".into())
            .spawn_scoped(scope, || patterns_on_one_thread(second, encodings));
        match other {
            Ok(other) => (
                patterns_on_one_thread(first, encodings),
                other.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            ),
            // No second thread to be had: one after the other.
            Err(_) => (patterns_on_one_thread(first, encodings), patterns_on_one_thread(second, encodings)),
        }
    });
    Patterns::merge(first?, second?)
}

/// Every form of every secret, sorted and distinct, made on this thread.
fn patterns_on_one_thread(secrets: &[Zeroizing<Vec<u8>>], encodings: bool) -> Option<Patterns> {
    // Room for all the patterns up front, up to a bound (beyond it the
    // list grows as it must).
    let bytes: usize = secrets.iter().map(|s| s.len()).sum();
    let room = bytes.saturating_mul(variants::pattern_bytes_per_byte(encodings)).min(ROOM_AT_MOST);
    let mut list = PatternList::with_capacity(room);
    for secret in secrets {
        variants::patterns_of(secret, encodings, &mut list);
    }
    Patterns::new(list)
}

/// From this many secrets on, [`patterns_of_all`] uses a second thread
/// (below it the build takes under a few milliseconds).
const TWO_THREADS_FROM: usize = 512;

impl Redactor {
    /// Starts a set of secrets.
    pub fn builder() -> RedactorBuilder {
        RedactorBuilder::default()
    }

    /// Positions (0-based, in the order added) of the secrets that were
    /// ignored because they are empty or whitespace-only.
    pub fn ignored(&self) -> &[usize] {
        &self.inner.ignored
    }

    /// How many distinct byte strings are masked.
    pub fn pattern_count(&self) -> usize {
        self.inner.matcher.pattern_count()
    }

    /// The most input bytes a scrubber ever holds back.
    pub fn max_held_back(&self) -> usize {
        self.inner.matcher.longest_pattern().saturating_sub(1)
    }

    /// Heap memory held by the compiled patterns, in bytes.
    pub fn memory_usage(&self) -> usize {
        self.inner.matcher.memory_usage()
    }

    /// A scrubber for one stream.
    pub fn scrubber(&self) -> Scrubber {
        Scrubber::new(self.clone())
    }

    /// Redacts a whole input at once.
    pub fn redact(&self, input: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(input.len());
        let mut scrubber = self.scrubber();
        // Writing into a Vec cannot fail.
        let _ = scrubber.write(input, &mut out);
        let _ = scrubber.finish(&mut out);
        out
    }

    /// Copies `input` to `output`, redacted, flushing after every read so that
    /// output appears as soon as it is known not to hold a secret. Returns the
    /// number of bytes read. `input` is read on a thread of its own, up to
    /// two reads ahead (`read_ahead.rs`); if `output` fails first, that
    /// thread ends at its next read, and lets go of `input` then.
    pub fn copy(&self, input: impl Read + Send + 'static, output: impl Write) -> io::Result<u64> {
        let input = ReadAhead::start(input, READ_AHEAD_BUFFERS, COPY_BUFFER)?;
        // A read's output leaves in one write, not one per stretch between
        // masks: with 10,000 secrets in a log that was 90,000 write calls
        // per 256 MiB. It holds only output, which is already redacted.
        let mut output = io::BufWriter::with_capacity(COPY_BUFFER, output);
        let mut scrubber = self.scrubber();
        let mut total = 0u64;
        loop {
            let (buffer, n) = input.next()?;
            if n == 0 {
                break;
            }
            total += n as u64;
            scrubber.write(&buffer[..n], &mut output)?;
            input.recycle(buffer, n);
            output.flush()?;
        }
        scrubber.finish(&mut output)?;
        output.flush()?;
        Ok(total)
    }

    pub(crate) fn matcher(&self) -> &Matcher {
        &self.inner.matcher
    }

    pub(crate) fn replacement(&self) -> &[u8] {
        &self.inner.replacement
    }
}

/// The most room reserved for patterns before they are made: 64 MiB of address
/// space, of which only what the patterns fill is ever used.
const ROOM_AT_MOST: usize = 64 << 20;

/// Read size of [`Redactor::copy`]: large enough that a pipe is drained in a
/// few reads, small enough that the read being scrubbed stays in the L2 cache.
const COPY_BUFFER: usize = 256 * 1024;

/// Buffers going round in [`Redactor::copy`]: one being scrubbed, the
/// others being read into or waiting (up to two reads ahead).
const READ_AHEAD_BUFFERS: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_threads_make_the_patterns_one_thread_makes() {
        // Secrets that share forms across the two halves: one secret in both,
        // one a prefix of another, blank ones, and multi-line ones.
        let mut secrets: Vec<Zeroizing<Vec<u8>>> = (0..TWO_THREADS_FROM + 9)
            .map(|i| Zeroizing::new(format!("secret-number-{i:05}-of-the-set").into_bytes()))
            .collect();
        let last = secrets.len() - 1;
        secrets[last] = secrets[0].clone();
        secrets[3] = Zeroizing::new(b"secret-number".to_vec());
        secrets[last - 1] = Zeroizing::new(b"   ".to_vec());
        secrets[1] = Zeroizing::new(b"".to_vec());
        secrets[last - 2] = Zeroizing::new(b"first line\nsecond line".to_vec());
        for encodings in [true, false] {
            let split = patterns_of_all(&secrets, encodings).unwrap();
            let whole = patterns_on_one_thread(&secrets, encodings).unwrap();
            assert_eq!(split.iter().collect::<Vec<_>>(), whole.iter().collect::<Vec<_>>());
            assert_eq!(split.longest(), whole.longest());
        }
    }
}
