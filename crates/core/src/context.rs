//! The explicit per-request context passed down every call.

use std::net::SocketAddr;

use coffer_types::RequestId;

/// Facts about the request an operation runs for.
#[derive(Debug, Clone)]
pub struct RequestContext {
    /// The id the client sees in `x-oss-request-id`.
    pub request_id: RequestId,
    /// The peer address.
    pub source: Option<SocketAddr>,
    /// Whether the request came over TLS.
    pub secure: bool,
    /// The customer-provided keys (SSE-C) the request carries; none for most requests and for
    /// every front-end but S3.
    pub customer_keys: crate::CustomerKeys,
}
