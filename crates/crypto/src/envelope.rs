//! Envelope encryption: a [`DataKey`] wrapped by a [`MasterKey`] for storage.
//!
//! ```text
//! offset  size  field
//!      0     1  wrap format version (1)
//!      1    12  nonce: random (aws-lc RAND_bytes), fresh for every wrap
//!     13    32  AES-256-GCM-SIV ciphertext of the data key
//!     45    16  tag
//!     61        (end; WRAPPED_KEY_LEN)
//! aad = version byte ‖ "coffer data key" ‖ caller's aad
//! ```
//!
//! AES-256-GCM-SIV (RFC 8452) rather than AES-256-GCM because the nonce is random and one master
//! key version wraps a key for every segment: GCM with random 96-bit nonces is limited to 2^32
//! wraps per key (NIST SP 800-38D §8.3), about ten days at 5,000 segments a second, and a repeated
//! nonce would leak GCM's authentication key. GCM-SIV derives a fresh key per nonce and a repeated
//! nonce only reveals whether two wrapped keys are equal (they never are), so no wrap counter or
//! forced rotation is needed. Its cost, one more pass over 32 bytes, is invisible.

use aws_lc_rs::aead::{AES_256_GCM_SIV, Aad, LessSafeKey, Nonce, UnboundKey};
use zeroize::Zeroizing;

use crate::key::KEY_LEN;
use crate::{DataKey, Error, MasterKey, Result};

/// Length in bytes of a wrapped data key.
pub const WRAPPED_KEY_LEN: usize = 1 + NONCE_LEN + KEY_LEN + TAG_LEN;

/// Do not change: every stored wrapped key starts with it.
const WRAP_VERSION_1: u8 = 1;
/// Separates wrapped data keys from anything else a master key might ever protect.
const WRAP_LABEL: &[u8] = b"coffer data key";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Wraps `data_key` under `master` for storage. `aad` binds the wrapped key to what it belongs to
/// (the segment's context, the master key's id and version): unwrapping with another `aad` fails.
pub fn wrap_key(master: &MasterKey, data_key: &DataKey, aad: &[u8]) -> Vec<u8> {
    let mut nonce = [0u8; NONCE_LEN];
    crate::random::fill(&mut nonce);
    let mut sealed = Zeroizing::new(*data_key.expose_secret());
    let tag = master_cipher(master)
        .seal_in_place_separate_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(full_aad(aad)),
            sealed.as_mut_slice(),
        )
        .expect("AES-GCM-SIV seals a 32-byte message");
    let mut out = Vec::with_capacity(WRAPPED_KEY_LEN);
    out.push(WRAP_VERSION_1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(sealed.as_slice());
    out.extend_from_slice(tag.as_ref());
    out
}

/// Recovers a data key wrapped by [`wrap_key`] with the same master key and `aad`; any other master
/// key, `aad` or changed byte is [`Error::Decrypt`].
pub fn unwrap_key(master: &MasterKey, wrapped: &[u8], aad: &[u8]) -> Result<DataKey> {
    if wrapped.len() != WRAPPED_KEY_LEN || wrapped[0] != WRAP_VERSION_1 {
        return Err(Error::Decrypt);
    }
    let nonce =
        Nonce::try_assume_unique_for_key(&wrapped[1..1 + NONCE_LEN]).map_err(|_| Error::Decrypt)?;
    let mut in_out = Zeroizing::new([0u8; KEY_LEN + TAG_LEN]);
    in_out.copy_from_slice(&wrapped[1 + NONCE_LEN..]);
    let plain = master_cipher(master)
        .open_in_place(nonce, Aad::from(full_aad(aad)), in_out.as_mut_slice())
        .map_err(|_| Error::Decrypt)?;
    DataKey::try_from_slice(plain).map_err(|_| Error::Decrypt)
}

fn master_cipher(master: &MasterKey) -> LessSafeKey {
    LessSafeKey::new(
        UnboundKey::new(&AES_256_GCM_SIV, master.expose_secret())
            .expect("a 32-byte key is valid for AES-256-GCM-SIV"),
    )
}

fn full_aad(aad: &[u8]) -> Vec<u8> {
    let mut full = Vec::with_capacity(1 + WRAP_LABEL.len() + aad.len());
    full.push(WRAP_VERSION_1);
    full.extend_from_slice(WRAP_LABEL);
    full.extend_from_slice(aad);
    full
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn wrap_round_trips() {
        let master = MasterKey::generate();
        let data_key = DataKey::generate();
        let wrapped = wrap_key(&master, &data_key, b"aad");
        assert_eq!(wrapped.len(), WRAPPED_KEY_LEN);
        assert_eq!(wrapped[0], 1);
        let back = unwrap_key(&master, &wrapped, b"aad").unwrap();
        assert_eq!(back.expose_secret(), data_key.expose_secret());
    }

    #[test]
    fn each_wrap_uses_a_fresh_nonce() {
        let master = MasterKey::generate();
        let data_key = DataKey::generate();
        let a = wrap_key(&master, &data_key, b"");
        let b = wrap_key(&master, &data_key, b"");
        assert_ne!(a[1..13], b[1..13]);
        assert_ne!(a, b);
    }

    #[test]
    fn wrapped_key_does_not_contain_the_key() {
        let master = MasterKey::generate();
        let data_key = DataKey::from_bytes([0x5a; 32]);
        let wrapped = wrap_key(&master, &data_key, b"");
        assert!(!wrapped.windows(4).any(|w| w == [0x5a; 4]));
    }

    #[test]
    fn any_change_fails_to_unwrap() {
        let master = MasterKey::generate();
        let data_key = DataKey::generate();
        let wrapped = wrap_key(&master, &data_key, b"bucket/key");
        for i in 0..wrapped.len() {
            for bit in 0..8 {
                let mut bad = wrapped.clone();
                bad[i] ^= 1 << bit;
                assert!(matches!(
                    unwrap_key(&master, &bad, b"bucket/key"),
                    Err(Error::Decrypt)
                ));
            }
        }
        assert!(unwrap_key(&master, &wrapped, b"bucket/kez").is_err());
        assert!(unwrap_key(&master, &wrapped, b"").is_err());
        assert!(unwrap_key(&MasterKey::generate(), &wrapped, b"bucket/key").is_err());
        assert!(unwrap_key(&master, &wrapped[..60], b"bucket/key").is_err());
        let mut longer = wrapped.clone();
        longer.push(0);
        assert!(unwrap_key(&master, &longer, b"bucket/key").is_err());
    }

    /// RFC 8452 appendix C.2 (AEAD_AES_256_GCM_SIV), the 32-byte message (the size of a data key),
    /// checked through the same cipher construction `wrap_key` uses.
    #[test]
    fn aes_256_gcm_siv_known_answer() {
        let master = MasterKey::try_from_slice(&hex(
            "0100000000000000000000000000000000000000000000000000000000000000",
        ))
        .unwrap();
        let nonce: [u8; 12] = hex("030000000000000000000000").try_into().unwrap();
        let mut buf = hex("0100000000000000000000000000000002000000000000000000000000000000");
        let tag = master_cipher(&master)
            .seal_in_place_separate_tag(Nonce::assume_unique_for_key(nonce), Aad::empty(), &mut buf)
            .unwrap();
        buf.extend_from_slice(tag.as_ref());
        assert_eq!(
            buf,
            hex(
                "4a6a9db4c8c6549201b9edb53006cba821ec9cf850948a7c86c68ac7539d027f\
                 e819e63abcd020b006a976397632eb5d"
            )
        );
    }

    /// The layout above, built by hand with a fixed nonce, must unwrap: guards the byte order and the
    /// aad construction against accidental change.
    #[test]
    fn hand_built_wrap_unwraps() {
        let master = MasterKey::from_bytes([3; 32]);
        let nonce = [9u8; 12];
        let mut body = [4u8; 32];
        let mut aad = vec![1u8];
        aad.extend_from_slice(b"coffer data keyctx");
        let tag = master_cipher(&master)
            .seal_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(&aad),
                &mut body,
            )
            .unwrap();
        let mut wrapped = vec![1u8];
        wrapped.extend_from_slice(&nonce);
        wrapped.extend_from_slice(&body);
        wrapped.extend_from_slice(tag.as_ref());
        let back = unwrap_key(&master, &wrapped, b"ctx").unwrap();
        assert_eq!(back.expose_secret(), &[4; 32]);
    }
}
