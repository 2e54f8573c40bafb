//! The [`Store`]: the object store's operations over a metadata store and a blob store.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use coffer_blob::BlobStore;
use coffer_iam::{Action, Grant, Resource};
use coffer_meta::{BucketRecord, MetaStore, UnixMillis};
use coffer_types::{BucketName, ObjectKey};
use tokio::sync::Notify;

use crate::data::Unseal;
use crate::sse::{KeySources, KmsCaller, KmsClient, SseRequest};
use crate::{Config, Error, Result};

/// The object store.
pub struct Store {
    pub(crate) meta: Arc<dyn MetaStore>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) config: Config,
    /// Woken whenever a write may have produced garbage blobs.
    pub(crate) garbage_signal: Arc<Notify>,
    /// Where data keys come from (SSE-OSS keyring, KMS).
    pub(crate) keys: KeySources,
}

/// How long `/health/ready` waits for each backend.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(3);

impl Store {
    /// A store over the given backends.
    pub fn new(meta: Arc<dyn MetaStore>, blobs: Arc<dyn BlobStore>, config: Config) -> Self {
        Self {
            meta,
            blobs,
            config,
            garbage_signal: Arc::new(Notify::new()),
            keys: KeySources {
                keyring: None,
                kms: None,
            },
        }
    }

    /// Enables SSE-OSS (AES256, SM4) with this keyring.
    pub fn with_keyring(mut self, keyring: coffer_keyring::Keyring) -> Self {
        self.keys.keyring = Some(keyring);
        self
    }

    /// Enables SSE-KMS with this KMS.
    pub fn with_kms(mut self, kms: Arc<dyn KmsClient>) -> Self {
        self.keys.kms = Some(kms);
        self
    }

    /// The KMS caller for an operation on `bucket/key` under `grant`.
    pub(crate) fn kms_caller(
        &self,
        grant: &Grant,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> KmsCaller {
        KmsCaller {
            account_id: self.config.owner_id.clone(),
            principal: grant.principal().to_string(),
            identity: grant.principal().clone(),
            resource: format!("{bucket}/{key}"),
            conditions: grant.conditions().clone(),
        }
    }

    /// The key and identity to read an object, after checking its sealed segment list; `None`
    /// for an unencrypted object. `customer` is the request's SSE-C key for this object.
    pub(crate) async fn unseal(
        &self,
        grant: &Grant,
        bucket: &BucketName,
        object: &coffer_meta::ObjectRecord,
        customer: Option<&coffer_crypto::CustomerKey>,
    ) -> Result<Option<Unseal>> {
        let Some(enc) = &object.encryption else {
            return match customer {
                Some(_) => Err(Error::CustomerKeyNotApplicable),
                None => Ok(None),
            };
        };
        let caller = self.kms_caller(grant, bucket, &object.key);
        let data_key = self
            .keys
            .data_key(&caller, bucket, &object.key, enc, customer)
            .await?;
        crate::sse::verify_segments(enc, &data_key, bucket, &object.key, &object.segments)?;
        Ok(Some(Unseal {
            data_key: Arc::new(data_key),
            bucket: bucket.clone(),
            key: object.key.clone(),
        }))
    }

    /// A fresh data key and encryption record for a new object (or upload) when the request, or
    /// else the bucket default, asks for encryption; `None` for a plain object. A customer key
    /// (SSE-C) beats both.
    pub(crate) async fn new_object_key(
        &self,
        grant: &Grant,
        bucket: &BucketRecord,
        key: &ObjectKey,
        request: Option<SseRequest>,
        customer: Option<&coffer_crypto::CustomerKey>,
    ) -> Result<Option<(coffer_crypto::DataKey, coffer_meta::ObjectEncryption)>> {
        if let Some(customer) = customer {
            if bucket.subresources.sse_c_blocked {
                return Err(Error::EncryptionTypeBlocked);
            }
            if request.is_some() {
                return Err(Error::invalid_argument(
                    "x-amz-server-side-encryption",
                    "",
                    "Server Side Encryption with Customer provided key is incompatible with the encryption method specified",
                ));
            }
            let caller = self.kms_caller(grant, &bucket.name, key);
            return Ok(Some(
                self.keys
                    .new_key(
                        &caller,
                        &bucket.name,
                        key,
                        &SseRequest::Aes256,
                        Some(customer),
                    )
                    .await?,
            ));
        }
        match Self::choose_encryption(request, bucket) {
            Some(choice) => {
                let caller = self.kms_caller(grant, &bucket.name, key);
                Ok(Some(
                    self.keys
                        .new_key(&caller, &bucket.name, key, &choice, None)
                        .await?,
                ))
            }
            None => Ok(None),
        }
    }

    /// The encryption a new object gets: the request's, else the bucket default, else none.
    pub(crate) fn choose_encryption(
        request: Option<SseRequest>,
        bucket: &BucketRecord,
    ) -> Option<SseRequest> {
        request.or_else(|| bucket.encryption.as_ref().map(SseRequest::from_rule))
    }

    /// The store's limits and identity.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the backends answer (for readiness probes).
    pub async fn is_ready(&self) -> bool {
        self.readiness().await.is_ok()
    }

    /// Whether both backends answer within [`READY_TIMEOUT`], and if not, which one does not
    /// (a reason fit for an unauthenticated probe: the cause is logged, not returned).
    pub async fn readiness(&self) -> std::result::Result<(), &'static str> {
        let meta = tokio::time::timeout(READY_TIMEOUT, self.meta.ping());
        let blobs = tokio::time::timeout(READY_TIMEOUT, self.blobs.ping());
        let (meta, blobs) = tokio::join!(meta, blobs);
        match meta {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: the metadata store failed");
                return Err("the metadata store is unavailable");
            }
            Err(_) => return Err("the metadata store does not answer"),
        }
        match blobs {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "readiness: the blob store failed");
                Err("the blob store is unavailable")
            }
            Err(_) => Err("the blob store does not answer"),
        }
    }

    pub(crate) fn now() -> UnixMillis {
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        UnixMillis(i64::try_from(ms).unwrap_or(i64::MAX))
    }

    pub(crate) fn garbage_produced(&self) {
        self.garbage_signal.notify_one();
    }

    /// The bucket of a write to `bucket/key`, once `grant` is known to cover `oss:PutObject`
    /// on that object; `NoSuchBucket` if it is gone.
    pub(crate) async fn writable_bucket(
        &self,
        grant: &Grant,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<BucketRecord> {
        require(grant, Action::PutObject, object_resource(bucket, key))?;
        self.existing_bucket(bucket).await
    }

    /// Reads a bucket or fails with `NoSuchBucket`.
    pub(crate) async fn existing_bucket(&self, name: &BucketName) -> Result<BucketRecord> {
        self.meta
            .bucket(name)
            .await?
            .ok_or_else(|| no_such_bucket(name))
    }
}

pub(crate) fn no_such_bucket(name: &BucketName) -> Error {
    Error::NoSuchBucket {
        bucket: name.to_string(),
    }
}

/// Maps the metadata layer's bucket-less NoSuchBucket to one naming the bucket.
pub(crate) fn in_bucket(name: &BucketName) -> impl Fn(coffer_meta::Error) -> Error + '_ {
    move |e| match e {
        coffer_meta::Error::NoSuchBucket => no_such_bucket(name),
        other => other.into(),
    }
}

/// Refuses to run an operation its grant does not cover.
pub(crate) fn require(grant: &Grant, action: Action, resource: Resource) -> Result<()> {
    if grant.covers(action, &resource) {
        Ok(())
    } else {
        Err(Error::AccessDenied)
    }
}

pub(crate) fn bucket_resource(name: &BucketName) -> Resource {
    Resource::Bucket(name.to_string())
}

pub(crate) fn object_resource(bucket: &BucketName, key: &coffer_types::ObjectKey) -> Resource {
    Resource::Object {
        bucket: bucket.to_string(),
        key: key.to_string(),
    }
}
