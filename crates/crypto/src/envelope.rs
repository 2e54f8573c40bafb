//! Envelope encryption: a [`DataKey`] wrapped by a [`MasterKey`] for storage.
//!
//! ```text
//! offset  size  field
//!      0     1  wrap format version (1)
//!      1    12  nonce: random (aws-lc RAND_bytes), fresh for every wrap
//!     13    32  AES-256-GCM ciphertext of the data key
//!     45    16  tag
//!     61        (end; WRAPPED_KEY_LEN)
//! aad = version byte ‖ "coffer data key" ‖ caller's aad
//! ```

use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
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
/// (the segment's context, the master key's version): unwrapping with different `aad` fails.
///
/// Each call uses a fresh random 96-bit nonce. Random nonces are safe for up to 2^32 wraps under one
/// master key (NIST SP 800-38D); a server that wraps one key per segment stays far below that
/// between master-key rotations.
pub fn wrap_key(master: &MasterKey, data_key: &DataKey, aad: &[u8]) -> Vec<u8> {
    let key = RandomizedNonceKey::new(&AES_256_GCM, master.expose_secret())
        .expect("a 32-byte key is valid for AES-256-GCM");
    let mut sealed = Zeroizing::new(*data_key.expose_secret());
    let (nonce, tag) = key
        .seal_in_place_separate_tag(Aad::from(full_aad(aad)), sealed.as_mut_slice())
        .expect("AES-GCM seals a 32-byte message");
    let mut out = Vec::with_capacity(WRAPPED_KEY_LEN);
    out.push(WRAP_VERSION_1);
    out.extend_from_slice(nonce.as_ref());
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
    let key = RandomizedNonceKey::new(&AES_256_GCM, master.expose_secret())
        .map_err(|_| Error::Internal { what: "master key" })?;
    let nonce =
        Nonce::try_assume_unique_for_key(&wrapped[1..1 + NONCE_LEN]).map_err(|_| Error::Decrypt)?;
    let mut in_out = Zeroizing::new([0u8; KEY_LEN + TAG_LEN]);
    in_out.copy_from_slice(&wrapped[1 + NONCE_LEN..]);
    let plain = key
        .open_in_place(nonce, Aad::from(full_aad(aad)), in_out.as_mut_slice())
        .map_err(|_| Error::Decrypt)?;
    DataKey::try_from_slice(plain).map_err(|_| Error::Decrypt)
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
        assert!(!wrapped.windows(8).any(|w| w == [0x5a; 8]));
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

    /// Known answer: the wrap is plain AES-256-GCM, so a wrapped key built by hand from the layout
    /// above with a fixed nonce must unwrap (guards the byte layout and the aad construction).
    #[test]
    fn hand_built_wrap_unwraps() {
        use aws_lc_rs::aead::{LessSafeKey, UnboundKey};
        let master = MasterKey::from_bytes([3; 32]);
        let key = LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &[3; 32]).unwrap());
        let nonce = [9u8; 12];
        let mut body = [4u8; 32];
        let mut aad = vec![1u8];
        aad.extend_from_slice(b"coffer data keyctx");
        let tag = key
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
