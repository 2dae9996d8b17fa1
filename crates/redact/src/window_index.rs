//! The patterns grouped by their first `width` bytes (their window), so that
//! the few that could begin at a given place in the text are found with one
//! hash and two loads.
//!
//! The shift table asks at every zero shift ("which patterns begin with this
//! window of text?") and the hold-back asks once per write for each long
//! suffix of the stream ("does a longer pattern begin with these bytes?").
//! Laid out as one flat array of pattern ids sorted by bucket, with each
//! bucket's start (a compressed sparse row): 8 bytes per pattern and 4 per
//! bucket, where a `HashMap<_, Vec<_>>` costs a heap allocation per entry.
//!
//! Most windows of text that reach a non-empty bucket share only the bucket
//! with its patterns, not the window. So each id carries a tag, 32 more bits
//! of the window's hash, and a pattern is looked at (a cache miss for its
//! offset, another for its bytes) only when the tags agree.

use crate::patterns::Patterns;

pub(crate) struct WindowIndex {
    width: usize,
    bits: u32,
    /// Bucket `b`'s entries are `entries[starts[b]..starts[b + 1]]`.
    starts: Vec<u32>,
    entries: Vec<Entry>,
}

#[derive(Clone, Copy, Default)]
struct Entry {
    id: u32,
    tag: u32,
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
            let (b, _) = bucket_and_tag(&patterns.get(id)[..width], bits);
            starts[b + 1] += 1;
        }
        for b in 1..starts.len() {
            starts[b] += starts[b - 1];
        }
        let mut entries = vec![Entry::default(); starts[1 << bits] as usize];
        let mut next = starts.clone();
        for id in long() {
            let (b, tag) = bucket_and_tag(&patterns.get(id)[..width], bits);
            entries[next[b] as usize] = Entry { id: id as u32, tag };
            next[b] += 1;
        }
        WindowIndex { width, bits, starts, entries }
    }

    /// The patterns whose window may be `window` (exactly `width` bytes):
    /// all those whose window it is, and perhaps a few others. Only the
    /// bucket is looked up here; its entries are read as the ids are taken.
    #[inline]
    pub(crate) fn candidates(&self, window: &[u8]) -> Candidates<'_> {
        let (b, tag) = bucket_and_tag(window, self.bits);
        Candidates { entries: &self.entries[self.starts[b] as usize..self.starts[b + 1] as usize], tag }
    }

    /// Whether a pattern longer than `prefix` (at least `width` bytes long)
    /// begins with it.
    pub(crate) fn extends(&self, patterns: &Patterns, prefix: &[u8]) -> bool {
        self.candidates(&prefix[..self.width]).any(|id| {
            let pattern = patterns.get(id as usize);
            pattern.len() > prefix.len() && pattern.starts_with(prefix)
        })
    }

    /// Heap bytes held.
    pub(crate) fn memory_usage(&self) -> usize {
        self.starts.capacity() * size_of::<u32>() + self.entries.capacity() * size_of::<Entry>()
    }
}

/// The ids in one bucket whose tag is the window's.
#[derive(Default)]
pub(crate) struct Candidates<'a> {
    entries: &'a [Entry],
    tag: u32,
}

impl Iterator for Candidates<'_> {
    type Item = u32;

    #[inline]
    fn next(&mut self) -> Option<u32> {
        while let Some((entry, rest)) = self.entries.split_first() {
            self.entries = rest;
            if entry.tag == self.tag {
                return Some(entry.id);
            }
        }
        None
    }
}

/// A hash of 8 to 16 bytes, from two (possibly overlapping) 8-byte loads:
/// its top `bits` bits pick the bucket, and 32 bits below them are the tag.
#[inline(always)]
fn bucket_and_tag(window: &[u8], bits: u32) -> (usize, u32) {
    let head = u64::from_le_bytes(window[..8].try_into().expect("8 bytes"));
    let tail = u64::from_le_bytes(window[window.len() - 8..].try_into().expect("8 bytes"));
    let mixed = (head.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ tail).wrapping_mul(0xD6E8_FEB8_6659_FD93);
    ((mixed >> (64 - bits)) as usize, (mixed >> 8) as u32)
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
        let found: Vec<&[u8]> = index.candidates(b"0123456789abcdef").map(|id| patterns.get(id as usize)).collect();
        assert!(found.contains(&&b"0123456789abcdef"[..]) && found.contains(&&b"0123456789abcdefXYZ"[..]));
        assert!(!found.contains(&&b"short"[..]));
        assert!(index.extends(&patterns, b"0123456789abcdefX"));
        assert!(index.extends(&patterns, b"0123456789abcdef"));
        assert!(!index.extends(&patterns, b"0123456789abcdefXYZ"));
        assert!(!index.extends(&patterns, b"0123456789abcdefY"));
    }
}
