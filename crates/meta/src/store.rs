//! The [`MetaStore`] trait.

use async_trait::async_trait;
use coffer_types::{BlobId, BucketName, ObjectKey, UploadId};

use crate::{BucketRecord, Error, ObjectRecord, PartRecord, Result, UploadRecord};

/// A condition on the current state of a key, checked in the same transaction as the write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PutCondition {
    /// Write whatever is there.
    None,
    /// Write only if the key holds no object (`x-oss-forbid-overwrite`); else `Error::ObjectExists`.
    IfAbsent,
    /// Write only if the key's object has this generation (append); else
    /// `Error::GenerationMismatch`.
    IfGeneration(u64),
}

impl PutCondition {
    /// Checks the condition against the object `current`ly stored under the key. Every backend
    /// calls this inside the write's transaction, so the rule is written once.
    pub fn check(self, current: Option<&ObjectRecord>) -> Result<()> {
        match self {
            PutCondition::None => Ok(()),
            PutCondition::IfAbsent if current.is_some() => Err(Error::ObjectExists),
            PutCondition::IfAbsent => Ok(()),
            PutCondition::IfGeneration(g) if current.map(|o| o.generation) == Some(g) => Ok(()),
            PutCondition::IfGeneration(_) => Err(Error::GenerationMismatch),
        }
    }
}

/// Position in a listing of multipart uploads: strictly after this (key, upload id).
#[derive(Debug, Clone, Default)]
pub struct UploadCursor {
    /// Uploads for keys greater than this are listed (and for this key, see `upload_id`).
    pub key: String,
    /// With `key`: uploads of `key` whose id is greater than this; `None` skips `key` entirely.
    pub upload_id: Option<String>,
}

/// Durable, transactional store of bucket and object metadata.
///
/// Guarantees every backend gives (checked by [`crate::conformance`]):
/// - each method is atomic: it happens completely or not at all, also across a crash;
/// - once a method returns `Ok`, its effect is durable;
/// - blobs named by records are tracked: a blob is *live* from the write that first names it until
///   the write that drops it, which moves it to the *garbage* set in the same transaction. A blob
///   that is neither live nor garbage was never committed and may be swept.
#[async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Creates a bucket; `Error::BucketExists` if the name is taken.
    async fn create_bucket(&self, bucket: BucketRecord) -> Result<()>;
    /// Reads a bucket.
    async fn bucket(&self, name: &BucketName) -> Result<Option<BucketRecord>>;
    /// Replaces an existing bucket's settings, keeping its stored policy (whatever
    /// `bucket.policy` says: a settings change read before a policy change must not undo it);
    /// `Error::NoSuchBucket` if it is gone.
    async fn update_bucket(&self, bucket: BucketRecord) -> Result<()>;
    /// Sets (`Some`) or removes (`None`) a bucket's policy; `Error::NoSuchBucket` if it is gone.
    async fn set_bucket_policy(&self, name: &BucketName, policy: Option<String>) -> Result<()>;
    /// All buckets, ordered by name.
    async fn list_buckets(&self) -> Result<Vec<BucketRecord>>;
    /// Deletes an empty bucket: `Error::BucketNotEmpty` while it holds objects or uploads.
    async fn delete_bucket(&self, name: &BucketName) -> Result<()>;

    /// Reads an object record.
    async fn object(&self, bucket: &BucketName, key: &ObjectKey) -> Result<Option<ObjectRecord>>;
    /// Writes an object record under `condition`. The new record's blobs become live; the
    /// replaced record's blobs (returned) become garbage. `Error::NoSuchBucket` if the bucket is
    /// gone.
    async fn put_object(
        &self,
        bucket: &BucketName,
        object: ObjectRecord,
        condition: PutCondition,
    ) -> Result<Option<ObjectRecord>>;
    /// Deletes an object record, if present; its blobs become garbage.
    async fn delete_object(
        &self,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<Option<ObjectRecord>>;
    /// Up to `limit` objects whose keys start with `prefix` and are `>= from`, in byte order of
    /// their keys. `Error::NoSuchBucket` if the bucket is gone.
    async fn scan_objects(
        &self,
        bucket: &BucketName,
        prefix: &str,
        from: &str,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>>;

    /// Records a new multipart upload; `Error::NoSuchBucket` if the bucket is gone.
    async fn create_upload(&self, bucket: &BucketName, upload: UploadRecord) -> Result<()>;
    /// Reads an upload.
    async fn upload(&self, bucket: &BucketName, id: &UploadId) -> Result<Option<UploadRecord>>;
    /// Stores a part, replacing one with the same number (whose blob becomes garbage).
    /// `Error::NoSuchUpload` if the upload is gone (then the caller deletes the part's blob).
    async fn put_part(&self, bucket: &BucketName, id: &UploadId, part: PartRecord) -> Result<()>;
    /// Up to `limit` parts with numbers greater than `after`, ascending. `Error::NoSuchUpload` if
    /// the upload is gone (read in the same transaction, so a completed upload is never listed as
    /// having no parts).
    async fn parts(
        &self,
        bucket: &BucketName,
        id: &UploadId,
        after: u32,
        limit: usize,
    ) -> Result<Vec<PartRecord>>;
    /// Atomically ends an upload by writing `object` (whose segments are the chosen parts' blobs)
    /// under `condition`: the upload and all its parts are removed, blobs of parts not used by
    /// `object` become garbage, and the replaced object (returned) is dropped as in `put_object`.
    /// `Error::NoSuchUpload` if the upload is gone.
    async fn complete_upload(
        &self,
        bucket: &BucketName,
        id: &UploadId,
        object: ObjectRecord,
        condition: PutCondition,
    ) -> Result<Option<ObjectRecord>>;
    /// Removes an upload and its parts; their blobs become garbage. `Error::NoSuchUpload` if gone.
    async fn abort_upload(&self, bucket: &BucketName, id: &UploadId) -> Result<()>;
    /// Up to `limit` uploads whose keys start with `prefix`, strictly after `after`, ordered by
    /// (key, upload id).
    async fn scan_uploads(
        &self,
        bucket: &BucketName,
        prefix: &str,
        after: &UploadCursor,
        limit: usize,
    ) -> Result<Vec<UploadRecord>>;

    /// Up to `limit` blobs waiting to be deleted.
    async fn garbage(&self, limit: usize) -> Result<Vec<BlobId>>;
    /// Forgets garbage blobs once the blob store has deleted them.
    async fn forget_garbage(&self, ids: &[BlobId]) -> Result<()>;
    /// Whether a blob is live or garbage (known to the store at all). A blob the store does not
    /// know was never committed: a crash cut its write short, and it can be deleted.
    async fn is_blob_known(&self, id: &BlobId) -> Result<bool>;

    /// Whether the store answers (for `/health/ready`): as cheap a round trip as the backend
    /// has. Changes nothing.
    async fn ping(&self) -> Result<()> {
        self.list_buckets().await.map(|_| ())
    }
}
