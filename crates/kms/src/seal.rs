//! Sealing at rest in the KMS: everything secret it stores (key material, BYOK private keys) goes
//! through the shared [`coffer_crypto::Sealer`] (domain `KmsMaterial`), bound to what it belongs
//! to; BYOK commitments use their own derived HMAC key. See `docs/format.md`.
//!
//! The binding (key id and version id for material, the token digest for an import key) means a
//! sealed value copied onto another record does not open. Separate derived keys keep the AEAD key
//! and the HMAC key of BYOK commitments independent.

use aws_lc_rs::hmac;
use coffer_crypto::{KeyPurpose, RootKey, SealDomain, Sealer};
use zeroize::Zeroizing;

use crate::id::KeyId;
use crate::{Error, Result};

/// Do not change: every commitment stored so far depends on it.
const COMMITMENT_LABEL: &[u8] = b"coffer-kms import commitment v1";

/// What a sealed value is; part of its AAD so one kind can never be opened as another. Do not
/// renumber: stored values are bound to these numbers.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Purpose {
    /// A known constant, sealed once per store, to recognise the wrong root key at open.
    RootCheck = 1,
    /// The material of one key version.
    KeyMaterial = 2,
    /// The RSA private key (PKCS#8) behind one import token.
    ImportKey = 3,
}

/// The keys the KMS derives from the root key. Keeps no copy of the root key.
pub(crate) struct Keyring {
    sealer: Sealer,
    commitment: hmac::Key,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Keyring(<redacted>)")
    }
}

impl Keyring {
    pub(crate) fn new(root: &RootKey) -> Self {
        let commitment = root.derive(KeyPurpose::KmsImportCommitment);
        Self {
            sealer: Sealer::new(root, SealDomain::KmsMaterial),
            commitment: hmac::Key::new(hmac::HMAC_SHA256, commitment.expose_secret()),
        }
    }

    /// Seals `plaintext` for storage, bound to `purpose` and `binding`.
    pub(crate) fn seal(&self, purpose: Purpose, binding: &[&[u8]], plaintext: &[u8]) -> Vec<u8> {
        self.sealer.seal(purpose as u8, binding, plaintext)
    }

    /// Opens a value sealed by [`Keyring::seal`] (or by the first release) with the same purpose
    /// and binding. Failure means the store is damaged or was written under another root key: an
    /// internal error, never a client's fault.
    pub(crate) fn open(
        &self,
        purpose: Purpose,
        binding: &[&[u8]],
        sealed: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        self.sealer
            .open(purpose as u8, binding, sealed)
            .map_err(|_| {
                Error::internal(std::io::Error::other("sealed record does not authenticate"))
            })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_the_same_purpose_and_binding() {
        let ring = Keyring::new(&RootKey::from_bytes([1; 32]));
        let sealed = ring.seal(Purpose::KeyMaterial, &[b"k", b"v"], &[0x5a; 32]);
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
        let other = Keyring::new(&RootKey::from_bytes([2; 32]));
        assert!(
            other
                .open(Purpose::KeyMaterial, &[b"k", b"v"], &sealed)
                .is_err()
        );
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
