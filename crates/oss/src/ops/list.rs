//! Listing endpoints: ListObjects, ListObjectsV2, ListMultipartUploads.

use base64::Engine;
use coffer_core::{ListEntry, ListQuery, RequestContext, UploadListQuery};

use super::{bucket_of, encode_name, number_param, url_encoding};
use coffer_iam::Grant;

use crate::error::OssError;
use crate::response::{Reply, object_type_name, quoted, storage_class_name, xml_time};
use crate::server::{OssService, Parts};
use crate::xml::XmlWriter;

/// Continuation tokens are the next marker in base64url: opaque, and URL-safe as oss2 needs.
fn encode_token(marker: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(marker)
}

fn decode_token(token: &str) -> Result<String, OssError> {
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            OssError::invalid_argument(
                "continuation-token",
                token,
                "The continuation token is not valid.",
            )
        })
}

pub(super) async fn list_objects(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
    v2: bool,
) -> Result<Reply, OssError> {
    let url = url_encoding(parts)?;
    let q = &parts.query;
    let prefix = q.get("prefix").unwrap_or("").to_owned();
    let delimiter = q
        .get("delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let max_keys = number_param(parts, "max-keys", 100, 0..=1000)?;
    let token = q.get("continuation-token").filter(|t| !t.is_empty());
    let start_after = q.get("start-after").unwrap_or("");
    let marker = if v2 {
        match token {
            Some(t) => decode_token(t)?,
            None => start_after.to_owned(),
        }
    } else {
        q.get("marker").unwrap_or("").to_owned()
    };
    let query = ListQuery {
        prefix: prefix.clone(),
        delimiter: delimiter.clone(),
        marker: marker.clone(),
        max_keys,
    };
    let page = svc
        .store
        .list_objects(ctx, grant, bucket_of(parts)?, &query)
        .await?;
    let fetch_owner = !v2 || q.get("fetch-owner") == Some("true");
    let owner_id = svc.iam.account_id();
    let mut w = XmlWriter::new("ListBucketResult");
    w.elem("Name", bucket_of(parts)?.as_str())
        .elem("Prefix", encode_name(&prefix, url));
    if v2 {
        if !start_after.is_empty() {
            w.elem("StartAfter", encode_name(start_after, url));
        }
        if let Some(t) = token {
            w.elem("ContinuationToken", t);
        }
    } else {
        w.elem("Marker", encode_name(&marker, url));
    }
    w.elem("MaxKeys", max_keys.to_string());
    if let Some(d) = &delimiter {
        w.elem("Delimiter", encode_name(d, url));
    }
    if url {
        w.elem("EncodingType", "url");
    }
    w.elem("IsTruncated", page.truncated.to_string());
    if let Some(next) = page.next_marker() {
        if v2 {
            w.elem("NextContinuationToken", encode_token(next));
        } else {
            w.elem("NextMarker", encode_name(next, url));
        }
    }
    if v2 {
        w.elem("KeyCount", page.entries.len().to_string());
    }
    for entry in &page.entries {
        if let ListEntry::Object(o) = entry {
            w.open("Contents")
                .elem("Key", encode_name(o.key.as_str(), url))
                .elem("LastModified", xml_time(o.last_modified))
                .elem("ETag", quoted(&o.etag))
                .elem("Type", object_type_name(o.object_type))
                .elem("Size", o.size.to_string())
                .elem("StorageClass", storage_class_name(o.storage_class));
            if fetch_owner {
                w.open("Owner")
                    .elem("ID", owner_id)
                    .elem("DisplayName", owner_id)
                    .close("Owner");
            }
            w.close("Contents");
        }
    }
    for entry in &page.entries {
        if let ListEntry::Prefix(p) = entry {
            w.open("CommonPrefixes")
                .elem("Prefix", encode_name(p, url))
                .close("CommonPrefixes");
        }
    }
    Ok(Reply::xml(w.finish("ListBucketResult")))
}

pub(super) async fn list_uploads(
    svc: &OssService,
    ctx: &RequestContext,
    parts: &Parts,
    grant: &Grant,
) -> Result<Reply, OssError> {
    let url = url_encoding(parts)?;
    let q = &parts.query;
    let query = UploadListQuery {
        prefix: q.get("prefix").unwrap_or("").to_owned(),
        delimiter: q
            .get("delimiter")
            .filter(|d| !d.is_empty())
            .map(str::to_owned),
        key_marker: q.get("key-marker").unwrap_or("").to_owned(),
        upload_id_marker: q.get("upload-id-marker").unwrap_or("").to_owned(),
        max_uploads: number_param(parts, "max-uploads", 1000, 1..=1000)?,
    };
    let page = svc
        .store
        .list_uploads(ctx, grant, bucket_of(parts)?, &query)
        .await?;
    let mut w = XmlWriter::new("ListMultipartUploadsResult");
    w.elem("Bucket", bucket_of(parts)?.as_str());
    if url {
        w.elem("EncodingType", "url");
    }
    w.elem("KeyMarker", encode_name(&query.key_marker, url))
        .elem("UploadIdMarker", &query.upload_id_marker)
        .elem("NextKeyMarker", encode_name(&page.next_key_marker, url))
        .elem("NextUploadIdMarker", &page.next_upload_id_marker)
        .elem(
            "Delimiter",
            encode_name(query.delimiter.as_deref().unwrap_or(""), url),
        )
        .elem("Prefix", encode_name(&query.prefix, url))
        .elem("MaxUploads", query.max_uploads.to_string())
        .elem("IsTruncated", page.truncated.to_string());
    for u in &page.uploads {
        w.open("Upload")
            .elem("Key", encode_name(u.key.as_str(), url))
            .elem("UploadId", u.upload_id.as_str())
            .elem("StorageClass", storage_class_name(u.storage_class))
            .elem("Initiated", xml_time(u.initiated))
            .close("Upload");
    }
    for p in &page.prefixes {
        w.open("CommonPrefixes")
            .elem("Prefix", encode_name(p, url))
            .close("CommonPrefixes");
    }
    Ok(Reply::xml(w.finish("ListMultipartUploadsResult")))
}
