//! The patterns grouped by their first `width` bytes (their window), so that
//! the few that could begin at a given place in the text are found with one
//! hash and two loads.
//!
//! The shift table asks at every zero shift ("which patterns begin with this
//! window of text?") and the hold-back asks once per write for each long
//! suffix of the stream ("does a longer pattern begin with these bytes?").
//! Laid out as one flat array of pattern ids sorted by bucket, with each
//! bucket's start (a compressed sparse row): 4 bytes per pattern and per
//! bucket, where a `HashMap<_, Vec<_>>` costs a heap allocation per entry.

use crate::patterns::Patterns;

pub(crate) struct WindowIndex {
    width: usize,
    bits: u32,
    /// Bucket `b`'s ids are `ids[starts[b]..starts[b + 1]]`.
    starts: Vec<u32>,
    ids: Vec<u32>,
}

impl WindowIndex {
    /// Indexes the patterns at least `width` bytes long (8 to 16) by their
    /// first `width` bytes.
    pub(crate) fn new(patterns: &Patterns, width: usize) -> WindowIndex {
        debug_assert!((8..=16).contains(&width));
        let long = || (0..patterns.len()).filter(|&id| patterns.get(id).len() >= width);
        // About two buckets per pattern: most windows of text land in an
        // empty bucket and are turned away without touching a pattern.
        let bits = (2 * long().count()).next_power_of_two().trailing_zeros().max(4);
        let mut starts = vec![0u32; (1 << bits) + 1];
        for id in long() {
            starts[bucket(&patterns.get(id)[..width], bits) + 1] += 1;
        }
        for b in 1..starts.len() {
            starts[b] += starts[b - 1];
        }
        let mut ids = vec![0u32; starts[1 << bits] as usize];
        let mut next = starts.clone();
        for id in long() {
            let slot = &mut next[bucket(&patterns.get(id)[..width], bits)];
            ids[*slot as usize] = id as u32;
            *slot += 1;
        }
        WindowIndex { width, bits, starts, ids }
    }

    /// The ids of the patterns whose window may be `window` (exactly `width`
    /// bytes): all those whose window it is, and perhaps a few others.
    #[inline]
    pub(crate) fn candidates(&self, window: &[u8]) -> &[u32] {
        let b = bucket(window, self.bits);
        &self.ids[self.starts[b] as usize..self.starts[b + 1] as usize]
    }

    /// Whether a pattern longer than `prefix` (at least `width` bytes long)
    /// begins with it.
    pub(crate) fn extends(&self, patterns: &Patterns, prefix: &[u8]) -> bool {
        self.candidates(&prefix[..self.width]).iter().any(|&id| {
            let pattern = patterns.get(id as usize);
            pattern.len() > prefix.len() && pattern.starts_with(prefix)
        })
    }

    /// Heap bytes held.
    pub(crate) fn memory_usage(&self) -> usize {
        (self.starts.capacity() + self.ids.capacity()) * size_of::<u32>()
    }
}

/// A hash of 8 to 16 bytes, from two (possibly overlapping) 8-byte loads.
#[inline(always)]
fn bucket(window: &[u8], bits: u32) -> usize {
    let head = u64::from_le_bytes(window[..8].try_into().expect("8 bytes"));
    let tail = u64::from_le_bytes(window[window.len() - 8..].try_into().expect("8 bytes"));
    let mixed = (head.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ tail).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    (mixed >> (64 - bits)) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::patterns::PatternList;

    #[test]
    fn candidates_include_every_pattern_with_that_window() {
        let mut list = PatternList::default();
        for p in [&b"0123456789abcdefXYZ"[..], b"0123456789abcdef", b"0123456789abcdeg", b"short"] {
            list.push(p);
        }
        let patterns = Patterns::new(list).unwrap();
        let index = WindowIndex::new(&patterns, 16);
        let found: Vec<&[u8]> =
            index.candidates(b"0123456789abcdef").iter().map(|&id| patterns.get(id as usize)).collect();
        assert!(found.contains(&&b"0123456789abcdef"[..]) && found.contains(&&b"0123456789abcdefXYZ"[..]));
        assert!(!found.contains(&&b"short"[..]));
        assert!(index.extends(&patterns, b"0123456789abcdefX"));
        assert!(index.extends(&patterns, b"0123456789abcdef"));
        assert!(!index.extends(&patterns, b"0123456789abcdefXYZ"));
        assert!(!index.extends(&patterns, b"0123456789abcdefY"));
    }
}
