//! Object tagging endpoints: PutObjectTagging, GetObjectTagging, DeleteObjectTagging (`?tagging`
//! on an object). Writes that create objects take their tags from `x-oss-tagging`
//! (`request::tagging`); GET and HEAD report how many with `x-oss-tagging-count`.

use coffer_core::RequestContext;
use coffer_http::RequestBody;
use coffer_iam::Grant;
use http::StatusCode;

use super::{bucket_of, key_of, small_body};
use crate::error::OssError;
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
    let mut w = XmlWriter::new("Tagging");
    w.open("TagSet");
    for (key, value) in &tags {
        w.open("Tag")
            .elem("Key", key)
            .elem("Value", value)
            .close("Tag");
    }
    w.close("TagSet");
    Ok(Reply::xml(w.finish("Tagging")))
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
