//! GetBucketStat: what a bucket holds, counted from its records.

use coffer_iam::{Action, Grant};
use coffer_meta::{StorageClass, UnixMillis, UploadCursor};
use coffer_types::BucketName;

use crate::list::{SCAN_BATCH, just_after};
use crate::store::{bucket_resource, in_bucket, require};
use crate::{RequestContext, Result, Store};

/// Objects and bytes of one storage class.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClassStat {
    /// Plaintext bytes.
    pub storage: u64,
    /// Objects.
    pub objects: u64,
}

/// What a bucket holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BucketStat {
    /// Plaintext bytes of all objects.
    pub storage: u64,
    /// Objects.
    pub objects: u64,
    /// Multipart uploads in progress.
    pub multipart_uploads: u64,
    /// Parts uploaded to them.
    pub multipart_parts: u64,
    /// The latest last-modified time of an object, if there is one.
    pub last_modified: Option<UnixMillis>,
    /// Per storage class, in the order Standard, IA, Archive, ColdArchive, DeepColdArchive.
    pub by_class: [ClassStat; 5],
}

/// The index of a storage class in [`BucketStat::by_class`].
pub fn class_index(class: StorageClass) -> usize {
    match class {
        StorageClass::Standard => 0,
        StorageClass::Ia => 1,
        StorageClass::Archive => 2,
        StorageClass::ColdArchive => 3,
        StorageClass::DeepColdArchive => 4,
    }
}

impl Store {
    /// GetBucketStat: counts the bucket's objects, bytes, uploads and parts by reading every
    /// record (a full scan, in batches: exact at some moment of the scan, not a snapshot; its cost
    /// grows with the bucket).
    pub async fn bucket_stat(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        bucket: &BucketName,
    ) -> Result<BucketStat> {
        require(grant, Action::GetBucketStat, bucket_resource(bucket))?;
        self.existing_bucket(bucket).await?;
        let mut stat = BucketStat::default();
        let mut from = String::new();
        loop {
            let batch = self
                .meta
                .scan_objects(bucket, "", &from, SCAN_BATCH)
                .await
                .map_err(in_bucket(bucket))?;
            for o in &batch {
                stat.storage += o.size;
                stat.objects += 1;
                let class = &mut stat.by_class[class_index(o.storage_class)];
                class.storage += o.size;
                class.objects += 1;
                stat.last_modified = stat.last_modified.max(Some(o.last_modified));
            }
            match batch.last() {
                Some(last) if batch.len() == SCAN_BATCH => from = just_after(last.key.as_str()),
                _ => break,
            }
        }
        let mut cursor = UploadCursor::default();
        loop {
            let batch = self
                .meta
                .scan_uploads(bucket, "", &cursor, SCAN_BATCH)
                .await
                .map_err(in_bucket(bucket))?;
            for upload in &batch {
                stat.multipart_uploads += 1;
                let mut after = 0;
                loop {
                    let parts = match self
                        .meta
                        .parts(bucket, &upload.upload_id, after, SCAN_BATCH)
                        .await
                    {
                        Ok(parts) => parts,
                        // Completed or aborted while counting: it has no parts any more.
                        Err(coffer_meta::Error::NoSuchUpload) => break,
                        Err(e) => return Err(in_bucket(bucket)(e)),
                    };
                    stat.multipart_parts += parts.len() as u64;
                    match parts.last() {
                        Some(last) if parts.len() == SCAN_BATCH => after = last.part_number,
                        _ => break,
                    }
                }
            }
            match batch.last() {
                Some(last) if batch.len() == SCAN_BATCH => {
                    cursor = UploadCursor {
                        key: last.key.to_string(),
                        upload_id: Some(last.upload_id.to_string()),
                    }
                }
                _ => break,
            }
        }
        Ok(stat)
    }
}
