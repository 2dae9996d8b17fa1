//! [`Scrubber`]: one output stream's redaction state.
//!
//! Input arrives in chunks cut anywhere. Each chunk is searched twice: by the
//! automaton for the short patterns, byte by byte with its state carried from
//! the previous chunk, and by the shift table for the long ones, with the seam
//! to the previous chunk searched apart. A match marks the bytes it covers,
//! merged with any overlapping or adjacent marked range. After a chunk,
//! everything before the earliest place a match could still begin is written
//! out at once: the bytes that cannot be the start of a secret are never
//! delayed, and what is held back is at most the longest pattern minus one
//! byte. A marked range is written as one replacement, however many chunks it
//! spans.

use std::collections::VecDeque;
use std::io::{self, Write};

use aho_corasick::automaton::StateID;
use zeroize::Zeroizing;

use crate::Redactor;

/// Redacts one stream: feed it with [`Scrubber::write`], end it with
/// [`Scrubber::finish`]. Create one per stream with [`Redactor::scrubber`].
pub struct Scrubber {
    redactor: Redactor,
    /// The automaton's state after the last byte.
    state: StateID,
    /// Stream offset of the next input byte.
    position: u64,
    /// Stream offset of the first byte not yet released.
    released: u64,
    /// The bytes from `released` to `position`: a possible start of a secret,
    /// and all of the stream a match ending in the next chunk can begin in.
    pending: Zeroizing<Vec<u8>>,
    /// Marked ranges not yet wholly released, in order, disjoint.
    masks: VecDeque<Mask>,
    /// End of the last marked range released; a match that begins at or
    /// before it continues that range instead of starting a new one.
    released_mask_end: Option<u64>,
    /// Matches found in the current chunk (kept to reuse the allocation).
    found: Vec<(u64, u64)>,
    /// The stream's last bytes, as many as the longest pattern: all that
    /// decides what a later match may begin with.
    recent: Zeroizing<Vec<u8>>,
    /// `pending` followed by the start of a write (reused allocation).
    seam: Zeroizing<Vec<u8>>,
}

#[derive(Debug, Clone, Copy)]
struct Mask {
    start: u64,
    end: u64,
    /// The replacement for this range has been written.
    replaced: bool,
}

impl std::fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scrubber")
            .field("position", &self.position)
            .field("held_back", &self.held_back())
            .finish_non_exhaustive()
    }
}

impl Scrubber {
    pub(crate) fn new(redactor: Redactor) -> Scrubber {
        Scrubber {
            state: redactor.matcher().start(),
            redactor,
            position: 0,
            released: 0,
            pending: Zeroizing::new(Vec::new()),
            masks: VecDeque::new(),
            released_mask_end: None,
            found: Vec::new(),
            recent: Zeroizing::new(Vec::new()),
            seam: Zeroizing::new(Vec::new()),
        }
    }

    /// How many input bytes are held back, waiting to see whether they begin
    /// a secret.
    pub fn held_back(&self) -> usize {
        self.pending.len()
    }

    /// Scrubs `chunk` and writes out everything that can no longer be part of
    /// a secret. Does not flush `out`.
    pub fn write(&mut self, chunk: &[u8], out: &mut impl Write) -> io::Result<()> {
        let chunk_start = self.position;
        let matcher = self.redactor.matcher();
        let found = &mut self.found;
        found.clear();
        // `end` is relative to the chunk; a match may begin in an earlier one.
        let mut record = |end: usize, len: usize| {
            let end = chunk_start + end as u64;
            found.push((end - len as u64, end));
        };
        self.state = matcher.scan(self.state, chunk, &mut record);
        // The shift table finds the long matches wholly inside the chunk.
        // Those that began earlier begin in the held-back bytes (`pending`:
        // anything before them can begin no match) and end within the
        // longest pattern's length, so they are in the seam of the two.
        let held = self.pending.len();
        if held > 0 {
            let seam = &mut self.seam;
            seam.clear();
            seam.extend_from_slice(&self.pending);
            seam.extend_from_slice(&chunk[..chunk.len().min(matcher.longest_pattern())]);
            matcher.find_long(seam, |start, len| {
                if start < held && start + len > held {
                    record(start + len - held, len);
                }
            });
        }
        matcher.find_long(chunk, |start, len| record(start + len, len));
        self.position += chunk.len() as u64;
        // Ranges found twice, or out of order, merge here.
        self.found.sort_unstable();
        for &(start, end) in &self.found {
            add_mask(&mut self.masks, start, end, self.released_mask_end);
        }
        let keep = matcher.longest_pattern();
        if chunk.len() >= keep {
            self.recent.clear();
            self.recent.extend_from_slice(&chunk[chunk.len() - keep..]);
        } else {
            self.recent.extend_from_slice(chunk);
            let excess = self.recent.len().saturating_sub(keep);
            self.recent.drain(..excess);
        }
        let depth = matcher.depth(&self.recent);
        let until = (self.position - depth as u64).max(self.released);
        self.release(until, chunk, chunk_start, out)
    }

    /// Writes out everything held back: the stream has ended. The scrubber
    /// can then start a new stream.
    pub fn finish(&mut self, out: &mut impl Write) -> io::Result<()> {
        self.release(self.position, &[], self.position, out)?;
        self.state = self.redactor.matcher().start();
        self.released_mask_end = None;
        self.recent.clear();
        Ok(())
    }

    /// Writes the stream from `released` up to `until`, replacing marked
    /// ranges, and keeps the rest (`pending`, then `chunk`) for later.
    fn release(&mut self, until: u64, chunk: &[u8], chunk_start: u64, out: &mut impl Write) -> io::Result<()> {
        let replacement = self.redactor.replacement();
        let mut at = self.released;
        while at < until {
            let next_mask = self.masks.front_mut().filter(|m| m.start < until);
            let Some(mask) = next_mask else {
                self.write_span(at, until, chunk, chunk_start, out)?;
                break;
            };
            if at < mask.start {
                let start = mask.start;
                self.write_span(at, start, chunk, chunk_start, out)?;
            }
            let mask = self.masks.front_mut().expect("the mask just looked at");
            if !mask.replaced {
                out.write_all(replacement)?;
                mask.replaced = true;
            }
            at = mask.end.min(until);
            self.released_mask_end = Some(at);
            if mask.end <= until {
                self.masks.pop_front();
            }
        }
        // Keep [until, position): the tail of `pending`, then of `chunk`.
        let keep_from_pending = until.saturating_sub(self.released) as usize;
        if until <= chunk_start {
            let drop = keep_from_pending.min(self.pending.len());
            self.pending.drain(..drop);
            self.pending.extend_from_slice(chunk);
        } else {
            self.pending.clear();
            self.pending.extend_from_slice(&chunk[(until - chunk_start) as usize..]);
        }
        self.released = until;
        Ok(())
    }

    /// Writes the unmarked stream bytes [from, to), which lie in `pending`
    /// and/or `chunk`.
    fn write_span(&self, from: u64, to: u64, chunk: &[u8], chunk_start: u64, out: &mut impl Write) -> io::Result<()> {
        if from < chunk_start {
            let a = (from - self.released) as usize;
            let b = (to.min(chunk_start) - self.released) as usize;
            out.write_all(&self.pending[a..b])?;
        }
        if to > chunk_start {
            let a = from.max(chunk_start) - chunk_start;
            let b = to - chunk_start;
            out.write_all(&chunk[a as usize..b as usize])?;
        }
        Ok(())
    }
}

/// Marks [start, end), merging it with marks it overlaps or touches. Calls
/// come in order of `start`, and every `end` is past the ends of the marks
/// from earlier chunks (a match is found in the chunk holding its last byte).
fn add_mask(masks: &mut VecDeque<Mask>, mut start: u64, mut end: u64, released_mask_end: Option<u64>) {
    let mut replaced = released_mask_end.is_some_and(|e| start <= e);
    while let Some(last) = masks.back() {
        if last.end < start {
            break;
        }
        start = start.min(last.start);
        end = end.max(last.end);
        replaced |= last.replaced;
        masks.pop_back();
    }
    masks.push_back(Mask { start, end, replaced });
}

#[cfg(test)]
mod tests {
    //! The scrubber against a reference: every occurrence of every pattern,
    //! found in the whole input at once by the `aho-corasick` crate's own
    //! overlapping search, ranges that overlap or touch merged. Whatever the
    //! chunking, the output must be the reference's, and what is held back
    //! after each write exactly the longest tail some longer pattern begins
    //! with.

    use std::collections::BTreeSet;
    use std::sync::OnceLock;

    use aho_corasick::{AhoCorasick, MatchKind};
    use proptest::prelude::*;
    use proptest::test_runner::{RngAlgorithm, TestRng};

    use crate::Redactor;
    use crate::patterns::{PatternList, Patterns};
    use crate::variants::patterns_of;

    struct Reference {
        redactor: Redactor,
        patterns: Patterns,
        search: AhoCorasick,
        sorted: BTreeSet<Vec<u8>>,
    }

    impl Reference {
        fn new(secrets: &[Vec<u8>], encodings: bool) -> Reference {
            let redactor = Redactor::builder().secrets(secrets).encodings(encodings).build().unwrap();
            let mut list = PatternList::default();
            for secret in secrets {
                patterns_of(secret, encodings, &mut list);
            }
            let patterns = Patterns::new(list).unwrap();
            let search = AhoCorasick::builder().match_kind(MatchKind::Standard).build(patterns.iter()).unwrap();
            let sorted = patterns.iter().map(<[u8]>::to_vec).collect();
            Reference { redactor, patterns, search, sorted }
        }

        fn redact(&self, input: &[u8]) -> Vec<u8> {
            let mut ranges: Vec<(usize, usize)> =
                self.search.find_overlapping_iter(input).map(|m| (m.start(), m.end())).collect();
            ranges.sort_unstable();
            let (mut out, mut at, mut i) = (Vec::new(), 0, 0);
            while i < ranges.len() {
                let (start, mut end) = ranges[i];
                while i < ranges.len() && ranges[i].0 <= end {
                    end = end.max(ranges[i].1);
                    i += 1;
                }
                out.extend_from_slice(&input[at..start]);
                out.extend_from_slice(b"***");
                at = end;
            }
            out.extend_from_slice(&input[at..]);
            out
        }

        /// The longest tail of `seen` that a longer pattern begins with.
        fn depth(&self, seen: &[u8]) -> usize {
            let most = seen.len().min(self.patterns.longest().saturating_sub(1));
            (1..=most)
                .rev()
                .find(|&d| {
                    let tail = &seen[seen.len() - d..];
                    // The patterns from `tail` on, `tail` itself skipped: the
                    // first is a longer one beginning with it, if any is.
                    let mut from = self.sorted.range(tail.to_vec()..).filter(|p| &p[..] != tail);
                    from.next().is_some_and(|p| p.starts_with(tail))
                })
                .unwrap_or(0)
        }

        /// Scrubs `input` cut at `cuts`, checking the hold-back after each
        /// write if `check_depth`.
        fn scrub(&self, input: &[u8], cuts: &[usize], check_depth: bool) -> Vec<u8> {
            let mut scrubber = self.redactor.scrubber();
            let mut out = Vec::new();
            let mut at = 0;
            for &cut in cuts.iter().chain([&input.len()]) {
                let cut = cut.clamp(at, input.len());
                scrubber.write(&input[at..cut], &mut out).unwrap();
                at = cut;
                if check_depth {
                    assert_eq!(scrubber.held_back(), self.depth(&input[..at]), "held back after {at} bytes");
                }
            }
            scrubber.finish(&mut out).unwrap();
            out
        }
    }

    fn cuts(len: usize) -> impl Strategy<Value = Vec<usize>> {
        prop::collection::vec(0..=len, 0..12).prop_map(|mut cuts| {
            cuts.sort_unstable();
            cuts
        })
    }

    /// Secrets short and long (the automaton and the shift table both at
    /// work) over a small alphabet, so that overlaps and near-misses are
    /// common; input made of them, their pieces and filler.
    fn small_case() -> impl Strategy<Value = (Vec<Vec<u8>>, bool, Vec<u8>, Vec<usize>)> {
        let secret = prop::collection::vec(prop::sample::select(b"abcx".to_vec()), 1..20);
        let piece = prop::collection::vec(prop::sample::select(b"abcxyz\n".to_vec()), 0..30);
        (prop::collection::vec(secret, 1..5), any::<bool>(), prop::collection::vec(piece, 0..12))
            .prop_map(|(secrets, encodings, pieces)| {
                let mut input = Vec::new();
                for (i, piece) in pieces.iter().enumerate() {
                    input.extend_from_slice(piece);
                    input.extend_from_slice(&secrets[i % secrets.len()]);
                }
                (secrets, encodings, input)
            })
            .prop_flat_map(|(secrets, encodings, input)| {
                let len = input.len();
                (Just(secrets), Just(encodings), Just(input), cuts(len))
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(500))]

        #[test]
        fn small_sets_agree_with_the_reference((secrets, encodings, input, cuts) in small_case()) {
            let reference = Reference::new(&secrets, encodings);
            let want = reference.redact(&input);
            prop_assert_eq!(reference.scrub(&input, &cuts, true), want);
        }
    }

    /// 10,000 random secrets of 16-64 bytes with their encodings, about
    /// 100,000 patterns: compiled once for all cases.
    fn many() -> &'static Reference {
        static MANY: OnceLock<Reference> = OnceLock::new();
        MANY.get_or_init(|| {
            let mut rng = TestRng::deterministic_rng(RngAlgorithm::ChaCha);
            let alphabet = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+/=!@#% \"\\";
            let secrets: Vec<Vec<u8>> = (0..10_000)
                .map(|_| {
                    let len = 16 + rng.next_u32() as usize % 49;
                    (0..len).map(|_| alphabet[rng.next_u32() as usize % alphabet.len()]).collect()
                })
                .collect();
            let reference = Reference::new(&secrets, true);
            assert!(reference.patterns.len() > 80_000, "{} patterns", reference.patterns.len());
            reference
        })
    }

    /// Input for [`many`]: whole patterns (secrets and encoded forms), their
    /// beginnings and ends (near-misses), and log-like filler; up to `pieces`
    /// of them.
    fn many_input(pieces: usize) -> impl Strategy<Value = Vec<u8>> {
        let count = many().patterns.len();
        let piece = prop_oneof![
            (0..count).prop_map(|id| many().patterns.get(id).to_vec()),
            (0..count, 1..16usize).prop_map(|(id, cut)| {
                let p = many().patterns.get(id);
                p[..p.len() - cut.min(p.len() - 1)].to_vec()
            }),
            (0..count, 1..16usize).prop_map(|(id, cut)| {
                let p = many().patterns.get(id);
                p[cut.min(p.len() - 1)..].to_vec()
            }),
            prop::collection::vec(prop::sample::select(b"abcdef0123456789 =\n".to_vec()), 0..80),
        ];
        prop::collection::vec(piece, 0..pieces).prop_map(|pieces| pieces.concat())
    }

    /// Writes of any size, and some of a few bytes.
    fn many_case() -> impl Strategy<Value = (Vec<u8>, Vec<usize>)> {
        many_input(24).prop_flat_map(|input| {
            let len = input.len();
            // Cuts near each other as well as anywhere: writes of a few bytes.
            let near = prop::collection::vec(0..=len.min(64), 0..8);
            (Just(input), cuts(len), near).prop_map(|(input, mut cuts, near)| {
                let base = cuts.first().copied().unwrap_or(0);
                cuts.extend(near.into_iter().map(|d| (base + d).min(input.len())));
                cuts.sort_unstable();
                (input, cuts)
            })
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        #[test]
        fn ten_thousand_secrets_agree_with_the_reference((input, cuts) in many_case()) {
            let reference = many();
            let want = reference.redact(&input);
            prop_assert_eq!(reference.scrub(&input, &cuts, false), want);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]

        /// Writes long enough for the shift table to search in lanes: matches
        /// across the lanes' edges too.
        #[test]
        fn ten_thousand_secrets_in_large_writes((input, cuts) in many_input(3000).prop_flat_map(|input| {
            let len = input.len();
            (Just(input), prop::collection::vec(0..=len, 0..3))
        })) {
            let mut cuts = cuts;
            cuts.sort_unstable();
            let reference = many();
            prop_assert_eq!(reference.scrub(&input, &cuts, false), reference.redact(&input));
        }
    }

    #[test]
    fn ten_thousand_secrets_hold_back_exactly() {
        let reference = many();
        let mut input = b"start ".to_vec();
        for id in (0..reference.patterns.len()).step_by(997) {
            let p = reference.patterns.get(id);
            input.extend_from_slice(&p[..p.len() / 2]);
            input.extend_from_slice(b" x ");
            input.extend_from_slice(p);
        }
        let cuts: Vec<usize> = (0..input.len()).step_by(7).collect();
        assert_eq!(reference.scrub(&input, &cuts, true), reference.redact(&input));
    }
}
