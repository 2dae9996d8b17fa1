//! Running a redactor over chunked input.

use hush_redact::Redactor;

pub fn redactor(secrets: &[&[u8]]) -> Redactor {
    Redactor::builder().secrets(secrets.iter()).build().expect("compiles")
}

/// Feeds `chunks` one write at a time; returns the whole output.
pub fn scrub_chunks(redactor: &Redactor, chunks: &[&[u8]]) -> Vec<u8> {
    let mut scrubber = redactor.scrubber();
    let mut out = Vec::new();
    for chunk in chunks {
        scrubber.write(chunk, &mut out).unwrap();
        assert!(scrubber.held_back() <= redactor.max_held_back(), "held back more than the longest pattern - 1");
    }
    scrubber.finish(&mut out).unwrap();
    out
}

/// The input cut into single bytes.
pub fn bytewise(input: &[u8]) -> Vec<&[u8]> {
    input.chunks(1).collect()
}

pub fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
