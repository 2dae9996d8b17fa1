//! Which byte strings a secret is masked as: the value itself, the value with
//! surrounding whitespace trimmed, each line of a multi-line value, and (for
//! values long enough that their encodings do not look like ordinary text) the
//! encoded forms of each of these.

use crate::encodings::encoded_forms;
use crate::patterns::PatternList;

/// Values shorter than this are masked only as themselves: the base64 or URL
/// encoding of a 3-byte value is 4 characters that occur in unrelated text.
pub const MIN_ENCODED_LEN: usize = 6;

/// About the most pattern bytes a secret makes per byte of its own: the
/// value, trimmed and line by line (at most 3 times its length), each with
/// up to 18 base64 forms of 4/3 its length and 5 URL and JSON forms of up to
/// 6 times its length, once duplicates are dropped.
pub(crate) fn pattern_bytes_per_byte(encodings: bool) -> usize {
    if encodings { 48 } else { 3 }
}

/// Whether a secret has nothing to mask (empty or only whitespace).
pub(crate) fn is_blank(secret: &[u8]) -> bool {
    secret.iter().all(u8::is_ascii_whitespace)
}

/// Appends every pattern `secret` is masked as (duplicates included).
pub(crate) fn patterns_of(secret: &[u8], encodings: bool, out: &mut PatternList) {
    if is_blank(secret) {
        return;
    }
    out.start_secret();
    let mut plain: Vec<&[u8]> = vec![secret, secret.trim_ascii()];
    plain.extend(secret.split(|&b| b == b'\n' || b == b'\r').map(<[u8]>::trim_ascii).filter(|line| !line.is_empty()));
    // A one-line value without surrounding blanks is its own trimmed form and
    // line: encode each distinct form once.
    plain.sort_unstable();
    plain.dedup();
    for form in plain {
        out.push(form);
        if encodings && form.len() >= MIN_ENCODED_LEN {
            encoded_forms(form, out);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns(secret: &[u8], encodings: bool) -> Vec<Vec<u8>> {
        let mut out = PatternList::default();
        patterns_of(secret, encodings, &mut out);
        out.iter().map(|p| p.to_vec()).collect()
    }

    #[test]
    fn blank_secrets_have_no_patterns() {
        for secret in [&b""[..], b" ", b"\n\t \r\n"] {
            assert!(is_blank(secret));
            assert!(patterns(secret, true).is_empty());
        }
    }

    #[test]
    fn trimmed_value_and_each_line_are_patterns() {
        let got = patterns(b"  line1\r\n line2 \n\n", false);
        for want in [&b"  line1\r\n line2 \n\n"[..], b"line1\r\n line2", b"line1", b"line2"] {
            assert!(got.contains(&want.to_vec()), "{want:?} missing");
        }
    }

    #[test]
    fn short_values_have_no_encoded_forms() {
        let got = patterns(b"abcde", true);
        assert!(got.iter().all(|p| p == b"abcde"), "{got:?}");
        assert!(patterns(b"abcdef", true).len() > 3);
    }
}
