//! Secret values of the KMS: [`Plaintext`] (data keys and decrypted data handed to callers), the
//! BYOK [`ImportToken`], and key material inside the crate. (The root key that seals everything at
//! rest is [`coffer_crypto::RootKey`].)
//!
//! Each is zeroized on drop, prints as a fixed placeholder, and hands its bytes out only through
//! `expose_secret()`, so that every use is greppable.

use std::fmt;

use base64::Engine as _;
use coffer_crypto::DataKey;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::{Error, Result};

/// Secret bytes crossing the KMS boundary: a generated data key, the input of Encrypt, the output
/// of Decrypt. Any length (data keys are 1 to 1024 bytes; Encrypt takes up to 6 KiB).
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct Plaintext(Vec<u8>);

impl Plaintext {
    /// Takes ownership of `bytes` (no copy is made, so none is left behind).
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    /// Copies `bytes`; the caller should zeroize its own copy.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Self(bytes.to_vec())
    }

    /// `len` fresh random bytes (a data key).
    pub(crate) fn random(len: usize) -> Self {
        let mut bytes = vec![0u8; len];
        coffer_crypto::random::fill(&mut bytes);
        Self(bytes)
    }

    /// The secret bytes. Every call is a place to audit.
    pub fn expose_secret(&self) -> &[u8] {
        &self.0
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether it has no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Standard base64, as the KMS API returns `Plaintext`; zeroized when dropped.
    pub fn to_base64(&self) -> Zeroizing<String> {
        Zeroizing::new(base64::engine::general_purpose::STANDARD.encode(&self.0))
    }

    /// The bytes as coffer-crypto's [`DataKey`], for encrypting object data; only a 32-byte
    /// plaintext (KeySpec `AES_256`, the default) is one.
    pub fn to_data_key(&self) -> Result<DataKey> {
        DataKey::try_from_slice(&self.0)
            .map_err(|_| Error::invalid("Plaintext", "a data key must be 32 bytes"))
    }
}

impl fmt::Debug for Plaintext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Plaintext(<redacted {} bytes>)", self.0.len())
    }
}

/// The token GetParametersForImport hands out and ImportKeyMaterial takes back: whoever holds it
/// (and the public key) can import material into the key, so it is treated as a secret. The store
/// keeps only its SHA-256.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct ImportToken(String);

impl ImportToken {
    /// Wraps the token text as received.
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    /// The token text. Every call is a place to audit.
    pub fn expose_secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ImportToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ImportToken(<redacted>)")
    }
}

/// The raw key material of one key version (32 bytes for AES-256, 16 for SM4). Never leaves the
/// crate; sealed under the root key whenever it is stored.
#[derive(Zeroize, ZeroizeOnDrop)]
pub(crate) struct Material(Zeroizing<Vec<u8>>);

impl Material {
    pub(crate) fn generate(len: usize) -> Self {
        let mut bytes = Zeroizing::new(vec![0u8; len]);
        coffer_crypto::random::fill(&mut bytes);
        Self(bytes)
    }

    pub(crate) fn from_vec(bytes: Zeroizing<Vec<u8>>) -> Self {
        Self(bytes)
    }

    pub(crate) fn expose_secret(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Material {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Material(<redacted>)")
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every way the key bytes could show up in a formatted string.
    pub(crate) fn assert_no_key_bytes(formatted: &str, key: &[u8]) {
        let lower: String = key.iter().map(|b| format!("{b:02x}")).collect();
        let upper = lower.to_uppercase();
        let decimal = format!("{key:?}");
        let b64 = base64::engine::general_purpose::STANDARD.encode(key);
        for needle in [&lower, &upper, &decimal, &b64, &format!("{}", key[0])] {
            assert!(!formatted.contains(needle.as_str()), "{formatted}");
        }
    }

    #[test]
    fn debug_of_every_secret_shows_no_key_bytes() {
        let bytes = [0xab_u8; 32];
        let plain = Plaintext::from_slice(&bytes);
        let material = Material::from_vec(Zeroizing::new(bytes.to_vec()));
        let token = ImportToken::new("q0Vsb2tlbi1zZWNyZXQ=");
        let formatted = format!("{plain:?} {plain:#?} {material:?} {material:#?} {token:?}");
        assert_no_key_bytes(&formatted, &bytes);
        assert!(!formatted.contains("q0Vsb2"));
        assert_eq!(format!("{plain:?}"), "Plaintext(<redacted 32 bytes>)");
    }

    #[test]
    fn plaintext_converts_to_a_data_key_only_at_32_bytes() {
        let key = Plaintext::from_slice(&[7; 32]).to_data_key().unwrap();
        assert_eq!(key.expose_secret(), &[7; 32]);
        assert!(Plaintext::from_slice(&[7; 16]).to_data_key().is_err());
        assert_eq!(
            Plaintext::from_slice(&[0xfb; 3]).to_base64().as_str(),
            "+/v7"
        );
    }
}
