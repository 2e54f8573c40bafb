//! Object tagging endpoints: PutObjectTagging, GetObjectTagging, DeleteObjectTagging (`?tagging`
//! on an object). Writes that create objects take their tags from `x-oss-tagging`
//! (`request::tagging`); GET and HEAD report how many with `x-oss-tagging-count`. Bucket tagging
//! (PutBucketTagging, GetBucketTagging, DeleteBucketTagging: `?tagging` on a bucket) has limits
//! of its own.

use coffer_core::RequestContext;
use coffer_http::RequestBody;
use coffer_iam::Grant;
use http::StatusCode;

use super::{bucket_of, key_of, small_body};
use crate::error::{OssError, codes};
use crate::response::Reply;
use crate::server::{OssService, Parts};
use crate::xml::{XmlWriter, parse_tagging};

pub(super) async fn put_tagging(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
    body: RequestBody,
) -> Result<Reply, OssError> {
    let body = small_body(body, &parts.headers, false).await?;
    let tagging = parse_tagging(&body)?;
    let tags: Vec<_> = tagging
        .tag_set
        .map(|set| set.tags)
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    svc.store
        .put_object_tagging(ctx, grant, bucket_of(parts)?, key_of(parts)?, tags)
        .await?;
    Ok(Reply::new(StatusCode::OK))
}

pub(super) async fn get_tagging(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let tags = svc
        .store
        .get_object_tagging(ctx, grant, bucket_of(parts)?, key_of(parts)?)
        .await?;
    Ok(Reply::xml(tagging_document(&tags)))
}

pub(super) async fn delete_tagging(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    svc.store
        .delete_object_tagging(ctx, grant, bucket_of(parts)?, key_of(parts)?)
        .await?;
    Ok(Reply::new(StatusCode::NO_CONTENT))
}

/// Most tags a bucket carries (PutBucketTagging).
const MAX_BUCKET_TAGS: usize = 20;
/// Longest bucket tag key and value, in characters.
const MAX_BUCKET_TAG_KEY_CHARS: usize = 64;
const MAX_BUCKET_TAG_VALUE_CHARS: usize = 128;

/// PutBucketTagging (`?tagging` on a bucket): up to 20 tags, keys of 1 to 64 characters that do
/// not start with `aliyun`, `acs:`, `http://` or `https://`, values of at most 128, no key twice.
pub(super) async fn put_bucket_tagging(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
    body: RequestBody,
) -> Result<Reply, OssError> {
    let body = small_body(body, &parts.headers, false).await?;
    let tags: Vec<(String, String)> = parse_tagging(&body)?
        .tag_set
        .map(|set| set.tags)
        .unwrap_or_default()
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    validate_bucket_tags(&tags)?;
    svc.store
        .put_bucket_tagging(ctx, grant, bucket_of(parts)?, tags)
        .await?;
    Ok(Reply::new(StatusCode::OK))
}

fn validate_bucket_tags(tags: &[(String, String)]) -> Result<(), OssError> {
    let invalid = |row, message: String| Err(OssError::new(row, message));
    if tags.len() > MAX_BUCKET_TAGS {
        return invalid(
            codes::INVALID_TAG,
            format!("A bucket can have at most {MAX_BUCKET_TAGS} tags."),
        );
    }
    for (i, (key, value)) in tags.iter().enumerate() {
        let lower = key.to_ascii_lowercase();
        if key.is_empty() || key.chars().count() > MAX_BUCKET_TAG_KEY_CHARS {
            return invalid(
                codes::TAG_KEY_TOO_LONG,
                format!("A bucket tag key must be 1 to {MAX_BUCKET_TAG_KEY_CHARS} characters."),
            );
        }
        if ["aliyun", "acs:", "http://", "https://"]
            .iter()
            .any(|p| lower.starts_with(p))
        {
            return invalid(
                codes::INVALID_TAG,
                format!("The bucket tag key {key} uses a reserved prefix."),
            );
        }
        if value.chars().count() > MAX_BUCKET_TAG_VALUE_CHARS {
            return invalid(
                codes::TAG_VALUE_TOO_LONG,
                format!(
                    "A bucket tag value must be at most {MAX_BUCKET_TAG_VALUE_CHARS} characters."
                ),
            );
        }
        if tags[..i].iter().any(|(k, _)| k == key) {
            return invalid(
                codes::INVALID_TAG,
                format!("The tag key {key} is repeated."),
            );
        }
    }
    Ok(())
}

/// GetBucketTagging: the tags, an empty `TagSet` when there are none.
pub(super) async fn get_bucket_tagging(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let tags = svc
        .store
        .bucket_tagging(ctx, grant, bucket_of(parts)?)
        .await?;
    Ok(Reply::xml(tagging_document(&tags)))
}

/// DeleteBucketTagging: all tags, or those whose keys `?tagging=k1,k2` names.
pub(super) async fn delete_bucket_tagging(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let keys = parts
        .query
        .get("tagging")
        .filter(|v| !v.is_empty())
        .map(|v| v.split(',').map(str::to_owned).collect());
    svc.store
        .delete_bucket_tagging(ctx, grant, bucket_of(parts)?, keys)
        .await?;
    Ok(Reply::new(StatusCode::NO_CONTENT))
}

fn tagging_document(tags: &[(String, String)]) -> String {
    let mut w = XmlWriter::new("Tagging");
    w.open("TagSet");
    for (key, value) in tags {
        w.open("Tag")
            .elem("Key", key)
            .elem("Value", value)
            .close("Tag");
    }
    w.close("TagSet");
    w.finish("Tagging")
}
