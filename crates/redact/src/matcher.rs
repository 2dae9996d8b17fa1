//! The compiled pattern set: an Aho-Corasick automaton (from the
//! `aho-corasick` crate) walked one byte at a time, so that its state carries
//! across chunks, every match is seen (overlapping ones too), and the length of
//! the partial match at the end of a chunk is known exactly.
//!
//! The crate's own search APIs either stop at non-overlapping matches, or take
//! one whole haystack; a stream cut at arbitrary points needs the state, which
//! only its low-level `Automaton` trait exposes. What it does not expose is how
//! deep a state is (how many bytes of a pattern have been seen), which decides
//! how much output may be released; [`Matcher`] records that beside it.

use std::collections::HashMap;

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
    /// Depth (bytes of a pattern matched so far) of every state but the start.
    depths: HashMap<StateID, u32>,
    /// Skips through long runs of text when every pattern is long enough.
    shift_table: Option<ShiftTable>,
    longest_pattern: usize,
}

enum Kind {
    Empty,
    Dfa(dfa::DFA),
    Nfa(nfa::contiguous::NFA),
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
            let nfa = nfa::contiguous::NFA::builder()
                .match_kind(MatchKind::Standard)
                .prefilter(false)
                .build(patterns.iter().map(|p| &p[..]))
                .map_err(CompileError)?;
            Kind::Nfa(nfa)
        };
        let shift_table = ShiftTable::new(patterns);
        let mut matcher = Matcher { automaton, depths: HashMap::new(), shift_table, longest_pattern };
        matcher.depths = match &matcher.automaton {
            Kind::Empty => HashMap::new(),
            Kind::Dfa(a) => depths(a, patterns),
            Kind::Nfa(a) => depths(a, patterns),
        };
        Ok(matcher)
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
    /// completes and that is not already masked: the length of the longest
    /// proper pattern prefix ending here (0 after a whole pattern that is
    /// nobody's prefix, whose bytes are masked).
    pub(crate) fn depth(&self, state: StateID) -> usize {
        self.depths.get(&state).map_or(0, |&d| d as usize)
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
        automaton
            + self.depths.capacity() * (size_of::<StateID>() + size_of::<u32>() + 8)
            + self.shift_table.as_ref().map_or(0, ShiftTable::memory_usage)
    }
}

fn start_state<A: Automaton>(automaton: &A) -> StateID {
    // Unanchored start states always exist for the builders used above.
    automaton.start_state(Anchored::No).unwrap_or(StateID::ZERO)
}

/// The depth of each state that is a proper prefix of some pattern: walking a
/// pattern from the start state visits the states of its prefixes, in order.
///
/// A state that is only a whole pattern (a leaf) gets no entry, so depth 0:
/// its bytes were just matched and are masked, and a match that later
/// continues from inside them extends that mask (see the scrubber).
fn depths<A: Automaton>(automaton: &A, patterns: &[PatternBytes]) -> HashMap<StateID, u32> {
    let start = start_state(automaton);
    let mut depths = HashMap::new();
    for pattern in patterns {
        let mut state = start;
        for (i, &byte) in pattern[..pattern.len() - 1].iter().enumerate() {
            state = automaton.next_state(Anchored::No, state, byte);
            depths.insert(state, u32::try_from(i + 1).unwrap_or(u32::MAX));
        }
    }
    depths
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
        if automaton.is_special(state) && automaton.is_match(state) {
            let longest = (0..automaton.match_len(state))
                .map(|k| automaton.pattern_len(automaton.match_pattern(state, k)))
                .max()
                .unwrap_or(0);
            on_match(i + 1, longest);
        }
    }
    state
}
