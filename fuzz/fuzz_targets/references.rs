//! Reference and dotenv parsing on arbitrary text: never panics, and an
//! error message never contains the text after the scheme.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = hush_inject::Reference::parse(text) {
        let message = e.to_string();
        if let Some((_, body)) = text.split_once("://")
            && body.len() >= 8
        {
            assert!(!message.contains(body), "the error echoes the reference");
        }
    }
    let _ = hush_inject::dotenv::parse(text);
});
