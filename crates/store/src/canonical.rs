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

/// Reads back what the functions above wrote, field by field. `None` from
/// any method means the bytes end early or hold something no encoder wrote.
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.rest.len() < n {
            return None;
        }
        let (head, rest) = self.rest.split_at(n);
        self.rest = rest;
        Some(head)
    }

    pub(crate) fn byte(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    pub(crate) fn u64(&mut self) -> Option<u64> {
        Some(u64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    pub(crate) fn i64(&mut self) -> Option<i64> {
        Some(i64::from_be_bytes(self.take(8)?.try_into().ok()?))
    }

    /// An optional byte string written by [`bytes`].
    pub(crate) fn bytes(&mut self) -> Option<Option<&'a [u8]>> {
        match self.byte()? {
            0 => Some(None),
            1 => {
                let len = u32::from_be_bytes(self.take(4)?.try_into().ok()?) as usize;
                Some(Some(self.take(len)?))
            }
            _ => None,
        }
    }

    /// An optional text written by [`text`]; `None` if it is not UTF-8.
    pub(crate) fn text(&mut self) -> Option<Option<String>> {
        match self.bytes()? {
            None => Some(None),
            Some(b) => Some(Some(std::str::from_utf8(b).ok()?.to_owned())),
        }
    }

    /// An optional integer written by [`integer`].
    pub(crate) fn integer(&mut self) -> Option<Option<i64>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(self.i64()?)),
            _ => None,
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    /// Everything not read yet.
    pub(crate) fn rest(self) -> &'a [u8] {
        self.rest
    }
}
