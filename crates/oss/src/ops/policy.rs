//! Bucket policy endpoints: PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy (`?policy`).
//!
//! The policy is JSON (the RAM policy language), kept in the bucket's record by the access layer
//! (`coffer-access`) and combined with the principal's RAM policies on every request. A malformed policy, or one whose resources
//! leave the bucket, is refused with 400 `MalformedPolicy` and changes nothing.

use coffer_http::RequestBody;
use http::StatusCode;

use super::{bucket_of, small_body};
use coffer_iam::Grant;

use crate::error::OssError;
use crate::response::{Reply, full};
use crate::server::{OssService, Parts};

/// Largest policy body read; a bucket policy itself may be 16 KiB (coffer's limit, as OSS
/// documents none we could confirm), the rest is room for a useful error message rather than a
/// body-size one.
const MAX_POLICY_BODY: usize = 64 * 1024;

/// Fails with `NoSuchBucket` unless the bucket exists.
async fn existing_bucket(svc: &OssService, parts: &Parts) -> Result<(), OssError> {
    let bucket = bucket_of(parts)?;
    match svc.store.bucket_acl(bucket).await? {
        Some(_) => Ok(()),
        None => Err(coffer_core::Error::NoSuchBucket {
            bucket: bucket.to_string(),
        }
        .into()),
    }
}

pub(super) async fn put_policy(
    svc: &OssService,
    parts: &Parts,
    grant: &Grant,
    body: RequestBody,
) -> Result<Reply, OssError> {
    existing_bucket(svc, parts).await?;
    let body = small_body(body, &parts.headers, false).await?;
    if body.len() > MAX_POLICY_BODY {
        return Err(OssError::from(coffer_iam::Error::InvalidParameter {
            name: "Policy",
            reason: "The policy is larger than 16 KiB.".into(),
        }));
    }
    let text = std::str::from_utf8(&body).map_err(|_| {
        OssError::from(coffer_iam::Error::InvalidParameter {
            name: "Policy",
            reason: "The policy is not UTF-8 text.".into(),
        })
    })?;
    svc.access
        .put_bucket_policy(grant, bucket_of(parts)?, text)
        .await?;
    Ok(Reply::new(StatusCode::OK))
}

pub(super) async fn get_policy(
    svc: &OssService,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    existing_bucket(svc, parts).await?;
    let text = svc.access.bucket_policy(grant, bucket_of(parts)?).await?;
    let mut reply = Reply::new(StatusCode::OK);
    reply.header("content-type", "application/json");
    reply.body = full(text);
    Ok(reply)
}

pub(super) async fn delete_policy(
    svc: &OssService,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    existing_bucket(svc, parts).await?;
    svc.access
        .delete_bucket_policy(grant, bucket_of(parts)?)
        .await?;
    Ok(Reply::new(StatusCode::NO_CONTENT))
}
