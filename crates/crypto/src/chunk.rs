//! The chunk key of one segment: derivation from the data key, nonces, and sealing/opening of one
//! chunk. Everything here is internal; [`crate::Encryptor`] and [`crate::Decryptor`] drive it.
//!
//! ```text
//! prk        = HKDF-Extract(salt = header.salt, ikm = data key)                  (SHA-256)
//! chunk key  = HKDF-Expand(prk, "coffer segment v1 key"    ‖ header[0..44] ‖ context, key_len)
//! commitment = HKDF-Expand(prk, "coffer segment v1 commit" ‖ header[0..44] ‖ context, 32)
//! nonce(i)   = i as u64 big-endian ‖ flags as u32 big-endian (bit 0 = final chunk)
//! chunk i    = GCM-Encrypt(chunk key, nonce(i), aad = empty, plaintext i) ‖ tag
//! ```

use std::fmt;

use aes_gcm::{AeadInOut, KeyInit};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use coffer_sm4::Sm4Gcm;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::header::{COMMITMENT_LEN, SegmentHeader, TAG_LEN};
use crate::{Cipher, DataKey, Error, Result};

/// Do not change: part of the key derivation of every segment ever written. The two labels differ
/// in their 19th byte, so no (header, context) of one can collide with the other's.
const KEY_LABEL: &[u8] = b"coffer segment v1 key";
const COMMIT_LABEL: &[u8] = b"coffer segment v1 commit";

/// Bit 0 of the nonce's last four bytes: this is the last chunk of the segment.
const FLAG_FINAL: u32 = 1;

/// The derived per-segment key, ready to seal or open chunks. Key schedules are wiped when dropped:
/// aws-lc cleanses every allocation it frees, and `coffer-sm4`/`ghash` zeroize theirs.
pub(crate) struct ChunkKey(ChunkCipher);

enum ChunkCipher {
    Aes256Gcm(LessSafeKey),
    Sm4Gcm(Box<Sm4Gcm>),
}

impl fmt::Debug for ChunkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ChunkKey(<redacted>)")
    }
}

/// HKDF output length, as aws-lc-rs wants it.
struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

/// Derives the chunk-key bytes and the commitment for `header` (whose own commitment is ignored).
fn derive(
    data_key: &DataKey,
    header: &SegmentHeader,
    context: &[u8],
) -> Result<(Zeroizing<[u8; 32]>, [u8; COMMITMENT_LEN])> {
    let bound = header.encode_bound();
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, header.salt()).extract(data_key.expose_secret());
    let key_len = header.cipher().key_len();
    let mut key = Zeroizing::new([0u8; 32]);
    prk.expand(&[KEY_LABEL, &bound, context], Len(key_len))
        .and_then(|okm| okm.fill(&mut key[..key_len]))
        .map_err(|_| Error::Internal { what: "hkdf" })?;
    let mut commitment = [0u8; COMMITMENT_LEN];
    prk.expand(&[COMMIT_LABEL, &bound, context], Len(COMMITMENT_LEN))
        .and_then(|okm| okm.fill(&mut commitment))
        .map_err(|_| Error::Internal { what: "hkdf" })?;
    Ok((key, commitment))
}

impl ChunkKey {
    /// Derives the key of a new segment and writes its commitment into `header`.
    pub(crate) fn for_new_segment(
        data_key: &DataKey,
        header: &mut SegmentHeader,
        context: &[u8],
    ) -> Result<Self> {
        let (key, commitment) = derive(data_key, header, context)?;
        header.set_commitment(commitment);
        Self::from_bytes(header.cipher(), &key)
    }

    /// Derives the key of an existing segment; [`Error::Decrypt`] unless the header's commitment
    /// matches, which is to say unless data key, context and header are all the ones it was written
    /// with.
    pub(crate) fn for_existing_segment(
        data_key: &DataKey,
        header: &SegmentHeader,
        context: &[u8],
    ) -> Result<Self> {
        let (key, commitment) = derive(data_key, header, context)?;
        if !bool::from(commitment.ct_eq(header.commitment())) {
            return Err(Error::Decrypt);
        }
        Self::from_bytes(header.cipher(), &key)
    }

    fn from_bytes(cipher: Cipher, key: &[u8; 32]) -> Result<Self> {
        Self::from_slice(cipher, &key[..cipher.key_len()])
    }

    fn from_slice(cipher: Cipher, key: &[u8]) -> Result<Self> {
        let inner = match cipher {
            Cipher::Aes256Gcm => ChunkCipher::Aes256Gcm(LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, key)
                    .map_err(|_| Error::Internal { what: "aes key" })?,
            )),
            Cipher::Sm4Gcm => ChunkCipher::Sm4Gcm(Box::new(
                Sm4Gcm::new_from_slice(key).map_err(|_| Error::Internal { what: "sm4 key" })?,
            )),
        };
        Ok(Self(inner))
    }

    /// Encrypts `buf` in place as chunk `index` and returns its tag.
    pub(crate) fn seal(&self, index: u64, is_final: bool, buf: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        self.seal_raw(nonce(index, is_final), &[], buf)
    }

    /// Decrypts `buf` in place as chunk `index` if `tag` authenticates it; on [`Error::Decrypt`] the
    /// contents of `buf` are unspecified and must be discarded.
    pub(crate) fn open(
        &self,
        index: u64,
        is_final: bool,
        buf: &mut [u8],
        tag: &[u8],
    ) -> Result<()> {
        self.open_raw(nonce(index, is_final), &[], buf, tag)
    }

    /// The AEAD itself, with any nonce and aad (the known-answer tests use this).
    fn seal_raw(&self, nonce: [u8; 12], aad: &[u8], buf: &mut [u8]) -> Result<[u8; TAG_LEN]> {
        let mut tag = [0u8; TAG_LEN];
        match &self.0 {
            ChunkCipher::Aes256Gcm(key) => {
                let t = key
                    .seal_in_place_separate_tag(
                        Nonce::assume_unique_for_key(nonce),
                        Aad::from(aad),
                        buf,
                    )
                    .map_err(|_| Error::Internal { what: "seal" })?;
                tag.copy_from_slice(t.as_ref());
            }
            ChunkCipher::Sm4Gcm(key) => {
                let t = key
                    .encrypt_inout_detached(&nonce.into(), aad, buf.into())
                    .map_err(|_| Error::Internal { what: "seal" })?;
                tag.copy_from_slice(&t);
            }
        }
        Ok(tag)
    }

    fn open_raw(&self, nonce: [u8; 12], aad: &[u8], buf: &mut [u8], tag: &[u8]) -> Result<()> {
        match &self.0 {
            ChunkCipher::Aes256Gcm(key) => key
                .open_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    tag,
                    buf,
                )
                .map(|_| ())
                .map_err(|_| Error::Decrypt),
            ChunkCipher::Sm4Gcm(key) => {
                let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| Error::Decrypt)?;
                key.decrypt_inout_detached(&nonce.into(), aad, buf.into(), tag.into())
                    .map_err(|_| Error::Decrypt)
            }
        }
    }
}

/// The nonce of chunk `index`: unique per chunk under one chunk key, and different for the final
/// chunk than for the same index in a longer segment.
fn nonce(index: u64, is_final: bool) -> [u8; 12] {
    let flags = if is_final { FLAG_FINAL } else { 0 };
    let mut nonce = [0u8; 12];
    nonce[..8].copy_from_slice(&index.to_be_bytes());
    nonce[8..].copy_from_slice(&flags.to_be_bytes());
    nonce
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_material_is_zeroized_on_drop() {
        fn zeroized_on_drop<T: zeroize::ZeroizeOnDrop>() {}
        zeroized_on_drop::<Sm4Gcm>();
        zeroized_on_drop::<DataKey>();
        zeroized_on_drop::<crate::MasterKey>();
    }

    #[test]
    fn nonce_layout() {
        assert_eq!(nonce(0, false), [0; 12]);
        assert_eq!(nonce(1, true), [0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 1]);
        assert_eq!(
            nonce(0x0102_0304_0506_0708, false),
            [1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0]
        );
    }

    #[test]
    fn chunk_key_debug_shows_no_key_bytes() {
        for cipher in [Cipher::Aes256Gcm, Cipher::Sm4Gcm] {
            let data_key = DataKey::from_bytes([0xab; 32]);
            let mut header = SegmentHeader::with_fresh_salt(cipher, 1024).unwrap();
            let (bytes, _) = derive(&data_key, &header, b"ctx").unwrap();
            let key = ChunkKey::for_new_segment(&data_key, &mut header, b"ctx").unwrap();
            let formatted = format!("{key:?} {key:#?}");
            assert_eq!(format!("{key:?}"), "ChunkKey(<redacted>)");
            let lower: String = bytes[..cipher.key_len()]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            assert!(!formatted.contains(&lower));
            assert!(!formatted.contains(&format!("{:?}", &bytes[..cipher.key_len()])));
            crate::key::tests::assert_no_key_bytes(&formatted, data_key.expose_secret());
        }
    }

    #[test]
    fn commitment_binds_key_context_and_header() {
        let data_key = DataKey::from_bytes([1; 32]);
        let mut header = SegmentHeader::with_fresh_salt(Cipher::Aes256Gcm, 1024).unwrap();
        ChunkKey::for_new_segment(&data_key, &mut header, b"ctx").unwrap();
        assert!(ChunkKey::for_existing_segment(&data_key, &header, b"ctx").is_ok());
        let other_key = DataKey::from_bytes([2; 32]);
        assert!(ChunkKey::for_existing_segment(&other_key, &header, b"ctx").is_err());
        assert!(ChunkKey::for_existing_segment(&data_key, &header, b"ctX").is_err());
        assert!(ChunkKey::for_existing_segment(&data_key, &header, b"").is_err());
        let mut other_chunk = header.encode();
        other_chunk[11] ^= 0x80; // chunk_len 1024 → still valid, but different
        let other = SegmentHeader::decode(&other_chunk).unwrap();
        assert!(ChunkKey::for_existing_segment(&data_key, &other, b"ctx").is_err());
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// One AEAD known answer: seal gives `ct ‖ tag`, open gives back the plaintext, and a changed tag
    /// or aad is refused.
    fn check(cipher: Cipher, key: &str, iv: &str, aad: &str, pt: &str, ct: &str, tag: &str) {
        let key = ChunkKey::from_slice(cipher, &hex(key)).unwrap();
        let nonce: [u8; 12] = hex(iv).try_into().unwrap();
        let (aad, pt, ct, tag) = (hex(aad), hex(pt), hex(ct), hex(tag));
        let mut buf = pt.clone();
        let got_tag = key.seal_raw(nonce, &aad, &mut buf).unwrap();
        assert_eq!(buf, ct, "{cipher:?} ciphertext");
        assert_eq!(got_tag.to_vec(), tag, "{cipher:?} tag");
        key.open_raw(nonce, &aad, &mut buf, &tag).unwrap();
        assert_eq!(buf, pt);
        let mut bad_tag = tag.clone();
        bad_tag[15] ^= 1;
        let mut buf = ct.clone();
        assert!(key.open_raw(nonce, &aad, &mut buf, &bad_tag).is_err());
        let mut buf = ct.clone();
        assert!(key.open_raw(nonce, b"x", &mut buf, &tag).is_err());
    }

    /// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 13–16 (AES-256).
    #[test]
    fn aes_256_gcm_known_answers() {
        let k0 = "0000000000000000000000000000000000000000000000000000000000000000";
        let iv0 = "000000000000000000000000";
        check(
            Cipher::Aes256Gcm,
            k0,
            iv0,
            "",
            "",
            "",
            "530f8afbc74536b9a963b4f1c4cb738b",
        );
        check(
            Cipher::Aes256Gcm,
            k0,
            iv0,
            "",
            "00000000000000000000000000000000",
            "cea7403d4d606b6e074ec5d3baf39d18",
            "d0d1c8a799996bf0265b98b5d48ab919",
        );
        let k = "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
        let iv = "cafebabefacedbaddecaf888";
        check(
            Cipher::Aes256Gcm,
            k,
            iv,
            "",
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
             1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b391aafd255",
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662898015ad",
            "b094dac5d93471bdec1a502270e3cc6c",
        );
        check(
            Cipher::Aes256Gcm,
            k,
            iv,
            "feedfacedeadbeeffeedfacedeadbeefabaddad2",
            "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72
             1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
            "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa
             8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
            "76fc6ece0f4e1768cddf8853bb2d551b",
        );
    }

    /// RFC 8998 appendix A.1, and Wycheproof's sm4_gcm_test.json tcId 2 (empty message).
    #[test]
    fn sm4_gcm_known_answers() {
        check(
            Cipher::Sm4Gcm,
            "0123456789ABCDEFFEDCBA9876543210",
            "00001234567800000000ABCD",
            "FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2",
            "AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD
             EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
            "17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735
             D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D",
            "83DE3541E4C2B58177E065A9BF7B62EC",
        );
        check(
            Cipher::Sm4Gcm,
            "bedcfb5a011ebc84600fcb296c15af0d",
            "438a547a94ea88dce46c6c85",
            "",
            "",
            "",
            "a486a45596cb92cf529de2038583707d",
        );
    }

    /// GB/T 32907-2016 appendix A.1: the SM4 block cipher itself.
    #[test]
    fn sm4_block_known_answer() {
        use coffer_sm4::cipher::{BlockCipherEncrypt, KeyInit as _};
        let key = hex("0123456789abcdeffedcba9876543210");
        let cipher = coffer_sm4::Sm4::new_from_slice(&key).unwrap();
        let mut block = [0u8; 16];
        block.copy_from_slice(&key);
        let mut block = block.into();
        cipher.encrypt_block(&mut block);
        let block: [u8; 16] = block.into();
        assert_eq!(block.to_vec(), hex("681edf34d206965e86b3e94f536e4246"));
    }
}
