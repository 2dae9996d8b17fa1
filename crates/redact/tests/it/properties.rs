//! Properties over random secrets and random chunkings: the output never
//! contains a secret, equals the input when no secret occurs, and does not
//! depend on how the input was cut into writes.

use hush_redact::Redactor;
use proptest::prelude::*;

use crate::support::scrub_chunks;

/// Small alphabets make overlaps, shared prefixes and near-misses common.
/// No `*` (the replacement) and no whitespace (so a secret is its own trimmed
/// form and single line).
fn secret() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(prop::sample::select(b"abcx\x00\xff".to_vec()), 1..10)
}

#[derive(Debug, Clone)]
enum Piece {
    Filler(Vec<u8>),
    Secret(usize),
}

/// The input: runs of filler bytes with secrets spliced in.
fn input(secrets: Vec<Vec<u8>>) -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<u8>)> {
    let filler = prop::collection::vec(prop::sample::select(b"abcxyz\n\r\x00\xff".to_vec()), 0..8);
    let piece = prop_oneof![filler.prop_map(Piece::Filler), (0..secrets.len()).prop_map(Piece::Secret)];
    prop::collection::vec(piece, 0..24).prop_map(move |pieces| {
        let mut text = Vec::new();
        for piece in pieces {
            match piece {
                Piece::Filler(bytes) => text.extend_from_slice(&bytes),
                Piece::Secret(i) => text.extend_from_slice(&secrets[i]),
            }
        }
        (secrets.clone(), text)
    })
}

fn cuts(len: usize) -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(0..=len, 0..8).prop_map(|mut v| {
        v.sort_unstable();
        v
    })
}

fn chunks<'a>(text: &'a [u8], cuts: &[usize]) -> Vec<&'a [u8]> {
    let mut out = Vec::new();
    let mut at = 0;
    for &c in cuts {
        out.push(&text[at..c]);
        at = c;
    }
    out.push(&text[at..]);
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn case() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<u8>, Vec<usize>)> {
    prop::collection::vec(secret(), 1..4).prop_flat_map(input).prop_flat_map(|(secrets, text)| {
        let len = text.len();
        (Just(secrets), Just(text), cuts(len))
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn output_never_contains_a_secret((secrets, text, cuts) in case(), encodings in any::<bool>()) {
        let r = Redactor::builder().secrets(&secrets).encodings(encodings).build().unwrap();
        let out = scrub_chunks(&r, &chunks(&text, &cuts));
        for s in &secrets {
            prop_assert!(!contains(&out, s), "secret {:?} survived in {:?}", s, out);
        }
        let whole = scrub_chunks(&r, &[&text]);
        prop_assert_eq!(&out, &whole, "output depends on the chunking");
    }

    #[test]
    fn copying_gives_what_one_write_gives((secrets, text, cuts) in case()) {
        // `copy` reads on a thread of its own into three buffers going
        // round: up to nine reads here, in the pieces the cuts make.
        struct Pieces(std::collections::VecDeque<Vec<u8>>);
        impl std::io::Read for Pieces {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let Some(piece) = self.0.pop_front() else { return Ok(0) };
                buf[..piece.len()].copy_from_slice(&piece);
                Ok(piece.len())
            }
        }
        let r = Redactor::builder().secrets(&secrets).build().unwrap();
        // Empty pieces would read as the end of the input.
        let pieces = chunks(&text, &cuts).into_iter().filter(|c| !c.is_empty()).map(<[u8]>::to_vec).collect();
        let mut out = Vec::new();
        let read = r.copy(Pieces(pieces), &mut out).unwrap();
        prop_assert_eq!(read, text.len() as u64);
        prop_assert_eq!(out, scrub_chunks(&r, &[&text]));
    }

    #[test]
    fn output_equals_input_without_secrets((secrets, text, cuts) in case()) {
        let r = Redactor::builder().secrets(&secrets).encodings(false).build().unwrap();
        let out = scrub_chunks(&r, &chunks(&text, &cuts));
        if secrets.iter().all(|s| !contains(&text, s)) {
            prop_assert_eq!(out, text);
        } else {
            prop_assert_ne!(out, text);
        }
    }

    #[test]
    fn encoded_secrets_do_not_survive(
        secret in prop::collection::vec(any::<u8>(), 6..40),
        prefix in prop::collection::vec(any::<u8>(), 0..5),
        suffix in prop::collection::vec(any::<u8>(), 0..5),
        url_safe in any::<bool>(),
    ) {
        use base64::Engine as _;
        let engine = if url_safe { base64::engine::general_purpose::URL_SAFE } else { base64::engine::general_purpose::STANDARD };
        let plain = [&prefix[..], &secret[..], &suffix[..]].concat();
        let encoded = engine.encode(&plain);
        let r = Redactor::builder().secret(&secret).build().unwrap();
        let out = r.redact(encoded.as_bytes());
        // The characters made only of the secret's bits must be gone; at most
        // those that mix in neighbouring bytes remain.
        let first = (8 * prefix.len()).div_ceil(6);
        let last = 8 * (prefix.len() + secret.len()) / 6;
        let certain = &encoded.as_bytes()[first..last];
        prop_assert!(!contains(&out, certain), "{:?} survived in {:?}", String::from_utf8_lossy(certain), String::from_utf8_lossy(&out));
        prop_assert!(out.len() < encoded.len());
    }
}

/// Secrets long enough for the shift table, which skips text in large writes;
/// single-byte writes go through the automaton alone.
fn long_case() -> impl Strategy<Value = (Vec<Vec<u8>>, Vec<u8>, Vec<usize>)> {
    let long_secret = prop::collection::vec(prop::sample::select(b"abcdx".to_vec()), 8..20);
    prop::collection::vec(long_secret, 1..6)
        .prop_flat_map(input)
        .prop_map(|(secrets, text)| {
            // Long stretches of filler between the pieces.
            let mut padded = Vec::new();
            for (i, b) in text.iter().enumerate() {
                padded.push(*b);
                if i % 7 == 0 {
                    padded.extend_from_slice(b"zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
                }
            }
            (secrets, padded)
        })
        .prop_flat_map(|(secrets, text)| {
            let len = text.len();
            (Just(secrets), Just(text), cuts(len))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn skipping_search_agrees_with_the_automaton((secrets, text, cuts) in long_case(), encodings in any::<bool>()) {
        let r = Redactor::builder().secrets(&secrets).encodings(encodings).build().unwrap();
        let fast = scrub_chunks(&r, &chunks(&text, &cuts));
        let slow = scrub_chunks(&r, &crate::support::bytewise(&text));
        prop_assert_eq!(&fast, &slow);
        for s in &secrets {
            prop_assert!(!contains(&fast, s), "secret {:?} survived", s);
        }
    }
}
