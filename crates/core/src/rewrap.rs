//! Changing the key that wraps an object's data key, in place (the S3 dialect's
//! UpdateObjectEncryption, Amazon S3 API reference): the object moves from SSE-OSS to SSE-KMS,
//! or from one CMK to another, without its data being read or rewritten. ETag, Last-Modified,
//! metadata, tags and the data cipher stay as they are.

use coffer_iam::{Action, Grant};
use coffer_meta::{ObjectRecord, PutCondition};
use coffer_types::{BucketName, ObjectKey};

use crate::store::{in_bucket, object_resource, require};
use crate::{Error, RequestContext, Result, Store};

/// Attempts before giving up on an object that keeps changing under the rewrap.
const ATTEMPTS: usize = 8;

impl Store {
    /// Wraps the object's data key under the CMK `kms_key_id` (an id, alias or ARN the KMS
    /// resolves; `None`: the account's default OSS key), if its ETag is `if_match` when given;
    /// authorized as a write of the object (`oss:PutObject`) plus the KMS's own checks
    /// (unwrapping under the old key, encrypting under the new one). A write of the object that
    /// lands meanwhile wins: the rewrap is retried on the new version, so it never puts back
    /// older data.
    pub async fn update_object_encryption(
        &self,
        _ctx: &RequestContext,
        grant: &Grant,
        bucket: &BucketName,
        key: &ObjectKey,
        kms_key_id: Option<&str>,
        if_match: Option<&str>,
    ) -> Result<ObjectRecord> {
        require(grant, Action::PutObject, object_resource(bucket, key))?;
        let caller = self.kms_caller(grant, bucket, key);
        for _ in 0..ATTEMPTS {
            let mut record = self.existing_object(bucket, key).await?;
            if let Some(expected) = if_match
                && expected.trim_matches('"') != record.etag
            {
                return Err(Error::PreconditionFailed {
                    condition: "If-Match",
                });
            }
            let condition = PutCondition::IfGeneration(record.generation);
            let encryption = self
                .keys
                .rewrap(&caller, bucket, key, record.encryption.as_ref(), kms_key_id)
                .await?;
            record.encryption = Some(encryption);
            record.generation = rand::random();
            match self
                .meta
                .put_object(bucket, record.clone(), condition)
                .await
            {
                Ok(_) => return Ok(record),
                Err(coffer_meta::Error::GenerationMismatch) => continue,
                Err(e) => return Err(in_bucket(bucket)(e)),
            }
        }
        Err(Error::Internal(
            "the object kept changing while its key was rewrapped".into(),
        ))
    }
}
