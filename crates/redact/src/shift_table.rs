//! A Wu–Manber shift table: finds every occurrence of up to a hundred
//! thousand patterns in a buffer while looking at only a few of its bytes.
//!
//! Why by hand: the Aho-Corasick automaton has to step through every byte
//! (about 7 ns each here, 130 MiB/s, with a thousand secrets and their
//! encodings), and the `aho-corasick` crate's prefilters, which skip text,
//! give up beyond a few dozen patterns. Secrets are long and rare in logs,
//! which is exactly the case Wu–Manber's skipping is made for; no maintained
//! crate offers it.
//!
//! How: every pattern in the table is at least `window` bytes long. The
//! search slides a `window`-byte window over the text and looks only at the 4
//! bytes at its end. If those 4 bytes occur nowhere in the first `window`
//! bytes of any pattern, no pattern can start anywhere in the window, and it
//! moves by `window - 3`; if they occur `k` bytes before the end of some
//! pattern's window, it moves by at most `k`. Only at a shift of 0 are
//! patterns compared with the text: those whose window is the text's window,
//! found in the [`WindowIndex`]. Grams are hashed into the table, so a
//! collision can only shorten a shift, never miss a match.
//!
//! With many patterns the table is the cost: 10,000 secrets with their
//! encodings enter about a million grams. The table grows with them (to
//! 2 MiB, so that most slots keep the longest shift), and then its loads
//! leave the L1 and L2 caches; the search hides their latency by keeping
//! eight of them in flight.

use crate::patterns::Patterns;
use crate::window_index::{Candidates, WindowIndex};

/// Bytes per gram.
const GRAM: usize = 4;
/// Patterns shorter than this are left to the automaton: the shifts would be
/// too short to beat it.
pub(crate) const MIN_WINDOW: usize = 8;
/// Longer windows give longer shifts but fill the table with more grams.
const MAX_WINDOW: usize = 16;
/// Table slots per gram entered: keeps collisions (which shorten shifts) rare.
const SLOTS_PER_GRAM: usize = 4;
/// Stretches of the haystack searched side by side. Four were enough while
/// the table fitted in L2 (1,000 secrets); with 10,000 it does not, and eight
/// lanes' loads in flight doubled the rate (sixteen were no better).
const LANES: usize = 8;
/// Zero shifts written down before they are checked.
const ZERO_BATCH: usize = 64;
/// Table size bounds (bits of the hash): 1 KiB to 2 MiB. 4 MiB, or 4-bit
/// shifts to halve it, measured no faster with 10,000 secrets.
const MIN_BITS: u32 = 10;
const MAX_BITS: u32 = 21;

pub(crate) struct ShiftTable {
    window: usize,
    longest: usize,
    bits: u32,
    shifts: Vec<u8>,
    /// The patterns by window: the candidates at a zero shift.
    index: WindowIndex,
}

impl ShiftTable {
    /// A table over the patterns of at least [`MIN_WINDOW`] bytes, or `None`
    /// if there are none.
    pub(crate) fn new(patterns: &Patterns) -> Option<ShiftTable> {
        let long = || patterns.iter().filter(|p| p.len() >= MIN_WINDOW);
        let window = long().map(<[u8]>::len).min()?.min(MAX_WINDOW);
        // Patterns are sorted, so those sharing a window are neighbours:
        // each window's grams are entered once.
        let mut windows: Vec<&[u8]> = long().map(|p| &p[..window]).collect();
        windows.dedup();
        let longest_shift = window - GRAM + 1;
        let grams = windows.len() * longest_shift * SLOTS_PER_GRAM;
        let bits = grams.next_power_of_two().trailing_zeros().clamp(MIN_BITS, MAX_BITS);
        let mut shifts = vec![longest_shift as u8; 1 << bits];
        for w in windows {
            for end in GRAM..=window {
                let slot = &mut shifts[hash(gram_at(w, end), bits)];
                *slot = (*slot).min((window - end) as u8);
            }
        }
        let index = WindowIndex::new(patterns, window);
        Some(ShiftTable { window, longest: patterns.longest(), bits, shifts, index })
    }

    /// The window's length: every pattern the table finds is at least this long.
    pub(crate) fn window(&self) -> usize {
        self.window
    }

    /// Calls `on_match(start, len)` for every occurrence of every pattern of
    /// at least [`MIN_WINDOW`] bytes that lies wholly inside `haystack`, in no
    /// particular order and possibly more than once.
    ///
    /// Each probe waits on a table load that usually misses L1, so a large
    /// haystack is cut into [`LANES`] overlapping stretches searched in step:
    /// their loads overlap instead of queueing.
    pub(crate) fn find_all(&self, patterns: &Patterns, haystack: &[u8], mut on_match: impl FnMut(usize, usize)) {
        let stretch = haystack.len() / LANES;
        if stretch < 8 * self.longest {
            // Too short for lanes to pay for the overlap they search twice.
            self.find_alone(patterns, haystack, self.window, haystack.len(), &mut on_match);
            return;
        }
        let mut ends = [0usize; LANES];
        let mut limits = [0usize; LANES];
        for lane in 0..LANES {
            ends[lane] = lane * stretch + self.window;
            // A match starting in this stretch ends before the next stretch
            // starts plus the longest pattern.
            limits[lane] = ((lane + 1) * stretch + self.longest).min(haystack.len());
        }
        limits[LANES - 1] = haystack.len();
        // The lanes in step while all have text left. A zero shift is rare
        // and unforeseeable: as a branch it would cost a pipeline flush,
        // throwing away the other lanes' loads in flight. So every window end
        // is written down, kept only if its shift is 0, and the kept ones are
        // checked a batch at a time.
        let mut zeros = [0usize; ZERO_BATCH];
        let mut kept = 0;
        while (0..LANES).all(|lane| ends[lane] <= limits[lane]) {
            for end in &mut ends {
                let shift = self.shift(haystack, *end);
                zeros[kept] = *end;
                kept += usize::from(shift == 0);
                *end += shift.max(1);
            }
            if kept > ZERO_BATCH - LANES {
                self.check_batch(patterns, haystack, &zeros[..kept], &mut on_match);
                kept = 0;
            }
        }
        self.check_batch(patterns, haystack, &zeros[..kept], &mut on_match);
        for lane in 0..LANES {
            self.find_alone(patterns, haystack, ends[lane], limits[lane], &mut on_match);
        }
    }

    /// One lane: the windows from the one ending at `end` to the one ending
    /// at `limit`.
    fn find_alone(
        &self,
        patterns: &Patterns,
        haystack: &[u8],
        mut end: usize,
        limit: usize,
        on_match: &mut impl FnMut(usize, usize),
    ) {
        while end <= limit {
            let shift = self.shift(haystack, end);
            if shift == 0 {
                self.check(patterns, haystack, end, on_match);
            }
            end += shift.max(1);
        }
    }

    /// How far the window ending at `end` may move (0: a pattern may begin
    /// where it begins).
    #[inline(always)]
    fn shift(&self, haystack: &[u8], end: usize) -> usize {
        self.shifts[hash(gram_at(haystack, end), self.bits)] as usize
    }

    /// [`Self::check`] for each of `ends` (at most [`ZERO_BATCH`]), in two
    /// passes: the index's buckets for all of them first, so that those loads
    /// (which mostly miss the cache, and mostly find an empty bucket) are in
    /// flight together; then the few patterns they hold.
    fn check_batch(
        &self,
        patterns: &Patterns,
        haystack: &[u8],
        ends: &[usize],
        on_match: &mut impl FnMut(usize, usize),
    ) {
        let mut candidates: [Candidates; ZERO_BATCH] = std::array::from_fn(|_| Candidates::default());
        for (found, &end) in candidates.iter_mut().zip(ends) {
            *found = self.index.candidates(&haystack[end - self.window..end]);
        }
        for (found, &end) in candidates.into_iter().zip(ends) {
            let start = end - self.window;
            for id in found {
                let pattern = patterns.get(id as usize);
                if haystack[start..].starts_with(pattern) {
                    on_match(start, pattern.len());
                }
            }
        }
    }

    /// Compares the patterns whose window may be the one ending at `end`
    /// with the text there.
    fn check(&self, patterns: &Patterns, haystack: &[u8], end: usize, on_match: &mut impl FnMut(usize, usize)) {
        let start = end - self.window;
        for id in self.index.candidates(&haystack[start..end]) {
            let pattern = patterns.get(id as usize);
            if haystack[start..].starts_with(pattern) {
                on_match(start, pattern.len());
            }
        }
    }

    /// Whether a pattern longer than `prefix` (at least a window long) begins
    /// with it.
    pub(crate) fn extends(&self, patterns: &Patterns, prefix: &[u8]) -> bool {
        self.index.extends(patterns, prefix)
    }

    /// Heap bytes held.
    pub(crate) fn memory_usage(&self) -> usize {
        self.shifts.len() + self.index.memory_usage()
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
    use crate::patterns::PatternList;

    fn table(patterns: &[&[u8]]) -> Option<(ShiftTable, Patterns)> {
        let mut list = PatternList::default();
        for p in patterns {
            list.push(p);
        }
        let patterns = Patterns::new(list).unwrap();
        Some((ShiftTable::new(&patterns)?, patterns))
    }

    fn find((table, patterns): &(ShiftTable, Patterns), haystack: &[u8]) -> Vec<(usize, usize)> {
        let mut found = Vec::new();
        table.find_all(patterns, haystack, |s, l| found.push((s, l)));
        found.sort_unstable();
        found.dedup();
        found
    }

    #[test]
    fn short_patterns_are_left_to_the_automaton() {
        assert!(table(&[b"1234567"]).is_none());
        assert!(table(&[]).is_none());
        let t = table(&[b"12345678", b"abc"]).unwrap();
        assert_eq!(t.0.window(), 8);
        assert_eq!(find(&t, b"abc 12345678 abc"), vec![(4, 8)]);
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
