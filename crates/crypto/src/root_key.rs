//! The server's [`RootKey`] and the keys derived from it, one per [`KeyPurpose`].
//!
//! The root key itself encrypts nothing: every use goes through HKDF-SHA256 (RFC 5869) with a label
//! of its own, so the keys of iam, STS, the KMS and the keyring are independent of each other, and
//! learning one reveals neither the root key nor any other.
//!
//! ```text
//! key(purpose) = HKDF-SHA256(salt = "coffer root key v1", ikm = root key, info = label, 32 bytes)
//! ```
//!
//! | purpose | label |
//! |---|---|
//! | [`KeyPurpose::IamSecrets`] | `iam secrets` |
//! | [`KeyPurpose::StsTokens`] | `sts tokens` |
//! | [`KeyPurpose::KmsMaterial`] | `kms key material` |
//! | [`KeyPurpose::Keyring`] | `keyring` |
//! | [`KeyPurpose::KeyringMac`] | `keyring mac` |
//! | [`KeyPurpose::KmsImportCommitment`] | salt `coffer-kms root v1`, info `commitment` (the derivation of the first release: commitments are stored without a format byte) |
//!
//! The keys of the first seal format (iam and KMS format 1) are derived as they always were, in
//! [`crate::seal`], and only to open values written by it.

use std::fmt;

use aws_lc_rs::hkdf;
use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::key::{KEY_LEN, key_from_slice};
use crate::{MasterKey, Result};

/// Do not change: every derived key depends on it.
const ROOT_SALT: &[u8] = b"coffer root key v1";

/// The 256-bit root key of a server: kept outside the data directory, it seals everything secret
/// inside it. Boxed (moves copy a pointer, not the key), zeroized on drop, redacted `Debug`, not
/// `Clone`: one value per process, lent by reference to whatever derives keys from it.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct RootKey(Box<[u8; KEY_LEN]>);

impl RootKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let mut key = Box::new([0u8; KEY_LEN]);
        crate::random::fill(key.as_mut_slice());
        Self(key)
    }

    /// Wraps existing key bytes (read from a key file). The caller should zeroize its own copy.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Box::new(bytes))
    }

    /// Wraps key bytes given as a slice; refuses anything but exactly [`KEY_LEN`] bytes.
    pub fn try_from_slice(bytes: &[u8]) -> Result<Self> {
        key_from_slice(bytes, "root key").map(Self)
    }

    /// The key bytes, to write a new key file. Every call is a place to audit.
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The key for `purpose`.
    pub fn derive(&self, purpose: KeyPurpose) -> DerivedKey {
        let (salt, info) = purpose.label();
        DerivedKey(hkdf_sha256(self, salt, info))
    }
}

impl fmt::Debug for RootKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RootKey(<redacted>)")
    }
}

/// What a key derived from the [`RootKey`] is for. Each has its own label; do not change them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyPurpose {
    /// iam's sealed records: access key secrets, the store's root-key check.
    IamSecrets,
    /// The claims sealed into STS security tokens.
    StsTokens,
    /// The KMS's sealed records: key material, BYOK private keys, the store's root-key check.
    KmsMaterial,
    /// The HMAC key of BYOK import commitments.
    KmsImportCommitment,
    /// The key that wraps the SSE-OSS keyring's master keys.
    Keyring,
    /// The HMAC key that authenticates the SSE-OSS keyring file as a whole.
    KeyringMac,
}

impl KeyPurpose {
    fn label(self) -> (&'static [u8], &'static [u8]) {
        match self {
            KeyPurpose::IamSecrets => (ROOT_SALT, b"iam secrets"),
            KeyPurpose::StsTokens => (ROOT_SALT, b"sts tokens"),
            KeyPurpose::KmsMaterial => (ROOT_SALT, b"kms key material"),
            KeyPurpose::Keyring => (ROOT_SALT, b"keyring"),
            KeyPurpose::KeyringMac => (ROOT_SALT, b"keyring mac"),
            KeyPurpose::KmsImportCommitment => (b"coffer-kms root v1", b"commitment"),
        }
    }
}

/// A 256-bit key derived from the [`RootKey`] for one [`KeyPurpose`]. Zeroized, redacted `Debug`.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DerivedKey(Box<[u8; KEY_LEN]>);

impl DerivedKey {
    /// The key bytes. Every call is a place to audit.
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// The key as a [`MasterKey`], to wrap other keys with ([`crate::wrap_key`]); moves the box,
    /// leaves no copy.
    pub fn into_master_key(mut self) -> MasterKey {
        MasterKey::from_box(std::mem::replace(&mut self.0, Box::new([0; KEY_LEN])))
    }
}

impl fmt::Debug for DerivedKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DerivedKey(<redacted>)")
    }
}

struct Len32;

impl hkdf::KeyType for Len32 {
    fn len(&self) -> usize {
        KEY_LEN
    }
}

pub(crate) fn hkdf_sha256(root: &RootKey, salt: &[u8], info: &[u8]) -> Box<[u8; KEY_LEN]> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(root.expose_secret());
    let mut out = Box::new([0u8; KEY_LEN]);
    prk.expand(&[info], Len32)
        .and_then(|okm| okm.fill(out.as_mut_slice()))
        .expect("HKDF-SHA256 can expand 32 bytes");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::key::tests::assert_no_key_bytes;

    const ALL: [KeyPurpose; 6] = [
        KeyPurpose::IamSecrets,
        KeyPurpose::StsTokens,
        KeyPurpose::KmsMaterial,
        KeyPurpose::KmsImportCommitment,
        KeyPurpose::Keyring,
        KeyPurpose::KeyringMac,
    ];

    #[test]
    fn every_purpose_gets_its_own_key() {
        let root = RootKey::from_bytes([0xab; KEY_LEN]);
        let keys: Vec<[u8; KEY_LEN]> = ALL
            .iter()
            .map(|p| *root.derive(*p).expose_secret())
            .collect();
        for (i, a) in keys.iter().enumerate() {
            assert_ne!(a, root.expose_secret());
            for b in &keys[i + 1..] {
                assert_ne!(a, b);
            }
        }
        let other = RootKey::from_bytes([0xac; KEY_LEN]);
        for p in ALL {
            assert_ne!(
                root.derive(p).expose_secret(),
                other.derive(p).expose_secret()
            );
            assert_eq!(
                root.derive(p).expose_secret(),
                root.derive(p).expose_secret()
            );
        }
    }

    /// RFC 5869 gives no vector for these labels; this pins the derivation so that a change to it
    /// (which would make every sealed value unreadable) fails here first.
    #[test]
    fn derivation_is_pinned() {
        let root = RootKey::from_bytes(std::array::from_fn(|i| i as u8));
        let hex: String = root
            .derive(KeyPurpose::KmsImportCommitment)
            .expose_secret()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut expected = Box::new([0u8; KEY_LEN]);
        // The first release's derivation of the commitment key, written out independently.
        let prk =
            hkdf::Salt::new(hkdf::HKDF_SHA256, b"coffer-kms root v1").extract(root.expose_secret());
        prk.expand(&[b"commitment"], Len32)
            .and_then(|okm| okm.fill(expected.as_mut_slice()))
            .unwrap();
        let expected: String = expected.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, expected);
    }

    #[test]
    fn debug_shows_no_key_bytes() {
        let root = RootKey::from_bytes([0xab; KEY_LEN]);
        let derived = root.derive(KeyPurpose::Keyring);
        let formatted = format!("{root:?} {root:#?} {derived:?}");
        assert_no_key_bytes(&formatted, root.expose_secret());
        assert_no_key_bytes(&formatted, derived.expose_secret());
        assert_eq!(format!("{root:?}"), "RootKey(<redacted>)");
        assert!(RootKey::try_from_slice(&[1; 31]).is_err());
        assert_eq!(
            RootKey::try_from_slice(&[1; 32]).unwrap().expose_secret(),
            &[1; 32]
        );
    }

    #[test]
    fn a_derived_key_becomes_a_master_key_unchanged() {
        let root = RootKey::generate();
        let bytes = *root.derive(KeyPurpose::Keyring).expose_secret();
        assert_eq!(
            root.derive(KeyPurpose::Keyring)
                .into_master_key()
                .expose_secret(),
            &bytes
        );
    }
}
