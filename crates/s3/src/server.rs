//! The S3 dialect of the shared HTTP edge (`coffer_http`): addressing, authentication, the
//! request's grant from the access layer, and the S3 error document.

use std::future::Future;
use std::io;
use std::sync::Arc;

use bytes::Bytes;
use coffer_access::{Access, RequestFacts, Target};
use coffer_core::{RequestContext, Store};
use coffer_http::RequestBody;
use coffer_iam::{Iam, Principal};
use coffer_types::{BucketName, ObjectKey, RequestId};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, combinators::UnsyncBoxBody};
use percent_encoding::percent_decode_str;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tracing::info_span;

use crate::actions::{self, Op};
use crate::error::{S3Error, codes};
use crate::sigv4;
use crate::xml::Doc;

/// Settings of the S3 front-end.
#[derive(Debug, Clone)]
pub struct Config {
    /// The region SigV4 scopes must name (`us-east-1` unless configured).
    pub region: String,
    /// Base domains of virtual-hosted addressing (`bucket.<domain>`).
    pub base_domains: Vec<String>,
    /// Accept SSE-C keys on plain-HTTP requests (S3 refuses them).
    pub allow_sse_c_over_http: bool,
}

/// The store, the access layer and the settings.
pub struct S3Service {
    pub(crate) store: Arc<Store>,
    pub(crate) access: Arc<Access>,
    pub(crate) iam: Arc<Iam>,
    pub(crate) config: Config,
}

impl S3Service {
    /// A service over `store`, authenticating and authorizing through `access`.
    pub fn new(store: Arc<Store>, access: Arc<Access>, config: Config) -> Self {
        Self {
            store,
            iam: access.iam().clone(),
            access,
            config,
        }
    }
}

/// The response body: a buffer or a stream.
pub(crate) type Body = UnsyncBoxBody<Bytes, io::Error>;

pub(crate) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A response under construction.
pub(crate) struct Reply {
    pub(crate) status: StatusCode,
    pub(crate) headers: Vec<(HeaderName, HeaderValue)>,
    pub(crate) body: Body,
}

impl Reply {
    pub(crate) fn new(status: StatusCode) -> Self {
        Self {
            status,
            headers: Vec::new(),
            body: full(Bytes::new()),
        }
    }

    pub(crate) fn xml(doc: String) -> Self {
        let mut r = Self::new(StatusCode::OK);
        r.header("content-type", "application/xml");
        r.body = full(doc);
        r
    }

    /// Adds a header; a value that is not a valid header value is dropped (values come from
    /// stored, already validated metadata).
    pub(crate) fn header(&mut self, name: &str, value: impl AsRef<str>) -> &mut Self {
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name),
            HeaderValue::try_from(value.as_ref()),
        ) {
            self.headers.push((n, v));
        }
        self
    }
}

/// What a request resolved to, for handlers.
pub(crate) struct Parts {
    pub(crate) headers: HeaderMap,
    pub(crate) query: Vec<(String, String)>,
    pub(crate) bucket: Option<BucketName>,
    pub(crate) key: Option<ObjectKey>,
    pub(crate) op: Op,
    /// The verified `x-amz-content-sha256` (a hex digest, or an unsigned form).
    pub(crate) payload_hash: String,
    /// For a `STREAMING-AWS4-HMAC-SHA256-PAYLOAD[-TRAILER]` body: what checks its chunks.
    pub(crate) chunk_signer: std::sync::Mutex<Option<sigv4::ChunkSigner>>,
}

impl Parts {
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Serves S3 requests on `listener` behind `edge` until `shutdown` resolves.
pub async fn serve(
    edge: coffer_http::Edge,
    listener: TcpListener,
    service: Arc<S3Service>,
    shutdown: impl Future<Output = ()>,
) -> io::Result<()> {
    edge.serve(listener, Arc::new(S3 { svc: service }), shutdown)
        .await
}

struct S3 {
    svc: Arc<S3Service>,
}

type Exchange = coffer_http::Exchange<RequestId>;

impl coffer_http::Dialect for S3 {
    type Reply = Reply;
    type Error = S3Error;
    type RequestId = RequestId;
    type Body = Body;
    const API: &'static str = "S3";

    fn request_id(&self) -> RequestId {
        RequestId::random()
    }

    fn span(&self, req: &Request<RequestBody>, ex: &Exchange) -> tracing::Span {
        info_span!(
            "request",
            api = "S3",
            request_id = %ex.request_id,
            method = %req.method(),
            op = tracing::field::Empty,
            bucket = tracing::field::Empty,
            key = tracing::field::Empty,
            access_key_id = tracing::field::Empty,
        )
    }

    async fn dispatch(&self, req: Request<RequestBody>, ex: &Exchange) -> Result<Reply, S3Error> {
        let ctx = RequestContext {
            request_id: ex.request_id.clone(),
            source: Some(ex.peer),
            secure: ex.secure,
            customer_keys: Default::default(),
        };
        let key_md5 = req
            .headers()
            .get("x-amz-server-side-encryption-customer-key-md5")
            .cloned();
        let mut reply = dispatch(&self.svc, &ctx, req, ex).await?;
        crate::ops::sse_c::echo_key_md5(&mut reply, key_md5.as_ref());
        Ok(reply)
    }

    fn internal_error(&self, what: &str) -> S3Error {
        S3Error::internal(what.to_owned())
    }

    fn failure<'a>(&self, err: &'a S3Error) -> coffer_http::Failure<'a> {
        coffer_http::Failure {
            status: err.code.status,
            code: err.code.code.into(),
            cause: err.cause.as_deref().map(|c| c as &dyn std::fmt::Debug),
        }
    }

    fn respond(&self, outcome: Result<Reply, S3Error>, ex: &Exchange) -> Response<Body> {
        let mut reply = match outcome {
            Ok(reply) => reply,
            Err(err) => error_reply(&err, ex),
        };
        reply
            .header("x-amz-request-id", ex.request_id.as_str())
            .header("x-amz-id-2", ex.request_id.as_str())
            .header(
                "date",
                coffer_signature::format_rfc1123(OffsetDateTime::now_utc()),
            )
            .header("server", "coffer");
        let mut response = Response::new(reply.body);
        *response.status_mut() = reply.status;
        for (name, value) in reply.headers {
            response.headers_mut().append(name, value);
        }
        response
    }
}

/// The S3 error document (Amazon S3 API reference, "Error responses"); a HEAD answers the
/// status alone.
fn error_reply(err: &S3Error, ex: &Exchange) -> Reply {
    let mut reply = Reply::new(err.code.status);
    if ex.method == Method::HEAD || err.code.status == StatusCode::NOT_MODIFIED {
        return reply;
    }
    let mut doc = Doc::bare("Error");
    doc.text("Code", err.code.code)
        .text("Message", &err.message);
    if let Some((element, value)) = &err.resource {
        doc.text(element, value);
    }
    doc.text("RequestId", ex.request_id.as_str())
        .text("HostId", ex.request_id.as_str());
    reply.header("content-type", "application/xml");
    reply.body = full(doc.finish("Error"));
    reply
}

/// Decodes a query string into pairs (`+` is a literal plus in SigV4 clients' encoding).
fn parse_query(raw: &str) -> Vec<(String, String)> {
    raw.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            let dec = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
            (dec(k), dec(v))
        })
        .collect()
}

/// Bucket and key from `Host` and path: `bucket.<base domain>` is virtual-hosted, else the first
/// path segment is the bucket.
fn resolve_target(
    host: &str,
    raw_path: &str,
    domains: &[String],
) -> Result<(Option<BucketName>, Option<ObjectKey>), S3Error> {
    let host = host.rsplit_once(':').map_or(host, |(h, port)| {
        if port.chars().all(|c| c.is_ascii_digit()) {
            h
        } else {
            host
        }
    });
    let host = host.to_ascii_lowercase();
    let path = percent_decode_str(raw_path)
        .decode_utf8()
        .map_err(|_| S3Error::invalid_argument("The request path is not valid UTF-8."))?;
    let path = path.strip_prefix('/').unwrap_or(&path);
    let virtual_bucket = domains.iter().find_map(|d| {
        host.strip_suffix(d.as_str())
            .and_then(|b| b.strip_suffix('.'))
            .filter(|b| !b.is_empty())
    });
    let (bucket, key) = match virtual_bucket {
        Some(b) => (b.to_owned(), path.to_owned()),
        None => match path.split_once('/') {
            Some((b, k)) => (b.to_owned(), k.to_owned()),
            None => (path.to_owned(), String::new()),
        },
    };
    if bucket.is_empty() {
        return Ok((None, None));
    }
    let bucket = BucketName::parse(&bucket).map_err(|e| {
        S3Error::new(codes::INVALID_BUCKET_NAME, e.to_string()).naming("BucketName", &bucket)
    })?;
    let key = if key.is_empty() {
        None
    } else {
        Some(
            ObjectKey::parse(&key)
                .map_err(|e| S3Error::invalid_argument(e.to_string()).naming("Key", &key))?,
        )
    };
    Ok((Some(bucket), key))
}

async fn dispatch(
    svc: &S3Service,
    ctx: &RequestContext,
    req: Request<RequestBody>,
    ex: &Exchange,
) -> Result<Reply, S3Error> {
    let (head, body) = req.into_parts();
    let raw_query = head.uri.query().unwrap_or("");
    let query = parse_query(raw_query);
    let host = head
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| head.uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    let (bucket, key) = resolve_target(host, head.uri.path(), &svc.config.base_domains)?;
    let op = actions::route(
        &head.method,
        bucket.is_some(),
        key.is_some(),
        &query,
        head.headers.contains_key("x-amz-copy-source"),
    );
    ex.set_op(op.name());
    let span = tracing::Span::current();
    if let Some(b) = &bucket {
        span.record("bucket", b.as_str());
    }
    if let Some(k) = &key {
        span.record("key", k.as_str());
    }
    let now = OffsetDateTime::now_utc();
    let (principal, payload_hash, chunk_signer) = authenticate(svc, &head, &query, now)?;
    if let Some(ak) = principal.access_key_id() {
        span.record("access_key_id", ak);
    }
    let Some(action) = op.action() else {
        return Err(S3Error::not_implemented(op.name()));
    };
    // A write that creates an object with tags also needs oss:PutObjectTagging, and its tags
    // are what `oss:RequestObjectTag/<key>` tests (a CopyObject only under REPLACE).
    let sets_object_tags = match op {
        Op::PutObject | Op::CreateMultipartUpload => head
            .headers
            .contains_key(crate::ops::tagging::X_AMZ_TAGGING),
        Op::CopyObject => {
            head.headers
                .get(crate::ops::tagging::X_AMZ_TAGGING_DIRECTIVE)
                .is_some_and(|d| d == "REPLACE")
                && head
                    .headers
                    .contains_key(crate::ops::tagging::X_AMZ_TAGGING)
        }
        _ => false,
    };
    let object_tags = if sets_object_tags {
        crate::ops::tagging::request_tags(&head.headers)?
    } else {
        Vec::new()
    };
    let facts = RequestFacts {
        source_ip: ctx.source.map(|p| p.ip()),
        secure_transport: ctx.secure,
        received: now,
        user_agent: head
            .headers
            .get(http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        list_prefix: query
            .iter()
            .find(|(k, _)| k == "prefix")
            .map(|(_, v)| v.clone()),
        list_delimiter: query
            .iter()
            .find(|(k, _)| k == "delimiter")
            .map(|(_, v)| v.clone()),
        write_headers: Vec::new(),
        object_tags,
        sets_object_acl: false,
        sets_object_tags,
    };
    let customer_keys = crate::ops::sse_c::customer_keys(
        &head.headers,
        ctx.secure || svc.config.allow_sse_c_over_http,
    )?;
    let ctx = &RequestContext {
        customer_keys,
        ..ctx.clone()
    };
    let parts = Parts {
        headers: head.headers,
        query,
        bucket,
        key,
        op,
        payload_hash,
        chunk_signer: std::sync::Mutex::new(chunk_signer),
    };
    if op == Op::DeleteObjects {
        return crate::ops::delete_objects(svc, ctx, &parts, &principal, &facts, body).await;
    }
    let target = Target {
        bucket: parts.bucket.as_ref(),
        key: parts.key.as_ref(),
    };
    let grant = svc
        .access
        .authorize(&principal, action, target, &facts)
        .await?;
    if op == Op::CopyObject {
        return crate::ops::copy_object(svc, ctx, &parts, &grant, &principal, &facts).await;
    }
    if op == Op::UploadPartCopy {
        return crate::ops::multipart::upload_part_copy(
            svc, ctx, &parts, &grant, &principal, &facts,
        )
        .await;
    }
    crate::ops::run(svc, ctx, &parts, &grant, body).await
}

/// Verifies the request's SigV4 signature, if any; returns the principal and the payload form.
fn authenticate(
    svc: &S3Service,
    head: &http::request::Parts,
    query: &[(String, String)],
    now: OffsetDateTime,
) -> Result<(Principal, String, Option<sigv4::ChunkSigner>), S3Error> {
    let mut headers = Vec::with_capacity(head.headers.len());
    for (name, value) in &head.headers {
        let value = value
            .to_str()
            .map_err(|_| S3Error::invalid_argument("Header values must be text."))?;
        headers.push((name.as_str().to_owned(), value.to_owned()));
    }
    let req = sigv4::Request {
        method: head.method.as_str(),
        raw_path: head.uri.path(),
        query,
        headers: &headers,
    };
    let Some(presented) = sigv4::detect(&req).map_err(signature_error)? else {
        return Ok((Principal::Anonymous, "UNSIGNED-PAYLOAD".into(), None));
    };
    let (principal, secret) = svc.iam.credentials(
        &presented.access_key_id,
        presented.security_token.as_deref(),
        now,
    )?;
    let key = sigv4::verify(
        &req,
        &presented,
        secret.expose_secret(),
        now,
        &svc.config.region,
    )
    .map_err(signature_error)?;
    let signer = matches!(
        presented.payload_hash.as_str(),
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD" | "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
    )
    .then(|| presented.chunk_signer(key));
    Ok((principal, presented.payload_hash, signer))
}

fn signature_error(e: sigv4::Error) -> S3Error {
    use sigv4::Error as E;
    match e {
        E::Malformed(m) => S3Error::new(codes::AUTHORIZATION_HEADER_MALFORMED, m),
        E::WrongRegion { expected } => S3Error::new(
            codes::AUTHORIZATION_HEADER_MALFORMED,
            format!(
                "The authorization header is malformed; the region is wrong; expecting '{expected}'."
            ),
        ),
        E::UnsupportedAlgorithm => S3Error::new(
            codes::INVALID_REQUEST,
            "Only AWS4-HMAC-SHA256 (Signature Version 4) is supported.",
        ),
        E::Mismatch { .. } => S3Error::new(
            codes::SIGNATURE_DOES_NOT_MATCH,
            "The request signature we calculated does not match the signature you provided. \
             Check your key and signing method.",
        ),
        E::Skewed => S3Error::new(
            codes::REQUEST_TIME_TOO_SKEWED,
            "The difference between the request time and the current time is too large.",
        ),
        E::Expired => S3Error::new(codes::ACCESS_DENIED, "Request has expired"),
        E::BadExpiry => S3Error::new(
            codes::AUTHORIZATION_QUERY_PARAMETERS_ERROR,
            "X-Amz-Expires must be between 1 and 604800 seconds.",
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_style_and_virtual_hosted_name_the_same_object() {
        let domains = vec!["localhost".to_owned(), "s3.example".to_owned()];
        let (b, k) = resolve_target("127.0.0.1:9004", "/bkt/a/b%20c", &domains).unwrap();
        assert_eq!((b.unwrap().as_str(), k.unwrap().as_str()), ("bkt", "a/b c"));
        let (b, k) = resolve_target("bkt.s3.example:9004", "/a/b%20c", &domains).unwrap();
        assert_eq!((b.unwrap().as_str(), k.unwrap().as_str()), ("bkt", "a/b c"));
        let (b, k) = resolve_target("localhost", "/", &domains).unwrap();
        assert!(b.is_none() && k.is_none());
        let e = resolve_target("localhost", "/A_B", &domains).unwrap_err();
        assert_eq!(e.code, codes::INVALID_BUCKET_NAME);
    }
}
