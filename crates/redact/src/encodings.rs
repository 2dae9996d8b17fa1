//! The encoded forms of a secret that are masked besides the secret itself:
//! base64 at each of the three byte alignments (standard and URL-safe
//! alphabets, with and without padding), URL encoding, and JSON string
//! escaping.
//!
//! Every function appends to `out` and may append forms equal to the input or
//! to each other; [`Patterns::new`](crate::patterns::Patterns::new)
//! deduplicates. Intermediate encodings are wiped when dropped.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_encode};
use zeroize::Zeroizing;

use crate::patterns::PatternList;

/// Every encoded form of `secret`.
pub(crate) fn encoded_forms(secret: &[u8], out: &mut PatternList) {
    base64_forms(secret, out);
    url_forms(secret, out);
    json_forms(secret, out);
}

/// The base64 text a secret becomes inside a longer base64 stream.
///
/// When the secret starts `k` bytes into a 3-byte group (k = 0, 1, 2), the
/// first characters of its encoding mix in bits of the bytes before it and the
/// last one mixes in bits of the bytes after it. Only the characters made
/// purely of the secret's bits are certain, so that middle part is the pattern.
/// When the secret ends the stream, its last character and the padding are
/// certain too, so the full tail (with and without `=`) is a pattern as well.
fn base64_forms(secret: &[u8], out: &mut PatternList) {
    let mut shifted = Zeroizing::new(Vec::with_capacity(secret.len() + 2));
    for k in 0..3usize {
        shifted.clear();
        shifted.resize(k, 0);
        shifted.extend_from_slice(secret);
        // Character c covers bits [6c, 6c + 6); the secret covers [8k, 8(k + n)).
        let first = (8 * k).div_ceil(6);
        let certain_end = (8 * (k + secret.len())) / 6;
        // Encoded once (it is most of the start-up's encoding work): the
        // unpadded text is the padded one without its `=`, and the URL-safe
        // alphabet differs from the standard one only in `-` and `_` for `+`
        // and `/`.
        let mut text = Zeroizing::new(STANDARD.encode(&shifted[..]).into_bytes());
        let unpadded_end = text.len() - text.iter().rev().take_while(|&&b| b == b'=').count();
        for url_safe in [false, true] {
            if url_safe {
                to_url_safe(&mut text);
            }
            out.push(&text[first..certain_end]);
            out.push(&text[first..unpadded_end]);
            out.push(&text[first..]);
        }
    }
}

/// Standard base64 text into the URL-safe alphabet.
fn to_url_safe(text: &mut [u8]) {
    for b in text {
        *b = match *b {
            b'+' => b'-',
            b'/' => b'_',
            other => other,
        };
    }
}

/// RFC 3986 unreserved characters are left alone; everything else is escaped.
const RFC3986: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// URL encoding as RFC 3986 writes it (upper-case hex), as some encoders
/// write it (lower-case hex), and as HTML forms write it (`+` for a space).
fn url_forms(secret: &[u8], out: &mut PatternList) {
    let upper = Zeroizing::new(percent_encode(secret, RFC3986).to_string().into_bytes());
    out.push(&Zeroizing::new(lower_hex_escapes(&upper)));
    if secret.contains(&b' ') {
        out.push(&Zeroizing::new(replace_all(&upper, b"%20", b"+")));
    }
    out.push(&upper);
}

/// `%2F` → `%2f`, leaving everything else as it is.
fn lower_hex_escapes(encoded: &[u8]) -> Vec<u8> {
    let mut lowered = encoded.to_vec();
    let mut i = 0;
    while i < lowered.len() {
        if lowered[i] == b'%' {
            for b in lowered.iter_mut().skip(i + 1).take(2) {
                b.make_ascii_lowercase();
            }
            i += 3;
        } else {
            i += 1;
        }
    }
    lowered
}

fn replace_all(haystack: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut result = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(from) {
            result.extend_from_slice(to);
            i += from.len();
        } else {
            result.push(haystack[i]);
            i += 1;
        }
    }
    result
}

/// The secret inside a JSON string: as serde_json and most encoders write it,
/// and with every non-ASCII character as a `\uXXXX` escape (Python's default).
/// A secret that is not UTF-8 cannot appear in JSON text as itself.
fn json_forms(secret: &[u8], out: &mut PatternList) {
    let Ok(text) = std::str::from_utf8(secret) else { return };
    let mut quoted = Zeroizing::new(Vec::with_capacity(secret.len() + 8));
    // Writing a &str into a Vec cannot fail.
    if serde_json::to_writer(&mut *quoted, text).is_err() {
        return;
    }
    let escaped = Zeroizing::new(quoted[1..quoted.len() - 1].to_vec());
    if !text.is_ascii() {
        let mut ascii = Zeroizing::new(Vec::with_capacity(escaped.len() * 2));
        let mut units = [0u16; 2];
        for ch in std::str::from_utf8(&escaped).unwrap_or_default().chars() {
            if ch.is_ascii() {
                ascii.push(ch as u8);
            } else {
                for unit in ch.encode_utf16(&mut units) {
                    ascii.extend_from_slice(format!("\\u{unit:04x}").as_bytes());
                }
            }
        }
        out.push(&ascii);
    }
    out.push(&escaped);
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

    fn forms(f: fn(&[u8], &mut PatternList), secret: &[u8]) -> Vec<String> {
        let mut out = PatternList::default();
        f(secret, &mut out);
        out.iter().map(|p| String::from_utf8(p.to_vec()).unwrap()).collect()
    }

    #[test]
    fn base64_forms_are_the_certain_characters_at_each_alignment() {
        let forms = forms(base64_forms, b"Password123!");
        // Every alignment's certain middle part occurs in the encoding of the
        // secret behind 0, 1 and 2 arbitrary bytes and before arbitrary bytes.
        for prefix in [&b""[..], b"u", b"us"] {
            for suffix in [&b""[..], b"\n", b"xy"] {
                let text = STANDARD.encode([prefix, b"Password123!".as_slice(), suffix].concat());
                assert!(forms.iter().any(|f| text.contains(f.as_str())), "{prefix:?} {suffix:?}: {text}");
            }
        }
        assert!(forms.contains(&"UGFzc3dvcmQxMjMh".to_string()));
    }

    #[test]
    fn base64_tail_forms_cover_the_padding() {
        let forms = forms(base64_forms, b"secret1");
        assert!(forms.contains(&STANDARD.encode(b"secret1")), "{forms:?}");
        assert!(forms.contains(&STANDARD_NO_PAD.encode(b"secret1")));
    }

    #[test]
    fn url_safe_text_is_the_url_safe_encoding() {
        let bytes: Vec<u8> = (0..=255).collect();
        let mut text = STANDARD.encode(&bytes).into_bytes();
        to_url_safe(&mut text);
        assert_eq!(text, URL_SAFE.encode(&bytes).into_bytes());
    }

    #[test]
    fn url_safe_alphabet_is_covered() {
        let secret = [0xfb, 0xff, 0xfe, 0xfb, 0xff, 0xfe];
        let forms = forms(base64_forms, &secret);
        assert!(forms.contains(&URL_SAFE_NO_PAD.encode(secret)));
        assert!(forms.contains(&STANDARD_NO_PAD.encode(secret)));
    }

    #[test]
    fn url_forms_cover_rfc3986_lower_hex_and_forms() {
        let forms = forms(url_forms, b"p@ss w/rd~");
        assert!(forms.contains(&"p%40ss%20w%2Frd~".to_string()), "{forms:?}");
        assert!(forms.contains(&"p%40ss%20w%2frd~".to_string()));
        assert!(forms.contains(&"p%40ss+w%2Frd~".to_string()));
    }

    #[test]
    fn json_forms_escape_like_encoders_do() {
        let forms = forms(json_forms, "a\"b\\c\nd\u{1}é".as_bytes());
        assert!(forms.contains(&"a\\\"b\\\\c\\nd\\u0001é".to_string()), "{forms:?}");
        assert!(forms.contains(&"a\\\"b\\\\c\\nd\\u0001\\u00e9".to_string()));
    }

    #[test]
    fn json_forms_skip_non_utf8() {
        assert!(forms(json_forms, &[0xff, 0xfe, b'a']).is_empty());
    }
}
