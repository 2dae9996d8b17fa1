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

use std::ops::Deref;

use zeroize::Zeroize;

/// Patterns beyond this many bytes in all are refused; it keeps every offset
/// in a `u32` and the automaton's state ids in range.
pub(crate) const MAX_PATTERN_BYTES: usize = 1 << 30;

/// Patterns as they are found: in any order, empty ones included, and
/// duplicates unless they come from the same secret. [`Patterns::new`] sorts
/// them out.
#[derive(Default)]
pub(crate) struct PatternList {
    bytes: Bytes,
    /// `ends[i]` is where pattern `i` ends in `bytes`; it starts where `i - 1` ends.
    ends: Vec<usize>,
    /// The first pattern of the current secret.
    secret_start: usize,
}

impl PatternList {
    /// A list with room for `bytes` bytes of patterns. Room never written is
    /// never taken from the system, so an overestimate costs nothing, and
    /// saves copying the list as it grows.
    pub(crate) fn with_capacity(bytes: usize) -> PatternList {
        PatternList { bytes: Bytes(Vec::with_capacity(bytes)), ..PatternList::default() }
    }

    /// Starts the patterns of another secret.
    pub(crate) fn start_secret(&mut self) {
        self.secret_start = self.ends.len();
    }

    /// Adds `pattern` unless the current secret already has it. One secret's
    /// forms often coincide (base64 in both alphabets when neither `+` nor
    /// `/` occurs, URL encoding with nothing to escape, ...): dropping them
    /// here halves the list to sort, and the memory it takes at start-up.
    pub(crate) fn push(&mut self, pattern: &[u8]) {
        if (self.secret_start..self.ends.len()).any(|i| self.get(i) == pattern) {
            return;
        }
        self.bytes.extend(pattern);
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
    bytes: Bytes,
    /// `ends[i]` is where pattern `i` ends in `bytes`; it starts where `i - 1` ends.
    ends: Vec<u32>,
    longest: usize,
}

impl Patterns {
    /// Sorts and deduplicates `list`; `None` if the distinct patterns add up
    /// to more than [`MAX_PATTERN_BYTES`].
    pub(crate) fn new(list: PatternList) -> Option<Patterns> {
        // Sorted by their first 8 bytes as a number first: most comparisons
        // end there, without a call to `memcmp` (sorting was half of the
        // start-up with 10,000 secrets). Zero-padding keeps the two orders
        // consistent: a smaller key means a smaller pattern.
        let mut order: Vec<(u64, usize)> =
            (0..list.ends.len()).filter(|&i| !list.get(i).is_empty()).map(|i| (sort_key(list.get(i)), i)).collect();
        order.sort_unstable_by(|a, b| a.0.cmp(&b.0).then_with(|| list.get(a.1).cmp(list.get(b.1))));
        order.dedup_by(|a, b| list.get(a.1) == list.get(b.1));
        let total: usize = order.iter().map(|&(_, i)| list.get(i).len()).sum();
        if total > MAX_PATTERN_BYTES {
            return None;
        }
        let mut bytes = Bytes(Vec::with_capacity(total));
        let mut ends = Vec::with_capacity(order.len());
        let mut longest = 0;
        for &(_, i) in &order {
            let pattern = list.get(i);
            longest = longest.max(pattern.len());
            bytes.extend(pattern);
            // At most MAX_PATTERN_BYTES (2^30), checked above.
            ends.push(bytes.len() as u32);
        }
        // The keys are the patterns' first 8 bytes: a whole secret, if short.
        order.iter_mut().for_each(|(key, _)| key.zeroize());
        Some(Patterns { bytes, ends, longest })
    }

    /// The patterns of both, sorted and distinct; `None` if the distinct
    /// ones add up to more than [`MAX_PATTERN_BYTES`]. Both are read front
    /// to back once.
    pub(crate) fn merge(a: Patterns, b: Patterns) -> Option<Patterns> {
        // Room for both; patterns they share leave some of it unused, and
        // room never written is never taken from the system.
        let mut bytes = Bytes(Vec::with_capacity(a.bytes.len() + b.bytes.len()));
        let mut ends = Vec::with_capacity(a.len() + b.len());
        let (mut i, mut j) = (0, 0);
        while i < a.len() || j < b.len() {
            let next = if j == b.len() || (i < a.len() && a.get(i) <= b.get(j)) {
                // A pattern both have is taken once.
                if j < b.len() && a.get(i) == b.get(j) {
                    j += 1;
                }
                i += 1;
                a.get(i - 1)
            } else {
                j += 1;
                b.get(j - 1)
            };
            if bytes.len() + next.len() > MAX_PATTERN_BYTES {
                return None;
            }
            bytes.extend(next);
            // At most MAX_PATTERN_BYTES (2^30), checked just above.
            ends.push(bytes.len() as u32);
        }
        Some(Patterns { bytes, ends, longest: a.longest.max(b.longest) })
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
        self.bytes.0.capacity() + self.ends.capacity() * size_of::<u32>()
    }
}

/// Secret-derived bytes, wiped when dropped. Unlike `Zeroizing<Vec<u8>>`, it
/// wipes only the bytes written, not the spare capacity: that was never
/// written, and wiping it would touch, so take from the system, up to as much
/// memory again (10 MiB at start-up with 10,000 secrets).
#[derive(Default)]
struct Bytes(Vec<u8>);

impl Bytes {
    fn extend(&mut self, bytes: &[u8]) {
        let needed = self.0.len() + bytes.len();
        if needed > self.0.capacity() {
            // Grown by hand: `Vec`'s own growth would free the old buffer
            // without wiping it. The old one is wiped as it is dropped here.
            let mut grown = Vec::with_capacity(needed.max(2 * self.0.capacity()));
            grown.extend_from_slice(&self.0);
            drop(std::mem::replace(self, Bytes(grown)));
        }
        self.0.extend_from_slice(bytes);
    }
}

impl Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl Drop for Bytes {
    fn drop(&mut self) {
        self.0.as_mut_slice().zeroize();
    }
}

/// The first 8 bytes, zero-padded, as a big-endian number.
fn sort_key(pattern: &[u8]) -> u64 {
    let mut key = [0u8; 8];
    let n = pattern.len().min(8);
    key[..n].copy_from_slice(&pattern[..n]);
    u64::from_be_bytes(key)
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
        // Zero bytes and shared 8-byte beginnings sort as slices do.
        let tricky: &[&[u8]] = &[b"ab\0", b"ab", b"a\x01", b"12345678b", b"12345678a", b"12345678", b"\0"];
        let mut want: Vec<&[u8]> = tricky.to_vec();
        want.sort_unstable();
        assert_eq!(patterns(tricky).iter().collect::<Vec<_>>(), want);
        assert_eq!(p.longest(), 2);
        let none = patterns(&[b""]);
        assert_eq!((none.len(), none.longest()), (0, 0));
    }

    #[test]
    fn merged_halves_are_the_patterns_of_both() {
        let first: &[&[u8]] = &[b"bb", b"a", b"shared", b"12345678b", b"\0"];
        let second: &[&[u8]] = &[b"shared", b"ab", b"12345678a", b"zz", b"a\x01", b""];
        let merged = Patterns::merge(patterns(first), patterns(second)).unwrap();
        let all: Vec<&[u8]> = first.iter().chain(second).copied().collect();
        let together = patterns(&all);
        assert_eq!(merged.iter().collect::<Vec<_>>(), together.iter().collect::<Vec<_>>());
        assert_eq!(merged.longest(), together.longest());
        // Either side empty.
        let one = Patterns::merge(patterns(first), patterns(&[])).unwrap();
        assert_eq!(one.iter().collect::<Vec<_>>(), patterns(first).iter().collect::<Vec<_>>());
        let other = Patterns::merge(patterns(&[]), patterns(second)).unwrap();
        assert_eq!(other.iter().collect::<Vec<_>>(), patterns(second).iter().collect::<Vec<_>>());
        let none = Patterns::merge(patterns(&[]), patterns(&[])).unwrap();
        assert_eq!((none.len(), none.longest()), (0, 0));
        // The same set on both sides, its last pattern included: kept once.
        let same = Patterns::merge(patterns(second), patterns(second)).unwrap();
        assert_eq!(same.iter().collect::<Vec<_>>(), patterns(second).iter().collect::<Vec<_>>());
    }

    proptest::proptest! {
        #[test]
        fn merging_equals_sorting_both_together(
            first in proptest::collection::vec(proptest::collection::vec(proptest::sample::select(b"ab\0".to_vec()), 0..5), 0..12),
            second in proptest::collection::vec(proptest::collection::vec(proptest::sample::select(b"ab\0".to_vec()), 0..5), 0..12),
        ) {
            fn refs(v: &[Vec<u8>]) -> Vec<&[u8]> {
                v.iter().map(Vec::as_slice).collect()
            }
            let merged = Patterns::merge(patterns(&refs(&first)), patterns(&refs(&second))).unwrap();
            let together = patterns(&[refs(&first), refs(&second)].concat());
            proptest::prop_assert_eq!(merged.iter().collect::<Vec<_>>(), together.iter().collect::<Vec<_>>());
            proptest::prop_assert_eq!(merged.longest(), together.longest());
        }
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
