//! Multipart uploads: CreateMultipartUpload, UploadPart, CompleteMultipartUpload,
//! AbortMultipartUpload, ListParts, UploadPartCopy, ListMultipartUploads.

use coffer_core::{
    Acl, ByteRange, CompletePart, CompleteUpload, InitiateUpload, RequestContext, UploadListQuery,
};
use coffer_http::RequestBody;
use coffer_iam::Grant;
use coffer_types::UploadId;
use http::StatusCode;
use serde::Deserialize;

use super::{body_stream, bucket, content_md5, iso8601, key, metadata, quoted_etag};
use crate::checksum::{self, Algorithm};
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

fn part_number(p: &Parts) -> Result<u32, S3Error> {
    p.param("partNumber")
        .and_then(|n| n.parse().ok())
        .filter(|n| (1..=10_000).contains(n))
        .ok_or_else(|| {
            S3Error::invalid_argument(
                "Part number must be an integer between 1 and 10000, inclusive",
            )
        })
}

/// The checksum CreateMultipartUpload asks the parts to carry: `x-amz-checksum-algorithm`, and
/// `x-amz-checksum-type` (`COMPOSITE` or `FULL_OBJECT`; by default FULL_OBJECT for CRC64NVME,
/// which has no composite, and COMPOSITE for the others, as on S3: Amazon S3 user guide,
/// "Checking object integrity in Amazon S3").
fn upload_checksum(p: &Parts) -> Result<Option<coffer_core::UploadChecksum>, S3Error> {
    let kind = p.header("x-amz-checksum-type");
    let Some(name) = p.header("x-amz-checksum-algorithm") else {
        return match kind {
            None => Ok(None),
            Some(_) => Err(S3Error::invalid_request(
                "The x-amz-checksum-type header can only be used with the x-amz-checksum-algorithm header.",
            )),
        };
    };
    let algorithm = Algorithm::from_name(name)
        .ok_or_else(|| S3Error::invalid_request("Checksum algorithm provided is unsupported."))?;
    let composite = match kind.map(str::to_ascii_uppercase).as_deref() {
        None => algorithm != Algorithm::Crc64Nvme,
        Some("COMPOSITE") => true,
        Some("FULL_OBJECT") => false,
        Some(_) => {
            return Err(S3Error::invalid_request(
                "Value for x-amz-checksum-type header is invalid.",
            ));
        }
    };
    let wanted = coffer_core::UploadChecksum {
        algorithm: algorithm.stored(),
        composite,
    };
    let supported = if composite {
        coffer_core::supports_composite(wanted.algorithm)
    } else {
        coffer_core::supports_full_object(wanted.algorithm)
    };
    if !supported {
        return Err(S3Error::invalid_request(format!(
            "The {} checksum type cannot be used with the {} checksum algorithm.",
            if composite {
                "COMPOSITE"
            } else {
                "FULL_OBJECT"
            },
            algorithm.name()
        )));
    }
    Ok(Some(wanted))
}

pub(super) async fn create(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
) -> Result<Reply, S3Error> {
    let wanted = upload_checksum(p)?;
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
                tags: super::tagging::request_tags(&p.headers)?,
                checksum: wanted,
            },
        )
        .await?;
    let mut doc = Doc::new("InitiateMultipartUploadResult");
    doc.text("Bucket", bucket(p)?.as_str())
        .text("Key", key(p)?.as_str())
        .text("UploadId", upload.upload_id.as_str());
    let mut r = Reply::xml(doc.finish("InitiateMultipartUploadResult"));
    // As on PutObject: the encryption (for SSE-C the algorithm, and the key's MD5 the envelope
    // adds), on every reply of the upload's family (Amazon S3 API reference,
    // "CreateMultipartUpload", "UploadPart", "CompleteMultipartUpload").
    super::encryption_headers_of(&mut r, upload.encryption.as_ref());
    if let Some(c) = wanted {
        r.header(
            "x-amz-checksum-algorithm",
            Algorithm::of_stored(c.algorithm).name(),
        );
        r.header(
            "x-amz-checksum-type",
            if c.composite {
                "COMPOSITE"
            } else {
                "FULL_OBJECT"
            },
        );
    }
    Ok(r)
}

pub(super) async fn upload_part(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
    body: RequestBody,
) -> Result<Reply, S3Error> {
    let number = part_number(p)?;
    let id = upload_id(p)?;
    let md5 = content_md5(p)?;
    let (stream, check) = body_stream(p, body)?;
    let out = match svc
        .store
        .upload_part(
            ctx,
            g,
            bucket(p)?,
            key(p)?,
            &id,
            number,
            stream,
            md5,
            &check.store_slot(),
        )
        .await
    {
        Ok(out) => out,
        Err(e) => return Err(check.error().unwrap_or_else(|| e.into())),
    };
    let mut r = Reply::new(StatusCode::OK);
    r.header("etag", quoted_etag(&out.etag));
    check.reply_header(&mut r);
    super::encryption_headers_of(&mut r, out.encryption.as_ref());
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
    #[serde(rename = "ChecksumCRC32")]
    crc32: Option<String>,
    #[serde(rename = "ChecksumCRC32C")]
    crc32c: Option<String>,
    #[serde(rename = "ChecksumCRC64NVME")]
    crc64nvme: Option<String>,
    #[serde(rename = "ChecksumSHA1")]
    sha1: Option<String>,
    #[serde(rename = "ChecksumSHA256")]
    sha256: Option<String>,
}

impl CompleteDocPart {
    /// The part checksum the client lists, decoded: at most one; a value that is not one of its
    /// algorithm is `InvalidPart` (it cannot match what was stored).
    fn checksum(&self) -> Result<Option<Vec<u8>>, S3Error> {
        let given = [
            (Algorithm::Crc32, &self.crc32),
            (Algorithm::Crc32c, &self.crc32c),
            (Algorithm::Crc64Nvme, &self.crc64nvme),
            (Algorithm::Sha1, &self.sha1),
            (Algorithm::Sha256, &self.sha256),
        ];
        let mut found = None;
        for (algorithm, value) in given {
            let Some(value) = value else { continue };
            if found.is_some() {
                return Err(S3Error::invalid_request(
                    "Expecting a single checksum per part. Multiple checksum Types are not allowed.",
                ));
            }
            found = Some(algorithm.decode(value).ok_or_else(|| {
                S3Error::new(
                    codes::INVALID_PART,
                    format!(
                        "The {} of part {} is not a valid checksum.",
                        algorithm.element(),
                        self.part_number
                    ),
                )
            })?);
        }
        Ok(found)
    }
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
        .map(|part| {
            Ok(CompletePart {
                part_number: part.part_number,
                checksum: part.checksum()?,
                etag: part.etag.trim().trim_matches('"').to_ascii_uppercase(),
            })
        })
        .collect::<Result<Vec<_>, S3Error>>()?;
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
    if let Some(c) = &out.record.checksum {
        doc.text(
            Algorithm::of_stored(c.algorithm).element(),
            &checksum::encode(c),
        )
        .text("ChecksumType", checksum::type_name(c));
    }
    let mut r = Reply::xml(doc.finish("CompleteMultipartUploadResult"));
    super::encryption_headers(&mut r, &out.record);
    Ok(r)
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
    if let Some(c) = page.upload.checksum {
        doc.text(
            "ChecksumAlgorithm",
            Algorithm::of_stored(c.algorithm).name(),
        )
        .text(
            "ChecksumType",
            if c.composite {
                "COMPOSITE"
            } else {
                "FULL_OBJECT"
            },
        );
    }
    for part in &page.parts {
        doc.open("Part")
            .text("PartNumber", &part.part_number.to_string())
            .text("LastModified", &iso8601(part.last_modified))
            .text("ETag", &quoted_etag(&part.etag))
            .text("Size", &part.size.to_string());
        if let Some(c) = &part.checksum {
            doc.text(
                Algorithm::of_stored(c.algorithm).element(),
                &checksum::encode(c),
            );
        }
        doc.close("Part");
    }
    Ok(Reply::xml(doc.finish("ListPartsResult")))
}

/// UploadPartCopy: a part made of (a range of) an existing object, read under its own grant
/// (`oss:GetObject` on the source), its `x-amz-copy-source-if-*` conditions checked.
pub(crate) async fn upload_part_copy(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
    principal: &coffer_iam::Principal,
    facts: &coffer_access::RequestFacts,
) -> Result<Reply, S3Error> {
    let number = part_number(p)?;
    let id = upload_id(p)?;
    let (src_bucket, src_key) = super::copy_source(p)?;
    let range = match p.header("x-amz-copy-source-range") {
        None => None,
        Some(v) => match ByteRange::parse(v) {
            Some(r @ ByteRange::From { last: Some(_), .. }) => Some(r),
            _ => {
                return Err(S3Error::invalid_argument(
                    "The x-amz-copy-source-range value must be of the form bytes=first-last \
                     where first and last are the zero-based offsets of the first and last bytes \
                     to copy",
                ));
            }
        },
    };
    let source_grant = svc
        .access
        .authorize_copy_source(principal, &src_bucket, &src_key, facts)
        .await?;
    if let Some(ByteRange::From {
        last: Some(last), ..
    }) = range
    {
        // HTTP would clamp a range past the end; a copied part must lie within its source.
        // The source is read with its own customer key (SSE-C), not the target's.
        let source_ctx = RequestContext {
            customer_keys: coffer_core::CustomerKeys {
                target: ctx.customer_keys.source.clone(),
                source: None,
            },
            ..ctx.clone()
        };
        let source = svc
            .store
            .head_object(
                &source_ctx,
                &source_grant,
                &src_bucket,
                &src_key,
                &Default::default(),
            )
            .await?;
        if last >= source.size {
            return Err(S3Error::invalid_argument(format!(
                "Range specified is not valid for source object of size: {}",
                source.size
            )));
        }
    }
    let out = svc
        .store
        .upload_part_copy(
            ctx,
            &source_grant,
            g,
            &src_bucket,
            &src_key,
            range,
            &super::source_preconditions(p),
            bucket(p)?,
            key(p)?,
            &id,
            number,
        )
        .await
        .map_err(super::copy_condition_error)?;
    let mut doc = Doc::new("CopyPartResult");
    doc.text("LastModified", &iso8601(out.part.last_modified))
        .text("ETag", &quoted_etag(&out.etag));
    Ok(Reply::xml(doc.finish("CopyPartResult")))
}

/// ListMultipartUploads (prefix, delimiter, key and upload-id markers, max-uploads,
/// encoding-type).
pub(super) async fn list_uploads(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
) -> Result<Reply, S3Error> {
    let max_uploads = match p.param("max-uploads") {
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| S3Error::invalid_argument("max-uploads must be a non-negative integer."))?
            .min(1000),
        None => 1000,
    };
    let url = super::url_encoding(p)?;
    let enc = |s: &str| super::encode_key(s, url);
    let query = UploadListQuery {
        prefix: p.param("prefix").unwrap_or("").to_owned(),
        delimiter: p
            .param("delimiter")
            .filter(|d| !d.is_empty())
            .map(str::to_owned),
        key_marker: p.param("key-marker").unwrap_or("").to_owned(),
        upload_id_marker: p.param("upload-id-marker").unwrap_or("").to_owned(),
        max_uploads,
    };
    let page = svc.store.list_uploads(ctx, g, bucket(p)?, &query).await?;
    let owner = &svc.store.config().owner_id;
    let mut doc = Doc::new("ListMultipartUploadsResult");
    doc.text("Bucket", bucket(p)?.as_str())
        .text("KeyMarker", &enc(&query.key_marker))
        .text("UploadIdMarker", &query.upload_id_marker);
    if page.truncated {
        doc.text("NextKeyMarker", &enc(&page.next_key_marker))
            .text("NextUploadIdMarker", &page.next_upload_id_marker);
    }
    doc.text("Prefix", &enc(&query.prefix));
    if let Some(d) = &query.delimiter {
        doc.text("Delimiter", &enc(d));
    }
    doc.text("MaxUploads", &max_uploads.to_string())
        .text("IsTruncated", if page.truncated { "true" } else { "false" });
    if url {
        doc.text("EncodingType", "url");
    }
    for upload in &page.uploads {
        doc.open("Upload")
            .text("Key", &enc(upload.key.as_str()))
            .text("UploadId", upload.upload_id.as_str())
            .open("Initiator")
            .text("ID", owner)
            .text("DisplayName", owner)
            .close("Initiator")
            .open("Owner")
            .text("ID", owner)
            .text("DisplayName", owner)
            .close("Owner")
            .text("StorageClass", "STANDARD")
            .text("Initiated", &iso8601(upload.initiated))
            .close("Upload");
    }
    for prefix in &page.prefixes {
        doc.open("CommonPrefixes")
            .text("Prefix", &enc(prefix))
            .close("CommonPrefixes");
    }
    Ok(Reply::xml(doc.finish("ListMultipartUploadsResult")))
}
