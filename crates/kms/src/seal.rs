//! Sealing at rest: everything secret the KMS stores (key material, BYOK private keys) is
//! AES-256-GCM-sealed under a key derived from the [`RootKey`], bound to what it belongs to.
//!
//! ```text
//! seal key       = HKDF-SHA256(salt = "coffer-kms root v1", ikm = root key, info = "seal", 32)
//! commitment key = HKDF-SHA256(salt = "coffer-kms root v1", ikm = root key, info = "commitment", 32)
//!
//! sealed = 0x01 (format) ‖ nonce (12, random) ‖ ciphertext ‖ tag (16)
//! aad    = "coffer-kms seal v1" ‖ purpose (1 byte) ‖ encode_context(binding fields)
//! ```
//!
//! The binding (key id and version id for material, the token digest for an import key) means a
//! sealed value copied onto another record does not open. Separate derived keys keep the AEAD key
//! and the HMAC key of BYOK commitments independent.

use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use aws_lc_rs::{hkdf, hmac};
use zeroize::Zeroizing;

use crate::id::KeyId;
use crate::secret::RootKey;
use crate::{Error, Result};

/// Do not change: every sealed value in every store starts with it.
const SEAL_FORMAT_1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Do not change: the derivation of every key sealed so far depends on these labels.
const ROOT_SALT: &[u8] = b"coffer-kms root v1";
const SEAL_LABEL: &[u8] = b"coffer-kms seal v1";
const COMMITMENT_LABEL: &[u8] = b"coffer-kms import commitment v1";

/// What a sealed value is; part of its AAD so one kind can never be opened as another.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    /// A known constant, sealed once per store, to recognise the wrong root key at open.
    RootCheck = 1,
    /// The material of one key version.
    KeyMaterial = 2,
    /// The RSA private key (PKCS#8) behind one import token.
    ImportKey = 3,
}

/// The keys derived from the root key.
pub(crate) struct Keyring {
    seal: RandomizedNonceKey,
    commitment: hmac::Key,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(<redacted>)")
    }
}

struct Len(usize);

impl hkdf::KeyType for Len {
    fn len(&self) -> usize {
        self.0
    }
}

fn derive(root: &RootKey, info: &[u8]) -> Zeroizing<[u8; 32]> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, ROOT_SALT).extract(root.expose_secret());
    let mut out = Zeroizing::new([0u8; 32]);
    prk.expand(&[info], Len(32))
        .and_then(|okm| okm.fill(out.as_mut_slice()))
        .expect("HKDF-SHA256 can expand 32 bytes");
    out
}

impl Keyring {
    pub(crate) fn new(root: &RootKey) -> Self {
        let seal = derive(root, b"seal");
        let commitment = derive(root, b"commitment");
        Self {
            seal: RandomizedNonceKey::new(&AES_256_GCM, seal.as_slice())
                .expect("a 32-byte key is valid for AES-256-GCM"),
            commitment: hmac::Key::new(hmac::HMAC_SHA256, commitment.as_slice()),
        }
    }

    /// Seals `plaintext` for storage, bound to `purpose` and `binding`.
    pub(crate) fn seal(&self, purpose: Purpose, binding: &[&[u8]], plaintext: &[u8]) -> Vec<u8> {
        let mut body = Zeroizing::new(plaintext.to_vec());
        let (nonce, tag) = self
            .seal
            .seal_in_place_separate_tag(Aad::from(aad(purpose, binding)), body.as_mut_slice())
            .expect("AES-GCM seals a short message");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len() + TAG_LEN);
        out.push(SEAL_FORMAT_1);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&body);
        out.extend_from_slice(tag.as_ref());
        out
    }

    /// Opens a value sealed by [`Keyring::seal`] with the same purpose and binding. Failure means
    /// the store is damaged or was written under another root key: an internal error, never a
    /// client's fault.
    pub(crate) fn open(
        &self,
        purpose: Purpose,
        binding: &[&[u8]],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let fail = || Error::internal(std::io::Error::other("sealed record does not authenticate"));
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != SEAL_FORMAT_1 {
            return Err(fail());
        }
        let nonce =
            Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN]).map_err(|_| fail())?;
        let mut in_out = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
        let len = self
            .seal
            .open_in_place(
                nonce,
                Aad::from(aad(purpose, binding)),
                in_out.as_mut_slice(),
            )
            .map_err(|_| fail())?
            .len();
        in_out.truncate(len);
        Ok(in_out)
    }

    /// HMAC-SHA256 commitment to imported material, bound to its key: lets a re-import be compared
    /// with the first one without keeping (even sealed) material after DeleteKeyMaterial.
    pub(crate) fn commitment(&self, key_id: &KeyId, material: &[u8]) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.commitment);
        ctx.update(COMMITMENT_LABEL);
        ctx.update(&key_id.to_bytes());
        ctx.update(material);
        let tag = ctx.sign();
        let mut out = [0u8; 32];
        out.copy_from_slice(tag.as_ref());
        out
    }
}

fn aad(purpose: Purpose, binding: &[&[u8]]) -> Vec<u8> {
    let mut out = SEAL_LABEL.to_vec();
    out.push(purpose as u8);
    out.extend_from_slice(&coffer_crypto::encode_context(binding));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_root_purpose_and_binding() {
        let ring = Keyring::new(&RootKey::from_bytes([1; 32]));
        let sealed = ring.seal(Purpose::KeyMaterial, &[b"k", b"v"], &[0x5a; 32]);
        assert_eq!(sealed.len(), 1 + 12 + 32 + 16);
        assert!(!sealed.windows(8).any(|w| w == [0x5a; 8]));
        let opened = ring
            .open(Purpose::KeyMaterial, &[b"k", b"v"], &sealed)
            .unwrap();
        assert_eq!(opened.as_slice(), &[0x5a; 32]);
        assert!(
            ring.open(Purpose::ImportKey, &[b"k", b"v"], &sealed)
                .is_err()
        );
        assert!(
            ring.open(Purpose::KeyMaterial, &[b"k", b"w"], &sealed)
                .is_err()
        );
        assert!(ring.open(Purpose::KeyMaterial, &[b"kv"], &sealed).is_err());
        let other = Keyring::new(&RootKey::from_bytes([2; 32]));
        assert!(
            other
                .open(Purpose::KeyMaterial, &[b"k", b"v"], &sealed)
                .is_err()
        );
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(
                ring.open(Purpose::KeyMaterial, &[b"k", b"v"], &bad)
                    .is_err()
            );
        }
    }

    #[test]
    fn commitments_bind_key_and_material() {
        let ring = Keyring::new(&RootKey::from_bytes([1; 32]));
        let (a, b) = (KeyId::random(), KeyId::random());
        assert_eq!(ring.commitment(&a, &[1; 32]), ring.commitment(&a, &[1; 32]));
        assert_ne!(ring.commitment(&a, &[1; 32]), ring.commitment(&a, &[2; 32]));
        assert_ne!(ring.commitment(&a, &[1; 32]), ring.commitment(&b, &[1; 32]));
        let other = Keyring::new(&RootKey::from_bytes([2; 32]));
        assert_ne!(
            ring.commitment(&a, &[1; 32]),
            other.commitment(&a, &[1; 32])
        );
    }
}

#[cfg(test)]
mod golden_gen {
    //! Writes the golden files of the format-1 KMS layout (run once, with the code of that format).

    use super::*;
    use std::fmt::Write as _;
    use std::sync::Arc;

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    const ROOT: [u8; 32] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24,
        25, 26, 27, 28, 29, 30, 31,
    ];

    #[test]
    #[ignore = "writes golden files"]
    fn write_golden_files() {
        let ring = Keyring::new(&RootKey::from_bytes(ROOT));
        let key_id = [0x5a_u8; 16];
        let version_id = [0xa5_u8; 16];
        let cases: [(&str, Purpose, &[&[u8]], &[u8]); 4] = [
            (
                "root check",
                Purpose::RootCheck,
                &[],
                b"coffer-kms root check v1",
            ),
            (
                "key material",
                Purpose::KeyMaterial,
                &[&key_id, &version_id],
                &[0x3c; 32],
            ),
            (
                "import key",
                Purpose::ImportKey,
                &[&[0x77; 32]],
                b"pkcs8 private key bytes",
            ),
            ("empty plaintext", Purpose::KeyMaterial, &[b"a", b"bc"], b""),
        ];
        let mut out = String::from(
            "# Values sealed by coffer-kms's format 1 (the code before the shared sealer).\n\
             # Fields: hex; binding is comma-separated, '-' for none.\n",
        );
        for (name, purpose, binding, plain) in cases {
            let sealed = ring.seal(purpose, binding, plain);
            let b = if binding.is_empty() {
                "-".to_owned()
            } else {
                binding.iter().map(|f| hex(f)).collect::<Vec<_>>().join(",")
            };
            write!(
                out,
                "\ncase {name}\nroot {}\npurpose {}\nbinding {b}\nplaintext {}\nsealed {}\n",
                hex(&ROOT),
                purpose as u8,
                hex(plain),
                hex(&sealed)
            )
            .unwrap();
        }
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        std::fs::write(dir.join("../crypto/testdata/seal-v1-kms.txt"), out).unwrap();
        let material = [0x3c_u8; 32];
        std::fs::write(
            dir.join("../crypto/testdata/commitment-v1-kms.txt"),
            format!(
                "# A BYOK import commitment of coffer-kms (HMAC-SHA256 under the derived commitment key).\n\
                 root {}\nkey_id {}\nmaterial {}\ncommitment {}\n",
                hex(&ROOT),
                hex(&key_id),
                hex(&material),
                hex(&ring.commitment(&KeyId::from_bytes(key_id), &material))
            ),
        )
        .unwrap();

        // A whole KMS store with one key and a ciphertext under it.
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("kms.redb");
        let t0 = std::time::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let kms = crate::Kms::open(
            &path,
            RootKey::from_bytes(ROOT),
            crate::Config::default(),
            Arc::new(crate::ManualClock::new(t0)),
        )
        .unwrap();
        let caller =
            crate::Caller::api(crate::AccountId::parse("1234567890123456").unwrap(), "root");
        let id = kms
            .create_key(&caller, crate::CreateKey::default())
            .unwrap()
            .key_id;
        let context =
            crate::EncryptionContext::from_json(r#"{"acs:oss:bucket":"golden"}"#).unwrap();
        let encrypted = kms
            .encrypt(
                &caller,
                crate::Encrypt {
                    key: id.into(),
                    plaintext: crate::Plaintext::from_slice(b"golden plaintext"),
                    context,
                    dry_run: false,
                },
            )
            .unwrap();
        drop(kms);
        std::fs::copy(&path, dir.join("testdata/kms-v1.redb")).unwrap();
        std::fs::write(
            dir.join("testdata/kms-v1.txt"),
            format!(
                "# kms-v1.redb: written by coffer-kms format 1 under root key {}, account 1234567890123456.\n\
                 key_id {}\ncontext {{\"acs:oss:bucket\":\"golden\"}}\nplaintext golden plaintext\nblob {}\n",
                hex(&ROOT),
                id,
                encrypted.ciphertext_blob.to_base64()
            ),
        )
        .unwrap();
    }
}
