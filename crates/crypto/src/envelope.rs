//! The AEAD envelope: `format(1) || nonce(24) || ciphertext || tag(16)`.
//!
//! XChaCha20-Poly1305 with a random 192-bit nonce per seal, so nonces can be
//! drawn at random for the life of a key without a collision budget to track.
//! The format byte lets a future algorithm live beside this one.

use chacha20poly1305::aead::{AeadInOut, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use hush_core::SecretBytes;
use zeroize::Zeroizing;

use crate::{RandomError, random_bytes};

/// Format byte for XChaCha20-Poly1305.
const FORMAT_XCHACHA: u8 = 1;
const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
/// Bytes an envelope adds to its plaintext.
pub const OVERHEAD: usize = 1 + NONCE_LEN + TAG_LEN;

/// An envelope did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OpenError {
    /// Too short, or an unknown format byte.
    #[error("ciphertext is malformed")]
    Malformed,
    /// Wrong key, wrong associated data, or tampered bytes.
    #[error("ciphertext failed authentication (wrong key, moved or tampered)")]
    Authentication,
}

/// Seals `plaintext` under `key`, bound to `aad`.
pub fn seal(key: &[u8; 32], aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, RandomError> {
    let nonce: [u8; NONCE_LEN] = random_bytes()?;
    let cipher = XChaCha20Poly1305::new(key.into());
    let mut out = Vec::with_capacity(plaintext.len() + OVERHEAD);
    out.push(FORMAT_XCHACHA);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = cipher
        .encrypt_inout_detached(&XNonce::from(nonce), aad, out[1 + NONCE_LEN..].as_mut().into())
        // Encryption fails only for messages beyond 256 GiB, which size limits rule out.
        .map_err(|_| RandomError)?;
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Opens an envelope made by [`seal`] with the same key and associated data.
pub fn open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Result<SecretBytes, OpenError> {
    if sealed.len() < OVERHEAD || sealed[0] != FORMAT_XCHACHA {
        return Err(OpenError::Malformed);
    }
    let nonce: [u8; NONCE_LEN] = sealed[1..1 + NONCE_LEN].try_into().map_err(|_| OpenError::Malformed)?;
    let (body, tag) = sealed[1 + NONCE_LEN..].split_at(sealed.len() - OVERHEAD);
    let tag = Tag::try_from(tag).map_err(|_| OpenError::Malformed)?;
    let mut buf = Zeroizing::new(body.to_vec());
    XChaCha20Poly1305::new(key.into())
        .decrypt_inout_detached(&XNonce::from(nonce), aad, buf.as_mut_slice().into(), &tag)
        .map_err(|_| OpenError::Authentication)?;
    Ok(SecretBytes::copy_from(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const KEY: [u8; 32] = [7; 32];

    #[test]
    fn tampering_is_detected() {
        let sealed = seal(&KEY, b"aad", b"plaintext").unwrap();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(open(&KEY, b"aad", &bad).is_err(), "flip at byte {i} went unnoticed");
        }
        assert_eq!(open(&KEY, b"aaD", &sealed), Err(OpenError::Authentication));
        assert_eq!(open(&[8; 32], b"aad", &sealed), Err(OpenError::Authentication));
        assert_eq!(open(&KEY, b"aad", &sealed[..OVERHEAD - 1]), Err(OpenError::Malformed));
    }

    /// An envelope sealed by an earlier build (Poly1305 on its AVX2 backend,
    /// a fixed nonce, 300 bytes so the backend's four-block path ran) opens,
    /// with the plaintext it held: the backend changes speed, never bytes.
    #[test]
    fn an_envelope_sealed_by_the_avx2_backend_opens() {
        let sealed_hex = concat!(
            "01000102030405060708090a0b0c0d0e0f1011121314151617a810a590e63f71941df8c70ab2b9cdc52fa146929864ad",
            "d05bb2013c5e07464ee3d96199f49c51e60bc51f4f0eecb7b2ab2b28a6f5087f5c5594345f03317d274f6d16d41c08b9",
            "bc52e40f1b6441069e166fdc98e2b6800894f7d73153912bf90ce8a9d8b49003af846a7ddd727ba270a497145a3dc1b7",
            "f610fcb9d931392c2dad4b7e35f20cd337b968eadf0261898f12aa7efd9506837159482aa7daf60a2c51a3663a39d8ad",
            "225eb31ee6eea90db80ff8bf56c7d6d44490b697248ea2d05e2cf9d03fc4cc289064d0ea2dec26de88d0e65ec5f3258e",
            "80b0bf4050e03c5ffb6045c5981aeba31259aaf5437ac715c4ae7deee963be960900f9a16a4e5f7d15ed86f1f2650982",
            "65374702cb7464988e7c5881b8adddba45e7ae566481ae1bf2d941fb027b9b2a1bb8ce5ad1de02d9a68eec59014f4bbb",
            "c9d6873a2b",
        );
        let sealed: Vec<u8> =
            (0..sealed_hex.len()).step_by(2).map(|i| u8::from_str_radix(&sealed_hex[i..i + 2], 16).unwrap()).collect();
        let plaintext: Vec<u8> = (0..300u32).map(|i| (i * 7 % 251) as u8).collect();
        let nonce: Vec<u8> = (0..24).collect();
        assert_eq!(&sealed[1..1 + NONCE_LEN], nonce.as_slice(), "the vector's nonce");
        assert_eq!(open(&KEY, b"hush test aad", &sealed).unwrap().expose_secret(), plaintext.as_slice());
    }

    /// `.cargo/config.toml` sets Poly1305's portable backend for every
    /// crate (it says why: the AVX2 one is three times slower on small values,
    /// as most secrets are). Without it this build would be the slow one.
    #[test]
    #[expect(clippy::assertions_on_constants, reason = "a test that fails, not a build that does")]
    fn builds_use_the_portable_poly1305_backend() {
        assert!(
            cfg!(poly1305_backend = "soft"),
            "built without .cargo/config.toml's rustflags (a RUSTFLAGS variable replaces them)"
        );
    }

    #[test]
    fn nonces_differ_between_seals() {
        let a = seal(&KEY, b"", b"same").unwrap();
        let b = seal(&KEY, b"", b"same").unwrap();
        assert_ne!(a, b);
    }

    proptest! {
        #[test]
        fn round_trip(key in any::<[u8; 32]>(), aad in proptest::collection::vec(any::<u8>(), 0..64),
                      plaintext in proptest::collection::vec(any::<u8>(), 0..1024)) {
            let sealed = seal(&key, &aad, &plaintext).unwrap();
            prop_assert_eq!(sealed.len(), plaintext.len() + OVERHEAD);
            let opened = open(&key, &aad, &sealed).unwrap();
            prop_assert_eq!(opened.expose_secret(), plaintext.as_slice());
            if !plaintext.is_empty() && plaintext.len() >= 8 {
                // The plaintext does not appear in the sealed bytes.
                prop_assert!(!sealed.windows(plaintext.len()).any(|w| w == plaintext.as_slice()));
            }
        }

        #[test]
        fn open_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            let _ = open(&KEY, b"", &bytes);
        }
    }
}
