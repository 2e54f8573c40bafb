//! Bucket policy endpoints: PutBucketPolicy, GetBucketPolicy, DeleteBucketPolicy (`?policy`).
//!
//! The policy is JSON (spec `ram-policy.md` §2, §3.5), kept by `coffer_iam` beside the other RAM
//! policies and combined with them on every request. A malformed policy, or one whose resources
//! leave the bucket, is refused with 400 `MalformedPolicy` and changes nothing.

use coffer_http::RequestBody;
use http::StatusCode;

use super::{bucket_of, endpoint_grant, small_body};
use crate::error::OssError;
use crate::response::{Reply, full};
use crate::server::{OssService, Parts};

/// Largest policy body read; the policy grammar itself allows 16 KiB (spec §2.1), the rest is
/// room for a useful error message rather than a body-size one.
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
    body: RequestBody,
) -> Result<Reply, OssError> {
    let grant = endpoint_grant(svc, parts).await?;
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
    svc.iam
        .put_bucket_policy(&grant, bucket_of(parts)?.as_str(), text)?;
    Ok(Reply::new(StatusCode::OK))
}

pub(super) async fn get_policy(svc: &OssService, parts: &Parts) -> Result<Reply, OssError> {
    let grant = endpoint_grant(svc, parts).await?;
    existing_bucket(svc, parts).await?;
    let text = svc.iam.bucket_policy(&grant, bucket_of(parts)?.as_str())?;
    let mut reply = Reply::new(StatusCode::OK);
    reply.header("content-type", "application/json");
    reply.body = full(text);
    Ok(reply)
}

pub(super) async fn delete_policy(svc: &OssService, parts: &Parts) -> Result<Reply, OssError> {
    let grant = endpoint_grant(svc, parts).await?;
    existing_bucket(svc, parts).await?;
    svc.iam
        .delete_bucket_policy(&grant, bucket_of(parts)?.as_str())?;
    Ok(Reply::new(StatusCode::NO_CONTENT))
}
