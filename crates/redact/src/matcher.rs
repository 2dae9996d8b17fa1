//! The compiled pattern set: an Aho-Corasick automaton (from the
//! `aho-corasick` crate) walked one byte at a time, so that its state carries
//! across chunks, every match is seen (overlapping ones too), and the length of
//! the partial match at the end of a chunk is known exactly.
//!
//! The crate's own search APIs either stop at non-overlapping matches, or take
//! one whole haystack; a stream cut at arbitrary points needs the state, which
//! only its low-level `Automaton` trait exposes. What it does not expose is how
//! deep a state is (how many bytes of a pattern have been seen), which decides
//! how much output may be released; [`Matcher::depth`] finds it from the last
//! bytes of the stream.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::{Anchored, MatchKind, dfa, nfa};

use crate::encodings::PatternBytes;
use crate::shift_table::ShiftTable;

/// Pattern sets up to this many bytes get a DFA (one table lookup per byte,
/// at most a few MiB); larger ones a contiguous NFA (compact, a little slower).
const DFA_MAX_PATTERN_BYTES: usize = 8 * 1024;

/// Why a pattern set could not be compiled.
#[derive(Debug, thiserror::Error)]
#[error("the secrets are too many or too long to compile: {0}")]
pub struct CompileError(#[source] aho_corasick::BuildError);

/// A compiled set of patterns.
pub(crate) struct Matcher {
    automaton: Kind,
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
        let longest_pattern = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
        let automaton = if patterns.is_empty() {
            Kind::Empty
        } else if total <= DFA_MAX_PATTERN_BYTES {
            let dfa = dfa::DFA::builder()
                .match_kind(MatchKind::Standard)
                .start_kind(aho_corasick::StartKind::Unanchored)
                .prefilter(false)
                .build(patterns.iter().map(|p| &p[..]))
                .map_err(CompileError)?;
            Kind::Dfa(dfa)
        } else {
            let nfa = nfa::noncontiguous::NFA::builder()
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(patterns.iter().map(|p| &p[..]))
                .map_err(CompileError)?;
            Kind::Nfa(nfa)
        };
        let shift_table = ShiftTable::new(patterns);
        Ok(Matcher { automaton, shift_table, longest_pattern })
    }

    /// The length of the longest pattern.
    pub(crate) fn longest_pattern(&self) -> usize {
        self.longest_pattern
    }

    /// The state before any input.
    pub(crate) fn start(&self) -> StateID {
        match &self.automaton {
            Kind::Empty => StateID::ZERO,
            Kind::Dfa(a) => start_state(a),
            Kind::Nfa(a) => start_state(a),
        }
    }

    /// How many of the last bytes seen could begin a match that later input
    /// completes and that is not already masked, given `state` and `recent`,
    /// the stream's last bytes (at least the longest pattern's length, or all
    /// of it if shorter).
    ///
    /// The state stands for the longest suffix of the stream that is a prefix
    /// of some pattern; call its length D. Walking the last d bytes from the
    /// start state reaches this state exactly when d >= D, so D is found by
    /// binary search (a few walks of at most the longest pattern, once per
    /// write, instead of a table with an entry per pattern byte). When that
    /// suffix is itself a whole pattern it has just been masked: a match that
    /// continues from inside it extends the mask (see the scrubber), so
    /// nothing needs holding back.
    pub(crate) fn depth(&self, state: StateID, recent: &[u8], memo: &mut DepthMemo) -> usize {
        if state == self.start() {
            return 0;
        }
        if let Some(&depth) = memo.get(&state) {
            return depth as usize;
        }
        let (mut low, mut high) = (1, recent.len().min(self.longest_pattern));
        while low < high {
            let mid = (low + high) / 2;
            if self.walk(&recent[recent.len() - mid..]) == state {
                high = mid;
            } else {
                low = mid + 1;
            }
        }
        let suffix = low;
        let depth = if self.longest_match(state) == Some(suffix) { 0 } else { suffix };
        if memo.len() >= DEPTH_MEMO_LIMIT {
            memo.clear();
        }
        memo.insert(state, depth as u32);
        depth
    }

    /// The state after `bytes`, from the start state.
    fn walk(&self, bytes: &[u8]) -> StateID {
        self.scan(self.start(), bytes, |_, _| {})
    }

    /// The longest pattern ending at `state`, if it is a match state.
    fn longest_match(&self, state: StateID) -> Option<usize> {
        match &self.automaton {
            Kind::Empty => None,
            Kind::Dfa(a) => longest_match(a, state),
            Kind::Nfa(a) => longest_match(a, state),
        }
    }

    /// Feeds `haystack` from `state`, calling `on_match(end, len)` for the
    /// longest match ending at each position that has one (`end` exclusive,
    /// relative to `haystack`); returns the state after the last byte.
    pub(crate) fn scan(&self, state: StateID, haystack: &[u8], on_match: impl FnMut(usize, usize)) -> StateID {
        match &self.automaton {
            Kind::Empty => state,
            Kind::Dfa(a) => scan(a, state, haystack, on_match),
            Kind::Nfa(a) => scan(a, state, haystack, on_match),
        }
    }

    /// The shift table, when the patterns allow one.
    pub(crate) fn shift_table(&self) -> Option<&ShiftTable> {
        self.shift_table.as_ref()
    }

    /// Heap bytes held by the automaton and its side tables.
    pub(crate) fn memory_usage(&self) -> usize {
        let automaton = match &self.automaton {
            Kind::Empty => 0,
            Kind::Dfa(a) => a.memory_usage(),
            Kind::Nfa(a) => a.memory_usage(),
        };
        automaton + self.shift_table.as_ref().map_or(0, ShiftTable::memory_usage)
    }
}

/// Depths found so far, per scrubber: a stream's writes tend to end in the
/// same few states. Keyed by small integers no input chooses, so a
/// multiplicative hash stands in for SipHash.
pub(crate) type DepthMemo = HashMap<StateID, u32, BuildHasherDefault<IdHasher>>;

/// Bounds a memo's memory; it is simply cleared when full.
const DEPTH_MEMO_LIMIT: usize = 4096;

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

    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
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
