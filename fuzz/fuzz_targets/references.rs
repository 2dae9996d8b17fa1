//! Reference and dotenv parsing on arbitrary text: never panics, and an
//! error message never contains the text after the scheme.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = hush_inject::Reference::parse(text) {
        let message = e.to_string();
        if let Some((scheme, body)) = text.split_once("://")
            && body.len() >= 8
            // An unknown scheme is named in the message; a body that repeats
            // part of the scheme (the fuzzer finds those) is no echo.
            && !scheme.contains(body)
            // A body that is itself part of a fixed message (the fuzzer finds
            // those) is not an echo.
            && !fixed_messages().iter().any(|m| m.contains(body))
        {
            assert!(!message.contains(body), "the error echoes the reference");
        }
    }
    let _ = hush_inject::dotenv::parse(text);
});

/// The messages errors give for inputs with nothing of the caller's in them.
fn fixed_messages() -> Vec<String> {
    ["x", "s3://x", "env://", "vault://x", "vault://x#", "vault://a//b#f", "vault://m/#f", "op://x", "op://x?y", "hush://B C", "hush://a/b#"]
        .iter()
        .filter_map(|t| hush_inject::Reference::parse(t).err())
        .map(|e| e.to_string())
        .collect()
}
