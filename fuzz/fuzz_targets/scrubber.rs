//! The scrubber on arbitrary secrets, input and chunking: no secret survives
//! and the output does not depend on how the input was cut.
//!
//! Input layout: byte 0 = number of secrets (1–4); then per secret a length
//! byte (1–32) and its bytes; then cut points (one byte each, as offsets
//! modulo the text length) up to a 0xff byte; the rest is the text.
#![no_main]

use hush_redact::Redactor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&count, mut rest)) = data.split_first() else { return };
    let mut secrets = Vec::new();
    for _ in 0..(count % 4 + 1) {
        let Some((&len, tail)) = rest.split_first() else { return };
        let len = usize::from(len % 32 + 1);
        if tail.len() < len {
            return;
        }
        // No `*`: the replacement could otherwise complete a secret.
        let secret: Vec<u8> = tail[..len].iter().map(|&b| if b == b'*' { b'+' } else { b }).collect();
        secrets.push(secret);
        rest = &tail[len..];
    }
    let stop = rest.iter().position(|&b| b == 0xff).unwrap_or(rest.len());
    let (cut_bytes, text) = (&rest[..stop], rest.get(stop + 1..).unwrap_or_default());
    let redactor = Redactor::builder().secrets(&secrets).build().expect("compiles");

    let whole = redactor.redact(text);
    let mut cuts: Vec<usize> = cut_bytes.iter().map(|&c| usize::from(c) % (text.len() + 1)).collect();
    cuts.sort_unstable();
    let mut scrubber = redactor.scrubber();
    let mut chunked = Vec::new();
    let mut at = 0;
    for cut in cuts.into_iter().chain([text.len()]) {
        scrubber.write(&text[at..cut], &mut chunked).unwrap();
        assert!(scrubber.held_back() <= redactor.max_held_back());
        at = cut;
    }
    scrubber.finish(&mut chunked).unwrap();
    assert_eq!(whole, chunked, "output depends on the chunking");
    for secret in &secrets {
        if secret.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        let trimmed = secret.trim_ascii();
        assert!(!whole.windows(trimmed.len()).any(|w| w == trimmed), "a secret survived");
    }
});
