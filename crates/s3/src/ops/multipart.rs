//! Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
//! AbortMultipartUpload, ListParts.

use std::sync::Arc;
use std::sync::atomic::AtomicU8;

use coffer_core::{Acl, CompletePart, CompleteUpload, InitiateUpload, RequestContext};
use coffer_http::RequestBody;
use coffer_iam::Grant;
use coffer_types::UploadId;
use http::StatusCode;
use serde::Deserialize;

use super::{body_failure, body_stream, bucket, content_md5, iso8601, key, metadata, quoted_etag};
use crate::error::{S3Error, codes};
use crate::server::{Parts, Reply, S3Service};
use crate::xml::Doc;

/// Largest CompleteMultipartUpload document read (10000 parts fit well below it).
const MAX_COMPLETE_XML: usize = 2 * 1024 * 1024;

fn upload_id(p: &Parts) -> Result<UploadId, S3Error> {
    p.param("uploadId")
        .and_then(UploadId::parse)
        .ok_or_else(|| {
            S3Error::new(
                codes::NO_SUCH_UPLOAD,
                "The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.",
            )
        })
}

pub(super) async fn create(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
) -> Result<Reply, S3Error> {
    let upload = svc
        .store
        .initiate_upload(
            ctx,
            g,
            InitiateUpload {
                bucket: bucket(p)?.clone(),
                key: key(p)?.clone(),
                metadata: metadata(p)?,
                acl: Acl::Default,
                storage_class: None,
                sse: super::sse_request(p)?,
                tags: Vec::new(),
            },
        )
        .await?;
    let mut doc = Doc::new("InitiateMultipartUploadResult");
    doc.text("Bucket", bucket(p)?.as_str())
        .text("Key", key(p)?.as_str())
        .text("UploadId", upload.upload_id.as_str());
    Ok(Reply::xml(doc.finish("InitiateMultipartUploadResult")))
}

pub(super) async fn upload_part(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
    body: RequestBody,
) -> Result<Reply, S3Error> {
    let number: u32 = p
        .param("partNumber")
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
            )
        })?;
    let id = upload_id(p)?;
    let md5 = content_md5(p)?;
    let failure = Arc::new(AtomicU8::new(0));
    let stream = body_stream(p, body, failure.clone())?;
    let out = match svc
        .store
        .upload_part(ctx, g, bucket(p)?, key(p)?, &id, number, stream, md5)
        .await
    {
        Ok(out) => out,
        Err(e) => return Err(body_failure(&failure).unwrap_or_else(|| e.into())),
    };
    let mut r = Reply::new(StatusCode::OK);
    r.header("etag", quoted_etag(&out.etag));
    Ok(r)
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompleteDoc {
    #[serde(default)]
    part: Vec<CompleteDocPart>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CompleteDocPart {
    part_number: u32,
    #[serde(rename = "ETag")]
    etag: String,
}

pub(super) async fn complete(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
    body: RequestBody,
) -> Result<Reply, S3Error> {
    let id = upload_id(p)?;
    let text = super::read_xml(p, body, MAX_COMPLETE_XML).await?;
    let text = text.as_str();
    let doc: CompleteDoc = quick_xml::de::from_str(text).map_err(|e| {
        S3Error::new(
            codes::MALFORMED_XML,
            format!("The XML you provided was not well-formed or did not validate: {e}"),
        )
    })?;
    if doc.part.is_empty() {
        return Err(S3Error::new(
            codes::MALFORMED_XML,
            "The XML you provided was not well-formed or did not validate against our published schema: no Part.",
        ));
    }
    let parts = doc
        .part
        .into_iter()
        .map(|part| CompletePart {
            part_number: part.part_number,
            etag: part.etag.trim().trim_matches('"').to_ascii_uppercase(),
        })
        .collect();
    let out = svc
        .store
        .complete_upload(
            ctx,
            g,
            CompleteUpload {
                bucket: bucket(p)?.clone(),
                key: key(p)?.clone(),
                upload_id: id,
                parts: Some(parts),
                forbid_overwrite: p.header("if-none-match") == Some("*"),
            },
        )
        .await?;
    let mut doc = Doc::new("CompleteMultipartUploadResult");
    doc.text("Location", &format!("/{}/{}", bucket(p)?, key(p)?))
        .text("Bucket", bucket(p)?.as_str())
        .text("Key", key(p)?.as_str())
        .text("ETag", &quoted_etag(&out.etag));
    Ok(Reply::xml(doc.finish("CompleteMultipartUploadResult")))
}

pub(super) async fn abort(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
) -> Result<Reply, S3Error> {
    let id = upload_id(p)?;
    svc.store
        .abort_upload(ctx, g, bucket(p)?, key(p)?, &id)
        .await?;
    Ok(Reply::new(StatusCode::NO_CONTENT))
}

pub(super) async fn list_parts(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
) -> Result<Reply, S3Error> {
    let id = upload_id(p)?;
    let after: u32 = match p.param("part-number-marker") {
        Some(v) => v
            .parse()
            .map_err(|_| S3Error::invalid_argument("part-number-marker must be an integer."))?,
        None => 0,
    };
    let max: usize = match p.param("max-parts") {
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| S3Error::invalid_argument("max-parts must be an integer."))?
            .min(1000),
        None => 1000,
    };
    let page = svc
        .store
        .list_parts(ctx, g, bucket(p)?, key(p)?, &id, after, max)
        .await?;
    let mut doc = Doc::new("ListPartsResult");
    doc.text("Bucket", bucket(p)?.as_str())
        .text("Key", key(p)?.as_str())
        .text("UploadId", id.as_str())
        .text("PartNumberMarker", &after.to_string());
    if let Some(last) = page.parts.last() {
        doc.text("NextPartNumberMarker", &last.part_number.to_string());
    }
    doc.text("MaxParts", &max.to_string())
        .text("IsTruncated", if page.truncated { "true" } else { "false" });
    for part in &page.parts {
        doc.open("Part")
            .text("PartNumber", &part.part_number.to_string())
            .text("LastModified", &iso8601(part.last_modified))
            .text("ETag", &quoted_etag(&part.etag))
            .text("Size", &part.size.to_string())
            .close("Part");
    }
    Ok(Reply::xml(doc.finish("ListPartsResult")))
}
