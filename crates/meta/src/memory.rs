//! [`MemoryMetaStore`]: a [`MetaStore`] in process memory, for tests of the layers above.
//!
//! It gives every guarantee of the trait except durability: one mutex makes each method one
//! transaction, every check runs before the first change so a refused write changes nothing,
//! and blobs are tracked as live or garbage exactly as a persistent backend tracks them.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::{Mutex, MutexGuard};

use async_trait::async_trait;
use coffer_types::{BlobId, BucketName, ObjectKey, UploadId};

use crate::{
    BucketRecord, Error, MetaStore, ObjectRecord, PartRecord, PutCondition, Result, UploadCursor,
    UploadRecord,
};

/// A metadata store that lives as long as the value; see the module documentation.
#[derive(Debug, Default)]
pub struct MemoryMetaStore {
    state: Mutex<State>,
}

impl MemoryMetaStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // No method panics while holding the lock, so a poisoned lock still holds consistent
        // state; recover it rather than fail every later call.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[derive(Debug, Default)]
struct State {
    buckets: BTreeMap<String, Bucket>,
    live: HashSet<BlobId>,
    /// Ordered so that `garbage` answers in a stable order, as the persistent backend does.
    garbage: BTreeSet<BlobId>,
}

#[derive(Debug)]
struct Bucket {
    record: BucketRecord,
    /// By key; `String`'s order is the byte order listings promise.
    objects: BTreeMap<String, ObjectRecord>,
    /// By (key, upload id), the order uploads are listed in.
    uploads: BTreeMap<(String, String), Upload>,
    /// Upload id to key, to find an upload by id alone.
    upload_keys: HashMap<String, String>,
}

#[derive(Debug)]
struct Upload {
    record: UploadRecord,
    parts: BTreeMap<u32, PartRecord>,
}

impl Bucket {
    fn upload_mut(&mut self, id: &UploadId) -> Result<&mut Upload> {
        let key = self
            .upload_keys
            .get(id.as_str())
            .ok_or(Error::NoSuchUpload)?;
        self.uploads
            .get_mut(&(key.clone(), id.as_str().to_owned()))
            .ok_or_else(|| Error::Corrupt(format!("upload index names missing upload {id}")))
    }

    fn upload(&self, id: &UploadId) -> Result<Option<&Upload>> {
        let Some(key) = self.upload_keys.get(id.as_str()) else {
            return Ok(None);
        };
        self.uploads
            .get(&(key.clone(), id.as_str().to_owned()))
            .map(Some)
            .ok_or_else(|| Error::Corrupt(format!("upload index names missing upload {id}")))
    }

    /// Removes upload `id` with its parts; `NoSuchUpload` if it is gone.
    fn take_upload(&mut self, id: &UploadId) -> Result<Upload> {
        let key = self
            .upload_keys
            .remove(id.as_str())
            .ok_or(Error::NoSuchUpload)?;
        self.uploads
            .remove(&(key, id.as_str().to_owned()))
            .ok_or_else(|| Error::Corrupt(format!("upload index names missing upload {id}")))
    }
}

impl State {
    fn bucket(&self, name: &BucketName) -> Result<&Bucket> {
        self.buckets.get(name.as_str()).ok_or(Error::NoSuchBucket)
    }

    fn bucket_mut(&mut self, name: &BucketName) -> Result<&mut Bucket> {
        self.buckets
            .get_mut(name.as_str())
            .ok_or(Error::NoSuchBucket)
    }

    /// Makes `adopted` live, then moves `dropped` from live to garbage except those adopted.
    fn track<'a>(
        &mut self,
        adopted: impl IntoIterator<Item = &'a BlobId>,
        dropped: impl IntoIterator<Item = &'a BlobId>,
    ) {
        let mut kept = HashSet::new();
        for id in adopted {
            // Being live wins over being garbage, as in every backend.
            self.garbage.remove(id);
            self.live.insert(id.clone());
            kept.insert(id);
        }
        for id in dropped {
            if !kept.contains(id) {
                self.live.remove(id);
                self.garbage.insert(id.clone());
            }
        }
    }
}

fn blobs_of(object: &ObjectRecord) -> impl Iterator<Item = &BlobId> {
    object.segments.iter().map(|s| &s.blob)
}

#[async_trait]
impl MetaStore for MemoryMetaStore {
    async fn create_bucket(&self, bucket: BucketRecord) -> Result<()> {
        let mut state = self.lock();
        if state.buckets.contains_key(bucket.name.as_str()) {
            return Err(Error::BucketExists);
        }
        state.buckets.insert(
            bucket.name.as_str().to_owned(),
            Bucket {
                record: bucket,
                objects: BTreeMap::new(),
                uploads: BTreeMap::new(),
                upload_keys: HashMap::new(),
            },
        );
        Ok(())
    }

    async fn bucket(&self, name: &BucketName) -> Result<Option<BucketRecord>> {
        Ok(self
            .lock()
            .buckets
            .get(name.as_str())
            .map(|b| b.record.clone()))
    }

    async fn update_bucket(&self, bucket: BucketRecord) -> Result<()> {
        let mut state = self.lock();
        let name = bucket.name.clone();
        let stored = &mut state.bucket_mut(&name)?.record;
        *stored = BucketRecord {
            policy: stored.policy.take(),
            ..bucket
        };
        Ok(())
    }

    async fn set_bucket_policy(&self, name: &BucketName, policy: Option<String>) -> Result<()> {
        self.lock().bucket_mut(name)?.record.policy = policy;
        Ok(())
    }

    async fn list_buckets(&self) -> Result<Vec<BucketRecord>> {
        Ok(self
            .lock()
            .buckets
            .values()
            .map(|b| b.record.clone())
            .collect())
    }

    async fn delete_bucket(&self, name: &BucketName) -> Result<()> {
        let mut state = self.lock();
        let bucket = state.bucket(name)?;
        if !bucket.objects.is_empty() || !bucket.uploads.is_empty() {
            return Err(Error::BucketNotEmpty);
        }
        state.buckets.remove(name.as_str());
        Ok(())
    }

    async fn object(&self, bucket: &BucketName, key: &ObjectKey) -> Result<Option<ObjectRecord>> {
        Ok(self
            .lock()
            .buckets
            .get(bucket.as_str())
            .and_then(|b| b.objects.get(key.as_str()))
            .cloned())
    }

    async fn put_object(
        &self,
        bucket: &BucketName,
        object: ObjectRecord,
        condition: PutCondition,
    ) -> Result<Option<ObjectRecord>> {
        let mut state = self.lock();
        let b = state.bucket_mut(bucket)?;
        condition.check(b.objects.get(object.key.as_str()))?;
        let new_blobs: Vec<BlobId> = blobs_of(&object).cloned().collect();
        let old = b.objects.insert(object.key.as_str().to_owned(), object);
        state.track(&new_blobs, old.iter().flat_map(blobs_of));
        Ok(old)
    }

    async fn delete_object(
        &self,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<Option<ObjectRecord>> {
        let mut state = self.lock();
        let old = state
            .buckets
            .get_mut(bucket.as_str())
            .and_then(|b| b.objects.remove(key.as_str()));
        state.track([], old.iter().flat_map(blobs_of));
        Ok(old)
    }

    async fn scan_objects(
        &self,
        bucket: &BucketName,
        prefix: &str,
        from: &str,
        limit: usize,
    ) -> Result<Vec<ObjectRecord>> {
        let state = self.lock();
        let b = state.bucket(bucket)?;
        let start = prefix.max(from);
        Ok(b.objects
            .range::<str, _>((std::ops::Bound::Included(start), std::ops::Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(_, o)| o.clone())
            .collect())
    }

    async fn create_upload(&self, bucket: &BucketName, upload: UploadRecord) -> Result<()> {
        let mut state = self.lock();
        let b = state.bucket_mut(bucket)?;
        let (key, id) = (upload.key.as_str().to_owned(), upload.upload_id.as_str());
        b.upload_keys.insert(id.to_owned(), key.clone());
        b.uploads.insert(
            (key, id.to_owned()),
            Upload {
                record: upload,
                parts: BTreeMap::new(),
            },
        );
        Ok(())
    }

    async fn upload(&self, bucket: &BucketName, id: &UploadId) -> Result<Option<UploadRecord>> {
        let state = self.lock();
        let Some(b) = state.buckets.get(bucket.as_str()) else {
            return Ok(None);
        };
        Ok(b.upload(id)?.map(|u| u.record.clone()))
    }

    async fn put_part(&self, bucket: &BucketName, id: &UploadId, part: PartRecord) -> Result<()> {
        let mut state = self.lock();
        let b = state
            .buckets
            .get_mut(bucket.as_str())
            .ok_or(Error::NoSuchUpload)?;
        let upload = b.upload_mut(id)?;
        let new_blob = part.segment.blob.clone();
        let old = upload.parts.insert(part.part_number, part);
        state.track([&new_blob], old.iter().map(|p| &p.segment.blob));
        Ok(())
    }

    async fn parts(
        &self,
        bucket: &BucketName,
        id: &UploadId,
        after: u32,
        limit: usize,
    ) -> Result<Vec<PartRecord>> {
        let state = self.lock();
        let b = state
            .buckets
            .get(bucket.as_str())
            .ok_or(Error::NoSuchUpload)?;
        let upload = b.upload(id)?.ok_or(Error::NoSuchUpload)?;
        let Some(first) = after.checked_add(1) else {
            return Ok(Vec::new());
        };
        Ok(upload
            .parts
            .range(first..)
            .take(limit)
            .map(|(_, p)| p.clone())
            .collect())
    }

    async fn complete_upload(
        &self,
        bucket: &BucketName,
        id: &UploadId,
        object: ObjectRecord,
        condition: PutCondition,
    ) -> Result<Option<ObjectRecord>> {
        let mut state = self.lock();
        let b = state
            .buckets
            .get_mut(bucket.as_str())
            .ok_or(Error::NoSuchUpload)?;
        b.upload(id)?.ok_or(Error::NoSuchUpload)?;
        condition.check(b.objects.get(object.key.as_str()))?;
        let upload = b.take_upload(id)?;
        let new_blobs: Vec<BlobId> = blobs_of(&object).cloned().collect();
        let old = b.objects.insert(object.key.as_str().to_owned(), object);
        let dropped: Vec<BlobId> = old
            .iter()
            .flat_map(blobs_of)
            .chain(upload.parts.values().map(|p| &p.segment.blob))
            .cloned()
            .collect();
        state.track(&new_blobs, &dropped);
        Ok(old)
    }

    async fn abort_upload(&self, bucket: &BucketName, id: &UploadId) -> Result<()> {
        let mut state = self.lock();
        let b = state
            .buckets
            .get_mut(bucket.as_str())
            .ok_or(Error::NoSuchUpload)?;
        let upload = b.take_upload(id)?;
        state.track([], upload.parts.values().map(|p| &p.segment.blob));
        Ok(())
    }

    async fn scan_uploads(
        &self,
        bucket: &BucketName,
        prefix: &str,
        after: &UploadCursor,
        limit: usize,
    ) -> Result<Vec<UploadRecord>> {
        let state = self.lock();
        let b = state.bucket(bucket)?;
        // Tuple order on (key, id) is the listing order; a cursor without an id skips its key.
        let is_after = |(key, id): &(String, String)| match &after.upload_id {
            Some(after_id) => (key.as_str(), id.as_str()) > (after.key.as_str(), after_id.as_str()),
            None => key.as_str() > after.key.as_str(),
        };
        Ok(b.uploads
            .iter()
            .filter(|(k, _)| k.0.starts_with(prefix) && is_after(k))
            .take(limit)
            .map(|(_, u)| u.record.clone())
            .collect())
    }

    async fn garbage(&self, limit: usize) -> Result<Vec<BlobId>> {
        Ok(self.lock().garbage.iter().take(limit).cloned().collect())
    }

    async fn forget_garbage(&self, ids: &[BlobId]) -> Result<()> {
        let mut state = self.lock();
        for id in ids {
            state.garbage.remove(id);
        }
        Ok(())
    }

    async fn is_blob_known(&self, id: &BlobId) -> Result<bool> {
        let state = self.lock();
        Ok(state.live.contains(id) || state.garbage.contains(id))
    }
}
