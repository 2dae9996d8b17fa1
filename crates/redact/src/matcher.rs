//! The compiled pattern set, searched two ways:
//!
//! - Patterns of at least [`MIN_WINDOW`] bytes (in practice every secret and
//!   its encodings) by the [`ShiftTable`], which skips through text.
//! - Shorter ones by an Aho-Corasick automaton (from the `aho-corasick` crate)
//!   walked one byte at a time, so that its state carries across chunks and
//!   every match is seen (overlapping ones too). The crate's own search APIs
//!   either stop at non-overlapping matches, or take one whole haystack; a
//!   stream cut at arbitrary points needs the state, which only its low-level
//!   `Automaton` trait exposes.
//!
//! How much of a stream to hold back is answered from the sorted patterns
//! themselves and the shift table's window index: nothing is stored per
//! prefix, so memory grows with the patterns' bytes and no faster.

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::{Anchored, MatchKind, dfa, nfa};

use crate::patterns::{MAX_PATTERN_BYTES, Patterns};
use crate::shift_table::{MIN_WINDOW, ShiftTable};

/// Pattern sets up to this many bytes get a DFA (one table lookup per byte,
/// at most a few MiB); larger ones an NFA (compact, quicker to build).
const DFA_MAX_PATTERN_BYTES: usize = 8 * 1024;

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
    patterns: Patterns,
    /// Finds the patterns of at least [`MIN_WINDOW`] bytes, if there are any.
    shift_table: Option<ShiftTable>,
    /// Finds the shorter ones ([`Kind::Empty`] if there are none).
    automaton: Kind,
}

enum Kind {
    Empty,
    Dfa(dfa::DFA),
    Nfa(nfa::noncontiguous::NFA),
}

impl Matcher {
    /// Compiles `patterns`.
    pub(crate) fn new(patterns: Patterns) -> Result<Matcher, CompileError> {
        let shift_table = ShiftTable::new(&patterns);
        let automaton = compile(patterns.iter().filter(|p| p.len() < MIN_WINDOW))?;
        Ok(Matcher { patterns, shift_table, automaton })
    }

    /// How many distinct patterns there are.
    pub(crate) fn pattern_count(&self) -> usize {
        self.patterns.len()
    }

    /// The length of the longest pattern.
    pub(crate) fn longest_pattern(&self) -> usize {
        self.patterns.longest()
    }

    /// The automaton's state before any input.
    pub(crate) fn start(&self) -> StateID {
        match &self.automaton {
            Kind::Empty => StateID::ZERO,
            Kind::Dfa(a) => start_state(a),
            Kind::Nfa(a) => start_state(a),
        }
    }

    /// Feeds `haystack` to the automaton from `state`, calling
    /// `on_match(end, len)` for the longest short pattern ending at each
    /// position that has one (`end` exclusive, relative to `haystack`);
    /// returns the state after the last byte.
    pub(crate) fn scan(&self, state: StateID, haystack: &[u8], on_match: impl FnMut(usize, usize)) -> StateID {
        match &self.automaton {
            Kind::Empty => state,
            Kind::Dfa(a) => scan(a, state, haystack, on_match),
            Kind::Nfa(a) => scan(a, state, haystack, on_match),
        }
    }

    /// Calls `on_match(start, len)` for every occurrence of every pattern of
    /// at least [`MIN_WINDOW`] bytes wholly inside `haystack`, in no
    /// particular order and possibly more than once.
    pub(crate) fn find_long(&self, haystack: &[u8], on_match: impl FnMut(usize, usize)) {
        if let Some(table) = &self.shift_table {
            table.find_all(&self.patterns, haystack, on_match);
        }
    }

    /// How many of the last bytes seen could begin a match that later input
    /// completes: the longest suffix of `recent` (the stream's last bytes, at
    /// least the longest pattern's length, or all of it if shorter) that a
    /// longer pattern begins with.
    pub(crate) fn depth(&self, recent: &[u8]) -> usize {
        let most = self.patterns.longest().saturating_sub(1).min(recent.len());
        (1..=most).rev().find(|&d| self.extends(&recent[recent.len() - d..])).unwrap_or(0)
    }

    /// Whether a pattern longer than `prefix` begins with it.
    fn extends(&self, prefix: &[u8]) -> bool {
        match &self.shift_table {
            // Only patterns in the table's index can be that long: one
            // bucket to look in instead of a binary search.
            Some(table) if prefix.len() >= table.window() => table.extends(&self.patterns, prefix),
            _ => self.patterns.extends(prefix),
        }
    }

    /// Heap bytes held by the patterns, the shift table and the automaton.
    pub(crate) fn memory_usage(&self) -> usize {
        let automaton = match &self.automaton {
            Kind::Empty => 0,
            Kind::Dfa(a) => a.memory_usage(),
            Kind::Nfa(a) => a.memory_usage(),
        };
        automaton + self.patterns.memory_usage() + self.shift_table.as_ref().map_or(0, ShiftTable::memory_usage)
    }
}

fn compile<'a>(patterns: impl Iterator<Item = &'a [u8]> + Clone) -> Result<Kind, CompileError> {
    let total: usize = patterns.clone().map(<[u8]>::len).sum();
    Ok(if total == 0 {
        Kind::Empty
    } else if total <= DFA_MAX_PATTERN_BYTES {
        let dfa = dfa::DFA::builder()
            .match_kind(MatchKind::Standard)
            .start_kind(aho_corasick::StartKind::Unanchored)
            .prefilter(false)
            .build(patterns)
            .map_err(CompileError::Automaton)?;
        Kind::Dfa(dfa)
    } else {
        let nfa = nfa::noncontiguous::NFA::builder()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(patterns)
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
