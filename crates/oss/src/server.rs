//! The HTTP server: accepting connections, one span and one log line per request, health and
//! metrics endpoints, panics turned into `InternalError`, graceful shutdown.

use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Instant;

use coffer_access::Access;
use coffer_core::{RequestContext, Store};
use coffer_iam::Iam;
use coffer_types::RequestId;
use futures::FutureExt;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use hyper::body::Incoming;
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tracing::{Instrument, error, info, info_span};

use crate::error::{OssError, codes};
use crate::headers::*;
use crate::metrics::Metrics;
use crate::response::{Body, Reply, error_reply, full};
use crate::router::{self, Endpoint, HostConfig, Query};

/// Settings of the OSS front-end.
#[derive(Debug, Clone)]
pub struct Config {
    /// The region served (V4 credential scopes must name it), e.g. `cn-hangzhou`.
    pub region: String,
    /// How virtual-hosted requests are recognised.
    pub hosts: HostConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            region: "cn-hangzhou".into(),
            hosts: HostConfig::default(),
        }
    }
}

/// Everything a request needs: the store, the access layer (and its identities) and the
/// front-end's settings.
pub struct OssService {
    pub(crate) store: Arc<Store>,
    pub(crate) access: Arc<Access>,
    pub(crate) iam: Arc<Iam>,
    pub(crate) config: Config,
    pub(crate) metrics: Metrics,
}

impl OssService {
    /// A service over `store`, authenticating against the access layer's identities and
    /// authorizing through it.
    pub fn new(store: Arc<Store>, access: Arc<Access>, config: Config) -> Self {
        Self {
            store,
            iam: access.iam().clone(),
            access,
            config,
            metrics: Metrics::new(),
        }
    }
}

/// What a request resolved to, for handlers.
pub(crate) struct Parts {
    pub(crate) headers: HeaderMap,
    pub(crate) query: Query,
    pub(crate) target: router::Target,
    pub(crate) endpoint: Endpoint,
    pub(crate) principal: coffer_iam::Principal,
    /// What the access layer may test: source address, time, user agent, listing parameters,
    /// write headers and tags.
    pub(crate) facts: coffer_access::RequestFacts,
}

/// Serves OSS requests on `listener` until `shutdown` resolves, then waits for the requests in
/// flight to finish.
pub async fn serve(
    listener: TcpListener,
    service: Arc<OssService>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    coffer_http::serve(
        listener,
        "OSS",
        move |req, peer| handle(service.clone(), req, peer),
        shutdown,
    )
    .await
}

fn is_unauthenticated(req: &Request<Incoming>) -> bool {
    !req.headers().contains_key(http::header::AUTHORIZATION) && req.uri().query().is_none()
}

async fn handle(svc: Arc<OssService>, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
    // Probes and metrics answer only unauthenticated requests without a query, so a signed
    // request to a bucket named `health` or `metrics` still reaches it.
    if req.method() == Method::GET && is_unauthenticated(&req) {
        match req.uri().path() {
            "/health/live" => return plain(StatusCode::OK, "ok\n"),
            "/health/ready" => {
                return if svc.store.is_ready().await {
                    plain(StatusCode::OK, "ready\n")
                } else {
                    plain(StatusCode::SERVICE_UNAVAILABLE, "not ready\n")
                };
            }
            "/metrics" => return plain(StatusCode::OK, svc.metrics.render()),
            _ => {}
        }
    }
    let started = Instant::now();
    let ctx = RequestContext {
        request_id: RequestId::random(),
        source: Some(peer),
        secure: false,
    };
    let host = req
        .headers()
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let is_head = req.method() == Method::HEAD;
    let span = info_span!(
        "request",
        request_id = %ctx.request_id,
        method = %req.method(),
        op = tracing::field::Empty,
        bucket = tracing::field::Empty,
        key = tracing::field::Empty,
        access_key_id = tracing::field::Empty,
    );
    let mut op: &'static str = "Unknown";
    let outcome = AssertUnwindSafe(dispatch(&svc, &ctx, req, &mut op).instrument(span.clone()))
        .catch_unwind()
        .await;
    let (reply, error_code) = match outcome {
        Ok(Ok(reply)) => (reply, None),
        Ok(Err(err)) => {
            let code = err.code;
            if code.status.is_server_error() {
                let _enter = span.enter();
                error!(code = code.code, cause = ?err.cause, "request failed");
            }
            (
                error_reply(&err, ctx.request_id.as_str(), &host, is_head),
                Some(code.code),
            )
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_default();
            let _enter = span.enter();
            error!(panic = %what, "handler panicked");
            let err = OssError::internal("handler panicked");
            (
                error_reply(&err, ctx.request_id.as_str(), &host, is_head),
                Some(err.code.code),
            )
        }
    };
    let elapsed = started.elapsed();
    svc.metrics.observe(op, error_code, elapsed.as_secs_f64());
    {
        let _enter = span.enter();
        info!(
            status = reply.status.as_u16(),
            code = error_code.unwrap_or(""),
            ms = elapsed.as_secs_f64() * 1000.0,
            "request"
        );
    }
    finish(reply, &ctx, elapsed.as_millis())
}

fn plain(status: StatusCode, text: impl Into<String>) -> Response<Body> {
    let mut r = Reply::new(status);
    r.header("content-type", "text/plain; version=0.0.4");
    r.body = full(text.into());
    r.into_response()
}

fn finish(mut reply: Reply, ctx: &RequestContext, elapsed_ms: u128) -> Response<Body> {
    reply
        .header(X_OSS_REQUEST_ID, ctx.request_id.as_str())
        .header(
            "date",
            coffer_signature::format_rfc1123(OffsetDateTime::now_utc()),
        )
        .header("server", "AliyunOSS")
        .header(X_OSS_SERVER_TIME, elapsed_ms.to_string());
    reply.into_response()
}

async fn dispatch(
    svc: &OssService,
    ctx: &RequestContext,
    req: Request<Incoming>,
    op: &mut &'static str,
) -> Result<Reply, OssError> {
    let (head, body) = req.into_parts();
    let raw_query = head.uri.query().unwrap_or("");
    let query = Query::parse(raw_query)?;
    let host = head
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
        .or_else(|| head.uri.authority().map(|a| a.as_str()))
        .unwrap_or("");
    let target = router::resolve_target(host, head.uri.path(), &svc.config.hosts)?;
    let has_copy_source = head.headers.contains_key(X_OSS_COPY_SOURCE);
    let endpoint = router::route(&head.method, &target, &query, has_copy_source)?;
    *op = endpoint.name();
    let span = tracing::Span::current();
    span.record("op", endpoint.name());
    if let Some(b) = &target.bucket {
        span.record("bucket", b.as_str());
    }
    if let Some(k) = &target.key {
        span.record("key", k.as_str());
    }
    let now = OffsetDateTime::now_utc();
    let principal = match authenticate(svc, &head.method, &head.headers, &query, &target, now) {
        Ok(p) => p,
        Err(e) => {
            drain(body).await;
            return Err(e);
        }
    };
    if let Some(len) = head
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        svc.metrics.bytes(endpoint.name(), "in", len);
    }
    if let Some(ak) = principal.access_key_id() {
        span.record("access_key_id", ak);
    }
    let facts = crate::ops::request_facts(ctx, &head.headers, &query, endpoint, now);
    let parts = Parts {
        headers: head.headers,
        query,
        target,
        endpoint,
        principal,
        facts,
    };
    // Authorizes once, before the body is touched, and hands the grant to the handler.
    crate::ops::run(svc, ctx, parts, body).await
}

/// Most request-body bytes read and discarded before answering an error: enough for any
/// client's next write to find the connection open, bounded so a refused 5 GB upload does not
/// cost 5 GB of reading.
pub(crate) const DRAIN_LIMIT: usize = 8 * 1024 * 1024;

/// Reads and discards a refused request's body (up to [`DRAIN_LIMIT`]), so that the error
/// response reaches a client that is still sending instead of a connection reset.
pub(crate) async fn drain(body: Incoming) {
    use http_body_util::BodyExt;
    let mut body = body;
    let mut seen = 0usize;
    while seen < DRAIN_LIMIT {
        match body.frame().await {
            Some(Ok(frame)) => seen += frame.data_ref().map_or(0, |d| d.len()),
            _ => break,
        }
    }
}

fn authenticate(
    svc: &OssService,
    method: &Method,
    headers: &HeaderMap,
    query: &Query,
    target: &router::Target,
    now: OffsetDateTime,
) -> Result<coffer_iam::Principal, OssError> {
    let mut header_list = Vec::with_capacity(headers.len());
    for (name, value) in headers {
        let value = value.to_str().map_err(|_| {
            OssError::invalid_argument(name.as_str(), "", "Header values must be text.")
        })?;
        header_list.push((name.as_str().to_owned(), value.to_owned()));
    }
    let signed = coffer_signature::SignedRequest {
        method: method.as_str(),
        bucket: target.bucket.as_ref().map(|b| b.as_str()),
        key: target.key.as_ref().map(|k| k.as_str()),
        query: &query.0,
        headers: &header_list,
    };
    crate::auth::authenticate(&svc.iam, &signed, now, &svc.config.region)
}

/// Turns a status-only condition into the error that carries it (used by handlers).
pub(crate) fn method_not_allowed() -> OssError {
    OssError::new(
        codes::METHOD_NOT_ALLOWED,
        "The specified method is not allowed against this resource.",
    )
}
