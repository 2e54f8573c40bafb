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
}
