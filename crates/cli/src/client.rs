//! The OSS client: one pooled reqwest client (rustls), every request signed by
//! `coffer-signature` (V4 by default, V1 on request), errors parsed into [`OssError`] with the
//! OSS code and request id.

use std::time::Duration;

use anyhow::{Context, Result};
use bytes::Bytes;
use coffer_signature::{Credentials, SignedRequest, sign_request_v1, sign_request_v4};
use reqwest::{Method, Response, StatusCode};
use serde::Deserialize;
use time::OffsetDateTime;

use crate::profile::{Resolved, SignatureVersion};

/// An error answer of the server: what the one-line message names.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message} (HTTP {status}, request id {request_id})")]
pub struct OssError {
    /// HTTP status.
    pub status: u16,
    /// OSS error code (`NoSuchKey`).
    pub code: String,
    /// Message.
    pub message: String,
    /// `x-oss-request-id`.
    pub request_id: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ErrorXml {
    code: String,
    message: String,
    request_id: String,
}

/// A request to send.
pub struct Req<'a> {
    /// Method.
    pub method: Method,
    /// Bucket, if any.
    pub bucket: Option<&'a str>,
    /// Key, if any.
    pub key: Option<&'a str>,
    /// Decoded query parameters (sub-resources with empty values).
    pub query: Vec<(String, String)>,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
}

impl<'a> Req<'a> {
    /// A request with no query and no headers.
    pub fn new(method: Method, bucket: Option<&'a str>, key: Option<&'a str>) -> Self {
        Self {
            method,
            bucket,
            key,
            query: Vec::new(),
            headers: Vec::new(),
        }
    }

    /// Adds a query parameter.
    #[must_use]
    pub fn q(mut self, name: &str, value: &str) -> Self {
        self.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds a header.
    #[must_use]
    pub fn h(mut self, name: &str, value: &str) -> Self {
        self.headers
            .push((name.to_ascii_lowercase(), value.to_owned()));
        self
    }
}

/// Signs and sends OSS requests for one profile.
#[derive(Clone)]
pub struct OssClient {
    http: reqwest::Client,
    /// The resolved profile.
    pub profile: std::sync::Arc<Resolved>,
}

/// A reqwest client trusting `ca_file` (as well as the system roots) when given.
pub fn http_client(ca_file: Option<&std::path::Path>) -> Result<reqwest::Client> {
    let mut b = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .read_timeout(Duration::from_secs(300))
        .user_agent(concat!("coffer-cli/", env!("CARGO_PKG_VERSION")))
        .tcp_nodelay(true);
    if let Some(ca) = ca_file {
        let pem = std::fs::read(ca).with_context(|| format!("read CA file {}", ca.display()))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("parse CA file {}", ca.display()))?;
        b = b.tls_certs_merge(certs);
    }
    b.build().context("build the HTTP client")
}

impl OssClient {
    /// A client for `profile`.
    pub fn new(profile: Resolved) -> Result<Self> {
        Ok(Self {
            http: http_client(profile.ca_file.as_deref())?,
            profile: std::sync::Arc::new(profile),
        })
    }

    fn credentials(&self) -> Credentials<'_> {
        Credentials {
            access_key_id: &self.profile.access_key_id,
            secret: &self.profile.secret,
            security_token: self.profile.security_token.as_deref(),
        }
    }

    /// The URL of `bucket`/`key` with `query` (percent-encoded), no signature.
    pub fn url(
        &self,
        bucket: Option<&str>,
        key: Option<&str>,
        query: &[(String, String)],
    ) -> String {
        let (scheme, host) = self
            .profile
            .endpoint
            .split_once("://")
            .unwrap_or(("http", &self.profile.endpoint));
        let mut url = match bucket {
            Some(b) if !self.profile.path_style => format!("{scheme}://{b}.{host}/"),
            Some(b) => format!("{scheme}://{host}/{b}/"),
            None => format!("{scheme}://{host}/"),
        };
        if let Some(k) = key {
            url.push_str(&coffer_signature::uri_encode_path(k));
        }
        for (i, (n, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&coffer_signature::uri_encode(n));
            if !v.is_empty() {
                url.push('=');
                url.push_str(&coffer_signature::uri_encode(v));
            }
        }
        url
    }

    fn host_header(&self, bucket: Option<&str>) -> String {
        let host = self
            .profile
            .endpoint
            .split_once("://")
            .map_or(self.profile.endpoint.as_str(), |(_, h)| h);
        match bucket {
            Some(b) if !self.profile.path_style => format!("{b}.{host}"),
            _ => host.to_owned(),
        }
    }

    /// Signs `req`; returns the URL and the headers to send.
    fn sign(&self, req: &Req<'_>) -> Result<(String, Vec<(String, String)>)> {
        let mut headers = req.headers.clone();
        headers.push(("host".to_owned(), self.host_header(req.bucket)));
        let signed = SignedRequest {
            method: req.method.as_str(),
            bucket: req.bucket,
            key: req.key,
            query: &req.query,
            headers: &headers,
        };
        let now = OffsetDateTime::now_utc();
        let set = match self.profile.signature_version {
            SignatureVersion::V4 => {
                sign_request_v4(&signed, &self.credentials(), &self.profile.region, now, &[])
            }
            SignatureVersion::V1 => sign_request_v1(&signed, &self.credentials(), now),
        }
        .context("sign the request")?;
        for (name, value) in set {
            headers.retain(|(n, _)| !n.eq_ignore_ascii_case(&name));
            headers.push((name, value));
        }
        headers.retain(|(n, _)| n != "host");
        Ok((self.url(req.bucket, req.key, &req.query), headers))
    }

    /// Sends `req` with `body`; a non-2xx answer becomes an [`OssError`].
    pub async fn send(&self, req: Req<'_>, body: Option<reqwest::Body>) -> Result<Response> {
        let (url, headers) = self.sign(&req)?;
        let mut rb = self.http.request(req.method.clone(), &url);
        for (n, v) in &headers {
            rb = rb.header(n, v);
        }
        if let Some(b) = body {
            rb = rb.body(b);
        } else if matches!(req.method, Method::PUT | Method::POST) {
            rb = rb.header("content-length", "0");
        }
        let resp = rb
            .send()
            .await
            .with_context(|| format!("{} {url}", req.method))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        Err(error_of(resp).await.into())
    }

    /// Sends `req` with a body held in memory.
    pub async fn send_bytes(&self, req: Req<'_>, body: Bytes) -> Result<Response> {
        let req = req.h("content-length", &body.len().to_string());
        self.send(req, Some(body.into())).await
    }

    /// Sends `req` and returns the whole answer body as text.
    pub async fn text(&self, req: Req<'_>, body: Option<Bytes>) -> Result<String> {
        let resp = match body {
            Some(b) => self.send_bytes(req, b).await?,
            None => self.send(req, None).await?,
        };
        resp.text().await.context("read the answer")
    }

    /// A presigned URL for `method` on `bucket`/`key`, valid `expires`.
    pub fn presign(
        &self,
        method: &str,
        bucket: &str,
        key: &str,
        expires: time::Duration,
    ) -> Result<String> {
        let headers = vec![("host".to_owned(), self.host_header(Some(bucket)))];
        let signed = SignedRequest {
            method,
            bucket: Some(bucket),
            key: Some(key),
            query: &[],
            headers: &headers,
        };
        let now = OffsetDateTime::now_utc();
        let params = match self.profile.signature_version {
            SignatureVersion::V4 => coffer_signature::presign_v4(
                &signed,
                &self.credentials(),
                &self.profile.region,
                now,
                expires,
                &[],
            ),
            SignatureVersion::V1 => {
                coffer_signature::presign_v1(&signed, &self.credentials(), now + expires)
            }
        }
        .context("presign")?;
        Ok(self.url(Some(bucket), Some(key), &params))
    }
}

/// Reads an error answer: the XML body's code and message, the request id from the body or
/// the `x-oss-request-id` header.
pub async fn error_of(resp: Response) -> OssError {
    let status = resp.status();
    let header_id = resp
        .headers()
        .get("x-oss-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let body = resp.text().await.unwrap_or_default();
    let parsed: ErrorXml = quick_xml::de::from_str(&body).unwrap_or_default();
    let code = if parsed.code.is_empty() {
        default_code(status).to_owned()
    } else {
        parsed.code
    };
    OssError {
        status: status.as_u16(),
        code,
        message: if parsed.message.is_empty() {
            status.canonical_reason().unwrap_or("error").to_owned()
        } else {
            parsed.message
        },
        request_id: if parsed.request_id.is_empty() {
            header_id
        } else {
            parsed.request_id
        },
    }
}

/// HEAD answers carry no body: name the code OSS would have.
fn default_code(status: StatusCode) -> &'static str {
    match status {
        StatusCode::NOT_FOUND => "NoSuchKey",
        StatusCode::FORBIDDEN => "AccessDenied",
        StatusCode::CONFLICT => "Conflict",
        StatusCode::PRECONDITION_FAILED => "PreconditionFailed",
        _ => "UnknownError",
    }
}

/// A header's value as text, when present.
pub fn header(resp: &Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}
