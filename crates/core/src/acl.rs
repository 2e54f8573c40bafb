//! Canned ACLs of buckets and objects: reading and changing them. Who they let in is decided by
//! the access layer, which reads them from the records.

use coffer_iam::{Action, Grant};
use coffer_meta::{Acl, ObjectRecord, PutCondition};
use coffer_types::{BucketName, ObjectKey};
use tracing::info;

use crate::store::{bucket_resource, in_bucket, object_resource, require};
use crate::{Error, RequestContext, Result, Store};

/// How often a settings change of an object is tried again when a concurrent write changed the
/// record between its read and its write.
const UPDATE_ATTEMPTS: usize = 8;

impl Store {
    /// PutBucketAcl: the bucket's canned ACL. `Acl::Default` is an object-only value and is
    /// refused.
    pub async fn put_bucket_acl(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
        acl: Acl,
    ) -> Result<()> {
        require(grant, Action::PutBucketAcl, bucket_resource(name))?;
        if acl == Acl::Default {
            return Err(Error::invalid_argument(
                "acl",
                "default",
                "A bucket's ACL is private, public-read or public-read-write.",
            ));
        }
        let mut bucket = self.existing_bucket(name).await?;
        bucket.acl = acl;
        self.meta
            .update_bucket(bucket)
            .await
            .map_err(in_bucket(name))?;
        info!(bucket = %name, ?acl, "bucket ACL changed");
        Ok(())
    }

    /// GetBucketAcl: the bucket's canned ACL (never `Acl::Default`).
    pub async fn get_bucket_acl(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
    ) -> Result<Acl> {
        require(grant, Action::GetBucketAcl, bucket_resource(name))?;
        Ok(self.existing_bucket(name).await?.acl)
    }

    /// PutObjectAcl: the object's canned ACL (`Acl::Default`: the bucket's applies). Data, ETag
    /// and Last-Modified are untouched.
    pub async fn put_object_acl(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        bucket: &BucketName,
        key: &ObjectKey,
        acl: Acl,
    ) -> Result<()> {
        require(grant, Action::PutObjectAcl, object_resource(bucket, key))?;
        self.update_object(bucket, key, |o| o.acl = acl).await
    }

    /// GetObjectAcl: the object's canned ACL, `Acl::Default` when it follows the bucket's.
    pub async fn get_object_acl(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        bucket: &BucketName,
        key: &ObjectKey,
    ) -> Result<Acl> {
        require(grant, Action::GetObjectAcl, object_resource(bucket, key))?;
        Ok(self.existing_object(bucket, key).await?.acl)
    }

    /// Changes settings of an existing object's record (not its data: the segments, and with
    /// them the blobs and the encryption seal, stay as they are). The write is conditional on
    /// the generation read, and gives the record a new one, so a concurrent append or overwrite
    /// either comes before (and is kept) or fails its own condition; a lost race is retried.
    pub(crate) async fn update_object(
        &self,
        bucket: &BucketName,
        key: &ObjectKey,
        change: impl Fn(&mut ObjectRecord),
    ) -> Result<()> {
        for _ in 0..UPDATE_ATTEMPTS {
            let mut record = self.existing_object(bucket, key).await?;
            let condition = PutCondition::IfGeneration(record.generation);
            record.generation = rand::random();
            change(&mut record);
            match self.meta.put_object(bucket, record, condition).await {
                Ok(_) => return Ok(()),
                Err(coffer_meta::Error::GenerationMismatch) => continue,
                Err(e) => return Err(in_bucket(bucket)(e)),
            }
        }
        Err(Error::Internal(
            "the object kept changing while its settings were written".into(),
        ))
    }
}
