//! How much of the end of a stream could be the beginning of a secret: the
//! longest suffix of the last bytes that is a proper prefix of some pattern.
//!
//! Kept as a set of hashes of every proper prefix, so that the answer needs
//! neither the automaton (which is then compiled only if small writes need
//! it) nor a walk per candidate length: one pass over at most the longest
//! pattern's length of bytes. A hash collision can only make the answer
//! longer (more held back), never shorter.

use std::collections::HashSet;
use std::hash::BuildHasherDefault;

use crate::encodings::PatternBytes;
use crate::matcher::IdHasher;

/// Polynomial hash base (odd, so powers never vanish modulo 2^64).
const BASE: u64 = 0x100_0000_01B3;
/// Mixes the length in, so equal hashes of different lengths stay apart.
const LENGTH_MIX: u64 = 0x9E37_79B9_7F4A_7C15;

pub(crate) struct PrefixSet {
    hashes: HashSet<u64, BuildHasherDefault<IdHasher>>,
    longest: usize,
}

impl PrefixSet {
    pub(crate) fn new(patterns: &[PatternBytes]) -> PrefixSet {
        let total: usize = patterns.iter().map(|p| p.len()).sum();
        let mut hashes = HashSet::with_capacity_and_hasher(total, BuildHasherDefault::default());
        let mut longest = 0;
        for pattern in patterns {
            longest = longest.max(pattern.len());
            let mut hash = 0u64;
            for (i, &byte) in pattern[..pattern.len() - 1].iter().enumerate() {
                hash = hash.wrapping_mul(BASE).wrapping_add(u64::from(byte) + 1);
                hashes.insert(key(hash, i + 1));
            }
        }
        PrefixSet { hashes, longest }
    }

    /// The length of the longest suffix of `recent` that is a proper prefix
    /// of some pattern (0 if none).
    pub(crate) fn longest_suffix(&self, recent: &[u8]) -> usize {
        let mut hash = 0u64;
        let mut power = 1u64;
        let mut best = 0;
        for (d, &byte) in recent.iter().rev().take(self.longest.saturating_sub(1)).enumerate() {
            // hash(s) for s = the last d+1 bytes, built from hash(last d bytes).
            hash = hash.wrapping_add((u64::from(byte) + 1).wrapping_mul(power));
            power = power.wrapping_mul(BASE);
            if self.hashes.contains(&key(hash, d + 1)) {
                best = d + 1;
            }
        }
        best
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.hashes.capacity() * (size_of::<u64>() + 1)
    }
}

fn key(hash: u64, len: usize) -> u64 {
    hash ^ (len as u64).wrapping_mul(LENGTH_MIX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use zeroize::Zeroizing;

    #[test]
    fn longest_suffix_that_is_a_proper_prefix() {
        let set = PrefixSet::new(&[Zeroizing::new(b"TOP_SECRET".to_vec()), Zeroizing::new(b"xyz".to_vec())]);
        let table: &[(&[u8], usize)] = &[
            (b"hello TOP_", 4),
            (b"hello TOP_SECRE", 9),
            (b"hello TOP_SECRET", 1), // the final T could begin another
            (b"hello world\n", 0),
            (b"a xy", 2),
            (b"a xyz", 0),
            (b"T", 1),
            (b"", 0),
        ];
        for (recent, want) in table {
            assert_eq!(set.longest_suffix(recent), *want, "{:?}", String::from_utf8_lossy(recent));
        }
    }
}
