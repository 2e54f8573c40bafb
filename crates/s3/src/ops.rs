//! The handlers: each reads its inputs, calls `coffer_core` with the request's grant and
//! renders the S3 reply. Handlers do not authorize again.

use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use base64::Engine;
use coffer_core::{
    Acl, BodyStream, ByteRange, CreateBucket, GetOptions, ListEntry, ListQuery, ObjectMetadata,
    ObjectRecord, Preconditions, PutObject, RangeBehavior, RequestContext, StorageClass,
    UnixMillis,
};
use coffer_http::RequestBody;
use coffer_iam::Grant;
use coffer_types::{BucketName, ObjectKey};
use futures::{StreamExt, TryStreamExt};
use http::StatusCode;
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;

mod encryption;
pub(crate) mod multipart;
mod rewrap;
pub(crate) mod sse_c;
pub(crate) mod tagging;

use crate::actions::Op;
use crate::checksum;
use crate::error::{S3Error, codes};
use crate::server::{Parts, Reply, S3Service};
use crate::xml::Doc;

/// Stored headers a write may set and a read returns.
const CONTENT_HEADERS: &[&str] = &[
    "cache-control",
    "content-disposition",
    "content-encoding",
    "content-language",
    "expires",
];

pub(crate) async fn run(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
    body: RequestBody,
) -> Result<Reply, S3Error> {
    match p.op {
        Op::ListBuckets => list_buckets(svc, ctx, g).await,
        Op::CreateBucket => create_bucket(svc, ctx, p, g).await,
        Op::DeleteBucket => {
            svc.store.delete_bucket(ctx, g, bucket(p)?).await?;
            Ok(Reply::new(StatusCode::NO_CONTENT))
        }
        Op::HeadBucket => {
            svc.store.bucket_info(ctx, g, bucket(p)?).await?;
            let mut r = Reply::new(StatusCode::OK);
            r.header("x-amz-bucket-region", &svc.config.region);
            Ok(r)
        }
        Op::GetBucketLocation => {
            svc.store.bucket_info(ctx, g, bucket(p)?).await?;
            // us-east-1 is answered as an empty constraint, as S3 does.
            let region = svc.config.region.as_str();
            let doc = format!(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<LocationConstraint \
                 xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">{}</LocationConstraint>",
                if region == "us-east-1" {
                    String::new()
                } else {
                    quick_xml::escape::escape(region).into_owned()
                }
            );
            Ok(Reply::xml(doc))
        }
        Op::ListObjects => list_objects(svc, ctx, p, g, false).await,
        Op::ListObjectsV2 => list_objects(svc, ctx, p, g, true).await,
        Op::PutObject => put_object(svc, ctx, p, g, body).await,
        Op::GetObject => get_object(svc, ctx, p, g, false).await,
        Op::HeadObject => get_object(svc, ctx, p, g, true).await,
        Op::DeleteObject => {
            svc.store.delete_object(ctx, g, bucket(p)?, key(p)?).await?;
            Ok(Reply::new(StatusCode::NO_CONTENT))
        }
        Op::CreateMultipartUpload => multipart::create(svc, ctx, p, g).await,
        Op::UploadPart => multipart::upload_part(svc, ctx, p, g, body).await,
        Op::CompleteMultipartUpload => multipart::complete(svc, ctx, p, g, body).await,
        Op::AbortMultipartUpload => multipart::abort(svc, ctx, p, g).await,
        Op::ListParts => multipart::list_parts(svc, ctx, p, g).await,
        Op::ListMultipartUploads => multipart::list_uploads(svc, ctx, p, g).await,
        Op::PutBucketEncryption => encryption::put(svc, ctx, p, g, body).await,
        Op::GetBucketEncryption => encryption::get(svc, ctx, p, g).await,
        Op::DeleteBucketEncryption => encryption::delete(svc, ctx, p, g).await,
        Op::PutObjectTagging => tagging::put(svc, ctx, p, g, body).await,
        Op::GetObjectTagging => tagging::get(svc, ctx, p, g).await,
        Op::DeleteObjectTagging => tagging::delete(svc, ctx, p, g).await,
        Op::UpdateObjectEncryption => rewrap::put(svc, ctx, p, g, body).await,
        // Authorized per key, before `run` (`delete_objects`).
        Op::DeleteObjects | Op::CopyObject | Op::UploadPartCopy => Err(S3Error::new(
            codes::METHOD_NOT_ALLOWED,
            "This operation is dispatched on its own.",
        )),
        Op::Unsupported(name) => Err(S3Error::not_implemented(name)),
    }
}

fn bucket(p: &Parts) -> Result<&BucketName, S3Error> {
    p.bucket
        .as_ref()
        .ok_or_else(|| S3Error::new(codes::METHOD_NOT_ALLOWED, "A bucket is required."))
}

fn key(p: &Parts) -> Result<&ObjectKey, S3Error> {
    p.key
        .as_ref()
        .ok_or_else(|| S3Error::new(codes::METHOD_NOT_ALLOWED, "A key is required."))
}

/// S3 clients compare ETags with the MD5 they computed, in lower-case hex; the store keeps OSS's
/// upper case (conditionals compare either way).
fn quoted_etag(etag: &str) -> String {
    format!("\"{}\"", etag.to_ascii_lowercase())
}

fn iso8601(ms: UnixMillis) -> String {
    let t = OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms.0) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.millisecond()
    )
}

fn http_date(ms: UnixMillis) -> String {
    coffer_signature::format_rfc1123(
        OffsetDateTime::from_unix_timestamp(ms.0.div_euclid(1000))
            .unwrap_or(OffsetDateTime::UNIX_EPOCH),
    )
}

async fn list_buckets(svc: &S3Service, ctx: &RequestContext, g: &Grant) -> Result<Reply, S3Error> {
    let page = svc.store.list_buckets(ctx, g, "", "", usize::MAX).await?;
    let mut doc = Doc::new("ListAllMyBucketsResult");
    doc.open("Owner")
        .text("ID", &svc.store.config().owner_id)
        .text("DisplayName", &svc.store.config().owner_id)
        .close("Owner")
        .open("Buckets");
    for b in &page.buckets {
        doc.open("Bucket")
            .text("Name", b.name.as_str())
            .text("CreationDate", &iso8601(b.created))
            .close("Bucket");
    }
    doc.close("Buckets");
    Ok(Reply::xml(doc.finish("ListAllMyBucketsResult")))
}

async fn create_bucket(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
) -> Result<Reply, S3Error> {
    let name = bucket(p)?.clone();
    let acl = match p.header("x-amz-acl") {
        None | Some("private") => Acl::Private,
        Some("public-read") => Acl::PublicRead,
        Some("public-read-write") => Acl::PublicReadWrite,
        Some(other) => {
            return Err(S3Error::invalid_argument(format!(
                "The canned ACL {other} is not supported."
            )));
        }
    };
    // The CreateBucketConfiguration body names a region only; any is accepted (one region).
    match svc
        .store
        .create_bucket(
            ctx,
            g,
            CreateBucket {
                name: name.clone(),
                acl,
                storage_class: StorageClass::Standard,
                encryption: None,
            },
        )
        .await
    {
        Ok(()) => {}
        Err(coffer_core::Error::BucketAlreadyExists) => {
            return Err(S3Error::new(
                codes::BUCKET_ALREADY_OWNED_BY_YOU,
                "Your previous request to create the named bucket succeeded and you already own it.",
            )
            .naming("BucketName", name.as_str()));
        }
        Err(e) => return Err(e.into()),
    }
    let mut r = Reply::new(StatusCode::OK);
    r.header("location", format!("/{name}"));
    Ok(r)
}

/// `encoding-type`: `url` or absent.
fn url_encoding(p: &Parts) -> Result<bool, S3Error> {
    match p.param("encoding-type") {
        None => Ok(false),
        Some("url") => Ok(true),
        Some(_) => Err(S3Error::invalid_argument(
            "Invalid Encoding Method specified in Request",
        )),
    }
}

/// A key or prefix in a listing: URL-encoded (slashes kept) under `encoding-type=url`.
fn encode_key(s: &str, url: bool) -> String {
    if url {
        crate::sigv4::uri_encode(s).replace("%2F", "/")
    } else {
        s.to_owned()
    }
}

async fn list_objects(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
    v2: bool,
) -> Result<Reply, S3Error> {
    let max_keys = match p.param("max-keys") {
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| S3Error::invalid_argument("max-keys must be a non-negative integer."))?
            .min(1000),
        None => 1000,
    };
    let url_encode = url_encoding(p)?;
    let prefix = p.param("prefix").unwrap_or("").to_owned();
    let delimiter = p
        .param("delimiter")
        .filter(|d| !d.is_empty())
        .map(str::to_owned);
    let marker = if v2 {
        match p.param("continuation-token") {
            Some(t) => String::from_utf8(
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(t)
                    .map_err(|_| {
                        S3Error::invalid_argument("The continuation token provided is incorrect")
                    })?,
            )
            .map_err(|_| {
                S3Error::invalid_argument("The continuation token provided is incorrect")
            })?,
            None => p.param("start-after").unwrap_or("").to_owned(),
        }
    } else {
        p.param("marker").unwrap_or("").to_owned()
    };
    let query = ListQuery {
        prefix: prefix.clone(),
        delimiter: delimiter.clone(),
        marker: marker.clone(),
        max_keys,
    };
    let page = svc.store.list_objects(ctx, g, bucket(p)?, &query).await?;
    let enc = |s: &str| encode_key(s, url_encode);
    let mut doc = Doc::new("ListBucketResult");
    doc.text("Name", bucket(p)?.as_str())
        .text("Prefix", &enc(&prefix));
    if v2 {
        if let Some(t) = p.param("continuation-token") {
            doc.text("ContinuationToken", t);
        }
        if let Some(s) = p.param("start-after") {
            doc.text("StartAfter", &enc(s));
        }
        let count = page.entries.len();
        doc.text("KeyCount", &count.to_string());
    } else {
        doc.text("Marker", &enc(&marker));
    }
    doc.text("MaxKeys", &max_keys.to_string());
    if let Some(d) = &delimiter {
        doc.text("Delimiter", &enc(d));
    }
    if url_encode {
        doc.text("EncodingType", "url");
    }
    doc.text("IsTruncated", if page.truncated { "true" } else { "false" });
    if page.truncated
        && let Some(next) = page.next_marker()
    {
        if v2 {
            doc.text(
                "NextContinuationToken",
                &base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(next),
            );
        } else if delimiter.is_some() {
            doc.text("NextMarker", &enc(next));
        }
    }
    let fetch_owner = !v2 || p.param("fetch-owner") == Some("true");
    for entry in &page.entries {
        match entry {
            ListEntry::Object(o) => {
                doc.open("Contents")
                    .text("Key", &enc(o.key.as_str()))
                    .text("LastModified", &iso8601(o.last_modified))
                    .text("ETag", &quoted_etag(&o.etag))
                    .text("Size", &o.size.to_string())
                    .text("StorageClass", "STANDARD");
                if fetch_owner {
                    let owner = &svc.store.config().owner_id;
                    doc.open("Owner")
                        .text("ID", owner)
                        .text("DisplayName", owner)
                        .close("Owner");
                }
                doc.close("Contents");
            }
            ListEntry::Prefix(prefix) => {
                doc.open("CommonPrefixes")
                    .text("Prefix", &enc(prefix))
                    .close("CommonPrefixes");
            }
        }
    }
    Ok(Reply::xml(doc.finish("ListBucketResult")))
}

/// Why a body stream failed, when the body (not the store) was at fault.
const SHA256_MISMATCH: u8 = 10;

/// The request body as the store reads it, and what its checks found. A hex
/// `x-amz-content-sha256` is checked as the bytes pass, `aws-chunked` bodies are decoded (their
/// chunk and trailer signatures checked when signed), and an additional checksum
/// (`x-amz-checksum-*`, as a header or a trailer: `crate::checksum`) is computed and compared:
/// on a mismatch the stream fails, so the store discards the write, and [`BodyCheck::error`]
/// says which error to answer.
fn body_stream(p: &Parts, body: RequestBody) -> Result<(BodyStream, BodyCheck), S3Error> {
    let requested = checksum::requested(p)?;
    let failure = Arc::new(AtomicU8::new(0));
    let trailers = crate::chunked::Trailers::default();
    let stream = payload_stream(p, body, failure.clone(), trailers.clone())?;
    let check = BodyCheck {
        failure: failure.clone(),
        algorithm: requested.as_ref().map(checksum::Requested::algorithm),
        outcome: checksum::Outcome::default(),
    };
    let stream = match requested {
        None => stream,
        Some(requested) => Box::pin(checksum::verify(
            stream,
            requested,
            trailers,
            failure,
            check.outcome.clone(),
        )),
    };
    Ok((stream, check))
}

/// What the checks of a request body found.
pub(crate) struct BodyCheck {
    failure: Arc<AtomicU8>,
    algorithm: Option<checksum::Algorithm>,
    outcome: checksum::Outcome,
}

impl BodyCheck {
    /// The S3 error of a body the stream refused, if that is why the store failed.
    pub(crate) fn error(&self) -> Option<S3Error> {
        let code = self.failure.load(Ordering::Relaxed);
        checksum::failure_error(code, self.algorithm).or_else(|| body_failure(code))
    }

    /// The checksum of a body that passed: `(algorithm, base64 value)`.
    pub(crate) fn checksum(&self) -> Option<(checksum::Algorithm, String)> {
        self.outcome.get().map(|(algorithm, value)| {
            (
                checksum::Algorithm::of_stored(algorithm),
                base64::engine::general_purpose::STANDARD.encode(value),
            )
        })
    }

    /// The slot the store reads the body's checksum from once the body has ended.
    pub(crate) fn store_slot(&self) -> coffer_core::BodyChecksum {
        self.outcome.clone()
    }

    /// Answers the body's checksum header (`x-amz-checksum-crc32: ...`), as S3 does on writes.
    pub(crate) fn reply_header(&self, r: &mut Reply) {
        if let Some((algorithm, value)) = self.checksum() {
            r.header(algorithm.header(), value);
        }
    }
}

/// The payload with `x-amz-content-sha256` checked and `aws-chunked` decoded.
fn payload_stream(
    p: &Parts,
    body: RequestBody,
    failure: Arc<AtomicU8>,
    trailers: crate::chunked::Trailers,
) -> Result<BodyStream, S3Error> {
    let frames = body.into_data_stream().map_err(io::Error::other);
    match p.payload_hash.as_str() {
        "UNSIGNED-PAYLOAD" => Ok(Box::pin(frames)),
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER" => Ok(Box::pin(crate::chunked::decode(
            frames, None, failure, trailers,
        ))),
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" | "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER" => {
            let signer = p
                .chunk_signer
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .take();
            Ok(Box::pin(crate::chunked::decode(
                frames, signer, failure, trailers,
            )))
        }
        h if h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) => {
            let Ok(expected) = <[u8; 32]>::try_from(hex::decode(h).unwrap_or_default()) else {
                return Err(S3Error::new(
                    codes::INVALID_CONTENT_SHA256,
                    "x-amz-content-sha256 must be a SHA-256 digest.",
                ));
            };
            let mut hasher = Some(Sha256::new());
            let checked = frames
                .map(move |item| item.map(Some))
                .chain(futures::stream::once(async { Ok(None) }))
                .filter_map(move |item| {
                    let out = match item {
                        Ok(Some(chunk)) => {
                            if let Some(h) = hasher.as_mut() {
                                h.update(&chunk);
                            }
                            Some(Ok(chunk))
                        }
                        Ok(None) => {
                            let got: [u8; 32] = hasher
                                .take()
                                .map(|h| h.finalize().into())
                                .unwrap_or_default();
                            if got == expected {
                                None
                            } else {
                                failure.store(SHA256_MISMATCH, Ordering::Relaxed);
                                Some(Err(io::Error::new(
                                    io::ErrorKind::InvalidData,
                                    "x-amz-content-sha256 mismatch",
                                )))
                            }
                        }
                        Err(e) => Some(Err(e)),
                    };
                    async move { out }
                });
            Ok(Box::pin(checked))
        }
        h if h.starts_with("STREAMING-") => Err(S3Error::not_implemented(
            "This aws-chunked payload form (ECDSA signatures)",
        )),
        _ => Err(S3Error::new(
            codes::INVALID_CONTENT_SHA256,
            "x-amz-content-sha256 must be UNSIGNED-PAYLOAD or the SHA-256 of the payload.",
        )),
    }
}

/// The S3 error of a body the payload stream refused, by its failure code.
fn body_failure(code: u8) -> Option<S3Error> {
    match code {
        SHA256_MISMATCH => Some(S3Error::new(
            codes::CONTENT_SHA256_MISMATCH,
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )),
        crate::chunked::BAD_SIGNATURE => Some(S3Error::new(
            codes::SIGNATURE_DOES_NOT_MATCH,
            "The chunk signature we calculated does not match the one you provided.",
        )),
        crate::chunked::MALFORMED => Some(S3Error::new(
            codes::INCOMPLETE_BODY,
            "The aws-chunked body is malformed or ended early.",
        )),
        _ => None,
    }
}

fn metadata(p: &Parts) -> Result<ObjectMetadata, S3Error> {
    let mut user_meta = Vec::new();
    let mut headers = Vec::new();
    for (name, value) in &p.headers {
        let value = value
            .to_str()
            .map_err(|_| S3Error::invalid_argument("Header values must be text."))?;
        if let Some(meta) = name.as_str().strip_prefix("x-amz-meta-") {
            user_meta.push((meta.to_owned(), value.to_owned()));
        } else if name == http::header::CONTENT_ENCODING {
            // `aws-chunked` describes the request body only; S3 stores the other codings.
            let stored: Vec<&str> = value
                .split(',')
                .map(str::trim)
                .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("aws-chunked"))
                .collect();
            if !stored.is_empty() {
                headers.push((name.as_str().to_owned(), stored.join(", ")));
            }
        } else if CONTENT_HEADERS.contains(&name.as_str()) {
            headers.push((name.as_str().to_owned(), value.to_owned()));
        }
    }
    user_meta.sort();
    Ok(ObjectMetadata {
        content_type: p
            .header("content-type")
            .unwrap_or("binary/octet-stream")
            .to_owned(),
        headers,
        user_meta,
    })
}

async fn put_object(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
    body: RequestBody,
) -> Result<Reply, S3Error> {
    let content_md5 = content_md5(p)?;
    let forbid_overwrite = match p.header("if-none-match") {
        None => false,
        Some("*") => true,
        Some(_) => {
            return Err(S3Error::not_implemented(
                "If-None-Match other than * on PutObject",
            ));
        }
    };
    let (body, check) = body_stream(p, body)?;
    let out = svc
        .store
        .put_object(
            ctx,
            g,
            PutObject {
                bucket: bucket(p)?.clone(),
                key: key(p)?.clone(),
                body,
                content_md5,
                metadata: metadata(p)?,
                acl: Acl::Default,
                storage_class: None,
                forbid_overwrite,
                sse: sse_request(p)?,
                tags: tagging::request_tags(&p.headers)?,
                checksum: check.store_slot(),
            },
        )
        .await;
    let out = match out {
        Err(e) => return Err(check.error().unwrap_or_else(|| e.into())),
        Ok(out) => out,
    };
    let mut r = Reply::new(StatusCode::OK);
    r.header("etag", quoted_etag(&out.etag));
    check.reply_header(&mut r);
    encryption_headers(&mut r, &out.record);
    echo_bucket_key(&mut r, p);
    Ok(r)
}

/// `x-amz-server-side-encryption-bucket-key-enabled` is accepted and echoed: every object's data
/// key is wrapped separately, so the flag changes nothing here.
fn echo_bucket_key(r: &mut Reply, p: &Parts) {
    if let Some(v) = p.header("x-amz-server-side-encryption-bucket-key-enabled") {
        r.header("x-amz-server-side-encryption-bucket-key-enabled", v);
    }
}

fn content_md5(p: &Parts) -> Result<Option<[u8; 16]>, S3Error> {
    let Some(v) = p.header("content-md5") else {
        return Ok(None);
    };
    base64::engine::general_purpose::STANDARD
        .decode(v)
        .ok()
        .and_then(|d| <[u8; 16]>::try_from(d).ok())
        .map(Some)
        .ok_or_else(|| {
            S3Error::new(
                codes::INVALID_DIGEST,
                "The Content-MD5 you specified was invalid.",
            )
        })
}

/// The encryption a write asks for (`x-amz-server-side-encryption`, Amazon S3 API reference,
/// "PutObject"): SSE-S3 is the service keyring (AES-256), SSE-KMS the built-in KMS with the named
/// key (id, ARN or alias) or the account's default. Forms the store cannot honour are refused,
/// never stored unencrypted: DSSE-KMS and encryption contexts. SSE-C keys are read once per
/// request, into the request context (`sse_c`).
fn sse_request(p: &Parts) -> Result<Option<coffer_core::SseRequest>, S3Error> {
    if p.header("x-amz-server-side-encryption-context").is_some() {
        return Err(S3Error::not_implemented(
            "x-amz-server-side-encryption-context",
        ));
    }
    let key_id = p.header("x-amz-server-side-encryption-aws-kms-key-id");
    match p.header("x-amz-server-side-encryption") {
        None if key_id.is_some() => Err(S3Error::invalid_argument(
            "x-amz-server-side-encryption-aws-kms-key-id needs x-amz-server-side-encryption: aws:kms.",
        )),
        None => Ok(None),
        Some("AES256") if key_id.is_none() => Ok(Some(coffer_core::SseRequest::Aes256)),
        Some("aws:kms") => Ok(Some(coffer_core::SseRequest::Kms {
            key_id: key_id.map(str::to_owned),
            data_sm4: false,
        })),
        Some("aws:kms:dsse") => Err(S3Error::not_implemented(
            "DSSE-KMS (dual-layer encryption); use aws:kms",
        )),
        Some(other) => Err(S3Error::invalid_argument(format!(
            "The encryption method specified is not supported: {other}."
        ))),
    }
}

/// The SSE headers S3 answers for an encrypted object, whichever dialect wrote it.
pub(super) fn encryption_headers(r: &mut Reply, o: &ObjectRecord) {
    encryption_headers_of(r, o.encryption.as_ref());
}

/// The SSE headers of an encryption (of an object, or of an upload and its parts).
pub(super) fn encryption_headers_of(r: &mut Reply, enc: Option<&coffer_core::ObjectEncryption>) {
    let Some(enc) = enc else { return };
    match enc.algorithm {
        coffer_core::SseAlgorithm::Aes256 => {
            r.header("x-amz-server-side-encryption", "AES256");
        }
        // Service-managed like SSE-S3, with a cipher S3 has no name for.
        coffer_core::SseAlgorithm::Sm4 => {
            r.header("x-amz-server-side-encryption", "SM4");
        }
        coffer_core::SseAlgorithm::Kms => {
            r.header("x-amz-server-side-encryption", "aws:kms");
            if let Some(id) = &enc.kms_key_id {
                r.header("x-amz-server-side-encryption-aws-kms-key-id", id);
            }
        }
        // The request that got here carried the key; its MD5 is echoed from there.
        coffer_core::SseAlgorithm::SseC => sse_c::echo(r),
    }
}

fn preconditions(p: &Parts) -> Preconditions {
    let date = |name: &str| {
        p.header(name)
            .and_then(coffer_signature::parse_rfc1123)
            .map(|t| UnixMillis(t.unix_timestamp() * 1000))
    };
    Preconditions {
        if_match: p.header("if-match").map(str::to_owned),
        if_none_match: p.header("if-none-match").map(str::to_owned),
        if_modified_since: date("if-modified-since"),
        if_unmodified_since: date("if-unmodified-since"),
    }
}

fn object_headers(r: &mut Reply, o: &ObjectRecord) {
    r.header("etag", quoted_etag(&o.etag))
        .header("last-modified", http_date(o.last_modified))
        .header("content-type", &o.content_type)
        .header("accept-ranges", "bytes");
    encryption_headers(r, o);
    if !o.tags.is_empty() {
        r.header(tagging::X_AMZ_TAGGING_COUNT, o.tags.len().to_string());
    }
    for (name, value) in &o.headers {
        r.header(name, value);
    }
    for (name, value) in &o.user_meta {
        r.header(&format!("x-amz-meta-{name}"), value);
    }
}

/// `x-amz-checksum-mode: ENABLED` asks for the object's additional checksum (Amazon S3 API
/// reference, "GetObject"); it is answered for whole-object reads only, as S3 does, since it
/// describes the whole data.
fn checksum_headers(r: &mut Reply, p: &Parts, o: &ObjectRecord) {
    if p.header("x-amz-checksum-mode")
        .is_some_and(|m| m.eq_ignore_ascii_case("ENABLED"))
        && let Some(c) = &o.checksum
    {
        checksum::response_headers(r, c);
    }
}

async fn get_object(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
    head_only: bool,
) -> Result<Reply, S3Error> {
    let (bucket, key) = (bucket(p)?, key(p)?);
    if head_only && p.header("range").is_none() {
        let o = svc
            .store
            .head_object(ctx, g, bucket, key, &preconditions(p))
            .await?;
        let mut r = Reply::new(StatusCode::OK);
        object_headers(&mut r, &o);
        checksum_headers(&mut r, p, &o);
        r.header("content-length", o.size.to_string());
        return Ok(r);
    }
    let out = svc
        .store
        .get_object(
            ctx,
            g,
            bucket,
            key,
            GetOptions {
                range: p.header("range").and_then(ByteRange::parse),
                range_behavior: RangeBehavior::Standard,
                preconditions: preconditions(p),
            },
        )
        .await?;
    let o = &out.record;
    let mut r = Reply::new(StatusCode::OK);
    object_headers(&mut r, o);
    let len = match &out.range {
        Some(range) => {
            r.status = StatusCode::PARTIAL_CONTENT;
            r.header(
                "content-range",
                format!("bytes {}-{}/{}", range.start, range.end - 1, o.size),
            );
            range.end - range.start
        }
        None => {
            checksum_headers(&mut r, p, o);
            o.size
        }
    };
    r.header("content-length", len.to_string());
    if !head_only {
        let span = tracing::Span::current();
        r.body = StreamBody::new(out.body.map_ok(Frame::data).inspect_err(move |e| {
            span.in_scope(|| tracing::error!(error = %e, "response body failed; connection cut"));
        }))
        .boxed_unsync();
    }
    Ok(r)
}

#[cfg(test)]
mod tests {
    #[test]
    fn listing_times_are_s3_iso8601_with_milliseconds() {
        assert_eq!(
            super::iso8601(coffer_core::UnixMillis(1_700_000_000_123)),
            "2023-11-14T22:13:20.123Z"
        );
    }
}

/// Most keys of one DeleteObjects request, as on S3.
const MAX_DELETE_KEYS: usize = 1000;

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteDoc {
    #[serde(default)]
    object: Vec<DeleteDocObject>,
    #[serde(default)]
    quiet: bool,
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DeleteDocObject {
    key: String,
}

/// Reads a small XML request body (at most `limit` bytes).
async fn read_xml(p: &Parts, body: RequestBody, limit: usize) -> Result<String, S3Error> {
    let (mut stream, check) = body_stream(p, body)?;
    let mut xml = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| {
            check.error().unwrap_or_else(|| {
                S3Error::new(codes::INCOMPLETE_BODY, "The request body ended early.")
            })
        })?;
        xml.extend_from_slice(&chunk);
        if xml.len() > limit {
            return Err(S3Error::new(
                codes::MALFORMED_XML,
                "The XML document is too large.",
            ));
        }
    }
    String::from_utf8(xml).map_err(|_| S3Error::new(codes::MALFORMED_XML, "The XML is not UTF-8."))
}

/// DeleteObjects: each key is authorized (`oss:DeleteObject` on it) and deleted on its own; a
/// refused or invalid key is an `Error` entry, the others still go.
pub(crate) async fn delete_objects(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    principal: &coffer_iam::Principal,
    facts: &coffer_access::RequestFacts,
    body: RequestBody,
) -> Result<Reply, S3Error> {
    let bucket = bucket(p)?;
    let text = read_xml(p, body, 2 * 1024 * 1024).await?;
    let doc: DeleteDoc = quick_xml::de::from_str(&text).map_err(|e| {
        S3Error::new(
            codes::MALFORMED_XML,
            format!("The XML you provided was not well-formed or did not validate: {e}"),
        )
    })?;
    if doc.object.is_empty() || doc.object.len() > MAX_DELETE_KEYS {
        return Err(S3Error::new(
            codes::MALFORMED_XML,
            "A Delete document names 1 to 1000 objects.",
        ));
    }
    let mut out = Doc::new("DeleteResult");
    for object in &doc.object {
        let outcome = async {
            let key = ObjectKey::parse(&object.key)
                .map_err(|e| S3Error::invalid_argument(e.to_string()))?;
            let grant = svc
                .access
                .authorize(
                    principal,
                    coffer_iam::Action::DeleteObject,
                    coffer_access::Target::object(bucket, &key),
                    facts,
                )
                .await?;
            svc.store.delete_object(ctx, &grant, bucket, &key).await?;
            Ok::<(), S3Error>(())
        }
        .await;
        match outcome {
            Ok(()) if doc.quiet => {}
            Ok(()) => {
                out.open("Deleted")
                    .text("Key", &object.key)
                    .close("Deleted");
            }
            // A missing bucket fails the whole request, as S3 does.
            Err(e) if e.code == codes::NO_SUCH_BUCKET => return Err(e),
            Err(e) => {
                out.open("Error")
                    .text("Key", &object.key)
                    .text("Code", e.code.code)
                    .text("Message", &e.message)
                    .close("Error");
            }
        }
    }
    Ok(Reply::xml(out.finish("DeleteResult")))
}

/// The source of a copy: `x-amz-copy-source` (`[/]bucket/key`, URL-encoded).
fn copy_source(p: &Parts) -> Result<(BucketName, ObjectKey), S3Error> {
    let raw = p.header("x-amz-copy-source").unwrap_or_default();
    if raw.contains("?versionId=") {
        return Err(S3Error::not_implemented("Copying an object version"));
    }
    let decoded = percent_encoding::percent_decode_str(raw.trim_start_matches('/'))
        .decode_utf8()
        .map_err(|_| S3Error::invalid_argument("x-amz-copy-source is not valid UTF-8."))?;
    let (src_bucket, src_key) = decoded.split_once('/').ok_or_else(|| {
        S3Error::invalid_argument(
            "Copy Source must mention the source bucket and key: sourcebucket/sourcekey.",
        )
    })?;
    let src_bucket = BucketName::parse(src_bucket)
        .map_err(|e| S3Error::new(codes::INVALID_BUCKET_NAME, e.to_string()))?;
    let src_key =
        ObjectKey::parse(src_key).map_err(|e| S3Error::invalid_argument(e.to_string()))?;
    Ok((src_bucket, src_key))
}

/// The copy source's `x-amz-copy-source-if-*` conditions.
fn source_preconditions(p: &Parts) -> Preconditions {
    let date = |name: &str| {
        p.header(name)
            .and_then(coffer_signature::parse_rfc1123)
            .map(|t| UnixMillis(t.unix_timestamp() * 1000))
    };
    Preconditions {
        if_match: p.header("x-amz-copy-source-if-match").map(str::to_owned),
        if_none_match: p
            .header("x-amz-copy-source-if-none-match")
            .map(str::to_owned),
        if_modified_since: date("x-amz-copy-source-if-modified-since"),
        if_unmodified_since: date("x-amz-copy-source-if-unmodified-since"),
    }
}

/// A copy whose `x-amz-copy-source-if-modified-since` or `-if-none-match` fails is refused with
/// 412 on S3 (a GET would answer 304): the core's `NotModified` becomes `PreconditionFailed`.
fn copy_condition_error(e: coffer_core::Error) -> S3Error {
    match e {
        coffer_core::Error::NotModified => S3Error::new(
            codes::PRECONDITION_FAILED,
            "At least one of the pre-conditions you specified did not hold",
        ),
        other => other.into(),
    }
}

/// CopyObject: `x-amz-copy-source` (`[/]bucket/key`, URL-encoded) read under its own grant
/// (`oss:GetObject` on the source), the target written under the request's; metadata copied or
/// replaced (`x-amz-metadata-directive`), tags likewise (`x-amz-tagging-directive`), the source's `x-amz-copy-source-if-*` checked.
pub(crate) async fn copy_object(
    svc: &S3Service,
    ctx: &RequestContext,
    p: &Parts,
    g: &Grant,
    principal: &coffer_iam::Principal,
    facts: &coffer_access::RequestFacts,
) -> Result<Reply, S3Error> {
    let (src_bucket, src_key) = copy_source(p)?;
    let directive = match p.header("x-amz-metadata-directive") {
        None | Some("COPY") => coffer_core::MetadataDirective::Copy,
        Some("REPLACE") => coffer_core::MetadataDirective::Replace,
        Some(other) => {
            return Err(S3Error::invalid_argument(format!(
                "Unknown metadata directive: {other}."
            )));
        }
    };
    let source_preconditions = source_preconditions(p);
    let source_grant = svc
        .access
        .authorize_copy_source(principal, &src_bucket, &src_key, facts)
        .await?;
    let out = svc
        .store
        .copy_object(
            ctx,
            &source_grant,
            g,
            coffer_core::CopyObject {
                source_bucket: src_bucket,
                source_key: src_key,
                bucket: bucket(p)?.clone(),
                key: key(p)?.clone(),
                directive,
                metadata: metadata(p)?,
                source_preconditions,
                acl: Acl::Default,
                storage_class: None,
                forbid_overwrite: p.header("if-none-match") == Some("*"),
                sse: sse_request(p)?,
                tags: tagging::copy_tags(p)?,
            },
        )
        .await
        .map_err(copy_condition_error)?;
    let mut doc = Doc::new("CopyObjectResult");
    doc.text("LastModified", &iso8601(out.record.last_modified))
        .text("ETag", &quoted_etag(&out.etag));
    let mut r = Reply::xml(doc.finish("CopyObjectResult"));
    encryption_headers(&mut r, &out.record);
    Ok(r)
}
