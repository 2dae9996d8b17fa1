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

/// Every message is one of the fixed templates with numbers filled in, so
/// it can carry nothing of the input but positions and lengths.
fn assert_no_echo(message: &str, _text: &str) {
    let shape = digits_as_hash(message);
    assert!(templates().contains(&shape), "an error message that is not a fixed template: {message}");
}

/// Each run of digits becomes one `#`.
fn digits_as_hash(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}

/// The messages for inputs that hit every error of every parser.
fn templates() -> Vec<String> {
    let long = "h/".repeat(300);
    let inputs = ["", "https://", "/x", "ftp://x", "https://u@h", "h h", "https://x/../y", "x/../y", long.as_str()];
    let mut out = Vec::new();
    for text in inputs {
        out.extend(RegistryAddress::parse(text).err().map(|e| digits_as_hash(&e.to_string())));
        out.extend(RegistryAddress::from_image(text).err().map(|e| digits_as_hash(&e.to_string())));
        out.extend(Location::parse(text, &["http", "https"], "url").err().map(|e| digits_as_hash(&e.to_string())));
    }
    out
}
