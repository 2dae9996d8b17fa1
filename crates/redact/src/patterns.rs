//! The patterns a redactor masks, stored once: every byte string end to end in
//! one buffer (wiped when dropped), sorted and without duplicates, addressed by
//! index.
//!
//! Why not a `Vec` per pattern: 10,000 secrets with their encodings are about
//! 100,000 patterns of some 35 bytes. One allocation each costs a 24-byte
//! header and the allocator's rounding and bookkeeping, about twice the bytes
//! themselves; here the cost beyond the bytes is one `u32` per pattern.
//!
//! Sorted order also answers "does some pattern begin with these bytes?" by a
//! binary search, with no side table: the patterns that begin with a string
//! sit together, right where the string itself would be.

use zeroize::Zeroizing;

/// Patterns beyond this many bytes in all are refused; it keeps every offset
/// in a `u32` and the automaton's state ids in range.
pub(crate) const MAX_PATTERN_BYTES: usize = 1 << 30;

/// Patterns as they are found: in any order, duplicates and empty ones
/// included. [`Patterns::new`] sorts them out.
#[derive(Default)]
pub(crate) struct PatternList {
    bytes: Zeroizing<Vec<u8>>,
    /// `ends[i]` is where pattern `i` ends in `bytes`; it starts where `i - 1` ends.
    ends: Vec<usize>,
}

impl PatternList {
    pub(crate) fn push(&mut self, pattern: &[u8]) {
        let needed = self.bytes.len() + pattern.len();
        if needed > self.bytes.capacity() {
            // Grown by hand: `Vec`'s own growth would free the old buffer
            // without wiping it. The old one is wiped as it is dropped here.
            let mut grown = Zeroizing::new(Vec::with_capacity(needed.max(2 * self.bytes.capacity())));
            grown.extend_from_slice(&self.bytes);
            self.bytes = grown;
        }
        self.bytes.extend_from_slice(pattern);
        self.ends.push(self.bytes.len());
    }

    /// The patterns in the order pushed.
    #[cfg(test)]
    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> + Clone {
        (0..self.ends.len()).map(|i| self.get(i))
    }

    fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.bytes[start..self.ends[i]]
    }
}

/// Distinct, non-empty patterns in byte order.
pub(crate) struct Patterns {
    bytes: Zeroizing<Vec<u8>>,
    /// `ends[i]` is where pattern `i` ends in `bytes`; it starts where `i - 1` ends.
    ends: Vec<u32>,
    longest: usize,
}

impl Patterns {
    /// Sorts and deduplicates `list`; `None` if the distinct patterns add up
    /// to more than [`MAX_PATTERN_BYTES`].
    pub(crate) fn new(list: PatternList) -> Option<Patterns> {
        let mut order: Vec<usize> = (0..list.ends.len()).filter(|&i| !list.get(i).is_empty()).collect();
        order.sort_unstable_by(|&a, &b| list.get(a).cmp(list.get(b)));
        order.dedup_by(|a, b| list.get(*a) == list.get(*b));
        let total: usize = order.iter().map(|&i| list.get(i).len()).sum();
        if total > MAX_PATTERN_BYTES {
            return None;
        }
        let mut bytes = Zeroizing::new(Vec::with_capacity(total));
        let mut ends = Vec::with_capacity(order.len());
        let mut longest = 0;
        for i in order {
            let pattern = list.get(i);
            longest = longest.max(pattern.len());
            bytes.extend_from_slice(pattern);
            // At most MAX_PATTERN_BYTES (2^30), checked above.
            ends.push(bytes.len() as u32);
        }
        Some(Patterns { bytes, ends, longest })
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    #[inline]
    pub(crate) fn get(&self, id: usize) -> &[u8] {
        let start = if id == 0 { 0 } else { self.ends[id - 1] as usize };
        &self.bytes[start..self.ends[id] as usize]
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = &[u8]> + Clone {
        (0..self.len()).map(|id| self.get(id))
    }

    /// The length of the longest pattern (0 if none).
    pub(crate) fn longest(&self) -> usize {
        self.longest
    }

    /// Whether some pattern begins with `prefix` and is longer: whether a
    /// stream ending in `prefix` could still be completing a match.
    pub(crate) fn extends(&self, prefix: &[u8]) -> bool {
        // The first pattern not below `prefix`; if it is `prefix` itself, the
        // next. Any pattern that extends `prefix` sorts right there.
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let mid = low + (high - low) / 2;
            if self.get(mid) < prefix {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        if low < self.len() && self.get(low) == prefix {
            low += 1;
        }
        low < self.len() && self.get(low).starts_with(prefix)
    }

    /// Heap bytes held.
    pub(crate) fn memory_usage(&self) -> usize {
        self.bytes.capacity() + self.ends.capacity() * size_of::<u32>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(list: &[&[u8]]) -> Patterns {
        let mut l = PatternList::default();
        for p in list {
            l.push(p);
        }
        Patterns::new(l).unwrap()
    }

    #[test]
    fn sorted_distinct_and_not_empty() {
        let p = patterns(&[b"bb", b"a", b"", b"bb", b"ab"]);
        assert_eq!(p.iter().collect::<Vec<_>>(), vec![&b"a"[..], b"ab", b"bb"]);
        assert_eq!(p.longest(), 2);
        let none = patterns(&[b""]);
        assert_eq!((none.len(), none.longest()), (0, 0));
    }

    #[test]
    fn extends_means_a_longer_pattern_begins_with_it() {
        let p = patterns(&[b"TOP_SECRET", b"xyz", b"xy", b"b"]);
        let table: &[(&[u8], bool)] = &[
            (b"TOP_", true),
            (b"TOP_SECRE", true),
            (b"TOP_SECRET", false),
            (b"x", true),
            (b"xy", true), // "xyz"
            (b"xyz", false),
            (b"b", false),
            (b"a", false),
            (b"zz", false),
            (b"", true),
        ];
        for (prefix, want) in table {
            assert_eq!(p.extends(prefix), *want, "{:?}", String::from_utf8_lossy(prefix));
        }
        assert!(!patterns(&[]).extends(b""));
    }
}
