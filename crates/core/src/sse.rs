//! Server-side encryption: which method an object gets, its data key, and the envelope that
//! keeps the data key wrapped in the object's metadata.
//!
//! Each object (each multipart upload, each appendable object) has one random data key. It is
//! wrapped by the SSE-OSS keyring (AES256, SM4) or generated and wrapped by the KMS (KMS), and the
//! wrapped form is all that is stored. Every segment of the object (its data, a part, an append)
//! derives its own chunk key from the data key with a fresh random salt (`coffer_crypto`), so no
//! nonce repeats across parts, retries or appends. An HMAC over the segment list, keyed from the
//! data key, makes dropping, reordering or splicing segments in the metadata detectable.
//!
//! SSE-C objects are the exception to "wrapped by a key the server holds": their data key is
//! wrapped under a key derived from the client's own key ([`CustomerKeys`], carried by the
//! request), and the envelope keeps only the salt and a keyed check of that key. Without the
//! client's key such an object cannot be read, by any front-end.

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use coffer_crypto::{Cipher, CustomerKey, CustomerWrap, DataKey, encode_context};
use coffer_meta::{EncryptionRule, ObjectEncryption, Segment, SseAlgorithm};
use coffer_types::{BlobId, BucketName, ObjectKey};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::{Error, Result};

/// What a request (or a bucket default) asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseRequest {
    /// SSE-OSS with AES-256.
    Aes256,
    /// SSE-OSS with SM4.
    Sm4,
    /// SSE-KMS with the named CMK (or the account's default OSS key) and the data cipher.
    Kms {
        /// The CMK; `None` means the default key `alias/acs/oss`.
        key_id: Option<String>,
        /// Encrypt the data with SM4 instead of AES-256.
        data_sm4: bool,
    },
}

impl SseRequest {
    /// The bucket default rule as a request.
    pub fn from_rule(rule: &EncryptionRule) -> Self {
        match rule.algorithm {
            SseAlgorithm::Aes256 => SseRequest::Aes256,
            SseAlgorithm::Sm4 => SseRequest::Sm4,
            // A rule never names SSE-C (front-ends refuse it); were one to, objects would still be
            // encrypted, under the service's key.
            SseAlgorithm::SseC => SseRequest::Aes256,
            SseAlgorithm::Kms => SseRequest::Kms {
                key_id: rule.kms_key_id.clone(),
                data_sm4: rule.kms_data_sm4,
            },
        }
    }
}

/// The customer-provided keys (SSE-C) a request carries: one for the object it writes or
/// reads, one for the source of a copy. Never stored, never logged (`Debug` says only whether
/// each is present); dropped, and zeroized, with the request.
#[derive(Clone, Default)]
pub struct CustomerKeys {
    /// The key of the request's object (the target of a write, the object of a read).
    pub target: Option<Arc<CustomerKey>>,
    /// The key of a copy's source object.
    pub source: Option<Arc<CustomerKey>>,
}

impl fmt::Debug for CustomerKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown = |k: &Option<Arc<CustomerKey>>| if k.is_some() { "<redacted>" } else { "none" };
        f.debug_struct("CustomerKeys")
            .field("target", &shown(&self.target))
            .field("source", &shown(&self.source))
            .finish()
    }
}

/// Why the KMS refused or failed, in terms OSS reports.
#[derive(Debug, thiserror::Error)]
pub enum KmsError {
    /// The CMK does not exist.
    #[error("the KMS key {0} does not exist")]
    KeyNotFound(String),
    /// The CMK is disabled.
    #[error("the KMS key {0} is disabled")]
    KeyDisabled(String),
    /// The CMK is pending deletion.
    #[error("the KMS key {0} is pending deletion")]
    KeyPendingDeletion(String),
    /// The CMK's key material is missing or expired (BYOK).
    #[error("the key material of KMS key {0} is not available")]
    KeyMaterialUnavailable(String),
    /// The caller may not use the CMK.
    #[error("access to KMS key {0} is denied")]
    AccessDenied(String),
    /// The stored ciphertext blob of the data key does not authenticate.
    #[error("the wrapped data key does not authenticate")]
    Damaged,
    /// No KMS is configured.
    #[error("KMS is not enabled")]
    NotEnabled,
    /// The KMS failed.
    #[error("KMS failure")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Who asks the KMS, and for what object (for metering, audit and permission checks).
#[derive(Debug, Clone)]
pub struct KmsCaller {
    /// The account.
    pub account_id: String,
    /// The principal (`root` or a user name), for the audit trail.
    pub principal: String,
    /// The principal itself, for `kms:*` permission checks.
    pub identity: coffer_iam::Principal,
    /// The object (`bucket/key`) the data key is for.
    pub resource: String,
    /// The request's condition values, for `kms:*` permission checks: a policy that limits a
    /// CMK's use by source address or transport applies to SSE-KMS too.
    pub conditions: coffer_iam::Conditions,
}

/// A data key generated by the KMS.
pub struct GeneratedKey {
    /// The plaintext key (never stored).
    pub key: DataKey,
    /// The CMK's id (resolved from an alias or the default key).
    pub key_id: String,
    /// The key encrypted under the CMK, to store.
    pub blob: Vec<u8>,
}

/// The KMS as SSE-KMS uses it, in process.
#[async_trait]
pub trait KmsClient: Send + Sync {
    /// GenerateDataKey: 32 bytes under `key_id` (or the default OSS key), bound to `context`.
    async fn generate_data_key(
        &self,
        caller: &KmsCaller,
        key_id: Option<&str>,
        context: &[(String, String)],
    ) -> Result<GeneratedKey, KmsError>;

    /// Decrypt: the data key from its blob, with the same `context`.
    async fn decrypt_data_key(
        &self,
        caller: &KmsCaller,
        blob: &[u8],
        context: &[(String, String)],
    ) -> Result<DataKey, KmsError>;

    /// Encrypt: an existing data key under `key_id` (or the default OSS key), bound to
    /// `context`, for an in-place change of the key that wraps an object's data key
    /// (UpdateObjectEncryption). Returns the CMK's resolved id and the blob to store.
    async fn encrypt_data_key(
        &self,
        caller: &KmsCaller,
        key_id: Option<&str>,
        data_key: &DataKey,
        context: &[(String, String)],
    ) -> Result<(String, Vec<u8>), KmsError>;
}

#[derive(Serialize, Deserialize)]
enum Wrap {
    /// Wrapped by the SSE-OSS keyring under this master key version.
    Keyring { version: u32, wrapped: Vec<u8> },
    /// The KMS ciphertext blob of the data key.
    Kms { blob: Vec<u8> },
    /// SSE-C: wrapped under a key derived from the customer's key with `salt`; `key_check`
    /// recognises that key. Added last (postcard numbers variants in order).
    Customer {
        salt: [u8; 32],
        key_check: [u8; 32],
        wrapped: Vec<u8>,
    },
}

#[derive(Serialize, Deserialize)]
struct EnvelopeV1 {
    wrap: Wrap,
    /// HMAC-SHA256 over the segment list, once the object has its segments.
    segment_mac: Option<[u8; 32]>,
}

/// Do not change: stored envelopes start with it.
const ENVELOPE_V1: u8 = 1;

fn encode_envelope(e: &EnvelopeV1) -> Vec<u8> {
    let mut out = vec![ENVELOPE_V1];
    out.extend(postcard::to_stdvec(e).expect("envelopes always serialize"));
    out
}

fn decode_envelope(bytes: &[u8]) -> Result<EnvelopeV1> {
    match bytes.split_first() {
        Some((&ENVELOPE_V1, rest)) => postcard::from_bytes(rest)
            .map_err(|_| Error::Corrupt("the encryption envelope is damaged".into())),
        _ => Err(Error::Corrupt("the encryption envelope is damaged".into())),
    }
}

/// The identity a wrapped data key is bound to.
pub(crate) fn object_aad(bucket: &BucketName, key: &ObjectKey) -> Vec<u8> {
    encode_context(&[
        b"coffer object key v1",
        bucket.as_str().as_bytes(),
        key.as_str().as_bytes(),
    ])
}

/// The identity a segment's chunks are bound to: the object and the blob holding them.
pub(crate) fn segment_context(bucket: &BucketName, key: &ObjectKey, blob: &BlobId) -> Vec<u8> {
    encode_context(&[
        b"coffer segment v1",
        bucket.as_str().as_bytes(),
        key.as_str().as_bytes(),
        blob.as_str().as_bytes(),
    ])
}

fn kms_context(bucket: &BucketName, key: &ObjectKey) -> Vec<(String, String)> {
    vec![
        ("acs:oss:bucket".to_owned(), bucket.to_string()),
        ("acs:oss:object".to_owned(), key.to_string()),
    ]
}

/// The cipher of an object's data.
pub(crate) fn cipher_of(enc: &ObjectEncryption) -> Cipher {
    match enc.algorithm {
        SseAlgorithm::Sm4 => Cipher::Sm4Gcm,
        SseAlgorithm::Kms if enc.kms_data_sm4 => Cipher::Sm4Gcm,
        _ => Cipher::Aes256Gcm,
    }
}

/// HMAC over the object identity and its segment list: blob ids, lengths and headers, in order.
fn segment_mac(
    data_key: &DataKey,
    bucket: &BucketName,
    key: &ObjectKey,
    segments: &[Segment],
) -> [u8; 32] {
    let mut derive = <Hmac<Sha256> as Mac>::new_from_slice(data_key.expose_secret())
        .expect("HMAC takes any key length");
    derive.update(b"coffer segment list v1");
    let mac_key = derive.finalize().into_bytes();
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(&mac_key).expect("HMAC takes any key length");
    mac.update(&object_aad(bucket, key));
    mac.update(&(segments.len() as u64).to_be_bytes());
    for s in segments {
        mac.update(s.blob.as_str().as_bytes());
        mac.update(&s.len.to_be_bytes());
        let header = s.crypto.as_deref().unwrap_or_default();
        mac.update(&(header.len() as u64).to_be_bytes());
        mac.update(header);
    }
    mac.finalize().into_bytes().into()
}

/// Key sources of a store: the SSE-OSS keyring and, when configured, the KMS.
pub(crate) struct KeySources {
    pub(crate) keyring: Option<coffer_keyring::Keyring>,
    pub(crate) kms: Option<std::sync::Arc<dyn KmsClient>>,
}

impl KeySources {
    /// A fresh data key for a new object under `request`, and its (segment-less) encryption record.
    pub(crate) async fn new_key(
        &self,
        caller: &KmsCaller,
        bucket: &BucketName,
        key: &ObjectKey,
        request: &SseRequest,
        customer: Option<&CustomerKey>,
    ) -> Result<(DataKey, ObjectEncryption)> {
        if let Some(customer) = customer {
            let data_key = DataKey::generate();
            let w = coffer_crypto::wrap_under_customer_key(
                customer,
                &data_key,
                &object_aad(bucket, key),
            )
            .map_err(|e| Error::Internal(Box::new(e)))?;
            let envelope = encode_envelope(&EnvelopeV1 {
                wrap: Wrap::Customer {
                    salt: w.salt,
                    key_check: w.key_check,
                    wrapped: w.wrapped,
                },
                segment_mac: None,
            });
            return Ok((
                data_key,
                ObjectEncryption {
                    algorithm: SseAlgorithm::SseC,
                    kms_key_id: None,
                    kms_data_sm4: false,
                    envelope,
                },
            ));
        }
        let (algorithm, kms_key_id, kms_data_sm4, data_key, wrap) = match request {
            SseRequest::Aes256 | SseRequest::Sm4 => {
                let keyring = self.keyring.as_ref().ok_or_else(|| {
                    Error::Internal("SSE-OSS is not configured: no keyring".into())
                })?;
                let data_key = DataKey::generate();
                let (version, wrapped) = keyring.wrap(&data_key, &object_aad(bucket, key));
                let algorithm = if *request == SseRequest::Sm4 {
                    SseAlgorithm::Sm4
                } else {
                    SseAlgorithm::Aes256
                };
                (
                    algorithm,
                    None,
                    false,
                    data_key,
                    Wrap::Keyring { version, wrapped },
                )
            }
            SseRequest::Kms { key_id, data_sm4 } => {
                let kms = self.kms.as_ref().ok_or(Error::Kms(KmsError::NotEnabled))?;
                let generated = kms
                    .generate_data_key(caller, key_id.as_deref(), &kms_context(bucket, key))
                    .await
                    .map_err(Error::Kms)?;
                (
                    SseAlgorithm::Kms,
                    Some(generated.key_id),
                    *data_sm4,
                    generated.key,
                    Wrap::Kms {
                        blob: generated.blob,
                    },
                )
            }
        };
        let envelope = encode_envelope(&EnvelopeV1 {
            wrap,
            segment_mac: None,
        });
        Ok((
            data_key,
            ObjectEncryption {
                algorithm,
                kms_key_id,
                kms_data_sm4,
                envelope,
            },
        ))
    }

    /// Unwraps an object's data key (asking the KMS for SSE-KMS objects; with `customer` for
    /// SSE-C objects, which need it and are the only ones that take it).
    pub(crate) async fn data_key(
        &self,
        caller: &KmsCaller,
        bucket: &BucketName,
        key: &ObjectKey,
        enc: &ObjectEncryption,
        customer: Option<&CustomerKey>,
    ) -> Result<DataKey> {
        let wrap = decode_envelope(&enc.envelope)?.wrap;
        if customer.is_some() && !matches!(wrap, Wrap::Customer { .. }) {
            return Err(Error::CustomerKeyNotApplicable);
        }
        match wrap {
            Wrap::Customer {
                salt,
                key_check,
                wrapped,
            } => {
                let customer = customer.ok_or(Error::CustomerKeyRequired)?;
                let stored = CustomerWrap {
                    salt,
                    key_check,
                    wrapped,
                };
                let aad = object_aad(bucket, key);
                if !coffer_crypto::is_customer_key_of(customer, &stored, &aad)
                    .map_err(|e| Error::Internal(Box::new(e)))?
                {
                    return Err(Error::CustomerKeyMismatch);
                }
                coffer_crypto::unwrap_under_customer_key(customer, &stored, &aad).map_err(|_| {
                    Error::Corrupt("the wrapped data key does not authenticate".into())
                })
            }
            Wrap::Keyring { version, wrapped } => {
                let keyring = self.keyring.as_ref().ok_or_else(|| {
                    Error::Internal("SSE-OSS is not configured: no keyring".into())
                })?;
                keyring
                    .unwrap(version, &wrapped, &object_aad(bucket, key))
                    .map_err(|e| match e {
                        coffer_keyring::Error::Unwrap => {
                            Error::Corrupt("the wrapped data key does not authenticate".into())
                        }
                        other => Error::Internal(Box::new(other)),
                    })
            }
            Wrap::Kms { blob } => {
                let kms = self.kms.as_ref().ok_or(Error::Kms(KmsError::NotEnabled))?;
                kms.decrypt_data_key(caller, &blob, &kms_context(bucket, key))
                    .await
                    .map_err(|e| match e {
                        KmsError::Damaged => {
                            Error::Corrupt("the wrapped data key does not authenticate".into())
                        }
                        other => Error::Kms(other),
                    })
            }
        }
    }
}

impl KeySources {
    /// The encryption record of an object whose data key is wrapped anew under the CMK
    /// `kms_key_id` (`None`: the default OSS key) (UpdateObjectEncryption): the data key, the cipher of the data and the sealed
    /// segment list stay as they are, so no byte of data is read or written. Only objects whose
    /// key the service holds can be rewrapped (SSE-OSS and SSE-KMS); an SSE-C object's key is
    /// its owner's, and an unencrypted object has none.
    pub(crate) async fn rewrap(
        &self,
        caller: &KmsCaller,
        bucket: &BucketName,
        key: &ObjectKey,
        enc: Option<&ObjectEncryption>,
        kms_key_id: Option<&str>,
    ) -> Result<ObjectEncryption> {
        let enc = enc.ok_or(Error::NotRewrappable(
            "The object is not encrypted: only objects encrypted with a service-held key (SSE-OSS, SSE-S3 or SSE-KMS) can have their key changed in place.",
        ))?;
        if enc.algorithm == SseAlgorithm::SseC {
            return Err(Error::NotRewrappable(
                "The object is encrypted with a customer-provided key (SSE-C), which the service does not hold: rewrite it instead.",
            ));
        }
        let kms = self.kms.as_ref().ok_or(Error::Kms(KmsError::NotEnabled))?;
        let data_key = self.data_key(caller, bucket, key, enc, None).await?;
        let (key_id, blob) = kms
            .encrypt_data_key(caller, kms_key_id, &data_key, &kms_context(bucket, key))
            .await
            .map_err(Error::Kms)?;
        let envelope = decode_envelope(&enc.envelope)?;
        let envelope = encode_envelope(&EnvelopeV1 {
            wrap: Wrap::Kms { blob },
            segment_mac: envelope.segment_mac,
        });
        Ok(ObjectEncryption {
            algorithm: SseAlgorithm::Kms,
            kms_key_id: Some(key_id),
            kms_data_sm4: cipher_of(enc) == Cipher::Sm4Gcm,
            envelope,
        })
    }
}

/// Checks that `customer` is the key of an SSE-C object without unwrapping anything (HEAD); a
/// key for an object that is not SSE-C, or none for one that is, is refused as on a read.
pub(crate) fn check_customer_key(
    enc: Option<&ObjectEncryption>,
    bucket: &BucketName,
    key: &ObjectKey,
    customer: Option<&CustomerKey>,
) -> Result<()> {
    let wrap = match enc {
        Some(enc) => Some(decode_envelope(&enc.envelope)?.wrap),
        None => None,
    };
    match (wrap, customer) {
        (
            Some(Wrap::Customer {
                salt,
                key_check,
                wrapped,
            }),
            Some(customer),
        ) => {
            let stored = CustomerWrap {
                salt,
                key_check,
                wrapped,
            };
            if coffer_crypto::is_customer_key_of(customer, &stored, &object_aad(bucket, key))
                .map_err(|e| Error::Internal(Box::new(e)))?
            {
                Ok(())
            } else {
                Err(Error::CustomerKeyMismatch)
            }
        }
        (Some(Wrap::Customer { .. }), None) => Err(Error::CustomerKeyRequired),
        (_, Some(_)) => Err(Error::CustomerKeyNotApplicable),
        (_, None) => Ok(()),
    }
}

/// Seals an object's segment list into its encryption record.
pub(crate) fn seal_segments(
    enc: &mut ObjectEncryption,
    data_key: &DataKey,
    bucket: &BucketName,
    key: &ObjectKey,
    segments: &[Segment],
) -> Result<()> {
    let mut envelope = decode_envelope(&enc.envelope)?;
    envelope.segment_mac = Some(segment_mac(data_key, bucket, key, segments));
    enc.envelope = encode_envelope(&envelope);
    Ok(())
}

/// Checks that the segment list is the one sealed with the object (constant time).
pub(crate) fn verify_segments(
    enc: &ObjectEncryption,
    data_key: &DataKey,
    bucket: &BucketName,
    key: &ObjectKey,
    segments: &[Segment],
) -> Result<()> {
    use subtle::ConstantTimeEq;
    let sealed = decode_envelope(&enc.envelope)?
        .segment_mac
        .ok_or_else(|| Error::Corrupt("the object's segment list is not sealed".into()))?;
    let actual = segment_mac(data_key, bucket, key, segments);
    if bool::from(sealed.ct_eq(&actual)) {
        Ok(())
    } else {
        Err(Error::Corrupt(
            "the object's segment list does not authenticate".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller() -> KmsCaller {
        KmsCaller {
            account_id: "1000".into(),
            principal: "anonymous".into(),
            identity: coffer_iam::Principal::Anonymous,
            resource: "bkt/k".into(),
            conditions: coffer_iam::Conditions::default(),
        }
    }

    fn customer(b: u8) -> CustomerKey {
        CustomerKey::try_from_slice(&[b; 32]).expect("32 bytes")
    }

    fn names() -> (BucketName, ObjectKey) {
        (
            BucketName::parse("bkt").expect("valid"),
            ObjectKey::parse("k").expect("valid"),
        )
    }

    /// No keyring and no KMS: SSE-C needs neither.
    fn no_keys() -> KeySources {
        KeySources {
            keyring: None,
            kms: None,
        }
    }

    #[tokio::test]
    async fn an_sse_c_data_key_opens_only_with_its_customer_key() {
        let (bucket, key) = names();
        let (data_key, enc) = no_keys()
            .new_key(
                &caller(),
                &bucket,
                &key,
                &SseRequest::Aes256,
                Some(&customer(1)),
            )
            .await
            .expect("needs no keyring");
        assert_eq!(enc.algorithm, SseAlgorithm::SseC);
        assert_eq!(cipher_of(&enc), Cipher::Aes256Gcm);
        let back = no_keys()
            .data_key(&caller(), &bucket, &key, &enc, Some(&customer(1)))
            .await
            .expect("the right key");
        assert_eq!(back.expose_secret(), data_key.expose_secret());
        let wrong = no_keys()
            .data_key(&caller(), &bucket, &key, &enc, Some(&customer(2)))
            .await;
        assert!(matches!(wrong, Err(Error::CustomerKeyMismatch)));
        let none = no_keys()
            .data_key(&caller(), &bucket, &key, &enc, None)
            .await;
        assert!(matches!(none, Err(Error::CustomerKeyRequired)));
        // Bound to the object: the envelope moved to another key does not open.
        let other = ObjectKey::parse("other").expect("valid");
        let moved = no_keys()
            .data_key(&caller(), &bucket, &other, &enc, Some(&customer(1)))
            .await;
        assert!(matches!(moved, Err(Error::CustomerKeyMismatch)));
    }

    #[tokio::test]
    async fn the_envelope_holds_no_customer_key() {
        let (bucket, key) = names();
        let k = customer(0xab);
        let (_, enc) = no_keys()
            .new_key(&caller(), &bucket, &key, &SseRequest::Aes256, Some(&k))
            .await
            .expect("needs no keyring");
        assert!(
            !enc.envelope
                .windows(32)
                .any(|w| w == k.expose_secret().as_slice())
        );
    }

    #[test]
    fn head_checks_the_key_without_unwrapping() {
        let (bucket, key) = names();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime");
        let (_, enc) = rt
            .block_on(no_keys().new_key(
                &caller(),
                &bucket,
                &key,
                &SseRequest::Aes256,
                Some(&customer(1)),
            ))
            .expect("needs no keyring");
        let check = |enc: Option<&ObjectEncryption>, k: Option<&CustomerKey>| {
            check_customer_key(enc, &bucket, &key, k)
        };
        assert!(check(Some(&enc), Some(&customer(1))).is_ok());
        assert!(matches!(
            check(Some(&enc), Some(&customer(2))),
            Err(Error::CustomerKeyMismatch)
        ));
        assert!(matches!(
            check(Some(&enc), None),
            Err(Error::CustomerKeyRequired)
        ));
        assert!(matches!(
            check(None, Some(&customer(1))),
            Err(Error::CustomerKeyNotApplicable)
        ));
        assert!(check(None, None).is_ok());
        let kms = ObjectEncryption {
            algorithm: SseAlgorithm::Kms,
            kms_key_id: Some("k".into()),
            kms_data_sm4: false,
            envelope: encode_envelope(&EnvelopeV1 {
                wrap: Wrap::Kms { blob: vec![1, 2] },
                segment_mac: None,
            }),
        };
        assert!(matches!(
            check(Some(&kms), Some(&customer(1))),
            Err(Error::CustomerKeyNotApplicable)
        ));
        assert!(check(Some(&kms), None).is_ok());
    }

    #[test]
    fn customer_keys_debug_shows_only_presence() {
        let keys = CustomerKeys {
            target: Some(Arc::new(customer(0xab))),
            source: None,
        };
        let shown = format!("{keys:?} {keys:#?}");
        assert!(shown.contains("<redacted>") && shown.contains("none"));
        assert!(!shown.contains("171") && !shown.to_lowercase().contains("abab"));
    }
}
