//! Secret keys: the per-segment [`DataKey`] and the [`MasterKey`] that wraps it.
//!
//! Both live in a `Box` so that moving a key moves a pointer, not the key bytes (no stale copies left
//! on the stack), are zeroized on drop, print as a fixed placeholder, and hand their bytes out only
//! through `expose_secret()`, so that every use is greppable.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::{Error, Result};

/// Length in bytes of a [`DataKey`] and of a [`MasterKey`].
pub const KEY_LEN: usize = 32;

/// A 256-bit data-encryption key for one segment (or a group of segments: see below).
///
/// Generated fresh for every segment: an object's data, a part of a multipart upload, one upload
/// attempt, one append. The segment's chunk key is derived from it together with a random salt and
/// the segment's context, so even a data key that is (wrongly) reused yields unrelated chunk keys.
/// Stored only wrapped by a master key ([`crate::wrap_key`]).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct DataKey(Box<[u8; KEY_LEN]>);

impl DataKey {
    /// A fresh key from the operating system's CSPRNG (aws-lc's `RAND_bytes`).
    pub fn generate() -> Self {
        let mut key = Box::new([0u8; KEY_LEN]);
        crate::random::fill(key.as_mut_slice());
        Self(key)
    }

    /// Wraps existing key bytes, such as a customer-provided key (SSE-C). The caller should zeroize
    /// its own copy.
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Box::new(bytes))
    }

    /// Wraps key bytes given as a slice; refuses anything but exactly [`KEY_LEN`] bytes.
    pub fn try_from_slice(bytes: &[u8]) -> Result<Self> {
        key_from_slice(bytes, "data key").map(Self)
    }

    /// The key bytes. Every call is a place to audit.
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// A 256-bit key-encryption key that wraps [`DataKey`]s ([`crate::wrap_key`]).
///
/// Versioning and rotation of master keys belong to the caller (the KMS); this type is only the
/// key material of one version.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct MasterKey(Box<[u8; KEY_LEN]>);

impl MasterKey {
    /// A fresh key from the operating system's CSPRNG (aws-lc's `RAND_bytes`).
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
        key_from_slice(bytes, "master key").map(Self)
    }

    /// The key bytes. Every call is a place to audit.
    pub fn expose_secret(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    pub(crate) fn from_box(key: Box<[u8; KEY_LEN]>) -> Self {
        Self(key)
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("MasterKey(<redacted>)")
    }
}

pub(crate) fn key_from_slice(bytes: &[u8], what: &'static str) -> Result<Box<[u8; KEY_LEN]>> {
    if bytes.len() != KEY_LEN {
        return Err(Error::InvalidArgument {
            what,
            reason: "must be exactly 32 bytes",
        });
    }
    let mut key = Box::new([0u8; KEY_LEN]);
    key.copy_from_slice(bytes);
    Ok(key)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every way the key bytes could show up in a formatted string.
    pub(crate) fn assert_no_key_bytes(formatted: &str, key: &[u8]) {
        let lower: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let upper = lower.to_uppercase();
        let decimal = format!("{key:?}");
        let first = format!("{}", key[0]);
        assert!(!formatted.contains(&lower), "{formatted}");
        assert!(!formatted.contains(&upper), "{formatted}");
        assert!(!formatted.contains(&decimal), "{formatted}");
        // With a key of 0xAB bytes, any leak of even one byte in decimal shows up as "171".
        assert!(!formatted.contains(&first), "{formatted}");
    }

    #[test]
    fn data_key_debug_shows_no_key_bytes() {
        let key = DataKey::from_bytes([0xab; KEY_LEN]);
        let formatted = format!("{key:?} {key:#?}");
        assert_no_key_bytes(&formatted, key.expose_secret());
        assert_eq!(format!("{key:?}"), "DataKey(<redacted>)");
    }

    #[test]
    fn master_key_debug_shows_no_key_bytes() {
        let key = MasterKey::from_bytes([0xab; KEY_LEN]);
        let formatted = format!("{key:?} {key:#?}");
        assert_no_key_bytes(&formatted, key.expose_secret());
        assert_eq!(format!("{key:?}"), "MasterKey(<redacted>)");
    }

    #[test]
    fn generated_keys_differ() {
        let a = DataKey::generate();
        let b = DataKey::generate();
        assert_ne!(a.expose_secret(), b.expose_secret());
        assert_ne!(a.expose_secret(), &[0u8; KEY_LEN]);
        let m = MasterKey::generate();
        assert_ne!(m.expose_secret(), &[0u8; KEY_LEN]);
    }

    #[test]
    fn keys_from_slices_of_wrong_length_are_refused() {
        assert!(DataKey::try_from_slice(&[1; 31]).is_err());
        assert!(DataKey::try_from_slice(&[1; 33]).is_err());
        assert!(MasterKey::try_from_slice(&[]).is_err());
        let key = DataKey::try_from_slice(&[7; 32]).unwrap();
        assert_eq!(key.expose_secret(), &[7; 32]);
    }
}
