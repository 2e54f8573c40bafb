//! A lean OSS client: one keep-alive HTTP/1 connection per worker (hyper's conn API, no pool),
//! over TLS or plain TCP, `TCP_NODELAY`, V1 header signatures, bodies streamed from [`Pattern`](crate::payload::Pattern)
//! and responses drained without being stored.

use std::fmt;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use anyhow::{Context as _, Result, bail, ensure};
use bytes::Bytes;
use coffer_signature::{Credentials, SignedRequest, sign_request_v1};
use coffer_types::AccessKeySecret;
use http_body_util::BodyExt;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::payload::{PatternBody, Verifier};

/// `x-oss-server-side-encryption`.
const X_OSS_SERVER_SIDE_ENCRYPTION: &str = "x-oss-server-side-encryption";
/// How much of an error response is kept for the message.
const MAX_ERROR_BODY: usize = 64 * 1024;

/// The server-side encryption a PUT asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sse {
    None,
    Aes256,
    Kms,
    Sm4,
}

impl Sse {
    pub(crate) const ALL: [Sse; 4] = [Sse::None, Sse::Aes256, Sse::Kms, Sse::Sm4];

    /// The header value, and the column name in the table.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Sse::None => "none",
            Sse::Aes256 => "AES256",
            Sse::Kms => "KMS",
            Sse::Sm4 => "SM4",
        }
    }
}

/// The server answered a PUT with 403 KmsServiceNotEnabled.
#[derive(Debug)]
pub(crate) struct KmsNotEnabled;

impl fmt::Display for KmsNotEnabled {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KMS is not enabled on the server (403 KmsServiceNotEnabled)")
    }
}

impl std::error::Error for KmsNotEnabled {}

/// Who signs, and where requests go.
pub(crate) struct Target {
    pub(crate) addr: SocketAddr,
    /// TLS to the server (trusting its certificate), or plain TCP.
    pub(crate) tls: Option<TlsConnector>,
    pub(crate) bucket: String,
    pub(crate) access_key_id: String,
    pub(crate) secret: AccessKeySecret,
}

/// A request body: nothing, or generated object content.
pub(crate) enum ReqBody {
    Empty,
    Pattern(PatternBody),
}

impl Body for ReqBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            ReqBody::Empty => Poll::Ready(None),
            ReqBody::Pattern(p) => Pin::new(p).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        match self {
            ReqBody::Empty => true,
            ReqBody::Pattern(p) => p.is_end_stream(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            ReqBody::Empty => SizeHint::with_exact(0),
            ReqBody::Pattern(p) => p.size_hint(),
        }
    }
}

/// One keep-alive connection to the server; reconnects if the server closed it.
pub(crate) struct Conn {
    target: Arc<Target>,
    host: String,
    sender: SendRequest<ReqBody>,
}

/// A TLS client that trusts exactly the certificates in `pem` and speaks HTTP/1.1 (the same
/// protocol as over plain TCP, so the two runs differ by TLS alone).
pub(crate) fn trusting(pem: &[u8]) -> Result<TlsConnector> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(pem) {
        roots
            .add(cert.context("parse a PEM certificate")?)
            .context("add a trusted certificate")?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("TLS versions")?
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsConnector::from(Arc::new(config)))
}

async fn handshake(target: &Target) -> Result<SendRequest<ReqBody>> {
    let addr = target.addr;
    let stream = TcpStream::connect(addr)
        .await
        .with_context(|| format!("connect to {addr}"))?;
    // Small requests over keep-alive stall on Nagle + delayed ACK without this.
    stream.set_nodelay(true).context("set TCP_NODELAY")?;
    match &target.tls {
        None => http1(TokioIo::new(stream)).await,
        Some(connector) => {
            let name = ServerName::from(addr.ip());
            let stream = connector
                .connect(name, stream)
                .await
                .with_context(|| format!("TLS handshake with {addr}"))?;
            http1(TokioIo::new(stream)).await
        }
    }
}

async fn http1<T>(io: T) -> Result<SendRequest<ReqBody>>
where
    T: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let (sender, conn) = hyper::client::conn::http1::handshake(io)
        .await
        .context("HTTP/1 handshake")?;
    tokio::spawn(async move {
        // A connection error also fails the request in flight, which reports it.
        let _ = conn.await;
    });
    Ok(sender)
}

impl Conn {
    pub(crate) async fn open(target: Arc<Target>) -> Result<Self> {
        let sender = handshake(&target).await?;
        Ok(Self {
            host: target.addr.to_string(),
            target,
            sender,
        })
    }

    /// Opens `n` connections.
    pub(crate) async fn open_many(target: &Arc<Target>, n: usize) -> Result<Vec<Self>> {
        let mut conns = Vec::with_capacity(n);
        for _ in 0..n {
            conns.push(Self::open(target.clone()).await?);
        }
        Ok(conns)
    }

    /// Signs and sends a request; `headers` are lower-case and are all signed (V1 signs the
    /// `x-oss-*` ones; the rest do not matter to it).
    async fn send(
        &mut self,
        method: Method,
        key: Option<&str>,
        headers: Vec<(String, String)>,
        body: ReqBody,
    ) -> Result<Response<Incoming>> {
        let signed = SignedRequest {
            method: method.as_str(),
            bucket: Some(&self.target.bucket),
            key,
            query: &[],
            headers: &headers,
        };
        let credentials = Credentials {
            access_key_id: &self.target.access_key_id,
            secret: &self.target.secret,
            security_token: None,
        };
        let auth = sign_request_v1(&signed, &credentials, time::OffsetDateTime::now_utc())
            .context("sign request")?;
        // Keys used here are plain ASCII without reserved characters: no encoding needed.
        let path = format!("/{}/{}", self.target.bucket, key.unwrap_or(""));
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(hyper::header::HOST, &self.host);
        for (name, value) in headers.iter().chain(&auth) {
            builder = builder.header(name.as_str(), value.as_str());
        }
        let request = builder.body(body).context("build request")?;

        if self.sender.is_closed() || self.sender.ready().await.is_err() {
            self.sender = handshake(&self.target).await?;
            self.sender.ready().await.context("connection not ready")?;
        }
        self.sender
            .send_request(request)
            .await
            .context("send request")
    }

    pub(crate) async fn create_bucket(&mut self) -> Result<()> {
        let resp = self
            .send(Method::PUT, None, Vec::new(), ReqBody::Empty)
            .await?;
        drain(expect_status(resp, StatusCode::OK, "PutBucket").await?).await
    }

    /// PUTs generated content; fails with [`KmsNotEnabled`] inside the error when the server
    /// refuses KMS.
    pub(crate) async fn put(&mut self, key: &str, sse: Sse, body: PatternBody) -> Result<()> {
        let mut headers = Vec::new();
        if sse != Sse::None {
            headers.push((
                X_OSS_SERVER_SIDE_ENCRYPTION.to_owned(),
                sse.name().to_owned(),
            ));
        }
        headers.push((
            "content-type".to_owned(),
            "application/octet-stream".to_owned(),
        ));
        let resp = self
            .send(Method::PUT, Some(key), headers, ReqBody::Pattern(body))
            .await?;
        if resp.status() == StatusCode::FORBIDDEN {
            let text = error_text(resp).await;
            if text.contains("KmsServiceNotEnabled") {
                return Err(anyhow::Error::new(KmsNotEnabled));
            }
            bail!("PutObject {key}: 403: {text}");
        }
        drain(expect_status(resp, StatusCode::OK, "PutObject").await?).await
    }

    /// GETs `key` (or the inclusive byte range `range`), draining the body; returns its length.
    /// `verifier`, if given, sees every byte.
    pub(crate) async fn get(
        &mut self,
        key: &str,
        range: Option<(u64, u64)>,
        mut verifier: Option<&mut Verifier>,
    ) -> Result<u64> {
        let mut headers = Vec::new();
        let expected = match range {
            Some((first, last)) => {
                headers.push(("range".to_owned(), format!("bytes={first}-{last}")));
                StatusCode::PARTIAL_CONTENT
            }
            None => StatusCode::OK,
        };
        let resp = self
            .send(Method::GET, Some(key), headers, ReqBody::Empty)
            .await?;
        let mut body = expect_status(resp, expected, "GetObject").await?;
        let mut n = 0u64;
        while let Some(frame) = body.frame().await {
            let frame = frame.with_context(|| format!("read body of {key}"))?;
            if let Ok(data) = frame.into_data() {
                n += data.len() as u64;
                if let Some(v) = verifier.as_deref_mut() {
                    v.update(&data);
                }
            }
        }
        Ok(n)
    }

    pub(crate) async fn delete(&mut self, key: &str) -> Result<()> {
        let resp = self
            .send(Method::DELETE, Some(key), Vec::new(), ReqBody::Empty)
            .await?;
        drain(expect_status(resp, StatusCode::NO_CONTENT, "DeleteObject").await?).await
    }
}

/// Reads a (small) response body to its end, so the connection can carry the next request.
async fn drain(body: Incoming) -> Result<()> {
    body.collect().await.context("read response body")?;
    Ok(())
}

/// The body if the status is `expected`, else an error carrying the server's error text.
async fn expect_status(
    resp: Response<Incoming>,
    expected: StatusCode,
    what: &str,
) -> Result<Incoming> {
    let status = resp.status();
    if status == expected {
        return Ok(resp.into_body());
    }
    let text = error_text(resp).await;
    bail!("{what}: expected {expected}, got {status}: {text}")
}

async fn error_text(resp: Response<Incoming>) -> String {
    let limited = http_body_util::Limited::new(resp.into_body(), MAX_ERROR_BODY);
    match limited.collect().await {
        Ok(body) => String::from_utf8_lossy(&body.to_bytes()).into_owned(),
        Err(e) => format!("(error body unreadable: {e})"),
    }
}

/// Fails unless `n` bytes arrived where `want` were expected.
pub(crate) fn check_len(key: &str, n: u64, want: u64) -> Result<()> {
    ensure!(n == want, "GET {key}: {n} bytes, expected {want}");
    Ok(())
}
