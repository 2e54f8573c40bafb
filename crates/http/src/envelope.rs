//! The request envelope every front-end shares: a request id, a tracing span, panics turned into
//! the dialect's internal error, and one log line per request. A front-end supplies only its
//! dialect ([`Dialect`]): how a request is dispatched, how its errors are rendered and which
//! fields its span (and so its log line) carries.

use std::borrow::Cow;
use std::future::Future;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::FutureExt;
use http::{Method, Request, Response, StatusCode};
use tracing::{Instrument, Span, error, info};

use crate::RequestBody;

/// The facts of one request the envelope knows before the dialect sees it.
#[derive(Debug)]
pub struct Exchange<Id> {
    /// The dialect's request id (see [`Dialect::request_id`]).
    pub request_id: Id,
    /// The client's address.
    pub peer: SocketAddr,
    /// Whether the request came over TLS (`acs:SecureTransport`).
    pub secure: bool,
    /// The `Host` header, empty when absent or not text.
    pub host: String,
    /// The request method.
    pub method: Method,
    started: Instant,
    op: OnceLock<&'static str>,
}

impl<Id> Exchange<Id> {
    /// Names the operation, for the span (field `op`) and for [`Exchange::op`]. The first name
    /// given wins.
    pub fn set_op(&self, op: &'static str) {
        if self.op.set(op).is_ok() {
            Span::current().record("op", op);
        }
    }

    /// The operation named by [`Exchange::set_op`], or `Unknown`.
    pub fn op(&self) -> &'static str {
        self.op.get().copied().unwrap_or("Unknown")
    }

    /// Time since the request's head was read.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }
}

/// What the envelope logs of a failed request.
#[derive(Debug)]
pub struct Failure<'a> {
    /// The HTTP status the error answers with; server errors (but 501) are logged with their
    /// cause.
    pub status: StatusCode,
    /// The dialect's error code.
    pub code: Cow<'a, str>,
    /// The internal cause, for the log only.
    pub cause: Option<&'a dyn std::fmt::Debug>,
}

/// A response produced outside the envelope (a health probe): no request id, no log line.
pub type Probe<'a, B> = Pin<Box<dyn Future<Output = Response<B>> + Send + 'a>>;

/// One front-end's dialect of HTTP.
pub trait Dialect: Send + Sync + 'static {
    /// What a successful dispatch returns, before [`Dialect::respond`] renders it.
    type Reply: Send;
    /// The dialect's error.
    type Error: Send;
    /// The dialect's request id.
    type RequestId: Send + Sync;
    /// The response body.
    type Body: http_body::Body<Data = Bytes, Error: Into<Box<dyn std::error::Error + Send + Sync>>>
        + Send
        + Unpin
        + 'static;

    /// Names the API in log lines (`OSS`, `KMS`, `admin`).
    const API: &'static str;

    /// A fresh request id, shaped as the dialect's clients expect.
    fn request_id(&self) -> Self::RequestId;

    /// The request's span; it must declare an empty `op` field. Its fields are the log line's.
    fn span(&self, req: &Request<RequestBody>, ex: &Exchange<Self::RequestId>) -> Span;

    /// Answers requests that bypass the envelope (probes, metrics), if `req` is one.
    fn probe<'a>(&'a self, req: &Request<RequestBody>) -> Option<Probe<'a, Self::Body>> {
        let _ = req;
        None
    }

    /// Runs the request.
    fn dispatch<'a>(
        &'a self,
        req: Request<RequestBody>,
        ex: &'a Exchange<Self::RequestId>,
    ) -> impl Future<Output = Result<Self::Reply, Self::Error>> + Send + 'a;

    /// The error answering a panicked handler.
    fn internal_error(&self, what: &str) -> Self::Error;

    /// How `err` is logged.
    fn failure<'a>(&self, err: &'a Self::Error) -> Failure<'a>;

    /// Renders the outcome (and records the dialect's own metrics).
    fn respond(
        &self,
        outcome: Result<Self::Reply, Self::Error>,
        ex: &Exchange<Self::RequestId>,
    ) -> Response<Self::Body>;
}

/// A request announcing `Expect: 100-continue` with an empty body: hyper has no body to wait
/// for, so no `100 Continue` precedes the answer. Some clients take that as "the body was
/// refused" and keep that state on the connection: the aws cli's bundled botocore parses the next
/// response on it with the previous status line, so it reads headers from a status line and then
/// waits for a body until its read timeout. Such a request's connection is closed after the
/// answer, which resets the client's state at the cost of one reconnection.
fn expects_continue_without_body(headers: &http::HeaderMap) -> bool {
    let expects = headers
        .get(http::header::EXPECT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
    let empty = headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() == "0");
    expects && empty
}

/// Runs one request through the envelope.
pub(crate) async fn run<D: Dialect>(
    dialect: &D,
    req: Request<RequestBody>,
    peer: SocketAddr,
    secure: bool,
) -> Response<D::Body> {
    if let Some(probe) = dialect.probe(&req) {
        return probe.await;
    }
    let ex = Exchange {
        request_id: dialect.request_id(),
        peer,
        secure,
        host: req
            .headers()
            .get(http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_owned(),
        method: req.method().clone(),
        started: Instant::now(),
        op: OnceLock::new(),
    };
    let close_after =
        req.version() <= http::Version::HTTP_11 && expects_continue_without_body(req.headers());
    let span = dialect.span(&req, &ex);
    let outcome = AssertUnwindSafe(dialect.dispatch(req, &ex).instrument(span.clone()))
        .catch_unwind()
        .await;
    let _enter = span.enter();
    let outcome = outcome.unwrap_or_else(|panic| {
        let what = panic
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| panic.downcast_ref::<String>().cloned())
            .unwrap_or_default();
        error!(panic = %what, "handler panicked");
        Err(dialect.internal_error("handler panicked"))
    });
    let code = outcome.as_ref().err().map(|err| {
        let failure = dialect.failure(err);
        // A 501 answers what the client asked for (an operation this server does not serve), not
        // a fault of the server: the request line below records it, at INFO.
        if failure.status.is_server_error() && failure.status != StatusCode::NOT_IMPLEMENTED {
            error!(code = %failure.code, cause = ?failure.cause, "request failed");
        }
        failure.code.into_owned()
    });
    let mut response = dialect.respond(outcome, &ex);
    if close_after {
        response.headers_mut().insert(
            http::header::CONNECTION,
            http::HeaderValue::from_static("close"),
        );
    }
    info!(
        status = response.status().as_u16(),
        code = code.as_deref().unwrap_or(""),
        ms = ex.elapsed().as_secs_f64() * 1000.0,
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::expects_continue_without_body;

    fn check(headers: &[(&'static str, &str)], expected: bool) {
        let mut map = http::HeaderMap::new();
        for (name, value) in headers {
            map.append(
                http::HeaderName::from_static(name),
                http::HeaderValue::from_str(value).expect("test value"),
            );
        }
        assert_eq!(expects_continue_without_body(&map), expected, "{headers:?}");
    }

    #[test]
    fn only_an_empty_body_announced_with_100_continue_closes_the_connection() {
        check(&[("expect", "100-continue"), ("content-length", "0")], true);
        check(&[("expect", "100-Continue"), ("content-length", "0")], true);
        check(
            &[("expect", "100-continue"), ("content-length", "5")],
            false,
        );
        check(&[("expect", "100-continue")], false);
        check(&[("content-length", "0")], false);
    }
}
