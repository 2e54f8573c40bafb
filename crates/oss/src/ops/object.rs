//! Object endpoints: PutObject, CopyObject, AppendObject, GetObject, HeadObject, GetObjectMeta,
//! DeleteObject, DeleteMultipleObjects, and coffer's UpdateObjectEncryption.

use base64::Engine;
use coffer_access::Target;
use coffer_core::{
    AppendObject, CopyObject, GetOptions, MetadataDirective, PutObject, PutOutput, RangeBehavior,
    RequestContext, SseRequest,
};
use coffer_http::RequestBody;
use coffer_iam::{Action, Grant, Principal};
use coffer_types::ObjectKey;
use http::StatusCode;

use super::{
    body_stream, bucket_of, encode_name, grant_copy_source, key_of, small_body, url_encoding,
};

use crate::error::{OssError, codes};
use crate::headers::*;
use crate::request::{self, header};
use crate::response::{Reply, encryption_headers, object_headers, quoted, stream, xml_time};
use crate::server::{OssService, Parts};
use crate::xml::{XmlWriter, parse_delete};

/// Headers every successful write returns.
fn write_headers(reply: &mut Reply, out: &PutOutput) {
    encryption_headers(reply, out.record.encryption.as_ref());
    reply
        .header("etag", quoted(&out.etag))
        .header(X_OSS_HASH_CRC64ECMA, out.crc64.to_string());
    if let Some(md5) = out.md5 {
        reply.header(
            "content-md5",
            base64::engine::general_purpose::STANDARD.encode(md5),
        );
    }
}

/// Refuses a declared body larger than any object may be before reading a byte of it.
fn check_declared_length(parts: &Parts, limit: u64) -> Result<(), OssError> {
    if let Some(len) = header(&parts.headers, "content-length")? {
        let len: u64 = len.parse().map_err(|_| {
            OssError::invalid_argument("Content-Length", len, "The Content-Length is not valid.")
        })?;
        if len > limit {
            return Err(OssError::new(
                codes::ENTITY_TOO_LARGE,
                "Your proposed upload exceeds the maximum allowed object size.",
            ));
        }
    }
    Ok(())
}

pub(super) async fn put_object(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
    body: RequestBody,
) -> Result<Reply, OssError> {
    check_declared_length(parts, svc.store.config().max_object_size)?;
    let input = PutObject {
        bucket: bucket_of(parts)?.clone(),
        key: key_of(parts)?.clone(),
        body: body_stream(body),
        content_md5: request::content_md5(&parts.headers)?,
        metadata: request::object_metadata(&parts.headers)?,
        acl: request::acl(&parts.headers, X_OSS_OBJECT_ACL)?,
        storage_class: request::storage_class(&parts.headers)?,
        forbid_overwrite: request::flag(&parts.headers, X_OSS_FORBID_OVERWRITE)?,
        sse: request::sse(&parts.headers)?,
        tags: request::tagging(&parts.headers)?,
        // OSS has no additional checksums (it answers its CRC-64).
        checksum: Default::default(),
    };
    let out = svc.store.put_object(ctx, grant, input).await?;
    let mut reply = Reply::new(StatusCode::OK);
    write_headers(&mut reply, &out);
    Ok(reply)
}

pub(super) async fn copy_object(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let source = header(&parts.headers, X_OSS_COPY_SOURCE)?.unwrap_or_default();
    let (source_bucket, source_key) = request::copy_source(source)?;
    let source_grant = grant_copy_source(svc, parts, &source_bucket, &source_key).await?;
    let directive = match header(&parts.headers, X_OSS_METADATA_DIRECTIVE)? {
        None => MetadataDirective::Copy,
        Some(v) if v.eq_ignore_ascii_case("COPY") => MetadataDirective::Copy,
        Some(v) if v.eq_ignore_ascii_case("REPLACE") => MetadataDirective::Replace,
        Some(v) => {
            return Err(OssError::invalid_argument(
                X_OSS_METADATA_DIRECTIVE,
                v,
                "The metadata directive must be COPY or REPLACE.",
            ));
        }
    };
    let tags = match header(&parts.headers, X_OSS_TAGGING_DIRECTIVE)? {
        None => None,
        Some(v) if v.eq_ignore_ascii_case("Copy") => None,
        Some(v) if v.eq_ignore_ascii_case("Replace") => Some(request::tagging(&parts.headers)?),
        Some(v) => {
            return Err(OssError::invalid_argument(
                X_OSS_TAGGING_DIRECTIVE,
                v,
                "The tagging directive must be Copy or Replace.",
            ));
        }
    };
    let input = CopyObject {
        source_bucket,
        source_key,
        bucket: bucket_of(parts)?.clone(),
        key: key_of(parts)?.clone(),
        directive,
        metadata: request::object_metadata(&parts.headers)?,
        source_preconditions: request::preconditions(&parts.headers, true)?,
        acl: request::acl(&parts.headers, X_OSS_OBJECT_ACL)?,
        storage_class: request::storage_class(&parts.headers)?,
        forbid_overwrite: request::flag(&parts.headers, X_OSS_FORBID_OVERWRITE)?,
        sse: request::sse(&parts.headers)?,
        tags,
    };
    let out = svc
        .store
        .copy_object(ctx, &source_grant, grant, input)
        .await?;
    let mut w = XmlWriter::new("CopyObjectResult");
    w.elem("ETag", quoted(&out.etag))
        .elem("LastModified", xml_time(out.record.last_modified));
    let mut reply = Reply::xml(w.finish("CopyObjectResult"));
    reply
        .header("etag", quoted(&out.etag))
        .header(X_OSS_HASH_CRC64ECMA, out.crc64.to_string());
    encryption_headers(&mut reply, out.record.encryption.as_ref());
    Ok(reply)
}

pub(super) async fn append_object(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
    body: RequestBody,
) -> Result<Reply, OssError> {
    check_declared_length(parts, svc.store.config().max_object_size)?;
    let position = parts.query.get("position").unwrap_or("");
    let position: u64 = position.parse().map_err(|_| {
        OssError::invalid_argument(
            "position",
            position,
            "The position must be a non-negative integer.",
        )
    })?;
    let input = AppendObject {
        bucket: bucket_of(parts)?.clone(),
        key: key_of(parts)?.clone(),
        position,
        body: body_stream(body),
        content_md5: request::content_md5(&parts.headers)?,
        metadata: request::object_metadata(&parts.headers)?,
        acl: request::acl(&parts.headers, X_OSS_OBJECT_ACL)?,
        storage_class: request::storage_class(&parts.headers)?,
        sse: request::sse(&parts.headers)?,
        tags: request::tagging(&parts.headers)?,
    };
    let out = svc.store.append_object(ctx, grant, input).await?;
    let mut reply = Reply::new(StatusCode::OK);
    write_headers(&mut reply, &out);
    reply.header(X_OSS_NEXT_APPEND_POSITION, out.record.size.to_string());
    Ok(reply)
}

fn get_options(parts: &Parts) -> Result<GetOptions, OssError> {
    let range = header(&parts.headers, "range")?.and_then(request::parse_range);
    let range_behavior = match header(&parts.headers, X_OSS_RANGE_BEHAVIOR)? {
        Some(v) if v.eq_ignore_ascii_case("standard") => RangeBehavior::Standard,
        _ => RangeBehavior::Compatible,
    };
    Ok(GetOptions {
        range,
        range_behavior,
        preconditions: request::preconditions(&parts.headers, false)?,
    })
}

/// Applies `response-*` overrides, which OSS honours only for authenticated requests.
fn apply_overrides(reply: &mut Reply, parts: &Parts) {
    if parts.principal == Principal::Anonymous {
        return;
    }
    for (param, header_name) in RESPONSE_OVERRIDES {
        if let Some(v) = parts.query.get(param) {
            reply.headers.retain(|(n, _)| n.as_str() != *header_name);
            reply.header(header_name, v);
        }
    }
}

pub(super) async fn get_object(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let options = get_options(parts)?;
    let out = svc
        .store
        .get_object(ctx, grant, bucket_of(parts)?, key_of(parts)?, options)
        .await?;
    let mut reply = Reply::new(StatusCode::OK);
    object_headers(&mut reply, &out.record);
    let len = match &out.range {
        Some(r) => {
            reply.status = StatusCode::PARTIAL_CONTENT;
            reply.header(
                "content-range",
                format!("bytes {}-{}/{}", r.start, r.end - 1, out.record.size),
            );
            r.end - r.start
        }
        None => out.record.size,
    };
    reply.header("content-length", len.to_string());
    apply_overrides(&mut reply, parts);
    svc.metrics.bytes(parts.endpoint.name(), "out", len);
    reply.body = stream(out.body);
    Ok(reply)
}

pub(super) async fn head_object(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let preconditions = request::preconditions(&parts.headers, false)?;
    let record = svc
        .store
        .head_object(
            ctx,
            grant,
            bucket_of(parts)?,
            key_of(parts)?,
            &preconditions,
        )
        .await?;
    let mut reply = Reply::new(StatusCode::OK);
    object_headers(&mut reply, &record);
    reply.header("content-length", record.size.to_string());
    apply_overrides(&mut reply, parts);
    Ok(reply)
}

pub(super) async fn object_meta(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let record = svc
        .store
        .head_object(
            ctx,
            grant,
            bucket_of(parts)?,
            key_of(parts)?,
            &Default::default(),
        )
        .await?;
    let mut reply = Reply::new(StatusCode::OK);
    reply
        .header("etag", quoted(&record.etag))
        .header("content-length", record.size.to_string())
        .header(
            "last-modified",
            crate::response::http_time(record.last_modified),
        )
        .header(X_OSS_HASH_CRC64ECMA, record.crc64.to_string());
    encryption_headers(&mut reply, record.encryption.as_ref());
    Ok(reply)
}

pub(super) async fn delete_object(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    svc.store
        .delete_object(ctx, grant, bucket_of(parts)?, key_of(parts)?)
        .await?;
    Ok(Reply::new(StatusCode::NO_CONTENT))
}

/// UpdateObjectEncryption, coffer's OSS form of the S3 dialect's operation: the object's data key
/// is wrapped anew under the CMK of `x-oss-server-side-encryption-key-id` (the default OSS key
/// without one), its data untouched; `If-Match` guards it. The data cipher cannot change in
/// place, so `x-oss-server-side-data-encryption` is refused (CopyObject rewrites the data).
pub(super) async fn update_encryption(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
    body: RequestBody,
) -> Result<Reply, OssError> {
    small_body(body, &parts.headers, false).await?;
    if let Some(v) = header(&parts.headers, X_OSS_SERVER_SIDE_DATA_ENCRYPTION)? {
        return Err(OssError::invalid_argument(
            X_OSS_SERVER_SIDE_DATA_ENCRYPTION,
            v,
            "The data cipher of an object cannot change in place: rewrite the object with CopyObject.",
        ));
    }
    let key_id = match request::sse(&parts.headers)? {
        Some(SseRequest::Kms { key_id, .. }) => key_id,
        _ => {
            return Err(OssError::invalid_argument(
                X_OSS_SERVER_SIDE_ENCRYPTION,
                header(&parts.headers, X_OSS_SERVER_SIDE_ENCRYPTION)?.unwrap_or_default(),
                "An object's key can be changed in place only to KMS: give x-oss-server-side-encryption: KMS.",
            ));
        }
    };
    let record = svc
        .store
        .update_object_encryption(
            ctx,
            grant,
            bucket_of(parts)?,
            key_of(parts)?,
            key_id.as_deref(),
            header(&parts.headers, "if-match")?,
        )
        .await?;
    let mut reply = Reply::new(StatusCode::OK);
    reply.header("etag", quoted(&record.etag));
    encryption_headers(&mut reply, record.encryption.as_ref());
    Ok(reply)
}

/// Most keys one DeleteMultipleObjects request may name.
const MAX_DELETE_KEYS: usize = 1000;

pub(super) async fn delete_objects(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    body: RequestBody,
) -> Result<Reply, OssError> {
    let bucket = bucket_of(parts)?;
    let url = url_encoding(parts)?;
    let body = small_body(body, &parts.headers, true).await?;
    let request = parse_delete(&body)?;
    if request.objects.len() > MAX_DELETE_KEYS {
        return Err(OssError::malformed_xml(
            "at most 1000 objects can be deleted at once",
        ));
    }
    let quiet = request
        .quiet
        .as_deref()
        .is_some_and(|q| q.trim().eq_ignore_ascii_case("true"));
    let mut w = XmlWriter::new("DeleteResult");
    if url {
        w.elem("EncodingType", "url");
    }
    // Each key is authorized on its own, as OSS does: one denied key fails the request, and
    // before anything is deleted.
    let mut grants = Vec::with_capacity(request.objects.len());
    for object in &request.objects {
        let key = ObjectKey::parse(&object.key)?;
        let g = svc
            .access
            .authorize(
                &parts.principal,
                Action::DeleteObject,
                Target::object(bucket, &key),
                &parts.facts,
            )
            .await?;
        grants.push((key, g));
    }
    for (key, g) in grants {
        svc.store.delete_object(ctx, &g, bucket, &key).await?;
        if !quiet {
            w.open("Deleted")
                .elem("Key", encode_name(key.as_str(), url))
                .close("Deleted");
        }
    }
    Ok(Reply::xml(w.finish("DeleteResult")))
}
