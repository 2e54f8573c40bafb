//! The OSS dialect of the shared HTTP edge (`coffer_http`): its span fields, health and metrics
//! endpoints, `InternalError` for panics, and the request pipeline.

use std::future::Future;
use std::sync::Arc;

use coffer_access::Access;
use coffer_core::{RequestContext, Store};
use coffer_http::RequestBody;
use coffer_iam::Iam;
use coffer_types::RequestId;
use http::{HeaderMap, Method, Request, Response, StatusCode};
use time::OffsetDateTime;
use tokio::net::TcpListener;
use tracing::info_span;

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
    /// Where clients reach this server (`host[:port]`), advertised as every bucket's extranet and
    /// intranet endpoint: a client that follows a bucket's endpoints must come back here, not go
    /// to Alibaba Cloud with signed requests.
    pub public_endpoint: String,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            region: "cn-hangzhou".into(),
            hosts: HostConfig::default(),
            public_endpoint: "127.0.0.1:9000".into(),
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
    /// Further metrics the server appends to `/metrics` (backends, duties), in the Prometheus
    /// text format.
    more_metrics: Option<MetricsSource>,
}

/// Renders metrics of other layers for `/metrics`, in the Prometheus text format.
pub type MetricsSource = Arc<dyn Fn() -> String + Send + Sync>;

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
            more_metrics: None,
        }
    }

    /// Appends what `source` renders to `/metrics`.
    #[must_use]
    pub fn with_metrics(mut self, source: MetricsSource) -> Self {
        self.more_metrics = Some(source);
        self
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

/// Serves OSS requests on `listener` behind `edge` until `shutdown` resolves, then waits for
/// the requests in flight to finish.
pub async fn serve(
    edge: coffer_http::Edge,
    listener: TcpListener,
    service: Arc<OssService>,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let dialect = Arc::new(Oss {
        svc: service,
        edge: edge.clone(),
    });
    edge.serve(listener, dialect, shutdown).await
}

/// The OSS dialect of the shared request envelope.
struct Oss {
    svc: Arc<OssService>,
    edge: coffer_http::Edge,
}

type Exchange = coffer_http::Exchange<RequestId>;

fn is_unauthenticated(req: &Request<RequestBody>) -> bool {
    !req.headers().contains_key(http::header::AUTHORIZATION) && req.uri().query().is_none()
}

impl coffer_http::Dialect for Oss {
    type Reply = Reply;
    type Error = OssError;
    type RequestId = RequestId;
    type Body = Body;
    const API: &'static str = "OSS";

    fn request_id(&self) -> RequestId {
        RequestId::random()
    }

    fn span(&self, req: &Request<RequestBody>, ex: &Exchange) -> tracing::Span {
        info_span!(
            "request",
            request_id = %ex.request_id,
            method = %req.method(),
            op = tracing::field::Empty,
            bucket = tracing::field::Empty,
            key = tracing::field::Empty,
            access_key_id = tracing::field::Empty,
        )
    }

    // Probes and metrics answer only unauthenticated requests without a query, so a signed
    // request to a bucket named `health` or `metrics` still reaches it.
    fn probe<'a>(&'a self, req: &Request<RequestBody>) -> Option<coffer_http::Probe<'a, Body>> {
        if req.method() != Method::GET || !is_unauthenticated(req) {
            return None;
        }
        match req.uri().path() {
            "/health/live" => Some(Box::pin(async { plain(StatusCode::OK, "ok\n") })),
            "/health/ready" => Some(Box::pin(async {
                match self.svc.store.readiness().await {
                    Ok(()) => plain(StatusCode::OK, "ready\n"),
                    Err(reason) => plain(
                        StatusCode::SERVICE_UNAVAILABLE,
                        format!("not ready: {reason}\n"),
                    ),
                }
            })),
            "/metrics" => Some(Box::pin(async {
                let mut text = self.svc.metrics.render();
                text.push_str(&self.edge.stats().render());
                if let Some(more) = &self.svc.more_metrics {
                    text.push_str(&more());
                }
                plain(StatusCode::OK, text)
            })),
            _ => None,
        }
    }

    async fn dispatch(&self, req: Request<RequestBody>, ex: &Exchange) -> Result<Reply, OssError> {
        let ctx = RequestContext {
            request_id: ex.request_id.clone(),
            source: Some(ex.peer),
            secure: ex.secure,
            customer_keys: Default::default(),
        };
        dispatch(&self.svc, &ctx, req, ex).await
    }

    fn internal_error(&self, what: &str) -> OssError {
        OssError::internal(what.to_owned())
    }

    fn failure<'a>(&self, err: &'a OssError) -> coffer_http::Failure<'a> {
        coffer_http::Failure {
            status: err.code.status,
            code: err.code.code.into(),
            cause: err.cause.as_deref().map(|c| c as &dyn std::fmt::Debug),
        }
    }

    fn respond(&self, outcome: Result<Reply, OssError>, ex: &Exchange) -> Response<Body> {
        let is_head = ex.method == Method::HEAD;
        let (reply, error_code) = match outcome {
            Ok(reply) => (reply, None),
            Err(err) => (
                error_reply(&err, ex.request_id.as_str(), &ex.host, is_head),
                Some(err.code.code),
            ),
        };
        let elapsed = ex.elapsed();
        self.svc
            .metrics
            .observe(ex.op(), error_code, elapsed.as_secs_f64());
        finish(reply, &ex.request_id, elapsed.as_millis())
    }
}

fn plain(status: StatusCode, text: impl Into<String>) -> Response<Body> {
    let mut r = Reply::new(status);
    r.header("content-type", "text/plain; version=0.0.4");
    r.body = full(text.into());
    r.into_response()
}

fn finish(mut reply: Reply, request_id: &RequestId, elapsed_ms: u128) -> Response<Body> {
    reply
        .header(X_OSS_REQUEST_ID, request_id.as_str())
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
    req: Request<RequestBody>,
    ex: &Exchange,
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
    // A browser's preflight is never signed: it is answered from the bucket's CORS rules.
    if head.method == Method::OPTIONS {
        ex.set_op("Options");
        drain(body).await;
        return crate::ops::cors::preflight(svc, &target, &head.headers).await;
    }
    let cors =
        crate::ops::cors::actual_request_headers(svc, &head.method, &target, &head.headers).await;
    let outcome = dispatch_to(svc, ctx, head, body, query, target, ex).await;
    match outcome {
        Ok(mut reply) => {
            for (name, value) in cors {
                reply.header(name, value);
            }
            Ok(reply)
        }
        Err(mut err) => {
            err.headers.extend(cors);
            Err(err)
        }
    }
}

/// Routes, authenticates and runs a request whose target is resolved.
async fn dispatch_to(
    svc: &OssService,
    ctx: &RequestContext,
    head: http::request::Parts,
    body: RequestBody,
    query: Query,
    target: router::Target,
    ex: &Exchange,
) -> Result<Reply, OssError> {
    let has_copy_source = head.headers.contains_key(X_OSS_COPY_SOURCE);
    let endpoint = router::route(&head.method, &target, &query, has_copy_source)?;
    ex.set_op(endpoint.name());
    let span = tracing::Span::current();
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
pub(crate) async fn drain(body: RequestBody) {
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
        // Signed as the client sent them: UTF-8 bytes (a raw `x-oss-meta-*` value) included.
        let value = crate::request::text(value).ok_or_else(|| {
            OssError::invalid_argument(name.as_str(), "", "Header values must be UTF-8.")
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
