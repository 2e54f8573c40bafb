//! BYOK transport keys: the RSA-2048 key pair behind one import token, and the unwrapping of
//! `EncryptedKeyMaterial` with it.
//!
//! The standard encodings, so that any client library interoperates: RSAES-OAEP with SHA-256 or
//! SHA-1 and MGF1 over the same hash, empty label; RSAES-PKCS1-v1_5; the public key as DER
//! SubjectPublicKeyInfo.

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der, PublicKeyX509Der};
use aws_lc_rs::rsa::{
    KeySize, OAEP_SHA1_MGF1SHA1, OAEP_SHA256_MGF1SHA256, OaepPrivateDecryptingKey,
    Pkcs1PrivateDecryptingKey, PrivateDecryptingKey,
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use crate::{Error, Result};

/// How the customer wraps key material for import (`WrappingAlgorithm`).
// Do not reorder: token records store it by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WrappingAlgorithm {
    /// `RSAES_OAEP_SHA_256`: OAEP, SHA-256, MGF1-SHA-256.
    RsaesOaepSha256,
    /// `RSAES_OAEP_SHA_1`: OAEP, SHA-1, MGF1-SHA-1.
    RsaesOaepSha1,
    /// `RSAES_PKCS1_V1_5`.
    RsaesPkcs1V15,
}

impl WrappingAlgorithm {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            WrappingAlgorithm::RsaesOaepSha256 => "RSAES_OAEP_SHA_256",
            WrappingAlgorithm::RsaesOaepSha1 => "RSAES_OAEP_SHA_1",
            WrappingAlgorithm::RsaesPkcs1V15 => "RSAES_PKCS1_V1_5",
        }
    }

    /// Parses the wire name; `SM2PKE` and anything else is [`Error::InvalidParameter`].
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "RSAES_OAEP_SHA_256" => Ok(WrappingAlgorithm::RsaesOaepSha256),
            "RSAES_OAEP_SHA_1" => Ok(WrappingAlgorithm::RsaesOaepSha1),
            "RSAES_PKCS1_V1_5" => Ok(WrappingAlgorithm::RsaesPkcs1V15),
            _ => Err(Error::invalid("WrappingAlgorithm", "unsupported value")),
        }
    }
}

/// The transport key's type (`WrappingKeySpec`); only RSA-2048.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WrappingKeySpec {
    /// `RSA_2048`.
    Rsa2048,
}

impl WrappingKeySpec {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        "RSA_2048"
    }

    /// Parses the wire name; `EC_SM2` and anything else is [`Error::InvalidParameter`].
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "RSA_2048" => Ok(WrappingKeySpec::Rsa2048),
            _ => Err(Error::invalid("WrappingKeySpec", "unsupported value")),
        }
    }
}

/// The private half of a transport key.
pub(crate) struct WrappingKey(PrivateDecryptingKey);

impl std::fmt::Debug for WrappingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WrappingKey(<redacted>)")
    }
}

impl WrappingKey {
    pub(crate) fn generate(_spec: WrappingKeySpec) -> Result<Self> {
        PrivateDecryptingKey::generate(KeySize::Rsa2048)
            .map(Self)
            .map_err(|_| Error::internal(std::io::Error::other("RSA key generation failed")))
    }

    /// The private key as PKCS#8 DER, to be sealed for storage.
    pub(crate) fn to_pkcs8(&self) -> Result<Zeroizing<Vec<u8>>> {
        let der: Pkcs8V1Der<'static> = self
            .0
            .as_der()
            .map_err(|_| Error::internal(std::io::Error::other("RSA key encoding failed")))?;
        Ok(Zeroizing::new(der.as_ref().to_vec()))
    }

    pub(crate) fn from_pkcs8(der: &[u8]) -> Result<Self> {
        PrivateDecryptingKey::from_pkcs8(der)
            .map(Self)
            .map_err(|_| Error::internal(std::io::Error::other("stored RSA key does not parse")))
    }

    /// The public key as DER SubjectPublicKeyInfo.
    pub(crate) fn public_key_der(&self) -> Result<Vec<u8>> {
        let der: PublicKeyX509Der<'static> = self
            .0
            .public_key()
            .as_der()
            .map_err(|_| Error::internal(std::io::Error::other("RSA key encoding failed")))?;
        Ok(der.as_ref().to_vec())
    }

    /// Unwraps `wrapped` with `algorithm`; any failure is [`Error::InvalidKeyMaterial`].
    pub(crate) fn unwrap(
        &self,
        algorithm: WrappingAlgorithm,
        wrapped: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>> {
        let mut out = Zeroizing::new(vec![0u8; self.0.key_size_bytes()]);
        let bad = |_| Error::InvalidKeyMaterial;
        let len = match algorithm {
            WrappingAlgorithm::RsaesOaepSha256 | WrappingAlgorithm::RsaesOaepSha1 => {
                let oaep = if algorithm == WrappingAlgorithm::RsaesOaepSha256 {
                    &OAEP_SHA256_MGF1SHA256
                } else {
                    &OAEP_SHA1_MGF1SHA1
                };
                OaepPrivateDecryptingKey::new(self.0.clone())
                    .map_err(bad)?
                    .decrypt(oaep, wrapped, &mut out, None)
                    .map_err(bad)?
                    .len()
            }
            WrappingAlgorithm::RsaesPkcs1V15 => Pkcs1PrivateDecryptingKey::new(self.0.clone())
                .map_err(bad)?
                .decrypt(wrapped, &mut out)
                .map_err(bad)?
                .len(),
        };
        out.truncate(len);
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::rsa::{OaepPublicEncryptingKey, Pkcs1PublicEncryptingKey, PublicEncryptingKey};

    fn wrap(public_der: &[u8], algorithm: WrappingAlgorithm, material: &[u8]) -> Vec<u8> {
        let public = PublicEncryptingKey::from_der(public_der).unwrap();
        let mut out = vec![0u8; 256];
        let len = match algorithm {
            WrappingAlgorithm::RsaesOaepSha256 => OaepPublicEncryptingKey::new(public)
                .unwrap()
                .encrypt(&OAEP_SHA256_MGF1SHA256, material, &mut out, None)
                .unwrap()
                .len(),
            WrappingAlgorithm::RsaesOaepSha1 => OaepPublicEncryptingKey::new(public)
                .unwrap()
                .encrypt(&OAEP_SHA1_MGF1SHA1, material, &mut out, None)
                .unwrap()
                .len(),
            WrappingAlgorithm::RsaesPkcs1V15 => Pkcs1PublicEncryptingKey::new(public)
                .unwrap()
                .encrypt(material, &mut out)
                .unwrap()
                .len(),
        };
        out.truncate(len);
        out
    }

    #[test]
    fn every_algorithm_unwraps_and_refuses_the_others() {
        let key = WrappingKey::generate(WrappingKeySpec::Rsa2048).unwrap();
        let der = key.public_key_der().unwrap();
        // SubjectPublicKeyInfo of rsaEncryption, as in the sample of the KMS API reference's
        // "GetParametersForImport" ("MIIBIjANBgkqhkiG9w0BAQEF").
        assert_eq!(&der[..4], &[0x30, 0x82, 0x01, 0x22]);
        let reloaded = WrappingKey::from_pkcs8(&key.to_pkcs8().unwrap()).unwrap();
        let all = [
            WrappingAlgorithm::RsaesOaepSha256,
            WrappingAlgorithm::RsaesOaepSha1,
            WrappingAlgorithm::RsaesPkcs1V15,
        ];
        for algorithm in all {
            assert_eq!(
                WrappingAlgorithm::parse(algorithm.as_str()).unwrap(),
                algorithm
            );
            let wrapped = wrap(&der, algorithm, &[0x42; 32]);
            assert_eq!(
                reloaded.unwrap(algorithm, &wrapped).unwrap().as_slice(),
                &[0x42; 32]
            );
            for other in all.into_iter().filter(|a| *a != algorithm) {
                assert!(
                    reloaded.unwrap(other, &wrapped).is_err(),
                    "{algorithm:?} as {other:?}"
                );
            }
            let mut bad = wrapped.clone();
            bad[100] ^= 1;
            assert!(reloaded.unwrap(algorithm, &bad).is_err());
            assert!(reloaded.unwrap(algorithm, &wrapped[1..]).is_err());
        }
        assert!(WrappingAlgorithm::parse("SM2PKE").is_err());
        assert!(WrappingKeySpec::parse("EC_SM2").is_err());
    }
}
