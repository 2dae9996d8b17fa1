//! Unambiguous byte encodings of records for MACs: every optional field gets
//! a presence byte and every text a length prefix, so no two different
//! records encode the same.

/// Appends an optional text: `0`, or `1`, its length (u32 BE) and its bytes.
pub(crate) fn text(out: &mut Vec<u8>, t: Option<&str>) {
    bytes(out, t.map(str::as_bytes));
}

/// Appends optional bytes: `0`, or `1`, the length (u32 BE) and the bytes.
pub(crate) fn bytes(out: &mut Vec<u8>, b: Option<&[u8]>) {
    match b {
        None => out.push(0),
        Some(b) => {
            out.push(1);
            out.extend_from_slice(&(b.len() as u32).to_be_bytes());
            out.extend_from_slice(b);
        }
    }
}

/// Appends an optional integer: `0`, or `1` and its 8 bytes (BE).
pub(crate) fn integer(out: &mut Vec<u8>, n: Option<i64>) {
    match n {
        None => out.push(0),
        Some(n) => {
            out.push(1);
            out.extend_from_slice(&n.to_be_bytes());
        }
    }
}
