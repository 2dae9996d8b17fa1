//! The compiled pattern set: an Aho-Corasick automaton (from the
//! `aho-corasick` crate) walked one byte at a time, so that its state carries
//! across chunks, every match is seen (overlapping ones too), and the length of
//! the partial match at the end of a chunk is known exactly.
//!
//! The crate's own search APIs either stop at non-overlapping matches, or take
//! one whole haystack; a stream cut at arbitrary points needs the state, which
//! only its low-level `Automaton` trait exposes.
//!
//! Large writes need no automaton when every pattern is long enough: the
//! shift table finds the matches and the prefix set says how much to hold
//! back. For such pattern sets the automaton (tens of milliseconds to compile
//! for a thousand secrets with their encodings) is compiled on first use, by
//! a small write.

use std::hash::Hasher;
use std::sync::OnceLock;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::{Anchored, MatchKind, dfa, nfa};

use crate::encodings::PatternBytes;
use crate::prefix_set::PrefixSet;
use crate::shift_table::ShiftTable;

/// Pattern sets up to this many bytes get a DFA (one table lookup per byte,
/// at most a few MiB); larger ones an NFA (compact, quicker to build).
const DFA_MAX_PATTERN_BYTES: usize = 8 * 1024;

/// Patterns beyond this many bytes in all are refused, which keeps the
/// automaton's state ids in range: compiling it later cannot fail.
const MAX_PATTERN_BYTES: usize = 1 << 30;

/// Why a pattern set could not be compiled.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CompileError {
    /// The automaton could not be built.
    #[error("the secrets are too many or too long to compile: {0}")]
    Automaton(#[source] aho_corasick::BuildError),
    /// The secrets and their encodings add up to too many bytes.
    #[error("the secrets and their encodings add up to more than {MAX_PATTERN_BYTES} bytes")]
    TooLarge,
}

/// A compiled set of patterns.
pub(crate) struct Matcher {
    /// Built at once without a shift table, on first use with one.
    automaton: OnceLock<Kind>,
    prefixes: PrefixSet,
    /// Skips through long runs of text when every pattern is long enough.
    shift_table: Option<ShiftTable>,
    longest_pattern: usize,
}

enum Kind {
    Empty,
    Dfa(dfa::DFA),
    Nfa(nfa::noncontiguous::NFA),
}

impl Matcher {
    /// Compiles `patterns` (deduplicated, none empty).
    pub(crate) fn new(patterns: &[PatternBytes]) -> Result<Matcher, CompileError> {
        let total: usize = patterns.iter().map(|p| p.len()).sum();
        if total > MAX_PATTERN_BYTES {
            return Err(CompileError::TooLarge);
        }
        let longest_pattern = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
        let shift_table = ShiftTable::new(patterns);
        let automaton = OnceLock::new();
        if shift_table.is_none() {
            let _ = automaton.set(compile(patterns)?);
        }
        Ok(Matcher { automaton, prefixes: PrefixSet::new(patterns), shift_table, longest_pattern })
    }

    fn automaton(&self) -> &Kind {
        self.automaton.get_or_init(|| {
            let patterns = self.shift_table.as_ref().map_or(&[][..], ShiftTable::patterns);
            // Sizes were checked in `new`: state ids cannot overflow.
            compile(patterns).expect("a pattern set within MAX_PATTERN_BYTES compiles")
        })
    }

    /// The length of the longest pattern.
    pub(crate) fn longest_pattern(&self) -> usize {
        self.longest_pattern
    }

    /// The state before any input.
    pub(crate) fn start(&self) -> StateID {
        match self.automaton() {
            Kind::Empty => StateID::ZERO,
            Kind::Dfa(a) => start_state(a),
            Kind::Nfa(a) => start_state(a),
        }
    }

    /// How many of the last bytes seen could begin a match that later input
    /// completes, from `recent`, the stream's last bytes (at least the
    /// longest pattern's length, or all of it if shorter).
    pub(crate) fn depth(&self, recent: &[u8]) -> usize {
        self.prefixes.longest_suffix(recent)
    }

    /// The state after `bytes`, from the start state: the exact state after a
    /// stream whose last bytes (at least the longest pattern) are `bytes`.
    pub(crate) fn walk(&self, bytes: &[u8]) -> StateID {
        self.scan(self.start(), bytes, |_, _| {})
    }

    /// Feeds `haystack` from `state`, calling `on_match(end, len)` for the
    /// longest match ending at each position that has one (`end` exclusive,
    /// relative to `haystack`); returns the state after the last byte.
    pub(crate) fn scan(&self, state: StateID, haystack: &[u8], on_match: impl FnMut(usize, usize)) -> StateID {
        match self.automaton() {
            Kind::Empty => state,
            Kind::Dfa(a) => scan(a, state, haystack, on_match),
            Kind::Nfa(a) => scan(a, state, haystack, on_match),
        }
    }

    /// The shift table, when the patterns allow one.
    pub(crate) fn shift_table(&self) -> Option<&ShiftTable> {
        self.shift_table.as_ref()
    }

    /// Heap bytes held by the automaton (if compiled yet) and side tables.
    pub(crate) fn memory_usage(&self) -> usize {
        let automaton = match self.automaton.get() {
            None | Some(Kind::Empty) => 0,
            Some(Kind::Dfa(a)) => a.memory_usage(),
            Some(Kind::Nfa(a)) => a.memory_usage(),
        };
        automaton + self.prefixes.memory_usage() + self.shift_table.as_ref().map_or(0, ShiftTable::memory_usage)
    }
}

/// A multiplicative hash for keys no input chooses (hashes, state ids):
/// much cheaper than SipHash for tables with hundreds of thousands of entries.
#[derive(Default)]
pub(crate) struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(b)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}

fn compile(patterns: &[PatternBytes]) -> Result<Kind, CompileError> {
    let total: usize = patterns.iter().map(|p| p.len()).sum();
    Ok(if patterns.is_empty() {
        Kind::Empty
    } else if total <= DFA_MAX_PATTERN_BYTES {
        let dfa = dfa::DFA::builder()
            .match_kind(MatchKind::Standard)
            .start_kind(aho_corasick::StartKind::Unanchored)
            .prefilter(false)
            .build(patterns.iter().map(|p| &p[..]))
            .map_err(CompileError::Automaton)?;
        Kind::Dfa(dfa)
    } else {
        let nfa = nfa::noncontiguous::NFA::builder()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(patterns.iter().map(|p| &p[..]))
            .map_err(CompileError::Automaton)?;
        Kind::Nfa(nfa)
    })
}

fn start_state<A: Automaton>(automaton: &A) -> StateID {
    // Unanchored start states always exist for the builders used above.
    automaton.start_state(Anchored::No).unwrap_or(StateID::ZERO)
}

fn longest_match<A: Automaton>(automaton: &A, state: StateID) -> Option<usize> {
    if !automaton.is_match(state) {
        return None;
    }
    (0..automaton.match_len(state)).map(|k| automaton.pattern_len(automaton.match_pattern(state, k))).max()
}

#[inline]
fn scan<A: Automaton>(
    automaton: &A,
    mut state: StateID,
    haystack: &[u8],
    mut on_match: impl FnMut(usize, usize),
) -> StateID {
    for (i, &byte) in haystack.iter().enumerate() {
        state = automaton.next_state(Anchored::No, state, byte);
        if automaton.is_special(state)
            && let Some(longest) = longest_match(automaton, state)
        {
            on_match(i + 1, longest);
        }
    }
    state
}
