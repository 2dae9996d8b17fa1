//! The backup file, version 2: both stores as rows ([`hush_store::dump`]),
//! the same whichever backend they came from or go to, encrypted in
//! frames so it can be written and read as a stream.
//!
//! ```text
//! file   = "HUSHBAK2" | u32 length | wrapped backup key | frame ...
//! frame  = u8 last (0 or 1) | u32 length | sealed
//! sealed = XChaCha20-Poly1305 under the backup key, bound to
//!          "HUSHBAK2" | u64 frame number | last
//! ```
//!
//! (integers big-endian). The backup key is fresh for each backup and
//! wrapped by the installation's root key or KMS. Binding each frame to its
//! number and to whether it is the last means frames cannot be dropped,
//! reordered or cut off at the end without the restore noticing. The
//! frame structure itself is visible, so `hush admin backup` can tell a
//! complete download from a cut one without any key ([`FileShape`]).
//!
//! Inside, the frames' plaintexts together are JSON lines: a header
//! (`{"hush_backup": 2, ...}`), then for each table `{"table", "store",
//! "rows"}` followed by its rows, each an array of its cells (integers,
//! strings, bytes as base64, null).

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use hush_store::dump::{Cell, Kind, TableSpec};
use serde_json::Value;
use zeroize::Zeroizing;

/// The file's first bytes.
pub const MAGIC: &[u8; 8] = b"HUSHBAK2";
/// What the wrapped backup key is bound to.
pub const KEY_BINDING: &[u8] = b"hush/backup-key/v2";
/// Plaintext bytes a frame holds before it is sealed.
pub const FRAME_PLAINTEXT: usize = 1 << 20;
/// The largest frame a reader accepts (a frame is sealed at about
/// [`FRAME_PLAINTEXT`], plus one row that may cross it).
pub const MAX_FRAME: usize = 64 << 20;

/// What a frame's seal is bound to.
pub fn frame_binding(number: u64, last: bool) -> [u8; 17] {
    let mut aad = [0u8; 17];
    aad[..8].copy_from_slice(MAGIC);
    aad[8..16].copy_from_slice(&number.to_be_bytes());
    aad[16] = u8::from(last);
    aad
}

/// A frame as it goes into the file.
pub fn frame(last: bool, sealed: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + sealed.len());
    out.push(u8::from(last));
    out.extend_from_slice(&(sealed.len() as u32).to_be_bytes());
    out.extend_from_slice(sealed);
    out
}

/// One row as a JSON line (with its newline), into `out`.
pub fn encode_row(cells: &[Cell], out: &mut Zeroizing<Vec<u8>>) {
    let values: Vec<Value> = cells
        .iter()
        .map(|cell| match cell {
            Cell::Null => Value::Null,
            Cell::Int(v) => Value::from(*v),
            Cell::Text(t) => Value::from(t.as_str()),
            Cell::Bytes(b) => Value::from(BASE64.encode(b)),
        })
        .collect();
    // Serialising a Value into a Vec cannot fail.
    let _ = serde_json::to_writer(&mut **out, &values);
    out.push(b'\n');
}

/// A row read back, its cells by the table's column kinds; `None` when it does not fit.
pub fn decode_row(spec: &TableSpec, line: &Value) -> Option<Vec<Cell>> {
    let values = line.as_array()?;
    if values.len() != spec.columns.len() {
        return None;
    }
    spec.columns
        .iter()
        .zip(values)
        .map(|((_, kind), value)| match (kind, value) {
            (_, Value::Null) => Some(Cell::Null),
            (Kind::Int, Value::Number(n)) => n.as_i64().map(Cell::Int),
            (Kind::Text, Value::String(s)) => Some(Cell::Text(s.clone())),
            (Kind::Bytes, Value::String(s)) => BASE64.decode(s).ok().map(Cell::Bytes),
            _ => None,
        })
        .collect()
}

/// Follows a backup file's frames as its bytes arrive, without any key:
/// whether it is a version-2 backup and ends with its last frame.
#[derive(Debug, Default)]
pub struct FileShape {
    /// Bytes of the part being read (magic, a length, a frame head).
    head: Vec<u8>,
    stage: Stage,
    /// Bytes still to skip (the wrapped key, a frame's body).
    skip: u64,
    ended: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Stage {
    #[default]
    Magic,
    KeyLength,
    FrameHead,
}

impl FileShape {
    /// Takes the next bytes of the file.
    pub fn feed(&mut self, mut bytes: &[u8]) -> Result<(), &'static str> {
        while !bytes.is_empty() {
            if self.ended {
                return Err("the backup has data after its last frame");
            }
            if self.skip > 0 {
                let n = usize::try_from(self.skip).unwrap_or(usize::MAX).min(bytes.len());
                self.skip -= n as u64;
                bytes = &bytes[n..];
                if self.skip == 0 && self.stage == Stage::FrameHead && self.head.first() == Some(&1) {
                    self.ended = true;
                }
                if self.skip == 0 {
                    self.head.clear();
                }
                continue;
            }
            let want = match self.stage {
                Stage::Magic => 8,
                Stage::KeyLength => 4,
                Stage::FrameHead => 5,
            };
            let n = (want - self.head.len()).min(bytes.len());
            self.head.extend_from_slice(&bytes[..n]);
            bytes = &bytes[n..];
            if self.head.len() < want {
                continue;
            }
            let length = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
            match self.stage {
                Stage::Magic if self.head != MAGIC => return Err("not a hush backup (version 2)"),
                Stage::Magic => {
                    self.stage = Stage::KeyLength;
                    self.head.clear();
                }
                Stage::KeyLength => {
                    self.skip = u64::from(length(&self.head));
                    self.stage = Stage::FrameHead;
                    self.head.clear();
                }
                Stage::FrameHead => {
                    if self.head[0] > 1 || length(&self.head[1..]) as usize > MAX_FRAME {
                        return Err("the backup has a damaged frame");
                    }
                    // The head stays until the body is skipped: its first byte says whether it is the last.
                    self.skip = u64::from(length(&self.head[1..]));
                    if self.skip == 0 {
                        return Err("the backup has an empty frame");
                    }
                }
            }
        }
        Ok(())
    }

    /// Whether the file, as fed, is a whole backup.
    pub fn finish(&self) -> Result<(), &'static str> {
        if self.ended { Ok(()) } else { Err("the backup is cut off (it does not end with its last frame)") }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(frames: &[(bool, usize)]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        out.extend_from_slice(&3u32.to_be_bytes());
        out.extend_from_slice(b"key");
        for (last, len) in frames {
            out.extend(frame(*last, &vec![7u8; *len]));
        }
        out
    }

    fn shape_of(bytes: &[u8], piece: usize) -> Result<(), &'static str> {
        let mut shape = FileShape::default();
        for chunk in bytes.chunks(piece) {
            shape.feed(chunk)?;
        }
        shape.finish()
    }

    #[test]
    fn a_whole_file_is_whole_however_it_arrives() {
        let whole = file(&[(false, 40), (false, 3), (true, 17)]);
        for piece in [1, 2, 5, 7, 64, whole.len()] {
            assert_eq!(shape_of(&whole, piece), Ok(()), "pieces of {piece}");
        }
    }

    #[test]
    fn cut_damaged_or_foreign_files_are_told_apart() {
        let whole = file(&[(false, 40), (true, 17)]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (whole[..whole.len() - 1].to_vec(), "cut off"),
            (file(&[(false, 40)]), "cut off"),
            (whole[..8].to_vec(), "cut off"),
            ([whole.clone(), vec![0]].concat(), "after its last frame"),
            (b"HUSHBAK1rest".to_vec(), "not a hush backup"),
            (file(&[(false, 0), (true, 1)]), "empty frame"),
            ([file(&[]), vec![2, 0, 0, 0, 1, 0]].concat(), "damaged frame"),
        ];
        for (bytes, expected) in cases {
            let got = shape_of(&bytes, 3).unwrap_err();
            assert!(got.contains(expected), "{got} / {expected}");
        }
    }

    #[test]
    fn rows_round_trip_by_their_kinds() {
        let spec = &hush_store::dump::TABLES
            [hush_store::dump::table_index(hush_store::dump::StoreKind::Keys, "namespace_keys").unwrap()];
        let cells = vec![Cell::Text("ns".into()), Cell::Int(-3), Cell::Bytes(vec![0, 255, 10]), Cell::Null];
        let mut out = Zeroizing::new(Vec::new());
        encode_row(&cells, &mut out);
        assert_eq!(out.last(), Some(&b'\n'));
        let line: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(decode_row(spec, &line), Some(cells));
        for bad in [r#"["ns", "x", "AAE=", 1]"#, r#"["ns", 1, "AAE=", 1, 5]"#, r#"["ns", 1, "!!", 1]"#, "{}"] {
            assert_eq!(decode_row(spec, &serde_json::from_str(bad).unwrap()), None, "{bad}");
        }
    }
}
