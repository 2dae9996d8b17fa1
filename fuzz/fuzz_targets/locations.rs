//! Registry addresses, image references and git URLs on arbitrary text:
//! never panics; an accepted address has a stable key (parsing its key
//! again gives the same key); an entry always covers itself; and an error
//! message never contains the text (a password pasted into the wrong field).
#![no_main]

use hush_core::{Location, RegistryAddress};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for result in [RegistryAddress::parse(text), RegistryAddress::from_image(text)] {
        match result {
            Ok(address) => {
                let again = RegistryAddress::parse(&address.key()).expect("a key parses");
                assert_eq!(again.key(), address.key(), "keys are stable");
                assert_eq!(address.prefix_len(&address), Some(address.location().path().len()));
            }
            Err(e) => assert_no_echo(&e.to_string(), text),
        }
    }
    match Location::parse(text, &["http", "https"], "url") {
        Ok(location) => assert!(location.prefix_len(&location).is_some(), "a location covers itself"),
        Err(e) => assert_no_echo(&e.to_string(), text),
    }
});

fn assert_no_echo(message: &str, text: &str) {
    let text = text.trim();
    // Text that is itself part of a fixed message (the fuzzer finds those) is no echo.
    if text.len() >= 8 && !fixed_messages().iter().any(|m| m.contains(text)) {
        assert!(!message.contains(text), "the error echoes the input");
    }
}

/// The messages errors give for inputs with nothing of the caller's in them.
fn fixed_messages() -> Vec<String> {
    let long = "h/".repeat(300);
    let inputs = ["", "ftp://x", "https://u@h", "h h", "https://x/y", long.as_str()];
    let mut out = Vec::new();
    for text in inputs {
        out.extend(RegistryAddress::parse(text).err().map(|e| e.to_string()));
        out.extend(RegistryAddress::from_image(text).err().map(|e| e.to_string()));
        out.extend(Location::parse(text, &["http", "https"], "url").err().map(|e| e.to_string()));
    }
    out
}
