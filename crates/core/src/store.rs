//! The [`Store`]: the object store's operations over a metadata store and a blob store.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use coffer_blob::BlobStore;
use coffer_iam::{Action, Grant, Resource};
use coffer_meta::{BucketRecord, MetaStore, UnixMillis};
use coffer_types::BucketName;
use tokio::sync::Notify;

use crate::{Error, Result};

/// Limits and identity of the store.
#[derive(Debug, Clone)]
pub struct Config {
    /// The account id that owns every bucket.
    pub owner_id: String,
    /// Largest object a single PutObject, AppendObject total or UploadPart may hold, in bytes.
    pub max_object_size: u64,
    /// Smallest size of a multipart part other than the last, in bytes.
    pub min_part_size: u64,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            owner_id: String::new(),
            max_object_size: 5 * 1024 * 1024 * 1024,
            min_part_size: 100 * 1024,
        }
    }
}

/// The object store.
pub struct Store {
    pub(crate) meta: Arc<dyn MetaStore>,
    pub(crate) blobs: Arc<dyn BlobStore>,
    pub(crate) config: Config,
    /// Woken whenever a write may have produced garbage blobs.
    pub(crate) garbage_signal: Arc<Notify>,
}

impl Store {
    /// A store over the given backends.
    pub fn new(meta: Arc<dyn MetaStore>, blobs: Arc<dyn BlobStore>, config: Config) -> Self {
        Self {
            meta,
            blobs,
            config,
            garbage_signal: Arc::new(Notify::new()),
        }
    }

    /// The store's limits and identity.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the backends answer (for readiness probes).
    pub async fn is_ready(&self) -> bool {
        self.meta.list_buckets().await.is_ok()
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
