//! A small blocking client of the admin API, for `coffer admin` and tests: one signed
//! `POST /{service}/{Action}` per call over HTTP/1.1 or HTTPS (rustls, trusting the system's roots
//! and any CA file given), V4-signed with the body's SHA-256.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

use coffer_signature::{Credentials, SignedRequest};
use coffer_types::AccessKeySecret;
use serde_json::Value;
use sha2::Digest;
use time::OffsetDateTime;

use crate::ops::Operation;

/// How long to wait for the server, connecting and reading.
const TIMEOUT: Duration = Duration::from_secs(30);
/// Largest response read (lists of a few thousand entities fit).
const MAX_RESPONSE: u64 = 16 * 1024 * 1024;

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The endpoint is not `http[s]://host[:port]`.
    #[error("bad endpoint `{0}`: expected http://HOST[:PORT] or https://HOST[:PORT]")]
    Endpoint(String),
    /// A CA file could not be read, or TLS could not be set up.
    #[error("TLS: {0}")]
    Tls(String),
    /// The server could not be reached or the connection broke.
    #[error("cannot reach the admin API: {0}")]
    Io(#[from] std::io::Error),
    /// The server answered with an error.
    #[error("{code}: {message} (HTTP {status}, request {request_id})")]
    Api {
        /// HTTP status.
        status: u16,
        /// Error code (`EntityNotExist.User`).
        code: String,
        /// Message.
        message: String,
        /// Request id, for the server log.
        request_id: String,
    },
    /// The answer was not an HTTP response with a JSON body.
    #[error("unexpected response from the admin API: {0}")]
    Protocol(String),
}

/// A client signing with one access key (and STS token).
pub struct AdminClient {
    host: String,
    port: u16,
    /// `Some` for an `https://` endpoint: what the server's certificate is checked against.
    tls: Option<Arc<rustls::ClientConfig>>,
    access_key_id: String,
    secret: AccessKeySecret,
    security_token: Option<String>,
    region: String,
}

impl std::fmt::Debug for AdminClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminClient")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

impl AdminClient {
    /// A client of the admin API at `endpoint` (`http://127.0.0.1:9002`, or `https://…`, whose
    /// certificate must chain to a system root; see [`AdminClient::with_ca_file`]), signing V4
    /// for `region`.
    pub fn new(
        endpoint: &str,
        access_key_id: impl Into<String>,
        secret: AccessKeySecret,
        region: impl Into<String>,
    ) -> Result<Self, ClientError> {
        let bad = || ClientError::Endpoint(endpoint.to_owned());
        let (rest, tls, default_port) = match endpoint.strip_prefix("https://") {
            Some(rest) => (rest, Some(tls_config(&[])?), 443),
            None => (endpoint.strip_prefix("http://").ok_or_else(bad)?, None, 80),
        };
        let authority = rest.trim_end_matches('/');
        if authority.is_empty() || authority.contains('/') {
            return Err(bad());
        }
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !authority.ends_with(']') => {
                (h.to_owned(), p.parse().map_err(|_| bad())?)
            }
            _ => (authority.to_owned(), default_port),
        };
        Ok(Self {
            host,
            port,
            tls,
            access_key_id: access_key_id.into(),
            secret,
            security_token: None,
            region: region.into(),
        })
    }

    /// Also trusts the certificates of the PEM file `ca_file` (a self-signed server's own
    /// certificate, or a private CA), for an `https://` endpoint; nothing changes for `http://`.
    pub fn with_ca_file(mut self, ca_file: &Path) -> Result<Self, ClientError> {
        if self.tls.is_some() {
            let certs = CertificateDer::pem_file_iter(ca_file)
                .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
                .map_err(|e| ClientError::Tls(format!("cannot read {}: {e}", ca_file.display())))?;
            if certs.is_empty() {
                return Err(ClientError::Tls(format!(
                    "{} holds no certificate",
                    ca_file.display()
                )));
            }
            self.tls = Some(tls_config(&certs)?);
        }
        Ok(self)
    }

    /// Signs with temporary credentials: sends `token` with every request.
    #[must_use]
    pub fn with_security_token(mut self, token: impl Into<String>) -> Self {
        self.security_token = Some(token.into());
        self
    }

    /// Calls `op` with `params` (a JSON object) and returns the reply's JSON object.
    pub fn call(&self, op: Operation, params: &Value) -> Result<Value, ClientError> {
        let body = serde_json::to_vec(params).map_err(|e| ClientError::Protocol(e.to_string()))?;
        let default_port = if self.tls.is_some() { 443 } else { 80 };
        let host_header = if self.port == default_port {
            self.host.clone()
        } else {
            format!("{}:{}", self.host, self.port)
        };
        let mut headers = vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            (
                "x-oss-content-sha256".to_owned(),
                hex::encode(sha2::Sha256::digest(&body)),
            ),
            (
                crate::server::X_OSS_SIGNATURE_NONCE.to_owned(),
                hex::encode(rand::random::<[u8; 16]>()),
            ),
        ];
        let signed = SignedRequest {
            method: "POST",
            bucket: Some(op.service()),
            key: Some(op.name()),
            query: &[],
            headers: &headers,
        };
        let credentials = Credentials {
            access_key_id: &self.access_key_id,
            secret: &self.secret,
            security_token: self.security_token.as_deref(),
        };
        let set = coffer_signature::sign_request_v4(
            &signed,
            &credentials,
            &self.region,
            OffsetDateTime::now_utc(),
            &[],
        )
        .map_err(|e| ClientError::Protocol(format!("cannot sign: {e}")))?;
        for (name, value) in set {
            headers.retain(|(n, _)| *n != name);
            headers.push((name, value));
        }

        let mut request = format!(
            "POST /{}/{} HTTP/1.1\r\nhost: {host_header}\r\ncontent-length: {}\r\n\
             connection: close\r\nuser-agent: coffer-admin-client/{}\r\n",
            op.service(),
            op.name(),
            body.len(),
            env!("CARGO_PKG_VERSION"),
        );
        for (name, value) in &headers {
            request.push_str(name);
            request.push_str(": ");
            request.push_str(value);
            request.push_str("\r\n");
        }
        request.push_str("\r\n");

        let addr = (
            self.host.trim_start_matches('[').trim_end_matches(']'),
            self.port,
        );
        let stream = TcpStream::connect(addr)?;
        stream.set_read_timeout(Some(TIMEOUT))?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        stream.set_nodelay(true)?;
        let mut response = Vec::new();
        match &self.tls {
            None => exchange(stream, &[request.as_bytes(), &body], &mut response)?,
            Some(config) => {
                let name = ServerName::try_from(addr.0.to_owned())
                    .map_err(|e| ClientError::Tls(format!("server name {}: {e}", addr.0)))?;
                let conn = rustls::ClientConnection::new(config.clone(), name)
                    .map_err(|e| ClientError::Tls(e.to_string()))?;
                let tls = rustls::StreamOwned::new(conn, stream);
                exchange(tls, &[request.as_bytes(), &body], &mut response)?;
            }
        }
        parse_response(&response)
    }
}

/// What an `https://` endpoint's certificate is checked against: the system's roots and `extra`.
fn tls_config(extra: &[CertificateDer<'static>]) -> Result<Arc<rustls::ClientConfig>, ClientError> {
    let mut roots = rustls::RootCertStore::empty();
    // A system without a root store still reaches servers whose CA is given as a file.
    for cert in rustls_native_certs::load_native_certs().certs {
        let _ = roots.add(cert);
    }
    for cert in extra {
        roots
            .add(cert.clone())
            .map_err(|e| ClientError::Tls(format!("a CA certificate is not usable: {e}")))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Writes `request` and reads the whole response (the request asked for `connection: close`).
/// A TLS peer that closes without close_notify after a complete response is not an error here:
/// the response's own length (or chunking) says whether it is whole.
fn exchange(
    mut stream: impl Read + Write,
    request: &[&[u8]],
    response: &mut Vec<u8>,
) -> Result<(), ClientError> {
    for part in request {
        stream.write_all(part)?;
    }
    stream.flush()?;
    match stream.take(MAX_RESPONSE).read_to_end(response) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !response.is_empty() => Ok(()),
        Err(e) => Err(e.into()),
    }
}

fn parse_response(raw: &[u8]) -> Result<Value, ClientError> {
    let protocol = |what: &str| ClientError::Protocol(what.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| protocol("no end of headers"))?;
    let head = std::str::from_utf8(&raw[..split]).map_err(|_| protocol("headers not text"))?;
    let mut body = raw[split + 4..].to_vec();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| protocol("no status line"))?;
    let mut chunked = false;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            let (name, value) = (name.trim(), value.trim());
            if name.eq_ignore_ascii_case("transfer-encoding") && value.contains("chunked") {
                chunked = true;
            } else if name.eq_ignore_ascii_case("content-length") {
                let len: usize = value.parse().map_err(|_| protocol("bad content-length"))?;
                body.truncate(len);
            }
        }
    }
    if chunked {
        body = dechunk(&body).ok_or_else(|| protocol("bad chunked body"))?;
    }
    let value: Value = serde_json::from_slice(&body).map_err(|e| {
        ClientError::Protocol(format!("HTTP {status} with a body that is not JSON: {e}"))
    })?;
    if status == 200 {
        return Ok(value);
    }
    let field = |k: &str| {
        value
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned()
    };
    Err(ClientError::Api {
        status,
        code: field("Code"),
        message: field("Message"),
        request_id: field("RequestId"),
    })
}

fn dechunk(mut data: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    loop {
        let line_end = data.windows(2).position(|w| w == b"\r\n")?;
        let size_text = std::str::from_utf8(&data[..line_end]).ok()?;
        let size = usize::from_str_radix(size_text.split(';').next()?.trim(), 16).ok()?;
        data = &data[line_end + 2..];
        if size == 0 {
            return Some(out);
        }
        out.extend_from_slice(data.get(..size)?);
        data = data.get(size + 2..)?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_parse() {
        let c = |e: &str| AdminClient::new(e, "ak", AccessKeySecret::new("s"), "cn-hangzhou");
        let ok = c("http://127.0.0.1:9002/").unwrap();
        assert_eq!((ok.host.as_str(), ok.port), ("127.0.0.1", 9002));
        assert_eq!(c("http://localhost").unwrap().port, 80);
        assert_eq!(c("http://[::1]:9002").unwrap().host, "[::1]");
        let tls = c("https://x:1").unwrap();
        assert!(tls.tls.is_some() && tls.port == 1);
        assert_eq!(c("https://x").unwrap().port, 443);
        assert!(c("ftp://x").is_err());
        assert!(c("http://x:y").is_err());
        assert!(c("http://x/path").is_err());
        assert!(!format!("{ok:?}").contains("\"s\""));
    }

    #[test]
    fn responses_parse() {
        let ok =
            parse_response(b"HTTP/1.1 200 OK\r\ncontent-length: 9\r\n\r\n{\"A\":\"b\"}").unwrap();
        assert_eq!(ok["A"], "b");
        let chunked = parse_response(
            b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\n{\"A\"\r\n5\r\n:\"b\"}\r\n0\r\n\r\n",
        )
        .unwrap();
        assert_eq!(chunked["A"], "b");
        let err = parse_response(
            b"HTTP/1.1 404 Not Found\r\n\r\n{\"Code\":\"EntityNotExist.User\",\"Message\":\"m\",\"RequestId\":\"r\"}",
        )
        .unwrap_err();
        assert!(
            matches!(err, ClientError::Api { status: 404, ref code, .. } if code == "EntityNotExist.User")
        );
        assert!(parse_response(b"garbage").is_err());
    }
}
