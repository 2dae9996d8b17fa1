//! A Wu–Manber shift table: finds every occurrence of thousands of patterns
//! in a buffer while looking at only a few of its bytes.
//!
//! Why by hand: the Aho-Corasick automaton has to step through every byte
//! (about 7 ns each here, 130 MiB/s, with a thousand secrets and their
//! encodings), and the `aho-corasick` crate's prefilters, which skip text, give up beyond a few
//! dozen patterns. Secrets are long and rare in logs, which is exactly the case
//! Wu–Manber's skipping is made for; no maintained crate offers it.
//!
//! How: every pattern is at least `window` bytes long. The search slides a
//! `window`-byte window over the text and looks only at the 4 bytes at its
//! end. If those 4 bytes occur nowhere in the first `window` bytes of any
//! pattern, no pattern can start anywhere in the window, and it moves by
//! `window - 3`; if they occur `k` bytes before the end of some pattern's
//! window, it moves by at most `k`. Only at a shift of 0 are the patterns whose
//! window ends with exactly those 4 bytes compared with the text. Grams are
//! hashed into the table, so a collision can only shorten a shift, never miss
//! a match.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;

use crate::encodings::PatternBytes;
use crate::matcher::IdHasher;

/// Grams are looked up here at every zero shift: a cheap hash matters.
type Candidates = HashMap<u32, Vec<u32>, BuildHasherDefault<IdHasher>>;

/// Bytes per gram.
const GRAM: usize = 4;
/// Patterns shorter than this leave the table unused: the shifts would be too
/// short to beat the automaton.
pub(crate) const MIN_WINDOW: usize = 8;
/// Longer windows give longer shifts but fill the table with more grams.
const MAX_WINDOW: usize = 16;
/// Table slots per gram entered: keeps collisions (which shorten shifts) rare.
const SLOTS_PER_GRAM: usize = 4;
/// Stretches of the haystack searched side by side.
const LANES: usize = 4;
/// Table size bounds (bits of the hash): 1 KiB to 512 KiB, inside L2.
const MIN_BITS: u32 = 10;
const MAX_BITS: u32 = 19;

pub(crate) struct ShiftTable {
    window: usize,
    longest: usize,
    bits: u32,
    shifts: Vec<u8>,
    /// The exact last gram of each pattern's window → the patterns.
    candidates: Candidates,
    patterns: Vec<PatternBytes>,
}

impl ShiftTable {
    /// A table over `patterns`, or `None` when one is too short to skip by.
    pub(crate) fn new(patterns: &[PatternBytes]) -> Option<ShiftTable> {
        let shortest = patterns.iter().map(|p| p.len()).min()?;
        if shortest < MIN_WINDOW {
            return None;
        }
        let window = shortest.min(MAX_WINDOW);
        let longest_shift = window - GRAM + 1;
        let grams = patterns.len() * longest_shift * SLOTS_PER_GRAM;
        let bits = grams.next_power_of_two().trailing_zeros().clamp(MIN_BITS, MAX_BITS);
        let mut shifts = vec![longest_shift as u8; 1 << bits];
        let mut candidates = Candidates::default();
        for (id, pattern) in patterns.iter().enumerate() {
            for end in GRAM..=window {
                let slot = &mut shifts[hash(gram_at(pattern, end), bits)];
                *slot = (*slot).min((window - end) as u8);
            }
            candidates.entry(gram_at(pattern, window)).or_default().push(id as u32);
        }
        let longest = patterns.iter().map(|p| p.len()).max().unwrap_or(0);
        Some(ShiftTable { window, longest, bits, shifts, candidates, patterns: patterns.to_vec() })
    }

    /// Calls `on_match(start, len)` for every occurrence of every pattern that
    /// lies wholly inside `haystack`, in no particular order and possibly
    /// more than once.
    ///
    /// Each probe waits on a table load that usually misses L1, so a large
    /// haystack is cut into [`LANES`] overlapping stretches searched in step:
    /// their loads overlap instead of queueing.
    pub(crate) fn find_all(&self, haystack: &[u8], mut on_match: impl FnMut(usize, usize)) {
        let mut ends = [0usize; LANES];
        let mut limits = [0usize; LANES];
        let stretch = haystack.len() / LANES;
        for lane in 0..LANES {
            ends[lane] = lane * stretch + self.window;
            // A match starting in this stretch ends before the next stretch
            // starts plus the longest pattern.
            limits[lane] = ((lane + 1) * stretch + self.longest).min(haystack.len());
        }
        limits[LANES - 1] = haystack.len();
        loop {
            let mut active = false;
            for lane in 0..LANES {
                let end = ends[lane];
                if end > limits[lane] {
                    continue;
                }
                active = true;
                ends[lane] = end + self.probe(haystack, end, &mut on_match);
            }
            if !active {
                break;
            }
        }
    }

    /// Looks at the window ending at `end`; returns how far it may move.
    #[inline(always)]
    fn probe(&self, haystack: &[u8], end: usize, on_match: &mut impl FnMut(usize, usize)) -> usize {
        let gram = gram_at(haystack, end);
        let shift = self.shifts[hash(gram, self.bits)];
        if shift > 0 {
            return shift as usize;
        }
        if let Some(ids) = self.candidates.get(&gram) {
            let start = end - self.window;
            for &id in ids {
                let pattern = &self.patterns[id as usize];
                if haystack[start..].starts_with(pattern) {
                    on_match(start, pattern.len());
                }
            }
        }
        1
    }

    /// The patterns it finds.
    pub(crate) fn patterns(&self) -> &[PatternBytes] {
        &self.patterns
    }

    /// Heap bytes held.
    pub(crate) fn memory_usage(&self) -> usize {
        self.shifts.len()
            + self.candidates.len() * 48
            + self.patterns.iter().map(|p| p.len() + size_of::<PatternBytes>()).sum::<usize>()
    }
}

/// The 4 bytes ending at `end`.
#[inline(always)]
fn gram_at(bytes: &[u8], end: usize) -> u32 {
    let mut gram = [0u8; GRAM];
    gram.copy_from_slice(&bytes[end - GRAM..end]);
    u32::from_le_bytes(gram)
}

#[inline(always)]
fn hash(gram: u32, bits: u32) -> usize {
    (gram.wrapping_mul(0x9E37_79B1) >> (32 - bits)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    fn table(patterns: &[&[u8]]) -> Option<ShiftTable> {
        ShiftTable::new(&patterns.iter().map(|p| Zeroizing::new(p.to_vec())).collect::<Vec<_>>())
    }

    fn find(table: &ShiftTable, haystack: &[u8]) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        table.find_all(haystack, |s, l| found.push((s, l)));
        found.sort_unstable();
        found.dedup();
        found
    }

    #[test]
    fn short_patterns_leave_it_unused() {
        assert!(table(&[b"1234567"]).is_none());
        assert!(table(&[b"12345678", b"abc"]).is_none());
        assert!(table(&[]).is_none());
    }

    #[test]
    fn finds_every_occurrence_including_overlaps_and_edges() {
        let t = table(&[b"abcdabcd", b"cdabcdab", b"0123456789abcdefXYZ"]).unwrap();
        assert_eq!(find(&t, b"abcdabcdabcd"), vec![(0, 8), (2, 8), (4, 8)]);
        assert_eq!(find(&t, b"..0123456789abcdefXYZ"), vec![(2, 19)]);
        assert_eq!(find(&t, b"0123456789abcdefXY"), vec![]);
        assert_eq!(find(&t, b"abc"), vec![]);
    }
}
