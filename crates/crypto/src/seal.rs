//! The one [`Sealer`] of coffer: small secrets at rest (access key secrets, KMS key material, BYOK
//! private keys, root-key checks) and STS token claims, AES-256-GCM-sealed under a key derived
//! from the [`RootKey`], bound to a purpose and to what they belong to.
//!
//! ```text
//! format 2 (written):
//!   sealed = 0x02 ‖ nonce (12, random) ‖ ciphertext ‖ tag (16)
//!   key    = RootKey::derive(domain's KeyPurpose)
//!   aad    = 0x02 ‖ "coffer seal" ‖ purpose (1 byte) ‖ encode_context(binding fields)
//!
//! format 1 (read only; the first release, one layout per domain):
//!   sealed = 0x01 ‖ nonce (12) ‖ ciphertext ‖ tag (16)
//!   iam (IamSecrets, StsTokens):
//!     key = HKDF-SHA256(salt = "coffer-iam root v1", ikm = root key, info = "seal")
//!     aad = "coffer-iam seal v1" ‖ purpose ‖ for each field: len (u32 BE) ‖ field
//!   kms (KmsMaterial):
//!     key = HKDF-SHA256(salt = "coffer-kms root v1", ikm = root key, info = "seal")
//!     aad = "coffer-kms seal v1" ‖ purpose ‖ encode_context(binding fields)
//! ```
//!
//! The purpose byte is the caller's (each domain numbers its own kinds of value), so one kind can
//! never be opened as another; the binding means a sealed value copied onto another record does
//! not open. Random 96-bit nonces limit one key to about 2^32 seals (NIST SP 800-38D, section
//! 8.3); access keys, key versions and `AssumeRole` calls are many orders of magnitude fewer.

use std::fmt;

use aws_lc_rs::aead::{AES_256_GCM, Aad, Nonce, RandomizedNonceKey};
use zeroize::Zeroizing;

use crate::root_key::hkdf_sha256;
use crate::{Error, KeyPurpose, Result, RootKey, encode_context};

/// Do not change: every value sealed by the first release starts with it.
const FORMAT_1: u8 = 1;
/// Do not change: every value sealed since starts with it.
const FORMAT_2: u8 = 2;
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
const LABEL_2: &[u8] = b"coffer seal";

/// Whose values a [`Sealer`] seals. Each domain has its own derived key, and names the format-1
/// layout its older values were written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SealDomain {
    /// iam's store: access key secrets and the root-key check.
    IamSecrets,
    /// STS security tokens (sealed by iam's key before format 2).
    StsTokens,
    /// The KMS's store: key material, BYOK private keys and the root-key check.
    KmsMaterial,
}

#[derive(Debug, Clone, Copy)]
enum Layout1 {
    Iam,
    Kms,
}

impl SealDomain {
    fn purpose(self) -> KeyPurpose {
        match self {
            SealDomain::IamSecrets => KeyPurpose::IamSecrets,
            SealDomain::StsTokens => KeyPurpose::StsTokens,
            SealDomain::KmsMaterial => KeyPurpose::KmsMaterial,
        }
    }

    fn layout_1(self) -> Layout1 {
        match self {
            SealDomain::IamSecrets | SealDomain::StsTokens => Layout1::Iam,
            SealDomain::KmsMaterial => Layout1::Kms,
        }
    }
}

impl Layout1 {
    /// Do not change: the salts and labels of the first release.
    fn salt(self) -> &'static [u8] {
        match self {
            Layout1::Iam => b"coffer-iam root v1",
            Layout1::Kms => b"coffer-kms root v1",
        }
    }

    fn aad(self, purpose: u8, binding: &[&[u8]]) -> Vec<u8> {
        match self {
            Layout1::Iam => {
                let mut out = b"coffer-iam seal v1".to_vec();
                out.push(purpose);
                for field in binding {
                    // A longer field could not have been sealed, so it cannot authenticate.
                    let len = u32::try_from(field.len()).unwrap_or(u32::MAX);
                    out.extend_from_slice(&len.to_be_bytes());
                    out.extend_from_slice(field);
                }
                out
            }
            Layout1::Kms => {
                let mut out = b"coffer-kms seal v1".to_vec();
                out.push(purpose);
                out.extend_from_slice(&encode_context(binding));
                out
            }
        }
    }
}

fn aad_2(purpose: u8, binding: &[&[u8]]) -> Vec<u8> {
    let mut out = vec![FORMAT_2];
    out.extend_from_slice(LABEL_2);
    out.push(purpose);
    out.extend_from_slice(&encode_context(binding));
    out
}

fn aead(key: &[u8; 32]) -> RandomizedNonceKey {
    RandomizedNonceKey::new(&AES_256_GCM, key).expect("a 32-byte key is valid for AES-256-GCM")
}

/// Seals and opens the values of one [`SealDomain`]. Keeps only derived keys, never the root key.
pub struct Sealer {
    current: RandomizedNonceKey,
    format_1: (Layout1, RandomizedNonceKey),
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(<redacted>)")
    }
}

impl Sealer {
    /// The sealer of `domain` under `root`.
    pub fn new(root: &RootKey, domain: SealDomain) -> Self {
        let current = Zeroizing::new(*root.derive(domain.purpose()).expose_secret());
        let layout = domain.layout_1();
        let old = Zeroizing::new(*hkdf_sha256(root, layout.salt(), b"seal"));
        Self {
            current: aead(&current),
            format_1: (layout, aead(&old)),
        }
    }

    /// Seals `plaintext` in format 2, bound to `purpose` and `binding`.
    pub fn seal(&self, purpose: u8, binding: &[&[u8]], plaintext: &[u8]) -> Vec<u8> {
        let mut body = Zeroizing::new(plaintext.to_vec());
        let (nonce, tag) = self
            .current
            .seal_in_place_separate_tag(Aad::from(aad_2(purpose, binding)), body.as_mut_slice())
            .expect("AES-GCM seals a short message");
        let mut out = Vec::with_capacity(1 + NONCE_LEN + body.len() + TAG_LEN);
        out.push(FORMAT_2);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&body);
        out.extend_from_slice(tag.as_ref());
        out
    }

    /// Opens a value sealed (in either format) with the same root key, domain, purpose and
    /// binding. Anything else — damaged, forged, another binding or root key, an unknown format —
    /// is [`Error::Decrypt`].
    pub fn open(
        &self,
        purpose: u8,
        binding: &[&[u8]],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        if sealed.len() < 1 + NONCE_LEN + TAG_LEN {
            return Err(Error::Decrypt);
        }
        let (key, aad) = match sealed[0] {
            FORMAT_2 => (&self.current, aad_2(purpose, binding)),
            FORMAT_1 => (&self.format_1.1, self.format_1.0.aad(purpose, binding)),
            _ => return Err(Error::Decrypt),
        };
        let nonce = Nonce::try_assume_unique_for_key(&sealed[1..1 + NONCE_LEN])
            .map_err(|_| Error::Decrypt)?;
        let mut in_out = Zeroizing::new(sealed[1 + NONCE_LEN..].to_vec());
        let len = key
            .open_in_place(nonce, Aad::from(aad), in_out.as_mut_slice())
            .map_err(|_| Error::Decrypt)?
            .len();
        in_out.truncate(len);
        Ok(in_out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOMAINS: [SealDomain; 3] = [
        SealDomain::IamSecrets,
        SealDomain::StsTokens,
        SealDomain::KmsMaterial,
    ];

    #[test]
    fn sealed_values_open_only_with_the_same_root_domain_purpose_and_binding() {
        let root = RootKey::from_bytes([1; 32]);
        let sealer = Sealer::new(&root, SealDomain::KmsMaterial);
        let sealed = sealer.seal(2, &[b"k", b"v"], &[0x5a; 32]);
        assert_eq!(sealed.len(), 1 + 12 + 32 + 16);
        assert_eq!(sealed[0], FORMAT_2);
        assert!(!sealed.windows(8).any(|w| w == [0x5a; 8]));
        let opened = sealer.open(2, &[b"k", b"v"], &sealed).unwrap();
        assert_eq!(opened.as_slice(), &[0x5a; 32]);
        assert!(sealer.open(3, &[b"k", b"v"], &sealed).is_err());
        assert!(sealer.open(2, &[b"k", b"w"], &sealed).is_err());
        assert!(sealer.open(2, &[b"kv"], &sealed).is_err());
        assert!(sealer.open(2, &[b"k", b"v", b""], &sealed).is_err());
        for domain in DOMAINS {
            if domain != SealDomain::KmsMaterial {
                assert!(
                    Sealer::new(&root, domain)
                        .open(2, &[b"k", b"v"], &sealed)
                        .is_err()
                );
            }
        }
        let other = Sealer::new(&RootKey::from_bytes([2; 32]), SealDomain::KmsMaterial);
        assert!(other.open(2, &[b"k", b"v"], &sealed).is_err());
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(sealer.open(2, &[b"k", b"v"], &bad).is_err(), "byte {i}");
        }
        for bad in [&[][..], &sealed[..28], &sealed[..sealed.len() - 1]] {
            assert!(sealer.open(2, &[b"k", b"v"], bad).is_err());
        }
    }

    #[test]
    fn debug_shows_no_key_material() {
        let sealer = Sealer::new(&RootKey::from_bytes([7; 32]), SealDomain::IamSecrets);
        assert_eq!(format!("{sealer:?}"), "Sealer(<redacted>)");
    }
}
