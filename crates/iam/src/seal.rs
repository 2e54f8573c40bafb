//! Sealing: access key secrets at rest and STS session tokens are AES-256-GCM-sealed under a key
//! derived from the server's root key.
//!
//! Secrets cannot be stored hashed: verifying an HMAC signature needs the secret itself. So each is
//! sealed, bound to its access key id, and opened only to verify a request.
//!
//! ```text
//! seal key = HKDF-SHA256(salt = "coffer-iam root v1", ikm = root key, info = "seal", 32 bytes)
//!
//! sealed = 0x01 (format) ‖ nonce (12, random) ‖ ciphertext ‖ tag (16)
//! aad    = "coffer-iam seal v1" ‖ purpose (1 byte) ‖ for each binding field: len (u32 BE) ‖ field
//! ```
//!
//! Random 96-bit nonces limit one key to about 2^32 seals (NIST SP 800-38D §8.3); access keys and
//! `AssumeRole` calls are many orders of magnitude fewer over a server's life.

use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use aws_lc_rs::hkdf;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Do not change: every sealed value in every identity store starts with it.
const SEAL_FORMAT_1: u8 = 1;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// Do not change: the derivation of every key sealed so far depends on these labels.
const ROOT_SALT: &[u8] = b"coffer-iam root v1";
const SEAL_LABEL: &[u8] = b"coffer-iam seal v1";

/// The 32-byte key iam seals with, derived from the server's root key (HKDF, so it is independent
/// of every other key derived from the same root). No `Debug` of its bytes, zeroized on drop.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SealingKey(Box<[u8; 32]>);

impl SealingKey {
    /// Derives the sealing key from the server's root key (`coffer_crypto::MasterKey`'s bytes).
    pub fn derive(root_key: &[u8; 32]) -> Self {
        let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, ROOT_SALT).extract(root_key);
        let mut out = Box::new([0u8; 32]);
        prk.expand(&[b"seal"], Len32)
            .and_then(|okm| okm.fill(out.as_mut_slice()))
            .expect("HKDF-SHA256 can expand 32 bytes");
        Self(out)
    }

    /// A random key, for an identity store that lives only in memory.
    pub fn generate() -> Self {
        let mut out = Box::new([0u8; 32]);
        aws_lc_rs::rand::fill(out.as_mut_slice()).expect("the system RNG works");
        Self(out)
    }
}

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(<redacted>)")
    }
}

struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        32
    }
}

/// What a sealed value is; part of its AAD so one kind can never be opened as another.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    /// A known constant sealed once per store, to recognise the wrong root key at open.
    RootCheck = 1,
    /// An access key secret, bound to its access key id.
    AccessKeySecret = 2,
    /// The claims of an STS session token.
    SessionToken = 3,
}

/// The AEAD built from a [`SealingKey`].
pub(crate) struct Sealer {
    key: RandomizedNonceKey,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    pub(crate) fn new(key: &SealingKey) -> Self {
        Self {
            key: RandomizedNonceKey::new(&AES_256_GCM, key.0.as_slice())
                .expect("a 32-byte key is valid for AES-256-GCM"),
        }
    }

    /// Seals `plaintext`, bound to `purpose` and `binding`.
    pub(crate) fn seal(&self, purpose: Purpose, binding: &[&[u8]], plaintext: &[u8]) -> Vec<u8> {
        let mut body = Zeroizing::new(plaintext.to_vec());
        let (nonce, tag) = self
            .key
            .seal_in_place_separate_tag(Aad::from(aad(purpose, binding)), body.as_mut_slice())
            .expect("AES-GCM seals a short message");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len() + TAG_LEN);
        out.push(SEAL_FORMAT_1);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&body);
        out.extend_from_slice(tag.as_ref());
        out
    }

    /// Opens a value sealed with the same purpose and binding; `None` if it does not authenticate
    /// (damaged, forged, another binding, or another root key).
    pub(crate) fn open(
        &self,
        purpose: Purpose,
        binding: &[&[u8]],
        sealed: &[u8],
    ) -> Option<Zeroizing<Vec<u8>>> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN || sealed[0] != SEAL_FORMAT_1 {
            return None;
        }
        let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN]).ok()?;
        let mut in_out = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
        let len = self
            .key
            .open_in_place(
                nonce,
                Aad::from(aad(purpose, binding)),
                in_out.as_mut_slice(),
            )
            .ok()?
            .len();
        in_out.truncate(len);
        Some(in_out)
    }
}

fn aad(purpose: Purpose, binding: &[&[u8]]) -> Vec<u8> {
    let mut out = SEAL_LABEL.to_vec();
    out.push(purpose as u8);
    for field in binding {
        let len = u32::try_from(field.len()).expect("binding fields are short");
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(field);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_key_purpose_and_binding() {
        let sealer = Sealer::new(&SealingKey::derive(&[1; 32]));
        let sealed = sealer.seal(Purpose::AccessKeySecret, &[b"LTAIx"], b"the-secret-value");
        assert_eq!(sealed.len(), 1 + 12 + 16 + 16);
        assert!(!sealed.windows(6).any(|w| w == b"secret"));
        let opened = sealer
            .open(Purpose::AccessKeySecret, &[b"LTAIx"], &sealed)
            .unwrap();
        assert_eq!(opened.as_slice(), b"the-secret-value");
        assert!(
            sealer
                .open(Purpose::AccessKeySecret, &[b"LTAIy"], &sealed)
                .is_none()
        );
        assert!(
            sealer
                .open(Purpose::SessionToken, &[b"LTAIx"], &sealed)
                .is_none()
        );
        let other = Sealer::new(&SealingKey::derive(&[2; 32]));
        assert!(
            other
                .open(Purpose::AccessKeySecret, &[b"LTAIx"], &sealed)
                .is_none()
        );
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(
                sealer
                    .open(Purpose::AccessKeySecret, &[b"LTAIx"], &bad)
                    .is_none()
            );
        }
        assert!(
            sealer
                .open(Purpose::AccessKeySecret, &[b"LTAIx"], &[])
                .is_none()
        );
    }

    #[test]
    fn debug_shows_no_key_material() {
        let key = SealingKey::derive(&[7; 32]);
        let shown = format!("{key:?} {:?}", Sealer::new(&key));
        assert!(!shown.contains('7') || shown.contains("redacted"));
        assert_eq!(shown, "SealingKey(<redacted>) Sealer(<redacted>)");
    }
}

#[cfg(test)]
mod golden {
    //! A value sealed by the first release; new code must keep opening it (stored secrets).

    use super::*;

    const SEALED_V1: &str =
        "01e78c839bf5647181d877af5848e1cb3e5480945582b50187af578201c25362f240c2f4ecb2db4b7063";

    #[test]
    fn format_1_sealed_values_still_open() {
        let sealer = Sealer::new(&SealingKey::derive(&[1; 32]));
        let sealed: Vec<u8> = (0..SEALED_V1.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&SEALED_V1[i..i + 2], 16).unwrap())
            .collect();
        let opened = sealer
            .open(Purpose::AccessKeySecret, &[b"LTAIgolden"], &sealed)
            .unwrap();
        assert_eq!(opened.as_slice(), b"golden-secret");
    }
}

#[cfg(test)]
mod golden_gen {
    //! Writes the golden files of the format-1 iam layout (run once, with the code of that format).

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
        let sealer = Sealer::new(&SealingKey::derive(&ROOT));
        let cases: [(&str, Purpose, &[&[u8]], &[u8]); 4] = [
            ("root check", Purpose::RootCheck, &[], b"coffer-iam"),
            (
                "access key secret",
                Purpose::AccessKeySecret,
                &[b"LTAIgoldenAccessKey01"],
                b"golden-access-key-secret-0123456789",
            ),
            (
                "session token, two binding fields",
                Purpose::SessionToken,
                &[b"STS.golden", b""],
                b"{\"claims\":1}",
            ),
            (
                "empty plaintext",
                Purpose::AccessKeySecret,
                &[b"a", b"bc"],
                b"",
            ),
        ];
        let mut out = String::from(
            "# Values sealed by coffer-iam's format 1 (the code before the shared sealer).\n\
             # Fields: hex; binding is comma-separated, '-' for none.\n",
        );
        for (name, purpose, binding, plain) in cases {
            let sealed = sealer.seal(purpose, binding, plain);
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
        std::fs::write(dir.join("../crypto/testdata/seal-v1-iam.txt"), out).unwrap();

        // A whole identity store, to show an existing iam.redb keeps opening.
        let path = dir.join("testdata/iam-v1.redb");
        let _ = std::fs::remove_file(&path);
        let store = Arc::new(crate::RedbIdentityStore::open(&path).unwrap());
        let root = crate::RootAccount {
            account_id: "1234567890123456".into(),
            access_key_id: "LTAIgoldenRoot0000000000".into(),
            secret: coffer_types::AccessKeySecret::new("root-secret"),
        };
        let iam = crate::Iam::open(root, store, &SealingKey::derive(&ROOT)).unwrap();
        let principal = crate::Principal::Root {
            account_id: "1234567890123456".into(),
            access_key_id: "LTAIgoldenRoot0000000000".into(),
        };
        let c = crate::Conditions::new();
        let admin = iam.admin(&principal, &c);
        admin.create_user("alice", None, None).unwrap();
        admin.create_group("dev", None).unwrap();
        admin.add_user_to_group("dev", "alice").unwrap();
        let doc = r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"oss:GetObject","Resource":"*"}]}"#;
        admin.create_policy("read", doc, None).unwrap();
        admin
            .attach_policy("read", &crate::PolicyTarget::Group("dev".into()))
            .unwrap();
        let k = admin.create_access_key("alice").unwrap();
        drop(iam);
        std::fs::write(
            dir.join("testdata/iam-v1.txt"),
            format!(
                "# iam-v1.redb: written by coffer-iam format 1 under root key {}.\n\
                 access_key_id {}\nsecret {}\n",
                hex(&ROOT),
                k.info.access_key_id,
                k.secret.expose_secret()
            ),
        )
        .unwrap();
    }
}
