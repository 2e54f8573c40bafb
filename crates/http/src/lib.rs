//! The HTTP/1 accept loop shared by coffer's front-ends (the OSS, KMS and admin APIs): accept,
//! `TCP_NODELAY`, one task per connection, and a graceful shutdown that lets requests in flight
//! finish. What a request means is the front-end's business: it passes a handler.
//!
//! This crate knows nothing of OSS, signatures or errors; a handler always answers (it turns its
//! own failures and panics into responses).

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tracing::{info, warn};

/// Serves `listener` with `handler` until `shutdown` resolves, then waits for the requests in
/// flight to finish. `name` names the API in log lines.
pub async fn serve<H, Fut, B>(
    listener: TcpListener,
    name: &'static str,
    handler: H,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()>
where
    H: Fn(Request<Incoming>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Response<B>> + Send + 'static,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    warn!(api = name, error = %e, "accept failed");
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // Small responses would otherwise wait for delayed ACKs (Nagle meets delayed ACK).
        let _ = stream.set_nodelay(true);
        let handler = handler.clone();
        let conn = builder.serve_connection(
            TokioIo::new(stream),
            service_fn(move |req| {
                let response = handler(req, peer);
                async move { Ok::<_, Infallible>(response.await) }
            }),
        );
        let conn = graceful.watch(conn.into_owned());
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
    info!(api = name, "shutting down: waiting for requests in flight");
    graceful.shutdown().await;
    Ok(())
}
