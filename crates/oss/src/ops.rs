//! The operations: each endpoint's handler reads its inputs from the request, obtains a grant
//! ([`endpoint_grant`], [`grant`]: the RAM decision with the request's condition values), calls
//! `coffer_core` and renders the reply.

mod bucket;
mod list;
mod multipart;
mod object;
mod policy;

use bytes::Bytes;
use coffer_core::{Acl, BodyStream, RequestContext};
use coffer_http::RequestBody;
use coffer_iam::policy::Decision;
use coffer_iam::{Action, Conditions, Grant, PublicAccess, Resource, keys};
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

/// Runs the endpoint's handler.
pub(crate) async fn run(
    svc: &OssService,
    ctx: &RequestContext,
    parts: Parts,
    body: RequestBody,
) -> Result<Reply, OssError> {
    match parts.endpoint {
        Endpoint::ListBuckets => bucket::list_buckets(svc, ctx, &parts).await,
        Endpoint::PutBucket => bucket::put_bucket(svc, ctx, &parts, body).await,
        Endpoint::DeleteBucket => bucket::delete_bucket(svc, ctx, &parts).await,
        Endpoint::GetBucketInfo => bucket::bucket_info(svc, ctx, &parts).await,
        Endpoint::GetBucketLocation => bucket::bucket_location(svc, ctx, &parts).await,
        Endpoint::ListObjects => list::list_objects(svc, ctx, &parts, false).await,
        Endpoint::ListObjectsV2 => list::list_objects(svc, ctx, &parts, true).await,
        Endpoint::ListMultipartUploads => list::list_uploads(svc, ctx, &parts).await,
        Endpoint::DeleteMultipleObjects => object::delete_objects(svc, ctx, &parts, body).await,
        Endpoint::PutObject => object::put_object(svc, ctx, &parts, body).await,
        Endpoint::CopyObject => object::copy_object(svc, ctx, &parts).await,
        Endpoint::AppendObject => object::append_object(svc, ctx, &parts, body).await,
        Endpoint::GetObject => object::get_object(svc, ctx, &parts).await,
        Endpoint::HeadObject => object::head_object(svc, ctx, &parts).await,
        Endpoint::GetObjectMeta => object::object_meta(svc, ctx, &parts).await,
        Endpoint::DeleteObject => object::delete_object(svc, ctx, &parts).await,
        Endpoint::InitiateMultipartUpload => multipart::initiate(svc, ctx, &parts).await,
        Endpoint::UploadPart => multipart::upload_part(svc, ctx, &parts, body).await,
        Endpoint::UploadPartCopy => multipart::upload_part_copy(svc, ctx, &parts).await,
        Endpoint::CompleteMultipartUpload => multipart::complete(svc, ctx, &parts, body).await,
        Endpoint::AbortMultipartUpload => multipart::abort(svc, ctx, &parts).await,
        Endpoint::ListParts => multipart::list_parts(svc, ctx, &parts).await,
        Endpoint::PutBucketEncryption => bucket::put_encryption(svc, ctx, &parts, body).await,
        Endpoint::GetBucketEncryption => bucket::get_encryption(svc, ctx, &parts).await,
        Endpoint::DeleteBucketEncryption => bucket::delete_encryption(svc, ctx, &parts).await,
        Endpoint::PutBucketPolicy => policy::put_policy(svc, &parts, body).await,
        Endpoint::GetBucketPolicy => policy::get_policy(svc, &parts).await,
        Endpoint::DeleteBucketPolicy => policy::delete_policy(svc, &parts).await,
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

fn public_access(acl: Acl) -> PublicAccess {
    match acl {
        Acl::PublicRead => PublicAccess::Read,
        Acl::PublicReadWrite => PublicAccess::ReadWrite,
        Acl::Default | Acl::Private => PublicAccess::None,
    }
}

/// Request headers a write's policy conditions can test, as `oss:<header>` (spec §2.3).
const CONDITION_HEADERS: &[&str] = &[
    X_OSS_SERVER_SIDE_ENCRYPTION,
    X_OSS_SERVER_SIDE_ENCRYPTION_KEY_ID,
    X_OSS_OBJECT_ACL,
    X_OSS_FORBID_OVERWRITE,
];

/// The request's conditions plus the keys that belong to `action`: `oss:Prefix` and
/// `oss:Delimiter` for listings; the SSE, ACL and overwrite headers (`oss:x-oss-…`) and the
/// request's tags (`oss:RequestObjectTag/<k>`) for writes.
fn conditions_for(parts: &Parts, action: Action) -> Conditions {
    let mut c = parts.conditions.clone();
    match action {
        Action::ListObjects => {
            for (param, key) in [
                ("prefix", keys::OSS_PREFIX),
                ("delimiter", keys::OSS_DELIMITER),
            ] {
                if let Some(v) = parts.query.get(param) {
                    c.insert(key, v);
                }
            }
        }
        Action::PutObject => {
            for name in CONDITION_HEADERS {
                if let Some(v) = parts.headers.get(*name).and_then(|v| v.to_str().ok()) {
                    c.insert(&format!("oss:{name}"), v);
                }
            }
            for (k, v) in request_tags(parts) {
                c.insert(&format!("oss:RequestObjectTag/{k}"), v);
            }
        }
        _ => {}
    }
    c
}

/// The tags of `x-oss-tagging` (`k1=v1&k2=v2`, URL-encoded).
fn request_tags(parts: &Parts) -> Vec<(String, String)> {
    let Some(raw) = parts
        .headers
        .get(X_OSS_TAGGING)
        .and_then(|v| v.to_str().ok())
    else {
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

/// Authorizes `action` on the bucket and key for the request's principal, with the request's
/// condition values. When no policy allows, object reads and writes fall back to the object's
/// ACL, then the bucket's (spec §3.1 step 5), for any caller.
pub(crate) async fn grant(
    svc: &OssService,
    parts: &Parts,
    action: Action,
    bucket: Option<&BucketName>,
    key: Option<&ObjectKey>,
) -> Result<Grant, OssError> {
    let resource = match (bucket, key) {
        (Some(b), Some(k)) => Resource::Object {
            bucket: b.to_string(),
            key: k.to_string(),
        },
        (Some(b), None) => Resource::Bucket(b.to_string()),
        _ => Resource::Account,
    };
    let principal = &parts.principal;
    let conditions = conditions_for(parts, action);
    let data_action = action.is_object_read() || action.is_object_write();
    let public = match bucket {
        Some(b)
            if data_action
                && svc
                    .iam
                    .decide(principal, action.as_str(), &resource, &conditions)
                    == Decision::ImplicitDeny =>
        {
            let object_acl = match key {
                Some(k) => svc.store.object_acl(b, k).await?,
                None => None,
            };
            match object_acl {
                Some(acl) if acl != Acl::Default => public_access(acl),
                _ => svc
                    .store
                    .bucket_acl(b)
                    .await?
                    .map_or(PublicAccess::None, public_access),
            }
        }
        _ => PublicAccess::None,
    };
    Ok(svc
        .iam
        .authorize_with(principal, action, resource, public, &conditions)?)
}

/// The grant for the request's own endpoint and target.
///
/// Writes that set an object ACL (`x-oss-object-acl`) or tags (`x-oss-tagging`) also need
/// `oss:PutObjectAcl` / `oss:PutObjectTagging` on the object (spec §7).
pub(crate) async fn endpoint_grant(svc: &OssService, parts: &Parts) -> Result<Grant, OssError> {
    let action = parts.endpoint.action();
    let grant = grant(
        svc,
        parts,
        action,
        parts.target.bucket.as_ref(),
        parts.target.key.as_ref(),
    )
    .await?;
    let creates_object = matches!(
        parts.endpoint,
        Endpoint::PutObject
            | Endpoint::CopyObject
            | Endpoint::AppendObject
            | Endpoint::InitiateMultipartUpload
    );
    if creates_object {
        for (header, extra) in [
            (X_OSS_OBJECT_ACL, "oss:PutObjectAcl"),
            (X_OSS_TAGGING, "oss:PutObjectTagging"),
        ] {
            if parts.headers.contains_key(header) {
                let conditions = conditions_for(parts, action);
                let decision =
                    svc.iam
                        .decide(&parts.principal, extra, grant.resource(), &conditions);
                if decision != Decision::Allow {
                    return Err(coffer_iam::Error::AccessDenied {
                        action: extra,
                        resource: grant.resource().arn(svc.iam.account_id()),
                    }
                    .into());
                }
            }
        }
    }
    Ok(grant)
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
