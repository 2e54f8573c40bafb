//! Bucket operations.

use coffer_iam::{Action, Grant, Resource};
use coffer_meta::{Acl, BucketRecord, EncryptionRule, StorageClass};
use coffer_types::BucketName;
use tracing::info;

use crate::store::{bucket_resource, in_bucket, require};
use crate::{Error, RequestContext, Result, Store};

/// Input of PutBucket.
#[derive(Debug, Clone)]
pub struct CreateBucket {
    /// The name.
    pub name: BucketName,
    /// Canned ACL.
    pub acl: Acl,
    /// Default storage class.
    pub storage_class: StorageClass,
    /// Default encryption, when given at creation.
    pub encryption: Option<EncryptionRule>,
}

/// A page of ListBuckets.
#[derive(Debug, Clone)]
pub struct BucketSettings {
    /// The buckets.
    pub buckets: Vec<BucketRecord>,
    /// More buckets follow.
    pub truncated: bool,
    /// Marker for the next page when truncated.
    pub next_marker: Option<String>,
}

impl Store {
    /// PutBucket. Re-creating an existing bucket of the same owner with the same storage class
    /// succeeds and changes nothing; asking for another storage class is `BucketAlreadyExists`
    /// (it would not be applied, so success would mislead).
    pub async fn create_bucket(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        input: CreateBucket,
    ) -> Result<()> {
        require(grant, Action::PutBucket, bucket_resource(&input.name))?;
        let record = BucketRecord {
            name: input.name.clone(),
            created: Self::now(),
            owner: self.config.owner_id.clone(),
            acl: match input.acl {
                Acl::Default => Acl::Private,
                acl => acl,
            },
            storage_class: input.storage_class,
            encryption: input.encryption,
            policy: None,
            // New buckets block SSE-C, as S3's do since April 2026 (Amazon S3 user guide,
            // "Blocking or unblocking SSE-C for a general purpose bucket"); PutBucketEncryption
            // unblocks it.
            subresources: coffer_meta::BucketSubresources {
                sse_c_blocked: true,
                ..Default::default()
            },
        };
        match self.meta.create_bucket(record).await {
            Ok(()) => {
                info!(bucket = %input.name, "bucket created");
                Ok(())
            }
            Err(coffer_meta::Error::BucketExists) => {
                let existing = self.existing_bucket(&input.name).await?;
                if existing.owner == self.config.owner_id
                    && existing.storage_class == input.storage_class
                {
                    Ok(())
                } else {
                    Err(Error::BucketAlreadyExists)
                }
            }
            Err(e) => Err(e.into()),
        }
    }

    /// DeleteBucket: only an empty bucket (no objects, no multipart uploads).
    pub async fn delete_bucket(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
    ) -> Result<()> {
        require(grant, Action::DeleteBucket, bucket_resource(name))?;
        self.meta
            .delete_bucket(name)
            .await
            .map_err(in_bucket(name))?;
        info!(bucket = %name, "bucket deleted");
        Ok(())
    }

    /// A bucket's record (GetBucketInfo, GetBucketLocation).
    pub async fn bucket_info(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
    ) -> Result<BucketRecord> {
        if !(grant.covers(Action::GetBucketInfo, &bucket_resource(name))
            || grant.covers(Action::GetBucketLocation, &bucket_resource(name)))
        {
            return Err(Error::AccessDenied);
        }
        self.existing_bucket(name).await
    }

    /// The bucket's ACL, which authorization needs before a grant exists (anonymous access).
    pub async fn bucket_acl(&self, name: &BucketName) -> Result<Option<Acl>> {
        Ok(self.meta.bucket(name).await?.map(|b| b.acl))
    }

    /// ListBuckets: names starting with `prefix`, after `marker`, at most `max_keys`.
    pub async fn list_buckets(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        prefix: &str,
        marker: &str,
        max_keys: usize,
    ) -> Result<BucketSettings> {
        require(grant, Action::ListBuckets, Resource::Account)?;
        let mut buckets: Vec<BucketRecord> = self
            .meta
            .list_buckets()
            .await?
            .into_iter()
            .filter(|b| b.name.as_str().starts_with(prefix) && b.name.as_str() > marker)
            .collect();
        let truncated = buckets.len() > max_keys;
        buckets.truncate(max_keys);
        let next_marker = truncated
            .then(|| buckets.last().map(|b| b.name.to_string()))
            .flatten();
        Ok(BucketSettings {
            buckets,
            truncated,
            next_marker,
        })
    }
}

impl Store {
    /// PutBucketEncryption: sets the default for new objects; existing objects are untouched.
    pub async fn put_bucket_encryption(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
        rule: EncryptionRule,
    ) -> Result<()> {
        require(grant, Action::PutBucketEncryption, bucket_resource(name))?;
        self.set_encryption(name, Some(rule)).await
    }

    /// GetBucketEncryption: the default rule, if any.
    pub async fn bucket_encryption(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
    ) -> Result<Option<EncryptionRule>> {
        require(grant, Action::GetBucketEncryption, bucket_resource(name))?;
        Ok(self.existing_bucket(name).await?.encryption)
    }

    /// DeleteBucketEncryption: new objects are no longer encrypted by default; existing objects
    /// keep their encryption.
    pub async fn delete_bucket_encryption(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        name: &BucketName,
    ) -> Result<()> {
        require(grant, Action::DeleteBucketEncryption, bucket_resource(name))?;
        self.set_encryption(name, None).await
    }

    async fn set_encryption(&self, name: &BucketName, rule: Option<EncryptionRule>) -> Result<()> {
        let mut bucket = self.existing_bucket(name).await?;
        bucket.encryption = rule;
        self.meta
            .update_bucket(bucket)
            .await
            .map_err(in_bucket(name))?;
        info!(bucket = %name, "bucket default encryption changed");
        Ok(())
    }
}
