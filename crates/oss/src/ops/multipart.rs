//! Multipart endpoints: InitiateMultipartUpload, UploadPart, UploadPartCopy,
//! CompleteMultipartUpload, AbortMultipartUpload, ListParts.

use coffer_core::{CompletePart, CompleteUpload, InitiateUpload, PartOutput, RequestContext};
use coffer_http::RequestBody;
use coffer_types::UploadId;
use http::StatusCode;

use super::{body_stream, bucket_of, encode_name, key_of, number_param, small_body, url_encoding};
use coffer_iam::Grant;

use crate::error::{OssError, codes};
use crate::headers::*;
use crate::request::{self, header};
use crate::response::{Reply, encryption_headers, quoted, xml_time};
use crate::server::{OssService, Parts};
use crate::xml::{XmlWriter, parse_complete};

fn upload_id(parts: &Parts) -> Result<UploadId, OssError> {
    let raw = parts.query.get("uploadId").unwrap_or("");
    UploadId::parse(raw).ok_or_else(|| {
        OssError::new(
            codes::NO_SUCH_UPLOAD,
            "The specified upload does not exist. The upload ID may be invalid, or the upload may \
             have been aborted or completed.",
        )
        .detail("UploadId", raw)
    })
}

fn part_number(parts: &Parts) -> Result<u32, OssError> {
    let raw = parts.query.get("partNumber").unwrap_or("");
    raw.parse().map_err(|_| {
        OssError::invalid_argument(
            "partNumber",
            raw,
            "Part number must be an integer between 1 and 10000, inclusive.",
        )
    })
}

pub(super) async fn initiate(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let url = url_encoding(parts)?;
    let input = InitiateUpload {
        bucket: bucket_of(parts)?.clone(),
        key: key_of(parts)?.clone(),
        metadata: request::object_metadata(&parts.headers)?,
        acl: request::acl(&parts.headers, X_OSS_OBJECT_ACL)?,
        storage_class: request::storage_class(&parts.headers)?,
        sse: request::sse(&parts.headers)?,
        tags: request::tagging(&parts.headers)?,
        checksum: None,
    };
    let upload = svc.store.initiate_upload(ctx, grant, input).await?;
    let mut w = XmlWriter::new("InitiateMultipartUploadResult");
    w.elem("Bucket", bucket_of(parts)?.as_str())
        .elem("Key", encode_name(upload.key.as_str(), url))
        .elem("UploadId", upload.upload_id.as_str());
    if url {
        w.elem("EncodingType", "url");
    }
    let mut reply = Reply::xml(w.finish("InitiateMultipartUploadResult"));
    encryption_headers(&mut reply, upload.encryption.as_ref());
    Ok(reply)
}

fn part_headers(reply: &mut Reply, out: &PartOutput) {
    use base64::Engine;
    encryption_headers(reply, out.encryption.as_ref());
    reply
        .header("etag", quoted(&out.etag))
        .header(X_OSS_HASH_CRC64ECMA, out.crc64.to_string())
        .header(
            "content-md5",
            base64::engine::general_purpose::STANDARD.encode(out.md5),
        );
}

pub(super) async fn upload_part(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
    body: RequestBody,
) -> Result<Reply, OssError> {
    // The upload's encryption was fixed when it was initiated; OSS refuses a part that names one.
    if let Some(name) = [
        X_OSS_SERVER_SIDE_ENCRYPTION,
        X_OSS_SERVER_SIDE_DATA_ENCRYPTION,
        X_OSS_SERVER_SIDE_ENCRYPTION_KEY_ID,
    ]
    .into_iter()
    .find(|name| parts.headers.contains_key(*name))
    {
        crate::server::drain(body).await;
        return Err(OssError::invalid_argument(
            name,
            header(&parts.headers, name)
                .ok()
                .flatten()
                .unwrap_or_default(),
            format!(
                "{name} is not allowed in UploadPart: InitiateMultipartUpload sets the upload's encryption."
            ),
        ));
    }
    let id = upload_id(parts)?;
    let number = part_number(parts)?;
    let out = svc
        .store
        .upload_part(
            ctx,
            grant,
            bucket_of(parts)?,
            key_of(parts)?,
            &id,
            number,
            body_stream(body),
            request::content_md5(&parts.headers)?,
            &Default::default(),
        )
        .await?;
    let mut reply = Reply::new(StatusCode::OK);
    part_headers(&mut reply, &out);
    Ok(reply)
}

pub(super) async fn upload_part_copy(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let id = upload_id(parts)?;
    let number = part_number(parts)?;
    let source = header(&parts.headers, X_OSS_COPY_SOURCE)?.unwrap_or_default();
    let (source_bucket, source_key) = request::copy_source(source)?;
    let source_grant = super::grant_copy_source(svc, parts, &source_bucket, &source_key).await?;
    let range = match header(&parts.headers, X_OSS_COPY_SOURCE_RANGE)? {
        None => None,
        Some(v) => Some(request::parse_range(v).ok_or_else(|| {
            OssError::invalid_argument(
                X_OSS_COPY_SOURCE_RANGE,
                v,
                "The copy source range is not valid.",
            )
        })?),
    };
    let out = svc
        .store
        .upload_part_copy(
            ctx,
            &source_grant,
            grant,
            &source_bucket,
            &source_key,
            range,
            &request::preconditions(&parts.headers, true)?,
            bucket_of(parts)?,
            key_of(parts)?,
            &id,
            number,
        )
        .await?;
    let mut w = XmlWriter::new("CopyPartResult");
    w.elem("LastModified", xml_time(out.part.last_modified))
        .elem("ETag", quoted(&out.etag));
    let mut reply = Reply::xml(w.finish("CopyPartResult"));
    reply
        .header("etag", quoted(&out.etag))
        .header(X_OSS_HASH_CRC64ECMA, out.crc64.to_string());
    encryption_headers(&mut reply, out.encryption.as_ref());
    Ok(reply)
}

pub(super) async fn complete(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
    body: RequestBody,
) -> Result<Reply, OssError> {
    let url = url_encoding(parts)?;
    let id = upload_id(parts)?;
    let complete_all =
        header(&parts.headers, X_OSS_COMPLETE_ALL)?.is_some_and(|v| v.eq_ignore_ascii_case("yes"));
    let body = small_body(body, &parts.headers, false).await?;
    let list = if complete_all {
        if !body.iter().all(u8::is_ascii_whitespace) {
            return Err(OssError::invalid_argument(
                X_OSS_COMPLETE_ALL,
                "yes",
                "A part list must not be sent with x-oss-complete-all.",
            ));
        }
        None
    } else {
        let xml = parse_complete(&body)?;
        let mut list = Vec::with_capacity(xml.parts.len());
        for p in xml.parts {
            let part_number = p.part_number.trim().parse().map_err(|_| {
                OssError::malformed_xml(format!("PartNumber {:?} is not a number", p.part_number))
            })?;
            list.push(CompletePart {
                part_number,
                etag: p.etag,
                checksum: None,
            });
        }
        Some(list)
    };
    let input = CompleteUpload {
        bucket: bucket_of(parts)?.clone(),
        key: key_of(parts)?.clone(),
        upload_id: id,
        parts: list,
        forbid_overwrite: request::flag(&parts.headers, X_OSS_FORBID_OVERWRITE)?,
    };
    let out = svc.store.complete_upload(ctx, grant, input).await?;
    let bucket = bucket_of(parts)?;
    let key = out.record.key.as_str();
    let mut w = XmlWriter::new("CompleteMultipartUploadResult");
    if url {
        w.elem("EncodingType", "url");
    }
    w.elem(
        "Location",
        format!(
            "http://{bucket}.oss-{}.aliyuncs.com/{}",
            svc.config.region,
            encode_name(key, true)
        ),
    )
    .elem("Bucket", bucket.as_str())
    .elem("Key", encode_name(key, url))
    .elem("ETag", quoted(&out.etag));
    let mut reply = Reply::xml(w.finish("CompleteMultipartUploadResult"));
    encryption_headers(&mut reply, out.record.encryption.as_ref());
    reply
        .header("etag", quoted(&out.etag))
        .header(X_OSS_HASH_CRC64ECMA, out.crc64.to_string());
    Ok(reply)
}

pub(super) async fn abort(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let id = upload_id(parts)?;
    svc.store
        .abort_upload(ctx, grant, bucket_of(parts)?, key_of(parts)?, &id)
        .await?;
    Ok(Reply::new(StatusCode::NO_CONTENT))
}

pub(super) async fn list_parts(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let url = url_encoding(parts)?;
    let id = upload_id(parts)?;
    let max_parts = number_param(parts, "max-parts", 1000, 1..=1000)?;
    let marker = number_param(parts, "part-number-marker", 0, 0..=10_000)?;
    let page = svc
        .store
        .list_parts(
            ctx,
            grant,
            bucket_of(parts)?,
            key_of(parts)?,
            &id,
            u32::try_from(marker).unwrap_or(0),
            max_parts,
        )
        .await?;
    let next = page.parts.last().map_or(marker as u32, |p| p.part_number);
    let mut w = XmlWriter::new("ListPartsResult");
    w.elem("Bucket", bucket_of(parts)?.as_str());
    if url {
        w.elem("EncodingType", "url");
    }
    w.elem("Key", encode_name(page.upload.key.as_str(), url))
        .elem("UploadId", id.as_str())
        .elem(
            "StorageClass",
            crate::response::storage_class_name(page.upload.storage_class),
        )
        .elem("PartNumberMarker", marker.to_string())
        .elem("NextPartNumberMarker", next.to_string())
        .elem("MaxParts", max_parts.to_string())
        .elem("IsTruncated", page.truncated.to_string());
    for p in &page.parts {
        w.open("Part")
            .elem("PartNumber", p.part_number.to_string())
            .elem("LastModified", xml_time(p.last_modified))
            .elem("ETag", quoted(&p.etag))
            .elem("HashCrc64ecma", p.crc64.to_string())
            .elem("Size", p.size.to_string())
            .close("Part");
    }
    Ok(Reply::xml(w.finish("ListPartsResult")))
}
