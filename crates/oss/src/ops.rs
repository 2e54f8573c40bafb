//! The operations: [`run`] obtains the request's grant from the access layer (`coffer-access`),
//! then the endpoint's handler reads its inputs from the request, calls `coffer_core` with the
//! grant and renders the reply. Handlers do not authorize again.

mod acl;
mod bucket;
pub(crate) mod cors;
mod lifecycle;
mod list;
mod multipart;
mod object;
mod policy;
mod tagging;

use bytes::Bytes;
use coffer_access::{RequestFacts, Target};
use coffer_core::{BodyStream, RequestContext};
use coffer_http::RequestBody;
use coffer_iam::Grant;
use coffer_types::{BucketName, ObjectKey};
use futures::TryStreamExt;
use http::HeaderMap;
use http_body_util::BodyExt;
use hyper::body::Body as _;

use crate::error::{OssError, codes};
use crate::headers::{
    X_OSS_FORBID_OVERWRITE, X_OSS_OBJECT_ACL, X_OSS_SERVER_SIDE_ENCRYPTION,
    X_OSS_SERVER_SIDE_ENCRYPTION_KEY_ID, X_OSS_TAGGING,
};
use crate::request;
use crate::response::Reply;
use crate::router::Endpoint;
use crate::server::{OssService, Parts};
use crate::xml::MAX_XML_BODY;

/// Authorizes the request and runs the endpoint's handler with the grant.
///
/// An unauthorized request is refused before its body is handed on, so the body can be drained
/// and the client reads the 403 instead of a reset connection.
pub(crate) async fn run(
    svc: &OssService,
    ctx: &RequestContext,
    parts: Parts,
    body: RequestBody,
) -> Result<Reply, OssError> {
    // Its keys are in the body: it obtains one grant per key (`object::delete_objects`).
    if parts.endpoint == Endpoint::DeleteMultipleObjects {
        return object::delete_objects(svc, ctx, &parts, body).await;
    }
    let grant = match authorize(svc, &parts).await {
        Ok(grant) => grant,
        Err(e) => {
            crate::server::drain(body).await;
            return Err(e);
        }
    };
    let (p, g) = (&parts, &grant);
    match parts.endpoint {
        Endpoint::ListBuckets => bucket::list_buckets(svc, ctx, p, g).await,
        Endpoint::PutBucket => bucket::put_bucket(svc, ctx, p, g, body).await,
        Endpoint::DeleteBucket => bucket::delete_bucket(svc, ctx, p, g).await,
        Endpoint::GetBucketInfo => bucket::bucket_info(svc, ctx, p, g).await,
        Endpoint::GetBucketLocation => bucket::bucket_location(svc, ctx, p, g).await,
        Endpoint::GetBucketStat => bucket::bucket_stat(svc, ctx, p, g).await,
        Endpoint::ListObjects => list::list_objects(svc, ctx, p, g, false).await,
        Endpoint::ListObjectsV2 => list::list_objects(svc, ctx, p, g, true).await,
        Endpoint::ListMultipartUploads => list::list_uploads(svc, ctx, p, g).await,
        // Handled before authorization, above.
        Endpoint::DeleteMultipleObjects => Err(crate::server::method_not_allowed()),
        Endpoint::PutObject => object::put_object(svc, ctx, p, g, body).await,
        Endpoint::CopyObject => object::copy_object(svc, ctx, p, g).await,
        Endpoint::AppendObject => object::append_object(svc, ctx, p, g, body).await,
        Endpoint::GetObject => object::get_object(svc, ctx, p, g).await,
        Endpoint::HeadObject => object::head_object(svc, ctx, p, g).await,
        Endpoint::GetObjectMeta => object::object_meta(svc, ctx, p, g).await,
        Endpoint::DeleteObject => object::delete_object(svc, ctx, p, g).await,
        Endpoint::InitiateMultipartUpload => multipart::initiate(svc, ctx, p, g).await,
        Endpoint::UploadPart => multipart::upload_part(svc, ctx, p, g, body).await,
        Endpoint::UploadPartCopy => multipart::upload_part_copy(svc, ctx, p, g).await,
        Endpoint::CompleteMultipartUpload => multipart::complete(svc, ctx, p, g, body).await,
        Endpoint::AbortMultipartUpload => multipart::abort(svc, ctx, p, g).await,
        Endpoint::ListParts => multipart::list_parts(svc, ctx, p, g).await,
        Endpoint::PutBucketEncryption => bucket::put_encryption(svc, ctx, p, g, body).await,
        Endpoint::GetBucketEncryption => bucket::get_encryption(svc, ctx, p, g).await,
        Endpoint::DeleteBucketEncryption => bucket::delete_encryption(svc, ctx, p, g).await,
        Endpoint::PutBucketPolicy => policy::put_policy(svc, p, g, body).await,
        Endpoint::GetBucketPolicy => policy::get_policy(svc, p, g).await,
        Endpoint::DeleteBucketPolicy => policy::delete_policy(svc, p, g).await,
        Endpoint::PutBucketAcl => acl::put_bucket_acl(svc, ctx, p, g, body).await,
        Endpoint::GetBucketAcl => acl::get_bucket_acl(svc, ctx, p, g).await,
        Endpoint::PutObjectAcl => acl::put_object_acl(svc, ctx, p, g, body).await,
        Endpoint::GetObjectAcl => acl::get_object_acl(svc, ctx, p, g).await,
        Endpoint::PutObjectTagging => tagging::put_tagging(svc, ctx, p, g, body).await,
        Endpoint::GetObjectTagging => tagging::get_tagging(svc, ctx, p, g).await,
        Endpoint::DeleteObjectTagging => tagging::delete_tagging(svc, ctx, p, g).await,
        Endpoint::UpdateObjectEncryption => object::update_encryption(svc, ctx, p, g, body).await,
        Endpoint::PutBucketCors => cors::put_cors(svc, ctx, p, g, body).await,
        Endpoint::GetBucketCors => cors::get_cors(svc, ctx, p, g).await,
        Endpoint::DeleteBucketCors => cors::delete_cors(svc, ctx, p, g).await,
        Endpoint::PutBucketTagging => tagging::put_bucket_tagging(svc, ctx, p, g, body).await,
        Endpoint::GetBucketTagging => tagging::get_bucket_tagging(svc, ctx, p, g).await,
        Endpoint::DeleteBucketTagging => tagging::delete_bucket_tagging(svc, ctx, p, g).await,
        Endpoint::PutBucketLifecycle => lifecycle::put_lifecycle(svc, ctx, p, g, body).await,
        Endpoint::GetBucketLifecycle => lifecycle::get_lifecycle(svc, ctx, p, g).await,
        Endpoint::DeleteBucketLifecycle => lifecycle::delete_lifecycle(svc, ctx, p, g).await,
    }
}

/// The bucket of a bucket or object endpoint (the router guarantees it).
pub(crate) fn bucket_of(parts: &Parts) -> Result<&BucketName, OssError> {
    parts
        .target
        .bucket
        .as_ref()
        .ok_or_else(crate::server::method_not_allowed)
}

/// The key of an object endpoint (the router guarantees it).
pub(crate) fn key_of(parts: &Parts) -> Result<&ObjectKey, OssError> {
    parts
        .target
        .key
        .as_ref()
        .ok_or_else(crate::server::method_not_allowed)
}

/// Request headers a write's policy conditions can test, as `oss:<header>` (OSS developer guide,
/// "Bucket policy" condition keys).
const CONDITION_HEADERS: &[&str] = &[
    X_OSS_SERVER_SIDE_ENCRYPTION,
    X_OSS_SERVER_SIDE_ENCRYPTION_KEY_ID,
    X_OSS_OBJECT_ACL,
    X_OSS_FORBID_OVERWRITE,
];

/// What the request shows the access layer: the peer, transport and receive time, the user
/// agent, a listing's prefix and delimiter, the write headers and tags policies may test, and
/// whether an object-creating write also sets the object's ACL or tags.
pub(crate) fn request_facts(
    ctx: &RequestContext,
    headers: &HeaderMap,
    query: &crate::router::Query,
    endpoint: Endpoint,
    received: time::OffsetDateTime,
) -> RequestFacts {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let creates_object = matches!(
        endpoint,
        Endpoint::PutObject
            | Endpoint::CopyObject
            | Endpoint::AppendObject
            | Endpoint::InitiateMultipartUpload
    );
    RequestFacts {
        source_ip: ctx.source.map(|peer| peer.ip()),
        secure_transport: ctx.secure,
        received,
        user_agent: text(http::header::USER_AGENT.as_str()).map(str::to_owned),
        list_prefix: query.get("prefix").map(str::to_owned),
        list_delimiter: query.get("delimiter").map(str::to_owned),
        write_headers: CONDITION_HEADERS
            .iter()
            .filter_map(|name| text(name).map(|v| ((*name).to_owned(), v.to_owned())))
            .collect(),
        object_tags: request_tags(headers),
        sets_object_acl: creates_object && headers.contains_key(X_OSS_OBJECT_ACL),
        sets_object_tags: creates_object && headers.contains_key(X_OSS_TAGGING),
    }
}

/// The tags of `x-oss-tagging` (`k1=v1&k2=v2`, URL-encoded).
fn request_tags(headers: &HeaderMap) -> Vec<(String, String)> {
    let Some(raw) = headers.get(X_OSS_TAGGING).and_then(|v| v.to_str().ok()) else {
        return Vec::new();
    };
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(&s.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned()
    };
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// The grant for the request's own endpoint and target, from the access layer.
async fn authorize(svc: &OssService, parts: &Parts) -> Result<Grant, OssError> {
    let target = Target {
        bucket: parts.target.bucket.as_ref(),
        key: parts.target.key.as_ref(),
    };
    Ok(svc
        .access
        .authorize(
            &parts.principal,
            parts.endpoint.action(),
            target,
            &parts.facts,
        )
        .await?)
}

/// The grant to read the source of CopyObject or UploadPartCopy.
pub(crate) async fn grant_copy_source(
    svc: &OssService,
    parts: &Parts,
    bucket: &BucketName,
    key: &ObjectKey,
) -> Result<Grant, OssError> {
    Ok(svc
        .access
        .authorize_copy_source(&parts.principal, bucket, key, &parts.facts)
        .await?)
}

/// The request body as a stream of bytes for core. A handler that stops reading early (it
/// refused the request: `FileAlreadyExists`, a wrong append position, ...) drops the stream, and
/// the rest of the body is then drained in the background (see [`DrainOnDrop`]).
pub(crate) fn body_stream(body: RequestBody) -> BodyStream {
    let frames = TryStreamExt::map_err(DrainOnDrop(Some(body)), std::io::Error::other)
        .try_filter_map(|frame| async move { Ok(frame.into_data().ok()) });
    Box::pin(frames)
}

/// A request body that, dropped before its end, reads and discards the rest (up to
/// [`crate::server::DRAIN_LIMIT`]) in a task of its own. Without it the connection could close
/// right after an error response whose request body had not fully arrived yet, and a client
/// that reuses the connection for its next request would find it closed.
struct DrainOnDrop(Option<RequestBody>);

impl futures::Stream for DrainOnDrop {
    type Item = Result<hyper::body::Frame<Bytes>, coffer_http::BodyError>;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        let Some(body) = self.0.as_mut() else {
            return std::task::Poll::Ready(None);
        };
        let polled = std::pin::Pin::new(body).poll_frame(cx);
        if let std::task::Poll::Ready(None | Some(Err(_))) = &polled {
            // Ended (or failed): nothing left to drain.
            self.0 = None;
        }
        polled
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        if let Some(body) = self.0.take()
            && !body.is_end_stream()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(crate::server::drain(body));
        }
    }
}

/// Reads a small (XML) body whole, refusing more than [`MAX_XML_BODY`] bytes and checking
/// `Content-MD5` when given (`required_md5` makes its absence an error).
pub(crate) async fn small_body(
    body: RequestBody,
    headers: &HeaderMap,
    required_md5: bool,
) -> Result<Bytes, OssError> {
    let expected = request::content_md5(headers)?;
    if required_md5 && expected.is_none() {
        return Err(OssError::new(
            codes::MISSING_ARGUMENT,
            "The Content-MD5 header is required for this request.",
        )
        .detail("ArgumentName", "Content-MD5"));
    }
    let bytes = http_body_util::Limited::new(body, MAX_XML_BODY)
        .collect()
        .await
        .map_err(|e| {
            if e.is::<http_body_util::LengthLimitError>() {
                OssError::invalid_argument(
                    "body",
                    "",
                    format!("The request body exceeds {MAX_XML_BODY} bytes."),
                )
            } else {
                OssError::new(
                    codes::INCOMPLETE_BODY,
                    "The request body could not be read.",
                )
            }
        })?
        .to_bytes();
    if let Some(md5) = expected {
        use md5::Digest;
        let actual: [u8; 16] = md5::Md5::digest(&bytes).into();
        if actual != md5 {
            return Err(OssError::new(
                codes::INVALID_DIGEST,
                "The Content-MD5 you specified did not match what we received.",
            ));
        }
    }
    Ok(bytes)
}

/// Whether the request asked for URL-encoded names in the listing.
pub(crate) fn url_encoding(parts: &Parts) -> Result<bool, OssError> {
    match parts.query.get("encoding-type") {
        None | Some("") => Ok(false),
        Some("url") => Ok(true),
        Some(other) => Err(OssError::invalid_argument(
            "encoding-type",
            other,
            "The encoding type must be url.",
        )),
    }
}

/// Encodes a name for a listing with `encoding-type=url`.
pub(crate) fn encode_name(s: &str, url: bool) -> String {
    if url {
        coffer_signature::uri_encode(s)
    } else {
        s.to_owned()
    }
}

/// Parses a numeric query parameter within `range`, with a default when absent.
pub(crate) fn number_param(
    parts: &Parts,
    name: &str,
    default: usize,
    range: std::ops::RangeInclusive<usize>,
) -> Result<usize, OssError> {
    match parts.query.get(name) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                OssError::invalid_argument(
                    name,
                    v,
                    format!(
                        "The {name} must be an integer between {} and {}.",
                        range.start(),
                        range.end()
                    ),
                )
            }),
    }
}
