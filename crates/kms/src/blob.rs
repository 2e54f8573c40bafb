//! The CiphertextBlob: what Encrypt and GenerateDataKey return and Decrypt takes. Opaque to clients;
//! it names its key and key version, so Decrypt needs no KeyId.
//!
//! ```text
//! offset size  field                        (all integers big-endian)
//!      0    2  magic "CK" (0x43 0x4B)
//!      2    1  format version = 1
//!      3    1  algorithm: 1 = AES-256-GCM (Aliyun_AES_256), 2 = SM4-GCM (Aliyun_SM4)
//!      4   16  KeyId, raw UUID bytes
//!     20   16  KeyVersionId, raw UUID bytes
//!     36   16  salt (random)
//!     52   12  nonce (random)
//!     64    n  ciphertext
//!   64+n   16  GCM tag
//!
//! message key = HKDF-SHA256(salt, ikm = version material,
//!                           info = "coffer-kms blob v1" ‖ algorithm ‖ KeyId ‖ KeyVersionId)
//!               (32 bytes for AES-256-GCM, 16 for SM4-GCM)
//! AAD         = "coffer-kms blob v1" ‖ blob[0..64]
//!               ‖ encode_context(account, SHA-256(canonical EncryptionContext))
//! ```
//!
//! Why a per-message key: with 224 random bits (salt and nonce) per blob, no (key, nonce) pair
//! repeats however many blobs one version encrypts, so AES-GCM's 2^32 random-nonce limit does not
//! apply and rotation is a policy choice, not a safety requirement. The account in the AAD keeps a
//! blob from decrypting for another account; the context digest binds the EncryptionContext. The
//! region is deliberately not bound: renaming the region in the configuration must not make every
//! blob undecryptable, and a blob from another KMS instance names key versions this one lacks.
//! Every failure to open is the same [`Error::InvalidCiphertext`].

use aes_gcm::aead::consts::U12;
use aes_gcm::{AeadInOut, AesGcm, KeyInit};
use aws_lc_rs::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, UnboundKey};
use aws_lc_rs::hkdf;
use base64::Engine as _;
use coffer_sm4::Sm4;
use zeroize::Zeroizing;

use crate::context::EncryptionContext;
use crate::id::{AccountId, KeyId, KeyVersionId};
use crate::key::KeySpec;
use crate::secret::{Material, Plaintext};
use crate::{Error, Result};

/// Do not change: the first bytes of every blob ever issued.
const MAGIC: [u8; 2] = *b"CK";
const FORMAT_1: u8 = 1;
const LABEL: &[u8] = b"coffer-kms blob v1";
const SALT_LEN: usize = 16;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Length of everything before the ciphertext.
pub(crate) const BLOB_HEADER_LEN: usize = 64;
/// Bytes a blob adds to its plaintext.
pub const BLOB_OVERHEAD: usize = BLOB_HEADER_LEN + TAG_LEN;
/// Longest base64 blob accepted, checked before decoding.
pub const MAX_BLOB_BASE64_LEN: usize = 8 * 1024;

type Sm4Gcm = AesGcm<Sm4, U12>;

/// A ciphertext blob as bytes. Parsing checks only the size; [`crate::Kms::decrypt`] checks the
/// rest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiphertextBlob(Vec<u8>);

impl CiphertextBlob {
    /// Decodes the `CiphertextBlob` parameter: strict standard base64 (padding required), at most
    /// 8 KiB of text; anything else is [`Error::InvalidCiphertext`].
    pub fn from_base64(text: &str) -> Result<Self> {
        if text.len() > MAX_BLOB_BASE64_LEN {
            return Err(Error::InvalidCiphertext);
        }
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .map(Self)
            .map_err(|_| Error::InvalidCiphertext)
    }

    /// Wraps raw blob bytes, as stored by a caller (the object store keeps them in its records).
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Standard base64 with padding, as the API returns it.
    pub fn to_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.0)
    }

    /// The raw bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The raw bytes, by value.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }

    /// The key and key version the blob claims (unauthenticated until decrypted), if its header is
    /// well-formed.
    pub fn key_version(&self) -> Option<(KeyId, KeyVersionId)> {
        Header::parse(&self.0)
            .ok()
            .map(|h| (h.key_id, h.version_id))
    }
}

/// The algorithm byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Aes256Gcm = 1,
    Sm4Gcm = 2,
}

impl Algorithm {
    fn for_spec(spec: KeySpec) -> Self {
        match spec {
            KeySpec::Aes256 => Algorithm::Aes256Gcm,
            KeySpec::Sm4 => Algorithm::Sm4Gcm,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Algorithm::Aes256Gcm => 32,
            Algorithm::Sm4Gcm => 16,
        }
    }
}

/// The parsed fixed part of a blob.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    algorithm: Algorithm,
    pub(crate) key_id: KeyId,
    pub(crate) version_id: KeyVersionId,
}

impl Header {
    pub(crate) fn parse(blob: &[u8]) -> Result<Self> {
        if blob.len() < BLOB_OVERHEAD || blob[0..2] != MAGIC || blob[2] != FORMAT_1 {
            return Err(Error::InvalidCiphertext);
        }
        let algorithm = match blob[3] {
            1 => Algorithm::Aes256Gcm,
            2 => Algorithm::Sm4Gcm,
            _ => return Err(Error::InvalidCiphertext),
        };
        let id = |at: usize| {
            let mut b = [0u8; 16];
            b.copy_from_slice(&blob[at..at + 16]);
            b
        };
        Ok(Self {
            algorithm,
            key_id: KeyId::from_bytes(id(4)),
            version_id: KeyVersionId::from_bytes(id(20)),
        })
    }
}

/// What a blob is bound to besides its key version.
pub(crate) struct Binding<'a> {
    pub(crate) account: &'a AccountId,
    pub(crate) context: &'a EncryptionContext,
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn message_key(
    material: &Material,
    algorithm: Algorithm,
    salt: &[u8],
    key_id: &KeyId,
    version_id: &KeyVersionId,
) -> Zeroizing<Vec<u8>> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(material.expose_secret());
    let mut out = Zeroizing::new(vec![0u8; algorithm.key_len()]);
    let (k, v) = (key_id.to_bytes(), version_id.to_bytes());
    prk.expand(&[LABEL, &[algorithm as u8], &k, &v], Len(out.len()))
        .and_then(|okm| okm.fill(&mut out))
        .expect("HKDF-SHA256 can expand 32 bytes");
    out
}

fn aad(header: &[u8], binding: &Binding<'_>) -> Vec<u8> {
    let digest = binding.context.digest();
    let mut out = LABEL.to_vec();
    out.extend_from_slice(header);
    out.extend_from_slice(&coffer_crypto::encode_context(&[
        binding.account.as_str().as_bytes(),
        &digest,
    ]));
    out
}

/// Encrypts `plaintext` under one key version.
pub(crate) fn seal(
    material: &Material,
    spec: KeySpec,
    key_id: &KeyId,
    version_id: &KeyVersionId,
    binding: &Binding<'_>,
    plaintext: &[u8],
) -> Result<CiphertextBlob> {
    let algorithm = Algorithm::for_spec(spec);
    let mut out = Vec::with_capacity(BLOB_OVERHEAD + plaintext.len());
    out.extend_from_slice(&MAGIC);
    out.push(FORMAT_1);
    out.push(algorithm as u8);
    out.extend_from_slice(&key_id.to_bytes());
    out.extend_from_slice(&version_id.to_bytes());
    let mut random = [0u8; SALT_LEN + NONCE_LEN];
    coffer_crypto::random::fill(&mut random);
    out.extend_from_slice(&random);
    let key = message_key(material, algorithm, &random[..SALT_LEN], key_id, version_id);
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&random[SALT_LEN..]);
    let aad = aad(&out, binding);
    out.extend_from_slice(plaintext);
    let body = &mut out[BLOB_HEADER_LEN..];
    let seal_failed = || Error::internal(std::io::Error::other("AEAD seal failed"));
    let mut tag = [0u8; TAG_LEN];
    match algorithm {
        Algorithm::Aes256Gcm => {
            let k =
                LessSafeKey::new(UnboundKey::new(&AES_256_GCM, &key).map_err(|_| seal_failed())?);
            let t = k
                .seal_in_place_separate_tag(
                    Nonce::assume_unique_for_key(nonce),
                    Aad::from(aad),
                    body,
                )
                .map_err(|_| seal_failed())?;
            tag.copy_from_slice(t.as_ref());
        }
        Algorithm::Sm4Gcm => {
            let k = Sm4Gcm::new_from_slice(&key).map_err(|_| seal_failed())?;
            let t = k
                .encrypt_inout_detached(&nonce.into(), &aad, body.into())
                .map_err(|_| seal_failed())?;
            tag.copy_from_slice(&t);
        }
    }
    out.extend_from_slice(&tag);
    Ok(CiphertextBlob(out))
}

/// Decrypts a blob whose header was parsed as `header`, with the material of the version it names
/// and a key of spec `spec`. Any mismatch is [`Error::InvalidCiphertext`].
pub(crate) fn open(
    material: &Material,
    spec: KeySpec,
    header: &Header,
    blob: &CiphertextBlob,
    binding: &Binding<'_>,
) -> Result<Plaintext> {
    let blob = blob.as_bytes();
    if header.algorithm != Algorithm::for_spec(spec) || blob.len() < BLOB_OVERHEAD {
        return Err(Error::InvalidCiphertext);
    }
    let algorithm = header.algorithm;
    let key = message_key(
        material,
        algorithm,
        &blob[36..36 + SALT_LEN],
        &header.key_id,
        &header.version_id,
    );
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&blob[52..BLOB_HEADER_LEN]);
    let aad = aad(&blob[..BLOB_HEADER_LEN], binding);
    let tag_at = blob.len() - TAG_LEN;
    let mut body = Zeroizing::new(blob[BLOB_HEADER_LEN..tag_at].to_vec());
    let tag = &blob[tag_at..];
    match algorithm {
        Algorithm::Aes256Gcm => {
            let k = LessSafeKey::new(
                UnboundKey::new(&AES_256_GCM, &key).map_err(|_| Error::InvalidCiphertext)?,
            );
            k.open_in_place_separate_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(aad),
                tag,
                body.as_mut_slice(),
            )
            .map_err(|_| Error::InvalidCiphertext)?;
        }
        Algorithm::Sm4Gcm => {
            let k = Sm4Gcm::new_from_slice(&key).map_err(|_| Error::InvalidCiphertext)?;
            let tag: &[u8; TAG_LEN] = tag.try_into().map_err(|_| Error::InvalidCiphertext)?;
            k.decrypt_inout_detached(&nonce.into(), &aad, body.as_mut_slice().into(), tag.into())
                .map_err(|_| Error::InvalidCiphertext)?;
        }
    }
    Ok(Plaintext::from_vec(std::mem::take(&mut *body)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(spec: KeySpec) -> (Material, KeyId, KeyVersionId, AccountId) {
        (
            Material::generate(spec.material_len()),
            KeyId::random(),
            KeyVersionId::random(),
            AccountId::parse("1234567890123456").unwrap(),
        )
    }

    #[test]
    fn blobs_round_trip_for_both_algorithms() {
        for spec in [KeySpec::Aes256, KeySpec::Sm4] {
            let (m, k, v, account) = fixture(spec);
            let ctx = EncryptionContext::from_pairs([("a", "b")]);
            let binding = Binding {
                account: &account,
                context: &ctx,
            };
            let blob = seal(&m, spec, &k, &v, &binding, b"hello").unwrap();
            assert_eq!(blob.as_bytes().len(), BLOB_OVERHEAD + 5);
            assert_eq!(&blob.as_bytes()[..2], b"CK");
            assert_eq!(blob.key_version(), Some((k, v)));
            let header = Header::parse(blob.as_bytes()).unwrap();
            let plain = open(&m, spec, &header, &blob, &binding).unwrap();
            assert_eq!(plain.expose_secret(), b"hello");
            let other = EncryptionContext::from_pairs([("a", "c")]);
            let wrong = Binding {
                context: &other,
                ..binding
            };
            assert!(matches!(
                open(&m, spec, &header, &blob, &wrong),
                Err(Error::InvalidCiphertext)
            ));
            let other_account = AccountId::parse("1").unwrap();
            let wrong = Binding {
                account: &other_account,
                ..binding
            };
            assert!(open(&m, spec, &header, &blob, &wrong).is_err());
        }
    }

    #[test]
    fn the_same_plaintext_never_gives_the_same_blob() {
        let (m, k, v, account) = fixture(KeySpec::Aes256);
        let ctx = EncryptionContext::new();
        let binding = Binding {
            account: &account,
            context: &ctx,
        };
        let a = seal(&m, KeySpec::Aes256, &k, &v, &binding, b"x").unwrap();
        let b = seal(&m, KeySpec::Aes256, &k, &v, &binding, b"x").unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn base64_is_strict_and_bounded() {
        assert!(CiphertextBlob::from_base64("Q0s=").is_ok());
        assert!(CiphertextBlob::from_base64("Q0s").is_err());
        assert!(CiphertextBlob::from_base64("Q0s=\n").is_err());
        assert!(CiphertextBlob::from_base64(&"A".repeat(MAX_BLOB_BASE64_LEN + 4)).is_err());
        assert!(Header::parse(b"CK").is_err());
    }
}
